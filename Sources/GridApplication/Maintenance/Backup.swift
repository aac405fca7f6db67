import Foundation
import GridCore
import GridStore
import Localization

extension GridService {
    /// A checked copy of the database, made while servers and imports go on
    /// using it (see `SpatiaLiteDatabase.backup`). A PostGIS database is
    /// backed up with PostgreSQL's own tools, which know its roles, its
    /// standbys and its write-ahead log.
    public func backup(to destination: String, replacing: Bool, keeping: Int? = nil) throws -> DatabaseBackup {
        guard let spatialite = store as? GridStore else { throw Self.postGISBackup }
        return try translatingErrors { try spatialite.database.backup(to: destination, replacing: replacing, keeping: keeping) }
    }

    /// Refuses a PostGIS database before connecting to it (a backup is often taken when something is wrong).
    public static func requireBackupSupported(database: String) throws {
        if PostgresURL.isPostgres(database) { throw postGISBackup }
    }

    static let postGISBackup = WanggeError.refused(tr("a PostGIS database is backed up with PostgreSQL's tools: pg_dump -Fc (one database) or pg_basebackup (the whole cluster, for point-in-time recovery)"))
}

extension GridService {
    /// Puts a backup in the place of the SpatiaLite database at `target`
    /// (see `SpatiaLiteDatabase.restore`), without opening it first: a
    /// database is often restored because it no longer opens.
    public static func restore(backup: String, into target: String) throws -> RestoredDatabase {
        guard !PostgresURL.isPostgres(target) else {
            throw WanggeError.refused(tr("a PostGIS database is restored with PostgreSQL's tools: pg_restore (from pg_dump -Fc) or the cluster's base backup"))
        }
        return try SpatiaLiteDatabase.restore(backup: backup, into: target)
    }
}
