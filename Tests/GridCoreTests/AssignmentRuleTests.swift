import Foundation
import Testing
import TestSupport
import GeoKit
import Localization
@testable import GridCore

/// The rule on a hand-made tiling where every answer is known:
///
///     28.02 +-------+-------+
///           |       |   B   |
///     28.01 |   A   +-------+   (A: left half; B, C: right quarters)
///           |       |   C   |
///     28.00 +-------+-------+
///        112.00  112.01  112.02
@Suite struct AssignmentRuleTests {
    static func square(_ code: String, _ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, context: GEOSContext) throws -> GridShape {
        GridShape(code: code, wkb: try Geometry.box(Envelope(minX: x0, minY: y0, maxX: x1, maxY: y1), context: context).wkb())
    }

    let locator: GridLocator
    let assigner: GridAssigner

    init() throws {
        let context = try GEOSContext()
        let shapes = [
            try Self.square("A", 112.00, 28.00, 112.01, 28.02, context: context),
            try Self.square("B", 112.01, 28.01, 112.02, 28.02, context: context),
            try Self.square("C", 112.01, 28.00, 112.02, 28.01, context: context),
        ]
        assigner = try GridAssigner(shapes: shapes)
        locator = try assigner.makeLocator()
    }

    /// Metres east of a point, as a longitude offset at that latitude (geodesic, independent of PROJ).
    func east(_ lon: Double, _ lat: Double, metres: Double) -> Double {
        var low = 0.0, high = 0.001
        for _ in 0..<60 {
            let mid = (low + high) / 2
            if Geodesic.distance(lon1: lon, lat1: lat, lon2: lon + mid, lat2: lat) < abs(metres) { low = mid } else { high = mid }
        }
        return lon + (metres >= 0 ? low : -low)
    }

    func north(_ lat: Double, metres: Double) -> Double { lat + metres / 110_800 }

    func check(_ lon: Double, _ lat: Double) throws -> PointAssignment {
        let exact = try locator.locate(lon: lon, lat: lat)
        let bulk = try assigner.assign([LonLat(lon, lat)])[0]
        #expect(exact == bulk, "raster path differs at \(lon), \(lat)")
        return exact
    }

    @Test func deepInsideHasNoDistanceAndNoRunnerUp() throws {
        let a = try check(112.005, 28.015)
        #expect(a.grid == 0 && a.method == .inside && a.distanceMeters == nil && a.runnerUp == -1)
    }

    @Test func threeGridJunctionGoesToTheLowestCode() throws {
        let a = try check(112.01, 28.01)
        #expect(a.method == .boundary && a.grid == 0)
        #expect(a.runnerUp == 1 && a.runnerUpDistanceMeters == 0 && a.distanceMeters == 0)
    }

    @Test func sharedEdgeAndSharedVertex() throws {
        let edge = try check(112.01, 28.005)
        #expect(edge.method == .boundary && edge.grid == 0 && edge.runnerUp == 2)
        let bc = try check(112.015, 28.01)
        #expect(bc.method == .boundary && bc.grid == 1 && bc.runnerUp == 2)
        let corner = try check(112.02, 28.01) // shared vertex of B and C on the outer edge
        #expect(corner.method == .boundary && corner.grid == 1 && corner.runnerUp == 2)
    }

    @Test func outerEdgeHasNoRunnerUp() throws {
        let a = try check(112.005, 28.00)
        #expect(a.method == .boundary && a.grid == 0 && a.distanceMeters == 0 && a.runnerUp == -1)
    }

    @Test func nearAnEdgeRecordsDepthAndRunnerUp() throws {
        let lon = east(112.01, 28.005, metres: -5)
        let a = try check(lon, 28.005)
        #expect(a.method == .inside && a.grid == 0)
        let depth = try #require(a.distanceMeters), runner = try #require(a.runnerUpDistanceMeters)
        #expect(abs(depth - 5) < 0.02 && abs(runner - 5) < 0.02 && a.runnerUp == 2)
        // 30 m in: beyond the 20 m band, so neither is recorded.
        let deeper = try check(east(112.01, 28.005, metres: -30), 28.005)
        #expect(deeper.method == .inside && deeper.distanceMeters == nil && deeper.runnerUp == -1)
    }

    @Test func justOutsideGoesToTheNearestWithItsDistance() throws {
        let a = try check(112.005, north(28.00, metres: -10))
        #expect(a.method == .nearest && a.grid == 0)
        #expect(abs(try #require(a.distanceMeters) - 10) < 0.05)
        let far = try check(112.005, north(28.00, metres: -100))
        #expect(far.method == .none && far.grid == -1 && far.nearestGrid == 0)
        #expect(abs(try #require(far.distanceMeters) - 100) < 0.2)
        // Beyond the far corner of B and C: C is nearer than B below 28.01.
        let eastOut = try check(east(112.02, 28.004, metres: 30), 28.004)
        #expect(eastOut.method == .nearest && eastOut.grid == 2 && eastOut.runnerUp == -1)
    }

    @Test func nearestBetweenTwoGridsRecordsTheOther() throws {
        // 10 m outside the outer corner where B and C meet: both within the tolerance.
        let a = try check(east(112.02, 28.01, metres: 10), 28.01)
        #expect(a.method == .nearest && a.grid == 1 && a.runnerUp == 2)
    }

    @Test func pointsBeyondTheMetricCRSAreUnassignedWithoutANearestGrid() throws {
        // EPSG:4547 (CGCS2000 3° zone, 114°E) cannot project 15°E, 0°N: no
        // distance exists, so no nearest grid; it must not be an error.
        for (lon, lat) in [(15.0, 0.0), (-80.0, 35.0)] {
            let a = try check(lon, lat)
            #expect(a.method == .none && a.grid == -1 && a.nearestGrid == -1 && a.distanceMeters == nil, "\(lon), \(lat)")
        }
        // Far, but projectable: the nearest grid and its distance are still reported.
        let beijing = try check(116.4, 39.9)
        #expect(beijing.method == .none && beijing.nearestGrid >= 0)
        #expect(try #require(beijing.distanceMeters) > 1_000_000)
    }

    /// An import's and an activation's counts per method, in method order, as each language lists them.
    @Test func countsPerMethodReadAsAList() {
        let counts = AssignmentMethod.counts([.nearest: 3, .inside: 2530])
        #expect(counts?.rendered(in: .en) == "inside 2530, nearest 3")
        #expect(counts?.rendered(in: .zh) == "网格内 2530，就近分配 3")
        #expect(AssignmentMethod.counts([:]) == nil)
    }
}
