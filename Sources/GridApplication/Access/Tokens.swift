import Crypto
import Foundation
import GridCore
import GridStore
import Localization

/// Tokens: `wg_` and 32 random bytes in hex; only their SHA-256 is stored.
public enum Tokens {
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return "wg_" + (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }.lowercaseHex
    }

    public static func hash(_ token: String) -> String {
        digest(token).lowercaseHex
    }

    static func digest(_ token: String) -> SHA256Digest {
        var token = token
        return token.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
    }
}

/// What the token cache knows of a token without reading the database.
public enum CachedToken: Sendable, Equatable {
    case valid(Caller)
    case refused
    /// Never seen, or seen longer ago than the cache's lifetime: only the database can tell.
    case unknown
}

/// Resolves bearer tokens to callers, caching each for a few seconds so that
/// a busy endpoint does not read the tokens table on every request.
///
/// While the database cannot answer (stalled, restarting, unreachable), a
/// token's last good answer stands in for it, up to `outageGrace` after that
/// answer and never past the token's expiry: GET /v1/locate is answered from
/// memory and should keep routing reports through an outage. One request
/// tries the database again (`retryInterval` after the last failure, or when
/// the answer is due); the others meanwhile take the last answer at once
/// instead of each waiting out the database's timeout. A refused token is
/// never taken on trust, and a token revoked through this process is
/// forgotten at once; one revoked through another server while this one
/// cannot reach the database is accepted here until the outage ends or the
/// grace runs out.
public final class TokenCache: @unchecked Sendable {
    private struct Entry {
        var caller: Caller?
        /// Until then the answer stands without the database.
        var fresh: Date
        /// Until then a valid answer stands in for a database that cannot answer (`fresh` for a refused token).
        var usable: Date
        /// A request is reading the token again.
        var refreshing = false
    }

    private let store: any AccessRepository
    private let lock = NSLock()
    /// By the token's SHA-256 digest: its hex form is only needed to read the database.
    private var entries: [SHA256Digest: Entry] = [:]
    /// When a read last failed because the database could not answer; nil once one answers.
    private var lastOutage: Date?
    /// How long an answer is kept: a revoked token is refused at most this long after its revocation.
    public static let lifetime: TimeInterval = 5
    /// How long a token's last good answer is accepted while the database cannot answer.
    public static let outageGrace: TimeInterval = 15 * 60
    /// After a read fails for want of the database, how long until one is tried again.
    public static let retryInterval: TimeInterval = 5
    private let clock: @Sendable () -> Date

    /// `clock` lets tests move time on instead of waiting.
    public init(store: any AccessRepository, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.clock = clock
    }

    /// The cache's answer, without touching the database: for callers that
    /// must not block (the server reads the database on other threads).
    public func cached(_ token: String) -> CachedToken {
        cached(digest: Tokens.digest(token))
    }

    private func cached(digest: SHA256Digest) -> CachedToken {
        let now = clock()
        return lock.withLock {
            guard let entry = entries[digest], entry.usable > now else { return .unknown }
            if entry.fresh > now { return entry.caller.map(CachedToken.valid) ?? .refused }
            // A valid answer past its lifetime: taken while another request reads the token again or the database is out.
            guard let caller = entry.caller, entry.refreshing || isInOutage(now) else { return .unknown }
            return .valid(caller)
        }
    }

    /// Whether a read failed for want of the database less than `retryInterval` ago (under the lock).
    private func isInOutage(_ now: Date) -> Bool {
        lastOutage.map { now.timeIntervalSince($0) < Self.retryInterval } ?? false
    }

    /// Every answer falls due: each token is read again at its next request
    /// (another process changed something a caller depends on, or said so
    /// while this one was not listening). The last good answers stay, to
    /// stand in while the database cannot answer.
    public func markAllDue() {
        lock.withLock {
            for (digest, var entry) in entries {
                entry.fresh = .distantPast
                if entry.caller == nil { entry.usable = .distantPast }
                entries[digest] = entry
            }
        }
    }

    /// Forgets a revoked token altogether: refused from its next request, never stood in for.
    public func forget(tokenID: Int64) {
        lock.withLock { entries = entries.filter { $0.value.caller?.tokenID != tokenID } }
    }

    /// The caller of a token: the cache's answer, or the database's (blocking), cached.
    public func caller(for token: String) throws -> Caller? {
        let digest = Tokens.digest(token)
        switch cached(digest: digest) {
        case .valid(let caller): return caller
        case .refused: return nil
        case .unknown: break
        }
        // A valid answer past its lifetime but within the grace: this request reads again, the others take it meanwhile.
        let standIn: Caller? = lock.withLock {
            guard var entry = entries[digest], let caller = entry.caller, entry.usable > clock() else { return nil }
            entry.refreshing = true
            entries[digest] = entry
            return caller
        }
        let caller: Caller?
        do {
            caller = try store.caller(tokenHash: digest.lowercaseHex, now: clock())
        } catch {
            let outage = WanggeError.from(error)?.kind == .unavailable
            let now = clock()
            lock.withLock {
                if outage { lastOutage = now }
                entries[digest]?.refreshing = false
            }
            if outage, let standIn { return standIn }
            throw error
        }
        let now = clock()
        lock.withLock {
            lastOutage = nil
            if entries.count > 10_000 { entries.removeAll() }
            // An expiring token is not cached past its expiry.
            let expiry = caller?.expiresAt ?? .distantFuture
            let fresh = min(now.addingTimeInterval(Self.lifetime), expiry)
            entries[digest] = Entry(caller: caller, fresh: fresh, usable: caller == nil ? fresh : min(now.addingTimeInterval(Self.outageGrace), expiry))
        }
        return caller
    }
}

extension Role: LocalizedConvertible {
    /// The role as the reader reads it: the web map's words (管理员, 调度员, 网格员…).
    public var text: Localized {
        switch self {
        case .admin: tr("administrator")
        case .planner: tr("planner")
        case .dispatcher: tr("dispatcher")
        case .gridWorker: tr("grid worker")
        case .viewer: tr("viewer")
        }
    }

    /// A stored role's words; a code this version does not know, as it is.
    public static func text(of code: String) -> String { Role(rawValue: code)?.text.rendered ?? code }
}

/// What a new token is for: its role, the area a grid worker serves, its expiry.
public struct TokenRequest: Sendable, Decodable {
    public var role: String
    public var name: String?
    public var grids: [String]?
    public var villages: [String]?
    public var towns: [String]?
    /// 90d, 12h, a day (2026-12-31, valid through it, China time) or an ISO 8601 time.
    public var expires: String?

    public init(role: String, name: String? = nil, grids: [String]? = nil, villages: [String]? = nil, towns: [String]? = nil,
                expires: String? = nil) {
        self.role = role
        self.name = name
        self.grids = grids
        self.villages = villages
        self.towns = towns
        self.expires = expires
    }
}

/// A token just created: its value, shown this once, and what it allows.
public struct CreatedToken: Sendable, Encodable {
    public let id: Int64
    public let token: String
    public let name: String
    public let role: String
    public let scope: TokenScope
    public let expires: String?
}

extension GridService {
    /// Creates a token (admin's work): checks the role, the scope's codes and the expiry, stores only the hash.
    public func createToken(_ request: TokenRequest) throws -> CreatedToken {
        guard let role = Role(rawValue: request.role) else {
            throw WanggeError.invalid(tr("role: unknown role \"\(TextLimits.shown(request.role))\" (roles: \(Role.allCases.map(\.rawValue).joined(separator: ", ")))"),
                                      field: "role", value: request.role, allowed: Role.allCases.map(\.rawValue))
        }
        let name = request.name?.trimmingCharacters(in: .whitespaces) ?? ""
        if let problem = TextLimits.firstProblem([("name", name, TextLimits.name)]) {
            throw WanggeError.invalid(problem, field: "name", value: name)
        }
        return try translatingErrors {
            let scope = TokenScope(grids: request.grids ?? [], villages: request.villages ?? [], towns: request.towns ?? [])
            let expiry = try request.expires.map { try TokenExpiry.parse($0) }
            let token = Tokens.generate()
            let shownName = name.isEmpty ? role.rawValue : name
            let id = try store.createToken(name: shownName, role: role, grids: scope.grids, villages: scope.villages,
                                           towns: scope.towns, expiresAt: expiry, hash: Tokens.hash(token))
            return CreatedToken(id: id, token: token, name: shownName, role: role.rawValue, scope: scope,
                                expires: expiry.map(GridStore.timestamp))
        }
    }

    /// Every token (never its value): role, scope, expiry and status.
    public func tokenList() throws -> [TokenSummary] {
        try translatingErrors { try store.tokens(now: Date()) }
    }

    /// Revokes a token. This process refuses it from the next request; other servers
    /// on the database within the cache's lifetime (5 s), or at once when told (PostGIS NOTIFY);
    /// a server that cannot reach the database meanwhile, once it can (`TokenCache.outageGrace`).
    public func revokeToken(id: Int64) throws {
        guard try translatingErrors({ try store.revokeToken(id: id) }) else {
            throw WanggeError.notFound(tr("no active token \(id)"), field: "id", value: String(id))
        }
        tokens.forget(tokenID: id)
    }
}

/// One entry of the audit log: who read personal data, where, how much.
public struct AuditEntry: Sendable, Encodable {
    public let at: String, caller: String, role: String, action: String, grid: String?, records: Int
}

extension GridService {
    /// How many audit entries one read may ask for (the API's `limit`, the command line's `--limit`).
    public static let auditLogLimits = 1...10_000

    /// The latest reads of personal data, newest first.
    public func auditLog(limit: Int = 100) throws -> [AuditEntry] {
        try translatingErrors { try store.auditLog(limit: limit) }.map {
            AuditEntry(at: $0.at, caller: $0.caller, role: $0.role, action: $0.action, grid: $0.grid, records: $0.records)
        }
    }
}
