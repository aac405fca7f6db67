import ArgumentParser
import Foundation
import GridApplication
import Localization

extension Wangge {
    /// `wangge backup FILE`: the copy a centre keeps each night, made while the server runs.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "backup",
            abstract: tr("Copy the database to a file while the server and imports go on using it, and check the copy.").rendered,
            discussion: tr("A plain copy of the database file (cp, a file-level backup) can miss changes still in its -wal file or catch an import half written. This copies the database as one moment left it, runs SQLite's integrity check on the copy and counts what it holds; a failed backup leaves no file behind. To restore one: wangge restore.").rendered)

        @OptionGroup var store: StoreOptions

        @Argument(help: ArgumentHelp(tr("The file to write (its folder is made if missing), or a folder: the file is then named after the database and the time, e.g. /backup/wangge-2026-11-28-021500.sqlite.").rendered))
        var destination: String

        @Flag(help: ArgumentHelp(tr("Replace the file if it exists.").rendered))
        var force = false

        @Option(help: ArgumentHelp(tr("With a folder: keep only the newest N backups of this database in it, removing older ones once this one is checked.").rendered))
        var keep: Int?

        func run() throws {
            try GridService.requireBackupSupported(database: store.databasePath(try store.loadConfig()))
            let done = try store.openService().backup(to: destination, replacing: force, keeping: keep)
            let megabytes = String(format: "%.1f", Double(done.bytes) / 1_048_576), seconds = String(format: "%.1f", done.seconds)
            print(tr("backed up \(done.source) to \(done.destination) (\(megabytes) MB in \(seconds) s)").rendered)
            let held = done.contents
            print(tr("checked: the copy passes SQLite's integrity check and has all \(held.schemaSteps.count) schema steps; \(held.grids) grids in the active generation, \(held.households) households, \(held.cameras) cameras, \(held.incidents) incidents").rendered)
            for file in done.removed { print(tr("removed the older backup \(file)").rendered) }
        }
    }
}

extension Wangge {
    /// `wangge restore FILE`: a backup put back in the database's place.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "restore",
            abstract: tr("Put a backup in the place of the database (stop wangge serve first).").rendered,
            discussion: tr("The backup is checked first. The database it replaces is moved aside with its -wal file, not deleted (DATABASE.before-restore-TIME), so a wrong restore can be undone; a backup made by an older wangge is brought up to date. Copying the backup over the database file by hand would leave its -wal file behind, which SQLite would then apply to the backup.").rendered)

        @OptionGroup var store: StoreOptions

        @Argument(help: ArgumentHelp(tr("The backup, as `wangge backup` wrote it.").rendered))
        var backup: String

        func run() throws {
            let target = store.databasePath(try store.loadConfig())
            let done = try GridService.restore(backup: backup, into: target)
            let held = done.contents
            print(tr("restored \(done.backup) to \(done.target): \(held.grids) grids in the active generation, \(held.households) households, \(held.cameras) cameras, \(held.incidents) incidents").rendered)
            if let aside = done.setAside { print(tr("the database it replaced is kept at \(aside) (with its -wal file, if it had one)").rendered) }
        }
    }
}
