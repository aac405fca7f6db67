import GridApplication
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GeoKit
import GRDB
import GridCore
@testable import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import TestSupport

/// Runs blocking work (sockets, a held database lock) on a thread of its own,
/// so that it never holds one of the few threads the server's tasks need.
func offCooperativeThreads<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Log lines kept for a test to read.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "wangge-test") { _ in Handler(log: self) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.lines.withLock { $0.append("\(event.level) \(event.message)") }
        }
    }
}

/// A copy of the server fixture's database, for tests that lock it or write
/// to it, and a second store on the same file: another process, such as a
/// long `wangge import`, holding the write lock.
final class LockableCopy: Sendable {
    let path = Fixtures.temporaryPath("locked.sqlite")
    let importer: GridStore

    init(of fixture: ServerFixture) throws {
        _ = try fixture.store.database.pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        importer = try GridStore(path: path)
    }

    deinit { Fixtures.removeDatabase(path) }

    /// The write lock held, as an import holds it, until `release()` or 60 s.
    final class WriteLock: Sendable {
        private let state = Mutex(false)
        private let taken = DispatchSemaphore(value: 0), released = DispatchSemaphore(value: 0)
        /// True from when the lock is taken until it is let go.
        var held: Bool { state.withLock { $0 } }
        func release() { released.signal() }

        /// Takes the lock on a thread of its own and returns once it is held.
        func take(on store: GridStore) async throws -> Task<Void, any Error> {
            let task = Task { [self] in
                try await offCooperativeThreads { [self] in
                    try store.database.pool.writeWithoutTransaction { db in
                        try db.execute(sql: "BEGIN IMMEDIATE")
                        state.withLock { $0 = true }
                        taken.signal()
                        _ = released.wait(timeout: .now() + 60)
                        state.withLock { $0 = false }
                        try db.execute(sql: "ROLLBACK")
                    }
                }
            }
            try await offCooperativeThreads { [self] in taken.wait() }
            return task
        }
    }
}

@Suite(.serialized) struct AvailabilityTests {
    let fixture: ServerFixture
    init() throws { fixture = try ServerFixture.shared.get() }

    func app(_ settings: ServerSettings, service: GridService? = nil, logger: Logger? = nil) -> some ApplicationProtocol {
        buildApplication(service: service ?? fixture.service, host: "127.0.0.1", port: 0, settings: settings, logger: logger)
    }

    /// Idle connections, heads trickled a line at a time (slowloris) and
    /// bodies trickled a byte at a time are all closed by the server.
    @Test func idleAndTrickledConnectionsAreClosed() async throws {
        var settings = ServerSettings()
        settings.idleTimeout = .milliseconds(500)
        settings.requestTimeout = .seconds(2)
        let token = fixture.tokens[.viewer]!
        try await app(settings).test(.live) { client in
            let port = try #require(client.port)
            let closed = try await offCooperativeThreads {
                let idle = try RawConnection(port: port)
                let head = try RawConnection(port: port)
                head.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                let body = try RawConnection(port: port)
                body.send("POST /v1/locate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Length: 1000\r\n\r\n{")
                // A line or a byte every 200 ms, each sooner than the idle timeout; 60 s at most.
                for k in 0..<300 where !(idle.closedByServer && head.closedByServer && body.closedByServer) {
                    head.send("X-Slow-\(k): \(k)\r\n")
                    body.send(" ")
                    usleep(200_000)
                }
                return ["idle": idle.closedByServer, "trickled head": head.closedByServer, "trickled body": body.closedByServer]
            }
            for (kind, isClosed) in closed { #expect(isClosed, "\(kind) connection still open after 60 s") }
        }
    }

    /// With the connection cap reached by idle and trickling clients that stay
    /// connected, a valid request still gets its answer (within a generous bound).
    @Test func aValidRequestIsAnsweredWhileManyConnectionsAreHeld() async throws {
        var settings = ServerSettings()
        settings.idleTimeout = .milliseconds(500)
        settings.requestTimeout = .seconds(2)
        settings.maxConnections = 40
        try await app(settings).test(.live) { client in
            let port = try #require(client.port)
            let answer = try await offCooperativeThreads {
                let held = try (0..<120).map { _ in try RawConnection(port: port) }
                for (k, connection) in held.enumerated() where k % 2 == 0 { connection.send("GET /healthz HTTP/1.1\r\n") }
                let answer = try RawConnection(port: port).request("GET", "/healthz")
                withExtendedLifetime(held) {}
                return answer
            }
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        }
    }

    /// The request deadline times the client's sending, not the server's
    /// work: a report that arrived whole but waits 3 s for another process's
    /// write lock, past a 1 s deadline, is still answered.
    @Test func aSlowAnswerOutlivesTheRequestDeadline() async throws {
        let copy = try LockableCopy(of: fixture)
        let service = try GridService(store: try GridStore(path: copy.path, busyTimeout: 120))
        let lock = LockableCopy.WriteLock()
        var settings = ServerSettings()
        settings.requestTimeout = .seconds(1)
        let w = fixture.inside[ServerFixture.workerGrid]!
        let report = "{\"lon\":\(w.lon),\"lat\":\(w.lat),\"category\":\"噪音扰民\",\"channel\":\"12345\"}"
        let token = fixture.tokens[.dispatcher]!
        try await app(settings, service: service).test(.live) { client in
            let port = try #require(client.port)
            let holding = try await lock.take(on: copy.importer)
            let answer = try await offCooperativeThreads {
                let connection = try RawConnection(port: port)
                connection.send("POST /v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                                + "Content-Type: application/json\r\nContent-Length: \(report.utf8.count)\r\nConnection: close\r\n\r\n\(report)")
                sleep(3)
                let stillHeld = lock.held
                lock.release()
                return (stillHeld, connection.readToEnd())
            }
            try await holding.value
            #expect(answer.0, "the lock was let go before the deadline passed")
            #expect(answer.1.hasPrefix("HTTP/1.1 201"), "\(answer.1)")
        }
    }

    @Test func theConnectionCapStaysUnderTheOpenFileLimit() {
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        var settings = ServerSettings()
        #expect(settings.connectionLimit <= min(1_000, Int(limit.rlim_cur) - 64))
        settings.maxConnections = 1_000_000
        #expect(settings.connectionLimit == Int(limit.rlim_cur) - 64)
        settings.maxConnections = 25
        #expect(settings.connectionLimit == 25)
    }

    /// Requests blocked on the database (here: writes waiting for another
    /// process's write lock, more of them than there are cores) do not stall
    /// a locate: it is answered while the lock is still held. Then the
    /// writes wait it out and succeed.
    @Test func requestsBlockedOnTheDatabaseDoNotStallOthers() async throws {
        let copy = try LockableCopy(of: fixture)
        let service = try GridService(store: try GridStore(path: copy.path, busyTimeout: 120))
        let lock = LockableCopy.WriteLock()
        let w = fixture.inside[ServerFixture.workerGrid]!
        let report = "{\"lon\":\(w.lon),\"lat\":\(w.lat),\"category\":\"噪音扰民\",\"channel\":\"12345\"}"
        let blocked = ProcessInfo.processInfo.activeProcessorCount + 2
        try await app(ServerSettings(), service: service).test(.router) { client in
            let holding = try await lock.take(on: copy.importer)
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<blocked {
                    group.addTask {
                        try await client.execute(uri: "/v1/incidents", method: .post, headers: fixture.headers(.dispatcher),
                                                 body: ByteBuffer(string: report)) { $0.status }
                    }
                }
                try await Task.sleep(for: .seconds(1)) // let the writes start and block
                let located = try await client.execute(uri: "/v1/locate?lon=\(w.lon)&lat=\(w.lat)", method: .get, headers: fixture.headers(.viewer)) {
                    $0.status
                }
                let answeredWhileLocked = lock.held
                lock.release()
                #expect(located == .ok)
                #expect(answeredWhileLocked, "locate waited for the database lock to go")
                var statuses: [HTTPResponse.Status] = []
                for try await status in group { statuses.append(status) }
                #expect(statuses == Array(repeating: .created, count: blocked))
            }
            try await holding.value
        }
    }

    /// A write that waits longer than the busy timeout on another process's
    /// lock answers 503 with a problem body and Retry-After, never an empty
    /// 500, and the cause is logged.
    @Test func aLockedDatabaseAnswers503WithRetryAfter() async throws {
        let copy = try LockableCopy(of: fixture)
        let service = try GridService(store: try GridStore(path: copy.path, busyTimeout: 0.2))
        let lock = LockableCopy.WriteLock()
        let w = fixture.inside[ServerFixture.workerGrid]!
        let log = CapturedLog()
        try await app(ServerSettings(), service: service, logger: log.logger).test(.router) { client in
            let holding = try await lock.take(on: copy.importer)
            let report = "{\"lon\":\(w.lon),\"lat\":\(w.lat),\"category\":\"噪音扰民\",\"channel\":\"12345\"}"
            // A report (a write) and an audited read (its audit entry is a write).
            let requests: [(String, HTTPRequest.Method, Role, String?)] = [
                ("/v1/incidents", .post, .dispatcher, report),
                ("/v1/grids/\(ServerFixture.workerGrid)/households?limit=2", .get, .gridWorker, nil),
            ]
            for (uri, method, role, body) in requests {
                try await client.execute(uri: uri, method: method, headers: fixture.headers(role), body: body.map { ByteBuffer(string: $0) }) { response in
                    #expect(response.status == .serviceUnavailable, "\(method) \(uri)")
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.headers[.retryAfter] == "5")
                    let problem = try #require(try json(response) as? [String: Any])
                    #expect(problem["status"] as? Int == 503 && (problem["detail"] as? String)?.contains("busy") == true)
                }
            }
            lock.release()
            try await holding.value
        }
        let lines = log.lines.withLock { $0 }
        #expect(lines.contains { $0.hasPrefix("error POST /v1/incidents answered 503") && $0.contains("locked") }, "\(lines)")
    }

    @Test func unknownPathsAndMethodsAnswerProblems() async throws {
        try await fixture.app().test(.router) { client in
            let cases: [(String, HTTPRequest.Method, HTTPResponse.Status, String?)] = [
                ("/v1/nothing", .get, .notFound, nil),
                ("/collections/grids/items/x/y", .get, .notFound, nil),
                ("/v1/towns", .delete, .methodNotAllowed, "GET"),
                ("/v1/locate", .put, .methodNotAllowed, "GET, POST"),
                ("/v1/incidents/E1/actions", .get, .methodNotAllowed, "POST"),
            ]
            for (uri, method, status, allow) in cases {
                try await client.execute(uri: uri, method: method, headers: fixture.headers(.admin)) { response in
                    #expect(response.status == status, "\(method) \(uri)")
                    #expect(response.headers[.contentType] == "application/problem+json", "\(method) \(uri)")
                    #expect(response.headers[.allow] == allow, "\(method) \(uri)")
                    let problem = try json(response) as? [String: Any]
                    #expect(problem?["status"] as? Int == Int(status.code) && problem?["instance"] as? String == uri.split(separator: "?")[0].description)
                }
            }
        }
    }

    /// A client's Host header never reaches the links: an attacker's host
    /// would otherwise be served to everyone behind a cache.
    @Test func ogcLinksComeFromThePublicURLNotTheHostHeader() async throws {
        var settings = ServerSettings()
        settings.publicURL = "https://wangge.example.gov.cn/"
        let token = fixture.tokens[.viewer]!
        for (settings, base) in [(settings, "https://wangge.example.gov.cn"), (ServerSettings(), "http://127.0.0.1:0")] {
            try await app(settings).test(.live) { client in
                let port = try #require(client.port)
                for path in ["/", "/collections", "/collections/grids", "/collections/grids/items?limit=1"] {
                    let answer = try await offCooperativeThreads {
                        let connection = try RawConnection(port: port)
                        connection.send("GET \(path) HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
                        return connection.readToEnd()
                    }
                    #expect(answer.hasPrefix("HTTP/1.1 200"), "\(path)")
                    #expect(!answer.contains("evil.example"), "\(path)")
                    #expect(answer.contains("\"href\":\"\(base)/"), "\(path): \(answer.suffix(400))")
                }
            }
        }
    }
}

/// `wangge serve` must bind its port before it writes anything: one that
/// cannot start leaves overdue incidents as they were.
@Suite struct StartUpTests {
    @Test func aServerThatCannotBindEscalatesNothing() async throws {
        let fixture = try ServerFixture.shared.get()
        let copy = try LockableCopy(of: fixture)
        let store = copy.importer
        let w = fixture.inside[ServerFixture.workerGrid]!
        let longAgo = Date().addingTimeInterval(-30 * 86_400)
        let overdue = try store.report(IncidentReport(position: w, source: (w.lon, w.lat, .wgs84), category: "矛盾纠纷", channel: "12345",
                                                      severity: "简单", description: nil, reporter: nil, reportedAt: longAgo),
                                       rules: DispatchRules()).id
        let before = try store.incident(id: overdue)
        // The port is taken by another listener.
        let (listener, port) = try listeningSocket()
        defer { close(listener) }
        let service = try GridService(store: store)
        await #expect(throws: (any Error).self) {
            try await buildApplication(service: service, host: "127.0.0.1", port: port).runService(gracefulShutdownSignals: [])
        }
        let after = try store.incident(id: overdue)
        #expect(after.level == before.level && after.version == before.version, "the incident was escalated by a server that never started")
        #expect(try store.escalateOverdue(at: Date(), rules: DispatchRules()).contains { $0.id == overdue }, "it is still overdue")
    }
}
