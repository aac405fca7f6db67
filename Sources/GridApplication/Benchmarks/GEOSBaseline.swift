import Foundation
import GeoKit
import GridCore

/// The versions of the geometry libraries, for summaries and benchmark headers.
public enum LibraryVersions {
    public static var geometry: String { "GEOS \(GEOSContext.version) · PROJ \(PROJContext.version)" }
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
                    guard try prepared.contains(point) else { throw WanggeError.invalid("prepared contains failed") }
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
