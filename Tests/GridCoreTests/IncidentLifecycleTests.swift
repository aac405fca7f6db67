import Foundation
import Testing
import Localization
@testable import GridCore

/// The lifecycle as a pure function: a record, a change, the rules, a clock
/// and the grids in; the record, events and notifications out. No database.
@Suite struct IncidentLifecycleTests {
    static let t0 = ISO8601DateFormatter().date(from: "2026-11-02T09:00:00+08:00")!
    static func at(hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }
    static func time(_ date: Date) -> String { date.ISO8601Format() }
    static let grids = [
        "G1": GridInfo(code: "G1", name: "新桥一网格", villageCode: "V1", villageName: "新桥社区", townCode: "T1", townName: "琼湖街道"),
        "G2": GridInfo(code: "G2", name: "东湖二网格", villageCode: "V2", villageName: "东湖村", townCode: "T2", townName: "草尾镇"),
    ]
    static let rules = DispatchRules(departments: ["矛盾纠纷": "司法局", "环境卫生": "城管局"])

    /// A dispute in G1, handled at `level` by that level's unit.
    func incident(_ status: IncidentStatus = .reported, level: HandlingLevel = .village, attempts: Int = 0) -> IncidentRecord {
        IncidentRecord(id: "R0000001", category: "矛盾纠纷", channel: "12345", severity: "简单", status: status,
                       reportedAt: Self.time(Self.t0), description: "宅基地纠纷", reporter: "李四", satisfaction: nil, lon: 112.355, lat: 28.842,
                       grid: "G1", village: "V1", town: "T1", level: level,
                       unit: Dispatcher.unit(at: level, grid: Self.grids["G1"]!, department: "司法局"), department: "司法局",
                       deadline: Self.time(Self.at(hours: 72)), overdue: false, version: 3, attempts: attempts, escalations: 0,
                       reopenings: 0, closedAt: nil, duplicateOf: nil)
    }

    func apply(_ action: IncidentAction, to record: IncidentRecord, hours: Double, rules: DispatchRules = Self.rules,
               note: String? = "已处理", located: (codes: [String], assignment: PointAssignment)? = nil, regridInto: String? = nil,
               _ configure: (inout IncidentChange) -> Void = { _ in }) throws -> IncidentOutcome {
        var change = IncidentChange(action, actor: "王网格", note: note)
        configure(&change)
        return try IncidentLifecycle.apply(change, to: record, rules: rules, now: Self.at(hours: hours),
                                           grids: IncidentGrids(generation: 7, grid: { Self.grids[$0] }, located: located, regridInto: regridInto),
                                           time: Self.time)
    }

    @Test func everyActionFromEveryStatusFollowsTheTable() throws {
        for action in IncidentAction.allCases {
            for status in IncidentStatus.allCases {
                let expected = IncidentTransitionsTests.legal[action]?[status]
                // Everything any action needs, so that only the status decides.
                let result = Result {
                    try apply(action, to: incident(status), hours: 1, located: (["G1", "G2"], PointAssignment(grid: 1, method: .inside)),
                              regridInto: "G2") { change in
                        change.satisfaction = 4
                        change.settled = false
                        change.position = LonLat(112.5, 28.9)
                        change.category = "环境卫生"
                        change.grid = "G2"
                    }
                }
                let context: Comment = "\(action.rawValue) from \(status.rawValue)"
                switch result {
                case .success(let outcome):
                    #expect(expected != nil && outcome.record.status == expected, context)
                    #expect(outcome.events.map(\.action) == [action] && outcome.events.first?.fromStatus == status, context)
                    #expect(outcome.events.first?.toStatus == expected && outcome.events.first?.at == Self.time(Self.at(hours: 1)), context)
                    #expect(outcome.record.version == 3, "the store bumps the version, not the lifecycle")
                case .failure(let error):
                    #expect(expected == nil, "\(context): \(error)")
                    #expect(error as? WanggeError == .illegal(IllegalTransition(action: action, status: status)), context)
                }
            }
        }
    }

    @Test func theLadderEscalatesAfterEachLevelsFailedAttempts() throws {
        var o = try apply(.mediate, to: incident(.accepted), hours: 1) { $0.settled = false }
        #expect(o.record.status == .inProgress && o.record.attempts == 1 && o.record.level == .village && o.notifications.isEmpty)
        #expect(o.events.map(\.detail) == [["attempt": "1", "result": "failed", "level": "village"]])
        // The village's second failure: the attempt is recorded, then the town gets it.
        o = try apply(.mediate, to: o.record, hours: 2) { $0.settled = false }
        #expect(o.record.status == .escalated && o.record.level == .town && o.record.unit == "琼湖街道")
        #expect(o.record.attempts == 0 && o.record.escalations == 1 && o.record.deadline == Self.time(Self.at(hours: 2 + 168)))
        #expect(o.events.map(\.action) == [.mediate, .escalate])
        #expect(o.events[0].toStatus == .inProgress && o.events[0].level == .village && o.events[0].unit == "新桥社区居委会")
        #expect(o.events[0].detail == ["attempt": "2", "result": "failed", "level": "village"])
        #expect(o.events[0].particulars?.rendered(in: .zh) == "村（社区）第 2 次调解：未成功")
        #expect(o.events[0].particulars?.rendered(in: .en) == "attempt 2 at village level: not settled")
        #expect(o.events[1].particulars?.rendered(in: .zh) == "原承办：新桥社区居委会，时限 2026-11-09 11:00")
        #expect(o.events[1].fromStatus == .inProgress && o.events[1].toStatus == .escalated && o.events[1].unit == "琼湖街道")
        #expect(o.events[1].note == nil && o.events[1].reason == .ladderUsedUp(attempts: 2, level: .village))
        #expect(o.notifications == [.init(event: 1, level: .town, unit: "琼湖街道", reason: .escalated(fromUnit: "新桥社区居委会"))])
        // The town tries once, then the county department.
        o = try apply(.accept, to: o.record, hours: 3)
        o = try apply(.mediate, to: o.record, hours: 4) { $0.settled = false }
        #expect(o.record.status == .escalated && o.record.level == .county && o.record.unit == "司法局" && o.record.escalations == 2)
        #expect(o.events.last?.reason == .ladderUsedUp(attempts: 1, level: .town))
        // The county mediates as often as it takes (the N).
        o = try apply(.accept, to: o.record, hours: 5)
        for attempt in 1...10 {
            o = try apply(.mediate, to: o.record, hours: 5 + Double(attempt)) { $0.settled = false }
            #expect(o.record.status == .inProgress && o.record.level == .county && o.record.attempts == attempt && o.events.count == 1)
        }
        o = try apply(.mediate, to: o.record, hours: 16) { $0.settled = true }
        #expect(o.record.status == .resolved && o.record.attempts == 11 && o.events.first?.detail?["result"] == "settled")
        #expect(throws: WanggeError.invalid(.verbatim("mediate: the result (settled or failed) is required"))) {
            try apply(.mediate, to: incident(.accepted), hours: 1)
        }
    }

    @Test func theLadderIsTheRulesOne() throws {
        var rules = Self.rules
        rules.ladder = MediationLadder(attempts: [.village: 3])
        var o = try apply(.mediate, to: incident(.accepted), hours: 1, rules: rules) { $0.settled = false }
        o = try apply(.mediate, to: o.record, hours: 2, rules: rules) { $0.settled = false }
        #expect(o.record.status == .inProgress && o.record.attempts == 2, "three attempts at the village under these rules")
        o = try apply(.mediate, to: o.record, hours: 3, rules: rules) { $0.settled = false }
        #expect(o.record.status == .escalated && o.record.level == .town)
        #expect(o.events.last?.reason == .ladderUsedUp(attempts: 3, level: .village))
    }

    @Test func deadlinesComeFromTheRulesAndTheClock() throws {
        var rules = Self.rules
        rules.timeLimitHours = [.grid: 5, .village: 10, .town: 20, .county: 30]
        let accepted = try apply(.accept, to: incident(), hours: 1, rules: rules)
        #expect(accepted.record.deadline == Self.time(Self.at(hours: 72)), "accepting keeps the deadline")
        let escalated = try apply(.escalate, to: accepted.record, hours: 3, rules: rules)
        #expect(escalated.record.deadline == Self.time(Self.at(hours: 3 + 20)) && escalated.record.level == .town)
        #expect(escalated.events.first?.detail == ["from_unit": "新桥社区居委会", "deadline": Self.time(Self.at(hours: 23))])
        var rerouted = try apply(.reroute, to: incident(), hours: 4, rules: rules) { $0.level = .county }
        #expect(rerouted.record.deadline == Self.time(Self.at(hours: 4 + 30)) && rerouted.record.unit == "司法局")
        rerouted = try apply(.reroute, to: incident(), hours: 4, rules: rules) { $0.level = .grid }
        #expect(rerouted.record.deadline == Self.time(Self.at(hours: 4 + 5)) && rerouted.record.unit == "新桥一网格")
        let closed = try apply(.close, to: incident(.resolved, level: .town), hours: 5, rules: rules) { $0.satisfaction = 2 }
        #expect(closed.record.closedAt == Self.time(Self.at(hours: 5)) && closed.events.first?.detail == ["satisfaction": "2"])
        let reopened = try apply(.reopen, to: closed.record, hours: 6, rules: rules)
        #expect(reopened.record.deadline == Self.time(Self.at(hours: 6 + 20)))
        // At the county there is nothing above: escalating is refused, whatever the table says.
        #expect(throws: WanggeError.illegal(IllegalTransition(action: .escalate, status: .accepted))) {
            try apply(.escalate, to: incident(.accepted, level: .county), hours: 7, rules: rules)
        }
    }

    @Test func reopeningStartsTheLadderAgain() throws {
        var closed = incident(.closed, attempts: 1)
        closed.satisfaction = 2
        closed.closedAt = Self.time(Self.at(hours: 10))
        #expect(throws: WanggeError.invalid(.verbatim("reopen: a note is required (why the reporter is not satisfied)"))) {
            try apply(.reopen, to: closed, hours: 20, note: " ")
        }
        let o = try apply(.reopen, to: closed, hours: 20, note: "当事人不认可调解结果")
        #expect(o.record.status == .reopened && o.record.attempts == 0 && o.record.reopenings == 1)
        #expect(o.record.satisfaction == nil && o.record.closedAt == nil && o.record.deadline == Self.time(Self.at(hours: 20 + 72)))
        #expect(o.notifications == [.init(event: 0, level: .village, unit: "新桥社区居委会", reason: .reopened)])
        // One failure after the reopening is the first of two again, not the village's third.
        let accepted = try apply(.accept, to: o.record, hours: 21)
        let mediated = try apply(.mediate, to: accepted.record, hours: 22) { $0.settled = false }
        #expect(mediated.record.status == .inProgress && mediated.record.attempts == 1)
    }

    @Test func aReturnGoesBackToTheCountysDefaultDepartment() throws {
        var rules = Self.rules
        rules.defaultDepartment = "县社会治理中心"
        let atTown = incident(.accepted, level: .town)
        #expect(throws: WanggeError.invalid(.verbatim("return: a note is required (why it is not this unit's)"))) {
            try apply(.return, to: atTown, hours: 1, rules: rules, note: nil)
        }
        let o = try apply(.return, to: atTown, hours: 1, rules: rules, note: "不属于本镇")
        #expect(o.record.status == .returned && o.record.unit == "琼湖街道" && o.record.level == .town)
        #expect(o.events.first?.detail == ["returned_by": "琼湖街道"] && o.events.first?.note == "不属于本镇")
        #expect(o.notifications == [.init(event: 0, level: .county, unit: "县社会治理中心", reason: .returned)])
    }

    @Test func rerouteSendsItToAnotherGridOrLevel() throws {
        let o = try apply(.reroute, to: incident(.returned, level: .town, attempts: 1), hours: 2, note: "属草尾镇") {
            $0.grid = "G2"
            $0.level = .village
        }
        #expect(o.record.status == .reported && o.record.grid == "G2" && o.record.village == "V2" && o.record.town == "T2")
        #expect(o.record.level == .village && o.record.unit == "东湖村委会" && o.record.attempts == 0)
        #expect(o.record.deadline == Self.time(Self.at(hours: 2 + 72)))
        #expect(o.events.first?.detail == ["from_grid": "G1", "to_grid": "G2", "from_unit": "琼湖街道", "from_level": "town"])
        #expect(o.events.first?.particulars?.rendered(in: .en) == "previously with 琼湖街道 (town level), grid G1 → G2")
        var unknown = try #require(o.events.first)
        unknown.detail = ["weather": "rain", "channel": "12345"]
        #expect(unknown.particulars?.rendered(in: .zh) == "来源 12345，weather=rain", "a field this version does not know is shown as it is")
        #expect(o.notifications == [.init(event: 0, level: .village, unit: "东湖村委会", reason: .rerouted)])
        #expect(throws: WanggeError.invalid(.verbatim("reroute: no grid G9 in the active generation"))) {
            try apply(.reroute, to: incident(), hours: 2) { $0.grid = "G9" }
        }
        #expect(throws: WanggeError.invalid(.verbatim("reroute: give the grid and/or the level to send it to"))) {
            try apply(.reroute, to: incident(), hours: 2)
        }
    }

    @Test func moveRoutesToTheGridOfTheCorrectedPlace() throws {
        let codes = ["G1", "G2"]
        let o = try apply(.move, to: incident(.accepted), hours: 1, located: (codes, PointAssignment(grid: 1, method: .inside))) {
            $0.position = LonLat(112.5, 28.9)
        }
        #expect(o.record.status == .accepted && o.record.grid == "G2" && o.record.unit == "东湖村委会")
        #expect(o.record.lon == 112.5 && o.record.lat == 28.9)
        #expect(o.events.first?.detail == ["from_grid": "G1", "to_grid": "G2", "from_place": "112.355000,28.842000", "to_place": "112.500000,28.900000"])
        #expect(o.notifications == [.init(event: 0, level: .village, unit: "东湖村委会", reason: .movedIn)])
        let sameGrid = try apply(.move, to: incident(.accepted), hours: 1, located: (codes, PointAssignment(grid: 0, method: .inside))) {
            $0.position = LonLat(112.356, 28.843)
        }
        #expect(sameGrid.record.grid == "G1" && sameGrid.notifications.isEmpty, "a move within the grid tells nobody")
        #expect(throws: WanggeError.outsideEveryGrid(nearestGrid: "G2", distanceMeters: 812).prefixed("move")) {
            try apply(.move, to: incident(), hours: 1,
                      located: (codes, PointAssignment(grid: -1, method: .none, distanceMeters: 812, nearestGrid: 1))) {
                $0.position = LonLat(113.5, 29.9)
            }
        }
        #expect(throws: WanggeError.invalid(.verbatim("move: the new place is missing"))) { try apply(.move, to: incident(), hours: 1) }
    }

    @Test func recategorizeChangesTheDepartmentAndTellsTheCountyOne() throws {
        let atCounty = try apply(.recategorize, to: incident(.accepted, level: .county), hours: 1) { $0.category = "环境卫生" }
        #expect(atCounty.record.category == "环境卫生" && atCounty.record.department == "城管局" && atCounty.record.unit == "城管局")
        #expect(atCounty.events.first?.detail == ["from_category": "矛盾纠纷", "to_category": "环境卫生",
                                                  "from_department": "司法局", "to_department": "城管局"])
        #expect(atCounty.notifications == [.init(event: 0, level: .county, unit: "城管局", reason: .recategorized)])
        let atVillage = try apply(.recategorize, to: incident(.accepted), hours: 1) { $0.category = "环境卫生" }
        #expect(atVillage.record.department == "城管局" && atVillage.record.unit == "新桥社区居委会" && atVillage.notifications.isEmpty,
                "the village keeps it: only the department behind it changed")
        #expect(throws: WanggeError.invalid(.verbatim("recategorize: the new category is missing"))) {
            try apply(.recategorize, to: incident(), hours: 1) { $0.category = "  " }
        }
        #expect { try apply(.recategorize, to: incident(), hours: 1) { $0.category = "环境" } } throws: {
            "\($0)".hasPrefix("recategorize: category: \"环境\" is not one of")
        }
    }

    @Test func regridHandsItToTheGridItNowLiesIn() throws {
        let o = try apply(.regrid, to: incident(.inProgress, level: .town), hours: 1, note: nil, regridInto: "G2") { $0.reason = .boundaryRedraw }
        #expect(o.record.status == .inProgress && o.record.grid == "G2" && o.record.town == "T2" && o.record.unit == "草尾镇")
        #expect(o.events.first?.reason == .boundaryRedraw && o.events.first?.note == nil)
        #expect(o.events.first?.detail == ["from_grid": "G1", "to_grid": "G2", "generation": "7"])
        #expect(o.notifications == [.init(event: 0, level: .town, unit: "草尾镇", reason: .boundaryRedraw)])
        #expect(throws: WanggeError.invalid(.verbatim("regrid: R0000001 is in no grid of generation 7"))) {
            try apply(.regrid, to: incident(), hours: 1)
        }
    }

    /// A reason is stored as its code and fields and read back the same; a code this
    /// version does not know, or a field missing, is kept as the code, never dropped.
    @Test func reasonsRoundTripThroughTheirCodeAndFields() {
        let every: [LifecycleReason] = [
            .ladderUsedUp(attempts: 2, level: .village), .overdue(deadline: "2026-11-05T16:30:00Z"), .escalated(fromUnit: "琼湖街道"),
            .overdueAtCounty(unit: "司法局", deadline: "2026-11-20T00:00:00Z"), .imported(file: "户籍.xlsx"), .reopened, .returned, .rerouted, .movedIn, .recategorized,
            .boundaryRedraw,
        ]
        #expect(every.map(\.code) == LifecycleReason.codes)
        for reason in every { #expect(LifecycleReason(code: reason.code, fields: reason.fields) == reason) }
        #expect(LifecycleReason(code: "handed_to_police", fields: [:]) == .unrecognized(code: "handed_to_police"))
        #expect(LifecycleReason(code: "ladder_used_up", fields: ["attempts": "two", "from_level": "village"]) == .unrecognized(code: "ladder_used_up"))
        #expect(LifecycleReason.unrecognized(code: "handed_to_police").text.rendered(in: .zh) == "handed_to_police")
        // Worded for the reader, times to the minute in China's (16:30 UTC is 00:30 the next day).
        #expect(every[1].text.rendered(in: .en) == "overdue: the deadline 2026-11-06 00:30 passed")
        #expect(every[0].text.rendered(in: .zh) == "2+1+N：村（社区）调解 2 次未成功")
        #expect(every[2].text.rendered(in: .zh) == "由 琼湖街道 上报")
    }
}
