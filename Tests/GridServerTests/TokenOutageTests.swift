import GridApplication
import Foundation
import GridCore
@testable import GridServer
import GridStore
import Synchronization
import Testing

/// A tokens table that answers, is out (as PostGIS reports a stalled or lost
/// connection), or says a token was revoked; it counts its reads and can hold
/// one until told to go on.
final class OutageAccess: TokenReadsOnly, Sendable {
    enum State { case answering, out, revoked, broken }
    static let token = "wg_outage"
    let state = Mutex(State.answering)
    let reads = Mutex(0)
    /// While set, a read waits on it.
    let gate = Mutex<DispatchSemaphore?>(nil)
    let expiresAt: Date?

    init(expiresAt: Date? = nil) { self.expiresAt = expiresAt }

    var caller: Caller { Caller(tokenID: 11, name: "调度", role: .dispatcher, grids: [], expiresAt: expiresAt) }

    func caller(tokenHash: String, now: Date) throws -> Caller? {
        reads.withLock { $0 += 1 }
        gate.withLock { $0 }?.wait()
        switch state.withLock({ $0 }) {
        case .out: throw WanggeError(.unavailable, .verbatim("the database did not answer in time"), cause: "timeout")
        case .revoked: return nil
        case .broken: throw UnusedAccess()
        case .answering: return tokenHash == Tokens.hash(Self.token) ? caller : nil
        }
    }
}

/// While the database cannot answer, a token's last good answer stands in
/// for it (so locating, answered from memory, goes on), within bounds: the
/// grace, the token's expiry, never for a refused token, and one read at a
/// time tries the database again.
@Suite struct TokenOutageTests {
    @Test func aTokensLastAnswerStandsInWhileTheDatabaseIsOut() throws {
        let access = OutageAccess(), clock = ManualClock()
        let cache = TokenCache(store: access, clock: { clock.now })
        let caller = access.caller
        #expect(try cache.caller(for: OutageAccess.token) == caller)
        access.state.withLock { $0 = .out }
        clock.advance(TokenCache.lifetime)
        // Due: the next request reads again, fails for want of the database, and takes the last answer.
        #expect(cache.cached(OutageAccess.token) == .unknown)
        #expect(try cache.caller(for: OutageAccess.token) == caller)
        #expect(access.reads.withLock { $0 } == 2)
        // Meanwhile the answer stands without a read, on the event loop too.
        #expect(cache.cached(OutageAccess.token) == .valid(caller))
        clock.advance(TokenCache.retryInterval - 0.001)
        #expect(try cache.caller(for: OutageAccess.token) == caller)
        #expect(access.reads.withLock { $0 } == 2, "no read within the retry interval")
        clock.advance(0.001)
        #expect(cache.cached(OutageAccess.token) == .unknown, "the database is tried again after the retry interval")
        #expect(try cache.caller(for: OutageAccess.token) == caller)
        #expect(access.reads.withLock { $0 } == 3)
        // Past the grace (counted from the last good answer) the outage is the caller's error.
        clock.advance(TokenCache.outageGrace - TokenCache.lifetime - TokenCache.retryInterval)
        #expect(cache.cached(OutageAccess.token) == .unknown)
        #expect(throws: WanggeError.self) { try cache.caller(for: OutageAccess.token) }
        // The database back: read and cached as ever.
        access.state.withLock { $0 = .answering }
        #expect(try cache.caller(for: OutageAccess.token) == caller)
        #expect(cache.cached(OutageAccess.token) == .valid(caller))
    }

    @Test func aRevocationIsSeenOnceTheDatabaseAnswersAgain() throws {
        let access = OutageAccess(), clock = ManualClock()
        let cache = TokenCache(store: access, clock: { clock.now })
        #expect(try cache.caller(for: OutageAccess.token) != nil)
        access.state.withLock { $0 = .out }
        clock.advance(TokenCache.lifetime)
        #expect(try cache.caller(for: OutageAccess.token) != nil)
        access.state.withLock { $0 = .revoked }
        clock.advance(TokenCache.retryInterval)
        #expect(try cache.caller(for: OutageAccess.token) == nil)
        #expect(cache.cached(OutageAccess.token) == .refused)
        access.state.withLock { $0 = .out }
        clock.advance(TokenCache.lifetime)
        #expect(throws: WanggeError.self) { try cache.caller(for: OutageAccess.token) }
    }

    @Test func aRefusedOrExpiredTokenIsNeverTakenOnTrust() throws {
        let clock = ManualClock()
        let access = OutageAccess(expiresAt: clock.now.addingTimeInterval(60))
        let cache = TokenCache(store: access, clock: { clock.now })
        #expect(try cache.caller(for: "wg_unknown") == nil)
        #expect(try cache.caller(for: OutageAccess.token) != nil)
        access.state.withLock { $0 = .out }
        clock.advance(TokenCache.lifetime)
        #expect(throws: WanggeError.self) { try cache.caller(for: "wg_unknown") }
        #expect(try cache.caller(for: OutageAccess.token) != nil, "within its expiry the last answer stands in")
        clock.advance(60 - TokenCache.lifetime)
        #expect(cache.cached(OutageAccess.token) == .unknown)
        #expect(throws: WanggeError.self) { try cache.caller(for: OutageAccess.token) }
    }

    /// Another process's change makes every answer due, but the last good
    /// answers stay as stand-ins; a revoked token (here or announced) goes altogether.
    @Test func answersFallDueButOnlyARevokedTokenIsForgotten() throws {
        let access = OutageAccess(), clock = ManualClock()
        let cache = TokenCache(store: access, clock: { clock.now })
        #expect(try cache.caller(for: OutageAccess.token) == access.caller)
        #expect(try cache.caller(for: "wg_unknown") == nil)
        cache.markAllDue()
        #expect(cache.cached(OutageAccess.token) == .unknown && cache.cached("wg_unknown") == .unknown, "due at once")
        access.state.withLock { $0 = .out }
        #expect(try cache.caller(for: OutageAccess.token) == access.caller, "its last good answer stands in")
        #expect(throws: WanggeError.self) { try cache.caller(for: "wg_unknown") }
        cache.forget(tokenID: access.caller.tokenID)
        #expect(cache.cached(OutageAccess.token) == .unknown)
        #expect(throws: WanggeError.self) { try cache.caller(for: OutageAccess.token) }
    }

    /// A failure that is not the database's absence (a bug, a broken table) is not covered up.
    @Test func otherFailuresAreNotCoveredUp() throws {
        let access = OutageAccess(), clock = ManualClock()
        let cache = TokenCache(store: access, clock: { clock.now })
        #expect(try cache.caller(for: OutageAccess.token) != nil)
        access.state.withLock { $0 = .broken }
        clock.advance(TokenCache.lifetime)
        #expect(throws: UnusedAccess.self) { try cache.caller(for: OutageAccess.token) }
        #expect(cache.cached(OutageAccess.token) == .unknown)
    }

    /// While one request waits on the database (a stall, before its timeout),
    /// the others take the last answer at once instead of queueing behind it.
    @Test func oneRequestReadsAgainWhileTheOthersTakeTheLastAnswer() throws {
        let access = OutageAccess(), clock = ManualClock()
        let cache = TokenCache(store: access, clock: { clock.now })
        let caller = access.caller
        #expect(try cache.caller(for: OutageAccess.token) == caller)
        clock.advance(TokenCache.lifetime)
        let gate = DispatchSemaphore(value: 0)
        access.gate.withLock { $0 = gate }
        let reading = Mutex<Caller?>(nil), done = DispatchSemaphore(value: 0)
        Thread {
            reading.withLock { $0 = try? cache.caller(for: OutageAccess.token) }
            done.signal()
        }.start()
        let deadline = Date().addingTimeInterval(30)
        while access.reads.withLock({ $0 }) < 2 && Date() < deadline { usleep(1_000) }
        try #require(access.reads.withLock { $0 } == 2, "the reading request never reached the database")
        #expect(cache.cached(OutageAccess.token) == .valid(caller))
        #expect(try cache.caller(for: OutageAccess.token) == caller)
        #expect(access.reads.withLock { $0 } == 2, "the others did not read")
        access.gate.withLock { $0 = nil }
        gate.signal()
        done.wait()
        #expect(reading.withLock { $0 } == caller)
    }
}
