import GridApplication
import Foundation
import GeoKit
import GridCore
@testable import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import TestSupport

/// A PostgreSQL server that stops answering mid-request without closing the connection (a
/// proxy on loopback black-holes the traffic, both sockets open): the request answers 503
/// with Retry-After within its bound, nothing of the database's address in the body, the
/// cause logged; /v1/locate (answered from memory) and /healthz answer meanwhile, the
/// locate's token on its last good answer once that is due; when the
/// traffic flows again the same server answers, without a restart.
@Suite(.serialized) struct DatabaseStallTests {
    @Test func aStalledDatabaseAnswers503WhileLocateAndHealthzAnswer() async throws {
        let url = try PostgresTestCluster.freshDatabase()
        let loader = try PostGISStore(url: url)
        _ = try loader.importGrids(path: Fixtures.sampleGrids, GridFileOptions(), generationName: nil, dispatch: DispatchRules(),
                                   thresholds: PlanThresholds(), force: false, progress: nil)
        let token = Tokens.generate(), locating = Tokens.generate()
        _ = try loader.createToken(name: "viewer", role: .viewer, grids: [], villages: [], towns: [], expiresAt: nil, hash: Tokens.hash(token))
        _ = try loader.createToken(name: "locating", role: .viewer, grids: [], villages: [], towns: [], expiresAt: nil, hash: Tokens.hash(locating))
        let (proxy, through) = try StallingProxy.through(url)
        defer { proxy.stop() }
        let headers: HTTPFields = [.authorization: "Bearer \(token)"]
        let seat = LonLat(112.355, 28.842)

        // 1. While a request waits for the stalled database, /v1/locate (answered from memory) and
        // /healthz answer. Its bound is long here, so that however loaded the machine (synchronous
        // tests can hold every cooperative thread for minutes), only the resumed traffic answers it.
        var patient = WanggeConfig()
        patient.server.databaseTimeout = .seconds(600)
        let service = try GridService(store: try GridService.open(path: through, config: patient, serving: true), config: patient)
        _ = try service.active()
        let app = buildApplication(service: service, host: "127.0.0.1", port: 0, settings: patient.server, logger: CapturedLog().logger)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/towns", method: .get, headers: headers) { #expect($0.status == .ok) }
            // A token read just before the stall: the server keeps it 5 s (TokenCache.lifetime), so locating
            // needs nothing from the database (later, its token would be read again: a 503 as any other read).
            let locatingHeaders: HTTPFields = [.authorization: "Bearer \(locating)"]
            try await client.execute(uri: "/v1/locate?lon=\(seat.lon)&lat=\(seat.lat)", method: .get, headers: locatingHeaders) { #expect($0.status == .ok) }
            let tokenRead = Date()
            proxy.stall()
            let townsAnswered = AnsweredFlag()
            async let stalled = client.execute(uri: "/v1/towns", method: .get, headers: headers) { response in
                townsAnswered.set()
                return response.status
            }
            try await Task.sleep(for: .milliseconds(100))
            try await client.execute(uri: "/v1/locate?lon=\(seat.lon)&lat=\(seat.lat)", method: .get, headers: locatingHeaders) { response in
                // Only while the token is still cached (a loaded machine may take longer to get here).
                guard Date().timeIntervalSince(tokenRead) < TokenCache.lifetime - 1 else { return }
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            #expect(!townsAnswered.isSet, "the request answered while its database was stalled")
            // The traffic flows again: the waiting request and the next are answered, without a restart.
            proxy.resume()
            #expect(try await stalled == .ok)
            try await client.execute(uri: "/v1/towns", method: .get, headers: headers) { #expect($0.status == .ok) }
        }

        // 2. As `wangge serve` opens it with server.database_timeout_s: a stalled request answers 503
        // with Retry-After within its bound, naming neither the database's host nor its port.
        var bounded = WanggeConfig()
        bounded.server.databaseTimeout = .seconds(2)
        let boundedService = try GridService(store: try GridService.open(path: through, config: bounded, serving: true), config: bounded)
        _ = try boundedService.active()
        let log = CapturedLog()
        let boundedApp = buildApplication(service: boundedService, host: "127.0.0.1", port: 0, settings: bounded.server, logger: log.logger)
        try await boundedApp.test(.router) { client in
            try await client.execute(uri: "/v1/towns", method: .get, headers: headers) { #expect($0.status == .ok) }
            proxy.stall()
            let started = Date()
            try await client.execute(uri: "/v1/towns", method: .get, headers: headers) { response in
                let body = String(buffer: response.body)
                // The bound itself is measured where nothing else competes (PostGISStallTests, test-postgres.py);
                // here only that it ends the wait, however slowly a loaded machine gets back to the request.
                #expect(Date().timeIntervalSince(started) < 300)
                #expect(response.status == .serviceUnavailable && response.headers[.retryAfter] == "5"
                        && response.headers[.contentType] == "application/problem+json", "\(response.status) \(body)")
                #expect(body.contains("unavailable or busy") && !body.contains("127.0.0.1") && !body.contains(String(proxy.port)), "\(body)")
            }
            // The token's answer falls due during the stall: its last good answer stands in
            // (TokenCache.outageGrace), so locating goes on while every database read answers 503.
            try await Task.sleep(for: .seconds(TokenCache.lifetime))
            for _ in 0..<2 {
                try await client.execute(uri: "/v1/locate?lon=\(seat.lon)&lat=\(seat.lat)", method: .get, headers: headers) {
                    #expect($0.status == .ok, "\(String(buffer: $0.body))")
                }
            }
            try await client.execute(uri: "/v1/towns", method: .get, headers: headers) { #expect($0.status == .serviceUnavailable) }
            proxy.resume()
            try await client.execute(uri: "/v1/towns", method: .get, headers: headers) { #expect($0.status == .ok) }
        }
        let lines = log.lines.withLock { $0 }
        #expect(lines.contains { $0.hasPrefix("error GET /v1/towns answered 503") && $0.contains("no answer from the server") }, "\(lines)")
    }
}

/// Set once a request has been answered, read from other tasks.
final class AnsweredFlag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var isSet: Bool { state.withLock { $0 } }
}
