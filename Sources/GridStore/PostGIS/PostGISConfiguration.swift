import Foundation
import GridCore

// The stored configuration on PostgreSQL, as `GridStore`'s; a change is announced
// (`configured <version>`) in its own transaction, so every server hears of it at its commit.
extension PostGISStore {
    public func storedConfiguration() throws -> StoredConfiguration? {
        try read { connection in try Self.latestConfiguration(connection) }
    }

    public func storeConfiguration(_ text: String, at now: Date) throws -> StoredConfiguration {
        try writeConfiguration(text, at: now)!
    }

    public func clearConfiguration(at now: Date) throws -> StoredConfiguration? {
        try writeConfiguration(nil, at: now)
    }

    private func writeConfiguration(_ text: String?, at now: Date) throws -> StoredConfiguration? {
        try database.write { connection in
            // One change at a time: versions commit in their order, and a clear sees the latest push.
            try connection.execute("LOCK TABLE stored_configuration IN SHARE ROW EXCLUSIVE MODE")
            if text == nil, try Self.latestConfiguration(connection)?.text == nil { return nil }
            try connection.execute("DELETE FROM stored_configuration")
            let version = try connection.query("INSERT INTO stored_configuration (stored_at, text) VALUES ($1, $2) RETURNING version",
                                               [.text(GridStore.timestamp(now)), .optional(text)]).int64(0, "version") ?? 0
            try connection.query("SELECT pg_notify('wangge', $1)", [.text("configured \(version)")])
            return try Self.latestConfiguration(connection)
        }
    }

    static func latestConfiguration(_ connection: PostgresConnection) throws -> StoredConfiguration? {
        let rows = try connection.query("SELECT version, stored_at, text FROM stored_configuration ORDER BY version DESC LIMIT 1")
        guard rows.count == 1, let version = rows.int64(0, "version") else { return nil }
        return StoredConfiguration(version: version, storedAt: rows.text(0, "stored_at"), text: rows.string(0, "text"))
    }
}
