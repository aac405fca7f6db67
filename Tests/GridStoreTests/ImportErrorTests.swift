import Foundation
import GRDB
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridStore

/// Every kind of bad input: a clear message naming the file, line or feature
/// and the field, and the database exactly as it was.
@Suite struct ImportErrorTests {
    static let square = "[[[112.0,28.0],[112.01,28.0],[112.01,28.01],[112.0,28.01],[112.0,28.0]]]"
    static let bowTie = "[[[112.01,28.0],[112.02,28.01],[112.02,28.0],[112.01,28.01],[112.01,28.0]]]"

    static func feature(_ code: String, _ coordinates: String, type: String = "Polygon") -> String {
        "{\"type\":\"Feature\",\"properties\":{\"code\":\"\(code)\"},\"geometry\":{\"type\":\"\(type)\",\"coordinates\":\(coordinates)}}"
    }

    static func collection(_ features: [String]) -> String {
        "{\"type\":\"FeatureCollection\",\"features\":[\(features.joined(separator: ","))]}"
    }

    /// A store holding the sample county and two households.
    func populated() throws -> TemporaryStore {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        _ = try t.store.importPoints(.households, path: try t.file("ok.csv", "id,lon,lat,members\nH1,112.355,28.842,3\nH2,112.6,29.0,2\n"))
        return t
    }

    func expectFailure(_ t: TemporaryStore, containing parts: [String], _ body: () throws -> Void) throws {
        let before = try t.snapshot()
        var message = ""
        do {
            try body()
            Issue.record("the import succeeded but should have failed with \(parts)")
        } catch let error as WanggeError {
            message = error.message
        }
        for part in parts { #expect(message.contains(part), "message \"\(message)\" lacks \"\(part)\"") }
        #expect(try t.snapshot() == before, "the database changed after a failed import")
    }

    /// Writes `text` as the file `name`, imports it as `layer` and expects a refusal naming the file and containing `parts`.
    func expectImportFailure(_ t: TemporaryStore, _ layer: PointLayer, _ name: String, _ text: String, containing parts: [String],
                             crs: CoordinateSystem = .wgs84) throws {
        let path = try t.file(name, text)
        try expectFailure(t, containing: [path] + parts) { _ = try t.store.importPoints(layer, path: path, crs: crs) }
    }

    @Test func invalidPolygonIsNamedAndRepairedOnRequest() throws {
        let t = try populated()
        let path = try t.file("bad.geojson", Self.collection([Self.feature("X-1", Self.square), Self.feature("X-2", Self.bowTie)]))
        try expectFailure(t, containing: [path, "feature 2 (grid X-2)", "invalid polygon: Self-intersection at lon 112.0150000, lat 28.0050000", "make-valid repairs it"]) {
            _ = try t.store.importGrids(path: path)
        }
        // The grids lie far from the stored households: that takes `force`.
        let report = try t.store.importGrids(path: path, GridFileOptions(makeValid: true), force: true)
        #expect(report.repaired.count == 1 && report.repaired[0].contains("feature 2 (grid X-2): Self-intersection"))
        #expect(try t.store.grids().count == 2)
    }

    /// `plan validate` reported the overlap, yet `import grids` activated the grids.
    @Test func overlappingGridsAreRefusedAsPlanValidateReportsThem() throws {
        let t = try populated()
        let shifted = "[[[112.005,28.0],[112.015,28.0],[112.015,28.01],[112.005,28.01],[112.005,28.0]]]"
        let path = try t.file("overlap.geojson", Self.collection([Self.feature("X-1", Self.square), Self.feature("X-2", shifted)]))
        try expectFailure(t, containing: [path, "error: grids X-1 and X-2 overlap (", "nothing was imported"]) {
            _ = try t.store.importGrids(path: path, force: true)
        }
        // More than the configured tolerance is still refused; a tolerance that large lets it through.
        let report = try t.store.importGrids(path: path, thresholds: PlanThresholds(maxOverlapSquareMetres: 1e9, maxGapSquareMetres: 1), force: true)
        #expect(report.imported == 2)
    }

    /// One grid replacing the county's 271 would leave every household in no grid.
    @Test func gridsLeavingMostPointsUnassignedNeedForce() throws {
        let t = try populated()
        let path = try t.file("one.geojson", Self.collection([Self.feature("X-1", Self.square)]))
        try expectFailure(t, containing: [path, "would leave 2 of the 2 stored households, cameras and incidents (100%) outside every grid",
                                          "force the import if that is intended"]) {
            _ = try t.store.importGrids(path: path)
        }
        #expect(try t.store.importGrids(path: path, force: true).imported == 1)
        #expect(try t.store.unassignedCounts()[.households] == 2)
    }

    /// A 100,000-character grid code once filled 21 GB of write-ahead log.
    @Test func codesAndTextsHaveBoundedLengthAndForm() throws {
        let t = try populated()
        let long = String(repeating: "9", count: 100_000)
        let path = try t.file("long.geojson", Self.collection([Self.feature(long, Self.square)]))
        try expectFailure(t, containing: [path, "feature 1: field code: grid code \"\(long.prefix(40))…\" is 100000 characters long; at most 64 are allowed"]) {
            _ = try t.store.importGrids(path: path, force: true)
        }
        let slash = try t.file("slash.geojson", Self.collection([Self.feature("X/1", Self.square)]))
        try expectFailure(t, containing: ["feature 1: field code: grid code \"X/1\" may hold only letters"]) {
            _ = try t.store.importGrids(path: slash, force: true)
        }
        let named = "{\"type\":\"Feature\",\"properties\":{\"code\":\"X-1\",\"name\":\"\(String(repeating: "网", count: 201))\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":\(Self.square)}}"
        let longName = try t.file("name.geojson", Self.collection([named]))
        try expectFailure(t, containing: ["feature 1 (grid X-1): field name: \"", "is 201 characters long; at most 200"]) {
            _ = try t.store.importGrids(path: longName, force: true)
        }
        let id = String(repeating: "H", count: 65)
        let ids = try t.file("ids.csv", "id,lon,lat,address,head\n\(id),112.4,28.9,,\nH9,112.4,28.9,\(String(repeating: "路", count: 2_001)),\nH10,112.4,28.9,,\"王\u{7}\"\n")
        try expectFailure(t, containing: ["line 2: field id: \"\(id.prefix(40))…\" is 65 characters long; at most 64",
                                          "line 3 (id H9): field address: ", "is 2001 characters long; at most 2000",
                                          "line 4 (id H10): field head: \"王\u{7}\" contains the control character U+0007"]) {
            _ = try t.store.importPoints(.households, path: ids)
        }
        let description = String(repeating: "啊", count: 2_001)
        let report = IncidentReport(position: LonLat(112.355, 28.842), source: (112.355, 28.842, .wgs84), category: "环境卫生", channel: "12345",
                                    severity: nil, description: description, reporter: nil, reportedAt: Date())
        let before = try t.snapshot()
        #expect { _ = try t.store.report(report, rules: DispatchRules()) } throws: {
            ($0 as? WanggeError).map { "\($0)".hasPrefix("description: ") && "\($0)".hasSuffix("is 2001 characters long; at most 2000 are allowed") } == true
        }
        #expect(try t.snapshot() == before)
        // Codes with spaces between words, dots and dashes are fine (North Carolina's "New Hanover").
        let fine = try t.file("fine.geojson", Self.collection([Self.feature("New Hanover.1_a-b", Self.square)]))
        #expect(try t.store.importGrids(path: fine, force: true).imported == 1)
    }

    @Test func duplicateGridCodes() throws {
        let t = try populated()
        let path = try t.file("dup.geojson", Self.collection([Self.feature("X-1", Self.square), Self.feature("X-1", Self.square)]))
        try expectFailure(t, containing: ["feature 2 (grid X-1): duplicate grid code X-1, also feature 1", "nothing was imported"]) {
            _ = try t.store.importGrids(path: path)
        }
    }

    @Test func malformedGeoJSONAndWrongGeometry() throws {
        let t = try populated()
        let broken = try t.file("broken.geojson", "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\"")
        try expectFailure(t, containing: [broken, "malformed JSON"]) { _ = try t.store.importGrids(path: broken) }
        let line = try t.file("line.geojson", Self.collection([Self.feature("X-1", "[[112,28],[113,29]]", type: "LineString")]))
        try expectFailure(t, containing: [line, "the layer holds Line String geometries, not polygons"]) {
            _ = try t.store.importGrids(path: line)
        }
        let noCode = try t.file("nocode.geojson", "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"NAME\":\"a\"},\"geometry\":null}]}")
        try expectFailure(t, containing: [noCode, "no grid-code field: looked for code, 网格编码", "the fields are: NAME", "--code-field"]) {
            _ = try t.store.importGrids(path: noCode)
        }
        // A feature of a mixed file that is not a polygon is named.
        let mixed = try t.file("mixed.geojson", Self.collection([Self.feature("X-1", Self.square), Self.feature("X-2", "[[112,28],[113,29]]", type: "LineString")]))
        try expectFailure(t, containing: ["feature 2 (grid X-2): geometry is a LineString, expected Polygon or MultiPolygon"]) {
            _ = try t.store.importGrids(path: mixed)
        }
        let projected = try t.file("projected.geojson", Self.collection([Self.feature("X-1", "[[[500000,3300000],[501000,3300000],[501000,3301000],[500000,3300000]]]")]))
        try expectFailure(t, containing: ["coordinates outside longitude", "--crs"]) { _ = try t.store.importGrids(path: projected) }
        // The same file in its real CRS imports.
        _ = try t.store.importGrids(path: projected, GridFileOptions(crs: .epsg(4547)), force: true)
        let grid = try #require(try t.store.grids().first)
        #expect(abs((grid.areaSquareMetres ?? 0) - 500_000) < 1_000)
    }

    @Test func missingAndNonNumericCoordinates() throws {
        let t = try populated()
        let missing = try t.file("missing.csv", "id,lon,lat\nH9,112.4,28.9\nH10,,28.9\n")
        try expectFailure(t, containing: [missing, "line 3 (id H10): missing coordinate"]) {
            _ = try t.store.importPoints(.households, path: missing)
        }
        let text = try t.file("text.csv", "id,lon,lat\nH9,112.4,北纬28.9\n")
        try expectFailure(t, containing: ["line 2 (id H9): field lat/y: \"北纬28.9\" is not a number"]) {
            _ = try t.store.importPoints(.households, path: text)
        }
        let noColumns = try t.file("nocolumns.csv", "id,east,north\nH9,1,2\n")
        try expectFailure(t, containing: ["line 1: no coordinate columns"]) { _ = try t.store.importPoints(.households, path: noColumns) }
    }

    @Test func coordinatesOutsideTheCRSRange() throws {
        let t = try populated()
        let lat = try t.file("lat.csv", "id,lon,lat\nH9,112.4,95\n")
        try expectFailure(t, containing: ["line 2 (id H9): latitude 95.0 is outside -90…90"]) {
            _ = try t.store.importPoints(.households, path: lat)
        }
        let zone = try t.file("zone.csv", "id,x,y\nH9,500000,9000000\n")
        try expectFailure(t, containing: ["line 2 (id H9)", "area of use"]) {
            _ = try t.store.importPoints(.households, path: zone, crs: .epsg(4547))
        }
    }

    @Test func unknownCRS() throws {
        let t = try populated()
        let path = try t.file("ok2.csv", "id,lon,lat\nH9,112.4,28.9\n")
        try expectFailure(t, containing: ["crs EPSG:999999", "crs not found"]) {
            _ = try t.store.importPoints(.households, path: path, crs: .epsg(999_999))
        }
    }

    @Test func geocentricCRSIsRefused() throws {
        let t = try populated()
        let path = try t.file("ecef.csv", "id,x,y\nH9,-2300000,5400000\n")
        try expectFailure(t, containing: [path, "crs EPSG:4978: EPSG:4978 (WGS 84): it is a geocentric CRS"]) {
            _ = try t.store.importPoints(.households, path: path, crs: .epsg(4978))
        }
    }

    @Test func malformedCSVAndBadFields() throws {
        let t = try populated()
        let short = try t.file("short.csv", "id,lon,lat,members\nH9,112.4,28.9,2\nH10,112.4\n")
        try expectFailure(t, containing: ["line 3: 2 fields, but the header has 4"]) { _ = try t.store.importPoints(.households, path: short) }
        let members = try t.file("members.csv", "id,lon,lat,members\nH9,112.4,28.9,two\n")
        try expectFailure(t, containing: ["line 2 (id H9): field members: \"two\" is not a whole number"]) {
            _ = try t.store.importPoints(.households, path: members)
        }
        let duplicate = try t.file("dupid.csv", "id,lon,lat\nH9,112.4,28.9\nH9,112.5,28.9\n")
        try expectFailure(t, containing: ["line 3: field id: duplicate id H9, also at line 2"]) {
            _ = try t.store.importPoints(.households, path: duplicate)
        }
        let status = try t.file("status.csv", "id,lon,lat,status\nC9,112.4,28.9,broken\n")
        try expectFailure(t, containing: ["field status: \"broken\" is not one of online, offline, fault"]) {
            _ = try t.store.importPoints(.cameras, path: status)
        }
        let time = try t.file("time.csv", "id,lon,lat,reported_at\nE9,112.4,28.9,yesterday\n")
        try expectFailure(t, containing: ["field reported_at: \"yesterday\" is not an ISO 8601 time"]) {
            _ = try t.store.importPoints(.incidents, path: time)
        }
    }

    /// `"abc` never closed: the reader would read the next row into the address and import one row.
    @Test func unterminatedQuoteIsRefusedAtTheLineWhereItOpened() throws {
        let t = try populated()
        try expectImportFailure(t, .households, "quote.csv", "id,lon,lat,address\nY1,112.36,28.84,\"abc\nY2,112.37,28.85,def\n",
                                    containing: ["line 2: field address: a quote opens this field and never closes", "nothing was imported"])
        // The reader trims an ideographic space before a quote too.
        try expectImportFailure(t, .households, "spaced.csv", "id,lon,lat,address\nY1,112.36,28.84,\u{3000}\"abc\nY2,112.37,28.85,def\n",
                                    containing: ["line 2: field address: a quote opens this field and never closes"])
        try expectImportFailure(t, .households, "stray.csv", "id,lon,lat,address\nY1,112.36,28.84,\"abc\"def\n",
                                    containing: ["line 2: field address: text after the closing quote"])
        // A quoted field may hold a line break: the rows after it keep their real line numbers.
        let multiline = try t.file("multiline.csv", "id,lon,lat,address\nY1,112.36,28.84,\"a\r\nb \"\"c\"\"\"\nY2,112.37,x,\n")
        try expectFailure(t, containing: ["line 4 (id Y2): field lat/y"]) { _ = try t.store.importPoints(.households, path: multiline) }
        let fine = try t.file("fine.csv", "id,lon,lat,address\nY1,112.36,28.84,\"a\nb \"\"c\"\"\"\nY2,112.37,28.85,def\n")
        #expect(try t.store.importPoints(.households, path: fine).imported == 2)
        let address = try t.store.database.pool.read { db in try String.fetchOne(db, sql: "SELECT address FROM households WHERE id = 'Y1'") }
        #expect(address == "a\nb \"c\"")
    }

    @Test func duplicateHeaderColumnsAreRefused() throws {
        let t = try populated()
        try expectImportFailure(t, .households, "dupcol.csv", "id,lon,lat,LON\nH9,112.4,28.9,0\n",
                                    containing: ["line 1: column \"lon\" appears twice (columns 2 and 4)"])
    }

    @Test func hexadecimalNanAndInfinityAreNotNumbers() throws {
        let t = try populated()
        for text in ["0x1.c1p6", "nan", "inf", "-infinity", "1e400", "1.2.3", "+"] {
            let path = try t.file("hex.csv", "id,lon,lat\nH9,\(text),28.9\n")
            try expectFailure(t, containing: ["line 2 (id H9): field lon/x: \"\(text)\" is not a number"]) {
                _ = try t.store.importPoints(.households, path: path)
            }
        }
        try expectImportFailure(t, .cameras, "heading.csv", "id,lon,lat,heading_deg\nC9,112.4,28.9,0x10\n",
                                    containing: ["line 2 (id C9): field heading_deg: \"0x10\" is not a number"])
        let fine = try t.file("fine.csv", "id,lon,lat,heading_deg\nC9,+112.4,2.89E1,45.\n")
        #expect(try t.store.importPoints(.cameras, path: fine).imported == 1)
    }

    @Test func geoJSONCoordinatesMustBeNumbers() throws {
        let t = try populated()
        func point(_ coordinates: String) -> String {
            Self.collection(["{\"type\":\"Feature\",\"properties\":{\"id\":\"H9\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":\(coordinates)}}"])
        }
        try expectImportFailure(t, .households, "bool.geojson", point("[true,28.9]"),
                                    containing: ["feature 1 (id H9): field coordinates[0]: true is not a number"])
        try expectImportFailure(t, .households, "text.geojson", point("[112.4,\"28.9\"]"),
                                    containing: ["feature 1 (id H9): field coordinates[1]: the string \"28.9\" is not a number"])
        #expect(try t.store.importPoints(.households, path: try t.file("ok.geojson", point("[112.4,28.9]"))).imported == 1)
    }

    @Test func closedBeforeReportedIsRefused() throws {
        let t = try populated()
        let path = try t.file("closed.csv", """
            id,lon,lat,status,reported_at,closed_at
            E9,112.4,28.9,closed,2026-05-02T08:00:00+08:00,2026-05-01T00:00:00Z

            """)
        try expectFailure(t, containing: ["line 2 (id E9): field closed_at: 2026-05-01T00:00:00Z is before reported_at 2026-05-02T08:00:00+08:00"]) {
            _ = try t.store.importPoints(.incidents, path: path)
        }
    }

    @Test func incidentWordsComeFromTheVocabulary() throws {
        let t = try populated()
        let path = try t.file("words.csv", "id,lon,lat,category,channel,severity\nE1,112.4,28.9,环境卫生,12345,紧急\nE2,112.4,28.9,环境,微信,\n")
        try expectFailure(t, containing: ["line 2 (id E1): field severity: \"紧急\" is not one of 简单, 一般, 疑难",
                                          "line 3 (id E2): field category: \"环境\" is not one of"]) {
            _ = try t.store.importPoints(.incidents, path: path)
        }
        let report = IncidentReport(position: LonLat(112.355, 28.842), source: (112.355, 28.842, .wgs84), category: "环境卫生", channel: "12345",
                                    severity: "紧急", description: nil, reporter: nil, reportedAt: Date())
        let before = try t.snapshot()
        #expect(throws: WanggeError.vocabulary(.severity, value: "紧急", allowed: ["简单", "一般", "疑难"])) {
            _ = try t.store.report(report, rules: DispatchRules())
        }
        #expect(try t.snapshot() == before)
    }

    /// `INSERT OR REPLACE` skipped SpatiaLite's delete trigger: the spatial index kept
    /// the old point (`CheckSpatialIndex` turned 0) and found households where they no longer are.
    @Test func reimportedHouseholdsAndCamerasAreUpdatedInPlace() throws {
        let t = try populated()
        func indexIsSound(_ table: String) throws -> Int? {
            try t.store.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT CheckSpatialIndex('\(table)', 'geom')") }
        }
        _ = try t.store.importPoints(.cameras, path: try t.file("c.csv", "id,lon,lat,type\nC1,112.355,28.842,天网\n"))
        _ = try t.store.importPoints(.households, path: try t.file("again.csv", "id,lon,lat,members\nH1,112.36,28.84,5\n"))
        _ = try t.store.importPoints(.cameras, path: try t.file("c2.csv", "id,lon,lat,type\nC1,112.36,28.84,雪亮\n"))
        #expect(try indexIsSound("households") == 1)
        #expect(try indexIsSound("cameras") == 1)
        let row = try #require(try t.store.database.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT members, X(geom), Y(geom), (SELECT count(*) FROM households) FROM households WHERE id = 'H1'")
        })
        #expect(row[0] as Int == 5 && row[1] as Double == 112.36 && row[2] as Double == 28.84 && row[3] as Int == 2)
        // The spatial index finds H1 at its new place only.
        let found = try t.store.database.pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT id FROM households WHERE ROWID IN (SELECT ROWID FROM SpatialIndex
                WHERE f_table_name = 'households' AND search_frame = BuildMbr(112.354, 28.841, 112.356, 28.843, 4326))
                """)
        }
        #expect(found.isEmpty)
        #expect(try t.store.cameraViews().map(\.type) == ["雪亮"])
    }

    /// Re-importing an incident reset its status and version: a stale `--version 1` then succeeded.
    @Test func reimportedIncidentsAreRefusedAndKeepTheirWorkflow() throws {
        let t = try populated()
        let file = try t.file("e.csv", "id,lon,lat,category,status\nE1,112.355,28.842,环境卫生,reported\n")
        _ = try t.store.importPoints(.incidents, path: file)
        let accepted = try t.store.apply(IncidentChange(.accept, actor: "王网格", expectedVersion: 1), to: "E1", rules: DispatchRules())
        #expect(accepted.version == 2)
        try expectFailure(t, containing: [file, "line 2 (id E1): incident E1 is already stored (accepted, version 2)", "nothing was imported"]) {
            _ = try t.store.importPoints(.incidents, path: file)
        }
        let kept = try t.store.incident(id: "E1")
        #expect(kept.status == .accepted && kept.version == 2 && kept.history?.count == 2)
        #expect(throws: WanggeError.staleVersion(id: "E1", expected: 1, actual: 2)) {
            _ = try t.store.apply(IncidentChange(.start, actor: "王网格", expectedVersion: 1), to: "E1", rules: DispatchRules())
        }
    }

    /// Each batch is written while the next is checked: a refusal when batch 2 is written
    /// still comes before the problems of batch 3, found meanwhile, as when one step followed the other.
    @Test func aBatchRefusedWhileTheNextIsCheckedStopsTheImportWhole() throws {
        let t = try populated()
        _ = try t.store.importPoints(.incidents, path: try t.file("e.csv", "id,lon,lat,category,status\nE1,112.355,28.842,环境卫生,reported\n"))
        let file = try t.file("batches.csv", """
            id,lon,lat,category,status
            N1,112.355,28.842,环境卫生,reported
            N2,112.355,28.842,环境卫生,reported
            N3,112.355,28.842,环境卫生,reported
            E1,112.355,28.842,环境卫生,reported
            N5,112.355,28.842,环境卫生,reported
            N6,112.355,north,环境卫生,reported
            """)
        try expectFailure(t, containing: [file, "line 5 (id E1): incident E1 is already stored"]) {
            _ = try t.store.importPoints(.incidents, path: file, crs: .wgs84, dispatch: DispatchRules(), bulkLoadFrom: .max, batchSize: 2, progress: nil)
        }
        // Without the stored incident, batch 3's problem is the answer, and still nothing is written.
        let withoutStored = try t.file("batches2.csv", try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "E1,", with: "N4,"))
        try expectFailure(t, containing: [withoutStored, "line 7 (id N6): field lat/y"]) {
            _ = try t.store.importPoints(.incidents, path: withoutStored, crs: .wgs84, dispatch: DispatchRules(), bulkLoadFrom: .max, batchSize: 2, progress: nil)
        }
    }

    @Test func manyProblemsAreListedTogether() throws {
        let t = try populated()
        var csv = "id,lon,lat\n"
        for i in 0..<30 { csv += "H\(i),x,28.9\n" }
        try expectImportFailure(t, .households, "many.csv", csv, containing: ["line 2 (id H0)", "line 21 (id H19)", "… and 10 more problems"])
    }

    @Test func pointsBeforeGridsAreRefused() throws {
        let t = try TemporaryStore()
        let path = try t.file("early.csv", "id,lon,lat\nH1,112.4,28.9\n")
        try expectFailure(t, containing: ["no grids yet", "import a grid file first"]) { _ = try t.store.importPoints(.households, path: path) }
    }
}
