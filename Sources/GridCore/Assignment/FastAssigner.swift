import Foundation
import GeoKit

/// WGS84 → the grids' metric CRS with its own PROJ context, a copy of the
/// first `GridLocator`'s transformer, so both give the same metres.
/// Belongs to one thread at a time.
final class MetricProjector {
    /// Keeps its PROJ context alive.
    let transformer: CoordinateTransformer

    init(copying original: MetricTransformerOriginal) throws {
        transformer = try original.copy(in: try PROJContext())
    }
}

/// The first `GridLocator`'s WGS84 → metric transformer, kept for copying
/// into the PROJ contexts of other threads (`CoordinateTransformer.copy`):
/// making each thread's anew would cost a tenth of a second apiece.
final class MetricTransformerOriginal: @unchecked Sendable {
    private let lock = NSLock()
    /// Only copied from, one copy at a time.
    private let transformer: CoordinateTransformer
    var target: String { transformer.target }

    /// A copy of `transformer` (which its own thread may go on using).
    init(_ transformer: CoordinateTransformer) throws {
        self.transformer = try transformer.copy(in: try PROJContext())
    }

    func copy(in context: PROJContext) throws -> CoordinateTransformer {
        lock.lock()
        defer { lock.unlock() }
        return try transformer.copy(in: context)
    }
}

/// One thread's view of an `AssignmentIndex`: raw pointers into its tables,
/// scratch space, and borrowed PROJ and GEOS objects. Not shared between
/// threads. `assign` answers exactly what `GridLocator.locate` answers.
/// A non-copyable struct rather than a class: its counters and scratch are
/// then checked for exclusive access at compile time, not on every point.
public struct FastAssigner: ~Copyable {
    private let index: AssignmentIndex
    private let projectors: ObjectPool<MetricProjector>
    private let locators: ObjectPool<GridLocator>
    private let makeLocator: () throws -> GridLocator
    private var projector: MetricProjector?
    public private(set) var counts = AssignmentPathCounts()

    // The index's tables and constants, copied for the inner loops.
    private let cells: UnsafePointer<Int32>
    private let records: UnsafePointer<UInt32>
    private let degreeXY: UnsafePointer<Double>
    private let metricXY: UnsafePointer<Double>
    private let sliverGap: UnsafePointer<Double>
    private let originX: Double, originY: Double, cellSize: Double, inverseCellSize: Double
    private let columns: Int
    private let columnLimit: Double, rowLimit: Double
    private let bandDegrees: Double, metresPerDegree: Double
    private let gridEnvelopes: UnsafePointer<Double>
    private let band: Double, tolerance: Double
    private let vertexGrid: UnsafePointer<Int32>
    private let approximate: TransverseMercator?
    /// The tiles' and far cells' lists this thread has used (read without a lock).
    private let tileLists: ListCache
    private let farLists: ListCache
    /// Their page tables, and where the tiles and far cells lie, for the inner loops.
    private let tilePages: UnsafeMutablePointer<ListCache.Page?>
    private let farPages: UnsafeMutablePointer<ListCache.Page?>
    private let tileCells: Int, tileColumns: Int
    private let farCells: FarCellLayout
    private let outerFarLists: ListCache
    private var readAheadSink = 0.0

    init(index: AssignmentIndex, projectors: ObjectPool<MetricProjector>, locators: ObjectPool<GridLocator>,
         makeLocator: @escaping () throws -> GridLocator) {
        self.index = index
        self.projectors = projectors
        self.locators = locators
        self.makeLocator = makeLocator
        let raster = index.raster
        cells = raster.cells.base
        records = raster.records.base
        degreeXY = index.degreeXY.base
        metricXY = index.metricXY.base
        sliverGap = index.sliverGap.base
        originX = raster.originX
        originY = raster.originY
        cellSize = raster.cellSize
        inverseCellSize = 1 / raster.cellSize
        columns = raster.columns
        columnLimit = Double(raster.columns)
        rowLimit = Double(raster.rows)
        bandDegrees = index.bandDegrees
        metresPerDegree = index.locatorMetresPerDegree
        gridEnvelopes = index.gridEnvelopes.base
        band = index.rules.nearBoundaryMeters
        tolerance = index.rules.nearestToleranceMeters
        vertexGrid = index.vertexGrid.base
        approximate = index.approximateMetric
        tileLists = ListCache(count: index.outside.tileColumns * index.outside.tileRows)
        farLists = ListCache(count: index.far.cellCount)
        tilePages = tileLists.pages
        farPages = farLists.pages
        tileCells = index.outside.tileCells
        tileColumns = index.outside.tileColumns
        farCells = index.far.layout
        outerFarLists = ListCache(count: index.outerFar.cellCount)
    }

    deinit {
        if let projector { projectors.give(projector) }
    }

    /// The assignment of one point: a table lookup for most points.
    @inline(__always)
    public mutating func assign(lon: Double, lat: Double) throws -> PointAssignment {
        let x = (lon - originX) * inverseCellSize
        let y = (lat - originY) * inverseCellSize
        // Written so that NaN fails too.
        guard x >= 0, y >= 0, x < columnLimit, y < rowLimit else { return try assignFar(lon, lat) }
        let column = Int(x), row = Int(y)
        let code = cells[row * columns + column]
        if code >= 0 {
            counts.deepCell += 1
            return PointAssignment(grid: code, method: .inside)
        }
        return try assignInEdgeCell(lon, lat, code: code, column: column, row: row)
    }

    /// How many points `assign(_:count:into:)` looks up at once.
    static let lookupRun = 64

    /// The assignments of `count` points (lon, lat interleaved), as `assign`
    /// gives them one by one. The raster cells of a run of points are read
    /// first, all of them: points in random order miss the cache at nearly
    /// every lookup, and independent reads let those misses overlap.
    public mutating func assign(_ points: UnsafePointer<Double>, count: Int, into results: UnsafeMutablePointer<PointAssignment>) throws {
        try withUnsafeTemporaryAllocation(of: Int32.self, capacity: Self.lookupRun) { codes in
            var start = 0
            while start < count {
                let run = min(Self.lookupRun, count - start)
                for i in 0..<run {
                    let x = (points[2 * (start + i)] - originX) * inverseCellSize
                    let y = (points[2 * (start + i) + 1] - originY) * inverseCellSize
                    // Beyond the raster (or NaN): not a deep cell, so `assign` decides it below.
                    codes[i] = x >= 0 && y >= 0 && x < columnLimit && y < rowLimit ? cells[Int(y) * columns + Int(x)] : OwnershipRaster.outsideCell
                }
                // Points outside every grid: their lists' first lines, read now
                // (summed into a stored property, so that the reads stay).
                var readAhead = 0.0
                for i in 0..<run where codes[i] == OwnershipRaster.outsideCell {
                    let lon = points[2 * (start + i)], lat = points[2 * (start + i) + 1]
                    guard let block = listAhead(lon, lat, code: codes[i], x: (lon - originX) * inverseCellSize,
                                                y: (lat - originY) * inverseCellSize) else { continue }
                    readAhead += block[3] > 0 ? block[CandidateList.headerLength + CandidateList.groupStride - 1] : block[3]
                }
                readAheadSink = readAhead
                for i in 0..<run {
                    let code = codes[i]
                    if code >= 0 {
                        counts.deepCell += 1
                        results[start + i] = PointAssignment(grid: code, method: .inside)
                    } else {
                        results[start + i] = try assign(lon: points[2 * (start + i)], lat: points[2 * (start + i) + 1])
                    }
                }
                start += run
            }
        }
    }

    private mutating func assignInEdgeCell(_ lon: Double, _ lat: Double, code: Int32, column: Int, row: Int) throws -> PointAssignment {
        if code == OwnershipRaster.outsideCell { return try assignOutside(lon, lat, column: column, row: row) }
        if code == OwnershipRaster.geosCell { return try geos(lon, lat) }
        let offset = OwnershipRaster.recordOffset(code)
        let centerX = originX + (Double(column) + 0.5) * cellSize
        let centerY = originY + (Double(row) + 0.5) * cellSize
        var cursor = offset + 1
        var owner: Int32 = -1
        var insideCount = 0
        var nearEdge = false
        let band = bandDegrees
        for _ in 0..<Int(records[offset]) {
            let word = records[cursor]
            let runs = Int(records[cursor + 1])
            cursor += 2
            var inside = word & OwnershipRaster.insideBit != 0
            for _ in 0..<runs {
                let first = Int(records[cursor]), count = Int(records[cursor + 1])
                cursor += 2
                for s in first..<(first + count) {
                    let ax = degreeXY[2 * s], ay = degreeXY[2 * s + 1], bx = degreeXY[2 * s + 2], by = degreeXY[2 * s + 3]
                    if !nearEdge && Self.isWithin(band, lon, lat, ax, ay, bx, by) { nearEdge = true }
                    switch Self.crossing(centerX, centerY, lon, lat, ax, ay, bx, by) {
                    case .none: break
                    case .crossing: inside.toggle()
                    case .uncertain: return try geos(lon, lat)
                    }
                }
            }
            if inside {
                insideCount += 1
                if owner < 0 { owner = Int32(bitPattern: word & ~OwnershipRaster.insideBit) }
            }
        }
        if insideCount == 0 { return try assignOutside(lon, lat, column: column, row: row) }
        if insideCount > 1 { return try geos(lon, lat) }
        if !nearEdge {
            counts.edgeTest += 1
            return PointAssignment(grid: owner, method: .inside)
        }
        return try assignNearEdge(lon, lat, owner: owner, record: offset)
    }

    enum Crossing { case none, crossing, uncertain }

    /// Whether the segment centre → point crosses the edge a → b, decided by
    /// exact orientation signs; `uncertain` when the point is on (or within
    /// a rounding error of) the edge's line near the edge, or the segment
    /// passes through a vertex.
    @inline(__always)
    static func crossing(_ cx: Double, _ cy: Double, _ px: Double, _ py: Double,
                         _ ax: Double, _ ay: Double, _ bx: Double, _ by: Double) -> Crossing {
        if max(ax, bx) < min(cx, px) || min(ax, bx) > max(cx, px) || max(ay, by) < min(cy, py) || min(ay, by) > max(cy, py) {
            return .none
        }
        if ax == bx && ay == by { return .none }
        let pointSide = ExactArithmetic.orientation(ax, ay, bx, by, px, py)
        if pointSide == 0 { return .uncertain }
        let centreSide = ExactArithmetic.orientation(ax, ay, bx, by, cx, cy)
        if centreSide == 0 { return .uncertain }
        if pointSide == centreSide { return .none }
        let aSide = ExactArithmetic.orientation(cx, cy, px, py, ax, ay)
        let bSide = ExactArithmetic.orientation(cx, cy, px, py, bx, by)
        if aSide == 0 || bSide == 0 { return .uncertain }
        return aSide != bSide ? .crossing : .none
    }

    /// Whether p is within `limit` of the segment a → b, by GEOS's own
    /// distance (after a cheap test of the segment's box).
    @inline(__always)
    static func isWithin(_ limit: Double, _ px: Double, _ py: Double, _ ax: Double, _ ay: Double, _ bx: Double, _ by: Double) -> Bool {
        let gapX = max(min(ax, bx) - px, 0, px - max(ax, bx)), gapY = max(min(ay, by) - py, 0, py - max(ay, by))
        // The box test only discards what is certainly (by far more than rounding) out of reach.
        if gapX > limit * 1.000001 || gapY > limit * 1.000001 { return false }
        return ExactArithmetic.geosPointToSegment(px, py, ax, ay, bx, by) <= limit
    }

    /// Whether the metric point, `distance` from segment `s`'s chord, may lie
    /// in the sliver where GEOS's metric polygon of the segment's grid
    /// overreaches the grid (then GEOS measures 0 and decides).
    @inline(__always)
    private func inSliver(_ s: Int, distance: Double, _ x: Double, _ y: Double) -> Bool {
        let gap = sliverGap[s]
        guard gap > 0, distance <= AssignmentIndex.sliverWidth(gap: gap, along: 0.5) else { return false }
        let ax = metricXY[2 * s], ay = metricXY[2 * s + 1], bx = metricXY[2 * s + 2], by = metricXY[2 * s + 3]
        let lengthSquared = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
        let t = lengthSquared > 0 ? min(1, max(0, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / lengthSquared)) : 0
        return distance <= AssignmentIndex.sliverWidth(gap: gap, along: t)
    }

    /// The point's metric coordinates, by the same PROJ call as `GridLocator`.
    private mutating func metric(_ lon: Double, _ lat: Double) throws -> (x: Double, y: Double) {
        try borrowedProjector().transformer.transform(x: lon, y: lat)
    }

    private mutating func borrowedProjector() throws -> MetricProjector {
        if let projector { return projector }
        let made = try projectors.take() ?? MetricProjector(copying: index.metricOriginal)
        projector = made
        return made
    }

    /// Inside `owner` and within the near-boundary distance (in degrees) of
    /// some edge: the depth and runner-up as `GridLocator.nearEdgeDetails`
    /// computes them — other grids that close in degrees are the candidates,
    /// their metric distances decide — from the edge cell's segments (the
    /// cell lists every segment that can matter, see `AssignmentIndex`).
    private mutating func assignNearEdge(_ lon: Double, _ lat: Double, owner: Int32, record offset: Int) throws -> PointAssignment {
        let (x, y) = try metric(lon, lat)
        var depth = Double.infinity
        var runnerUp: GridDistance?
        var cursor = offset + 1
        for _ in 0..<Int(records[offset]) {
            let grid = Int32(bitPattern: records[cursor] & ~OwnershipRaster.insideBit)
            let runs = Int(records[cursor + 1])
            cursor += 2
            var distance = Double.infinity
            var closeInDegrees = grid == owner
            var sliver = false
            for _ in 0..<runs {
                let first = Int(records[cursor]), count = Int(records[cursor + 1])
                cursor += 2
                for s in first..<(first + count) {
                    let d = ExactArithmetic.geosPointToSegment(x, y, metricXY[2 * s], metricXY[2 * s + 1], metricXY[2 * s + 2], metricXY[2 * s + 3])
                    if d < distance { distance = d }
                    if grid != owner {
                        if !sliver && inSliver(s, distance: d, x, y) { sliver = true }
                        if !closeInDegrees && Self.isWithin(bandDegrees, lon, lat, degreeXY[2 * s], degreeXY[2 * s + 1], degreeXY[2 * s + 2], degreeXY[2 * s + 3]) {
                            closeInDegrees = true
                        }
                    }
                }
            }
            if grid == owner {
                depth = distance
            } else if closeInDegrees {
                if sliver { return try geos(lon, lat) }
                if distance <= band, runnerUp == nil || distance < runnerUp!.distance {
                    runnerUp = GridDistance(grid: grid, distance: distance)
                }
            }
        }
        counts.nearEdge += 1
        return PointAssignment(grid: owner, method: .inside, distanceMeters: depth <= band ? depth : nil,
                               runnerUp: runnerUp?.grid ?? -1, runnerUpDistanceMeters: runnerUp?.distance)
    }

    /// Outside every grid: the nearest grid within the tolerance (and the
    /// next one as runner-up), else `none` with the nearest grid however far,
    /// as `GridLocator.outsideAssignment` ranks them; over the tile's
    /// candidate segments, which hold every edge that can matter here.
    private mutating func assignOutside(_ lon: Double, _ lat: Double, column: Int, row: Int) throws -> PointAssignment {
        let tile = tile(column: column, row: row)
        if let known = ListCache.lookup(tilePages, tile) { return try rankOutside(lon, lat, known) }
        let list = try index.outside.list(tile, projector: try borrowedProjector())
        tileLists.set(tile, list)
        return try rankOutside(lon, lat, list.block.base)
    }

    @inline(__always)
    private func tile(column: Int, row: Int) -> Int { (row / tileCells) * tileColumns + column / tileCells }

    /// Beyond the raster: the same ranking over the far cell's list.
    private mutating func assignFar(_ lon: Double, _ lat: Double) throws -> PointAssignment {
        guard let cell = farCells.cell(lon, lat) else { return try assignOuterFar(lon, lat) }
        if let known = ListCache.lookup(farPages, cell) { return try rankOutside(lon, lat, known) }
        let list = try index.far.list(cell, projector: try borrowedProjector())
        farLists.set(cell, list)
        return try rankOutside(lon, lat, list.block.base)
    }

    /// Beyond the far field: the outer field's list, ranked on PROJ's coordinates.
    private mutating func assignOuterFar(_ lon: Double, _ lat: Double) throws -> PointAssignment {
        let outer = index.outerFar
        guard let cell = outer.cell(lon, lat) else { return try geos(lon, lat) }
        let block: UnsafePointer<Double>
        if let known = outerFarLists[cell] {
            block = known
        } else {
            let list = try outer.list(cell, projector: try borrowedProjector())
            outerFarLists.set(cell, list)
            block = list.block.base
        }
        let (x, y) = try metric(lon, lat)
        let offset = ((x - block[0]) * (x - block[0]) + (y - block[1]) * (y - block[1])).squareRoot()
        return try rankOutside(lon, lat, x, y, block: block, offset: offset)
    }

    /// The start of the list a point outside every grid will read, if this
    /// thread has it (nil for other points): read ahead of the point's turn,
    /// so that the cache misses of a run of points overlap.
    @inline(__always)
    private func listAhead(_ lon: Double, _ lat: Double, code: Int32, x: Double, y: Double) -> UnsafePointer<Double>? {
        if code != OwnershipRaster.outsideCell { return nil }
        if x >= 0 && y >= 0 && x < columnLimit && y < rowLimit { return ListCache.lookup(tilePages, tile(column: Int(x), row: Int(y))) }
        return farCells.cell(lon, lat).flatMap { ListCache.lookup(farPages, $0) }
    }

    /// The point ranked over a list's block (a `CandidateList`'s, which the
    /// index keeps alive): on Swift-projected coordinates when they
    /// certainly give PROJ's answer, else on PROJ's.
    @inline(__always)
    private mutating func rankOutside(_ lon: Double, _ lat: Double, _ block: UnsafePointer<Double>) throws -> PointAssignment {
        let centerX = block[0], centerY = block[1]
        if let approximate {
            let local = UnsafePointer<Double>(bitPattern: UInt(block[CandidateList.localProjectionAddress].bitPattern))
            let (x, y) = if let local { LocalProjection.project(local, lon, lat) } else { approximate.project(lon, lat) }
            let offset = ((x - centerX) * (x - centerX) + (y - centerY) * (y - centerY)).squareRoot()
            if let answer = rankOutsideApproximately(lon, lat, x, y, block: block, offset: offset) {
                return answer
            }
        }
        let (x, y) = try metric(lon, lat)
        let offset = ((x - centerX) * (x - centerX) + (y - centerY) * (y - centerY)).squareRoot()
        return try rankOutside(lon, lat, x, y, block: block, offset: offset)
    }

    /// How far apart PROJ's and `TransverseMercator`'s metric distances of a
    /// point may be: the projections' bound and GEOS's rounding, with room.
    static let approximationSlack = 2 * TransverseMercator.bound

    /// `rankOutside` on the point's Swift-projected metric coordinates
    /// (within `approximationSlack` of PROJ's), or nil when the answer could
    /// differ anywhere within that slack: grids nearly as near as each
    /// other, a distance nearly the tolerance, a distance whose single
    /// precision rounding is in doubt, a possible sliver, or a search box
    /// that nearly misses the grid. Then PROJ's coordinates decide.
    @inline(__always)
    private mutating func rankOutsideApproximately(_ lon: Double, _ lat: Double, _ x: Double, _ y: Double,
                                                   block: UnsafePointer<Double>, offset: Double) -> PointAssignment? {
        let slack = Self.approximationSlack
        var nearby = NearestGrids()
        var closest = Double.infinity
        var walk = CandidateWalk(block, metricXY: metricXY, x: x, y: y, offset: offset)
        defer { counts.outsideCandidatesRead += walk.read }
        // Every grid within twice the slack of the closest, and every one within the tolerance and slack, is measured.
        while let s = walk.next(within: max(closest + 2 * slack, tolerance + slack) * (1 + 1e-9) + 1e-6) {
            let d = ExactArithmetic.geosPointToSegment(x, y, metricXY[2 * s], metricXY[2 * s + 1], metricXY[2 * s + 2], metricXY[2 * s + 3])
            let gap = sliverGap[s]
            if gap > 0 && d - slack <= AssignmentIndex.sliverWidth(gap: gap, along: 0.5) { return nil }
            if d < closest { closest = d }
            nearby.add(vertexGrid[s], d)
        }
        guard nearby.count > 0 else { return nil }
        let first = nearby.first
        if nearby.count > 1 && nearby.second.distance - first.distance <= 2 * slack { return nil }
        guard abs(first.distance - tolerance) > slack, Self.roundsAlike(first.distance, slack) else { return nil }
        let firstRadius = tolerance / metresPerDegree
        // The locator's search box grows with the distance: it must hold the grid at either end of the slack.
        guard envelopeMeets(first.grid, lon, lat, radius: max(firstRadius, (first.distance - slack) / metresPerDegree * 1.01)) else {
            return nil
        }
        counts.outside += 1
        guard first.distance <= tolerance else {
            return PointAssignment(grid: -1, method: .none, distanceMeters: first.distance, nearestGrid: first.grid)
        }
        var result = PointAssignment(grid: first.grid, method: .nearest, distanceMeters: first.distance)
        if nearby.count > 1 && nearby.second.distance <= tolerance + slack {
            let second = nearby.second
            guard abs(second.distance - tolerance) > slack, Self.roundsAlike(second.distance, slack),
                  nearby.count < 3 || nearby.third.distance - second.distance > 2 * slack,
                  envelopeMeets(second.grid, lon, lat, radius: firstRadius) else {
                counts.outside -= 1
                return nil
            }
            result.runnerUp = second.grid
            result.runnerUpDistanceMeters = second.distance
        }
        return result
    }

    /// Whether every distance within `slack` of `d` is stored as the same
    /// single-precision value (`PointAssignment` keeps distances as `Float`).
    @inline(__always)
    static func roundsAlike(_ d: Double, _ slack: Double) -> Bool {
        Float(d - slack) == Float(d + slack)
    }

    /// The ranking of `assignOutside` over a `CandidateList`'s segments, from
    /// a point `offset` metres from its centre (see `CandidateWalk`).
    @inline(__always)
    private mutating func rankOutside(_ lon: Double, _ lat: Double, _ x: Double, _ y: Double,
                                      block: UnsafePointer<Double>, offset: Double) throws -> PointAssignment {
        var nearby = NearestGrids()
        var closest = GridDistance(grid: -1, distance: .infinity)
        var walk = CandidateWalk(block, metricXY: metricXY, x: x, y: y, offset: offset)
        defer { counts.outsideCandidatesRead += walk.read }
        // An edge whose box is certainly farther than both the closest edge
        // so far and the tolerance cannot matter.
        while let s = walk.next(within: max(closest.distance, tolerance) * (1 + 1e-9) + 1e-6) {
            let d = ExactArithmetic.geosPointToSegment(x, y, metricXY[2 * s], metricXY[2 * s + 1], metricXY[2 * s + 2], metricXY[2 * s + 3])
            if inSliver(s, distance: d, x, y) { return try geos(lon, lat) }
            let grid = vertexGrid[s]
            if d < closest.distance || (d == closest.distance && grid < closest.grid) { closest = GridDistance(grid: grid, distance: d) }
            if d <= tolerance { nearby.add(grid, d) }
        }
        guard closest.grid >= 0 else { return try geos(lon, lat) }
        // GridLocator ranks only the grids whose envelopes meet its search
        // boxes (degrees); when the metric nearest grids lie outside them, as
        // long lon/lat edges far from their metric chords can make them, its
        // own search must answer.
        let firstRadius = tolerance / metresPerDegree
        guard envelopeMeets(closest.grid, lon, lat, radius: max(firstRadius, closest.distance / metresPerDegree * 1.01)) else {
            return try geos(lon, lat)
        }
        guard closest.distance <= tolerance else {
            counts.outside += 1
            return PointAssignment(grid: -1, method: .none, distanceMeters: closest.distance, nearestGrid: closest.grid)
        }
        var result = PointAssignment(grid: nearby.first.grid, method: .nearest, distanceMeters: nearby.first.distance)
        if nearby.count > 1 {
            guard envelopeMeets(nearby.second.grid, lon, lat, radius: firstRadius) else { return try geos(lon, lat) }
            result.runnerUp = nearby.second.grid
            result.runnerUpDistanceMeters = nearby.second.distance
        }
        counts.outside += 1
        return result
    }

    /// Whether grid `grid`'s envelope meets the box of half-side `radius`
    /// around the point, as GEOS's STRtree query tests it.
    @inline(__always)
    private func envelopeMeets(_ grid: Int32, _ lon: Double, _ lat: Double, radius: Double) -> Bool {
        let e = gridEnvelopes + 4 * Int(grid)
        return e[0] <= lon + radius && e[2] >= lon - radius && e[1] <= lat + radius && e[3] >= lat - radius
    }

    /// The plain GEOS path, for the cases the fast path cannot certify.
    private mutating func geos(_ lon: Double, _ lat: Double) throws -> PointAssignment {
        counts.geos += 1
        let locator = try locators.take() ?? makeLocator()
        defer { locators.give(locator) }
        return try locator.locate(lon: lon, lat: lat)
    }
}

/// The three nearest grids to a point so far, each at the nearest of its
/// edges measured, ranked as `GridDistance.ranked` ranks them: all that the
/// outside rankings read, kept in registers instead of an array searched
/// per edge and sorted per point. A grid pushed out of the three can come
/// back only nearer than the third, so they are always the whole set's three.
struct NearestGrids {
    private(set) var first = GridDistance(grid: -1, distance: .infinity)
    private(set) var second = GridDistance(grid: -1, distance: .infinity)
    private(set) var third = GridDistance(grid: -1, distance: .infinity)
    /// How many distinct grids were added, up to three.
    var count: Int { third.grid >= 0 ? 3 : second.grid >= 0 ? 2 : first.grid >= 0 ? 1 : 0 }

    @inline(__always)
    mutating func add(_ grid: Int32, _ distance: Double) {
        if grid == first.grid {
            first.distance = min(first.distance, distance)
        } else if grid == second.grid {
            guard distance < second.distance else { return }
            second.distance = distance
            if GridDistance.ranked(second, first) { swap(&first, &second) }
        } else {
            let added = GridDistance(grid: grid, distance: distance)
            guard grid == third.grid ? distance < third.distance : GridDistance.ranked(added, third) else { return }
            third = added
            if GridDistance.ranked(third, second) {
                swap(&second, &third)
                if GridDistance.ranked(second, first) { swap(&first, &second) }
            }
        }
    }
}

/// Idle objects that belong to one thread at a time (GEOS locators, PROJ
/// projectors), handed out to one caller at a time.
public final class ObjectPool<Object>: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [Object] = []

    public init() {}

    public func take() -> Object? {
        lock.lock()
        defer { lock.unlock() }
        return idle.popLast()
    }

    public func give(_ object: Object) {
        lock.lock()
        idle.append(object)
        lock.unlock()
    }
}
