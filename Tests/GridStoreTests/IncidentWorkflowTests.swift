import Foundation
import GRDB
import Synchronization
import Testing
import TestSupport
import GeoKit
import GridCore
import Localization
@testable import GridStore

/// The incident lifecycle on the sample county with an injected clock: every
/// time below is given, none read from the machine.
@Suite struct IncidentWorkflowTests {
    static let t0 = ISO8601DateFormatter().date(from: "2026-11-02T09:00:00+08:00")!
    static func at(hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }
    /// In 和桥社区第二网格 (琼湖街道), and in a grid of 草尾镇 far away.
    static let seat = LonLat(112.355, 28.842)
    static let rules = DispatchRules(departments: ["矛盾纠纷": "司法局", "环境卫生": "城管局"])

    let t: TemporaryStore

    init() throws {
        t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
    }

    /// A point inside the first grid of a town (its point on surface), and that grid.
    func inside(town: String, skip: Int = 0) throws -> (point: LonLat, grid: GridInfo) {
        let grid = try #require(try t.store.grids().filter { $0.townCode == town }.dropFirst(skip).first)
        let shape = try #require(try t.store.gridShapes().first { $0.code == grid.code })
        let p = try Geometry(wkb: shape.wkb, context: try GEOSContext()).pointOnSurface().pointCoordinates
        return (LonLat(p.x, p.y), grid)
    }

    func report(_ p: LonLat = Self.seat, category: String = "矛盾纠纷", severity: String = "简单", hours: Double = 0) throws -> String {
        try t.store.report(IncidentReport(position: p, source: (p.lon, p.lat, .wgs84), category: category, channel: "12345",
                                          severity: severity, description: "宅基地纠纷", reporter: "李四", reportedAt: Self.at(hours: hours)),
                           rules: Self.rules).id
    }

    @discardableResult
    func act(_ id: String, _ action: IncidentAction, hours: Double, by actor: String = "王网格", note: String? = "done",
             _ configure: (inout IncidentChange) -> Void = { _ in }) throws -> IncidentRecord {
        var change = IncidentChange(action, actor: actor, note: note)
        configure(&change)
        return try t.store.apply(change, to: id, at: Self.at(hours: hours), rules: Self.rules)
    }

    func expectDeadline(_ record: IncidentRecord, hours: Double, _ comment: Comment? = nil) {
        #expect(record.deadline.flatMap(ISO8601DateFormatter().date(from:)) == Self.at(hours: hours), comment)
    }

    @Test func theTwoPlusOnePlusNLadder() throws {
        let id = try report()
        var r = try t.store.incident(id: id, now: Self.t0)
        #expect(r.status == .reported && r.level == .village && r.unit == "和桥社区居委会" && r.version == 1)
        expectDeadline(r, hours: 72)
        r = try act(id, .accept, hours: 1)
        #expect(r.status == .accepted && r.version == 2)
        // The village mediates twice; the second failure sends it to the town.
        r = try act(id, .mediate, hours: 2) { $0.settled = false }
        #expect(r.status == .inProgress && r.attempts == 1 && r.level == .village)
        r = try act(id, .mediate, hours: 3) { $0.settled = false }
        #expect(r.status == .escalated && r.level == .town && r.unit == "琼湖街道" && r.attempts == 0 && r.escalations == 1)
        expectDeadline(r, hours: 3 + 168, "the town gets its own time limit from the escalation")
        #expect(r.notifications?.last?.unit == "琼湖街道")
        // The town (片) tries once; its failure sends it to the county department.
        try act(id, .accept, hours: 4, by: "镇综治办")
        r = try act(id, .mediate, hours: 5, by: "镇综治办") { $0.settled = false }
        #expect(r.status == .escalated && r.level == .county && r.unit == "司法局" && r.escalations == 2)
        // The county mediates as often as it takes (the N).
        try act(id, .accept, hours: 6, by: "司法局")
        for attempt in 1...3 {
            r = try act(id, .mediate, hours: 6 + Double(attempt), by: "司法局") { $0.settled = false }
            #expect(r.status == .inProgress && r.level == .county && r.attempts == attempt)
        }
        r = try act(id, .mediate, hours: 10, by: "司法局") { $0.settled = true }
        #expect(r.status == .resolved)
        #expect(throws: WanggeError.illegal(IllegalTransition(action: .escalate, status: .resolved))) {
            try act(id, .escalate, hours: 11)
        }
        r = try act(id, .close, hours: 12, by: "调度员") { $0.satisfaction = 4 }
        #expect(r.status == .closed && r.satisfaction == 4 && r.closedAt.flatMap(ISO8601DateFormatter().date(from:)) == Self.at(hours: 12))
        let actions = r.history?.map(\.action.rawValue).joined(separator: " ")
        #expect(actions == "report accept mediate mediate escalate accept mediate escalate accept mediate mediate mediate mediate close")
        let results = r.history?.compactMap { $0.detail?["result"] }
        #expect(results == ["failed", "failed", "failed", "failed", "failed", "failed", "settled"])
        let laddered = r.history?.first { $0.action == .escalate }
        #expect(laddered?.note == nil && laddered?.reason == .ladderUsedUp(attempts: 2, level: .village))
        #expect(r.version == 12, "one version per change; a ladder's escalation is part of its mediation")
        // Not satisfied after all: reopened with a fresh deadline at the county.
        r = try act(id, .reopen, hours: 20, by: "调度员", note: "当事人不认可调解结果")
        #expect(r.status == .reopened && r.reopenings == 1 && r.satisfaction == nil && r.closedAt == nil)
        expectDeadline(r, hours: 20 + 360)
    }

    @Test func overdueIncidentsEscalateOneLevelOnce() throws {
        let id = try report()                                          // village, due at +72 h
        let done = try report(LonLat(112.3552, 28.8422), category: "环境卫生")
        try act(done, .accept, hours: 1)
        try act(done, .resolve, hours: 2)
        #expect(try t.store.escalateOverdue(at: Self.at(hours: 71), rules: Self.rules).isEmpty)
        let first = try t.store.escalateOverdue(at: Self.at(hours: 73), rules: Self.rules)
        #expect(first.map(\.id) == [id] && first.map(\.level) == [.town], "the resolved one is not overdue")
        var r = try t.store.incident(id: id, now: Self.at(hours: 73))
        #expect(r.status == .escalated && r.level == .town && !r.overdue)
        expectDeadline(r, hours: 73 + 168)
        let shown: (Date) -> String = TimePolicy.standard.displayed
        #expect(r.history?.last?.actor == "scheduler" && r.history?.last?.note == nil)
        #expect(r.history?.last?.reason == .overdue(deadline: shown(Self.at(hours: 72))))
        #expect(try t.store.escalateOverdue(at: Self.at(hours: 74), rules: Self.rules).isEmpty, "a fresh deadline: nothing to do")
        #expect(try t.store.escalateOverdue(at: Self.at(hours: 73 + 169), rules: Self.rules).map(\.level) == [.county])
        // At the county there is no level above: the centre is told, once per deadline.
        let late = Self.at(hours: 73 + 169 + 361)
        #expect(try t.store.incidents(IncidentFilter(), now: late).first { $0.id == id }?.overdue == true)
        #expect(try t.store.escalateOverdue(at: late, rules: Self.rules).map(\.id) == [id])
        #expect(try t.store.escalateOverdue(at: late.addingTimeInterval(3600), rules: Self.rules).isEmpty)
        r = try t.store.incident(id: id, now: late)
        #expect(r.level == .county && r.escalations == 2)
        #expect(r.notifications?.map(\.unit) == ["琼湖街道", "司法局", "综治中心"])
        #expect(r.notifications?.map(\.reason.code) == ["escalated", "escalated", "overdue_at_county"])
        #expect(r.notifications?.last?.reason == .overdueAtCounty(unit: "司法局", deadline: shown(Self.at(hours: 73 + 169 + 360))))
        var overdue = IncidentFilter()
        overdue.overdueOnly = true
        #expect(try t.store.incidents(overdue, now: late).map(\.id) == [id])
    }

    @Test func illegalChangesAreRefusedAndChangeNothing() throws {
        let id = try report()
        let before = try t.store.incident(id: id)
        #expect(throws: WanggeError.illegal(IllegalTransition(action: .start, status: .reported))) { try act(id, .start, hours: 1) }
        #expect(throws: WanggeError.illegal(IllegalTransition(action: .close, status: .reported))) {
            try act(id, .close, hours: 1) { $0.satisfaction = 5 }
        }
        try act(id, .accept, hours: 1)
        #expect(throws: WanggeError.invalid(.verbatim("resolve: a note is required (how it was settled)"))) { try act(id, .resolve, hours: 2, note: nil) }
        try act(id, .resolve, hours: 2)
        #expect(throws: WanggeError.invalid(.verbatim("close: the reporter's satisfaction (1–5) is required"))) {
            try act(id, .close, hours: 3) { $0.satisfaction = 6 }
        }
        #expect(throws: WanggeError.incidentNotFound("R9999999")) { try act("R9999999", .accept, hours: 1) }
        let after = try t.store.incident(id: id)
        #expect(after.version == before.version + 2 && after.history?.count == 3)
        #expect(IllegalTransition(action: .start, status: .reported).description == "cannot start an incident that is reported (only when accepted)")
    }

    @Test func twoDispatchersAtOnceOneWinsTheOtherIsTold() throws {
        let id = try report()
        let version = try t.store.incident(id: id).version
        let results = Mutex<[Result<IncidentRecord, Error>]>([])
        let store = t.store
        DispatchQueue.concurrentPerform(iterations: 8) { n in
            var change = IncidentChange(.accept, actor: "调度员\(n)", expectedVersion: version)
            change.note = "第\(n)位"
            let result = Result { try store.apply(change, to: id, at: Self.at(hours: 1), rules: Self.rules) }
            results.withLock { $0.append(result) }
        }
        let all = results.withLock { $0 }
        let winners = all.compactMap { try? $0.get() }
        #expect(winners.count == 1)
        let conflicts = all.filter {
            if case .failure(let error) = $0 { return error as? WanggeError == .staleVersion(id: id, expected: version, actual: version + 1) }
            return false
        }
        #expect(conflicts.count == 7)
        let r = try t.store.incident(id: id)
        #expect(r.version == version + 1 && r.history?.filter { $0.action == .accept }.count == 1)
        #expect(r.history?.last?.actor == winners.first?.history?.last?.actor)
    }

    @Test func movingOrRecategorizingRoutesAgainAndKeepsTheOldGrid() throws {
        let id = try report()
        let original = try t.store.incident(id: id)
        // The true place is in 草尾镇.
        let (place, targetGrid) = try inside(town: "430981-006")
        var r = try act(id, .move, hours: 1, by: "调度员", note: "地址更正") {
            $0.position = place
            $0.source = (place.lon, place.lat, .wgs84)
        }
        #expect(r.grid == targetGrid.code && r.town == targetGrid.townCode && r.town != original.town)
        #expect(r.unit == Dispatcher.unit(at: .village, grid: targetGrid, department: "司法局") && r.status == .reported)
        #expect(abs(r.lon - place.lon) < 1e-9 && abs(r.lat - place.lat) < 1e-9)
        let move = try #require(r.history?.last)
        #expect(move.action == .move && move.detail?["from_grid"] == original.grid && move.detail?["to_grid"] == targetGrid.code)
        let assigned = try t.store.database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT grid_code FROM assignments WHERE layer = 'incident' AND feature_id = ?", arguments: [id])
        }
        #expect(assigned == targetGrid.code)
        // Outside the county: refused, unchanged.
        #expect(throws: WanggeError.self) {
            try act(id, .move, hours: 2) {
                $0.position = LonLat(113.6, 28.8)
                $0.source = (113.6, 28.8, .wgs84)
            }
        }
        #expect(try t.store.incident(id: id).version == r.version)
        // A new category brings its department; at county level the unit follows it.
        try act(id, .escalate, hours: 3)
        r = try act(id, .escalate, hours: 3)
        #expect(r.level == .county && r.unit == "司法局")
        // A category outside the vocabulary is refused, and changes nothing.
        #expect { try act(id, .recategorize, hours: 4, by: "调度员") { $0.category = "环境" } } throws: { error in
            (error as? WanggeError) == WanggeError.vocabulary(.category, value: "环境", allowed: DispatchRules.standardCategories).prefixed("recategorize")
        }
        #expect(try t.store.incident(id: id).version == r.version)
        r = try act(id, .recategorize, hours: 4, by: "调度员") { $0.category = "环境卫生" }
        #expect(r.category == "环境卫生" && r.department == "城管局" && r.unit == "城管局")
        #expect(r.history?.last?.detail == ["from_category": "矛盾纠纷", "to_category": "环境卫生",
                                            "from_department": "司法局", "to_department": "城管局"])
    }

    @Test func returnedIncidentsAreReroutedByTheDispatcher() throws {
        let id = try report()
        #expect(throws: WanggeError.invalid(.verbatim("return: a note is required (why it is not this unit's)"))) { try act(id, .return, hours: 1, note: nil) }
        var r = try act(id, .return, hours: 1, note: "系邻村事务")
        #expect(r.status == .returned && r.notifications?.last?.unit == "综治中心" && r.notifications?.last?.reason == .returned)
        #expect(throws: WanggeError.illegal(IllegalTransition(action: .accept, status: .returned))) { try act(id, .accept, hours: 2) }
        let other = try #require(try t.store.grids().first { $0.townCode == "430981-006" })
        r = try act(id, .reroute, hours: 2, by: "调度员", note: "转草尾镇") {
            $0.grid = other.code
            $0.level = .town
        }
        #expect(r.status == .reported && r.grid == other.code && r.level == .town && r.unit == other.townName)
        expectDeadline(r, hours: 2 + 168)
        #expect(r.history?.last?.detail?["from_grid"] == "430981-001-017-002")
        #expect(r.notifications?.last?.unit == other.townName)
    }

    /// Five incidents whose figures are worked out by hand below.
    @Test func statisticsMatchHandComputedValues() throws {
        let quHu = Self.seat                        // 琼湖街道 430981-001
        let caoWei = try inside(town: "430981-006").point
        let caoWei2 = try inside(town: "430981-006", skip: 1).point
        let i1 = try report(quHu)
        try act(i1, .accept, hours: 1)
        try act(i1, .resolve, hours: 5)
        try act(i1, .close, hours: 10) { $0.satisfaction = 5 }      // 10 h, village, one time
        let i2 = try report(LonLat(112.3552, 28.8422), category: "环境卫生", hours: 1)
        try act(i2, .escalate, hours: 2)
        try act(i2, .accept, hours: 3)
        try act(i2, .resolve, hours: 20)
        try act(i2, .close, hours: 31) { $0.satisfaction = 3 }      // 30 h, town, escalated
        _ = try report(LonLat(112.3548, 28.8418), category: "环境卫生", severity: "简单", hours: 2)   // open, due at +74 h
        let i4 = try report(caoWei)
        try act(i4, .accept, hours: 1)
        try act(i4, .resolve, hours: 4)
        try act(i4, .close, hours: 5) { $0.satisfaction = 1 }
        try act(i4, .reopen, hours: 6)
        try act(i4, .accept, hours: 7)
        try act(i4, .resolve, hours: 8)
        try act(i4, .close, hours: 20) { $0.satisfaction = 4 }      // 20 h, village, reopened
        _ = try report(caoWei2, severity: "一般", hours: 70)                      // open, due at +238 h
        let now = Self.at(hours: 100)
        let county = try #require(try t.store.incidentStatistics(by: .county, now: now).first)
        #expect(county.received == 5 && county.open == 2 && county.overdue == 1 && county.closed == 3)
        #expect(county.closureRate == 3.0 / 5)
        #expect(county.oneTimeResolutionRate == 1.0 / 3)
        #expect(county.satisfactionRate == 2.0 / 3)
        #expect(county.villageLevelShare == 2.0 / 3)
        #expect(abs((county.meanHoursToClose ?? 0) - 20) < 1e-9)
        let towns = try t.store.incidentStatistics(by: .town, now: now)
        #expect(towns.map(\.key) == ["430981-001", "430981-006"] && towns.map(\.name) == ["琼湖街道", "草尾镇"])
        #expect(towns[0].received == 3 && towns[0].closed == 2 && towns[0].overdue == 1 && towns[0].oneTimeResolutionRate == 0.5)
        #expect(towns[0].meanHoursToClose == 20 && towns[0].satisfactionRate == 0.5 && towns[0].villageLevelShare == 0.5)
        #expect(towns[1].received == 2 && towns[1].open == 1 && towns[1].overdue == 0 && towns[1].oneTimeResolutionRate == 0)
        #expect(towns[1].satisfactionRate == 1 && towns[1].meanHoursToClose == 20)
        let categories = try t.store.incidentStatistics(by: .category, now: now)
        #expect(categories.map(\.key) == ["环境卫生", "矛盾纠纷"] && categories.map(\.received) == [2, 3])
        // A period: only what was reported in [+1 h, +3 h).
        let period = try t.store.incidentStatistics(by: .county, since: Self.at(hours: 1), until: Self.at(hours: 3), now: now)
        #expect(period.first?.received == 2 && period.first?.closed == 1)
    }

    @Test func importedIncidentsAreRoutedWithTimesInOneForm() throws {
        let caoWei = try inside(town: "430981-006").point
        let file = try t.file("incidents.csv", """
            id,lon,lat,category,channel,severity,status,reported_at,satisfaction,closed_at
            H1,112.355,28.842,矛盾纠纷,12345,一般,closed,2026-10-01T00:00:00Z,5,2026-10-02T12:00:00+08:00
            H2,\(caoWei.lon),\(caoWei.lat),环境卫生,来访,,in_progress,2026-10-05T08:00:00+08:00,,
            H3,113.6,28.8,其他,来访,简单,reported,,,
            """)
        _ = try t.store.importPoints(.incidents, path: file, dispatch: Self.rules)
        let h1 = try t.store.incident(id: "H1")
        #expect(h1.reportedAt == "2026-10-01T08:00:00+08:00" && h1.closedAt == "2026-10-02T12:00:00+08:00")
        #expect(h1.level == .town && h1.unit == "琼湖街道" && h1.department == "司法局" && h1.deadline == "2026-10-08T08:00:00+08:00")
        #expect(h1.history?.map(\.reason) == [.imported(file: file)] && h1.history?.first?.note == nil && h1.history?.first?.toStatus == .closed)
        let h2 = try t.store.incident(id: "H2")
        #expect(h2.level == .village && h2.town == "430981-006" && h2.department == "城管局")
        let h3 = try t.store.incident(id: "H3")
        #expect(h3.grid == nil && h3.deadline == nil, "outside every grid and without a time: no routing")
        let bad = try t.file("bad.csv", "id,lon,lat,category,closed_at\nB1,112.355,28.842,其他,yesterday\n")
        #expect(throws: WanggeError.self) { _ = try t.store.importPoints(.incidents, path: bad) }
    }
}
