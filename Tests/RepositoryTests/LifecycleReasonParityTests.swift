import Foundation
import Testing
import TestSupport
import GeoKit
import GridCore
import Localization
@testable import GridApplication
@testable import GridStore

/// The English sentences the lifecycle stored before its reasons became codes
/// (`lifecycle-reasons-as-codes`) are converted alike by SpatiaLite's and
/// PostgreSQL's SQL, and a person's note is left as written.
@Suite(.serialized) struct LifecycleReasonParityTests {
    static let rules = DispatchRules(departments: ["矛盾纠纷": "司法局"])
    static let t0 = ISO8601DateFormatter().date(from: "2026-11-02T09:00:00+08:00")!
    static let seat = LonLat(112.355, 28.842)

    /// Rows as the previous release wrote them, for incident `id`: three escalations
    /// (the ladder's, the deadline's, a person's), an import's report, a regrid, and five notifications.
    static func legacyRows(_ id: String) -> String {
        let event = "INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status, level, unit, note, detail) VALUES"
        let notification = "INSERT INTO notifications (incident_id, at, level, unit, reason) VALUES"
        return """
            \(event) ('\(id)', '2026-11-02T02:00:00Z', '王网格', 'escalate', 'in_progress', 'escalated', 'town', '琼湖街道',
                '2+1+N: 2 failed attempt(s) at village level', '{"from_unit":"和桥社区居委会","deadline":"2026-11-09T02:00:00Z"}');
            \(event) ('\(id)', '2026-11-10T02:00:00Z', 'scheduler', 'escalate', 'escalated', 'escalated', 'county', '司法局',
                'overdue: the deadline 2026-11-09T10:00:00+08:00 passed', NULL);
            \(event) ('\(id)', '2026-11-11T02:00:00Z', '李调度', 'escalate', 'accepted', 'escalated', 'county', '司法局',
                'overdue: 当事人要求县里处理', NULL);
            \(event) ('\(id)', '2026-11-01T02:00:00Z', 'import', 'report', NULL, 'reported', 'village', '和桥社区居委会',
                'imported from /data/12345 工单.csv', NULL);
            \(event) ('\(id)', '2026-11-27T02:00:00Z', 'admin', 'regrid', 'escalated', 'escalated', 'county', '司法局',
                'boundary redraw: generation 3', '{"from_grid":"A","to_grid":"B","generation":"3"}');
            \(notification) ('\(id)', '2026-11-02T02:00:00Z', 'town', '琼湖街道', 'escalated from 和桥社区居委会');
            \(notification) ('\(id)', '2026-11-26T02:00:00Z', 'county', '综治中心',
                'overdue at the county (司法局): overdue: the deadline 2026-11-25T10:00:00+08:00 passed');
            \(notification) ('\(id)', '2026-11-27T02:00:00Z', 'village', '和桥社区居委会', 'moved into this grid');
            \(notification) ('\(id)', '2026-11-27T03:00:00Z', 'village', '和桥社区居委会', 'boundary redraw');
            \(notification) ('\(id)', '2026-11-27T04:00:00Z', 'village', '和桥社区居委会', 'reopened');
            """
    }

    /// The incident's history and notifications after the conversion, on one store.
    static func converted(_ backend: Backend) throws -> IncidentRecord {
        let store = try backend.emptyStore()
        _ = try store.importGrids(path: Fixtures.sampleGrids, GridFileOptions(), generationName: "reasons", dispatch: rules,
                                  thresholds: PlanThresholds(), force: false, progress: nil)
        let id = try store.report(IncidentReport(position: seat, source: (seat.lon, seat.lat, .wgs84), category: "矛盾纠纷", channel: "12345",
                                                 severity: "简单", description: nil, reporter: nil, reportedAt: t0),
                                  rules: rules, placement: nil).id
        switch store {
        case let spatialite as GridStore:
            try spatialite.database.pool.write { db in
                try db.execute(sql: legacyRows(id))
                try db.execute(sql: SpatiaLiteDatabase.lifecycleReasonsAsCodes)
            }
        case let postgis as PostGISStore:
            try postgis.database.write { connection in
                try connection.execute(legacyRows(id))
                try connection.execute(PostGISDatabase.lifecycleReasonsAsCodes)
            }
        default:
            Issue.record("no raw access to \(type(of: store))")
        }
        return try store.incident(id: id, now: t0)
    }

    @Test func theOldSentencesBecomeCodesAlikeOnBothStores() throws {
        let record = try Self.converted(.spatialite)
        let escalations = try #require(record.history?.filter { $0.action == .escalate })
        #expect(escalations.map(\.reason) == [.ladderUsedUp(attempts: 2, level: .village), .overdue(deadline: "2026-11-09T10:00:00+08:00"), nil])
        #expect(escalations.map(\.note) == [nil, nil, "overdue: 当事人要求县里处理"], "a person's note stays as written")
        #expect(escalations[0].detail == ["from_unit": "和桥社区居委会", "deadline": "2026-11-09T10:00:00+08:00"], "the particulars stay")
        let imported = try #require(record.history?.first { $0.actor == "import" })
        #expect(imported.reason == .imported(file: "/data/12345 工单.csv") && imported.note == nil && imported.detail == nil)
        // The system's own events are told by their reason, so they read as the system after the conversion.
        #expect(escalations.map(\.systemActor) == [nil, .scheduler, nil] && imported.systemActor == .importer)
        #expect(imported.actorText.rendered(in: .zh) == "系统（文件导入）" && escalations[2].actorText.rendered(in: .zh) == "李调度")
        let regrid = try #require(record.history?.first { $0.action == .regrid })
        #expect(regrid.reason == .boundaryRedraw && regrid.note == nil && regrid.detail == ["from_grid": "A", "to_grid": "B", "generation": "3"])
        #expect(record.notifications?.map(\.reason) == [
            .escalated(fromUnit: "和桥社区居委会"), .overdueAtCounty(unit: "司法局", deadline: "2026-11-25T10:00:00+08:00"),
            .movedIn, .boundaryRedraw, .reopened,
        ])
        // Worded in the reader's language when shown, times to the minute in China's.
        #expect(escalations[1].reason?.text.rendered(in: .zh) == "超期：时限 2026-11-09 10:00 已过")
        #expect(record.notifications?[1].reason.text.rendered(in: .en) == "overdue at the county (司法局): the deadline 2026-11-25 10:00 passed")
        #expect(try Self.converted(.postgis) == record)
    }
}
