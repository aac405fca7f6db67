import Foundation
import GRDB
import GridCore
import Localization

/// What a backup holds, read from the file itself once it passed SQLite's integrity check.
public struct BackupContents: Sendable {
    /// The schema steps it has run, oldest first.
    public let schemaSteps: [String]
    /// The active generation's grids, and the points.
    public let grids: Int, households: Int, cameras: Int, incidents: Int
}

/// A copy of the database made by `SpatiaLiteDatabase.backup`, as checked after it was made.
public struct DatabaseBackup: Sendable {
    public let source: String
    public let destination: String
    public let bytes: Int64
    public let seconds: Double
    /// What the copy holds (all the schema steps this build knows: the source was brought up to date when it was opened).
    public let contents: BackupContents
    /// Older backups of the database removed from the folder (`keeping`), oldest first.
    public let removed: [String]
}

/// An advisory lock (`flock`) on a database file: shared by every process
/// that has the database open (a server, an import), exclusive while
/// `restore` replaces it. SQLite's own locks are POSIX record locks, which on
/// Linux are apart from `flock`'s, so the two never meet. Released when freed.
final class DatabaseUseLock: Sendable {
    private let descriptor: Int32

    /// Holds nothing when there is no file (nothing to restore over, or to be in use).
    init(path: String, exclusive: Bool) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { self.descriptor = -1; return }
            throw WanggeError.invalid(tr("cannot open \(path): \(String(cString: strerror(errno)))"))
        }
        guard flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            close(descriptor)
            if !busy { throw WanggeError.invalid(tr("cannot lock \(path): \(reason)")) }
            throw exclusive
                ? WanggeError(.conflict, tr("\(path) is open in another wangge process (a server, an import): stop it, then restore"))
                : WanggeError(.unavailable, tr("\(path) is being restored from a backup: try again in a moment"))
        }
        self.descriptor = descriptor
    }

    deinit { if descriptor >= 0 { close(descriptor) } }
}

/// What `SpatiaLiteDatabase.restore` put in place.
public struct RestoredDatabase: Sendable {
    public let backup: String
    public let target: String
    /// Where the database it replaced now is (nil: there was none).
    public let setAside: String?
    /// What the backup held (opening it then ran any schema step this build adds).
    public let contents: BackupContents
}

extension SpatiaLiteDatabase {
    /// Copies the database to `destination` while servers and imports go on
    /// using it. A plain file copy of a database in WAL mode can miss what
    /// is still in the -wal file, or catch an import half written; SQLite's
    /// online backup copies every page within one read transaction, so the
    /// copy is the database as one moment left it, and no writer waits.
    ///
    /// The copy is made beside the destination under a temporary name,
    /// checked (SQLite's integrity check, with SpatiaLite loaded, and the
    /// counts it reports read from the copy itself), and only then renamed
    /// to `destination`: a failed or interrupted backup leaves no file that
    /// looks like a backup.
    ///
    /// - Parameter destination: the file to write; a folder (one that exists,
    ///   or a path ending in "/") gets a file named after the database and the
    ///   time, China's, to the second: wangge-2026-11-28-101630.sqlite.
    /// - Parameter keeping: with a folder, once the copy is in place, only
    ///   this many of the database's backups named so stay in it, the newest
    ///   (a nightly backup then never fills the disk); nil keeps them all.
    public func backup(to destination: String, replacing: Bool, keeping: Int? = nil, at now: Date = Date()) throws -> DatabaseBackup {
        let started = Date()
        var target = URL(fileURLWithPath: destination).standardizedFileURL
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: target.path, isDirectory: &isFolder)
        let intoFolder = destination.hasSuffix("/") || (exists && isFolder.boolValue)
        if intoFolder {
            target = URL(fileURLWithPath: destination, isDirectory: true).appendingPathComponent(Self.backupName(of: path, at: now))
        }
        if let keeping {
            guard intoFolder else { throw WanggeError.invalid(tr("--keep works with a folder, where backups are named by their time: give one"), field: "keep") }
            guard keeping >= 1 else { throw WanggeError.invalid(tr("--keep must be 1 or more"), field: "keep") }
        }
        if Self.sameFile(target.path, path) {
            throw WanggeError.invalid(tr("\(target.path) is the database itself: name another file"))
        }
        if FileManager.default.fileExists(atPath: target.path) && !replacing {
            throw WanggeError(.conflict, tr("\(target.path) already exists (--force replaces it)"))
        }
        let folder = target.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw WanggeError.invalid(tr("cannot make the folder \(folder.path): \(error.localizedDescription)"))
        }
        let partial = folder.appendingPathComponent(".\(target.lastPathComponent).part-\(getpid())").path
        Self.removeDatabaseFiles(partial)
        defer { Self.removeDatabaseFiles(partial) }
        do {
            let copy = try DatabaseQueue(path: partial)
            try pool.backup(to: copy)
            // One self-contained file, as a backup should be: the copy has the
            // database's WAL mode, and reading it would leave -wal and -shm files beside it.
            try copy.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = DELETE") }
            try copy.close()
        } catch let error as DatabaseError {
            throw WanggeError.invalid(tr("cannot write \(target.path): \(error.message ?? error.description)"))
        }
        // Households' names, phone and ID numbers: readable by the owner only, whatever the umask.
        guard chmod(partial, 0o600) == 0 else {
            throw WanggeError.invalid(tr("cannot write \(target.path): \(String(cString: strerror(errno)))"))
        }
        let contents = try Self.check(copyAt: partial, naming: target.path)
        guard rename(partial, target.path) == 0 else {
            throw WanggeError.invalid(tr("cannot move the copy to \(target.path): \(String(cString: strerror(errno)))"))
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: target.path)[.size] as? NSNumber)?.int64Value ?? 0
        let removed = try keeping.map { try Self.pruneBackups(of: path, in: target.deletingLastPathComponent().path, keeping: $0) } ?? []
        return DatabaseBackup(source: path, destination: target.path, bytes: bytes, seconds: Date().timeIntervalSince(started),
                              contents: contents, removed: removed)
    }

    /// Removes all but the newest `keeping` backups of `database` in `folder`:
    /// files named as `backupName` names them (the time in the name orders
    /// them), nothing else. Returns the paths removed, oldest first.
    static func pruneBackups(of database: String, in folder: String, keeping: Int) throws -> [String] {
        let base = NSRegularExpression.escapedPattern(for: backupBase(of: database))
        let pattern = try Regex("^\(base)-\\d{4}-\\d{2}-\\d{2}-\\d{6}\\.sqlite$")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.wholeMatch(of: pattern) != nil }.sorted()
        return try names.dropLast(keeping).map { name in
            let file = URL(fileURLWithPath: folder).appendingPathComponent(name).path
            guard unlink(file) == 0 else {
                throw WanggeError.invalid(tr("cannot remove the old backup \(file): \(String(cString: strerror(errno)))"))
            }
            return file
        }
    }

    /// Puts a backup in the place of the database at `target`, which no
    /// wangge process may have open (`DatabaseUseLock`). The backup is
    /// checked first (integrity, and not made by a newer wangge) and copied
    /// beside the database; then the database, with its -wal file, is moved
    /// aside, not deleted (`RestoredDatabase.setAside`), so a restore of the
    /// wrong file can be undone, and the copy takes its name. The restored
    /// database is then opened, which brings a backup made by an older
    /// wangge up to date.
    public static func restore(backup: String, into target: String, at now: Date = Date()) throws -> RestoredDatabase {
        guard FileManager.default.fileExists(atPath: backup) else { throw WanggeError.notFound(tr("no backup at \(backup)")) }
        if sameFile(backup, target) { throw WanggeError.invalid(tr("\(backup) is the database itself: name the backup to restore")) }
        let contents = try check(copyAt: backup, naming: backup)
        let unknown = contents.schemaSteps.filter { !knownMigrations.contains($0) }
        guard unknown.isEmpty else {
            throw WanggeError.refused(tr("\(backup) was made by a newer wangge (schema steps \(unknown.joined(separator: ", "))): restore it with that version"))
        }
        // The copy is made beside the database under a temporary name, then swapped in.
        let place = URL(fileURLWithPath: target).standardizedFileURL
        let partial = place.deletingLastPathComponent().appendingPathComponent(".\(place.lastPathComponent).restoring-\(getpid())").path
        removeDatabaseFiles(partial)
        defer { removeDatabaseFiles(partial) }
        do {
            var readOnly = Configuration()
            readOnly.readonly = true
            let source = try DatabaseQueue(path: backup, configuration: readOnly)
            let restored = try DatabaseQueue(path: partial)
            try source.backup(to: restored)
            try restored.close()
            try source.close()
        } catch {
            let reason = (error as? DatabaseError).map { $0.message ?? $0.description } ?? "\(error)"
            throw WanggeError.invalid(tr("cannot write \(target): \(reason)"))
        }
        // The restored file is as open as the one it replaces (a backup is the owner's only).
        var replaced = stat()
        if stat(target, &replaced) == 0, chmod(partial, replaced.st_mode & 0o777) != 0 {
            throw WanggeError.invalid(tr("cannot write \(target): \(String(cString: strerror(errno)))"))
        }
        // Held through the swap: no wangge process may have the database open meanwhile.
        let exclusive = try DatabaseUseLock(path: target, exclusive: true)
        let aside = "\(target).before-restore-\(stamp(now))"
        let hadDatabase = FileManager.default.fileExists(atPath: target)
        // The -wal file goes with its database (SQLite finds it by name); the -shm is rebuilt from it.
        let moved = ["", "-wal"].filter { FileManager.default.fileExists(atPath: target + $0) }
        // A failed swap: the database's files go back where they were, or the error says where they are.
        func failed(_ what: Localized, _ code: Int32) -> WanggeError {
            let reason = String(cString: strerror(code))
            let back = moved.allSatisfy { !FileManager.default.fileExists(atPath: aside + $0) || rename(aside + $0, target + $0) == 0 }
            return WanggeError.invalid(back ? tr("\(what): \(reason)") : tr("\(what): \(reason); the database it held is still at \(aside)"))
        }
        for suffix in moved where rename(target + suffix, aside + suffix) != 0 {
            let code = errno
            throw failed(tr("cannot move \(target + suffix) aside"), code)
        }
        if hadDatabase { unlink(target + "-shm") }  // absent when SQLite closed cleanly
        guard rename(partial, target) == 0 else {
            let code = errno
            throw failed(tr("cannot write \(target)"), code)
        }
        withExtendedLifetime(exclusive) {}
        // Opening migrates an older backup; the counts are the backup's, checked above.
        _ = try SpatiaLiteDatabase(path: target, create: false)
        return RestoredDatabase(backup: backup, target: target, setAside: hadDatabase ? aside : nil, contents: contents)
    }

    /// Opens a backup read-only with SpatiaLite loaded (its spatial indexes are
    /// virtual tables), runs SQLite's integrity check and counts its rows.
    static func check(copyAt path: String, naming shown: String) throws -> BackupContents {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.prepareDatabase(loadSpatiaLite)
        do {
            let copy = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? copy.close() }
            return try copy.read { db in
                let problems = try String.fetchAll(db, sql: "PRAGMA integrity_check(20)")
                guard problems == ["ok"] else {
                    throw WanggeError.invalid(tr("\(shown) fails SQLite's integrity check: \(problems.joined(separator: "; "))"))
                }
                func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
                return BackupContents(
                    schemaSteps: try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid"),
                    grids: try count("SELECT count(*) FROM grids WHERE generation_id = (SELECT id FROM generations WHERE status = 'active')"),
                    households: try count("SELECT count(*) FROM households"), cameras: try count("SELECT count(*) FROM cameras"),
                    incidents: try count("SELECT count(*) FROM incidents"))
            }
        } catch let error as DatabaseError {
            throw WanggeError.invalid(tr("cannot read \(shown): \(error.message ?? error.description)"))
        }
    }

    /// A backup's name in a folder: the database's, then the time.
    static func backupName(of database: String, at time: Date) -> String {
        "\(backupBase(of: database))-\(stamp(time)).sqlite"
    }

    /// The database's file name without its extension.
    static func backupBase(of database: String) -> String {
        let base = (((database as NSString).lastPathComponent) as NSString).deletingPathExtension
        return base.isEmpty ? "wangge" : base
    }

    /// The time in China to the second, for file names: 2026-11-28-101630.
    static func stamp(_ time: Date) -> String {
        let shown = TimePolicy.standard.displayed(time)  // 2026-11-28T10:16:30+08:00
        return "\(shown.prefix(10))-\(shown.dropFirst(11).prefix(8).filter(\.isNumber))"
    }

    /// Whether two paths name one file (the same device and inode), whatever links or spellings lead there.
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var first = stat(), second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }

    /// A database file and the WAL and shared-memory files SQLite keeps beside it
    /// (most are absent: unlink's failure is the usual case, not an error).
    static func removeDatabaseFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }
}
