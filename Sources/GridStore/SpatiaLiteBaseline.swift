import Foundation
import GRDB
import GeoKit
import GridCore

/// SpatiaLite's own point-in-polygon join, the baseline `wangge bench assign` compares the fast path with.
public enum SpatiaLiteBaseline {
    /// Loads the grids and points into a scratch database with spatial indexes, then times the join alone:
    /// grids in the outer loop (so SpatiaLite's cached prepared geometry is reused) against the points' index.
    public static func join(shapes: [GridShape], points: [LonLat]) throws -> (seconds: Double, matched: Int) {
        let path = NSTemporaryDirectory() + "wangge-bench-\(getpid()).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try GridStore(path: path)
        try store.database.pool.write { db in
            try db.execute(sql: "CREATE TABLE bench_grids (id INTEGER PRIMARY KEY, code TEXT)")
            try db.execute(sql: "SELECT AddGeometryColumn('bench_grids', 'geom', 4326, 'MULTIPOLYGON', 'XY')")
            let insertGrid = try db.makeStatement(sql: "INSERT INTO bench_grids (id, code, geom) VALUES (?, ?, CastToMultiPolygon(GeomFromWKB(?, 4326)))")
            for (i, shape) in shapes.enumerated() { try insertGrid.execute(arguments: [i, shape.code, Data(shape.wkb)]) }
            try db.execute(sql: "SELECT CreateSpatialIndex('bench_grids', 'geom')")
            try db.execute(sql: "CREATE TABLE bench_points (id INTEGER PRIMARY KEY, x REAL, y REAL)")
            let insert = try db.makeStatement(sql: "INSERT INTO bench_points (id, x, y) VALUES (?, ?, ?)")
            for (i, p) in points.enumerated() { try insert.execute(arguments: [i, p.lon, p.lat]) }
            try db.execute(sql: "SELECT AddGeometryColumn('bench_points', 'geom', 4326, 'POINT', 'XY')")
            try db.execute(sql: "UPDATE bench_points SET geom = MakePoint(x, y, 4326)")
            try db.execute(sql: "SELECT CreateSpatialIndex('bench_points', 'geom')")
        }
        let start = DispatchTime.now()
        let matched = try store.database.pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM bench_grids g JOIN bench_points p
                ON p.ROWID IN (SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'bench_points' AND search_frame = g.geom)
                AND ST_Within(p.geom, g.geom)
                """) ?? 0
        }
        return (Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9, matched)
    }
}
