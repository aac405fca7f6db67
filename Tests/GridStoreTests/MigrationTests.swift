import Foundation
import GRDB
import Testing
import TestSupport
import GridCore
import GeoKit
@testable import GridStore

/// A database made by the previous release (Tests/Fixtures/databases/README.md)
/// opens with the current migrator: its migrations are not run again, the new
/// ones are, and nothing stored is lost.
@Suite struct MigrationTests {
    static let previousRelease = Fixtures.path("Tests/Fixtures/databases/release-ded8b41.sqlite")
    static let policy = TimePolicy.standard

    let t: TemporaryStore

    init() throws {
        t = try TemporaryStore(copyOf: Self.previousRelease)
    }

    func column(_ sql: String) throws -> [String?] {
        try t.store.database.pool.read { db in try Optional<String>.fetchAll(db, sql: sql) }
    }

    @Test func aDatabaseOfThePreviousReleaseOpensWithEverythingItHeld() throws {
        let applied = try column("SELECT identifier FROM grdb_migrations ORDER BY rowid").compactMap { $0 }
        #expect(Array(applied.prefix(7)) == ["spatial-metadata", "hierarchy-and-points", "tokens-and-audit", "incident-routing",
                                             "incident-lifecycle", "generation-planning", "token-scopes-expiry-and-notification-areas"])
        #expect(try t.store.database.pool.read { db in try SpatiaLiteDatabase.migrator.hasCompletedMigrations(db) })
        #expect(try t.store.grids().count == 271)
        #expect(try t.store.incidents(IncidentFilter()).map(\.id).sorted() == ["E0001", "E0002", "E0003", "R0000001"])
        let escalated = try t.store.incident(id: "E0002")
        #expect(escalated.status == .escalated && escalated.level == .county && escalated.history?.count == 2)
        #expect(escalated.notifications?.map(\.reason) == [.escalated(fromUnit: "琼湖街道")])
        #expect(try t.store.tokens().map(\.name) == ["王网格", "大屏"])
    }

    @Test func incidentTimesOfThePreviousReleaseAreStoredInUTCAndShownAsBefore() throws {
        // Written as 2026-11-02T00:30:00+08:00 and so on by the previous release.
        #expect(try column("SELECT reported_at FROM incidents WHERE id = 'E0001'") == ["2026-11-01T16:30:00Z"])
        #expect(try column("SELECT deadline FROM incidents WHERE id = 'E0001'") == ["2026-11-04T16:30:00Z"])
        #expect(try column("SELECT updated_at FROM incidents WHERE id = 'E0001'") == ["2026-11-02T00:00:00Z"])
        #expect(try column("SELECT closed_at FROM incidents WHERE id = 'E0003'") == ["2026-10-21T02:00:00Z"])
        #expect(try column("SELECT at FROM incident_events WHERE incident_id = 'E0002' ORDER BY seq") == ["2026-11-01T15:45:00Z", "2026-11-01T23:30:00Z"])
        #expect(try column("SELECT at FROM notifications") == ["2026-11-01T23:30:00Z"])
        // Every stored incident time is now in the one stored form.
        for (table, time) in [("incidents", "reported_at"), ("incidents", "deadline"), ("incidents", "updated_at"), ("incidents", "closed_at"),
                              ("incident_events", "at"), ("notifications", "at")] {
            for text in try column("SELECT \(time) FROM \(table) WHERE \(time) IS NOT NULL").compactMap({ $0 }) {
                #expect(text.hasSuffix("Z") && Self.policy.date(iso8601: text).map(Self.policy.stored) == text, "\(table).\(time): \(text)")
            }
        }
        // Tokens were in UTC already and stay as they were.
        #expect(try column("SELECT expires_at FROM tokens WHERE id = 1") == ["2027-01-01T16:00:00Z"])
        // People see the times of China as before.
        let record = try t.store.incident(id: "E0001")
        #expect(record.reportedAt == "2026-11-02T00:30:00+08:00" && record.deadline == "2026-11-05T00:30:00+08:00")
        #expect(record.history?.map(\.at) == ["2026-11-02T00:30:00+08:00", "2026-11-02T08:00:00+08:00"])
        let closed = try t.store.incident(id: "E0003")
        #expect(closed.closedAt == "2026-10-21T10:00:00+08:00")
        #expect(try t.store.notifications().map(\.at) == ["2026-11-02T07:30:00+08:00"])
        let escalation = try #require(try t.store.incident(id: "E0002").history?.last)
        #expect(escalation.detail?["deadline"] == "2026-11-17T07:30:00+08:00")
    }

    /// E0001's deadline is 00:30 on 5 November in Beijing, 16:30 on the 4th in UTC:
    /// the scan must see it pass whichever date the clock's zone gives.
    @Test func theOverdueScanAcrossMidnightUTCAndBeijing() throws {
        let rules = DispatchRules()
        func at(_ text: String) throws -> Date { try #require(Self.policy.parse(text)) }
        var overdue = IncidentFilter()
        overdue.overdueOnly = true
        // 00:00 in Beijing (16:00Z): half an hour left.
        #expect(try t.store.incidents(overdue, now: try at("2026-11-05T00:00:00+08:00")).isEmpty)
        #expect(try t.store.escalateOverdue(at: try at("2026-11-04T16:00:00Z"), rules: rules).isEmpty)
        #expect(try t.store.incident(id: "E0001", now: try at("2026-11-05 00:29")).overdue == false)
        // 01:00 in Beijing, 17:00Z: past it, though the UTC date is still the 4th.
        #expect(try t.store.incident(id: "E0001", now: try at("2026-11-04T17:00:00Z")).overdue)
        #expect(try t.store.incidents(overdue, now: try at("2026-11-04T17:00:00Z")).map(\.id) == ["E0001"])
        #expect(try t.store.incidentStatistics(by: .county, now: try at("2026-11-04T16:00:00Z")).map(\.overdue) == [0])
        #expect(try t.store.incidentStatistics(by: .county, now: try at("2026-11-04T17:00:00Z")).map(\.overdue) == [1])
        let touched = try t.store.escalateOverdue(at: try at("2026-11-05 01:00"), rules: rules)
        #expect(touched.map(\.id) == ["E0001"] && touched.first?.level == .town)
        let escalated = try t.store.incident(id: "E0001")
        #expect(escalated.status == .escalated && escalated.history?.last?.at == "2026-11-05T01:00:00+08:00")
        #expect(try column("SELECT at FROM incident_events WHERE incident_id = 'E0001' ORDER BY seq DESC LIMIT 1") == ["2026-11-04T17:00:00Z"])
    }

    /// `since` is a day in Beijing: E0001 (00:30 on the 2nd) is in it, E0002 (23:45 on the 1st) is not,
    /// though both are on the 1st in UTC.
    @Test func aDayFilterIsTheDayInBeijing() throws {
        var filter = IncidentFilter()
        filter.since = GridStore.parseTime("2026-11-02")
        filter.until = GridStore.parseTime("2026-11-03")
        #expect(try t.store.incidents(filter).map(\.id) == ["E0001"])
        filter.since = GridStore.parseTime("2026-11-01")
        filter.until = GridStore.parseTime("2026-11-02")
        #expect(try t.store.incidents(filter).map(\.id) == ["E0002"])
        let statistics = try t.store.incidentStatistics(by: .county, since: GridStore.parseTime("2026-11-02"), until: GridStore.parseTime("2026-11-03"))
        #expect(statistics.map(\.received) == [1])
    }

    /// The one incident the previous release closed took 24 h 45 min from report to closure.
    @Test func closureTimesSurviveTheRewrite() throws {
        let statistics = try t.store.incidentStatistics(by: .county, since: GridStore.parseTime("2026-10-01"), until: GridStore.parseTime("2026-10-31"))
        #expect(statistics.first?.meanHoursToClose == 24.75)
    }

    /// The previous release's households had no version and no history: after
    /// the migration they can be kept up to date (version 1 from the start), and
    /// its incidents have no occurrence time and no ticket number.
    @Test func householdUpkeepAndIncidentIntakeFieldsOnAMigratedDatabase() throws {
        let applied = try column("SELECT identifier FROM grdb_migrations ORDER BY rowid").compactMap { $0 }
        #expect(applied.suffix(4) == ["household-upkeep", "incident-occurrence-and-ticket", "stored-configuration", "lifecycle-reasons-as-codes"])
        #expect(try column("SELECT count(*) FROM incidents WHERE occurred_at IS NOT NULL OR external_id IS NOT NULL") == ["0"])
        let placement = try t.store.placement()
        func here(_ lon: Double, _ lat: Double) -> (position: LonLat, source: (x: Double, y: Double, crs: CoordinateSystem)) {
            (LonLat(lon, lat), (lon, lat, .wgs84))
        }
        let actor = HouseholdActor(name: "王网格", auditAction: "test")
        let added = try t.store.addHousehold(id: "M1", HouseholdEdit(fields: [.head: "周大"], place: here(112.357, 28.844)), by: actor,
                                             placement: placement, permit: { _ in })
        #expect(added.version == 1 && added.grid != nil)
        let edited = try t.store.changeHousehold(id: "M1", HouseholdEdit(fields: [.members: "4"], expectedVersion: 1), by: actor,
                                                 placement: placement, permit: { _, _ in })
        #expect(edited.version == 2 && edited.members == 4)
        #expect(try t.store.householdHistory(id: "M1").map(\.action) == [.add, .edit])
    }
}
