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
    static let bowTie = "[[[112.0,28.0],[112.01,28.01],[112.01,28.0],[112.0,28.01],[112.0,28.0]]]"

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
        } catch let error as StoreError {
            message = error.message
        }
        for part in parts { #expect(message.contains(part), "message \"\(message)\" lacks \"\(part)\"") }
        #expect(try t.snapshot() == before, "the database changed after a failed import")
    }

    @Test func invalidPolygonIsNamedAndRepairedOnRequest() throws {
        let t = try populated()
        let path = try t.file("bad.geojson", Self.collection([Self.feature("X-1", Self.square), Self.feature("X-2", Self.bowTie)]))
        try expectFailure(t, containing: [path, "feature 2 (grid X-2)", "invalid polygon: Self-intersection at lon 112.0050000, lat 28.0050000", "--make-valid"]) {
            _ = try t.store.importGrids(path: path)
        }
        let report = try t.store.importGrids(path: path, makeValid: true)
        #expect(report.repaired.count == 1 && report.repaired[0].contains("feature 2 (grid X-2): Self-intersection"))
        #expect(try t.store.grids().count == 2)
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
        try expectFailure(t, containing: ["feature 1 (grid X-1): geometry is a LineString, expected Polygon or MultiPolygon"]) {
            _ = try t.store.importGrids(path: line)
        }
        let noCode = try t.file("nocode.geojson", "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"NAME\":\"a\"},\"geometry\":null}]}")
        try expectFailure(t, containing: ["feature 1: no grid code in property \"code\""]) { _ = try t.store.importGrids(path: noCode) }
        let projected = try t.file("projected.geojson", Self.collection([Self.feature("X-1", "[[[500000,3300000],[501000,3300000],[501000,3301000],[500000,3300000]]]")]))
        try expectFailure(t, containing: ["coordinates outside longitude", "--crs"]) { _ = try t.store.importGrids(path: projected) }
        // The same file in its real CRS imports.
        _ = try t.store.importGrids(path: projected, crs: .epsg(4547))
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
        try expectFailure(t, containing: ["--crs EPSG:999999", "crs not found"]) {
            _ = try t.store.importPoints(.households, path: path, crs: .epsg(999_999))
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

    @Test func manyProblemsAreListedTogether() throws {
        let t = try populated()
        var csv = "id,lon,lat\n"
        for i in 0..<30 { csv += "H\(i),x,28.9\n" }
        let path = try t.file("many.csv", csv)
        try expectFailure(t, containing: ["line 2 (id H0)", "line 21 (id H19)", "… and 10 more problems"]) {
            _ = try t.store.importPoints(.households, path: path)
        }
    }

    @Test func pointsBeforeGridsAreRefused() throws {
        let t = try TemporaryStore()
        let path = try t.file("early.csv", "id,lon,lat\nH1,112.4,28.9\n")
        try expectFailure(t, containing: ["no grids yet", "wangge import grids"]) { _ = try t.store.importPoints(.households, path: path) }
    }
}
