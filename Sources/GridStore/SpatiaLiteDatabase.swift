import CSpatiaLite
import Foundation
import GRDB
import GeoKit
import GridCore

/// An error of the store, for the user: names the file, line or field.
public struct StoreError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The SpatiaLite file: one `DatabasePool` (WAL, concurrent readers), with
/// mod_spatialite loaded into every connection and the schema migrated.
/// The spatial layers are registered with `AddGeometryColumn` and have
/// spatial indexes, so the `spatialite` CLI and QGIS see them as layers.
public final class SpatiaLiteDatabase: Sendable {
    public let path: String
    public let pool: DatabasePool

    /// Opens the file; creates it (and its folder) only when `create` is set,
    /// so that a mistyped path is an error rather than a new empty database.
    /// `busyTimeout`: how long a write waits for another process's write (an import) before failing as busy.
    public init(path: String, create: Bool = true, busyTimeout: TimeInterval = 10) throws {
        self.path = path
        guard create || FileManager.default.fileExists(atPath: path) else {
            throw StoreError("no database at \(path) (check --db or `database` in the configuration; `wangge import grids` creates one)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if create, !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            guard let connection = db.sqliteConnection else { throw StoreError("no SQLite connection") }
            var message: UnsafeMutablePointer<CChar>?
            let status = wangge_load_spatialite(connection, &message)
            defer { if let message { sqlite3_free(message) } }
            guard status == SQLITE_OK else {
                let detail = message.map { String(cString: $0) } ?? "SQLite error \(status)"
                throw StoreError("cannot load the SpatiaLite extension mod_spatialite (install libsqlite3-mod-spatialite): \(detail)")
            }
            // Loading mod_spatialite sets a busy timeout of its own (5 s): ours again.
            let milliseconds = Int32(clamping: Int((busyTimeout * 1000).rounded()))
            guard sqlite3_busy_timeout(connection, milliseconds) == SQLITE_OK else { throw StoreError("cannot set the busy timeout") }
        }
        configuration.busyMode = .timeout(busyTimeout)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch let error as DatabaseError {
            throw StoreError("\(path): cannot open the database: \(error.message ?? error.description)")
        }
        try Self.migrator.migrate(pool)
    }

    /// Whether an error is SQLite's "database is locked": another process held
    /// the write lock for longer than the busy timeout. Trying later can succeed.
    public static func isBusy(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
    }

    /// The SpatiaLite version the connections run.
    public func spatialiteVersion() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT spatialite_version()") ?? "?" }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("spatial-metadata") { db in
            // The 0 form: the migration's own transaction covers it.
            try requireOne(db, "SELECT InitSpatialMetadata(0)", what: "InitSpatialMetadata")
        }
        migrator.registerMigration("hierarchy-and-points") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE generations (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('draft', 'active', 'retired')),
                    source TEXT,
                    created_at TEXT NOT NULL,
                    activated_at TEXT);
                CREATE UNIQUE INDEX generations_one_active ON generations(status) WHERE status = 'active';
                CREATE TABLE towns (
                    id INTEGER PRIMARY KEY,
                    generation_id INTEGER NOT NULL REFERENCES generations(id),
                    code TEXT NOT NULL, name TEXT NOT NULL,
                    UNIQUE (generation_id, code));
                CREATE TABLE villages (
                    id INTEGER PRIMARY KEY,
                    generation_id INTEGER NOT NULL REFERENCES generations(id),
                    code TEXT NOT NULL, name TEXT NOT NULL, town_code TEXT NOT NULL,
                    UNIQUE (generation_id, code));
                CREATE TABLE grids (
                    id INTEGER PRIMARY KEY,
                    generation_id INTEGER NOT NULL REFERENCES generations(id),
                    code TEXT NOT NULL, name TEXT NOT NULL,
                    village_code TEXT NOT NULL, town_code TEXT NOT NULL,
                    worker_name TEXT, worker_phone TEXT,
                    area_m2 REAL NOT NULL,
                    UNIQUE (generation_id, code));
                CREATE TABLE households (
                    id TEXT PRIMARY KEY,
                    address TEXT, head TEXT, phone TEXT, id_number TEXT,
                    members INTEGER NOT NULL DEFAULT 1 CHECK (members >= 0),
                    tags TEXT NOT NULL DEFAULT '',
                    source_crs TEXT NOT NULL, source_x REAL NOT NULL, source_y REAL NOT NULL);
                CREATE TABLE cameras (
                    id TEXT PRIMARY KEY,
                    type TEXT, name TEXT,
                    heading_deg REAL, fov_deg REAL, range_m REAL,
                    status TEXT NOT NULL DEFAULT 'online',
                    source_crs TEXT NOT NULL, source_x REAL NOT NULL, source_y REAL NOT NULL);
                CREATE TABLE incidents (
                    id TEXT PRIMARY KEY,
                    category TEXT, channel TEXT, severity TEXT,
                    status TEXT NOT NULL DEFAULT 'reported',
                    reported_at TEXT, description TEXT, reporter TEXT, satisfaction INTEGER,
                    source_crs TEXT NOT NULL, source_x REAL NOT NULL, source_y REAL NOT NULL);
                -- One row per point and generation: history survives a redraw.
                CREATE TABLE assignments (
                    generation_id INTEGER NOT NULL REFERENCES generations(id),
                    layer TEXT NOT NULL CHECK (layer IN ('household', 'camera', 'incident')),
                    feature_id TEXT NOT NULL,
                    grid_code TEXT,
                    method TEXT NOT NULL CHECK (method IN ('inside', 'boundary', 'nearest', 'none')),
                    distance_m REAL,
                    runner_up TEXT,
                    runner_up_distance_m REAL,
                    nearest_grid TEXT,
                    PRIMARY KEY (generation_id, layer, feature_id)) WITHOUT ROWID;
                CREATE INDEX assignments_by_grid ON assignments(generation_id, grid_code, layer);
                """)
            for table in ["towns", "villages", "grids"] {
                try requireOne(db, "SELECT AddGeometryColumn('\(table)', 'geom', 4326, 'MULTIPOLYGON', 'XY', 1)", what: "AddGeometryColumn(\(table))")
                try requireOne(db, "SELECT CreateSpatialIndex('\(table)', 'geom')", what: "CreateSpatialIndex(\(table))")
            }
            for table in ["households", "cameras", "incidents"] {
                try requireOne(db, "SELECT AddGeometryColumn('\(table)', 'geom', 4326, 'POINT', 'XY', 1)", what: "AddGeometryColumn(\(table))")
                try requireOne(db, "SELECT CreateSpatialIndex('\(table)', 'geom')", what: "CreateSpatialIndex(\(table))")
            }
        }
        registerAccessMigrations(&migrator)
        registerIncidentMigrations(&migrator)
        registerIncidentLifecycleMigrations(&migrator)
        registerPlanningMigrations(&migrator)
        registerPrivacyMigrations(&migrator)
        return migrator
    }

    /// SpatiaLite's administrative functions report failure as 0, not as an SQL error.
    static func requireOne(_ db: Database, _ sql: String, what: String) throws {
        let result = try Int.fetchOne(db, sql: sql)
        guard result == 1 else { throw StoreError("\(what) failed (returned \(result.map(String.init) ?? "NULL"))") }
    }
}
