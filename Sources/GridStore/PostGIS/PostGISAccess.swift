import Foundation
import GeoKit
import GridCore
import Localization

// Tokens and the audit log on PostgreSQL, with the same checks as `GridStore`'s.
extension PostGISStore {
    public func createToken(name: String, role: Role, grids: [String], villages: [String] = [], towns: [String] = [],
                            expiresAt: Date? = nil, hash: String) throws -> Int64 {
        try TokenScope(grids: grids, villages: villages, towns: towns).check(for: role)
        return try database.write { connection in
            let generation = try Self.activeGeneration(connection)
            for (option, table, codes) in [("grids", "grids", grids), ("villages", "villages", villages), ("towns", "towns", towns)] {
                let rows = try connection.query("SELECT code FROM \(table) WHERE generation_id = $1", [.integer(generation)])
                let known = Set((0..<rows.count).map { rows.text($0, "code") })
                if let unknown = codes.first(where: { !known.contains($0) }) {
                    throw WanggeError.invalid(tr("\(option): no \(table.dropLast()) \(unknown) in the active generation"))
                }
            }
            return try connection.query("""
                INSERT INTO tokens (name, role, grids, villages, towns, expires_at, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
                """, [.text(name), .text(role.rawValue), .text(grids.joined(separator: ",")), .text(villages.joined(separator: ",")),
                      .text(towns.joined(separator: ",")), .optional(expiresAt.map(GridStore.timestamp)), .text(hash),
                      .text(GridStore.timestamp(Date()))]).int64(0, "id") ?? 0
        }
    }

    public func caller(tokenHash: String, now: Date = Date()) throws -> Caller? {
        try read { connection in
            let rows = try connection.query("SELECT id, name, role, grids, villages, towns, expires_at FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
                                            [.text(tokenHash)])
            guard rows.count == 1, let role = Role(rawValue: rows.text(0, "role")) else { return nil }
            let expires = rows.string(0, "expires_at").flatMap(GridStore.parseTime)
            if let expires, expires <= now { return nil }
            var grids = Set(TokenScope.codes(rows.text(0, "grids")))
            let villages = TokenScope.codes(rows.text(0, "villages")), towns = TokenScope.codes(rows.text(0, "towns"))
            if !villages.isEmpty || !towns.isEmpty {
                let under = try connection.query("""
                    SELECT code FROM grids WHERE generation_id = (SELECT id FROM generations WHERE status = 'active')
                    AND (village_code = ANY(string_to_array($1, ',')) OR town_code = ANY(string_to_array($2, ',')))
                    """, [.text(villages.joined(separator: ",")), .text(towns.joined(separator: ","))])
                grids.formUnion((0..<under.count).map { under.text($0, "code") })
            }
            return Caller(tokenID: rows.int64(0, "id") ?? 0, name: rows.text(0, "name"), role: role, grids: grids, expiresAt: expires)
        }
    }

    public func revokeToken(id: Int64) throws -> Bool {
        try database.write { connection in
            let revoked = try connection.query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING id",
                                               [.text(GridStore.timestamp(Date())), .integer(id)]).count > 0
            // Other servers on this database drop the token from their caches at once.
            if revoked { try connection.query("SELECT pg_notify('wangge', $1)", [.text("revoked \(id)")]) }
            return revoked
        }
    }

    public func tokens(now: Date = Date()) throws -> [TokenSummary] {
        let nowText = GridStore.timestamp(now)
        return try read { connection in
            let rows = try connection.query("SELECT id, name, role, grids, villages, towns, created_at, expires_at, revoked_at FROM tokens ORDER BY id")
            return (0..<rows.count).map { r in
                let expires = rows.string(r, "expires_at"), revoked = rows.string(r, "revoked_at")
                return TokenSummary(id: rows.int64(r, "id") ?? 0, name: rows.text(r, "name"), role: rows.text(r, "role"),
                                    scope: TokenScope(grids: TokenScope.codes(rows.text(r, "grids")), villages: TokenScope.codes(rows.text(r, "villages")),
                                                      towns: TokenScope.codes(rows.text(r, "towns"))),
                                    created: rows.text(r, "created_at"), expires: expires, revoked: revoked,
                                    status: revoked != nil ? "revoked" : expires.map { $0 <= nowText } == true ? "expired" : "active")
            }
        }
    }

    public func audit(_ caller: Caller, action: String, grid: String?, records: Int) throws {
        try database.write { connection in
            _ = try connection.query("INSERT INTO audit_log (at, token_id, caller, role, action, grid_code, records) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                 [.text(GridStore.timestamp(Date())), .integer(caller.tokenID), .text(caller.name), .text(caller.role.rawValue),
                                  .text(action), .optional(grid), .integer(Int64(records))])
        }
    }

    public func auditLog(limit: Int = 100) throws -> [(at: String, caller: String, role: String, action: String, grid: String?, records: Int)] {
        try read { connection in
            let rows = try connection.query("SELECT at, caller, role, action, grid_code, records FROM audit_log ORDER BY id DESC LIMIT $1",
                                            [.integer(Int64(limit))])
            return (0..<rows.count).map { r in
                (rows.text(r, "at"), rows.text(r, "caller"), rows.text(r, "role"), rows.text(r, "action"), rows.string(r, "grid_code"), rows.int(r, "records") ?? 0)
            }
        }
    }
}
