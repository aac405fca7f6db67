import CSV
import Foundation
import GRDB
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridStore

/// The bulk path of a point import (SpatiaLite's per-row triggers dropped, the
/// spatial index packed afresh, rows bound through SQLite's C API) against the
/// row-by-row path and SQLite's own checks.
@Suite struct BulkImportTests {
    /// `count` households at seeded places over the county's extent and a little beyond
    /// (some outside every grid), with Chinese text, quotes and empty fields.
    static func households(_ count: Int, seed: UInt64, shift: Double = 0) -> String {
        var random = SeededRandom(seed: seed)
        var lines = ["id,lon,lat,address,head,phone,members,tags"]
        for index in 0..<count {
            let lon = random.uniform(112.20...112.98) + shift, lat = random.uniform(28.68...29.22) + shift
            let address = random.chance(0.1) ? "\"琼湖街道 \(index)号, \"\"东门\"\"\"" : random.chance(0.1) ? "" : "南大膳镇\(index % 97)组"
            lines.append(String(format: "H%06d,%.6f,%.6f,%@,户主%d,,%d,%@", index, lon, lat, address, index % 13, index % 7,
                                random.chance(0.2) ? "低保;独居" : ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Everything an import writes, in a comparable form.
    static func contents(_ store: GridStore) throws -> [String] {
        try store.database.pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT id || '|' || ifnull(address, 'NULL') || '|' || ifnull(head, 'NULL') || '|' || ifnull(phone, 'NULL') || '|'
                    || members || '|' || tags || '|' || AsText(geom) || '|' || ROWID FROM households ORDER BY id
                """)
            + String.fetchAll(db, sql: """
                SELECT feature_id || '|' || ifnull(grid_code, '') || '|' || method || '|' || ifnull(distance_m, '') || '|'
                    || ifnull(runner_up, '') || '|' || ifnull(nearest_grid, '') FROM assignments ORDER BY layer, feature_id
                """)
        }
    }

    static func indexCells(_ store: GridStore) throws -> [String] {
        try store.database.pool.read { db in
            try String.fetchAll(db, sql: "SELECT pkid || ' ' || xmin || ' ' || xmax || ' ' || ymin || ' ' || ymax FROM idx_households_geom ORDER BY pkid")
        }
    }

    static func triggers(_ store: GridStore) throws -> [String] {
        try store.database.pool.read { db in
            try String.fetchAll(db, sql: "SELECT name || ': ' || sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'households' ORDER BY name")
        }
    }

    static func indexCheck(_ store: GridStore) throws -> String {
        try store.database.pool.read { db in try String.fetchOne(db, sql: "SELECT rtreecheck('idx_households_geom')") ?? "" }
    }

    func importHouseholds(_ t: TemporaryStore, _ name: String, _ text: String, bulk: Bool, batchSize: Int = GridStore.importBatch) throws {
        _ = try t.store.importPoints(.households, path: try t.file(name, text), crs: .wgs84, dispatch: DispatchRules(),
                                     bulkLoadFrom: bulk ? 0 : .max, batchSize: batchSize, progress: nil)
    }

    @Test func aBulkImportStoresWhatTheRowByRowImportStores() throws {
        let text = Self.households(3_000, seed: 7)
        let byRow = try TemporaryStore(), bulk = try TemporaryStore(), batched = try TemporaryStore()
        for t in [byRow, bulk, batched] { _ = try t.store.importGrids(path: Fixtures.sampleGrids) }
        try importHouseholds(byRow, "h.csv", text, bulk: false)
        try importHouseholds(bulk, "h.csv", text, bulk: true)
        // Streamed in batches of 700 (the last one short): the same rows, assignments and index.
        try importHouseholds(batched, "h.csv", text, bulk: true, batchSize: 700)

        #expect(try Self.contents(bulk.store) == Self.contents(byRow.store))
        #expect(try Self.contents(batched.store) == Self.contents(byRow.store))
        #expect(try Self.indexCells(batched.store) == Self.indexCells(byRow.store))
        // The packed index holds the cells the R*Tree stores row by row, and passes SQLite's own check.
        #expect(try Self.indexCells(bulk.store) == Self.indexCells(byRow.store))
        #expect(try Self.indexCells(bulk.store).count == 3_000)
        #expect(try Self.indexCheck(bulk.store) == "ok")
        #expect(try Self.triggers(bulk.store) == Self.triggers(byRow.store))
        #expect(try Self.triggers(bulk.store).count == 8)
        let stamped = try bulk.store.database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT last_insert FROM geometry_columns_time WHERE f_table_name = 'households'")
        }
        #expect(stamped?.hasPrefix("0000") == false)

        // A window search through the index finds exactly the rows inside the window.
        let (inWindow, throughIndex) = try bulk.store.database.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM households WHERE X(geom) BETWEEN 112.4 AND 112.6 AND Y(geom) BETWEEN 28.8 AND 29.0") ?? -1,
             try Int.fetchOne(db, sql: """
                SELECT count(*) FROM households WHERE ROWID IN (SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'households'
                    AND search_frame = BuildMbr(112.4, 28.8, 112.6, 29.0, 4326)) AND X(geom) BETWEEN 112.4 AND 112.6 AND Y(geom) BETWEEN 28.8 AND 29.0
                """) ?? -2)
        }
        #expect(inWindow > 100 && throughIndex == inWindow)

        // The triggers are back and keep the index right: a small import, row by row, and a removal.
        try importHouseholds(bulk, "more.csv", "id,lon,lat\nH000001,112.5,28.9\nX1,112.36,28.84\n", bulk: false)
        try bulk.store.database.pool.write { db in try db.execute(sql: "DELETE FROM households WHERE id = 'H000002'") }
        #expect(try Self.indexCheck(bulk.store) == "ok")
        #expect(try Self.indexCells(bulk.store).count == 3_000)
    }

    /// A file imported again over itself, moved: its assignments replace the earlier ones alike
    /// whether they are staged and merged in one statement (large batches) or written directly (small ones).
    @Test func importingAgainReplacesAssignmentsOnBothWritePaths() throws {
        let first = Self.households(3_000, seed: 11), moved = Self.households(3_000, seed: 12)
        let staged = try TemporaryStore(), direct = try TemporaryStore(), fresh = try TemporaryStore(), unmoved = try TemporaryStore()
        for t in [staged, direct, fresh, unmoved] { _ = try t.store.importGrids(path: Fixtures.sampleGrids) }
        for t in [staged, direct, unmoved] { try importHouseholds(t, "h.csv", first, bulk: true) }
        #expect(3_000 >= GridStore.stagedAssignmentRows && 700 < GridStore.stagedAssignmentRows)
        try importHouseholds(staged, "moved.csv", moved, bulk: true)
        try importHouseholds(direct, "moved.csv", moved, bulk: true, batchSize: 700)
        try importHouseholds(fresh, "moved.csv", moved, bulk: true)

        let expected = try Self.contents(fresh.store)
        #expect(expected.count == 6_000)
        #expect(try Self.contents(staged.store) == expected)
        #expect(try Self.contents(direct.store) == expected)
        // The moves changed grids: the replacement is not the first import's answers kept.
        let unmovedContents = try Self.contents(unmoved.store)
        #expect(zip(unmovedContents.dropFirst(3_000), expected.dropFirst(3_000)).filter { $0 != $1 }.count > 1_000)
        let leftOver = try staged.store.database.pool.write { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM temp.staged_assignments") }
        #expect(leftOver == 0)
    }

    @Test func theExtentFromTheIndexesHoldsEveryPointAndFitsClosely() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        let towns = try t.store.extent()
        // Households well beyond the towns on every side, some through the triggers, most in bulk.
        try importHouseholds(t, "a.csv", Self.households(6_000, seed: 9, shift: 0.3), bulk: true)
        try importHouseholds(t, "b.csv", "id,lon,lat\nW1,111.9,28.5\n", bulk: false)
        let scanned = try t.store.database.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT min(X(geom)) AS min_x, min(Y(geom)) AS min_y, max(X(geom)) AS max_x, max(Y(geom)) AS max_y FROM households")!
        }
        let extent = try t.store.extent()
        let exact = (minX: min(towns.minX, scanned["min_x"] as Double), minY: min(towns.minY, scanned["min_y"] as Double),
                     maxX: max(towns.maxX, scanned["max_x"] as Double), maxY: max(towns.maxY, scanned["max_y"] as Double))
        #expect(exact.minX == 111.9 && exact.minY == 28.5 && exact.maxX > towns.maxX && exact.maxY > towns.maxY)
        #expect(extent.minX <= exact.minX && extent.minY <= exact.minY && extent.maxX >= exact.maxX && extent.maxY >= exact.maxY)
        // The R*Tree rounds a box outwards by up to two 32-bit steps: 1.5e-5° at longitude 112.
        #expect(exact.minX - extent.minX < 3e-5 && exact.minY - extent.minY < 3e-5 && extent.maxX - exact.maxX < 3e-5 && extent.maxY - exact.maxY < 3e-5,
                "\(extent) \(exact)")
        try t.store.database.pool.write { db in try db.execute(sql: "DELETE FROM households") }
        #expect(try t.store.extent() == towns)
    }

    @Test func aBulkReimportMovesEveryPointInTheIndex() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        try importHouseholds(t, "a.csv", Self.households(2_500, seed: 3), bulk: true)
        try importHouseholds(t, "b.csv", Self.households(2_500, seed: 3, shift: 0.01), bulk: true)
        #expect(try Self.indexCheck(t.store) == "ok")
        let misplaced = try t.store.database.pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM households h LEFT JOIN idx_households_geom i ON i.pkid = h.ROWID
                WHERE i.pkid IS NULL OR NOT (X(h.geom) BETWEEN i.xmin AND i.xmax AND Y(h.geom) BETWEEN i.ymin AND i.ymax)
                """)
        }
        #expect(misplaced == 0)
        #expect(try Self.indexCells(t.store).count == 2_500)
    }

    @Test func aFailedBulkWriteLeavesTheTriggersAndTheIndex() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        try importHouseholds(t, "a.csv", Self.households(100, seed: 5), bulk: false)
        let (triggers, cells) = (try Self.triggers(t.store), try Self.indexCells(t.store))
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try t.store.database.pool.write { db in
                _ = try GridStore.SuspendedSpatialTriggers(db, table: "households")
                try db.execute(sql: "DELETE FROM households")
                throw Stop()
            }
        }
        #expect(try Self.triggers(t.store) == triggers)
        #expect(try Self.indexCells(t.store) == cells)
    }

    @Test func aFileThatIsNotUTF8IsNamedByLineAndField() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        // 琼湖 in GBK, as Excel on Chinese Windows saves a CSV.
        var bytes = Array("id,lon,lat,address\nH1,112.5,28.9,ok\nH2,112.5,28.9,".utf8)
        bytes += [0xC7, 0xED, 0xBA, 0xFE, 0x0A]
        let path = Fixtures.temporaryPath("gbk.csv")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var message = ""
        do {
            _ = try t.store.importPoints(.households, path: path, encoding: .utf8)
        } catch let error as WanggeError {
            message = error.message
        }
        #expect(message.hasPrefix("\(path): line 3: field address: not UTF-8 text"), "\(message)")
        #expect(try t.snapshot()["households"] == 0)
        // Without --encoding the file is taken for what it is: GBK.
        _ = try t.store.importPoints(.households, path: path)
        let address = try t.store.database.pool.read { db in try String.fetchOne(db, sql: "SELECT address FROM households WHERE id = 'H2'") }
        #expect(address == "琼湖")
    }

    @Test func rowsBoundThroughTheCAPIKeepEveryValueInEveryBatch() throws {
        let t = try TemporaryStore()
        for count in [0, 1, 63, 64, 65, 130] {
            let rows = (0..<count).map { i -> (Int64, String?, Double?, String) in
                let text: String? = i % 3 == 0 ? nil : "值\(i)"
                let number: Double? = i % 5 == 0 ? nil : Double(i) / 7
                return (Int64(i), text, number, i % 2 == 0 ? "" : "x")
            }
            let stored = try t.store.database.pool.write { db in
                try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS bulk (n INTEGER, t TEXT, d REAL, e TEXT)")
                try db.execute(sql: "DELETE FROM bulk")
                try BulkInsert(db, head: "INSERT INTO bulk (n, t, d, e)", row: "(?, ?, ?, ?)").insert(rows) { row, value in
                    row.bind(value.0)
                    row.bind(value.1)
                    row.bind(value.2)
                    row.bind(value.3)
                }
                return try Row.fetchAll(db, sql: "SELECT n, t, d, e, typeof(e) AS kind FROM bulk ORDER BY n")
            }
            #expect(stored.count == count)
            for (row, value) in zip(stored, rows) {
                #expect(row["n"] as Int64 == value.0)
                #expect(row["t"] as String? == value.1)
                #expect(row["d"] as Double? == value.2)
                // An empty text is text, not NULL.
                #expect(row["e"] as String == value.3 && row["kind"] as String == "text")
            }
        }
    }

    @Test func problemsFoundOnSeveralCoresAreListedInFileOrder() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        var lines = Self.households(20_000, seed: 11).split(separator: "\n").map(String.init)
        lines[19_001] = "H018999,112.5,28.9,,,,1,"  // line 19002: the id of line 19001 again, checked across slices
        lines[15_000] = "H014999,112.5,abc,,,,1,"   // line 15001
        lines[3] = "H000002,112.5,28.9,,,,101,"     // line 4: members out of range
        let path = try t.file("bad.csv", lines.joined(separator: "\n"))
        var message = ""
        do {
            // Batches of 5,000: the problems fall in different batches, and different slices of them.
            _ = try t.store.importPoints(.households, path: path, crs: .wgs84, dispatch: DispatchRules(), bulkLoadFrom: 0, batchSize: 5_000, progress: nil)
        } catch let error as WanggeError {
            message = error.message
        }
        let order = ["line 4 (id H000002): field members", "line 15001 (id H014999): field lat/y", "line 19002: field id: duplicate id H018999, also at line 19001"]
        let positions = order.map { message.range(of: $0)?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil }, "\(message)")
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())
        #expect(try t.snapshot()["households"] == 0)
    }
}

/// The box read from a SpatiaLite geometry's header, against SpatiaLite's own MbrMinX() and the others.
@Suite struct SpatiaLiteGeometryHeaderTests {
    @Test func theHeadersBoxIsWhatSpatiaLiteReads() throws {
        let t = try TemporaryStore()
        let texts = ["POINT(112.3495563 28.8512988)", "POINT(-0.0001 -89.9999)", "LINESTRING(112 28, 113.5 29.25, 112.25 30)",
                     "POLYGON((112 28, 113 28, 113 29, 112 29, 112 28), (112.2 28.2, 112.4 28.2, 112.4 28.4, 112.2 28.2))",
                     "MULTIPOINT(1e-9 2, 179.999999 -3)"]
        try t.store.database.pool.read { db in
            for text in texts {
                for srid in [4326, 4490] {
                    let row = try #require(try Row.fetchOne(db, sql: """
                        SELECT g, MbrMinX(g), MbrMaxX(g), MbrMinY(g), MbrMaxY(g) FROM (SELECT GeomFromText(?, ?) AS g)
                        """, arguments: [text, srid]))
                    let box = try #require(SpatiaLiteGeometryHeader.box(row[0] as Data), "\(text)")
                    #expect(box.0 == row[1] as Double && box.1 == row[2] as Double && box.2 == row[3] as Double && box.3 == row[4] as Double, "\(text)")
                }
            }
            // Not SpatiaLite's layout: a GeoPackage blob, WKB, a cut blob and a TinyPoint are left to SpatiaLite's functions.
            let others = try Row.fetchOne(db, sql: """
                SELECT AsGPB(GeomFromText('POINT(1 2)', 4326)), AsBinary(GeomFromText('POINT(1 2)', 4326)),
                       substr(GeomFromText('POINT(1 2)', 4326), 1, 44)
                """)!
            for index in 0..<3 { #expect(SpatiaLiteGeometryHeader.box(others[index] as Data) == nil, "\(index)") }
            _ = try Row.fetchOne(db, sql: "SELECT EnableTinyPoint()")
            let tiny: Data = try #require(try Data.fetchOne(db, sql: "SELECT MakePoint(1, 2, 4326)"))
            _ = try Row.fetchOne(db, sql: "SELECT DisableTinyPoint()")
            #expect(SpatiaLiteGeometryHeader.box(tiny) == nil)
        }
    }
}

extension CSVRecords {
    static func parse(_ text: String, _ body: (Position, [String]) throws -> Void) throws {
        var text = text
        try text.withUTF8 { try parse(bytes: $0, body) }
    }
}

/// The CSV reader against CSV.swift's reader on many generated texts: the same
/// records and fields wherever the text is well formed.
@Suite struct CSVRecordsTests {
    @Test func recordsAgreeWithAnIndependentReader() throws {
        let pieces = ["a", "中文", " ", "\t", "\u{3000}", "\u{00A0}", "\u{2007}", "\u{200B}", "\"", "\"\"", ",", "\n", "\r\n", "\r", "x y", "é"]
        var random = SeededRandom(seed: 2026)
        var compared = 0
        for _ in 0..<4_000 {
            let text = (0..<random.int(0...14)).map { _ in random.pick(pieces) }.joined()
            var mine: [[String]] = []
            do {
                try CSVRecords.parse(text) { _, fields in mine.append(fields) }
            } catch is CSVRecords.Problem {
                continue // unclosed quotes and text after a closing quote are errors here, not guesses
            }
            let reader = try CSVReader(string: text, hasHeaderRow: false, trimFields: true)
            var theirs: [[String]] = []
            while let row = reader.next() { theirs.append(row) }
            #expect(mine == theirs, "\(text.debugDescription)")
            compared += 1
        }
        #expect(compared > 1_000)
    }

    @Test func recordsStartOnTheirLines() throws {
        var starts: [Int] = []
        try CSVRecords.parse("\u{FEFF}id,text\n1,\"two\nlines\"\r\n2,x\r3,y\n\n4,z") { position, fields in
            starts.append(position.number)
            if position.record == 0 { #expect(fields == ["id", "text"]) }
        }
        #expect(starts == [1, 2, 4, 5, 6, 7])
    }

    @Test func theSpacesTrimmedAreFoundationsWhitespaces() {
        for value in 0...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            var bytes = Array(String(scalar).utf8)
            let length = bytes.count
            bytes.append(0x41)
            let measured = bytes.withUnsafeBufferPointer { CSVRecords.spaceLength($0, 0) }
            let expected = CharacterSet.whitespaces.contains(scalar) && scalar != "," ? length : 0
            #expect(measured == expected, "U+\(String(value, radix: 16))")
        }
    }
}

/// Point files as Excel on Chinese Windows saves them (`Tests/Fixtures/points`, written by Python's codecs).
@Suite struct PointFileEncodingTests {
    static let gbk = Fixtures.path("Tests/Fixtures/points/households_gbk.csv")
    static let utf8 = Fixtures.path("Tests/Fixtures/points/households_utf8_bom.csv")

    static func households(_ store: GridStore) throws -> [String] {
        try store.database.pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT id || '|' || address || '|' || head || '|' || ifnull(phone, '') || '|' || ifnull(id_number, '') || '|' || members || '|' || tags
                    || '|' || AsText(geom) FROM households ORDER BY id
                """)
        }
    }

    @Test func aGBKFileWithChineseColumnsImportsAsItsUTF8Twin() throws {
        let fromGBK = try TemporaryStore(), fromUTF8 = try TemporaryStore()
        for t in [fromGBK, fromUTF8] { _ = try t.store.importGrids(path: Fixtures.sampleGrids) }
        let report = try fromGBK.store.importPoints(.households, path: Self.gbk)
        _ = try fromUTF8.store.importPoints(.households, path: Self.utf8)
        let stored = try Self.households(fromGBK.store)
        #expect(stored == (try Self.households(fromUTF8.store)))
        #expect(stored.count == 4)
        #expect(stored[2] == "HH003|草尾镇 “乐园”小区, 8栋|罗志强|0737-2221234||2|退役军人|POINT(112.2987 28.7702)")
        #expect(stored[3].contains("|留守儿童;残疾|"))
        #expect(report.notes.contains("encoding: GBK (GB18030), as the file is not UTF-8"), "\(report.notes)")
        #expect(report.notes.contains { $0.hasPrefix("columns: 户编号 → id, 经度 → lon, 纬度 → lat, 地址 → address") }, "\(report.notes)")
    }

    @Test func anExcelWorkbookImportsAsTheCSVAndNamesItsRows() throws {
        let fromExcel = try TemporaryStore(), fromCSV = try TemporaryStore()
        for t in [fromExcel, fromCSV] { _ = try t.store.importGrids(path: Fixtures.sampleGrids) }
        let report = try fromExcel.store.importPoints(.households, path: Fixtures.path("Tests/Fixtures/points/households.xlsx"))
        _ = try fromCSV.store.importPoints(.households, path: Self.utf8)
        #expect(try Self.households(fromExcel.store) == (try Self.households(fromCSV.store)))
        #expect(report.notes.first == "sheet: 户籍", "\(report.notes)")
        let bad = Fixtures.path("Tests/Fixtures/points/households_bad.xlsx")
        var message = ""
        do {
            _ = try fromCSV.store.importPoints(.households, path: bad)
        } catch let error as WanggeError {
            message = error.message
        }
        #expect(message.hasPrefix("\(bad): sheet 户籍, row 4 (id HH003): field lat/y: \"北纬28.77\" is not a number"), "\(message)")
    }

    @Test func theEncodingGivenWinsAndTextThatIsNeitherIsRefused() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        var message = ""
        do {
            _ = try t.store.importPoints(.households, path: Self.gbk, encoding: .utf8)
        } catch let error as WanggeError {
            message = error.message
        }
        #expect(message.hasPrefix("\(Self.gbk): line 1: column 1: not UTF-8 text"), "\(message)")
        let neither = try t.file("neither.csv", "")
        try Data([0x69, 0x64, 0x2C, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: neither))
        do {
            _ = try t.store.importPoints(.households, path: neither)
        } catch let error as WanggeError {
            message = error.message
        }
        #expect(message.hasPrefix("\(neither): neither UTF-8 nor GBK text"), "\(message)")
        #expect(try t.snapshot()["households"] == 0)
    }

    @Test func theUTF8CheckAgreesWithTheStandardLibrary() {
        var random = SeededRandom(seed: 18030)
        let pieces: [[UInt8]] = [[0x41], [0xC2, 0xA0], [0xE4, 0xB8, 0xAD], [0xF0, 0x9F, 0x98, 0x80], [0x80], [0xC0, 0x80], [0xED, 0xA0, 0x80],
                                 [0xF4, 0x90, 0x80, 0x80], [0xE0, 0x80, 0xAF], [0xFF], [0xC2], [0xE4, 0xB8], Array("12345678,".utf8)]
        for _ in 0..<20_000 {
            let bytes = (0..<random.int(0...12)).flatMap { _ in random.pick(pieces) }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBufferPointer(TextDecoding.isUTF8) == expected, "\(bytes)")
        }
    }
}
