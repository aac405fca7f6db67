import Foundation
import GRDB
import Testing
import TestSupport
import GeoKit
import GridCore
import GridStore

/// Boundary planning through the `wangge` executable, as a planner runs it.
@Suite(.serialized) struct PlanCommandTests {
    static let grid = "430981-001-017-002"
    static let line = "LINESTRING(112.357361 28.836, 112.357361 28.850)"

    /// Runs `body` with the executable and a fresh database prepared as below, removed afterwards.
    func withDraft(_ body: (_ binary: String, _ db: String) throws -> Void) throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let db = Fixtures.temporaryPath("plan.sqlite"), points = Fixtures.temporaryPath("h.csv")
        defer {
            Fixtures.removeDatabase(db)
            try? FileManager.default.removeItem(atPath: points)
        }
        try prepare(binary, db, points)
        try body(binary, db)
    }

    /// A database with the sample grids, households around the grid to split, and a draft with the split made.
    func prepare(_ binary: String, _ db: String, _ points: String) throws {
        var csv = "id,lon,lat,members\n"
        for i in 0..<12 {
            for j in 0..<12 { csv += "H\(i)-\(j),\(112.3512 + Double(i) * 0.001),\(28.8375 + Double(j) * 0.0009),\((i + j) % 4 + 1)\n" }
        }
        try csv.write(toFile: points, atomically: true, encoding: .utf8)
        _ = try Fixtures.run(binary, ["import", "grids", "--db", db, Fixtures.sampleGrids])
        _ = try Fixtures.run(binary, ["import", "households", "--db", db, points])
        #expect(try Fixtures.run(binary, ["plan", "new", "--db", db, "--name", "2027年网格调整"]).hasPrefix("draft 2 2027年网格调整: a copy of generation 1 (271 grids)"))
        let split = try Fixtures.run(binary, ["plan", "split", "--db", db, Self.grid, "--line", Self.line])
        #expect(split.hasPrefix("draft 2: split \(Self.grid) 和桥社区第二网格 into 430981-001-017-005"), "\(split)")
    }

    /// What must survive an interrupted activation: the generations, the assignments and the points.
    func state(_ db: String) throws -> [String] {
        let store = try GridStore(path: db)
        return try store.database.pool.read { db in
            [try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "?"]
                + (try Row.fetchAll(db, sql: "SELECT id, status, revision FROM generations ORDER BY id").map { "\($0[0] as Int64) \($0[1] as String) \($0[2] as Int)" })
                + (try Row.fetchAll(db, sql: "SELECT generation_id, count(*) FROM assignments GROUP BY generation_id").map { "assignments \($0[0] as Int64): \($0[1] as Int)" })
                + ["households \(try Int.fetchOne(db, sql: "SELECT count(*) FROM households") ?? -1)"]
        }
    }

    @Test func activationKilledMidwayLeavesTheOldGenerationActiveAndTheDataWhole() throws {
        try withDraft { binary, db in
            let before = try state(db)
            #expect(before == ["ok", "1 active 0", "2 draft 1", "assignments 1: 144", "households 144"])

            // Activate, paused inside the transaction after every write; kill it there.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["plan", "activate", "--db", db, "2"]
            process.environment = ProcessInfo.processInfo.environment.merging(["WANGGE_TEST_PAUSE_IN_ACTIVATION": "120"]) { $1 }
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = Pipe()
            try process.run()
            var said = ""
            while !said.contains("paused inside the transaction") {
                let chunk = errors.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                said += String(decoding: chunk, as: UTF8.self)
            }
            #expect(said.contains("activation: paused inside the transaction"), "\(said)")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)

            #expect(try state(db) == before)
            let list = try Fixtures.run(binary, ["plan", "list", "--db", db])
            #expect(list.contains("沅江市") || list.contains("import grids.geojson"))
            // Nothing is stuck: the activation runs to the end now.
            let activated = try Fixtures.run(binary, ["plan", "activate", "--db", db, "2"])
            #expect(activated.hasPrefix("generation 2 2027年网格调整 is active; generation 1 retired"), "\(activated)")
            #expect(try state(db) == ["ok", "1 retired 0", "2 active 1", "assignments 1: 144", "assignments 2: 144", "households 144"])
        }
    }

    @Test func aWorkersTokenFollowsItsGridThroughARedrawAndTheActivationSaysSo() throws {
        try withDraft { binary, db in
            func wangge(_ arguments: String...) throws -> String { try Fixtures.run(binary, arguments + ["--db", db]) }
            _ = try wangge("token", "create", "--role", "grid_worker", "--grids", Self.grid, "--name", "和桥二格", "--expires", "90d")
            _ = try wangge("token", "create", "--role", "grid_worker", "--villages", "430981-001-017", "--name", "和桥社区")
            #expect { _ = try wangge("token", "create", "--role", "viewer", "--expires", "soon") } throws: {
                "\($0)".contains("expires: \"soon\" is not a duration (90d, 12h), a day (2026-12-31) or an ISO 8601 time")
            }
            let activated = try wangge("plan", "activate", "2")
            #expect(activated.contains("tokens re-scoped to the new grids"))
            #expect(activated.contains("token 1 和桥二格: grids \(Self.grid) → 430981-001-017-005,430981-001-017-006"), "\(activated)")
            let list = try wangge("token", "list")
            let rows = list.split(separator: "\n").map(String.init)
            #expect(rows.first { $0.contains("和桥二格") }?.contains("grids 430981-001-017-005,430981-001-017-006") == true, "\(list)")
            #expect(rows.first { $0.contains("和桥社区") }?.contains("villages 430981-001-017") == true)
            #expect(rows.first { $0.contains("和桥社区") }?.contains("never") == true)
            #expect(rows.first { $0.contains("和桥二格") }?.contains("active") == true)
        }
    }

    @Test func theDiffAndTheQueriesOfAGeneration() throws {
        try withDraft { binary, db in
            let json = try Fixtures.run(binary, ["plan", "diff", "--db", db, "--json"])
            let diff = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let moves = try #require(diff["moves"] as? [[String: Any]])
            #expect(!moves.isEmpty && moves.allSatisfy { $0["from"] as? String == Self.grid })
            let moved = moves.reduce(0) { $0 + (($1["counts"] as? [String: Any])?["households"] as? Int ?? 0) }
            // Every household the old grid held moves to one of the two pieces.
            let held = try Fixtures.run(binary, ["households", "--db", db, "--grid", Self.grid, "--json"])
            #expect(moved == (try JSONSerialization.jsonObject(with: Data(held.utf8)) as? [Any])?.count)
            let table = try Fixtures.run(binary, ["plan", "diff", "--db", db])
            #expect(table.contains("draft 2 2027年网格调整 against active generation 1: 2 added, 1 removed"))
            #expect(table.contains("workers' load (households)") && table.contains("(no worker yet)"))
            let map = try Fixtures.run(binary, ["plan", "diff", "--db", db, "--map", "--width", "80", "--height", "24", "--color", "never"])
            #expect(map.split(separator: "\n").count == 24 && map.contains("2 changed grids highlighted"))

            // Validate: clean, exit 0; a grid of the draft answers locate in the draft only.
            #expect(try Fixtures.run(binary, ["plan", "validate", "--db", db]).contains("0 errors"))
            let inDraft = try Fixtures.run(binary, ["locate", "--db", db, "--generation", "2", "112.3560", "28.8425", "--json"])
            #expect(inDraft.contains("\"grid\":\"430981-001-017-005\"") || inDraft.contains("\"grid\":\"430981-001-017-006\""))
            #expect(try Fixtures.run(binary, ["locate", "--db", db, "112.3560", "28.8425", "--json"]).contains("\"grid\":\"\(Self.grid)\""))
            #expect { _ = try Fixtures.run(binary, ["grids", "--db", db, "--generation", "9"]) } throws: { "\($0)".contains("no generation 9") }
            // Editing the active generation is refused, naming why.
            #expect { _ = try Fixtures.run(binary, ["plan", "merge", "--db", db, "--draft", "1", "430981-001-017-001", "430981-001-017-003"]) } throws: {
                "\($0)".contains("generation 1 is active, not a draft: only drafts can be edited")
            }
        }
    }
}
