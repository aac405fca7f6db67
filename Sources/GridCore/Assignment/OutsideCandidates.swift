import Foundation
import GeoKit

/// For points outside every grid: per tile of `tileCells` × `tileCells`
/// raster cells, the edge segments that can matter to any point of the
/// tile — every segment that could be the nearest one, and every segment
/// within the nearest tolerance. A point's nearest grid and the grids within
/// the tolerance are then exact over this short list.
///
/// Only tiles where points outside every grid are to be expected have a
/// list: those with a cell centre outside every grid in or next to them.
/// (A point outside every grid in a tile without a list, say in a channel
/// between grids thinner than a cell, goes to GEOS.) A tile's list is made
/// when a point first needs it: points inside the grids never do, and
/// making every list up front took half of the index's build.
final class OutsideCandidates: Sendable {
    let tileCells: Int
    let tileColumns: Int
    let tileRows: Int
    private let raster: OwnershipRaster
    private let tree: MetricSegmentTree
    private let metricXY: FrozenBuffer<Double>
    private let approximate: TransverseMercator?
    private let tolerance: Double
    let lists: LazyTable<CandidateList>
    /// Shared by blocks of 4 × 4 tiles: a tile is about 800 m, and fitting
    /// and checking a projection per tile cost more than the ranking of the
    /// points in it where few fall in each (far points in the county's bay).
    private let projections: RegionalProjections?

    init(raster: OwnershipRaster, tree: MetricSegmentTree, metricXY: FrozenBuffer<Double>,
         approximate: TransverseMercator?, tolerance: Double, tileCells: Int) {
        self.tileCells = tileCells
        tileColumns = (raster.columns + tileCells - 1) / tileCells
        tileRows = (raster.rows + tileCells - 1) / tileCells
        self.raster = raster
        self.tree = tree
        self.metricXY = metricXY
        self.approximate = approximate
        self.tolerance = tolerance
        lists = LazyTable(count: tileColumns * tileRows)
        projections = approximate.map {
            RegionalProjections($0, originX: raster.originX, originY: raster.originY, cellSize: raster.cellSize,
                                columns: raster.columns, rows: raster.rows, regionCells: 4 * tileCells)
        }
    }

    /// The tile's list, made now if no thread has made it yet.
    func list(_ tile: Int, projector: MetricProjector) throws -> CandidateList {
        try lists.value(tile) {
            var builder = TileListBuilder(raster: raster, tree: tree.view, metricXY: metricXY.base, projector: projector,
                                          approximate: approximate, tolerance: tolerance, tileCells: tileCells)
            let (column, row) = (tile % tileColumns, tile / tileColumns)
            let list = try builder.list(tileColumn: column, tileRow: row)
            let local = list.segments.isEmpty ? nil : projections?.header(column: column * tileCells, row: row * tileCells)
            return CandidateList(list, metricXY: metricXY.base, localProjection: local)
        }
    }
}

/// `LocalProjection`s of square blocks of a lattice's cells (raster cells,
/// far cells), fitted by the first thread to need one and shared by the lists
/// of the tiles or cells in the block. A block's box is computed by the same
/// arithmetic as its cells' boxes, so it holds them.
final class RegionalProjections: Sendable {
    private let projection: TransverseMercator
    private let originX: Double, originY: Double, cellSize: Double
    private let columns: Int, rows: Int
    private let regionCells: Int, regionColumns: Int
    /// Headers by block (nil: no projection fits the block).
    private let headers: LazyTable<FrozenBuffer<Double>?>

    init(_ projection: TransverseMercator, originX: Double, originY: Double, cellSize: Double, columns: Int, rows: Int, regionCells: Int) {
        self.projection = projection
        (self.originX, self.originY, self.cellSize) = (originX, originY, cellSize)
        (self.columns, self.rows) = (columns, rows)
        self.regionCells = regionCells
        regionColumns = (columns + regionCells - 1) / regionCells
        headers = LazyTable(count: regionColumns * ((rows + regionCells - 1) / regionCells))
    }

    /// The header of the block that holds cell (`column`, `row`), or nil if no
    /// projection fits it; kept as long as these projections are.
    func header(column: Int, row: Int) -> UnsafePointer<Double>? {
        let (regionColumn, regionRow) = (column / regionCells, row / regionCells)
        let header = headers.value(regionRow * regionColumns + regionColumn) {
            let west = originX + Double(regionColumn * regionCells) * cellSize
            let east = originX + Double(min((regionColumn + 1) * regionCells, columns)) * cellSize
            let south = originY + Double(regionRow * regionCells) * cellSize
            let north = originY + Double(min((regionRow + 1) * regionCells, rows)) * cellSize
            return LocalProjection(of: projection, west: west, east: east, south: south, north: north).map { FrozenBuffer($0.header) }
        }
        return header?.base
    }
}

/// Values (candidate lists, projections) made on first need and kept, shared
/// by every thread (threads keep their own map of the lists they use, so
/// reading those costs no lock).
final class LazyTable<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func value(_ index: Int, make: () throws -> Value) rethrows -> Value {
        lock.lock()
        let known = values[index]
        lock.unlock()
        if let known { return known }
        let made = try make()
        lock.lock()
        defer { lock.unlock() }
        if let raced = values[index] { return raced }
        values[index] = made
        return made
    }

    /// The values made so far.
    var made: [Value] {
        lock.lock()
        defer { lock.unlock() }
        return values.compactMap { $0 }
    }
}

/// One thread's state while listing the candidates of tiles.
struct TileListBuilder {
    let raster: OwnershipRaster
    let tileCells: Int
    var boxes: OutsideListBuilder

    init(raster: OwnershipRaster, tree: MetricSegmentTreeView, metricXY: UnsafePointer<Double>, projector: MetricProjector,
         approximate: TransverseMercator?, tolerance: Double, tileCells: Int) {
        self.raster = raster
        self.tileCells = tileCells
        boxes = OutsideListBuilder(tree: tree, metricXY: metricXY, projector: projector, approximate: approximate, tolerance: tolerance)
    }

    /// Whether any cell of the block has its centre outside every grid (or
    /// is left to GEOS).
    static func hasOutsideCentre(_ raster: OwnershipRaster, columns: Range<Int>, rows: Range<Int>) -> Bool {
        let cells = raster.cells.base, records = raster.records.base
        for row in rows {
            for column in columns {
                let code = cells[row * raster.columns + column]
                if code >= 0 { continue }
                if code == OwnershipRaster.outsideCell || code == OwnershipRaster.geosCell { return true }
                let offset = OwnershipRaster.recordOffset(code)
                var cursor = offset + 1
                var centreInside = false
                for _ in 0..<Int(records[offset]) {
                    if records[cursor] & OwnershipRaster.insideBit != 0 { centreInside = true }
                    cursor += 2 + 2 * Int(records[cursor + 1])
                }
                if !centreInside { return true }
            }
        }
        return false
    }

    mutating func list(tileColumn: Int, tileRow: Int) throws -> OutsideList {
        let columns = (tileColumn * tileCells)..<min((tileColumn + 1) * tileCells, raster.columns)
        let rows = (tileRow * tileCells)..<min((tileRow + 1) * tileCells, raster.rows)
        guard Self.hasOutsideCentre(raster, columns: max(0, columns.lowerBound - 1)..<min(raster.columns, columns.upperBound + 1),
                                    rows: max(0, rows.lowerBound - 1)..<min(raster.rows, rows.upperBound + 1)) else {
            return OutsideList(segments: [], centerX: 0, centerY: 0)
        }
        let west = raster.originX + Double(columns.lowerBound) * raster.cellSize
        let east = raster.originX + Double(columns.upperBound) * raster.cellSize
        let south = raster.originY + Double(rows.lowerBound) * raster.cellSize
        let north = raster.originY + Double(rows.upperBound) * raster.cellSize
        return try boxes.candidates(west: west, east: east, south: south, north: north)
    }
}

/// Lists the candidate edges of lon/lat boxes (one thread's state).
struct OutsideListBuilder {
    let tree: MetricSegmentTreeView
    let metricXY: UnsafePointer<Double>
    let projector: MetricProjector
    /// Used instead of PROJ for the boxes' corners when given: within a
    /// micrometre of PROJ, far inside the boxes' slack.
    let approximate: TransverseMercator?
    let tolerance: Double
    var heap = NodeHeap()
    var stack: [Int32] = []

    init(tree: MetricSegmentTreeView, metricXY: UnsafePointer<Double>, projector: MetricProjector,
         approximate: TransverseMercator?, tolerance: Double) {
        self.tree = tree
        self.metricXY = metricXY
        self.projector = projector
        self.approximate = approximate
        self.tolerance = tolerance
    }

    /// The segments that can matter to any point of a lon/lat box: every
    /// one that could be the nearest to some point of it, and every one
    /// within the tolerance of it; with the box's metric centre.
    mutating func candidates(west: Double, east: Double, south: Double, north: Double) throws -> OutsideList {
        // The box's metric box: the projected border points, widened far
        // beyond the bend of the projected border between them (a projected
        // parallel or meridian bends with a radius of thousands of
        // kilometres; 1,000 km is assumed) and any rounding.
        var box = (minX: Double.infinity, minY: Double.infinity, maxX: -Double.infinity, maxY: -Double.infinity)
        for (lon, lat) in [(west, south), (east, south), (west, north), (east, north),
                           ((west + east) / 2, south), ((west + east) / 2, north), (west, (south + north) / 2), (east, (south + north) / 2)] {
            let p = if let approximate { approximate.project(lon, lat) } else { try projector.transformer.transform(x: lon, y: lat) }
            box = (min(box.minX, p.x), min(box.minY, p.y), max(box.maxX, p.x), max(box.maxY, p.y))
        }
        let side = max(box.maxX - box.minX, box.maxY - box.minY)
        let bend = side * side / (32 * 1_000_000)
        let slack = 0.05 + bend + 1e-9 * max(abs(box.minX), abs(box.maxX), abs(box.minY), abs(box.maxY))
        box = (box.minX - slack, box.minY - slack, box.maxX + slack, box.maxY + slack)
        // Every point of the box is within `reach` of the edge nearest to the box's centre.
        let centerX = (box.minX + box.maxX) / 2, centerY = (box.minY + box.maxY) / 2
        let halfDiagonal = ((box.maxX - box.minX) * (box.maxX - box.minX) + (box.maxY - box.minY) * (box.maxY - box.minY)).squareRoot() / 2
        let nearest = tree.nearestSegmentDistance(centerX, centerY, metricXY: metricXY, heap: &heap)
        let reach = max(nearest + halfDiagonal, tolerance) * (1 + 1e-9) + 1e-6
        var list: [UInt32] = []
        let xy = metricXY
        tree.forEachSegment(nearMinX: box.minX, minY: box.minY, maxX: box.maxX, maxY: box.maxY, within: reach, stack: &stack) { s in
            let dx = max(min(xy[2 * s], xy[2 * s + 2]) - box.maxX, 0, box.minX - max(xy[2 * s], xy[2 * s + 2]))
            let dy = max(min(xy[2 * s + 1], xy[2 * s + 3]) - box.maxY, 0, box.minY - max(xy[2 * s + 1], xy[2 * s + 3]))
            if (dx * dx + dy * dy).squareRoot() <= reach { list.append(UInt32(s)) }
        }
        return OutsideList(segments: list, centerX: centerX, centerY: centerY)
    }
}

/// The candidate edges of one box (see `OutsideListBuilder.candidates`).
struct OutsideList {
    var segments: [UInt32]
    /// The box's metric centre.
    var centerX: Double, centerY: Double
}

/// For points beyond the raster (kilometres from every grid, say a mistyped
/// coordinate or a neighbouring county's address): coarse lon/lat cells
/// around the raster, each with the edges that can matter to a point in it
/// (`OutsideListBuilder.candidates`), nearest to the cell's centre first, so
/// that a point's search stops as soon as the centre distance, less the
/// point's offset from the centre, passes the nearest edge found. A cell's
/// list is made the first time a point falls in it, by whichever thread
/// gets there, and kept: most runs never need most cells.
final class FarField: @unchecked Sendable {
    let originX: Double, originY: Double
    /// Cell side in degrees.
    let cellSize: Double
    let columns: Int, rows: Int
    let tree: MetricSegmentTree
    private let metricXY: FrozenBuffer<Double>
    private let tolerance: Double
    private let approximate: TransverseMercator?
    let lists: LazyTable<CandidateList>
    /// Shared by blocks of 2 × 2 cells (8 km for 4 km cells).
    private let projections: RegionalProjections?

    /// How far beyond the raster the cells of the near field reach, in degrees.
    static let reachDegrees = 1.0
    /// How far the outer field's cells reach (the near field's go first);
    /// farther points go to GEOS.
    static let outerReachDegrees = 4.0
    /// At most this many cells: lists for far cells are long, but few cells are built.
    static let maximumCells = 1 << 16

    /// - Parameters:
    ///   - approximate: the Swift projection, checked over the cells' extent (nil: PROJ for every corner).
    ///   - reach: how far beyond the raster the cells reach, in degrees.
    init(raster: OwnershipRaster, tree: MetricSegmentTree, metricXY: FrozenBuffer<Double>, approximate: TransverseMercator?,
         tolerance: Double, cellMetres: Double, reach: Double = FarField.reachDegrees) {
        let extent = raster.extent
        let width = extent.width + 2 * reach, height = extent.height + 2 * reach
        cellSize = max(cellMetres / 110_574, (width * height / Double(Self.maximumCells)).squareRoot())
        originX = extent.minX - reach
        originY = extent.minY - reach
        columns = Int((width / cellSize).rounded(.up))
        rows = Int((height / cellSize).rounded(.up))
        self.tree = tree
        self.metricXY = metricXY
        self.tolerance = tolerance
        self.approximate = approximate
        lists = LazyTable(count: columns * rows)
        let layout = (originX, originY, cellSize, columns, rows)
        projections = approximate.map {
            RegionalProjections($0, originX: layout.0, originY: layout.1, cellSize: layout.2, columns: layout.3, rows: layout.4, regionCells: 2)
        }
    }

    /// The cell of a point, or nil beyond the cells (or not a number).
    @inline(__always)
    func cell(_ lon: Double, _ lat: Double) -> Int? { layout.cell(lon, lat) }

    var layout: FarCellLayout {
        FarCellLayout(originX: originX, originY: originY, cellSize: cellSize, columns: Double(columns), rows: Double(rows))
    }

    var cellCount: Int { columns * rows }

    var extent: Envelope {
        Envelope(minX: originX, minY: originY, maxX: originX + Double(columns) * cellSize, maxY: originY + Double(rows) * cellSize)
    }

    /// The cell's list, made now if no thread has made it yet.
    func list(_ cell: Int, projector: MetricProjector) throws -> CandidateList {
        try lists.value(cell) {
            let column = cell % columns, row = cell / columns
            var builder = OutsideListBuilder(tree: tree.view, metricXY: metricXY.base, projector: projector, approximate: approximate,
                                             tolerance: tolerance)
            // Sides by the arithmetic of `RegionalProjections`' blocks, which then hold the cells exactly.
            let list = try builder.candidates(west: originX + Double(column) * cellSize, east: originX + Double(column + 1) * cellSize,
                                              south: originY + Double(row) * cellSize, north: originY + Double(row + 1) * cellSize)
            let local = list.segments.isEmpty ? nil : projections?.header(column: column, row: row)
            return CandidateList(list, metricXY: metricXY.base, localProjection: local)
        }
    }
}

/// Where a `FarField`'s cells lie, as a value its readers copy (reading
/// it costs no reference counting).
struct FarCellLayout {
    let originX: Double, originY: Double, cellSize: Double
    let columns: Double, rows: Double

    /// The cell of a point, or nil beyond the cells (or not a number).
    @inline(__always)
    func cell(_ lon: Double, _ lat: Double) -> Int? {
        let x = (lon - originX) / cellSize, y = (lat - originY) / cellSize
        guard x >= 0, y >= 0, x < columns, y < rows else { return nil }
        return Int(y) * Int(columns) + Int(x)
    }
}

/// One tile's or far cell's candidates, frozen in one block of doubles so
/// that a point's scan reads one place in order. The segments go in groups
/// of up to `groupLength` consecutive ones (a stretch of one ring, whose
/// endpoints lie side by side in the index's metric coordinates), each
/// group with its box and the box's distance from the centre, groups
/// nearest to the centre first: a point's scan (`CandidateWalk`) stops at
/// the first group whose centre distance, less the point's offset from the
/// centre, is beyond the nearest edge found, and skips a group whose box is
/// beyond it. A point kilometres out reads a few boxes and measures a few
/// segments, not every edge the cell's list must hold; and the lists, boxes
/// only, are small enough that many stay in the cache.
///
/// Layout: the centre (x, y), the segment count and the group count; the
/// address of the `LocalProjection` header of the block that holds the box
/// (or zero), shared by the lists of the block so that it stays in the cache; per group
/// its centre distance, box (minX, minY, maxX, maxY), and first segment ×
/// 16 + length.
final class CandidateList: Sendable {
    /// A run of consecutive segments, while the list is made.
    private struct Group {
        var distance: Double
        var minX: Double, minY: Double, maxX: Double, maxY: Double
        let first: UInt32
        let length: Int
    }

    let block: FrozenBuffer<Double>
    static let localProjectionAddress = 4
    static let headerLength = 5
    static let groupStride = 6
    static let groupLength = 8
    /// How many segments the list holds.
    var count: Int { Int(block.base[2]) }

    /// - Parameter localProjection: a `LocalProjection` header over a box that holds the list's (nil: none), which must outlive the list.
    init(_ list: OutsideList, metricXY xy: UnsafePointer<Double>, localProjection: UnsafePointer<Double>?) {
        // Runs of consecutive segment numbers, cut every `groupLength`.
        let segments = list.segments.sorted()
        var groups: [Group] = []
        var start = 0
        while start < segments.count {
            var end = start + 1
            while end < segments.count && end - start < Self.groupLength && segments[end] == segments[end - 1] + 1 { end += 1 }
            var group = Group(distance: 0, minX: .infinity, minY: .infinity, maxX: -.infinity, maxY: -.infinity,
                              first: segments[start], length: end - start)
            for segment in segments[start..<end] {
                let s = Int(segment)
                group.minX = min(group.minX, xy[2 * s], xy[2 * s + 2])
                group.minY = min(group.minY, xy[2 * s + 1], xy[2 * s + 3])
                group.maxX = max(group.maxX, xy[2 * s], xy[2 * s + 2])
                group.maxY = max(group.maxY, xy[2 * s + 1], xy[2 * s + 3])
            }
            let dx = max(group.minX - list.centerX, 0, list.centerX - group.maxX)
            let dy = max(group.minY - list.centerY, 0, list.centerY - group.maxY)
            group.distance = (dx * dx + dy * dy).squareRoot()
            groups.append(group)
            start = end
        }
        groups.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.first < $1.first) }
        var block = [list.centerX, list.centerY, Double(segments.count), Double(groups.count)]
        block.reserveCapacity(Self.headerLength + groups.count * Self.groupStride)
        block.append(Double(bitPattern: UInt64(UInt(bitPattern: localProjection))))
        for group in groups {
            block.append(group.distance)
            block.append(group.minX)
            block.append(group.minY)
            block.append(group.maxX)
            block.append(group.maxY)
            block.append(Double(Int(group.first) * 16 + group.length))
        }
        self.block = FrozenBuffer(block)
    }
}

/// One point's walk over a `CandidateList`: the segments whose boxes come
/// within the reach the caller gives (it shrinks as nearer edges are
/// found), group by group, stopping at the first group whose centre
/// distance, less the point's offset from the centre, is beyond it (the
/// groups are in that order, so no later one can come within reach).
struct CandidateWalk {
    private var group: UnsafePointer<Double>
    private var groupsLeft: Int
    private var segment = 0
    private var segmentsLeft = 0
    private let metricXY: UnsafePointer<Double>
    private let x: Double, y: Double, offset: Double
    /// Groups and segments read so far.
    private(set) var read = 0

    /// - Parameter block: a `CandidateList`'s block.
    init(_ block: UnsafePointer<Double>, metricXY: UnsafePointer<Double>, x: Double, y: Double, offset: Double) {
        group = block + CandidateList.headerLength
        groupsLeft = Int(block[3])
        self.metricXY = metricXY
        (self.x, self.y, self.offset) = (x, y, offset)
    }

    /// The next segment whose box is within `reach` of the point (its
    /// endpoints are `metricXY[2 s ..< 2 s + 4]`), or nil when none is left.
    @inline(__always)
    mutating func next(within reach: Double) -> Int? {
        while true {
            while segmentsLeft > 0 {
                let s = segment
                segment += 1
                segmentsLeft -= 1
                read += 1
                let (ax, ay, bx, by) = (metricXY[2 * s], metricXY[2 * s + 1], metricXY[2 * s + 2], metricXY[2 * s + 3])
                if Self.gapSquared(x, y, min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)) <= reach * reach { return s }
            }
            guard groupsLeft > 0, group[0] - offset <= reach * (1 + 1e-9) + 1e-6 else { return nil }
            read += 1
            groupsLeft -= 1
            if Self.gapSquared(x, y, group[1], group[2], group[3], group[4]) <= reach * reach {
                let packed = Int(group[5])
                segment = packed >> 4
                segmentsLeft = packed & 15
            }
            group += CandidateList.groupStride
        }
    }

    /// The squared distance from a point to a box (0 inside it).
    @inline(__always)
    static func gapSquared(_ x: Double, _ y: Double, _ minX: Double, _ minY: Double, _ maxX: Double, _ maxY: Double) -> Double {
        let gapX = max(minX - x, 0, x - maxX), gapY = max(minY - y, 0, y - maxY)
        return gapX * gapX + gapY * gapY
    }
}

/// One thread's map from tile or cell to the blocks of the lists it has
/// used (unretained: the index keeps every list it makes). Pages of 4,096
/// slots are made on first use, so a province's two million tiles cost
/// nothing until points need them.
final class ListCache {
    typealias Page = UnsafeMutablePointer<UnsafePointer<Double>?>
    /// The page table, raw so that a lookup in the inner loop costs no
    /// retain and no exclusivity check (see `lookup`).
    let pages: UnsafeMutablePointer<Page?>
    private let pageCount: Int
    private static let pageShift = 12

    init(count: Int) {
        pageCount = (count >> Self.pageShift) + 1
        pages = .allocate(capacity: pageCount)
        pages.initialize(repeating: nil, count: pageCount)
    }

    deinit {
        for page in 0..<pageCount { pages[page]?.deallocate() }
        pages.deallocate()
    }

    /// The block of list `index`, nil if this thread has not used it yet.
    subscript(_ index: Int) -> UnsafePointer<Double>? { Self.lookup(pages, index) }

    /// The block of list `index` in a cache's page table, nil if this thread has not used it yet.
    @inline(__always)
    static func lookup(_ pages: UnsafeMutablePointer<Page?>, _ index: Int) -> UnsafePointer<Double>? {
        pages[index >> Self.pageShift]?[index & ((1 << Self.pageShift) - 1)]
    }

    func set(_ index: Int, _ list: CandidateList) {
        let page = index >> Self.pageShift
        if pages[page] == nil {
            let made = Page.allocate(capacity: 1 << Self.pageShift)
            made.initialize(repeating: nil, count: 1 << Self.pageShift)
            pages[page] = made
        }
        pages[page]![index & ((1 << Self.pageShift) - 1)] = list.block.base
    }
}

/// `TransverseMercator` over one lon/lat box, as two bicubic polynomials
/// interpolated at the box's 4 × 4 Chebyshev nodes: a few dozen multiply-adds
/// instead of ten calls to the C library's trigonometry, which was a fifth
/// of the work of a point outside every grid. Over a box a few kilometres
/// wide the next term of the projection's expansion is some nanometres;
/// a box whose polynomials are not within `TransverseMercator.bound / 20`
/// of the projection at every node of a 7 × 7 lattice over it (edges
/// included) gets none, and its points are projected in full.
struct LocalProjection {
    /// 6 + 32 doubles: the box's middle (lon, lat), the
    /// inverse half sides, the metric origin (x, y), and per power of v then
    /// u the (x, y) coefficients, relative to the origin.
    let header: [Double]
    /// T_m at the Chebyshev nodes: `chebyshev[m][i]` = cos(m (2i + 1) π / 8); the nodes are `chebyshev[1]`.
    private static let chebyshev = (0..<4).map { m in (0..<4).map { i in cos(Double(m * (2 * i + 1)) * .pi / 8) } }

    /// The box's projection about the projected middle of the box (the
    /// polynomials' values then stay small, their rounding too).
    init?(of projection: TransverseMercator, west: Double, east: Double, south: Double, north: Double) {
        let middleLon = (west + east) / 2, middleLat = (south + north) / 2
        let halfWidth = (east - west) / 2, halfHeight = (north - south) / 2
        guard halfWidth > 0, halfHeight > 0 else { return nil }
        let (originX, originY) = projection.project(middleLon, middleLat)
        let t = Self.chebyshev
        // Chebyshev coefficients a[m][n] of each output over (u, v) in [-1, 1]².
        var chebyshevX = [[Double]](repeating: [0, 0, 0, 0], count: 4), chebyshevY = chebyshevX
        for i in 0..<4 {
            for j in 0..<4 {
                let p = projection.project(middleLon + t[1][i] * halfWidth, middleLat + t[1][j] * halfHeight)
                let (fx, fy) = (p.x - originX, p.y - originY)
                for m in 0..<4 {
                    for n in 0..<4 {
                        let weight = t[m][i] * t[n][j] / 4 * (m == 0 ? 0.5 : 1) * (n == 0 ? 0.5 : 1)
                        chebyshevX[m][n] += weight * fx
                        chebyshevY[m][n] += weight * fy
                    }
                }
            }
        }
        // T0 = 1, T1 = t, T2 = 2t² − 1, T3 = 4t³ − 3t: row m holds T_m's power coefficients.
        let powers: [[Double]] = [[1, 0, 0, 0], [0, 1, 0, 0], [-1, 0, 2, 0], [0, -3, 0, 4]]
        var header = [middleLon, middleLat, 1 / halfWidth, 1 / halfHeight, originX, originY]
        for b in 0..<4 {
            for a in 0..<4 {
                var cx = 0.0, cy = 0.0
                for m in 0..<4 {
                    for n in 0..<4 {
                        cx += powers[m][a] * powers[n][b] * chebyshevX[m][n]
                        cy += powers[m][a] * powers[n][b] * chebyshevY[m][n]
                    }
                }
                header += [cx, cy]
            }
        }
        self.header = header
        let steps = 6
        for i in 0...steps {
            for j in 0...steps {
                let lon = west + (east - west) * Double(i) / Double(steps), lat = south + (north - south) * Double(j) / Double(steps)
                let exact = projection.project(lon, lat)
                let mine = header.withUnsafeBufferPointer { Self.project($0.baseAddress!, lon, lat) }
                guard abs(mine.x - exact.x) <= TransverseMercator.bound / 20, abs(mine.y - exact.y) <= TransverseMercator.bound / 20 else {
                    return nil
                }
            }
        }
    }

    /// The metric point of (lon, lat) from a header (which must be present).
    @inline(__always)
    static func project(_ header: UnsafePointer<Double>, _ lon: Double, _ lat: Double) -> (x: Double, y: Double) {
        let u = (lon - header[0]) * header[2], v = (lat - header[1]) * header[3]
        let c = header + 6
        var x = 0.0, y = 0.0
        for b in stride(from: 3, through: 0, by: -1) {
            let row = c + 8 * b
            let rowX = ((row[6] * u + row[4]) * u + row[2]) * u + row[0]
            let rowY = ((row[7] * u + row[5]) * u + row[3]) * u + row[1]
            x = x * v + rowX
            y = y * v + rowY
        }
        return (header[4] + x, header[5] + y)
    }
}
