import Foundation
import GRDB
import Testing
import TestSupport
@testable import GridStore

@Suite struct BusyTimeoutTests {
    /// Loading mod_spatialite sets SQLite's busy timeout to 5 s; the store's
    /// own must hold: a write waits out another process's 7-second write (an
    /// import holding the lock) and succeeds instead of failing as locked.
    @Test func aWriteWaitsOutAnotherWriterForLongerThanFiveSeconds() throws {
        let t = try TemporaryStore()
        let importer = try GridStore(path: t.path)
        let store = try GridStore(path: t.path, busyTimeout: 60)
        #expect(try store.database.pool.write { try Int.fetchOne($0, sql: "PRAGMA busy_timeout") } == 60_000)
        #expect(try store.database.pool.read { try Int.fetchOne($0, sql: "PRAGMA busy_timeout") } == 60_000)
        let taken = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        Thread {
            try? importer.database.pool.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                taken.signal()
                Thread.sleep(forTimeInterval: 7)
                try db.execute(sql: "ROLLBACK")
            }
            done.signal()
        }.start()
        taken.wait()
        try store.database.pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('busy_test', 'written')")
        }
        done.wait()
        #expect(try store.database.pool.read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'busy_test'") } == "written")
    }
}
