import Foundation
import GRDB
import Synchronization
import Testing
import TestSupport
import GeoKit
import GridCore
import Localization
@testable import GridStore

/// `wangge backup` and `wangge restore` on a SpatiaLite file that others go on writing.
@Suite struct BackupTests {
    static let seat = LonLat(112.355, 28.842)
    static let rules = DispatchRules()

    let t: TemporaryStore
    let folder = Fixtures.temporaryPath("backups")

    init() throws {
        t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
    }

    static func report(_ store: GridStore) throws {
        _ = try store.report(IncidentReport(position: Self.seat, source: (Self.seat.lon, Self.seat.lat, .wgs84), category: "矛盾纠纷",
                                            channel: "12345", severity: nil, description: nil, reporter: "李四", reportedAt: Date()),
                             rules: Self.rules)
    }

    /// Rows of a database file, read on a connection of its own.
    static func counts(_ path: String) throws -> (incidents: Int, reports: Int, grids: Int) {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: path, configuration: configuration).read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM incidents") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM incident_events WHERE action = 'report'") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM grids") ?? -1)
        }
    }

    @Test func aBackupIsOneMomentOfTheDatabaseWhileAnotherProcessWrites() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A write still in the -wal file (no checkpoint since) is in the copy.
        try Self.report(t.store)
        let first = try t.store.database.backup(to: folder + "/first.sqlite", replacing: false)
        #expect(first.contents.incidents == 1 && first.contents.grids == 271 && first.contents.schemaSteps == SpatiaLiteDatabase.knownMigrations)
        #expect(try Self.counts(first.destination).incidents == 1)
        // Reports keep coming on another connection (as a server's would) while backups are made.
        let writer = try GridStore(path: t.path)
        let stop = Atomic(false), written = Atomic(0)
        let thread = try JoinedThread {
            while !stop.load(ordering: .relaxed) {
                try? Self.report(writer)
                written.add(1, ordering: .relaxed)
            }
        }
        var copies: [DatabaseBackup] = []
        for k in 0..<4 {
            copies.append(try t.store.database.backup(to: "\(folder)/during-\(k).sqlite", replacing: false))
        }
        stop.store(true, ordering: .relaxed)
        thread.join()
        #expect(written.load(ordering: .relaxed) > 0)
        for copy in copies {
            // Each report writes its incident and its first event in one transaction: a copy has both or neither.
            let rows = try Self.counts(copy.destination)
            #expect(rows.incidents == copy.contents.incidents && rows.incidents == rows.reports && rows.grids >= 271, "\(copy.destination)")
            // One self-contained file: nothing beside it, and reading it leaves nothing beside it.
            #expect(!FileManager.default.fileExists(atPath: copy.destination + "-wal"))
            // Personal data: the owner's only, whatever the umask.
            let mode = try FileManager.default.attributesOfItem(atPath: copy.destination)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(String(describing: mode.map { String($0, radix: 8) }))")
        }
        #expect(copies.map(\.contents.incidents) == copies.map(\.contents.incidents).sorted(), "later copies hold at least what earlier ones did")
        let last = try t.store.database.backup(to: folder + "/last.sqlite", replacing: false)
        #expect(last.contents.incidents == (try Self.counts(t.path).incidents))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") }.isEmpty, "no partial copy left")
    }

    @Test func aBackupNeverOverwritesByAccidentAndNamesItselfInAFolder() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let target = folder + "/nightly.sqlite"
        _ = try t.store.database.backup(to: target, replacing: false)
        #expect(throws: WanggeError.self) { try t.store.database.backup(to: target, replacing: false) }
        do {
            _ = try t.store.database.backup(to: target, replacing: false)
        } catch let error as WanggeError {
            #expect(error.kind == .conflict && error.message(in: .zh).contains("已存在（加 --force 覆盖）"))
        }
        try Self.report(t.store)
        #expect(try t.store.database.backup(to: target, replacing: true).contents.incidents == 1, "--force replaces it")
        do {
            _ = try t.store.database.backup(to: t.path, replacing: true)
            Issue.record("the database itself was taken as the destination")
        } catch let error as WanggeError {
            #expect(error.message.contains("is the database itself"))
        }
        #expect(try Self.counts(t.path).incidents == 1, "the database is untouched")
        // A folder gets a file named after the database and China's time to the second.
        let noon = ISO8601DateFormatter().date(from: "2026-11-28T04:05:06Z")!
        let named = try t.store.database.backup(to: folder, replacing: false, at: noon)
        let base = (((t.path as NSString).lastPathComponent) as NSString).deletingPathExtension
        #expect(named.destination == URL(fileURLWithPath: folder).appendingPathComponent("\(base)-2026-11-28-120506.sqlite").path)
    }

    @Test func aNewDatabaseAndItsWriteAheadLogAreTheOwnersOnly() throws {
        let mode = { (file: String) in try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int }
        // The store made in init: a new file, its -wal beside it while open.
        #expect(try mode(t.path) == 0o600 && (try mode(t.path + "-wal")) == 0o600)
        // A file that exists keeps what its owner gave it.
        let shared = Fixtures.temporaryPath("shared.sqlite")
        defer { Fixtures.removeDatabase(shared) }
        FileManager.default.createFile(atPath: shared, contents: Data(), attributes: [.posixPermissions: 0o640])
        _ = try GridStore(path: shared)
        #expect(try mode(shared) == 0o640)
    }

    @Test func aNightlyBackupKeepsTheNewestAndTouchesNothingElse() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let base = (((t.path as NSString).lastPathComponent) as NSString).deletingPathExtension
        // Another database's backup, and files that only look alike, stay.
        let others = ["other-2020-01-01-000000.sqlite", "\(base)-notes.sqlite", "\(base)-2020-01-01-000000.sqlite.txt"]
        for name in others { FileManager.default.createFile(atPath: folder + "/" + name, contents: Data()) }
        let night = ISO8601DateFormatter().date(from: "2026-11-20T18:15:00Z")!
        var removed: [[String]] = []
        for day in 0..<4 {
            removed.append(try t.store.database.backup(to: folder, replacing: false, keeping: 2, at: night.addingTimeInterval(Double(day) * 86_400)).removed)
        }
        let name = { (day: Int) in "\(base)-2026-11-2\(1 + day)-021500.sqlite" }
        #expect(removed.map { $0.map { ($0 as NSString).lastPathComponent } } == [[], [], [name(0)], [name(1)]])
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder)) == Set(others + [name(2), name(3)]))
        #expect(throws: WanggeError.self) { try t.store.database.backup(to: folder + "/fixed.sqlite", replacing: false, keeping: 2) }
    }

    @Test func aRestorePutsTheBackupBackAndKeepsWhatItReplaced() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = Fixtures.temporaryPath("restored.sqlite")
        defer { Fixtures.removeDatabase(path) }
        let backup: String
        do {
            let store = try GridStore(path: path)
            _ = try store.importGrids(path: Fixtures.sampleGrids)
            try Self.report(store)
            backup = try store.database.backup(to: folder + "/b.sqlite", replacing: false).destination
            try Self.report(store)
            try Self.report(store)
            // Not while a wangge process (a server, an import: here this one) has it open.
            do {
                _ = try SpatiaLiteDatabase.restore(backup: backup, into: path)
                Issue.record("restored over a database in use")
            } catch let error as WanggeError {
                #expect(error.kind == .conflict && error.message(in: .zh).contains("正被另一个 wangge 进程使用"), "\(error)")
            }
        }
        #expect(try Self.counts(path).incidents == 3, "the refused restore changed nothing")
        // A file that is no database is refused before anything is touched.
        let garbage = folder + "/garbage.sqlite"
        try "not a database".write(toFile: garbage, atomically: true, encoding: .utf8)
        #expect(throws: WanggeError.self) { try SpatiaLiteDatabase.restore(backup: garbage, into: path) }
        #expect(try Self.counts(path).incidents == 3)
        let beside = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        #expect(!beside.contains { $0.contains((path as NSString).lastPathComponent + ".before-restore") || $0.contains(".restoring-") })

        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        let restored = try SpatiaLiteDatabase.restore(backup: backup, into: path)
        #expect(restored.contents.incidents == 1 && restored.contents.grids == 271)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o640, "as open as the file it replaced")
        #expect(try Self.counts(path).incidents == 1)
        let aside = try #require(restored.setAside)
        defer { Fixtures.removeDatabase(aside) }
        #expect(try Self.counts(aside).incidents == 3, "what it replaced, with the writes still in its -wal file")
        // The restored database works as any other: a report on it is the second.
        do { try Self.report(try GridStore(path: path)) }
        #expect(try Self.counts(path).incidents == 2)
        // A database that is gone (the usual reason to restore) is simply made again.
        Fixtures.removeDatabase(path)
        #expect(try SpatiaLiteDatabase.restore(backup: backup, into: path).setAside == nil)
        #expect(try Self.counts(path).incidents == 1)
    }
}
