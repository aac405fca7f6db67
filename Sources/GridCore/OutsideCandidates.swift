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
/// between grids thinner than a cell, goes to GEOS.)
struct OutsideCandidates: Sendable {
    let tileCells: Int
    let tileColumns: Int
    let tileRows: Int
    /// Tile `t` lists `segments[start[t] ..< start[t + 1]]`.
    let start: FrozenBuffer<UInt32>
    let segments: FrozenBuffer<UInt32>

    init(raster: OwnershipRaster, rings: GridRings, tree: MetricSegmentTree, metricCRS: String,
         tolerance: Double, tileCells: Int) throws {
        self.tileCells = tileCells
        tileColumns = (raster.columns + tileCells - 1) / tileCells
        tileRows = (raster.rows + tileCells - 1) / tileCells
        let lists = try Self.lists(raster: raster, rings: rings, tree: tree, metricCRS: metricCRS, tolerance: tolerance,
                                   tileCells: tileCells, tileColumns: tileColumns, tileRows: tileRows)
        var start: [UInt32] = [0]
        var segments: [UInt32] = []
        start.reserveCapacity(tileColumns * tileRows + 1)
        for rowLists in lists {
            for list in rowLists {
                segments += list
                start.append(UInt32(segments.count))
            }
        }
        self.start = FrozenBuffer(start)
        self.segments = FrozenBuffer(segments)
    }

    /// The lists, one array per tile row, built on every core (each thread
    /// with its own PROJ objects).
    private static func lists(raster: OwnershipRaster, rings: GridRings, tree: MetricSegmentTree, metricCRS: String,
                              tolerance: Double, tileCells: Int, tileColumns: Int, tileRows: Int) throws -> [[[UInt32]]] {
        var lists = [[[UInt32]]](repeating: [], count: tileRows)
        let failure = FirstError()
        let rowCounter = SliceCounter(total: tileRows, sliceLength: 1)
        let metricXY = FrozenBuffer(rings.metricXY)
        lists.withUnsafeMutableBufferPointer { buffer in
            let output = SendableBuffer(buffer)
            DispatchQueue.concurrentPerform(iterations: GridAssigner.coreCount) { _ in
                do {
                    let projector = try MetricProjector(metricCRS: metricCRS)
                    var builder = TileListBuilder(raster: raster, tree: tree.view, metricXY: metricXY.base, projector: projector,
                                                  tolerance: tolerance, tileCells: tileCells)
                    while let rows = rowCounter.next() {
                        for tileRow in rows {
                            output.base[tileRow] = try (0..<tileColumns).map { try builder.list(tileColumn: $0, tileRow: tileRow) }
                        }
                    }
                } catch {
                    failure.record(error)
                }
            }
        }
        if let error = failure.error { throw error }
        return lists
    }
}

/// One thread's state while listing the candidates of tiles.
private struct TileListBuilder {
    let raster: OwnershipRaster
    let tree: MetricSegmentTreeView
    let metricXY: UnsafePointer<Double>
    let projector: MetricProjector
    let tolerance: Double
    let tileCells: Int
    var heap = NodeHeap()
    var stack: [Int32] = []

    init(raster: OwnershipRaster, tree: MetricSegmentTreeView, metricXY: UnsafePointer<Double>, projector: MetricProjector,
         tolerance: Double, tileCells: Int) {
        self.raster = raster
        self.tree = tree
        self.metricXY = metricXY
        self.projector = projector
        self.tolerance = tolerance
        self.tileCells = tileCells
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

    mutating func list(tileColumn: Int, tileRow: Int) throws -> [UInt32] {
        let columns = (tileColumn * tileCells)..<min((tileColumn + 1) * tileCells, raster.columns)
        let rows = (tileRow * tileCells)..<min((tileRow + 1) * tileCells, raster.rows)
        guard Self.hasOutsideCentre(raster, columns: max(0, columns.lowerBound - 1)..<min(raster.columns, columns.upperBound + 1),
                                    rows: max(0, rows.lowerBound - 1)..<min(raster.rows, rows.upperBound + 1)) else { return [] }
        // The tile's metric box: the projected border points, widened far
        // beyond the bend of the projected border and any rounding.
        let west = raster.originX + Double(columns.lowerBound) * raster.cellSize
        let east = raster.originX + Double(columns.upperBound) * raster.cellSize
        let south = raster.originY + Double(rows.lowerBound) * raster.cellSize
        let north = raster.originY + Double(rows.upperBound) * raster.cellSize
        var box = (minX: Double.infinity, minY: Double.infinity, maxX: -Double.infinity, maxY: -Double.infinity)
        for (lon, lat) in [(west, south), (east, south), (west, north), (east, north),
                           ((west + east) / 2, south), ((west + east) / 2, north), (west, (south + north) / 2), (east, (south + north) / 2)] {
            let p = try projector.transformer.transform(x: lon, y: lat)
            box = (min(box.minX, p.x), min(box.minY, p.y), max(box.maxX, p.x), max(box.maxY, p.y))
        }
        let slack = 0.05 + 1e-9 * max(abs(box.minX), abs(box.maxX), abs(box.minY), abs(box.maxY))
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
        return list
    }
}
