import Foundation
import GRDB
import GridCore

/// The configuration kept in the database for every process on it (`wangge config push`):
/// its latest change. Versions only grow, so a process tells a change by the number alone.
public struct StoredConfiguration: Sendable, Equatable {
    public let version: Int64
    /// When it was stored or cleared, in the stored form (UTC ISO 8601).
    public let storedAt: String
    /// The YAML as pushed; nil when this change cleared it (processes follow their files again).
    public let text: String?

    public init(version: Int64, storedAt: String, text: String?) {
        self.version = version
        self.storedAt = storedAt
        self.text = text
    }
}

// The stored configuration on SpatiaLite (a table in the file). Processes on the
// file find a change by their periodic check, a one-row read.
extension GridStore {
    public func storedConfiguration() throws -> StoredConfiguration? {
        try database.pool.read { db in try Self.latestConfiguration(db) }
    }

    public func storeConfiguration(_ text: String, at now: Date) throws -> StoredConfiguration {
        try writeConfiguration(text, at: now)!
    }

    public func clearConfiguration(at now: Date) throws -> StoredConfiguration? {
        try writeConfiguration(nil, at: now)
    }

    /// `text` (nil: cleared) as the next version, in one transaction; clearing when nothing is stored writes nothing.
    private func writeConfiguration(_ text: String?, at now: Date) throws -> StoredConfiguration? {
        try database.pool.write { db in
            if text == nil, try Self.latestConfiguration(db)?.text == nil { return nil }
            try db.execute(sql: "DELETE FROM stored_configuration")
            try db.execute(sql: "INSERT INTO stored_configuration (stored_at, text) VALUES (?, ?)", arguments: [Self.timestamp(now), text])
            return try Self.latestConfiguration(db)
        }
    }

    static func latestConfiguration(_ db: Database) throws -> StoredConfiguration? {
        try Row.fetchOne(db, sql: "SELECT version, stored_at, text FROM stored_configuration ORDER BY version DESC LIMIT 1").map {
            StoredConfiguration(version: $0["version"], storedAt: $0["stored_at"], text: $0["text"])
        }
    }
}
