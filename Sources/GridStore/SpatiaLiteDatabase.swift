import CSpatiaLite
import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

/// The SpatiaLite file: one `DatabasePool` (WAL, concurrent readers), with
/// mod_spatialite loaded into every connection and the schema migrated.
/// The spatial layers are registered with `AddGeometryColumn` and have
/// spatial indexes, so the `spatialite` CLI and QGIS see them as layers.
public final class SpatiaLiteDatabase: Sendable {
    public let path: String
    public let pool: DatabasePool
    /// A shared `flock` on the file for as long as this is open, so that `restore` can tell the database is in use.
    private let inUse: DatabaseUseLock

    /// Opens the file; creates it (and its folder) only when `create` is set,
    /// so that a mistyped path is an error rather than a new empty database.
    /// `busyTimeout`: how long a write waits for another process's write (an import) before failing as busy.
    public init(path: String, create: Bool = true, busyTimeout: TimeInterval = 10) throws {
        Self.configureSQLite
        self.path = path
        guard create || FileManager.default.fileExists(atPath: path) else {
            throw WanggeError.notFound(tr("no database at \(path) (check the path, or `database` in the configuration; importing grids creates one)"))
        }
        let directory = (path as NSString).deletingLastPathComponent
        if create, !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        if create { try Self.createPrivately(path) }
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try Self.loadSpatiaLite(db)
            // Loading mod_spatialite sets a busy timeout of its own (5 s): ours again.
            let milliseconds = Int32(clamping: Int((busyTimeout * 1000).rounded()))
            guard let connection = db.sqliteConnection, sqlite3_busy_timeout(connection, milliseconds) == SQLITE_OK else {
                throw WanggeError.invalid(tr("cannot set the busy timeout"))
            }
            // Pages read through a memory map instead of a copy per read (pread): the OGC items
            // of a busy map spent a quarter of their time copying the same pages. Where SQLite
            // was built without memory maps the pragma answers 0 and reads stay as they were.
            try db.execute(sql: "PRAGMA mmap_size = \(Self.memoryMapBytes)")
            // Statement journals (the undo of one multi-row INSERT inside an import's transaction)
            // and temporary sorts in memory: in a temporary file they cost a system call per page,
            // 580,000 of them for the sample county's 216,000 households. Set before any transaction
            // begins, which is when SQLite decides where a transaction's statement journals go.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        configuration.busyMode = .timeout(busyTimeout)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch let error as DatabaseError {
            throw WanggeError.invalid(tr("\(path): cannot open the database: \(error.message ?? error.description)"))
        }
        // Once the file exists (SQLite makes a new one).
        inUse = try DatabaseUseLock(path: path, exclusive: false)
        try Self.migrator.migrate(pool)
    }

    /// A new database file readable by its owner only, whatever the umask: it
    /// will hold households' names, phone and ID numbers. SQLite gives its
    /// -wal and -shm files the database file's permissions. An existing file
    /// is left as it is (its owner may have opened it to a group).
    static func createPrivately(_ path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            // The umask may have taken bits the mode did not have to give: set exactly.
            let made = fchmod(descriptor, 0o600) == 0
            close(descriptor)
            if made { return }
        } else if errno == EEXIST {
            return
        }
        throw WanggeError.invalid(tr("cannot create \(path): \(String(cString: strerror(errno)))"))
    }

    /// Process-wide SQLite settings, made once before the first connection opens.
    /// Without memory statistics an import's inserts take no global mutex per allocation
    /// (3.7% of the 216,000-household import's main thread was that mutex). SQLITE_MISUSE
    /// means SQLite was already running (another library opened a database first): the
    /// default then stays, which costs only that time.
    static let configureSQLite: Void = {
        let status = wangge_sqlite_stop_counting_memory()
        assert(status == SQLITE_OK || status == SQLITE_MISUSE, "sqlite3_config(SQLITE_CONFIG_MEMSTATUS) answered \(status)")
    }()

    /// How much of the file each connection maps: a county's database is tens of megabytes
    /// (the sample county with 216,000 households: 88 MB), a province's a few gigabytes (the
    /// rest is read as before). Address space only: the pages are the kernel's page cache, shared.
    static let memoryMapBytes = 1 << 30

    /// Whether an error is SQLite's "database is locked": another process held
    /// the write lock for longer than the busy timeout. Trying later can succeed.
    public static func isBusy(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
    }

    /// Loads mod_spatialite into a connection (see `wangge_load_spatialite`).
    static func loadSpatiaLite(_ db: Database) throws {
        guard let connection = db.sqliteConnection else { throw WanggeError.notFound(tr("no SQLite connection")) }
        var message: UnsafeMutablePointer<CChar>?
        let status = wangge_load_spatialite(connection, &message)
        defer { if let message { sqlite3_free(message) } }
        guard status == SQLITE_OK else {
            let detail = message.map { String(cString: $0) } ?? "SQLite error \(status)"
            throw WanggeError.invalid(tr("cannot load the SpatiaLite extension mod_spatialite (install libsqlite3-mod-spatialite): \(detail)"))
        }
    }

    /// The schema steps this build knows, oldest first (a database made by it has run them all).
    public static var knownMigrations: [String] { migrator.migrations }

    /// The schema steps a database has run, read without opening it for writing (and so without migrating it).
    public static func appliedMigrations(path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { throw WanggeError.notFound(tr("no database at \(path)")) }
        var configuration = Configuration()
        configuration.readonly = true
        do {
            return try DatabaseQueue(path: path, configuration: configuration).read { db in
                guard try db.tableExists("grdb_migrations") else { return [] }
                return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
            }
        } catch let error as DatabaseError {
            throw WanggeError.invalid(tr("\(path): cannot read the database: \(error.message ?? error.description)"))
        }
    }

    /// SQLite's and SpatiaLite's versions as this process loads them, from a connection in memory.
    public static func libraryVersions() throws -> (sqlite: String, spatialite: String) {
        var configuration = Configuration()
        configuration.prepareDatabase(Self.loadSpatiaLite)
        return try DatabaseQueue(configuration: configuration).read { db in
            (try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "?", try String.fetchOne(db, sql: "SELECT spatialite_version()") ?? "?")
        }
    }

    /// The SpatiaLite version the connections run.
    public func spatialiteVersion() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT spatialite_version()") ?? "?" }
    }
}
