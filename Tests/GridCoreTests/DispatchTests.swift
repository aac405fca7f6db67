import Foundation
import Testing
@testable import GridCore

@Suite struct DispatchTests {
    let grids = ["G1": GridInfo(code: "G1", name: "一网格", villageCode: "V1", villageName: "新桥社区", townCode: "T1", townName: "琼湖街道",
                                workerName: "李四", workerPhone: "13800000000")]
    let rules = DispatchRules(departments: ["环境卫生": "城管局"])
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    func route(_ a: PointAssignment, severity: String? = nil, category: String = "环境卫生",
               earlier: [(id: String, distanceMeters: Double, reportedAt: Date)] = []) throws -> Routing {
        try Dispatcher.route(assignment: a, codes: ["G1", "G2"], grids: grids, category: category, severity: severity,
                             reportedAt: now, earlier: earlier, rules: rules)
    }

    @Test func severityChoosesTheLevelUnitAndDeadline() throws {
        let inside = PointAssignment(grid: 0, method: .inside)
        let simple = try route(inside, severity: "简单")
        #expect(simple.level == .village)
        #expect(simple.unit == "新桥社区居委会")
        #expect(simple.deadline == now.addingTimeInterval(72 * 3600))
        let general = try route(inside, severity: "一般")
        #expect(general.level == .town)
        #expect(general.unit == "琼湖街道")
        #expect(general.deadline == now.addingTimeInterval(168 * 3600))
        let hard = try route(inside, severity: "疑难")
        #expect(hard.level == .county)
        #expect(hard.unit == "城管局" && hard.department == "城管局")
        #expect(try route(inside, category: "其他").department == "综治中心")
        #expect(simple.worker == "李四")
        #expect(simple.grid == "G1" && simple.town == "T1")
    }

    /// `紧急` is no severity: it used to route to the village with 72 h like a report without one.
    @Test func wordsOutsideTheVocabularyAreRefusedWithTheAllowedOnes() throws {
        #expect(rules.severities == ["简单", "一般", "疑难"])
        #expect { try rules.checkReport(category: "环境卫生", channel: "12345", severity: "紧急") } throws: { error in
            (error as? WanggeError) == WanggeError.vocabulary(.severity, value: "紧急", allowed: ["简单", "一般", "疑难"])
                && "\(error)" == "severity: \"紧急\" is not one of 简单, 一般, 疑难 (dispatch.severity_levels in the configuration)"
        }
        #expect { try rules.checkReport(category: "环境", channel: "12345", severity: nil) } throws: { "\($0)".contains("category: \"环境\" is not one of 矛盾纠纷, 环境卫生") }
        #expect { try rules.checkReport(category: "环境卫生", channel: "微信", severity: nil) } throws: {
            "\($0)" == "channel: \"微信\" is not one of 网格员上报, 12345, 码上办, 来访 (dispatch.channels in the configuration)"
        }
        try rules.checkReport(category: "其他", channel: "来访", severity: nil)
    }

    @Test func nearTheEdgeTheDispatcherConfirms() throws {
        let edge = PointAssignment(grid: 0, method: .inside, distanceMeters: 5, runnerUp: 1, runnerUpDistanceMeters: 5)
        #expect(try route(edge).confirmWithGrid == "G2")
        #expect(try route(PointAssignment(grid: 0, method: .inside)).confirmWithGrid == nil)
    }

    @Test func outsideEveryGridIsRefusedWithTheNearest() {
        let outside = PointAssignment(grid: -1, method: .none, distanceMeters: 812, nearestGrid: 1)
        #expect(throws: WanggeError.outsideEveryGrid(nearestGrid: "G2", distanceMeters: 812)) { try route(outside) }
    }

    @Test func duplicatesWithinTheRadiusAndWindow() throws {
        let inside = PointAssignment(grid: 0, method: .inside)
        let earlier: [(id: String, distanceMeters: Double, reportedAt: Date)] = [
            ("far", 150, now.addingTimeInterval(-3600)), ("old", 20, now.addingTimeInterval(-49 * 3600)),
            ("near", 60, now.addingTimeInterval(-2 * 3600)), ("nearest", 30, now.addingTimeInterval(-47 * 3600)),
        ]
        #expect(try route(inside, earlier: earlier).duplicateOf == "nearest")
        #expect(try route(inside, earlier: Array(earlier.prefix(2))).duplicateOf == nil)
    }
}

@Suite struct IncidentTransitionsTests {
    /// The lifecycle written out by hand, action by action: every pair not
    /// listed here must be refused.
    static let legal: [IncidentAction: [IncidentStatus: IncidentStatus]] = [
        .accept: [.reported: .accepted, .escalated: .accepted, .reopened: .accepted],
        .start: [.accepted: .inProgress],
        .mediate: [.accepted: .inProgress, .inProgress: .inProgress],
        .resolve: [.accepted: .resolved, .inProgress: .resolved],
        .close: [.resolved: .closed],
        .reopen: [.resolved: .reopened, .closed: .reopened],
        .escalate: [.reported: .escalated, .accepted: .escalated, .inProgress: .escalated, .reopened: .escalated, .escalated: .escalated],
        .return: [.reported: .returned, .accepted: .returned, .escalated: .returned, .reopened: .returned],
        .reroute: [.returned: .reported, .reported: .reported],
        .move: [.reported: .reported, .accepted: .accepted, .inProgress: .inProgress, .escalated: .escalated, .reopened: .reopened, .returned: .returned],
        .recategorize: [.reported: .reported, .accepted: .accepted, .inProgress: .inProgress, .escalated: .escalated, .reopened: .reopened, .returned: .returned],
        .regrid: [.reported: .reported, .accepted: .accepted, .inProgress: .inProgress, .escalated: .escalated, .reopened: .reopened, .returned: .returned],
    ]

    @Test func everyActionFromEveryStatus() {
        for action in IncidentAction.allCases {
            for status in IncidentStatus.allCases {
                let expected = Self.legal[action]?[status]
                #expect(IncidentTransitions.target(of: action, from: status) == expected, "\(action.rawValue) from \(status.rawValue)")
                if expected == nil {
                    #expect(throws: WanggeError.illegal(IllegalTransition(action: action, status: status))) { try IncidentTransitions.transition(action, from: status) }
                }
            }
        }
        // Closed is final but for a reopening; nothing moves a closed incident's place or grid.
        #expect(IncidentStatus.allCases.filter(\.isOpen) == [.reported, .accepted, .inProgress, .escalated, .reopened, .returned])
    }

    @Test func theLadderClimbsTwoPlusOnePlusN() {
        let ladder = MediationLadder()
        #expect(ladder.afterFailure(attempt: 1, at: .village) == nil)
        #expect(ladder.afterFailure(attempt: 2, at: .village) == .town)
        #expect(ladder.afterFailure(attempt: 1, at: .town) == .county)
        #expect(ladder.afterFailure(attempt: 1, at: .grid) == .village)
        #expect((1...20).allSatisfy { ladder.afterFailure(attempt: $0, at: .county) == nil }, "the county mediates as often as it takes")
        #expect(IncidentTransitions.levelAbove(.county) == nil)
        #expect(Dispatcher.villageCommittee("和平村") == "和平村委会" && Dispatcher.villageCommittee("东湖") == "东湖村委会")
    }
}
