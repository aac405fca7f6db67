import Foundation
import GeoKit
import Localization

/// The exact assignment rule, evaluated with GEOS for one point at a time.
/// Owns its GEOS and PROJ contexts, so it belongs to one thread.
///
/// The rule, in order:
/// 1. a grid whose interior contains the point → `inside` (if grids overlap,
///    the one whose code sorts first);
/// 2. grids whose boundary the point lies on → `boundary`, owned by the
///    covering grid whose code sorts first, the next one is the runner-up;
/// 3. the nearest grid, if within `nearestToleranceMeters` → `nearest`;
/// 4. otherwise `none`, reporting the nearest grid and its distance.
/// Distances are measured in the metric CRS of the grids' area (`MetricCRS`),
/// never in degrees.
public final class GridLocator {
    public let codes: [String]
    public let rules: AssignmentRules
    public let metricCRS: String
    let geos: GEOSContext
    let proj: PROJContext
    let grids: [PreparedGeometry]
    let boundaries: [PreparedGeometry]
    let metricGrids: [PreparedGeometry]
    let metricBoundaries: [PreparedGeometry]
    let tree: STRtree
    let toMetric: CoordinateTransformer
    public let envelope: Envelope
    /// Degrees that are certainly no more than this many metres anywhere in
    /// the area: used to turn metric distances into safe degree margins.
    let metresPerDegreeLowerBound: Double

    public convenience init(shapes: [GridShape], rules: AssignmentRules) throws {
        try self.init(shapes: shapes, rules: rules, copying: nil)
    }

    /// - Parameter original: another locator's metric transformer to copy
    ///   (when its target is this locator's metric CRS) rather than have PROJ
    ///   search for the operation again.
    init(shapes: [GridShape], rules: AssignmentRules, copying original: MetricTransformerOriginal?) throws {
        guard !shapes.isEmpty else { throw GeoError(tr("no grids to assign points to")) }
        precondition(zip(shapes, shapes.dropFirst()).allSatisfy { $0.code < $1.code }, "shapes must be sorted by code")
        geos = try GEOSContext()
        proj = try PROJContext()
        codes = shapes.map(\.code)
        self.rules = rules
        var geometries: [Geometry] = []
        for shape in shapes { geometries.append(try Geometry(wkb: shape.wkb, context: geos)) }
        let envelopes = try geometries.map { try $0.envelope }
        let all = envelopes.dropFirst().reduce(envelopes[0]) { $0.union($1) }
        envelope = all
        metricCRS = MetricCRS.code(forLongitude: (all.minX + all.maxX) / 2, latitude: (all.minY + all.maxY) / 2)
        if let original, original.target == metricCRS {
            toMetric = try original.copy(in: proj)
        } else {
            toMetric = try MetricCRS.transformer(to: metricCRS, context: proj)
        }
        grids = try geometries.map { try PreparedGeometry($0) }
        boundaries = try geometries.map { try PreparedGeometry($0.boundary()) }
        var metric: [Geometry] = []
        for geometry in geometries { metric.append(try toMetric.transform(geometry)) }
        metricGrids = try metric.map { try PreparedGeometry($0) }
        metricBoundaries = try metric.map { try PreparedGeometry($0.boundary()) }
        tree = try STRtree(envelopes: envelopes, context: geos)
        let maxAbsLat = max(abs(all.minY), abs(all.maxY))
        // 1° of latitude ≥ 110.57 km; 1° of longitude = 111.32 km · cos φ.
        // 2% margin covers the projection's scale factor and the ellipsoid.
        metresPerDegreeLowerBound = min(110_574, 111_320 * cos(maxAbsLat * .pi / 180)) * 0.98
    }

    /// Degrees that cover at least `metres` in any direction within the area.
    public func degrees(covering metres: Double) -> Double { metres / metresPerDegreeLowerBound }

    public func locate(lon: Double, lat: Double) throws -> PointAssignment {
        let point = try Geometry.point(x: lon, y: lat, context: geos)
        let candidates = tree.query(point)
        var owner = -1
        var method = AssignmentMethod.none
        for index in candidates where try grids[index].contains(point) {
            owner = index
            method = .inside
            break
        }
        var covering: [Int] = []
        if owner < 0 {
            for index in candidates where try grids[index].covers(point) { covering.append(index) }
            if let first = covering.first {
                owner = first
                method = .boundary
            }
        }
        if owner >= 0 {
            return try nearEdgeDetails(point: point, lon: lon, lat: lat, owner: owner, method: method)
        }
        return try outsideAssignment(point: point, lon: lon, lat: lat)
    }

    /// The distance to the owner's edge and the runner-up, computed only when
    /// the point is within the near-boundary distance of an edge.
    private func nearEdgeDetails(point: Geometry, lon: Double, lat: Double, owner: Int, method: AssignmentMethod) throws -> PointAssignment {
        let band = rules.nearBoundaryMeters
        let bandDegrees = degrees(covering: band)
        var result = PointAssignment(grid: Int32(owner), method: method)
        let nearbyBox = try Geometry.box(Envelope(minX: lon, minY: lat, maxX: lon, maxY: lat).expanded(by: bandDegrees), context: geos)
        let nearby = tree.query(nearbyBox)
        let nearOwnEdge = try boundaries[owner].isWithinDistance(point, bandDegrees)
        var othersNear: [Int] = []
        for other in nearby where other != owner {
            if try grids[other].isWithinDistance(point, bandDegrees) { othersNear.append(other) }
        }
        if !nearOwnEdge && othersNear.isEmpty { return result }
        let metricXY = try toMetric.transform(x: lon, y: lat)
        let metricPoint = try Geometry.point(x: metricXY.x, y: metricXY.y, context: geos)
        if method == .boundary {
            result.distanceMeters = 0
        } else {
            let depth = try metricBoundaries[owner].distance(to: metricPoint)
            if depth <= band { result.distanceMeters = depth }
        }
        var best: (index: Int, distance: Double)?
        for other in othersNear {
            // Grids that cover the point are at distance 0, whatever the projection says.
            let distance = try grids[other].covers(point) ? 0 : try metricGrids[other].distance(to: metricPoint)
            if distance <= band, best == nil || distance < best!.distance { best = (other, distance) }
        }
        if let best {
            result.runnerUp = Int32(best.index)
            result.runnerUpDistanceMeters = best.distance
        }
        return result
    }

    /// Nearest-grid search for a point outside every grid: candidates from an
    /// expanding box, then exact metric distances; ties go to the lower code.
    private func outsideAssignment(point: Geometry, lon: Double, lat: Double) throws -> PointAssignment {
        // A point the grids' metric CRS cannot project (another continent)
        // is unassigned, with no nearest grid: no distance can be measured.
        guard let metricXY = try? toMetric.transform(x: lon, y: lat) else { return PointAssignment(grid: -1, method: .none) }
        let metricPoint = try Geometry.point(x: metricXY.x, y: metricXY.y, context: geos)
        func ranked(within radiusDegrees: Double) throws -> [(index: Int, distance: Double)] {
            let box = try Geometry.box(Envelope(minX: lon, minY: lat, maxX: lon, maxY: lat).expanded(by: radiusDegrees), context: geos)
            return try tree.query(box)
                .map { ($0, try metricGrids[$0].distance(to: metricPoint)) }
                .sorted { $0.distance < $1.distance || ($0.distance == $1.distance && $0.index < $1.index) }
        }
        var radius = degrees(covering: rules.nearestToleranceMeters)
        var found = try ranked(within: radius)
        while found.isEmpty {
            radius *= 4
            if radius > 360 { return PointAssignment(grid: -1, method: .none) }
            found = try ranked(within: radius)
        }
        // Any grid closer than the best found so far lies inside this box.
        found = try ranked(within: max(radius, degrees(covering: found[0].distance) * 1.01))
        let nearest = found[0]
        guard nearest.distance <= rules.nearestToleranceMeters else {
            return PointAssignment(grid: -1, method: .none, distanceMeters: nearest.distance, nearestGrid: Int32(nearest.index))
        }
        var result = PointAssignment(grid: Int32(nearest.index), method: .nearest, distanceMeters: nearest.distance)
        if found.count > 1, found[1].distance <= rules.nearestToleranceMeters {
            result.runnerUp = Int32(found[1].index)
            result.runnerUpDistanceMeters = found[1].distance
        }
        return result
    }
}
