import Foundation
import Testing
import Localization
import TestSupport
import GeoKit
@testable import GeoFiles

/// The GDAL reader on the grid fixtures (Tests/Fixtures/grids), checked against GDAL's own ogrinfo.
@Suite struct VectorDatasetTests {
    static func fixture(_ name: String) -> String { Fixtures.path("Tests/Fixtures/grids/\(name)") }

    static let files = ["town002.geojson", "town002_gbk.shp", "town002_utf8.shp", "town002_gk111.shp", "town002_local.shp",
                        "town002.kml", "town002.kmz", "town002_ovital.kml", "town002.gpkg", "town002.dxf", "town002_lines.dxf", "points.shp", "nullgeom.gpkg"]

    static func ogrinfoCounts(_ path: String) throws -> [String: Int] { try Fixtures.ogrinfoCounts(path) }

    @Test(arguments: files)
    func featureCountsAgreeWithOgrinfo(_ file: String) throws {
        let path = Self.fixture(file)
        let expected = try Self.ogrinfoCounts(path)
        #expect(!expected.isEmpty)
        let dataset = try VectorDataset(path: path)
        var counts: [String: Int] = [:]
        for layer in try dataset.layers() {
            counts[layer.name] = try layer.features().count
            #expect(layer.featureCount == nil || layer.featureCount == counts[layer.name])
        }
        #expect(counts == expected)
    }

    /// GeoJSON goes through GDAL as every other format does: for the whole sample county it
    /// gives exactly the shapes (bit for bit) and properties the GeoJSON parser and GEOS give.
    @Test func geoJSONThroughGDALIsWhatTheGeoJSONParserReads() throws {
        let context = try GEOSContext()
        let document = try GeoJSONDocument(contentsOf: Fixtures.sampleGrids)
        let features = try VectorDataset(path: Fixtures.sampleGrids).layers()[0].features()
        #expect(features.count == document.features.count)
        for (feature, expected) in zip(features, document.features) {
            let wkb = try #require(feature.wkb)
            #expect(try Geometry(wkb: wkb, context: context).wkb() == Geometry(geoJSON: expected.geometryJSON, context: context).wkb())
            #expect(feature.values == expected.properties.compactMapValues(\.text))
        }
    }

    @Test func aShapefilesEncodingComesFromItsCpgOrItsBytes() throws {
        let gbk = try VectorDataset(path: Self.fixture("town002_gbk.shp"))
        #expect(gbk.encodingNote == "GBK (no .cpg; the text is not valid UTF-8)")
        let layer = try #require(try gbk.layers().first)
        #expect(layer.fieldNames == ["网格编码", "网格名称", "村编码", "村名称", "乡镇编码", "乡镇名称", "网格员", "联系电话"])
        #expect(try layer.features()[0].values["网格名称"] == "白林社区第一网格")
        // Forced to GBK, the same file reads the same.
        let forced = try VectorDataset(path: Self.fixture("town002_gbk.shp"), encoding: .gbk)
        #expect(forced.encodingNote == "GBK (as given)")
        #expect(try forced.layers()[0].features()[0].values == layer.features()[0].values)
        // A UTF-8 .dbf keeps 10 bytes of a name: 网格编码 (12 bytes) loses its cut last character.
        let utf8 = try VectorDataset(path: Self.fixture("town002_utf8.shp"))
        #expect(utf8.encodingNote == "UTF-8 (from town002_utf8.cpg)")
        #expect(try utf8.layers()[0].fieldNames == ["网格编", "网格名", "村编码", "村名称", "乡镇编", "乡镇名", "网格员", "联系电"])
    }

    /// The same UTF-8 .dbf without its .cpg is detected as UTF-8, cut names and all.
    @Test func aUTF8ShapefileWithoutCpgIsDetected() throws {
        let folder = Fixtures.temporaryPath("utf8")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for ext in ["shp", "shx", "dbf", "prj"] {
            try FileManager.default.copyItem(atPath: Self.fixture("town002_utf8.\(ext)"), toPath: "\(folder)/t.\(ext)")
        }
        let dataset = try VectorDataset(path: "\(folder)/t.shp")
        #expect(dataset.encodingNote == "UTF-8 (no .cpg; the text is valid UTF-8)")
        #expect(try dataset.layers()[0].features()[0].values["网格名"] == "白林社区第一网格")
    }

    @Test func layersStateTheirCRS() throws {
        func crs(_ file: String) throws -> CoordinateSystem? { try VectorDataset(path: Self.fixture(file)).layers()[0].coordinateSystem() }
        #expect(try crs("town002.geojson") == .wgs84)
        #expect(try crs("town002_gbk.shp") == .wgs84)
        #expect(try crs("town002.kmz") == .wgs84)
        #expect(try crs("town002.gpkg") == .wgs84)
        // An ArcGIS-style .prj names no code; GDAL matches it to CGCS2000 / 3-degree Gauss-Kruger CM 111E.
        #expect(try crs("town002_gk111.shp") == .epsg(4546))
        #expect(try crs("town002.dxf") == nil)
        // A local survey CRS has no EPSG code: its WKT goes to PROJ, and converts as the GeoJSON's coordinates were projected.
        let local = try #require(try crs("town002_local.shp"))
        guard case .definition(let name, let text) = local else { Issue.record("expected a definition, got \(local)"); return }
        #expect(name == "unknown" && text.contains("112.35"))
        let converter = try WGS84Converter(from: local, context: try PROJContext())
        let centre = try converter.toWGS84(x: 500_000, y: 3_190_000)
        #expect(abs(centre.lon - 112.35) < 1e-9)
    }

    /// EPSG:4545 (CGCS2000 / 3-degree GK CM 108E) and its neighbours convert, each within its own zone.
    @Test func gaussKrugerZonesConvert() throws {
        let context = try PROJContext()
        for (code, meridian) in [(4545, 108.0), (4546, 111.0), (4547, 114.0)] {
            let point = try WGS84Converter(from: .epsg(code), context: context).toWGS84(x: 500_000, y: 3_190_000)
            #expect(abs(point.lon - meridian) < 1e-9, "EPSG:\(code)")
            #expect(abs(point.lat - 28.82) < 0.01, "EPSG:\(code)")
        }
    }

    @Test func encodingNamesParse() throws {
        #expect(try TextEncoding(parsing: "GBK") == .gbk)
        #expect(try TextEncoding(parsing: "gb18030") == .gbk)
        #expect(try TextEncoding(parsing: "UTF8") == .utf8)
        #expect(try TextEncoding(parsing: "utf-8") == .utf8)
        #expect(throws: GeoError(.verbatim("unknown encoding 'big5': use gbk or utf-8"))) { try TextEncoding(parsing: "big5") }
    }

    @Test func aCutLastCharacterIsDroppedOnlyWhereAllowed() {
        // 网格编码 in UTF-8 cut to 10 bytes: 网格编 and the first byte of 码.
        var bytes = Array("网格编码".utf8.prefix(10)).map { CChar(bitPattern: $0) }
        bytes.append(0)
        #expect(UTF8Text.decode(bytes, allowingCutEnd: true) == "网格编")
        #expect(UTF8Text.decode(bytes) == nil)
        // GBK bytes of 网格 are not UTF-8 with a cut end.
        var gbk: [CChar] = [0xCD, 0xF8, 0xB8, 0xF1].map { CChar(bitPattern: $0) }
        gbk.append(0)
        #expect(UTF8Text.decode(gbk, allowingCutEnd: true) == nil)
    }
}
