import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridApplication
@testable import GridStore

/// A database server that stops answering without closing the connection (a frozen host,
/// a partition: no RST, no FIN) costs a request at most its bound, never a thread for ever.
/// Bounds in these tests are generous: they tell a bounded wait from a hang, nothing finer.
@Suite(.serialized) struct PostGISStallTests {
    /// Far above the bounds under test (1 s timeout: 6 s of waiting, 5 s to connect), far below a hang.
    static let generousBound: TimeInterval = 60

    /// A database with the schema, opened once directly (the command line's way).
    static func migratedDatabase() throws -> String {
        let url = try PostgresTestCluster.freshDatabase()
        _ = try PostGISStore(url: url)
        return url
    }

    /// The error `body` throws (nil: none) and the seconds it took.
    static func timedFailure<T>(_ body: () throws -> T) -> ((any Error)?, TimeInterval) {
        let start = Date()
        do {
            _ = try body()
            return (nil, Date().timeIntervalSince(start))
        } catch {
            return (error, Date().timeIntervalSince(start))
        }
    }

    /// The server's stores bound each statement (the server's statement_timeout ends it, the
    /// connection stays usable and the error is `unavailable`); the command line's do not.
    @Test func aStatementTimeoutBoundsTheServersStatementsNotTheCommandLines() throws {
        let url = try Self.migratedDatabase()
        let server = try PostGISStore(url: url, statementTimeout: 1), commandLine = try PostGISStore(url: url)
        #expect(try server.database.read { try $0.query("SELECT current_setting('statement_timeout') AS t").text(0, "t") } == "1s")
        #expect(try commandLine.database.read { try $0.query("SELECT current_setting('statement_timeout') AS t").text(0, "t") } == "0")
        let (result, seconds) = Self.timedFailure { try server.database.read { try $0.execute("SELECT pg_sleep(3)") } }
        let error = try #require(result as? WanggeError)
        #expect(error.kind == .unavailable && error.cause?.contains("57014") == true, "\(error)")
        #expect(seconds < 3)
        // Cut off by the server, the connection stays in the pool and answers the next statement.
        #expect(try server.database.read { try $0.query("SELECT 1 AS one").int(0, "one") } == 1)
        // The command line waits as long as the statement runs.
        try commandLine.database.read { try $0.execute("SELECT pg_sleep(1.5)") }
        // Schema steps run unbounded even on a server's connection.
        let connection = try PostgresConnection(url: try PostgresURL(url), statementTimeout: 1)
        try connection.transaction { try connection.unbounded { try connection.execute("SELECT pg_sleep(1.5)") } }
        #expect(try connection.query("SELECT current_setting('statement_timeout') AS t").text(0, "t") == "1s")
    }

    /// The traffic stops mid-query (the proxy holds the answer, both sockets open): the read fails as
    /// `unavailable` within its bound; while stalled, a new connection fails within the connect timeout;
    /// once the traffic flows again the same store answers, without being reopened.
    @Test func aStalledServerFailsTheRequestWithinItsBoundAndTheStoreRecovers() throws {
        let url = try Self.migratedDatabase()
        let (proxy, through) = try StallingProxy.through(url)
        defer { proxy.stop() }
        let store = try PostGISStore(url: through, statementTimeout: 1)
        #expect(try store.generations().isEmpty)
        // Stalls while the statement runs on the server (0.8 s: inside the statement timeout, so only the stall stops it).
        Thread {
            usleep(300_000)
            proxy.stall()
        }.start()
        let (result, seconds) = Self.timedFailure { try store.database.read { try $0.query("SELECT pg_sleep(0.8), 1 AS one").int(0, "one") } }
        let error = try #require(result as? WanggeError, "\(String(describing: result))")
        #expect(error.kind == .unavailable && error.cause?.contains("no answer from the server") == true, "\(error)")
        #expect(seconds >= 1 && seconds < Self.generousBound, "\(seconds) s")
        #expect(!error.message.contains("s3cret"))
        // Still stalled: a new connection gets no answer either, and gives up.
        let (again, secondsAgain) = Self.timedFailure { try store.generations() }
        #expect((again as? WanggeError)?.kind == .unavailable, "\(String(describing: again))")
        #expect(secondsAgain < Self.generousBound)
        proxy.resume()
        #expect(try store.generations().isEmpty)
        #expect(try store.database.read { try $0.query("SELECT 2 AS two").int(0, "two") } == 2)
    }

    /// A backend process frozen with SIGSTOP (its host's kernel still acknowledges every byte, so
    /// keepalives see nothing wrong): the wait for its answer runs out and the connection is given up.
    @Test func aFrozenBackendIsGivenUpWithinItsBound() throws {
        let url = try Self.migratedDatabase()
        let connection = try PostgresConnection(url: try PostgresURL(url), statementTimeout: 1)
        let backend = try #require(connection.query("SELECT pg_backend_pid() AS pid").int(0, "pid"))
        guard kill(pid_t(backend), SIGSTOP) == 0 else {
            Issue.record("cannot stop backend \(backend): \(String(cString: strerror(errno)))")
            return
        }
        defer { kill(pid_t(backend), SIGCONT) }
        let (result, seconds) = Self.timedFailure { try connection.query("SELECT 1 AS one") }
        let error = try #require(result as? PostgresError, "\(String(describing: result))")
        #expect(error.timedOut && error.isConnectionLost, "\(error)")
        #expect(seconds >= 1 && seconds < Self.generousBound, "\(seconds) s")
        #expect(!connection.isHealthy)
        #expect(throws: PostgresError.self) { try connection.query("SELECT 1 AS one") }
    }
}

/// With a hot standby, the incident workflow's, planning's and household history's reads go to it
/// (shown with its replay paused: another server's later writes are not seen), yet a caller always
/// sees its own writes (then read from the primary).
@Suite(.serialized) struct PostGISStandbyReadTests {
    static let rules = DispatchRules(departments: ["矛盾纠纷": "司法局"])
    static let seat = LonLat(112.355, 28.842)
    static let t0 = ISO8601DateFormatter().date(from: "2026-11-02T09:00:00+08:00")!

    static func report(_ store: PostGISStore, hours: Double) throws -> String {
        try store.report(IncidentReport(position: seat, source: (seat.lon, seat.lat, .wgs84), category: "矛盾纠纷", channel: "12345",
                                        severity: "简单", description: nil, reporter: nil, reportedAt: t0.addingTimeInterval(hours * 3600)),
                         rules: rules, placement: nil).id
    }

    static func addHousehold(_ store: PostGISStore, _ id: String) throws {
        _ = try store.addHousehold(id: id, HouseholdEdit(fields: [.head: "周大"], place: (seat, (seat.lon, seat.lat, .wgs84)), expectedVersion: nil),
                                   by: HouseholdActor(name: "王网格", auditAction: "POST /v1/households/\(id)"), placement: nil, permit: { _ in },
                                   at: t0)
    }

    @Test func readsGoToTheStandbyYetSeeTheCallersOwnWrites() throws {
        let url = try PostgresTestCluster.freshDatabase()
        // Another server on the primary, and this one reading from the standby.
        let other = try PostGISStore(url: url)
        _ = try other.importGrids(path: Fixtures.sampleGrids, GridFileOptions(), generationName: "standby", dispatch: Self.rules,
                                  thresholds: PlanThresholds(), force: false, progress: nil)
        let before = try Self.report(other, hours: 0)
        try PostgresTestCluster.waitForReplay()
        let standbyURL = try PostgresTestCluster.standby(of: url)
        let server = try PostGISStore(url: url, readURL: standbyURL)
        let active = try server.activeGeneration()
        // Opening the store checked its schema in a write, which notes where the primary's WAL
        // stood then (other tests write to the cluster too): until the standby has replayed that
        // far, this server reads from the primary. Paused short of it, it would never read there.
        try PostgresTestCluster.waitForReplay()

        try PostgresTestCluster.psql(standbyURL, "SELECT pg_wal_replay_pause()")
        defer { _ = try? PostgresTestCluster.psql(standbyURL, "SELECT pg_wal_replay_resume()") }
        // Written by the other server after the standby stopped replaying: the primary has them, the standby not.
        let later = try Self.report(other, hours: 1)
        try Self.addHousehold(other, "S1")
        let othersDraft = try other.createDraft(from: nil, name: "别处的草稿")
        // Ten days on, both incidents are overdue: the escalation notifies their units.
        #expect(try !other.escalateOverdue(at: Self.t0.addingTimeInterval(10 * 86_400), rules: Self.rules).isEmpty)
        #expect(try other.incident(id: later, now: Self.t0).id == later)

        #expect(try server.incident(id: before, now: Self.t0).id == before)
        #expect(throws: WanggeError.incidentNotFound(later)) { try server.incident(id: later, now: Self.t0) }
        #expect(try server.incidents(IncidentFilter(), now: Self.t0).map(\.id) == [before])
        #expect(try server.notifications(unit: nil, limit: 10, forGrids: nil).isEmpty)
        #expect(try !other.notifications(unit: nil, limit: 10, forGrids: nil).isEmpty)
        #expect(try server.monthlyIncidentStatistics(IncidentTrendFilter(), now: Self.t0).map(\.received).reduce(0, +) == 1)
        #expect(try server.incidentStatistics(by: .county, since: nil, until: nil, now: Self.t0).map(\.received).reduce(0, +) == 1)
        #expect(try other.incidentStatistics(by: .county, since: nil, until: nil, now: Self.t0).map(\.received).reduce(0, +) == 2)
        #expect(try server.householdHistory(id: "S1").isEmpty)
        #expect(try other.householdHistory(id: "S1").count == 1)
        // The draft's grids are not on the standby: compared with it, every grid of the active generation is gone.
        #expect(try server.gridChanges(from: active, to: othersDraft).values.allSatisfy { $0 == .removed })
        #expect(try !server.gridChanges(from: active, to: othersDraft).isEmpty)
        #expect(try other.gridChanges(from: active, to: othersDraft).isEmpty)

        // This server's own writes: read back at once (from the primary, the standby being behind them).
        let own = try Self.report(server, hours: 2)
        try Self.addHousehold(server, "S2")
        let ownDraft = try server.createDraft(from: nil, name: "本服务器的草稿")
        #expect(try server.incident(id: own, now: Self.t0).id == own)
        #expect(Set(try server.incidents(IncidentFilter(), now: Self.t0).map(\.id)) == [before, later, own])
        #expect(try server.householdHistory(id: "S2").count == 1)
        #expect(try server.gridChanges(from: active, to: ownDraft).isEmpty)
        #expect(try server.validate(ownDraft, thresholds: PlanThresholds()).errors.isEmpty)

        // The standby's lag is reported through the store's capability, not its type; SpatiaLite has none.
        #expect(try GridService(store: server).standbyLag() != nil)
        #expect(try GridService(store: other).standbyLag() == nil)
        #expect(try GridService(store: try GridStore(path: Fixtures.temporaryPath("no-standby.sqlite"))).standbyLag() == nil)
    }
}
