import Foundation
import GeoFiles
import GeoKit
import GridStore
import GridCore
import Localization

/// The versions of the geometry libraries, for summaries and benchmark headers.
public enum LibraryVersions {
    /// This build of wangge.
    public static let wangge = "0.9.0 (2026-11)"

    public static var geometry: String { "GEOS \(GEOSContext.version) · PROJ \(PROJContext.version)" }

    /// What `wangge --version` prints: wangge, the C libraries it runs with, the schema
    /// it writes and, given a database, the schema that database has.
    public static func report(database: String?) throws -> [(name: Localized, value: Localized)] {
        let (sqlite, spatialite) = try SpatiaLiteDatabase.libraryVersions()
        let known = SpatiaLiteDatabase.knownMigrations
        var lines: [(name: Localized, value: Localized)] = [
            ("wangge", wangge), ("GEOS", GEOSContext.version), ("PROJ", PROJContext.version), ("GDAL", VectorDataset.gdalVersion),
            ("SQLite", sqlite), ("SpatiaLite", spatialite),
        ].map { (.verbatim($0.0), .verbatim($0.1)) }
        lines.append((tr("schema"), tr("\(known.count) steps, the last \(known.last ?? "?")")))
        if let database {
            let applied = try SpatiaLiteDatabase.appliedMigrations(path: database)
            let missing = known.filter { !applied.contains($0) }
            let unknown = applied.filter { !known.contains($0) }
            let state: Localized = if !unknown.isEmpty {
                tr("made by a newer wangge (\(unknown.joined(separator: ", ")))")
            } else if missing.isEmpty {
                tr("up to date")
            } else if missing.count == 1 {
                tr("1 step behind (the next command that opens it brings it up to date)")
            } else {
                tr("\(missing.count) steps behind (the next command that opens it brings it up to date)")
            }
            lines.append((tr("database"), tr("\(database): \(applied.count) schema steps, \(state)")))
        }
        return lines
    }
}

/// Plain GEOS work the benchmarks measure or compare with.
public enum GEOSBaseline {
    /// A loop that creates and frees GEOS geometries (boxes, prepared tests, unions, WKB and WKT round trips):
    /// `wangge bench memory` watches the process's resident memory across it.
    public static var churn: (Int) throws -> Void {
        get throws {
            let context = try GEOSContext()
            return { n in
                for i in 0..<n {
                    let x = Double(i % 1000) / 1000
                    let box = try Geometry.box(Envelope(minX: x, minY: 0, maxX: x + 1, maxY: 1), context: context)
                    let prepared = try PreparedGeometry(box)
                    let point = try Geometry.point(x: x + 0.5, y: 0.5, context: context)
                    guard try prepared.contains(point) else { throw WanggeError.invalid(tr("prepared contains failed")) }
                    let union = try box.clone().union(point)
                    _ = try Geometry(wkb: union.wkb(), context: context).wkt()
                    _ = try box.validityReason()
                }
            }
        }
    }

    /// The polygons of a GeoJSON file as grid shapes (code from the `code` property).
    public static func gridShapes(path: String) throws -> [GridShape] {
        let geos = try GEOSContext()
        let document = try GeoJSONDocument(contentsOf: path)
        return try document.features.map { f in
            GridShape(code: f.properties["code"]?.text ?? "feature-\(f.index)", wkb: try Geometry(geoJSON: f.geometryJSON, context: geos).wkb())
        }
    }

    /// Each shape's vertex count.
    public static func vertexCounts(_ shapes: [GridShape]) throws -> [Int] {
        let geos = try GEOSContext()
        return try shapes.map { try Geometry(wkb: $0.wkb, context: geos).numberOfCoordinates }
    }
}
