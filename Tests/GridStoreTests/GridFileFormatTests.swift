import Foundation
import Testing
import TestSupport
import GeoKit
import GeoFiles
import GridCore
@testable import GridStore

/// Grid files as county centres receive them (Tests/Fixtures/grids, made by
/// its make.sh from the sample county's town 430981-002): each format gives
/// the same grids as the GeoJSON they were made from.
@Suite struct GridFileFormatTests {
    static func fixture(_ name: String) -> String { Fixtures.path("Tests/Fixtures/grids/\(name)") }

    /// Imports a file into an empty store: its grids, their shapes and the report.
    static func imported(_ path: String, _ options: GridFileOptions = GridFileOptions()) throws
        -> (grids: [GridInfo], shapes: [GridShape], report: ImportReport) {
        let t = try TemporaryStore()
        let report = try t.store.importGrids(path: path, options)
        return (try t.store.grids(), try t.store.gridShapes(), report)
    }

    /// Every vertex of a shape, after GEOS normalisation (ring order, start and orientation made canonical).
    static func vertices(_ wkb: [UInt8], _ context: GEOSContext) throws -> [Double] {
        var all: [Double] = []
        _ = try Geometry(wkb: wkb, context: context).normalized().mapCoordinates { all += $0 }
        return all
    }

    /// The largest coordinate difference between matching vertices; infinity when the vertex counts differ.
    static func largestVertexDifference(_ a: [UInt8], _ b: [UInt8]) throws -> Double {
        let context = try GEOSContext()
        let (va, vb) = (try vertices(a, context), try vertices(b, context))
        guard va.count == vb.count else { return .infinity }
        return zip(va, vb).map { abs($0 - $1) }.max() ?? 0
    }

    /// Grids equal in every field; areas (computed from the shapes) to a relative 1e-6.
    static func expectSameGrids(_ grids: [GridInfo], as reference: [GridInfo], _ file: String) {
        #expect(grids.count == reference.count, "\(file)")
        for (grid, expected) in zip(grids, reference) {
            var withoutArea = grid, expectedWithoutArea = expected
            withoutArea.areaSquareMetres = nil
            expectedWithoutArea.areaSquareMetres = nil
            #expect(withoutArea == expectedWithoutArea, "\(file)")
            #expect(abs((grid.areaSquareMetres ?? 0) / (expected.areaSquareMetres ?? 1) - 1) < 1e-6, "\(file): grid \(grid.code) area")
        }
    }

    static let formats: [(file: String, options: GridFileOptions, tolerance: Double)] = [
        ("town002_gbk.shp", GridFileOptions(), 1e-9),
        ("town002_utf8.shp", GridFileOptions(), 1e-9),
        ("town002_gk111.shp", GridFileOptions(), 1e-6),
        ("town002_local.shp", GridFileOptions(), 1e-6),
        ("town002.kml", GridFileOptions(), 1e-9),
        ("town002.kmz", GridFileOptions(), 1e-9),
        ("town002_ovital.kml", GridFileOptions(), 1e-9),
        ("town002.gpkg", GridFileOptions(layer: "grids"), 1e-9),
    ]

    @Test(arguments: formats.indices)
    func everyFormatGivesTheGeoJSONsGrids(_ index: Int) throws {
        let (file, options, tolerance) = Self.formats[index]
        let reference = try Self.imported(Self.fixture("town002.geojson"))
        #expect(reference.grids.count == 15)
        #expect(reference.grids.allSatisfy { $0.workerName != nil && $0.workerPhone != nil && ($0.villageName.hasSuffix("社区") || $0.villageName.hasSuffix("村")) })
        let got = try Self.imported(Self.fixture(file), options)
        Self.expectSameGrids(got.grids, as: reference.grids, file)
        #expect(got.shapes.map(\.code) == reference.shapes.map(\.code))
        for (shape, expected) in zip(got.shapes, reference.shapes) {
            let difference = try Self.largestVertexDifference(shape.wkb, expected.wkb)
            #expect(difference <= tolerance, "\(file): grid \(shape.code) differs by \(difference)°")
        }
    }

    @Test func theReportSaysHowTheFileWasRead() throws {
        let gbk = try Self.imported(Self.fixture("town002_gbk.shp")).report.description
        #expect(gbk.contains("read ESRI Shapefile, text GBK (no .cpg; the text is not valid UTF-8), CRS EPSG:4326 (the file's)"))
        #expect(gbk.contains("fields: 网格编码 → code, 网格名称 → name, 村编码 → village_code, 村名称 → village_name, 乡镇编码 → town_code, "
                             + "乡镇名称 → town_name, 网格员 → worker_name, 联系电话 → worker_phone"))
        // UTF-8 names are cut to 10 bytes: three Chinese characters and a cut one.
        let utf8 = try Self.imported(Self.fixture("town002_utf8.shp")).report.description
        #expect(utf8.contains("text UTF-8 (from town002_utf8.cpg)"))
        #expect(utf8.contains("fields: 网格编 → code, 网格名 → name"))
        let gk = try Self.imported(Self.fixture("town002_gk111.shp")).report.description
        #expect(gk.contains("CRS EPSG:4546 (the file's)"))
        #expect(gk.contains("village_co → village_code"))
        let gpkg = try Self.imported(Self.fixture("town002.gpkg"), GridFileOptions(layer: "grids")).report.description
        #expect(gpkg.contains("read layer grids of GPKG"))
    }

    /// --crs overrides the file's CRS: the same Shapefile read as GCJ-02 moves by hundreds of metres.
    @Test func aGivenCRSOverridesTheFiles() throws {
        let path = Self.fixture("town002_gbk.shp")
        let got = try Self.imported(path, GridFileOptions(crs: .gcj02))
        #expect(got.report.description.contains("CRS gcj02 (as given)"))
        let reference = try Self.imported(Self.fixture("town002.geojson"))
        let difference = try Self.largestVertexDifference(got.shapes[0].wkb, reference.shapes[0].wkb)
        #expect(difference > 1e-3 && difference < 1e-2)
    }

    /// The same import through the draft path.
    @Test func aDraftCanStartFromAShapefile() throws {
        let t = try TemporaryStore()
        let report = try t.store.importDraft(path: Self.fixture("town002_gbk.shp"), name: "草案")
        let draft = try #require(report.generation)
        #expect(try t.store.grids(generation: draft).map(\.name).contains("白林社区第一网格"))
        #expect(try t.store.grids(generation: draft).count == 15)
    }

    /// The DXF has no attribute table: each grid's code is its CAD layer, and it states no CRS.
    /// A closed polyline (as CAD draws an area) is read as the polygon it outlines.
    @Test(arguments: ["town002.dxf", "town002_lines.dxf"])
    func aDXFReadsWithItsLayerAsTheCodeAndAGivenCRS(_ file: String) throws {
        let path = Self.fixture(file)
        var mapping = GridFieldMapping()
        mapping.code = "Layer"
        #expect { _ = try Self.imported(path, GridFileOptions(mapping: mapping)) } throws: {
            "\($0)".contains("\(path): the file states no CRS; give it with --crs")
        }
        let got = try Self.imported(path, GridFileOptions(mapping: mapping, crs: .wgs84))
        let reference = try Self.imported(Self.fixture("town002.geojson"))
        #expect(got.grids.map(\.code) == reference.grids.map(\.code))
        // Parents come from the codes when the file has no such fields.
        #expect(got.grids.map(\.villageCode) == reference.grids.map(\.villageCode))
        for (shape, expected) in zip(got.shapes, reference.shapes) {
            #expect(try Self.largestVertexDifference(shape.wkb, expected.wkb) <= 1e-9)
        }
    }

    @Test func chineseAndCutFieldNamesResolve() {
        let mapping = GridFieldMapping()
        #expect(mapping.resolve(fields: ["网格代码", "村(社区)", "乡镇(街道)", "联系电话"], byteLimit: nil)
                == [.code: "网格代码", .villageName: "村(社区)", .townName: "乡镇(街道)", .workerPhone: "联系电话"])
        // Letter case does not matter (ArcGIS writes CODE, KML Name).
        #expect(mapping.resolve(fields: ["CODE", "Name"], byteLimit: nil) == [.code: "CODE", .name: "Name"])
        // Cut names match only where the format cuts them.
        #expect(mapping.resolve(fields: ["village_co", "worker_pho"], byteLimit: 10) == [.villageCode: "village_co", .workerPhone: "worker_pho"])
        #expect(mapping.resolve(fields: ["village_co"], byteLimit: nil).isEmpty)
        // A configured name replaces the defaults, Chinese ones included, and matches in its cut form.
        var configured = GridFieldMapping()
        configured.code = "网格单元编码"
        #expect(configured.candidates(for: .code) == ["网格单元编码"])
        #expect(configured.resolve(fields: ["网格编码", "网格单元编码"], byteLimit: nil)[.code] == "网格单元编码")
        #expect(configured.resolve(fields: ["网格编码", "网格单元编"], byteLimit: 10)[.code] == "网格单元编") // GBK: 5 characters fit
        #expect(configured.resolve(fields: ["网格编码", "网格单"], byteLimit: 10)[.code] == "网格单") // UTF-8: 3 do
        #expect(configured.resolve(fields: ["网格编码", "网格单元编"], byteLimit: nil).isEmpty)
    }
}

/// Bad grid files: a clear message naming the file, layer, feature and field, and nothing stored.
@Suite struct GridFileErrorTests {
    static func fixture(_ name: String) -> String { GridFileFormatTests.fixture(name) }

    /// A store holding the sample county.
    func populated() throws -> TemporaryStore {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        return t
    }

    func expectRefusal(_ t: TemporaryStore, _ path: String, _ options: GridFileOptions = GridFileOptions(), containing parts: [String]) throws {
        let before = try t.snapshot()
        do {
            _ = try t.store.importGrids(path: path, options, force: true)
            Issue.record("\(path) was imported but should have been refused with \(parts)")
        } catch let error as WanggeError {
            for part in parts { #expect(error.message.contains(part), "message \"\(error.message)\" lacks \"\(part)\"") }
            #expect(error.message.contains("nothing was imported"), "\(error.message)")
        }
        #expect(try t.snapshot() == before, "the database changed after a refused import")
    }

    /// A copy of a fixture Shapefile's parts in a folder of their own, without those in `leaving`.
    func shapefileCopy(_ t: TemporaryStore, _ name: String, leaving: Set<String>) throws -> String {
        let folder = Fixtures.temporaryPath("shapefile")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        t.files.append(folder)
        for ext in ["shp", "shx", "dbf", "prj", "cpg"] where !leaving.contains(ext) {
            let part = Self.fixture("\(name).\(ext)")
            if FileManager.default.fileExists(atPath: part) { try FileManager.default.copyItem(atPath: part, toPath: "\(folder)/\(name).\(ext)") }
        }
        return "\(folder)/\(name).shp"
    }

    @Test func aShapefileMissingItsDbfOrShx() throws {
        let t = try populated()
        let noDbf = try shapefileCopy(t, "town002_gbk", leaving: ["dbf"])
        try expectRefusal(t, noDbf, containing: [noDbf, "the Shapefile's .dbf (its attribute table) is missing"])
        let noShx = try shapefileCopy(t, "town002_gbk", leaving: ["shx"])
        try expectRefusal(t, noShx, containing: [noShx, "the Shapefile's .shx (its index) is missing"])
    }

    @Test func aShapefileWithoutItsPrjNeedsACRS() throws {
        let t = try populated()
        let path = try shapefileCopy(t, "town002_gbk", leaving: ["prj"])
        try expectRefusal(t, path, containing: [path, "the file states no CRS (its .prj is missing); give it with --crs"])
        // CGCS2000 (EPSG:4490) is how bureaus state lon/lat; it imports as the GeoJSON does.
        let got = try GridFileFormatTests.imported(path, GridFileOptions(crs: .epsg(4490)))
        let reference = try GridFileFormatTests.imported(GridFileFormatTests.fixture("town002.geojson"))
        GridFileFormatTests.expectSameGrids(got.grids, as: reference.grids, path)
        for (shape, expected) in zip(got.shapes, reference.shapes) {
            #expect(try GridFileFormatTests.largestVertexDifference(shape.wkb, expected.wkb) <= 1e-6)
        }
        #expect(got.report.description.contains("CRS EPSG:4490 (as given)"))
    }

    @Test func aFileGDALCannotOpen() throws {
        let t = try populated()
        let path = try t.file("grids.kml", "这不是 KML")
        try expectRefusal(t, path, containing: [path, "GDAL cannot open it as a vector file"])
        // Only the grid formats' drivers open files: a VRT could make GDAL read other files or the network.
        let vrt = try t.file("grids.vrt", "<OGRVRTDataSource><OGRVRTLayer name=\"g\"><SrcDataSource>\(Self.fixture("town002.geojson"))</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>")
        try expectRefusal(t, vrt, containing: [vrt, "GDAL cannot open it as a vector file"])
        let csv = try t.file("grids.csv", "code,WKT\nX-1,\"POLYGON((112 28,112.01 28,112.01 28.01,112 28))\"\n")
        try expectRefusal(t, csv, containing: [csv, "GDAL cannot open it as a vector file"])
        let missing = Fixtures.temporaryPath("missing.shp")
        try expectRefusal(t, missing, containing: [missing, "no such file"])
    }

    @Test func aLayerOfPointsIsRefused() throws {
        let t = try populated()
        let path = Self.fixture("points.shp")
        try expectRefusal(t, path, containing: ["\(path), layer points: the layer holds Point geometries, not polygons"])
    }

    @Test func aFeatureWithoutGeometryIsNamed() throws {
        let t = try populated()
        let path = Self.fixture("nullgeom.gpkg")
        try expectRefusal(t, path, containing: ["\(path), layer grids: feature 2 (grid 430981-002-002-001): no geometry"])
    }

    @Test func severalPolygonLayersNeedALayer() throws {
        let t = try populated()
        let path = Self.fixture("town002.gpkg")
        try expectRefusal(t, path, containing: [path, "more than one layer may hold polygons; choose one with --layer NAME",
                                                "grids (Multi Polygon, 15 features), villages (Multi Polygon, 9 features)"])
        try expectRefusal(t, path, GridFileOptions(layer: "村"), containing: [path, "no layer \"村\"; its layers are: grids"])
    }

    @Test func theWrongEncodingIsNamedWithTheField() throws {
        let t = try populated()
        let path = Self.fixture("town002_gbk.shp")
        try expectRefusal(t, path, GridFileOptions(encoding: .utf8),
                          containing: ["\(path), layer town002_gbk: field 1: its name is not valid UTF-8 (give the encoding, e.g. --encoding gbk)"])
        try expectRefusal(t, Self.fixture("town002.kml"), GridFileOptions(encoding: .gbk), containing: ["--encoding applies to Shapefiles"])
    }

    @Test func aFileWithoutACodeFieldListsItsFields() throws {
        let t = try populated()
        let path = Self.fixture("town002.dxf")
        try expectRefusal(t, path, GridFileOptions(crs: .wgs84),
                          containing: ["\(path), layer entities: no grid-code field: looked for code, 网格编码, 网格代码, 网格编号",
                                       "the fields are: Layer, PaperSpace, SubClasses", "--code-field"])
    }
}
