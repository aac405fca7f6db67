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
    let lists: LazyCandidateLists

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
        lists = LazyCandidateLists(count: tileColumns * tileRows)
    }

    @inline(__always)
    func tile(column: Int, row: Int) -> Int { (row / tileCells) * tileColumns + column / tileCells }

    /// The tile's list, made now if no thread has made it yet.
    func list(_ tile: Int, projector: MetricProjector) throws -> CandidateList {
        try lists.list(tile) {
            var builder = TileListBuilder(raster: raster, tree: tree.view, metricXY: metricXY.base, projector: projector,
                                          approximate: approximate, tolerance: tolerance, tileCells: tileCells)
            return CandidateList(try builder.list(tileColumn: tile % tileColumns, tileRow: tile / tileColumns), metricXY: metricXY.base)
        }
    }
}

/// Candidate lists made on first need and kept, shared by every thread
/// (threads keep their own map of the ones they use, so reading costs no lock).
final class LazyCandidateLists: @unchecked Sendable {
    private let lock = NSLock()
    private var lists: [CandidateList?]

    init(count: Int) { lists = Array(repeating: nil, count: count) }

    func list(_ index: Int, make: () throws -> CandidateList) throws -> CandidateList {
        lock.lock()
        let known = lists[index]
        lock.unlock()
        if let known { return known }
        let made = try make()
        lock.lock()
        defer { lock.unlock() }
        if let raced = lists[index] { return raced }
        lists[index] = made
        return made
    }

    /// The lists made so far that hold any segment.
    var made: [CandidateList] {
        lock.lock()
        defer { lock.unlock() }
        return lists.compactMap { $0 }.filter { $0.count > 0 }
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
            return OutsideList(segments: [], centreDistances: [], centerX: 0, centerY: 0)
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
    /// within the tolerance of it; with the box's metric centre and each
    /// segment's distance from that centre, nearest first.
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
        var list: [(segment: UInt32, distance: Double)] = []
        let xy = metricXY
        tree.forEachSegment(nearMinX: box.minX, minY: box.minY, maxX: box.maxX, maxY: box.maxY, within: reach, stack: &stack) { s in
            let dx = max(min(xy[2 * s], xy[2 * s + 2]) - box.maxX, 0, box.minX - max(xy[2 * s], xy[2 * s + 2]))
            let dy = max(min(xy[2 * s + 1], xy[2 * s + 3]) - box.maxY, 0, box.minY - max(xy[2 * s + 1], xy[2 * s + 3]))
            if (dx * dx + dy * dy).squareRoot() <= reach {
                list.append((UInt32(s), ExactArithmetic.geosPointToSegment(centerX, centerY, xy[2 * s], xy[2 * s + 1], xy[2 * s + 2], xy[2 * s + 3])))
            }
        }
        list.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.segment < $1.segment) }
        return OutsideList(segments: list.map(\.segment), centreDistances: list.map(\.distance), centerX: centerX, centerY: centerY)
    }
}

/// The candidate edges of one box (see `OutsideListBuilder.candidates`).
struct OutsideList {
    var segments: [UInt32]
    /// Each segment's distance from the box's metric centre, ascending.
    var centreDistances: [Double]
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
    let lists: LazyCandidateLists

    /// How far beyond the raster the cells reach, in degrees; farther points go to GEOS.
    static let reachDegrees = 1.0
    /// At most this many cells: lists for far cells are long, but few cells are built.
    static let maximumCells = 1 << 16

    init(raster: OwnershipRaster, tree: MetricSegmentTree, metricXY: FrozenBuffer<Double>, approximate: TransverseMercator?,
         tolerance: Double, cellMetres: Double) {
        let extent = raster.extent
        let reach = Self.reachDegrees
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
        lists = LazyCandidateLists(count: columns * rows)
    }

    /// The cell of a point, or nil beyond the cells (or not a number).
    @inline(__always)
    func cell(_ lon: Double, _ lat: Double) -> Int? {
        let x = (lon - originX) / cellSize, y = (lat - originY) / cellSize
        guard x >= 0, y >= 0, x < Double(columns), y < Double(rows) else { return nil }
        return Int(y) * columns + Int(x)
    }

    var cellCount: Int { columns * rows }

    var extent: Envelope {
        Envelope(minX: originX, minY: originY, maxX: originX + Double(columns) * cellSize, maxY: originY + Double(rows) * cellSize)
    }

    /// The cell's list, made now if no thread has made it yet.
    func list(_ cell: Int, projector: MetricProjector) throws -> CandidateList {
        try lists.list(cell) {
            let column = cell % columns, row = cell / columns
            var builder = OutsideListBuilder(tree: tree.view, metricXY: metricXY.base, projector: projector, approximate: approximate,
                                             tolerance: tolerance)
            let west = originX + Double(column) * cellSize, south = originY + Double(row) * cellSize
            return CandidateList(try builder.candidates(west: west, east: west + cellSize, south: south, north: south + cellSize),
                                 metricXY: metricXY.base)
        }
    }
}

/// One tile's or far cell's candidates, frozen in one block of doubles so
/// that a point's scan reads one place in order: the centre (x, y), the
/// count, then per candidate its distance from the centre, its metric
/// endpoints (ax, ay, bx, by) and its segment number.
final class CandidateList: Sendable {
    let block: FrozenBuffer<Double>
    static let headerLength = 3
    static let stride = 6
    var count: Int { Int(block.base[2]) }

    init(_ list: OutsideList, metricXY: UnsafePointer<Double>) {
        var block = [list.centerX, list.centerY, Double(list.segments.count)]
        block.reserveCapacity(Self.headerLength + list.segments.count * Self.stride)
        for (segment, distance) in zip(list.segments, list.centreDistances) {
            let s = Int(segment)
            block += [distance, metricXY[2 * s], metricXY[2 * s + 1], metricXY[2 * s + 2], metricXY[2 * s + 3], Double(segment)]
        }
        self.block = FrozenBuffer(block)
    }
}

/// One thread's map from tile or cell to the blocks of the lists it has
/// used (unretained: the index keeps every list it makes). Pages of 4,096
/// slots are made on first use, so a province's two million tiles cost
/// nothing until points need them.
final class ListCache {
    private var pages: [UnsafeMutablePointer<UnsafePointer<Double>?>?]
    private static let pageShift = 12

    init(count: Int) {
        pages = Array(repeating: nil, count: (count >> Self.pageShift) + 1)
    }

    deinit {
        for page in pages { page?.deallocate() }
    }

    @inline(__always)
    subscript(_ index: Int) -> UnsafePointer<Double>? {
        pages[index >> Self.pageShift]?[index & ((1 << Self.pageShift) - 1)]
    }

    func set(_ index: Int, _ list: CandidateList) {
        let page = index >> Self.pageShift
        if pages[page] == nil {
            let made = UnsafeMutablePointer<UnsafePointer<Double>?>.allocate(capacity: 1 << Self.pageShift)
            made.initialize(repeating: nil, count: 1 << Self.pageShift)
            pages[page] = made
        }
        pages[page]![index & ((1 << Self.pageShift) - 1)] = list.block.base
    }
}
