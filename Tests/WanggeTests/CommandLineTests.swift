import ArgumentParser
import Foundation
import Testing
import TestSupport
import GeoKit
import GridCore
import GridStore
@testable import wangge
@testable import GridApplication

@Suite struct CommandLineTests {
    @Test func storeOptionsBeforeTheSubcommandMoveAfterIt() {
        #expect(CommandLineRewriter.rewrite(["--db", "x.sqlite", "import", "grids", "f.geojson", "--code-field", "NAME"])
                == ["import", "grids", "f.geojson", "--code-field", "NAME", "--db", "x.sqlite"])
        #expect(CommandLineRewriter.rewrite(["--db=x.sqlite", "stats"]) == ["stats", "--db=x.sqlite"])
        #expect(CommandLineRewriter.rewrite(["stats", "--by", "grid"]) == ["stats", "--by", "grid"])
    }

    /// Without a `commandName`, ArgumentParser names a command by
    /// `String(describing:)` of its type, a dynamic cast that scans every
    /// protocol conformance in the binary: for all 76 commands, on every
    /// run, about 15 ms of a 0.1 s `locate`.
    @Test func everyCommandNamesItself() {
        func unnamed(_ command: any ParsableCommand.Type, path: String) -> [String] {
            let configuration = command.configuration
            let name = configuration.commandName ?? "<\(command)>"
            return (configuration.commandName == nil ? ["\(path) \(name)"] : [])
                + configuration.subcommands.flatMap { unnamed($0, path: "\(path) \(name)") }
        }
        #expect(unnamed(Wangge.self, path: "").isEmpty)
        #expect(Wangge.Plan.ImportDraft.configuration.commandName == "import")
        #expect(Wangge.Incident.EscalateOverdue.configuration.commandName == "escalate-overdue")
    }

    @Test func negativeCoordinatesGoAfterTheTerminator() {
        #expect(CommandLineRewriter.rewrite(["locate", "-80.5", "35.2", "--json"]) == ["locate", "--json", "--", "-80.5", "35.2"])
        #expect(CommandLineRewriter.rewrite(["--db", "nc.sqlite", "locate", "-80.5", "35.2", "--crs", "4326"])
                == ["locate", "--crs", "4326", "--db", "nc.sqlite", "--", "-80.5", "35.2"])
        #expect(CommandLineRewriter.rewrite(["locate", "112.3", "28.8"]) == ["locate", "112.3", "28.8"])
        #expect(throws: Never.self) { try Wangge.parseAsRoot(CommandLineRewriter.rewrite(["locate", "-80.5", "-35.2", "--json"])) }
    }

    @Test func batchReaderParsesQuotedIdsAndNamesBadLines() throws {
        let path = Fixtures.temporaryPath("batch.csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "\u{FEFF}id,lon,lat\r\n\"A 1\",112.5,28.9\r\nB,  112.6 ,28.95\n\nC,112.7,29.0".write(toFile: path, atomically: true, encoding: .utf8)
        let rows = try BatchLocate.read(path: path, crs: .wgs84)
        #expect(rows.ids == ["A 1", "B", "C"])
        #expect(rows.points == [LonLat(112.5, 28.9), LonLat(112.6, 28.95), LonLat(112.7, 29.0)])
        try "id,lon,lat\nA,112.5,28.9\nB,112.x,28.9\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect { _ = try BatchLocate.read(path: path, crs: .wgs84) } throws: { error in
            "\(error)" == "\(path): line 3: field lon: \"112.x\" is not a number"
        }
        try "id,lat,lon\nA,28.9,112.5\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try BatchLocate.read(path: path, crs: .wgs84).points == [LonLat(112.5, 28.9)])
        let gcj = ChineseCoordinates.wgs84ToGCJ02(lon: 112.5, lat: 28.9)
        try "id,lon,lat\nA,\(gcj.lon),\(gcj.lat)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let back = try BatchLocate.read(path: path, crs: .gcj02).points[0]
        #expect(abs(back.lon - 112.5) < 1e-9 && abs(back.lat - 28.9) < 1e-9)
    }

    /// `wangge --version` names the libraries, and a database's schema without migrating it.
    @Test func versionNamesTheLibrariesAndADatabasesSchemaWithoutChangingIt() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let old = Fixtures.temporaryPath("old.sqlite")
        defer { Fixtures.removeDatabase(old) }
        try FileManager.default.copyItem(atPath: Fixtures.path("Tests/Fixtures/databases/release-ded8b41.sqlite"), toPath: old)
        let before = try Data(contentsOf: URL(fileURLWithPath: old))
        let text = try Fixtures.run(binary, ["--version", "--db", old])
        for name in ["wangge", "GEOS", "PROJ", "GDAL", "SQLite", "SpatiaLite", "schema", "database"] {
            #expect(text.split(separator: "\n").contains { $0.hasPrefix(name + " ") }, "no \(name) line in \(text)")
        }
        #expect(text.contains("GEOS        \(GEOSContext.version)"))
        #expect(text.contains("schema      \(SpatiaLiteDatabase.knownMigrations.count) steps, the last lifecycle-reasons-as-codes"))
        #expect(text.contains("\(old): 7 schema steps, 5 steps behind"))
        // In Chinese, aligned by the terminal's columns (a Chinese character takes two).
        let chinese = try Fixtures.runCapturing(binary, ["version", "--db", old], environment: ["WANGGE_LANGUAGE": "zh"]).output
        #expect(chinese.contains("SpatiaLite  ") && chinese.contains("\n数据库结构  共 \(SpatiaLiteDatabase.knownMigrations.count) 步")
                && chinese.contains("\n数据库      \(old)：已有 7 步，落后 5 步"), "\(chinese)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: old)) == before)
        #expect(try Fixtures.run(binary, ["version"]) == text.split(separator: "\n").dropLast().joined(separator: "\n") + "\n")
    }

    /// The whole tool as a user runs it: import, locate (single, JSON, batch), stats.
    @Test func endToEndThroughTheExecutable() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let db = Fixtures.temporaryPath("cli.sqlite")
        let points = Fixtures.temporaryPath("points.csv")
        defer {
            Fixtures.removeDatabase(db)
            try? FileManager.default.removeItem(atPath: points)
        }
        let imported = try Fixtures.run(binary, ["--db", db, "import", "grids", Fixtures.northCarolina, "--code-field", "NAME"])
        #expect(imported.contains("imported 100 into generation 1"))
        let json = try Fixtures.run(binary, ["locate", "--db", db, "-80.5", "35.2", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        for key in ["grid", "village", "town", "method", "distance_m", "runner_up"] { #expect(object.keys.contains(key), "key \(key)") }
        #expect(object["grid"] as? String == "Cabarrus" && object["method"] as? String == "inside")
        #expect(object["distance_m"] is NSNull)
        try "id,lon,lat\np1,-80.5,35.2\np2,-70,30\np3,-79.0,36.0\n".write(toFile: points, atomically: true, encoding: .utf8)
        let batch = try Fixtures.run(binary, ["locate", "--db", db, "--input", points]).split(separator: "\n")
        #expect(batch.count == 4)
        #expect(batch[0] == "id,grid,method,distance_m,runner_up")
        #expect(batch[1] == "p1,Cabarrus,inside,,")
        #expect(batch[2].hasPrefix("p2,,none,"))
        #expect(batch[3] == "p3,Orange,inside,,")
        let stats = try Fixtures.run(binary, ["stats", "--db", db, "--by", "grid", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [[String: Any]])
        #expect(rows.count == 100)
        // One camera facing east in Cabarrus: a quarter circle of 100 m is covered.
        try "id,lon,lat,type,heading_deg,fov_deg,range_m,status\nk1,-80.5,35.2,天网,90,90,100,online\n".write(toFile: points, atomically: true, encoding: .utf8)
        _ = try Fixtures.run(binary, ["import", "cameras", "--db", db, points])
        let coverage = try Fixtures.run(binary, ["stats", "coverage", "--db", db, "--grid", "Cabarrus", "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(coverage.utf8)) as? [String: Any])
        let area = try #require((report["areas"] as? [[String: Any]])?.first)
        let covered = try #require(area["covered_square_metres"] as? Double)
        #expect(abs(covered - Double.pi * 10_000 / 4) / (Double.pi * 10_000 / 4) < 0.005)
        #expect(area["cameras_online"] as? Int == 1)
        let workload = try Fixtures.run(binary, ["stats", "workload", "--db", db, "--csv"]).split(separator: "\n")
        #expect(workload.count == 101 && workload[0].hasPrefix("grid,name,worker,kind,households"))
        #expect { _ = try Fixtures.run(binary, ["locate", "--db", db, "112", "95"]) } throws: { error in
            "\(error)".contains("latitude 95.0 is outside")
        }
    }

    /// wangge does not link GDAL but loads it for vector files: without it,
    /// locating works, and a Shapefile import says what is missing and
    /// leaves the database as it was.
    @Test func onlyVectorFilesNeedGDAL() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let needed = try Fixtures.run("/usr/bin/readelf", ["-d", binary]).split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(!needed.isEmpty && !needed.contains { $0.contains("libgdal") })
        let db = Fixtures.temporaryPath("no-gdal.sqlite")
        defer { Fixtures.removeDatabase(db) }
        _ = try Fixtures.run(binary, ["import", "grids", "--db", db, Fixtures.sampleGrids])
        let withoutGDAL = ["WANGGE_GDAL_LIBRARY": "/nonexistent/libgdal.so.32"]
        let located = try Fixtures.runCapturing(binary, ["locate", "--db", db, "112.35", "28.84"], environment: withoutGDAL)
        #expect(located.status == 0 && located.output.contains("inside"))
        let version = try Fixtures.runCapturing(binary, ["version"], environment: withoutGDAL)
        #expect(version.status == 0 && version.output.contains("GDAL cannot be loaded (/nonexistent/libgdal.so.32: cannot open shared object file"))
        let shapefile = Fixtures.path("Tests/Fixtures/grids/town002_gbk.shp")
        let refused = try Fixtures.runCapturing(binary, ["import", "grids", "--db", db, shapefile], environment: withoutGDAL)
        #expect(refused.status == 1)
        #expect(refused.errors.contains("GDAL cannot be loaded") && refused.errors.contains("apt-get install libgdal32"), "\(refused.errors)")
        let generations = try Fixtures.run(binary, ["plan", "list", "--db", db])
        #expect(generations.contains("import grids.geojson") && !generations.contains("town002"), "\(generations)")
        // With GDAL the same file imports.
        #expect(try Fixtures.run(binary, ["import", "grids", "--db", db, shapefile]).contains("into generation 2"))
    }

    /// A mistyped --db made a new empty database and answered "0 incidents"; so did a mistyped --town.
    @Test func readCommandsNeedADatabaseAndKnownAreas() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let missing = Fixtures.temporaryPath("typo.sqlite")
        for command in [["incidents"], ["stats"], ["grids"], ["summary"], ["incident", "show", "R0000001"], ["plan", "list"], ["locate", "112.4", "28.9"]] {
            #expect { _ = try Fixtures.run(binary, command + ["--db", missing]) } throws: { error in
                "\(error)".contains("exited 1") && "\(error)".contains("no database at \(missing)")
            }
            #expect(!FileManager.default.fileExists(atPath: missing), "\(command) created \(missing)")
        }
        let points = Fixtures.temporaryPath("points.csv")
        try "id,lon,lat\nH1,112.355,28.842\n".write(toFile: points, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { _ = try Fixtures.run(binary, ["import", "households", points, "--db", missing]) }
        #expect(!FileManager.default.fileExists(atPath: missing), "households need grids: no database is made for them")
        let db = Fixtures.temporaryPath("areas.sqlite")
        defer { Fixtures.removeDatabase(db) }
        func wangge(_ arguments: String...) throws -> String { try Fixtures.run(binary, arguments + ["--db", db]) }
        _ = try wangge("import", "grids", Fixtures.sampleGrids)
        #expect { _ = try wangge("incidents", "--town", "琼湖街") } throws: {
            "\($0)".contains("--town: no town \"琼湖街\" in the active generation (did you mean \"琼湖街道\"?)")
        }
        #expect { _ = try wangge("incidents", "--grid", "430981-001-001-0O1") } throws: {
            "\($0)".contains("--grid: no grid \"430981-001-001-0O1\" in the active generation (did you mean \"430981-001-001-001\"?)")
        }
        #expect { _ = try wangge("incidents", "--village", "nowhere") } throws: { "\($0)".contains("--village: no village \"nowhere\"") }
        #expect { _ = try wangge("grids", "--town", "nowhere") } throws: { "\($0)".contains("--town: no town \"nowhere\"") }
        #expect(try wangge("incidents", "--town", "琼湖街道").contains("0 incident(s)"))
        // `紧急` is not a severity: refused with the allowed ones, nothing stored.
        #expect {
            _ = try wangge("incident", "report", "--lon", "112.355", "--lat", "28.842", "--category", "矛盾纠纷", "--channel", "来访", "--severity", "紧急")
        } throws: { "\($0)".contains("exited 1") && "\($0)".contains("--severity: \"紧急\" is not one of 简单, 一般, 疑难") }
        #expect(try wangge("incidents").contains("0 incident(s)"))
        // The unterminated quote of the issue: refused, naming the line where it opened.
        try "id,lon,lat,address\nY1,112.36,28.84,\"abc\nY2,112.37,28.85,def\n".write(toFile: points, atomically: true, encoding: .utf8)
        #expect { _ = try wangge("import", "households", points) } throws: {
            "\($0)".contains("exited 1") && "\($0)".contains("\(points): line 2: field address: a quote opens this field and never closes")
        }
        #expect(try GridStore(path: db, create: false).pointCounts()[.households] == 0)
    }

    /// An incident through its lifecycle as a dispatcher runs it, with times given on the command line.
    @Test func incidentWorkflowThroughTheExecutable() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let db = Fixtures.temporaryPath("workflow.sqlite")
        defer { Fixtures.removeDatabase(db) }
        func wangge(_ arguments: String...) throws -> String { try Fixtures.run(binary, arguments + ["--db", db]) }
        func object(_ text: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        }
        _ = try wangge("import", "grids", Fixtures.sampleGrids)
        let reported = try object(try wangge("incident", "report", "--lon", "112.355", "--lat", "28.842", "--category", "矛盾纠纷",
                                             "--channel", "来访", "--severity", "简单", "--json"))
        let id = try #require(reported["id"] as? String)
        _ = try wangge("incident", "accept", id, "--by", "王网格", "--version", "1")
        #expect { _ = try wangge("incident", "accept", id, "--version", "1") } throws: { "\($0)".contains("you have version 1, it is now 2") }
        _ = try wangge("incident", "mediate", id, "--failed", "--note", "第一次")
        let escalated = try object(try wangge("incident", "mediate", id, "--failed", "--note", "第二次", "--json"))
        #expect(escalated["status"] as? String == "escalated" && escalated["level"] as? String == "town" && escalated["unit"] as? String == "琼湖街道")
        let shown = try wangge("incident", "show", id)
        #expect(shown.contains("2+1+N: 2 failed attempt(s) at village level") && shown.contains("town: 琼湖街道 — escalated from 和桥社区居委会"))
        let listed = try wangge("incidents", "--town", "琼湖街道", "--status", "escalated", "--json")
        #expect(try #require(try JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [[String: Any]]).map { $0["id"] as? String } == [id])
        // A year later nobody has acted: the scheduler's job, run from cron, sends it to the county department.
        let late = try wangge("incident", "escalate-overdue", "--at", "2027-12-01")
        #expect(late.contains("\(id)\t→ county level"))
        let stats = try wangge("stats", "incidents", "--by", "county", "--at", "2027-12-01", "--csv").split(separator: "\n")
        #expect(stats.count == 2 && stats[0].hasPrefix("county,name,received,open,overdue,closed"))
        #expect(stats[1].hasPrefix("county,,1,1,0,0,0.0000,,,,"), "escalated again with a fresh deadline: open, not overdue")
        let map = try wangge("map", "--metric", "overdue", "--width", "80", "--height", "24", "--color", "never")
        #expect(map.contains("overdue incidents"))
    }

    /// A grid worker's visit from the command line: add, a stale edit refused
    /// naming the versions, a move re-assigned, the history, a removal.
    @Test func householdUpkeepFromTheCommandLine() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let db = Fixtures.temporaryPath("upkeep.sqlite")
        defer { Fixtures.removeDatabase(db) }
        _ = try Fixtures.run(binary, ["import", "grids", Fixtures.sampleGrids, "--db", db])
        let added = try Fixtures.run(binary, ["household", "add", "V1", "--lon", "112.355", "--lat", "28.842", "--head", "周大", "--members", "3",
                                              "--by", "王网格", "--db", db, "--json"])
        #expect(added.contains("\"grid\":\"430981-001-017-002\"") && added.contains("\"version\":1"))
        _ = try Fixtures.run(binary, ["household", "edit", "V1", "--version", "1", "--phone", "13900001111", "--tags", "独居老人", "--db", db])
        #expect { _ = try Fixtures.run(binary, ["household", "edit", "V1", "--version", "1", "--members", "4", "--db", db]) } throws: {
            "\($0)".contains("--version: household V1 was changed by someone else: you have version 1, it is now 2")
        }
        #expect { _ = try Fixtures.run(binary, ["household", "edit", "V1", "--version", "2", "--id-number", "430981198503120026", "--db", db]) } throws: {
            "\($0)".contains("--id-number: \"430981198503120026\" has the check character 6, but its digits give 5")
        }
        let moved = try Fixtures.run(binary, ["household", "move", "V1", "--version", "2", "--lon", "112.6", "--lat", "29.0", "--db", db, "--json"])
        #expect(moved.contains("\"version\":3") && !moved.contains("430981-001-017-002"))
        let history = try Fixtures.run(binary, ["household", "history", "V1", "--db", db])
        #expect(history.contains("王网格") && history.contains("phone: · → 13900001111") && history.contains("430981-001-017-002 → "))
        #expect(try Fixtures.run(binary, ["household", "remove", "V1", "--version", "3", "--db", db]) == "household V1 removed\n")
        #expect { _ = try Fixtures.run(binary, ["household", "show", "V1", "--db", db]) } throws: { "\($0)".contains("no household \"V1\"") }
    }
}

/// `wangge config push|show|clear` as a user runs them: a bad file stores nothing and is
/// named with its line; a good one is stored, shown as a configuration file, and cleared.
@Suite struct ConfigCommandTests {
    @Test func pushShowAndClearThroughTheExecutable() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let db = Fixtures.temporaryPath("config.sqlite"), yaml = Fixtures.temporaryPath("pushed.yaml")
        defer {
            Fixtures.removeDatabase(db)
            try? FileManager.default.removeItem(atPath: yaml)
        }
        func wangge(_ arguments: String...) throws -> String { try Fixtures.run(binary, arguments + ["--db", db]) }
        _ = try wangge("import", "grids", Fixtures.sampleGrids)
        #expect(try wangge("config", "show").contains("no configuration is stored in this database"))
        try "privacy:\n  dispatcher:\n    fields:\n      phone: [full\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        #expect { _ = try wangge("config", "push", "--config", yaml) } throws: {
            "\($0)".contains("exited 1") && "\($0)".contains("\(yaml):") && "\($0)".contains("in line 4, column 14")
        }
        #expect(try wangge("config", "show").contains("no configuration is stored in this database"))
        let good = "privacy:\n  dispatcher:\n    fields:\n      phone: full\n"
        try good.write(toFile: yaml, atomically: true, encoding: .utf8)
        #expect(try wangge("config", "push", "--config", yaml).contains("configuration version 1 stored"))
        let shown = try wangge("config", "show")
        #expect(shown.hasPrefix("# configuration version 1, stored 20") && shown.hasSuffix("\n" + good), "\(shown)")
        #expect(try wangge("config", "clear").contains("configuration cleared (version 2)"))
        #expect(try wangge("config", "clear").contains("nothing to clear"))
        #expect(try Fixtures.run(binary, ["config", "push", "--help"]).contains("--config"))
    }
}
