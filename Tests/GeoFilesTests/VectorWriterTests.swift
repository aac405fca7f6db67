import Foundation
import Testing
import TestSupport
import GeoKit
@testable import GeoFiles

/// The GDAL writer: one town's grids (Tests/Fixtures/grids/town002.geojson, Chinese names) written in
/// every format, read back through GDAL (this module's reader and `ogrinfo`).
@Suite struct VectorWriterTests {
    static let source = Fixtures.path("Tests/Fixtures/grids/town002.geojson")
    static let fields = [FieldDefinition("code", .text), FieldDefinition("name", .text), FieldDefinition("village_name", .text),
                         FieldDefinition("area_m2", .real)]

    /// The fixture's features: values of `fields` and WGS84 GeoJSON geometry.
    static func rows() throws -> [(values: [FieldValue?], geoJSON: String, properties: [String: String])] {
        let context = try GEOSContext()
        return try VectorDataset(path: source).layers()[0].features().map { feature in
            let values: [FieldValue?] = [.text(feature.values["code"]!), .text(feature.values["name"]!), .text(feature.values["village_name"]!),
                                         .real(Double(feature.values["area_m2"] ?? "0") ?? 0)]
            return (values, try Geometry(wkb: feature.wkb!, context: context).geoJSON(), feature.values)
        }
    }

    static func write(_ format: VectorFormat, to path: String, epsg: Int = 4326) throws -> Int {
        let writer = try VectorWriter(path: path, format: format, layerName: "grids", geometry: .polygon, epsg: epsg, fields: fields,
                                      placemarkName: "name")
        for row in try rows() { try writer.add(row.values, geoJSON: row.geoJSON) }
        try writer.finish()
        return writer.count
    }

    @Test(arguments: [VectorFormat.geojson, .csv, .xlsx, .gpkg, .shp, .kml])
    func everyFormatIsReadBackByGDALWithItsChineseText(_ format: VectorFormat) throws {
        let path = Fixtures.temporaryPath("town002.\(format.fileExtension)")
        let expected = try Self.rows()
        #expect(try Self.write(format, to: path) == expected.count)
        // ogrinfo counts every feature (a CSV or a workbook as a table).
        let counts = try VectorDatasetTests.ogrinfoCounts(path)
        #expect(counts.values.reduce(0, +) == expected.count, "\(counts)")
        if format == .csv {
            // For Excel on Chinese Windows: a BOM, then the areas as WKT beside the fields.
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(bytes.prefix(3) == Data([0xEF, 0xBB, 0xBF]))
            let lines = String(decoding: bytes.dropFirst(3), as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.first == "WKT,code,name,village_name,area_m2")
            #expect(lines.count == expected.count + 1)
            for (line, row) in zip(lines.dropFirst(), expected) {
                #expect(line.hasPrefix("\"MULTIPOLYGON (((") && line.contains(",\(row.properties["code"]!),\(row.properties["name"]!),"), "\(line.prefix(80))")
            }
            return
        }
        let dataset = format == .xlsx ? try VectorDataset(spreadsheet: path) : try VectorDataset(path: path)
        let features = try dataset.layers()[0].features()
        let names = features.map { $0.values["name"] ?? $0.values["Name"] }
        #expect(names == expected.map { $0.properties["name"] })
        #expect(features.map { $0.values["village_name"] ?? $0.values["village_na"] } == expected.map { $0.properties["village_name"] })
        if format != .xlsx && format != .csv {
            #expect(features.allSatisfy { $0.wkb != nil })
        }
    }

    @Test func aShapefileKeepsChineseTextAsUTF8WithItsCPG() throws {
        let path = Fixtures.temporaryPath("grids.shp")
        _ = try Self.write(.shp, to: path)
        let base = (path as NSString).deletingPathExtension
        #expect(try String(contentsOfFile: base + ".cpg", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "UTF-8")
        let dbf = try Data(contentsOf: URL(fileURLWithPath: base + ".dbf"))
        #expect(dbf.range(of: Data("白林社区第一网格".utf8)) != nil, "the .dbf holds the name's UTF-8 bytes")
        #expect(FileManager.default.fileExists(atPath: base + ".prj") && FileManager.default.fileExists(atPath: base + ".shx"))
        // GDAL opens it as UTF-8 because of the .cpg, with the name cut to 10 bytes.
        let dataset = try VectorDataset(path: path)
        #expect(dataset.encodingNote?.hasPrefix("UTF-8") == true)
        #expect(try dataset.layers()[0].fieldNames == ["code", "name", "village_na", "area_m2"])
    }

    @Test func aZippedShapefileIsOneFileGDALOpens() throws {
        let path = Fixtures.temporaryPath("grids.shp.zip")
        #expect(try Self.write(.shp, to: path) == 15)
        #expect(try VectorDatasetTests.ogrinfoCounts(path) == ["grids": 15])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(2) == Data("PK".utf8))
    }

    /// Reprojected with OSR to the county's Gauss-Krüger zone, as PROJ puts the same vertex.
    @Test func reprojectsToAMetricCRSAsPROJDoes() throws {
        let path = Fixtures.temporaryPath("grids-4547.gpkg")
        _ = try Self.write(.gpkg, to: path, epsg: 4547)
        let layer = try VectorDataset(path: path).layers()[0]
        #expect(try layer.coordinateSystem() == .epsg(4547))
        let context = try GEOSContext()
        func firstVertex(_ geometry: Geometry) throws -> (x: Double, y: Double) { try geometry.polygons()[0].rings()[0].coordinates()[0] }
        let written = try firstVertex(try Geometry(wkb: try #require(layer.features()[0].wkb), context: context))
        let original = try firstVertex(try Geometry(geoJSON: try Self.rows()[0].geoJSON, context: context))
        let expected = try CoordinateTransformer(from: "EPSG:4326", to: "EPSG:4547", context: try PROJContext()).transform(x: original.x, y: original.y)
        #expect(abs(written.x - expected.x) < 0.001 && abs(written.y - expected.y) < 0.001, "\(written) for \(expected)")
    }

    @Test func aCRSThatIsNotOneIsNamed() throws {
        #expect { try VectorWriter.isGeographic(epsg: 999_999) } throws: { "\($0)" == "EPSG:999999 is not a CRS PROJ knows" }
        #expect { try VectorWriter.isGeographic(epsg: 5773) } throws: { "\($0)".hasPrefix("EPSG:5773 is neither a geographic nor a projected CRS") }
        #expect(try VectorWriter.isGeographic(epsg: 4490))
        #expect(try !VectorWriter.isGeographic(epsg: 4547))
    }

    @Test func fileNamesGiveTheirFormat() {
        #expect(VectorFormat(fileName: "网格.SHP") == .shp)
        #expect(VectorFormat(fileName: "draft.shp.zip") == .shp)
        #expect(VectorFormat(fileName: "a.json") == .geojson)
        #expect(VectorFormat(fileName: "a.xlsx") == .xlsx)
        #expect(VectorFormat(fileName: "a.txt") == nil)
    }
}
