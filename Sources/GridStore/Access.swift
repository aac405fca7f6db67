import Foundation
import GRDB
import GridCore

/// Who may see what. Personal data (names, phones, ID numbers) is shown in
/// full only to `admin`, and to a `grid_worker` inside its own grids.
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
    /// For grid workers: the grids they serve.
    public var grids: Set<String>

    public init(tokenID: Int64, name: String, role: Role, grids: Set<String>) {
        self.tokenID = tokenID
        self.name = name
        self.role = role
        self.grids = grids
    }

    /// Whether this caller sees unmasked personal data of a grid.
    public func seesPersonalData(inGrid grid: String?) -> Bool {
        switch role {
        case .admin: true
        case .gridWorker: grid.map(grids.contains) ?? false
        case .planner, .dispatcher, .viewer: false
        }
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
}

extension SpatiaLiteDatabase {
    static func registerAccessMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("tokens-and-audit") { db in
            try db.execute(sql: """
                CREATE TABLE tokens (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL CHECK (role IN ('admin', 'planner', 'dispatcher', 'grid_worker', 'viewer')),
                    grids TEXT NOT NULL DEFAULT '',
                    -- SHA-256 of the token, hex: the token itself is never stored.
                    hash TEXT NOT NULL UNIQUE,
                    created_at TEXT NOT NULL,
                    revoked_at TEXT);
                -- Every read of unmasked personal data: who, what, when.
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    token_id INTEGER NOT NULL REFERENCES tokens(id),
                    caller TEXT NOT NULL,
                    role TEXT NOT NULL,
                    action TEXT NOT NULL,
                    grid_code TEXT,
                    records INTEGER NOT NULL);
                CREATE INDEX audit_log_by_time ON audit_log(at);
                """)
        }
    }
}

extension GridStore {
    /// Stores a token's hash with its role and grids; returns the token's id.
    public func createToken(name: String, role: Role, grids: [String], hash: String) throws -> Int64 {
        if role == .gridWorker && grids.isEmpty { throw StoreError("a grid_worker token needs --grids CODE,…") }
        let known = Set(try self.grids().map(\.code))
        if let unknown = grids.first(where: { !known.contains($0) }) {
            throw StoreError("no grid \(unknown) in the active generation")
        }
        return try database.pool.write { db in
            try db.execute(sql: "INSERT INTO tokens (name, role, grids, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [name, role.rawValue, grids.joined(separator: ","), hash, ISO8601DateFormatter().string(from: Date())])
            return db.lastInsertedRowID
        }
    }

    /// The caller of a token hash, if the token exists and is not revoked.
    public func caller(tokenHash: String) throws -> Caller? {
        try database.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT id, name, role, grids FROM tokens WHERE hash = ? AND revoked_at IS NULL", arguments: [tokenHash])
                .flatMap { row in
                    guard let role = Role(rawValue: row[2]) else { return nil }
                    let grids: String = row[3]
                    return Caller(tokenID: row[0], name: row[1], role: role, grids: Set(grids.split(separator: ",").map(String.init)))
                }
        }
    }

    public func revokeToken(id: Int64) throws -> Bool {
        try database.pool.write { db in
            try db.execute(sql: "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                           arguments: [ISO8601DateFormatter().string(from: Date()), id])
            return db.changesCount > 0
        }
    }

    public func tokens() throws -> [(id: Int64, name: String, role: String, grids: String, created: String, revoked: String?)] {
        try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, role, grids, created_at, revoked_at FROM tokens ORDER BY id")
                .map { ($0[0], $0[1], $0[2], $0[3], $0[4], $0[5]) }
        }
    }

    /// Records a read of unmasked personal data.
    public func audit(_ caller: Caller, action: String, grid: String?, records: Int) throws {
        try database.pool.write { db in
            try db.execute(sql: "INSERT INTO audit_log (at, token_id, caller, role, action, grid_code, records) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [ISO8601DateFormatter().string(from: Date()), caller.tokenID, caller.name, caller.role.rawValue, action, grid, records])
        }
    }

    public func auditLog(limit: Int = 100) throws -> [(at: String, caller: String, role: String, action: String, grid: String?, records: Int)] {
        try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT at, caller, role, action, grid_code, records FROM audit_log ORDER BY id DESC LIMIT ?", arguments: [limit])
                .map { ($0[0], $0[1], $0[2], $0[3], $0[4], $0[5]) }
        }
    }
}
