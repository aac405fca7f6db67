import Foundation
import GeoKit
import Localization

/// Everything the fast assignment path reads, built once from a
/// `GridLocator`'s own geometries and shared read-only by every thread:
/// the ownership raster (degrees), the grids' edges in degrees and in the
/// metric CRS, and for points outside every grid the edges that can be
/// nearest to them.
///
/// Why the answers equal `GridLocator`'s: locations come from exact
/// orientation signs (GEOS's ray crossing is exact too), and every distance
/// is GEOS's own formula on GEOS's own metric coordinates of the point
/// (the same PROJ call) and of the edges. What cannot be certified goes to
/// `GridLocator` itself: points on or within a rounding error of an edge,
/// overlapping grids, and points whose metric image could fall in the thin
/// sliver between a lon/lat edge and its straight metric chord (where GEOS's
/// metric polygon test would say distance 0).
public final class AssignmentIndex: Sendable {
    public let raster: OwnershipRaster
    let outside: OutsideCandidates
    /// Candidates for points beyond the raster, made as points need them:
    /// 2 km cells up to 1° out, then coarser ones (measured with PROJ: the
    /// Swift projection is checked only over the near field) up to 4°.
    let far: FarField
    let outerFar: FarField
    /// The metric CRS in Swift, for points outside every grid (nil when
    /// PROJ's operation is not one it reproduces).
    let approximateMetric: TransverseMercator?
    let degreeXY: FrozenBuffer<Double>
    let metricXY: FrozenBuffer<Double>
    /// The grid of each vertex (and so of the segment it starts).
    let vertexGrid: FrozenBuffer<Int32>
    /// Per segment: `sliverGaps`.
    let sliverGap: FrozenBuffer<Double>
    public let rules: AssignmentRules
    /// The grids' envelope in degrees.
    public let envelope: Envelope
    public let metricCRS: String
    /// The locator's metric transformer, for the other threads' copies.
    let metricOriginal: MetricTransformerOriginal
    public let segmentCount: Int
    /// `GridLocator`'s near-boundary distance in degrees, and its metres per
    /// degree: the fast path replays the locator's degree tests with them.
    let bandDegrees: Double
    let locatorMetresPerDegree: Double
    /// Each grid's envelope (minX, minY, maxX, maxY), as the locator's STRtree holds it.
    let gridEnvelopes: FrozenBuffer<Double>

    /// Seconds each step of the build took.
    public let buildSteps: [(step: String, seconds: Double)]

    /// The raster's cells are at most this many unless a cell size is given.
    public static let defaultMaximumCells = 1 << 24
    /// About the side of a tile of `OutsideCandidates`. Smaller tiles make
    /// shorter lists but more of them, which miss the cache: over 2M points
    /// in the sample county's bounding box, 200 m tiles took 0.54 s, 400 m
    /// 0.38–0.43 s, 800 m 0.36 s and 1,600 m 0.38 s (`perf stat`, alternated).
    static let outsideTileMetres = 800.0
    /// The side of a `FarField` cell (larger when the area is large): the
    /// cells beyond the raster are many, and a list costs more to make than
    /// a longer list costs to scan. For 1M points, 69% of them 1–60 km out:
    /// 2 km 0.30 s, 4 km 0.28 s, 8 km 0.28 s with a quarter more candidates read.
    static let farCellMetres = 4_000.0
    /// The outer field's cells: few points come from that far.
    static let outerFarCellMetres = 10_000.0

    /// - Parameter cellSize: raster cell side in degrees; nil chooses twice
    ///   the near-boundary margin, or larger so that the raster has at most
    ///   `maximumCells` cells.
    init(locator: GridLocator, cellSize: Double? = nil, maximumCells: Int = AssignmentIndex.defaultMaximumCells) throws {
        var steps = StepClock()
        let rings = try locator.rings()
        steps.lap("edges")
        rules = locator.rules
        envelope = locator.envelope
        metricCRS = locator.metricCRS
        metricOriginal = try MetricTransformerOriginal(locator.toMetric)
        segmentCount = (0..<rings.ringCount).reduce(0) { $0 + rings.segments(ofRing: $1).count }
        let (gaps, widestGap) = try Self.sliverGaps(rings: rings, transformer: locator.toMetric)
        steps.lap("slivers")
        bandDegrees = locator.degrees(covering: rules.nearBoundaryMeters)
        locatorMetresPerDegree = locator.metresPerDegreeLowerBound
        gridEnvelopes = FrozenBuffer(try locator.grids.flatMap { grid -> [Double] in
            let e = try grid.base.envelope
            return [e.minX, e.minY, e.maxX, e.maxY]
        })
        // Edge cells must list every segment (a) within the near-boundary
        // distance in degrees, which the locator tests, and (b) whose metric
        // chord comes within the near-boundary distance in metres, which may
        // lie farther in degrees by the chord's bulge. For (b), lower bounds
        // of metres per degree: the meridian degree is at least 110,574 m and
        // the parallel degree 111,319 m · cos φ on the ellipsoid; transverse
        // Mercator never shrinks below its central scale (0.9996 for UTM, 1 for
        // Gauss-Krüger); 0.1% more for second-order terms.
        let scale = 0.9996 * 0.999
        let maxAbsLatitude = min(89.0, max(abs(envelope.minY), abs(envelope.maxY)) + 0.01)
        let metresPerDegree = min(111_319.49 * cos(maxAbsLatitude * .pi / 180), 110_574) * scale
        let chordReach = rules.nearBoundaryMeters + Self.sliverWidth(gap: widestGap, along: 0.5) + 0.01
        let margin = max(bandDegrees, chordReach / metresPerDegree) * (1 + 1e-6)
        let area = (envelope.width + 4 * margin) * (envelope.height + 4 * margin)
        let size = cellSize ?? max(2 * margin, (area / Double(maximumCells)).squareRoot())
        guard size > 0, size.isFinite else { throw GeoError(tr("invalid raster cell size \(size)")) }
        raster = try OwnershipRasterBuilder(rings: rings, gridCount: locator.codes.count, extent: envelope, margin: margin, cellSize: size).build()
        steps.lap("raster")
        approximateMetric = TransverseMercator(matching: locator.toMetric,
                                               over: raster.extent.expanded(by: FarField.reachDegrees + 0.1))
        steps.lap("projection check")
        let tree = MetricSegmentTree(rings: rings)
        vertexGrid = FrozenBuffer(rings.vertexGrids())
        degreeXY = FrozenBuffer(rings.degreeXY)
        metricXY = FrozenBuffer(rings.metricXY)
        outside = OutsideCandidates(raster: raster, tree: tree, metricXY: metricXY, approximate: approximateMetric,
                                    tolerance: rules.nearestToleranceMeters,
                                    tileCells: max(1, Int((Self.outsideTileMetres / (size * 110_574)).rounded())))
        far = FarField(raster: raster, tree: tree, metricXY: metricXY, approximate: approximateMetric,
                       tolerance: rules.nearestToleranceMeters, cellMetres: Self.farCellMetres)
        outerFar = FarField(raster: raster, tree: tree, metricXY: metricXY, approximate: nil, tolerance: rules.nearestToleranceMeters,
                            cellMetres: Self.outerFarCellMetres, reach: FarField.outerReachDegrees)
        sliverGap = FrozenBuffer(gaps)
        steps.lap("tables")
        buildSteps = steps.laps
    }

    /// A bound on the width of the sliver between an edge's metric chord
    /// and its projected lon/lat line, at `t` (0…1) along the chord, from
    /// the width at the middle: the bulge is close to a parabola over an
    /// edge; half as much again, and a millimetre, for safety.
    @inline(__always)
    static func sliverWidth(gap: Double, along t: Double) -> Double {
        1.5 * 4 * gap * t * (1 - t) + 0.001
    }

    /// Bytes of the index's tables (the GEOS locators come on top; of the
    /// candidate lists for points outside every grid, those made so far).
    public var tableBytes: Int {
        let lists = (outside.lists.made + far.lists.made + outerFar.lists.made).filter { $0.count > 0 }
        return raster.cells.count * 4 + raster.records.count * 4 + lists.reduce(0) { $0 + $1.block.count * 8 }
            + degreeXY.count * 8 + metricXY.count * 8 + vertexGrid.count * 4 + sliverGap.count * 8 + gridEnvelopes.count * 8
    }

    /// Mean number of candidate edges in the tiles made so far that have
    /// any (the work of a point outside every grid), and how many those are.
    public var outsideCandidates: (mean: Double, tiles: Int) {
        let lists = outside.lists.made.filter { $0.count > 0 }
        return (Double(lists.reduce(0) { $0 + $1.count }) / Double(max(lists.count, 1)), lists.count)
    }

    /// Whether points outside every grid are measured on Swift-projected
    /// coordinates first (see `TransverseMercator`).
    public var projectsInSwift: Bool { approximateMetric != nil }

    /// Per segment, in metres: how far the projected lon/lat edge bulges
    /// from its straight metric chord at the middle, when it bulges into its
    /// grid (so that the chord, which GEOS's metric polygon follows, passes
    /// outside the grid's true edge, leaving a sliver of metric polygon that
    /// a point outside the grid can fall in); 0 when it bulges outwards.
    static func sliverGaps(rings: GridRings, transformer: CoordinateTransformer) throws -> (gaps: [Double], widest: Double) {
        let degrees = rings.degreeXY, metric = rings.metricXY
        var middles = [Double](repeating: 0, count: degrees.count)
        for s in 0..<max(rings.vertexCount - 1, 0) {
            middles[2 * s] = (degrees[2 * s] + degrees[2 * s + 2]) / 2
            middles[2 * s + 1] = (degrees[2 * s + 1] + degrees[2 * s + 3]) / 2
        }
        transformer.transformInPlace(&middles)
        var gaps = [Double](repeating: 0, count: rings.vertexCount)
        var widest = 0.0
        for r in 0..<rings.ringCount {
            let segments = rings.segments(ofRing: r)
            // Twice the signed area: positive for a counter-clockwise ring.
            var area = 0.0
            for s in segments { area += metric[2 * s] * metric[2 * s + 3] - metric[2 * s + 2] * metric[2 * s + 1] }
            let interiorSide = (area > 0) != rings.ringIsHole[r] ? 1 : -1
            for s in segments {
                let (x, y) = (middles[2 * s], middles[2 * s + 1])
                guard x.isFinite, y.isFinite else { throw GeoError(tr("cannot project the middle of an edge to \(transformer.target)")) }
                let (ax, ay, bx, by) = (metric[2 * s], metric[2 * s + 1], metric[2 * s + 2], metric[2 * s + 3])
                let gap = ExactArithmetic.geosPointToSegment(x, y, ax, ay, bx, by)
                widest = max(widest, gap)
                let side = ExactArithmetic.orientation(ax, ay, bx, by, x, y)
                // An undecidable side counts as bulging inwards.
                if side == 0 || side == interiorSide { gaps[s] = gap }
            }
        }
        return (gaps, widest)
    }
}

/// Times the steps of a build.
struct StepClock {
    private var last = DispatchTime.now()
    private(set) var laps: [(step: String, seconds: Double)] = []

    mutating func lap(_ step: String) {
        let now = DispatchTime.now()
        laps.append((step, Double(now.uptimeNanoseconds - last.uptimeNanoseconds) / 1e9))
        last = now
    }
}

/// How many points each part of the fast path decided.
public struct AssignmentPathCounts: Sendable, Equatable {
    /// A deep raster cell: one table lookup.
    public var deepCell = 0
    /// An edge cell's crossing test: inside, farther than the near-boundary distance from every edge.
    public var edgeTest = 0
    /// Inside a grid within the near-boundary distance of an edge: exact metric depth and runner-up.
    public var nearEdge = 0
    /// Outside every grid: exact metric distances to the nearest grids.
    public var outside = 0
    /// Handed to `GridLocator` (on an edge, overlapping grids, a sliver, or outside the raster).
    public var geos = 0
    /// Candidate groups and segments read for points outside every grid:
    /// the work of the `outside` points, a few dozen apiece.
    public var outsideCandidatesRead = 0

    public init() {}

    public var total: Int { deepCell + edgeTest + nearEdge + outside + geos }

    public static func + (a: Self, b: Self) -> Self {
        var sum = a
        sum.deepCell += b.deepCell
        sum.edgeTest += b.edgeTest
        sum.nearEdge += b.nearEdge
        sum.outside += b.outside
        sum.geos += b.geos
        sum.outsideCandidatesRead += b.outsideCandidatesRead
        return sum
    }
}
