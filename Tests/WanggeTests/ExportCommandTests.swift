import Foundation
import Testing
import Localization
import TestSupport
import GeoKit
import GridCore
import GridStore
import GridApplication

/// `wangge export` as users run it, on the sample county: what is exported comes back the same
/// through `wangge import`, GDAL's ogrinfo reads every file, and bad options are named.
@Suite(.serialized) struct ExportCommandTests {
    /// The sample county's grids, 300 households with awkward text (commas, quotes, ;-separated tags, blanks),
    /// cameras, incidents, and draft 2 with one grid split.
    static let prepared: Result<(binary: String, db: String), Error> = Result {
        guard let binary = Fixtures.executable("wangge") else { throw GeoError(.verbatim("no wangge executable beside the tests")) }
        let db = Fixtures.temporaryPath("export.sqlite")
        _ = try Fixtures.run(binary, ["import", "grids", "--db", db, Fixtures.sampleGrids])
        var random = SeededRandom(seed: 16)
        var csv = "id,lon,lat,address,head,phone,id_number,members,tags\n"
        for i in 0..<300 {
            let p = random.point(in: Envelope(minX: 112.30, minY: 28.75, maxX: 112.85, maxY: 29.13))
            let address = i % 7 == 0 ? "\"琼湖街道 “乐园”小区, \(i)栋\"" : "沅江市某路\(i)号"
            let phone = i % 5 == 0 ? "" : "1380000\(String(format: "%04d", i))"
            let tags = ["", "独居老人", "低保;独居老人", "留守儿童"][i % 4]
            csv += String(format: "H%03d,%.6f,%.6f,", i, p.lon, p.lat) + "\(address),户主\(i),\(phone),43098119800101\(String(format: "%04d", i)),\(i % 6),\(tags)\n"
        }
        let points = Fixtures.temporaryPath("h.csv")
        defer { try? FileManager.default.removeItem(atPath: points) }
        try csv.write(toFile: points, atomically: true, encoding: .utf8)
        _ = try Fixtures.run(binary, ["import", "households", "--db", db, points])
        _ = try Fixtures.run(binary, ["plan", "new", "--db", db, "--name", "2027年网格调整"])
        _ = try Fixtures.run(binary, ["plan", "split", "--db", db, "430981-001-017-002", "--line", "LINESTRING(112.357361 28.836, 112.357361 28.850)"])
        return (binary, db)
    }

    let binary: String
    let db: String

    init() throws {
        (binary, db) = try Self.prepared.get()
    }

    /// Runs the executable: its exit status, standard output and standard error.
    func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        try Fixtures.runCapturing(binary, arguments)
    }

    func ogrinfo(_ path: String) throws -> [String: Int] { try Fixtures.ogrinfoCounts(path) }

    /// A grid as compared after the round trip: every attribute an import stores, and its outline.
    struct ComparedGrid: Equatable {
        let code, name, villageCode, villageName, townCode, townName: String
        let workerName, workerPhone: String?
    }

    func grids(_ store: GridStore, generation: Int64? = nil) throws -> [ComparedGrid] {
        try store.grids(generation: generation).map {
            ComparedGrid(code: $0.code, name: $0.name, villageCode: $0.villageCode, villageName: $0.villageName, townCode: $0.townCode,
                         townName: $0.townName, workerName: $0.workerName, workerPhone: $0.workerPhone)
        }
    }

    /// Outlines by code, normalized (a Shapefile turns rings clockwise).
    func outlines(_ store: GridStore, generation: Int64? = nil) throws -> [String: Geometry] {
        let context = try GEOSContext()
        return Dictionary(uniqueKeysWithValues: try store.gridShapes(generation: generation).map {
            ($0.code, try Geometry(wkb: $0.wkb, context: context).asMultiPolygon().normalized())
        })
    }

    @Test(arguments: ["shp", "gpkg", "kml", "geojson"])
    func gridsComeBackTheSameThroughImportGrids(_ ext: String) throws {
        let file = Fixtures.temporaryPath("网格.\(ext)")
        let done = try run(["export", "grids", "--db", db, "--output", file])
        #expect(done.status == 0, "\(done.errors)")
        #expect(done.errors.contains("271 grids written to \(file) (\(ext), EPSG:4326)"))
        #expect(try ogrinfo(file).values.reduce(0, +) == 271)
        let copy = Fixtures.temporaryPath("copy.sqlite")
        defer { Fixtures.removeDatabase(copy) }
        _ = try Fixtures.run(binary, ["import", "grids", "--db", copy, file])
        let original = try GridStore(path: db), imported = try GridStore(path: copy)
        #expect(try grids(imported) == grids(original))
        let before = try outlines(original), after = try outlines(imported)
        #expect(before.count == 271 && after.count == 271)
        // The export writes 7 decimals (1 cm), as every GeoJSON the API serves.
        for (code, shape) in before {
            #expect(try after[code].map { try $0.equalsExact(shape, tolerance: 1e-7) } == true, "\(ext): \(code)")
        }
    }

    /// Excel users' households: a CSV (UTF-8 with a BOM) or a workbook, imported again, gives the same records.
    @Test(arguments: ["csv", "xlsx"])
    func householdsComeBackTheSameThroughThePointImport(_ ext: String) throws {
        let file = Fixtures.temporaryPath("households.\(ext)")
        #expect(try run(["export", "households", "--db", db, "--output", file]).status == 0)
        #expect(try ogrinfo(file).values.reduce(0, +) == 300)
        if ext == "csv" {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(bytes.prefix(3) == Data([0xEF, 0xBB, 0xBF]))
            #expect(String(decoding: bytes.dropFirst(3).prefix(80), as: UTF8.self).hasPrefix("lon,lat,id,address,head,phone,id_number,members,tags,method,grid\r\n"))
        }
        let copy = Fixtures.temporaryPath("copy.sqlite")
        defer { Fixtures.removeDatabase(copy) }
        _ = try Fixtures.run(binary, ["import", "grids", "--db", copy, Fixtures.sampleGrids])
        _ = try Fixtures.run(binary, ["import", "households", "--db", copy, file])
        func records(_ path: String) throws -> [String] {
            var rows: [String] = []
            try GridStore(path: path).eachFeature(.households, areas: nil) { record in
                rows.append(([record.id, record.geometryJSON, record.grid ?? "-"] + record.properties.map { "\($0.key)=\($0.value.text ?? "null")" })
                    .joined(separator: "|"))
            }
            return rows
        }
        let expected = try records(db)
        #expect(expected.count == 300)
        #expect(try records(copy) == expected)
    }

    @Test func everyDatasetInEveryFormatIsReadByOgrinfo() throws {
        let town = try GridStore(path: db).grids().filter { $0.townName == "琼湖街道" }
        let villages = Set(town.map(\.villageCode)).count
        for dataset in ["villages", "towns", "households", "stats"] {
            for ext in ["geojson", "gpkg", "shp", "kml", "csv", "xlsx"] {
                let file = Fixtures.temporaryPath("\(dataset).\(ext)")
                let done = try run(["export", dataset, "--db", db, "--town", "琼湖街道", "--output", file])
                #expect(done.status == 0, "\(dataset).\(ext): \(done.errors)")
                let counts = try ogrinfo(file)
                let count = counts.values.reduce(0, +)
                let expected = ["villages": villages, "towns": 1, "households": -1, "stats": town.count][dataset]!
                if expected >= 0 { #expect(count == expected, "\(dataset).\(ext): \(counts)") } else { #expect(count > 0, "\(dataset).\(ext)") }
            }
        }
    }

    /// The per-grid statistics are those of `wangge stats --by grid`, with each grid's outline.
    @Test func statsAreTheCommandsCountsPerGrid() throws {
        let exported = try run(["export", "stats", "--db", db, "--format", "csv"]).output
        let lines = exported.dropFirst().components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.first == "WKT,code,name,households,residents,cameras,cameras_online,incidents,open_incidents,near_boundary,nearest")
        let stats = try Fixtures.run(binary, ["stats", "--db", db, "--by", "grid", "--csv"]).split(separator: "\n").dropFirst()
        #expect(lines.count - 1 == stats.count && stats.count == 271)
        // "…)))",code,name,households,… against grid,name,grids,households,…
        for (line, row) in zip(lines.dropFirst(), stats) {
            let exportedFields = line.components(separatedBy: ")))\",").last!.replacingOccurrences(of: "\"", with: "")
                .split(separator: ",", omittingEmptySubsequences: false)
            let statsFields = row.split(separator: ",", omittingEmptySubsequences: false)
            #expect(exportedFields[0] == statsFields[0] && exportedFields[2] == statsFields[3] && exportedFields[3] == statsFields[4], "\(row)")
        }
    }

    /// A planner hands draft 2 to the bureau as a zipped Shapefile: it holds the draft's grids, the split ones too.
    @Test func aDraftGoesOutAsItsGrids() throws {
        let file = Fixtures.temporaryPath("draft.zip")
        let done = try run(["export", "draft", "2", "--db", db, "--output", file])
        #expect(done.status == 0, "\(done.errors)")
        #expect(try ogrinfo("/vsizip/" + file) == ["draft-2": 272])
        let draftCodes = try GridStore(path: db).grids(generation: 2).map(\.code)
        let copy = Fixtures.temporaryPath("copy.sqlite")
        defer { Fixtures.removeDatabase(copy) }
        let shp = Fixtures.temporaryPath("draft.shp")
        #expect(try run(["export", "draft", "2", "--db", db, "--output", shp]).status == 0)
        _ = try Fixtures.run(binary, ["import", "grids", "--db", copy, shp])
        #expect(try GridStore(path: copy).grids().map(\.code) == draftCodes)
        #expect(draftCodes.contains("430981-001-017-005"))
    }

    @Test func textGoesToStandardOutputAndReprojects() throws {
        let geojson = try run(["export", "towns", "--db", db, "--format", "geojson"])
        #expect(geojson.status == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(geojson.output.utf8)) as? [String: Any])
        #expect((document["features"] as? [Any])?.count == 13)
        let metric = Fixtures.temporaryPath("grids.gpkg")
        #expect(try run(["export", "grids", "--db", db, "--crs", "metric", "--output", metric]).status == 0)
        #expect(try Fixtures.run("/usr/bin/ogrinfo", ["-ro", "-al", "-so", metric]).contains("ID[\"EPSG\",4547]"))
        let points = try run(["export", "households", "--db", db, "--crs", "EPSG:4547", "--grid", "430981-001-017-002", "--format", "csv"])
        #expect(points.output.dropFirst().hasPrefix("x,y,id,"), "\(points.output.prefix(40))")
    }

    @Test func badOptionsAreNamedAndWriteNothing() throws {
        let file = Fixtures.temporaryPath("out.csv")
        let cases: [([String], String)] = [
            (["grids", "--format", "shapefile"], "Error: --format: unknown \"shapefile\": the formats are geojson, csv, xlsx, gpkg, shp, kml"),
            (["parcels", "--format", "csv"], "Error: dataset: unknown \"parcels\": the datasets are grids, villages, towns, households, cameras, incidents, stats, draft N"),
            (["grids", "--crs", "EPSG:999999", "--output", file], "Error: --crs: EPSG:999999 is not a CRS PROJ knows"),
            (["grids", "--crs", "gcj02", "--output", file], "Error: --crs: \"gcj02\" is not a CRS an export can be written in"),
            (["grids", "--format", "kml", "--crs", "EPSG:4547"], "Error: --crs: KML is always WGS84 longitude and latitude (EPSG:4326)"),
            (["grids", "--format", "xlsx"], "Error: --output: xlsx is not text: give --output FILE"),
            (["grids", "--output", "grids.txt"], "Error: --output: \"grids.txt\" does not end in a format's extension"),
            (["grids", "--format", "csv", "--output", "grids.kml"], "Error: --format: csv does not match the output file \"grids.kml\""),
            (["draft", "--format", "csv"], "Error: dataset: draft needs the draft's generation number"),
            (["draft", "9", "--format", "csv"], "Error: dataset: draft 9: no generation 9"),
            (["households", "--town", "不存在镇", "--output", file], "Error: --town: no town \"不存在镇\""),
        ]
        for (arguments, message) in cases {
            let done = try run(["export"] + arguments + ["--db", db])
            #expect(done.status == 1, "\(arguments)")
            #expect(done.errors.hasPrefix(message), "\(arguments): \(done.errors)")
            #expect(done.output.isEmpty)
        }
        #expect(!FileManager.default.fileExists(atPath: file))
        // Nothing of the attempts is left beside the output either.
        let left = try FileManager.default.contentsOfDirectory(atPath: Fixtures.temporaryDirectory).filter { $0.hasPrefix(".wangge-export-") }
        #expect(left.isEmpty)
    }

    /// A name an attacker chose cannot break out of the quoted file name or add a header line.
    @Test func fileNamesKeepLettersDigitsAndDashesOnly() throws {
        let request = try ExportRequest(dataset: .collection(.households), scope: AreaScope(town: "琼湖\"; x=\r\nSet-Cookie: a/../b"), format: .csv)
        let name = request.fileName(day: "2026-11-26")
        #expect(name.file == "households-琼湖___x__Set-Cookie__a____b-2026-11-26.csv")
        #expect(name.ascii == "households-2026-11-26.csv")
        #expect(try ExportRequest(dataset: .draft(2), format: .shp).fileName(day: "2026-11-26").file == "draft-2-2026-11-26.shp.zip")
    }
}
