import Foundation
import GRDB
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridStore

/// A temporary store, removed at the end of the test.
final class TemporaryStore {
    let path = Fixtures.temporaryPath("store.sqlite")
    let store: GridStore
    var files: [String] = []

    /// An empty store, or a copy of a template database.
    init(copyOf template: String? = nil) throws {
        if let template { try FileManager.default.copyItem(atPath: template, toPath: path) }
        store = try GridStore(path: path)
    }

    deinit {
        Fixtures.removeDatabase(path)
        for file in files { try? FileManager.default.removeItem(atPath: file) }
    }

    /// Writes a fixture file and remembers to remove it.
    func file(_ name: String, _ text: String) throws -> String {
        let path = Fixtures.temporaryPath(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        files.append(path)
        return path
    }

    /// Row counts of every table an import may touch, to prove a failed import changed nothing.
    func snapshot() throws -> [String: Int] {
        try store.database.pool.read { db in
            var counts: [String: Int] = [:]
            for table in ["generations", "towns", "villages", "grids", "households", "cameras", "incidents", "assignments"] {
                counts[table] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)")
            }
            counts["active"] = try Int.fetchOne(db, sql: "SELECT id FROM generations WHERE status = 'active'") ?? -1
            return counts
        }
    }
}

@Suite struct StoreTests {
    @Test func schemaIsASpatiaLiteDatabaseWithRegisteredLayers() throws {
        let t = try TemporaryStore()
        let layers = try t.store.database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT f_table_name, geometry_type, srid, spatial_index_enabled FROM geometry_columns ORDER BY f_table_name")
                .map { "\($0[0] as String):\($0[1] as Int):\($0[2] as Int):\($0[3] as Int)" }
        }
        // SpatiaLite geometry type codes: 1 POINT, 6 MULTIPOLYGON.
        #expect(layers == ["cameras:1:4326:1", "grids:6:4326:1", "households:1:4326:1", "incidents:1:4326:1", "towns:6:4326:1", "villages:6:4326:1"])
        #expect(try t.store.database.spatialiteVersion() == "5.0.1")
        // Opening again runs no migration twice.
        _ = try GridStore(path: t.path)
    }

    @Test func importsTheSampleCountyAndCrossChecksWithSpatiaLite() throws {
        let t = try TemporaryStore()
        let report = try t.store.importGrids(path: Fixtures.sampleGrids)
        #expect(report.imported == 271 && report.generation == 1)
        let grids = try t.store.grids()
        #expect(grids.count == 271)
        #expect(Set(grids.map(\.townCode)).count == 13)
        // Random households over the county's envelope: some fall outside.
        var random = SeededRandom(seed: 5)
        let envelope = Envelope(minX: 112.24, minY: 28.70, maxX: 112.95, maxY: 29.19)
        var csv = "id,lon,lat,members,tags\n"
        for i in 0..<3_000 {
            let p = random.point(in: envelope)
            csv += "H\(i),\(p.lon),\(p.lat),\(i % 5 + 1),\(i % 7 == 0 ? "独居老人" : "")\n"
        }
        let households = try t.store.importPoints(.households, path: try t.file("h.csv", csv))
        #expect(households.imported == 3_000)
        let inside = (households.methods[.inside] ?? 0) + (households.methods[.boundary] ?? 0)
        // SpatiaLite's own ST_Covers, through its spatial index, must agree point by point.
        let disagreements = try t.store.database.pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM households h JOIN assignments a ON a.layer = 'household' AND a.feature_id = h.id
                WHERE (a.method IN ('inside', 'boundary')) != EXISTS (
                    SELECT 1 FROM grids g WHERE g.ROWID IN (SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'grids' AND search_frame = h.geom)
                    AND ST_Covers(g.geom, h.geom) AND g.code = a.grid_code)
                """)
        }
        #expect(disagreements == 0)
        let spatialiteInside = try t.store.database.pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(DISTINCT h.id) FROM households h JOIN grids g
                ON g.ROWID IN (SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'grids' AND search_frame = h.geom)
                AND ST_Covers(g.geom, h.geom)
                """)
        }
        #expect(spatialiteInside == inside)
        // Statistics add up to what was imported.
        let towns = try t.store.statistics(by: .town)
        let assigned = inside + (households.methods[.nearest] ?? 0)
        #expect(towns.reduce(0) { $0 + $1.households } == assigned)
        #expect(try t.store.statistics(by: .grid).count == 271)
        #expect(try t.store.statistics(by: .village).reduce(0) { $0 + $1.residents } == towns.reduce(0) { $0 + $1.residents })
        // Tag filter.
        let busiest = try #require(try t.store.statistics(by: .grid).max { $0.households < $1.households })
        let all = try t.store.households(grid: busiest.code)
        let alone = try t.store.households(grid: busiest.code, tag: "独居老人")
        #expect(all.count == busiest.households && alone.allSatisfy { $0.tags == ["独居老人"] })
        #expect(alone.count == all.filter { $0.tags.contains("独居老人") }.count)
    }

    @Test func gcj02InputLandsWhereTheWGS84PointDoes() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        var random = SeededRandom(seed: 8)
        var wgs = "id,lon,lat\n", gcj = "id,lon,lat\n"
        for i in 0..<300 {
            let p = random.point(in: Envelope(minX: 112.3, minY: 28.8, maxX: 112.8, maxY: 29.1))
            let g = ChineseCoordinates.wgs84ToGCJ02(lon: p.lon, lat: p.lat)
            wgs += "W\(i),\(p.lon),\(p.lat)\n"
            gcj += "G\(i),\(g.lon),\(g.lat)\n"
        }
        _ = try t.store.importPoints(.incidents, path: try t.file("w.csv", wgs))
        _ = try t.store.importPoints(.incidents, path: try t.file("g.csv", gcj), crs: .gcj02)
        let mismatches = try t.store.database.pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM assignments w JOIN assignments g ON g.feature_id = 'G' || substr(w.feature_id, 2)
                WHERE w.feature_id LIKE 'W%' AND w.grid_code IS NOT g.grid_code
                """)
        }
        #expect(mismatches == 0)
        let stored = try t.store.database.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT source_crs, X(geom) - (SELECT X(geom) FROM incidents WHERE id = 'W0') FROM incidents WHERE id = 'G0'")
        }
        #expect(stored?[0] == "gcj02")
        #expect(abs((stored?[1] as Double?) ?? 1) < 1e-9)
    }

    @Test func importsGeoJSONPointsInAProjectedCRS() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        // The county seat in CGCS2000 / 3-degree Gauss-Krüger CM 111E, computed with PROJ.
        let proj = try PROJContext()
        let seat = try CoordinateTransformer(from: "EPSG:4326", to: "EPSG:4546", context: proj).transform(x: 112.355, y: 28.842)
        let geojson = """
            {"type":"FeatureCollection","features":[
             {"type":"Feature","id":"K1","properties":{"type":"天网","heading_deg":90,"fov_deg":60,"range_m":120,"status":"online"},
              "geometry":{"type":"Point","coordinates":[\(seat.x),\(seat.y)]}},
             {"type":"Feature","properties":{"id":"K2","type":"雪亮","status":"offline"},
              "geometry":{"type":"Point","coordinates":[\(seat.x + 1000),\(seat.y)]}}]}
            """
        let report = try t.store.importPoints(.cameras, path: try t.file("cams.geojson", geojson), crs: .epsg(4546))
        #expect(report.imported == 2)
        let rows = try t.store.database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, X(geom), Y(geom), heading_deg, status FROM cameras ORDER BY id")
        }
        #expect(rows.map { $0[0] as String } == ["K1", "K2"])
        #expect(abs((rows[0][1] as Double) - 112.355) < 1e-8 && abs((rows[0][2] as Double) - 28.842) < 1e-8)
        #expect(rows[0][3] as Double? == 90 && rows[1][4] as String == "offline")
        let line = try t.file("line.geojson", "{\"type\":\"Feature\",\"properties\":{\"id\":\"K3\"},\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[112,28],[113,29]]}}")
        #expect { _ = try t.store.importPoints(.cameras, path: line) } throws: { error in
            "\(error)".contains("feature 1: geometry is LineString, expected Point")
        }
    }

    @Test func reimportingGridsKeepsTheOldGenerationsAssignments() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        _ = try t.store.importPoints(.cameras, path: try t.file("c.csv", "id,lon,lat,type,status\nC1,112.355,28.842,天网,online\nC2,112.6,29.0,雪亮,offline\n"))
        // Every stored point ends up outside North Carolina's counties: that takes --force.
        let mapping = { var m = GridFieldMapping(); m.code = "NAME"; return m }()
        #expect { _ = try t.store.importGrids(path: Fixtures.northCarolina, GridFileOptions(mapping: mapping)) } throws: {
            "\($0)".contains("would leave 2 of the 2 stored households, cameras and incidents (100%) outside every grid")
        }
        let second = try t.store.importGrids(path: Fixtures.northCarolina, GridFileOptions(mapping: mapping), force: true)
        #expect(second.generation == 2)
        let rows = try t.store.database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT generation_id, method FROM assignments WHERE feature_id = 'C1' ORDER BY generation_id").map { "\($0[0] as Int):\($0[1] as String)" }
        }
        // In 沅江 the camera is inside a grid; North Carolina's counties are far away.
        #expect(rows == ["1:inside", "2:none"])
        let statuses = try t.store.database.pool.read { db in try String.fetchAll(db, sql: "SELECT status FROM generations ORDER BY id") }
        #expect(statuses == ["retired", "active"])
        #expect(try t.store.grids().count == 100)
        #expect(try t.store.grids(generation: 1).count == 271)
    }
}
