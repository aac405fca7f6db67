import GeoKit

/// Cuts a region into the Voronoi cells of seeds, so that the pieces share
/// their edges exactly: the Voronoi edges are computed in an isotropic plane
/// (metres, or lon · cos φ), mapped back to the region's coordinates, noded
/// with the region's boundary and polygonized; each face goes to its nearest
/// seed. Used for the sample county's grids and for the planner's suggested splits.
public enum VoronoiPartition {
    /// The Voronoi edges of `seeds` (plane coordinates) within `frame`, mapped
    /// to the region's coordinates by `fromPlane`.
    public static func edges(of seeds: [LonLat], frame: Envelope, context: GEOSContext,
                             fromPlane: (inout [Double]) throws -> Void) throws -> Geometry {
        let points = try seeds.map { try Geometry.point(x: $0.lon, y: $0.lat, context: context) }
        let multipoint = try Geometry.collection(.multiPoint, points, context: context)
        let planeEdges = try multipoint.voronoiDiagram(envelope: try Geometry.box(frame, context: context), onlyEdges: true)
        return try planeEdges.mapCoordinates(fromPlane)
    }

    /// The faces of `region` nearest each seed (one list per seed, possibly empty).
    /// `toPlane` maps a point of the region to the plane the seeds are in.
    public static func cells(of region: PreparedGeometry, seeds: [LonLat], frame: Envelope,
                             toPlane: (Double, Double) throws -> LonLat,
                             fromPlane: (inout [Double]) throws -> Void) throws -> [[Geometry]] {
        let context = region.base.context
        let edges = try edges(of: seeds, frame: frame, context: context, fromPlane: fromPlane)
        var parts = [[Geometry]](repeating: [], count: seeds.count)
        for face in try Geometry.faces(of: [edges, try region.base.boundary()], context: context) {
            let probe = try face.pointOnSurface()
            guard try region.contains(probe) else { continue }
            let p = try probe.pointCoordinates
            parts[KMeans.nearest(try toPlane(p.x, p.y), seeds)].append(face)
        }
        return parts
    }
}
