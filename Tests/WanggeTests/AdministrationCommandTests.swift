import Foundation
import GridStore
import Testing
import TestSupport

/// The administrator's commands on the centre's machine (`backup`, `restore`, `audit`), in Chinese.
@Suite struct AdministrationCommandTests {
    @Test func theNightlyBackupAndARestoreFromIt() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let db = Fixtures.temporaryPath("centre.sqlite"), folder = Fixtures.temporaryPath("nightly")
        defer {
            Fixtures.removeDatabase(db)
            try? FileManager.default.removeItem(atPath: folder)
        }
        func wangge(_ arguments: String...) throws -> (status: Int32, output: String, errors: String) {
            try Fixtures.runCapturing(binary, arguments, environment: ["WANGGE_LANGUAGE": "zh"])
        }
        _ = try Fixtures.run(binary, ["import", "grids", "--db", db, Fixtures.sampleGrids])

        // Into a folder: the file is named after the database and the time.
        let backup = try wangge("backup", "--db", db, folder + "/")
        #expect(backup.status == 0, "\(backup.errors)")
        let lines = backup.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[0].hasPrefix("已将 \(db) 备份到 \(folder)/") && lines[0].contains("MB，用时"), "\(lines)")
        #expect(lines.last?.hasPrefix("已核对：副本通过 SQLite 完整性检查") == true && lines.last?.contains("生效版本网格 271 个") == true, "\(lines)")
        let written = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first)
        let copy = folder + "/" + written
        #expect(written.range(of: #"centre-\d{4}-\d{2}-\d{2}-\d{6}\.sqlite$"#, options: .regularExpression) != nil, "\(written)")

        // The same file again is refused (exit 1, nothing changed), and says how to replace it.
        let again = try wangge("backup", "--db", db, copy)
        #expect(again.status == 1 && again.errors.contains("已存在（加 --force 覆盖）"), "\(again.errors)")

        // A redraw after the backup, undone by restoring it.
        _ = try Fixtures.run(binary, ["plan", "new", "--db", db, "--name", "调整"])
        let restore = try wangge("restore", "--db", db, copy)
        #expect(restore.status == 0 && restore.output.contains("已将 \(copy) 恢复到 \(db)：生效版本网格 271 个"), "\(restore.output)\(restore.errors)")
        let plans = try Fixtures.run(binary, ["plan", "list", "--db", db])
        #expect(!plans.contains("调整"), "\(plans)")
        let aside = try #require(restore.output.split(separator: "\n").last.flatMap { line in
            line.range(of: #"\S+\.before-restore-\S+"#, options: .regularExpression).map { String(line[$0]).replacingOccurrences(of: "（如有", with: "") }
        })
        defer { Fixtures.removeDatabase(aside) }
        #expect(try Fixtures.run(binary, ["plan", "list", "--db", aside]).contains("调整"), "the replaced database, kept")

        // PostGIS has its own tools: said at once, without connecting (nothing listens on port 1).
        for command in ["backup", "restore"] {
            let postgis = try wangge(command, "--db", "postgresql://wangge@127.0.0.1:1/wangge", copy)
            #expect(postgis.status == 1 && postgis.errors.contains(command == "backup" ? "pg_dump -Fc" : "pg_restore"), "\(postgis.errors)")
        }
    }

    @Test func theAuditLogAsATable() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let db = Fixtures.temporaryPath("audit.sqlite")
        defer { Fixtures.removeDatabase(db) }
        _ = try Fixtures.run(binary, ["import", "grids", "--db", db, Fixtures.sampleGrids])
        _ = try Fixtures.run(binary, ["token", "create", "--db", db, "--role", "admin", "--name", "县中心管理员"])
        do {
            // Two reads as the API writes them, the second the newer.
            let store = try GridStore(path: db)
            let admin = Caller(tokenID: 1, name: "县中心管理员", role: .admin, grids: [])
            try store.audit(admin, action: "GET /v1/grids/430981-001-001-001/households", grid: "430981-001-001-001", records: 5)
            try store.audit(admin, action: "GET /v1/incidents/E1", grid: nil, records: 1)
        }
        let shown = try Fixtures.runCapturing(binary, ["audit", "--db", db], environment: ["WANGGE_LANGUAGE": "zh"])
        let lines = shown.output.split(separator: "\n").map(String.init)
        #expect(shown.status == 0 && lines.count == 4, "\(shown.output)\(shown.errors)")
        #expect(lines.first?.hasPrefix("时间") == true && lines.first?.contains("令牌") == true && lines.first?.contains("条数") == true, "\(lines)")
        #expect(lines[2].contains("县中心管理员  管理员  GET /v1/incidents/E1") && lines[3].contains("households  430981-001-001-001     5"), "\(lines)")
        let one = try Fixtures.run(binary, ["audit", "--db", db, "--json", "--limit", "1"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(one.utf8)) as? [[String: Any]])
        #expect(entries.count == 1 && entries[0]["action"] as? String == "GET /v1/incidents/E1" && entries[0]["records"] as? Int == 1)
        let refused = try Fixtures.runCapturing(binary, ["audit", "--db", db, "--limit", "0"], environment: ["WANGGE_LANGUAGE": "zh"])
        #expect(refused.status == 64 && refused.errors.hasPrefix("错误：--limit 须在 1 到 10000 之间"), "\(refused.errors)")
    }
}
