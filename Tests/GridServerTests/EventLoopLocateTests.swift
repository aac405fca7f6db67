import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GeoKit
import GridApplication
import GridCore
@testable import GridServer
import GridStore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// `GET /v1/locate` answered on the event loop (`EventLoopLocateHandler`) answers as the
/// router does, byte for byte, and leaves everything else to it.
@Suite(.serialized) struct EventLoopLocateTests {
    let fixture: ServerFixture
    init() throws { fixture = try ServerFixture.shared.get() }

    /// Runs `body` with the port of a live server, locates on the event loop or not.
    func withServer<T: Sendable>(onEventLoop: Bool, service: GridService? = nil, idleTimeout: Duration? = nil,
                                 _ body: @escaping @Sendable (Int) throws -> T) async throws -> T {
        var settings = ServerSettings()
        settings.locatesOnEventLoop = onEventLoop
        if let idleTimeout { settings.idleTimeout = idleTimeout }
        let app = buildApplication(service: service ?? fixture.service, host: "127.0.0.1", port: 0, settings: settings)
        return try await app.test(.live) { client in
            let port = try #require(client.port)
            return try await offCooperativeThreads { try body(port) }
        }
    }

    /// A whole answer without its Date header (checked for its form), for comparing two servers.
    static func withoutDate(_ answer: String) -> String {
        let lines = answer.components(separatedBy: "\r\n")
        let dates = lines.filter { $0.lowercased().hasPrefix("date: ") }
        #expect(dates.count == 1 && dates[0].range(of: #"^[Dd]ate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$"#,
                                                    options: .regularExpression) != nil, "\(dates)")
        return lines.filter { !$0.lowercased().hasPrefix("date: ") }.joined(separator: "\r\n")
    }

    /// Requests that must be answered alike: plain locates inside, outside and far
    /// from every grid, and every kind that the event loop leaves to the router.
    func requests() -> [(path: String, headers: [String: String])] {
        let token = ["Authorization": "Bearer \(fixture.tokens[.viewer]!)"]
        var random = SeededRandom(seed: 2026)
        var requests: [(String, [String: String])] = (0..<300).map { _ in
            let p = random.point(in: Envelope(minX: 111.9, minY: 28.4, maxX: 113.3, maxY: 29.5))
            return ("/v1/locate?lon=\(p.lon)&lat=\(p.lat)", token)
        }
        let w = fixture.inside[ServerFixture.workerGrid]!
        requests += [
            ("/v1/locate?lat=\(w.lat)&lon=\(w.lon)", token),
            ("/v1/locate?lon=\(w.lon)&lat=\(w.lat)", ["Authorization": "bearer \(fixture.tokens[.gridWorker]!)"]),
            ("/v1/locate?lon=\(w.lon)&lat=\(w.lat)", [:]),
            ("/v1/locate?lon=\(w.lon)&lat=\(w.lat)", ["Authorization": "Bearer wg_not-a-token"]),
            ("/v1/locate?lon=\(w.lon)&lat=\(w.lat)", ["Authorization": "Basic \(fixture.tokens[.viewer]!)"]),
            ("/v1/locate?lon=\(w.lon)&lat=\(w.lat)", ["Authorization": "Bearer \(fixture.tokens[.viewer]!)", "Accept-Language": "zh-CN"]),
            ("/v1/locate?lon=181&lat=\(w.lat)", token),
            ("/v1/locate?lon=\(w.lon)&lat=-91", token),
            ("/v1/locate?lon=abc&lat=\(w.lat)", token),
            ("/v1/locate?lon=\(w.lon)", token),
            ("/v1/locate?lon=\(w.lon)&lat=\(w.lat)&lon=1", token),
            ("/v1/locate?lon=\(w.lon)&lat=\(w.lat)&crs=EPSG:4490", token),
            ("/v1/locate?lon=\(w.lon)&lat=\(w.lat)&generation=999", token),
            ("/v1/locate?lon=%31\(w.lon)&lat=\(w.lat)", token),
            ("/v1/locate?lon=nan&lat=\(w.lat)", token),
            ("/v1/locate?lon=&lat=\(w.lat)", token),
            ("/v1/locate/?lon=\(w.lon)&lat=\(w.lat)", token),
            ("/v1/locate", token),
            // Odd but possible query strings: the byte parser reads them as the router does or leaves them to it.
            ("/v1/locate?lon=\(w.lon)&&lat=\(w.lat)", token),
            ("/v1/locate?lon=\(w.lon)&lat=\(w.lat)&", token),
            ("/v1/locate?LON=\(w.lon)&lat=\(w.lat)", token),
            ("/v1/locate?lon=1.123e2&lat=2.88e1", token),
            ("/v1/locate?lon=0x70&lat=28", token),
            ("/v1/locate?lon=inf&lat=28", token),
            ("/v1/locate?lon=112.3&lat=28.8;x=1", token),
            ("/v1/locate?lon=112.3=1&lat=28.8", token),
            ("/v1/locate?=112.3&lat=28.8", token),
            ("/v1/locate?lon=-0&lat=-0.0", token),
            ("/v1/locate?lon=112.30000000000000000000001&lat=28.8", token),
        ]
        return requests
    }

    @Test func answersAsTheRouterDoes() async throws {
        let requests = requests()
        let ask: @Sendable (Int) throws -> [String] = { port in
            try requests.map { try RawConnection(port: port).request("GET", $0.path, headers: $0.headers) }
        }
        let router = try await withServer(onEventLoop: false, ask)
        let eventLoop = try await withServer(onEventLoop: true, ask)
        #expect(router.count == requests.count && eventLoop.count == requests.count)
        for (k, (a, b)) in zip(router, eventLoop).enumerated() {
            #expect(Self.withoutDate(a) == Self.withoutDate(b), "\(requests[k].path) \(requests[k].headers)")
        }
        // The event loop answered the plain locates (the first 302, and the one in Chinese), never a request
        // the router refuses; the rest (another CRS or generation, a repeated parameter) went on to the router.
        // The event loop answers only for tokens its cache knows; on a slow machine the two runs above, or this
        // loop itself (a CI run's tests share two cores), can outlast the cache's lifetime (5 s), so the tokens are
        // looked up again before each request, as a request to the router would.
        var onEventLoop: [Int] = []
        for (k, (request, answer)) in zip(requests, router).enumerated() {
            for token in fixture.tokens.values { _ = try fixture.service.tokens.caller(for: token) }
            var fields = HTTPFields()
            for (name, value) in request.headers { fields[HTTPField.Name(name)!] = value }
            let head = HTTPRequest(method: .get, scheme: "http", authority: "127.0.0.1", path: request.path, headerFields: fields)
            guard EventLoopLocateHandler.answer(head, service: fixture.service) != nil else { continue }
            onEventLoop.append(k)
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(request.path)")
        }
        #expect(Set(0..<302).union([305]).isSubset(of: onEventLoop), "\(Set(0..<requests.count).subtracting(onEventLoop).sorted())")
        // Both kinds were there: answers, refusals and parameter errors.
        let statuses = Set(eventLoop.map { $0.prefix(12) })
        #expect(statuses == ["HTTP/1.1 200", "HTTP/1.1 401", "HTTP/1.1 400"], "\(statuses)")
    }

    /// Pipelined requests, some for the router and some answered on the event loop, are
    /// answered in the order they were sent, and `Connection: close` closes after its answer.
    @Test func pipelinedAnswersKeepTheirOrder() async throws {
        let token = fixture.tokens[.viewer]!
        let w = fixture.inside[ServerFixture.workerGrid]!, o = fixture.inside[ServerFixture.otherGrid]!
        let answers = try await withServer(onEventLoop: true) { port in
            let connection = try RawConnection(port: port)
            let paths = ["/v1/grids", "/v1/locate?lon=\(w.lon)&lat=\(w.lat)", "/healthz", "/v1/locate?lon=\(o.lon)&lat=\(o.lat)",
                         "/v1/locate?lon=\(w.lon)&lat=\(w.lat)"]
            let text = paths.enumerated().map { k, path in
                "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n" + (k == paths.count - 1 ? "Connection: close\r\n" : "") + "\r\n"
            }.joined()
            connection.send(text)
            return Self.split(connection.readToEnd())
        }
        #expect(answers.count == 5)
        guard answers.count == 5 else { return }
        #expect(answers.allSatisfy { $0.hasPrefix("HTTP/1.1 200") })
        #expect(answers[0].contains("\"grids\"") || answers[0].contains(ServerFixture.otherGrid))
        #expect(answers[1].contains(ServerFixture.workerGrid) && !answers[1].contains(ServerFixture.otherGrid))
        #expect(answers[2].contains("\"status\":\"ok\""))
        #expect(answers[3].contains(ServerFixture.otherGrid))
        #expect(answers[4].contains(ServerFixture.workerGrid))
    }

    /// A token revoked on this server is refused from the next request, on the event loop as by the router.
    @Test(arguments: [true, false]) func aRevokedTokenIsRefusedAtOnce(onEventLoop: Bool) async throws {
        let copy = Fixtures.temporaryPath("revoked.sqlite")
        _ = try await fixture.store.database.pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        try FileManager.default.copyItem(atPath: fixture.path, toPath: copy)
        defer { Fixtures.removeDatabase(copy) }
        let service = try GridService(store: try GridStore(path: copy))
        let created = try service.createToken(TokenRequest(role: "viewer", name: "撤销测试"))
        let w = fixture.inside[ServerFixture.workerGrid]!
        let statuses = try await withServer(onEventLoop: onEventLoop, service: service) { port in
            let ask = { try RawConnection(port: port).request("GET", "/v1/locate?lon=\(w.lon)&lat=\(w.lat)",
                                                               headers: ["Authorization": "Bearer \(created.token)"]).prefix(12) }
            let before = [try ask(), try ask()]
            try service.revokeToken(id: created.id)
            return before + [try ask()]
        }
        #expect(statuses == ["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 401"])
    }

    /// A connection busy with locates stays open past the idle timeout; once idle, it is closed.
    @Test func theIdleTimeoutCountsLocatesAnsweredOnTheEventLoop() async throws {
        let token = fixture.tokens[.viewer]!
        let w = fixture.inside[ServerFixture.workerGrid]!
        let (answered, closedWhenIdle) = try await withServer(onEventLoop: true, idleTimeout: .milliseconds(500)) { port in
            let connection = try RawConnection(port: port, readTimeoutSeconds: 5)
            var answered = 0
            for _ in 0..<10 {
                connection.send("GET /v1/locate?lon=\(w.lon)&lat=\(w.lat) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n")
                if Self.readAnswer(connection).hasPrefix("HTTP/1.1 200") { answered += 1 }
                usleep(200_000)
            }
            for _ in 0..<100 where !connection.closedByServer { usleep(100_000) }
            return (answered, connection.closedByServer)
        }
        #expect(answered == 10)
        #expect(closedWhenIdle)
    }

    /// One answer read from a kept-alive connection (its head, then Content-Length bytes).
    static func readAnswer(_ connection: RawConnection) -> String {
        var data: [UInt8] = []
        var byte: UInt8 = 0
        while recv(connection.fd, &byte, 1, 0) == 1 {
            data.append(byte)
            let text = String(decoding: data, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let length = text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                var body = [UInt8](repeating: 0, count: length)
                var read = 0
                while read < length {
                    let n = body.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress! + read, length - read, 0) }
                    guard n > 0 else { break }
                    read += n
                }
                return text + String(decoding: body[0..<read], as: UTF8.self)
            }
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Pipelined answers, split by their Content-Length.
    static func split(_ text: String) -> [String] {
        var answers: [String] = []
        var rest = Substring(text)
        while let end = rest.range(of: "\r\n\r\n") {
            let head = rest[..<end.lowerBound]
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            let body = rest[end.upperBound...].utf8.prefix(length)
            answers.append(String(head) + "\r\n\r\n" + String(decoding: body, as: UTF8.self))
            rest = Substring(String(decoding: rest[end.upperBound...].utf8.dropFirst(length), as: UTF8.self))
        }
        return answers
    }
}
