import GridApplication
import Foundation
import GridCore
@testable import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import TestSupport

/// A clock that tests move on by hand.
final class ManualClock: Sendable {
    private let time = Mutex(Date(timeIntervalSince1970: 1_790_000_000))
    var now: Date { time.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { time.withLock { $0 += seconds } }
}

/// Tokens as a test sees them: one valid token, and for each read of the
/// tokens table whether it ran on a blocking-work thread.
final class RecordingAccess: TokenReadsOnly, Sendable {
    static let token = "wg_recorded", caller = Caller(tokenID: 7, name: "记录", role: .dispatcher, grids: [])
    let readsOnBlockingThreads = Mutex<[Bool]>([])

    func caller(tokenHash: String, now: Date) throws -> Caller? {
        readsOnBlockingThreads.withLock { $0.append(BlockingWorkExecutor.isCurrentThread) }
        return tokenHash == Tokens.hash(Self.token) ? Self.caller : nil
    }
}

/// A test's tokens table that only reads tokens: every other call fails.
protocol TokenReadsOnly: AccessRepository {}

struct UnusedAccess: Error {}

extension TokenReadsOnly {
    func createToken(name: String, role: Role, grids: [String], villages: [String], towns: [String], expiresAt: Date?, hash: String) throws -> Int64 {
        throw UnusedAccess()
    }
    func tokens(now: Date) throws -> [TokenSummary] { throw UnusedAccess() }
    func revokeToken(id: Int64) throws -> Bool { throw UnusedAccess() }
    func audit(_ caller: Caller, action: String, grid: String?, records: Int) throws { throw UnusedAccess() }
    func auditLog(limit: Int) throws -> [(at: String, caller: String, role: String, action: String, grid: String?, records: Int)] { throw UnusedAccess() }
}

/// GET /v1/locate is answered from memory on the request's own thread; every
/// database read (a token not in the cache, any other route) still runs on
/// `BlockingWorkExecutor`'s threads, and revocation takes effect as before.
@Suite struct HotPathTests {
    /// A token used, then revoked: refused once its cached answer is older
    /// than the cache's lifetime (5 s), never later; unknown to the cache
    /// (so read again) from that moment.
    @Test func aRevokedTokenIsRefusedOnceTheCachedAnswerExpires() throws {
        let fixture = try ServerFixture.shared.get()
        let clock = ManualClock()
        let cache = TokenCache(store: fixture.store, clock: { clock.now })
        let token = Tokens.generate()
        let id = try fixture.store.createToken(name: "缓存测试", role: .dispatcher, grids: [], hash: Tokens.hash(token))
        #expect(cache.cached(token) == .unknown)
        let caller = try #require(try cache.caller(for: token))
        #expect(caller.tokenID == id && cache.cached(token) == .valid(caller))
        #expect(try fixture.store.revokeToken(id: id))
        clock.advance(TokenCache.lifetime - 0.001)
        #expect(cache.cached(token) == .valid(caller), "the cached answer stands for the cache's lifetime")
        clock.advance(0.001)
        #expect(cache.cached(token) == .unknown)
        #expect(try cache.caller(for: token) == nil)
        #expect(cache.cached(token) == .refused)
        #expect(cache.cached(Tokens.generate()) == .unknown)
    }

    /// Stored hashes are SHA-256 in lowercase hex: tokens made by earlier releases still match.
    @Test func tokenHashesAreLowercaseHexSHA256() {
        #expect(Tokens.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let token = Tokens.generate()
        #expect(token.count == 67 && token.hasPrefix("wg_") && token.dropFirst(3).allSatisfy { "0123456789abcdef".contains($0) })
    }

    /// A token that expires sooner than the cache's lifetime is not accepted past its expiry.
    @Test func anExpiringTokenIsNotAcceptedPastItsExpiry() throws {
        let fixture = try ServerFixture.shared.get()
        let clock = ManualClock()
        let cache = TokenCache(store: fixture.store, clock: { clock.now })
        let token = Tokens.generate()
        _ = try fixture.store.createToken(name: "将过期", role: .viewer, grids: [], expiresAt: clock.now.addingTimeInterval(2),
                                          hash: Tokens.hash(token))
        #expect(try cache.caller(for: token) != nil)
        clock.advance(2)
        #expect(cache.cached(token) == .unknown)
        #expect(try cache.caller(for: token) == nil)
    }

    /// The tokens table is read on a blocking-work thread, once per token
    /// while the cache holds its answer; a refused token is remembered too.
    @Test func tokensAreReadOffTheCooperativeThreadsAndOnce() async throws {
        let access = RecordingAccess()
        let router = Router(context: WanggeContext.self)
        router.add(middleware: ProblemMiddleware())
        let clock = ManualClock() // time stands still: a slow run must not see the answers expire
        router.add(middleware: AuthMiddleware(tokens: TokenCache(store: access, clock: { clock.now })))
        router.get("/v1/who") { _, context in try context.requireCaller().name }
        try await Application(router: router).test(.router) { client in
            for _ in 0..<3 {
                try await client.execute(uri: "/v1/who", method: .get, headers: [.authorization: "Bearer \(RecordingAccess.token)"]) {
                    #expect($0.status == .ok && String(buffer: $0.body) == "记录")
                }
                try await client.execute(uri: "/v1/who", method: .get, headers: [.authorization: "Bearer wg_wrong"]) {
                    #expect($0.status == .unauthorized)
                }
            }
        }
        #expect(access.readsOnBlockingThreads.withLock { $0 } == [true, true])
    }

    /// Handlers run on blocking-work threads, except a locate answered from memory.
    @Test func handlersRunOnBlockingWorkThreadsExceptLocateFromMemory() async throws {
        let fixture = try ServerFixture.shared.get()
        _ = try fixture.service.active()
        let router = buildRouter(service: fixture.service, baseURL: "http://127.0.0.1")
        router.get("/v1/thread") { _, _ in String(BlockingWorkExecutor.isCurrentThread) }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/v1/thread", method: .get, headers: fixture.headers(.viewer)) {
                #expect(String(buffer: $0.body) == "true")
            }
        }
        func request(_ method: HTTPRequest.Method, _ path: String) -> Request {
            Request(head: HTTPRequest(method: method, scheme: "http", authority: "127.0.0.1", path: path), body: RequestBody(buffer: ByteBuffer()))
        }
        let fromMemory = BlockingWorkMiddleware.answersFromMemory
        #expect(fromMemory(request(.get, "/v1/locate?lon=112.355&lat=28.842"), fixture.service))
        #expect(!fromMemory(request(.get, "/v1/locate?lon=112.355&lat=28.842&generation=1"), fixture.service), "another generation may be read")
        #expect(!fromMemory(request(.get, "/v1/locate?lon=112.355&lat=28.842&crs=EPSG:4549"), fixture.service), "a converter may be built")
        #expect(!fromMemory(request(.post, "/v1/locate"), fixture.service))
        #expect(!fromMemory(request(.get, "/v1/towns"), fixture.service))
        #expect(!fromMemory(request(.get, "/v1/locate?crs=gcj02&lon=112.355&lat=28.842"), fixture.service))
        #expect(fromMemory(request(.get, "/v1/locate?lon=112.355&lat=28.842&note=crs"), fixture.service), "a value is not a name")
        let unloaded = try GridService(store: fixture.store)
        #expect(!fromMemory(request(.get, "/v1/locate?lon=112.355&lat=28.842"), unloaded), "the first locate loads the generation")
    }
}
