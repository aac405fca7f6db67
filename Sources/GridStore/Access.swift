import Foundation
import GRDB
import GridCore
import Localization

/// Who may do and see what; which personal fields each role sees is the
/// `PrivacyPolicy` (the `privacy:` section of the configuration).
public enum Role: String, Sendable, Codable, CaseIterable {
    case admin, planner, dispatcher
    case gridWorker = "grid_worker"
    case viewer
}

/// The caller behind a bearer token.
public struct Caller: Sendable, Equatable {
    public var tokenID: Int64
    public var name: String
    public var role: Role
    /// For grid workers: the grids they serve in the active generation (those
    /// named, and those under the villages and towns named).
    public var grids: Set<String>
    /// When the token stops being accepted (nil: never).
    public var expiresAt: Date?

    public init(tokenID: Int64, name: String, role: Role, grids: Set<String>, expiresAt: Date? = nil) {
        self.tokenID = tokenID
        self.name = name
        self.role = role
        self.grids = grids
        self.expiresAt = expiresAt
    }
}

/// Masks personal data the way the centre prints it: 张*, 138****1234, 4309**********1234.
public enum Mask {
    public static func name(_ s: String?) -> String? {
        guard let s, let first = s.first else { return s }
        return String(first) + String(repeating: "*", count: max(1, s.count - 1))
    }

    public static func phone(_ s: String?) -> String? {
        guard let s else { return nil }
        let c = Array(s)
        guard c.count >= 7 else { return String(repeating: "*", count: c.count) }
        return String(c.prefix(3)) + String(repeating: "*", count: c.count - 7) + String(c.suffix(4))
    }

    public static func idNumber(_ s: String?) -> String? {
        guard let s else { return nil }
        let c = Array(s)
        guard c.count >= 8 else { return String(repeating: "*", count: c.count) }
        return String(c.prefix(4)) + String(repeating: "*", count: c.count - 8) + String(c.suffix(4))
    }

    /// An address with its numbers starred: the road stays, the house does not (和平路**号).
    public static func address(_ s: String?) -> String? {
        s.map { String($0.map { $0.isNumber ? "*" : $0 }) }
    }

    /// A coordinate rounded to 0.001° (about 100 m): the neighbourhood, not the door.
    public static func coordinate(_ value: Double) -> Double {
        (value * 1000).rounded() / 1000
    }
}

/// What a grid worker's token serves: grid codes (of the active generation,
/// carried over to their successors at every redraw), and villages and towns
/// (all their grids in whatever generation is active).
public struct TokenScope: Sendable, Equatable, Codable {
    public var grids: [String]
    public var villages: [String]
    public var towns: [String]

    public init(grids: [String] = [], villages: [String] = [], towns: [String] = []) {
        self.grids = grids
        self.villages = villages
        self.towns = towns
    }

    public var isEmpty: Bool { grids.isEmpty && villages.isEmpty && towns.isEmpty }

    /// "grids A,B; villages V; towns T", or "" for none.
    public var description: String { text.rendered(in: .en) }

    /// The scope in the reader's words (网格 A,B；村（社区）V).
    public var text: Localized {
        var parts: [Localized] = []
        if !grids.isEmpty { parts.append(tr("grids \(grids.joined(separator: ","))")) }
        if !villages.isEmpty { parts.append(tr("villages \(villages.joined(separator: ","))")) }
        if !towns.isEmpty { parts.append(tr("towns \(towns.joined(separator: ","))")) }
        return .joined(parts, separator: "; ")
    }

    static func codes(_ text: String) -> [String] { text.split(separator: ",").map(String.init) }

    /// Grid workers have a scope; no other role has one.
    func check(for role: Role) throws {
        if role == .gridWorker && isEmpty { throw WanggeError.invalid(tr("a grid_worker token needs grids, villages or towns (codes)")) }
        if role != .gridWorker && !isEmpty { throw WanggeError.invalid(tr("grids, villages and towns are for grid_worker tokens; a \(role.rawValue) is not scoped")) }
    }
}

/// A token as `wangge token list` shows it (never its value).
public struct TokenSummary: Sendable, Encodable {
    public var id: Int64
    public var name: String
    public var role: String
    public var scope: TokenScope
    public var created: String
    public var expires: String?
    public var revoked: String?
    /// active, expired or revoked.
    public var status: String
}

/// How a redraw changed a token's grids, for the activation's report.
public struct TokenScopeChange: Sendable, Equatable, CustomStringConvertible {
    public var id: Int64
    public var name: String
    public var gridsBefore: [String]
    public var gridsAfter: [String]
    /// Villages and towns of the scope that the new generation does not have.
    public var missingAreas: [String]

    public var description: String { text.rendered }

    /// Lines for an activation's or an import's report in a reader's language ("" when no token changed).
    public static func report(_ changes: [TokenScopeChange], in language: Language = .current) -> String {
        changes.isEmpty ? "" : "\n" + tr("tokens re-scoped to the new grids (see `wangge token list`):").rendered(in: language)
            + changes.map { "\n  " + $0.text.rendered(in: language) }.joined()
    }
}

extension TokenScopeChange: LocalizedConvertible {
    public var text: Localized {
        var parts: [Localized] = []
        if gridsAfter.isEmpty && !gridsBefore.isEmpty {
            parts.append(tr("no grid of the new generation overlaps its grids \(gridsBefore.joined(separator: ",")): it keeps those codes, which serve nothing"))
        } else if gridsBefore != gridsAfter {
            parts.append(tr("grids \(gridsBefore.joined(separator: ",")) → \(gridsAfter.joined(separator: ","))"))
        }
        if !missingAreas.isEmpty { parts.append(tr("\(missingAreas.joined(separator: ", ")) no longer exist: those parts of its scope serve nothing")) }
        return .joined([tr("token \(id) \(name): "), .joined(parts, separator: "; ")], separator: "")
    }
}

/// Token expiry as `wangge token create --expires` takes it.
public enum TokenExpiry {
    /// `90d`, `12h`, a day (`2026-12-31`: valid to the end of that day, China time) or an ISO 8601 time.
    public static func parse(_ text: String, now: Date = Date()) throws -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let date: Date
        if let unit = trimmed.last, unit == "d" || unit == "h", let count = Int(trimmed.dropLast()), count > 0 {
            date = now.addingTimeInterval(Double(count) * (unit == "d" ? 86_400 : 3_600))
        } else if trimmed.count == 10, let day = GridStore.parseTime(trimmed) {
            date = day.addingTimeInterval(86_400)
        } else if let time = GridStore.parseTime(trimmed) {
            date = time
        } else {
            throw WanggeError.invalid(tr("expires: \"\(text)\" is not a duration (90d, 12h), a day (2026-12-31) or an ISO 8601 time"))
        }
        guard date > now else { throw WanggeError.invalid(tr("expires: \(text) is already past")) }
        return date
    }
}

extension GridStore {
    /// Stores a token's hash with its role, scope and expiry; returns the token's id.
    public func createToken(name: String, role: Role, grids: [String], villages: [String] = [], towns: [String] = [],
                            expiresAt: Date? = nil, hash: String) throws -> Int64 {
        try TokenScope(grids: grids, villages: villages, towns: towns).check(for: role)
        let generation = try activeGeneration()
        return try database.pool.write { db in
            for (option, table, codes) in [("grids", "grids", grids), ("villages", "villages", villages), ("towns", "towns", towns)] {
                let known = try String.fetchSet(db, sql: "SELECT code FROM \(table) WHERE generation_id = ?", arguments: [generation])
                if let unknown = codes.first(where: { !known.contains($0) }) {
                    throw WanggeError.invalid(tr("\(option): no \(table.dropLast()) \(unknown) in the active generation"))
                }
            }
            try db.execute(sql: "INSERT INTO tokens (name, role, grids, villages, towns, expires_at, hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [name, role.rawValue, grids.joined(separator: ","), villages.joined(separator: ","),
                                       towns.joined(separator: ","), expiresAt.map(Self.timestamp), hash, Self.timestamp(Date())])
            return db.lastInsertedRowID
        }
    }

    /// The caller of a token hash, if the token exists, is not revoked and has not expired;
    /// its villages and towns become the grids under them in the active generation.
    public func caller(tokenHash: String, now: Date = Date()) throws -> Caller? {
        try database.pool.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT id, name, role, grids, villages, towns, expires_at FROM tokens WHERE hash = ? AND revoked_at IS NULL
                """, arguments: [tokenHash]), let role = Role(rawValue: row["role"]) else { return nil }
            let expires = (row["expires_at"] as String?).flatMap(GridStore.parseTime)
            if let expires, expires <= now { return nil }
            var grids = Set(TokenScope.codes(row["grids"]))
            let villages = TokenScope.codes(row["villages"]), towns = TokenScope.codes(row["towns"])
            if !villages.isEmpty || !towns.isEmpty {
                let marks = { (codes: [String]) in codes.isEmpty ? "NULL" : codes.map { _ in "?" }.joined(separator: ", ") }
                grids.formUnion(try String.fetchAll(db, sql: """
                    SELECT code FROM grids WHERE generation_id = (SELECT id FROM generations WHERE status = 'active')
                    AND (village_code IN (\(marks(villages))) OR town_code IN (\(marks(towns))))
                    """, arguments: StatementArguments((villages + towns).map { $0 })))
            }
            return Caller(tokenID: row["id"], name: row["name"], role: role, grids: grids, expiresAt: expires)
        }
    }

    public func revokeToken(id: Int64) throws -> Bool {
        try database.pool.write { db in
            try db.execute(sql: "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                           arguments: [Self.timestamp(Date()), id])
            return db.changesCount > 0
        }
    }

    public func tokens(now: Date = Date()) throws -> [TokenSummary] {
        let nowText = Self.timestamp(now)
        return try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, role, grids, villages, towns, created_at, expires_at, revoked_at FROM tokens ORDER BY id")
                .map { row in
                    let expires: String? = row["expires_at"], revoked: String? = row["revoked_at"]
                    return TokenSummary(id: row["id"], name: row["name"], role: row["role"],
                                        scope: TokenScope(grids: TokenScope.codes(row["grids"]), villages: TokenScope.codes(row["villages"]),
                                                          towns: TokenScope.codes(row["towns"])),
                                        created: row["created_at"], expires: expires, revoked: revoked,
                                        status: revoked != nil ? "revoked" : expires.map { $0 <= nowText } == true ? "expired" : "active")
                }
        }
    }

    /// After a redraw, inside the activation's transaction: each token's grid
    /// codes of the generation that was active become their successors in
    /// `generation` (its grids covering at least 10% of an old grid, or lying
    /// at least half inside one), so that a worker of a split grid keeps all
    /// its parts. Returns the tokens whose grids changed or whose villages or
    /// towns the new generation lacks.
    static func rescopeTokens(_ db: Database, from old: Int64?, to generation: Int64) throws -> [TokenScopeChange] {
        let tokens = try Row.fetchAll(db, sql: "SELECT id, name, grids, villages, towns FROM tokens WHERE revoked_at IS NULL ORDER BY id")
            .map { StoredScope(id: $0["id"], name: $0["name"], grids: $0["grids"], villages: $0["villages"], towns: $0["towns"]) }
        let changes = try rescoped(tokens, from: old, to: generation, successors: { code in
            // Planar areas in degrees: only their ratios matter here.
            try String.fetchAll(db, sql: """
                SELECT n.code FROM grids o JOIN grids n ON n.generation_id = ? AND MbrIntersects(o.geom, n.geom)
                WHERE o.generation_id = ? AND o.code = ?
                AND (Area(Intersection(o.geom, n.geom)) >= 0.1 * Area(o.geom) OR Area(Intersection(o.geom, n.geom)) >= 0.5 * Area(n.geom))
                ORDER BY n.code
                """, arguments: [generation, old, code])
        }, codes: { table in try String.fetchSet(db, sql: "SELECT code FROM \(table) WHERE generation_id = ?", arguments: [generation]) })
        for change in changes where !change.gridsAfter.isEmpty {
            try db.execute(sql: "UPDATE tokens SET grids = ? WHERE id = ?", arguments: [change.gridsAfter.joined(separator: ","), change.id])
        }
        return changes
    }

    /// A token's scope as stored (codes joined by commas).
    struct StoredScope {
        var id: Int64
        var name: String
        var grids: String
        var villages: String
        var towns: String
    }

    /// The rescoping of either store: each token's grids mapped to their `successors`
    /// (asked once per code), and its villages and towns checked against the new
    /// generation's `codes` (by table). The tokens whose scope changed; the caller
    /// stores each change's `gridsAfter` unless it is empty (the old codes then stay).
    static func rescoped(_ tokens: [StoredScope], from old: Int64?, to generation: Int64, successors: (String) throws -> [String],
                         codes: (_ table: String) throws -> Set<String>) throws -> [TokenScopeChange] {
        var changes: [TokenScopeChange] = []
        var known: [String: [String]] = [:]
        func successorsOf(_ code: String) throws -> [String] {
            if let found = known[code] { return found }
            guard let old, old != generation else { return [code] }
            let found = try successors(code)
            known[code] = found
            return found
        }
        for token in tokens {
            let before = TokenScope.codes(token.grids), villages = TokenScope.codes(token.villages), towns = TokenScope.codes(token.towns)
            var after: [String] = []
            for code in before { after += try successorsOf(code).filter { !after.contains($0) } }
            after.sort()
            var missing: [String] = []
            for (kind, table, wanted) in [("village", "villages", villages), ("town", "towns", towns)] where !wanted.isEmpty {
                let present = try codes(table)
                missing += wanted.filter { !present.contains($0) }.map { "\(kind) \($0)" }
            }
            guard after != before.sorted() || !missing.isEmpty else { continue }
            changes.append(TokenScopeChange(id: token.id, name: token.name, gridsBefore: before, gridsAfter: after, missingAreas: missing))
        }
        return changes
    }

    /// Records a read of unmasked personal data.
    public func audit(_ caller: Caller, action: String, grid: String?, records: Int) throws {
        try database.pool.write { db in
            try db.execute(sql: "INSERT INTO audit_log (at, token_id, caller, role, action, grid_code, records) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [Self.timestamp(Date()), caller.tokenID, caller.name, caller.role.rawValue, action, grid, records])
        }
    }

    public func auditLog(limit: Int = 100) throws -> [(at: String, caller: String, role: String, action: String, grid: String?, records: Int)] {
        try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT at, caller, role, action, grid_code, records FROM audit_log ORDER BY id DESC LIMIT ?", arguments: [limit])
                .map { ($0["at"], $0["caller"], $0["role"], $0["action"], $0["grid_code"], $0["records"]) }
        }
    }
}
