import Dispatch
import Foundation
import GeoKit
import Localization

/// A raster over the grids' envelope (WGS84 degrees). Each cell is one of:
///
/// - **deep**: no grid edge lies within `margin` of the cell and the cell is
///   inside exactly one grid, so every point in it gets `inside`, no distance
///   and no runner-up: the cell's value is that grid;
/// - **outside**: no edge within `margin` and inside no grid;
/// - **edge cell**: a record listing the grids whose edges come within
///   `margin` of the cell, each with its runs of edge segments and whether
///   the cell's centre lies inside it, so that a point is located by
///   counting the crossings of the segment centre → point (exact
///   orientation predicates; anything they cannot certify goes to GEOS);
/// - **GEOS cell**: a cell the raster cannot describe (overlapping grids, or
///   an edge through the very centre): its points go to GEOS.
public struct OwnershipRaster: Sendable {
    public let originX: Double
    public let originY: Double
    /// Cell side in degrees.
    public let cellSize: Double
    public let columns: Int
    public let rows: Int
    /// Degrees within which a grid edge makes a cell an edge cell.
    public let margin: Double
    /// Per cell: a grid index (deep), `outsideCell`, `geosCell`, or
    /// `recordCode(offset)` for an edge cell.
    let cells: FrozenBuffer<Int32>
    /// Edge-cell records: `[candidates, (grid | inside bit, runs, (first segment, count) × runs) × candidates]`.
    let records: FrozenBuffer<UInt32>
    public let deepCells: Int
    public let edgeCells: Int
    public let geosCells: Int

    static let outsideCell: Int32 = -1
    static let geosCell: Int32 = -2
    static func recordCode(_ offset: Int) -> Int32 { Int32(-3 - offset) }
    static func recordOffset(_ code: Int32) -> Int { Int(-3 - code) }
    static let insideBit: UInt32 = 0x8000_0000

    public var cellCount: Int { columns * rows }

    /// The area the raster covers; points beyond it go to GEOS.
    public var extent: Envelope {
        Envelope(minX: originX, minY: originY, maxX: originX + Double(columns) * cellSize, maxY: originY + Double(rows) * cellSize)
    }

    /// The centre of a cell: the reference point of its record. Builder and
    /// queries use this one expression, so they agree to the last bit.
    @inline(__always)
    func centerX(_ column: Int) -> Double { originX + (Double(column) + 0.5) * cellSize }
    @inline(__always)
    func centerY(_ row: Int) -> Double { originY + (Double(row) + 0.5) * cellSize }
}

/// Builds an `OwnershipRaster` from the grids' rings without GEOS: edge
/// segments are scattered to the cells they come near, and a scan line
/// through each row of cell centres gives every centre's inside/outside
/// state per grid (crossing parity, with exact orientation where a crossing
/// passes within a hair of a centre).
struct OwnershipRasterBuilder {
    let rings: GridRings
    let gridCount: Int
    let originX: Double, originY: Double, cellSize: Double
    let columns: Int, rows: Int
    let margin: Double

    init(rings: GridRings, gridCount: Int, extent: Envelope, margin: Double, cellSize: Double) throws {
        self.rings = rings
        self.gridCount = gridCount
        self.margin = margin
        self.cellSize = cellSize
        // One cell and the margin of padding: the outermost cells are always outside.
        let padding = margin + cellSize
        originX = extent.minX - padding
        originY = extent.minY - padding
        columns = Int(((extent.width + 2 * padding) / cellSize).rounded(.up)) + 1
        rows = Int(((extent.height + 2 * padding) / cellSize).rounded(.up)) + 1
        guard columns > 0, rows > 0, columns.multipliedReportingOverflow(by: rows).partialValue < Int(Int32.max) else {
            throw GeoError(tr("ownership raster of \(columns) × \(rows) cells is too large; use larger cells"))
        }
    }

    private var shape: OwnershipRaster {
        OwnershipRaster(originX: originX, originY: originY, cellSize: cellSize, columns: columns, rows: rows, margin: margin,
                        cells: FrozenBuffer([]), records: FrozenBuffer([]), deepCells: 0, edgeCells: 0, geosCells: 0)
    }

    /// Rows per band of the parallel scan: enough bands that a core given
    /// the rows with many edges does not hold the others up.
    static let bandsPerCore = 4

    /// - Parameter bands: how many bands of rows to scan in parallel (nil: a few per core); any count gives the same raster.
    func build(bands requested: Int? = nil) throws -> OwnershipRaster {
        let crossings = crossingsByRow()
        let vertexGrid = rings.vertexGrids()
        var records: [UInt32] = []
        var deep = 0, edge = 0, geos = 0
        // The scan writes every cell, in place.
        let cells = try FrozenBuffer<Int32>(count: columns * rows) { cells in
            // Bands of rows are scanned in parallel, each with its own records;
            // the records are then joined and the bands' record codes shifted.
            let bandCount = max(1, min(rows, requested ?? GridAssigner.coreCount * Self.bandsPerCore))
            let bands = BandResults(count: bandCount)
            let failure = FirstError()
            let output = SendableBuffer(cells)
            DispatchQueue.concurrentPerform(iterations: bandCount) { band in
                let rowRange = (rows * band / bandCount)..<(rows * (band + 1) / bandCount)
                do {
                    bands.set(band, try scan(rows: rowRange, into: output.base, cellSegments: segmentsByCell(rows: rowRange),
                                             crossings: crossings, vertexGrid: vertexGrid))
                } catch {
                    failure.record(error)
                }
            }
            if let error = failure.error { throw error }
            for band in 0..<bandCount {
                let scanned = bands.get(band)
                let base = records.count
                guard base + scanned.records.count < Int(Int32.max) - 3 else {
                    throw GeoError(tr("ownership raster records exceed 2^31 words; use larger cells"))
                }
                if base > 0 {
                    let rowRange = (rows * band / bandCount)..<(rows * (band + 1) / bandCount)
                    for cell in (rowRange.lowerBound * columns)..<(rowRange.upperBound * columns) where cells[cell] <= OwnershipRaster.recordCode(0) {
                        cells[cell] = OwnershipRaster.recordCode(OwnershipRaster.recordOffset(cells[cell]) + base)
                    }
                }
                records += scanned.records
                deep += scanned.deep
                edge += scanned.edge
                geos += scanned.geos
            }
        }
        return OwnershipRaster(originX: originX, originY: originY, cellSize: cellSize, columns: columns, rows: rows, margin: margin,
                               cells: cells, records: FrozenBuffer(records),
                               deepCells: deep, edgeCells: edge, geosCells: geos)
    }

    /// One band's records (offsets from the band's first record) and cell counts.
    struct ScannedBand {
        var records: [UInt32] = []
        var deep = 0, edge = 0, geos = 0
    }

    /// Classifies the cells of `rows` (writing them into `cells`), with a
    /// scan line through each row's cell centres.
    private func scan(rows rowRange: Range<Int>, into cells: UnsafeMutableBufferPointer<Int32>, cellSegments: CellSegments,
                      crossings: (start: [UInt32], x: [Double], segment: [UInt32]), vertexGrid: [Int32]) throws -> ScannedBand {
        let (rowStart, crossingX, crossingSegment) = crossings
        let reference = shape
        var result = ScannedBand()
        let xy = rings.degreeXY
        // Per-row scan state: parity per grid and the grids the scan point is inside.
        var parity = [Bool](repeating: false, count: gridCount)
        var insideGrids: [Int32] = []
        var flipped: [Int32] = []
        var candidates: [Int32] = []
        let tolerance = cellSize * 1e-4
        func toggle(_ grid: Int32) {
            parity[Int(grid)].toggle()
            if parity[Int(grid)] {
                insideGrids.append(grid)
            } else if let at = insideGrids.firstIndex(of: grid) {
                insideGrids.remove(at: at)
            }
        }
        for row in rowRange {
            for grid in insideGrids { parity[Int(grid)] = false }
            insideGrids.removeAll(keepingCapacity: true)
            let centerY = reference.centerY(row)
            var cursor = Int(rowStart[row])
            let rowEnd = Int(rowStart[row + 1])
            var nextEntry = Int(cellSegments.rowStart[row - rowRange.lowerBound])
            let rowEntriesEnd = Int(cellSegments.rowStart[row - rowRange.lowerBound + 1])
            var column = 0
            while column < columns {
                defer { column += 1 }
                let centerX = reference.centerX(column)
                while cursor < rowEnd && crossingX[cursor] < centerX - tolerance {
                    toggle(vertexGrid[Int(crossingSegment[cursor])])
                    cursor += 1
                }
                let cell = row * columns + column
                let firstEntry = nextEntry
                while nextEntry < rowEntriesEnd && Int(cellSegments.column[nextEntry]) == column { nextEntry += 1 }
                let entries = firstEntry..<nextEntry
                if entries.isEmpty {
                    // Until the next cell with segments or the next crossing, every cell is the same: one fill.
                    var stop = nextEntry < rowEntriesEnd ? Int(cellSegments.column[nextEntry]) : columns
                    if cursor < rowEnd {
                        stop = Self.firstColumn(after: column, passedBy: crossingX[cursor], limit: stop, tolerance: tolerance, reference)
                    }
                    let value: Int32
                    switch insideGrids.count {
                    case 0: value = OwnershipRaster.outsideCell
                    case 1:
                        value = insideGrids[0]
                        result.deep += stop - column
                    default:
                        value = OwnershipRaster.geosCell
                        result.geos += stop - column
                    }
                    (cells.baseAddress! + cell).update(repeating: value, count: stop - column)
                    column = stop - 1
                    continue
                }
                // Crossings within a hair of the centre: which side, exactly.
                flipped.removeAll(keepingCapacity: true)
                var centreOnEdge = false
                var ahead = cursor
                while ahead < rowEnd && crossingX[ahead] <= centerX + tolerance {
                    let s = Int(crossingSegment[ahead])
                    let (ax, ay, bx, by) = (xy[2 * s], xy[2 * s + 1], xy[2 * s + 2], xy[2 * s + 3])
                    // Direct the segment upwards; the centre lies right of it iff the crossing is left of the centre.
                    let side = ay > centerY
                        ? ExactArithmetic.orientation(bx, by, ax, ay, centerX, centerY)
                        : ExactArithmetic.orientation(ax, ay, bx, by, centerX, centerY)
                    if side == 0 {
                        centreOnEdge = true
                        break
                    }
                    if side < 0 { flipped.append(vertexGrid[s]) }
                    ahead += 1
                }
                if centreOnEdge {
                    cells[cell] = OwnershipRaster.geosCell
                    result.geos += 1
                    continue
                }
                candidates.removeAll(keepingCapacity: true)
                candidates.append(contentsOf: insideGrids)
                for entry in entries {
                    let grid = vertexGrid[Int(cellSegments.segment[entry])]
                    if candidates.last != grid && !candidates.contains(grid) { candidates.append(grid) }
                }
                candidates.sort()
                let offset = result.records.count
                guard offset < Int(Int32.max) - 3 else { throw GeoError(tr("ownership raster records exceed 2^31 words; use larger cells")) }
                result.records.append(UInt32(candidates.count))
                for grid in candidates {
                    let inside = parity[Int(grid)] != (flipped.filter { $0 == grid }.count % 2 == 1)
                    result.records.append(UInt32(grid) | (inside ? OwnershipRaster.insideBit : 0))
                    let runCountSlot = result.records.count
                    result.records.append(0)
                    var runs: UInt32 = 0
                    var entry = entries.lowerBound
                    while entry < entries.upperBound {
                        let first = Int(cellSegments.segment[entry])
                        guard vertexGrid[first] == grid else {
                            entry += 1
                            continue
                        }
                        var count = 1
                        while entry + count < entries.upperBound && Int(cellSegments.segment[entry + count]) == first + count {
                            count += 1
                        }
                        result.records.append(UInt32(first))
                        result.records.append(UInt32(count))
                        runs += 1
                        entry += count
                    }
                    result.records[runCountSlot] = runs
                }
                cells[cell] = OwnershipRaster.recordCode(offset)
                result.edge += 1
            }
        }
        return result
    }

    /// The first column after `column` (`limit` at most) whose centre lies
    /// right of a crossing at `x`, by the scan's own test.
    static func firstColumn(after column: Int, passedBy x: Double, limit: Int, tolerance: Double, _ reference: OwnershipRaster) -> Int {
        let estimate = ((x + tolerance - reference.originX) / reference.cellSize - 0.5).rounded(.down) + 1
        var c = estimate.isFinite ? min(max(Int(max(min(estimate, Double(limit)), 0)), column + 1), limit) : limit
        while c > column + 1 && x < reference.centerX(c - 1) - tolerance { c -= 1 }
        while c < limit && !(x < reference.centerX(c) - tolerance) { c += 1 }
        return c
    }

    /// Each cell's segments, row by row: the entries of row `r` are
    /// `rowStart[r] ..< rowStart[r + 1]`, by column and, within a cell, by
    /// segment, so that runs of consecutive segments stay together. Tables
    /// per row, not per cell: the raster has millions of cells, and tables
    /// as large would cost more to fill than the scan.
    struct CellSegments {
        let rowStart: [UInt32]
        let column: [UInt32]
        let segment: [UInt32]
    }

    /// For each cell of `rowRange`, the segments within `margin` of it (a
    /// superset: the cell widened by the margin as a square); `rowStart` is
    /// indexed from the range's first row. Each band of the scan makes its own.
    func segmentsByCell(rows rowRange: Range<Int>) -> CellSegments {
        var entryRow: [UInt32] = []
        var entryColumn: [UInt32] = []
        var entrySegment: [UInt32] = []
        let xy = rings.degreeXY
        // Rounding in the clipping below is ~1e-14°; the slack dwarfs it.
        let slack = cellSize * 1e-6
        let reach = margin + slack
        for r in 0..<rings.ringCount {
            for s in rings.segments(ofRing: r) {
                let (ax, ay, bx, by) = (xy[2 * s], xy[2 * s + 1], xy[2 * s + 2], xy[2 * s + 3])
                let firstRow = max(rowRange.lowerBound, Int(((min(ay, by) - reach - originY) / cellSize).rounded(.down)))
                let lastRow = min(rowRange.upperBound - 1, Int(((max(ay, by) + reach - originY) / cellSize).rounded(.down)))
                guard firstRow <= lastRow else { continue }
                for row in firstRow...lastRow {
                    // The part of the segment within the row's band, widened by the margin.
                    let bandLow = originY + Double(row) * cellSize - reach
                    let bandHigh = originY + Double(row + 1) * cellSize + reach
                    var xLow = min(ax, bx), xHigh = max(ax, bx)
                    if ay != by {
                        let t0 = (bandLow - ay) / (by - ay), t1 = (bandHigh - ay) / (by - ay)
                        let tLow = max(0, min(t0, t1)), tHigh = min(1, max(t0, t1))
                        guard tLow <= tHigh else { continue }
                        let x0 = ax + tLow * (bx - ax), x1 = ax + tHigh * (bx - ax)
                        xLow = min(x0, x1)
                        xHigh = max(x0, x1)
                    }
                    let firstColumn = max(0, Int(((xLow - reach - originX) / cellSize).rounded(.down)))
                    let lastColumn = min(columns - 1, Int(((xHigh + reach - originX) / cellSize).rounded(.down)))
                    guard firstColumn <= lastColumn else { continue }
                    for column in firstColumn...lastColumn {
                        entryRow.append(UInt32(row - rowRange.lowerBound))
                        entryColumn.append(UInt32(column))
                        entrySegment.append(UInt32(s))
                    }
                }
            }
        }
        // The entries come by ascending segment. Stable counting sorts by
        // column, then by row, keep that order within each cell.
        let byColumn = Self.countingSort(keys: entryColumn, values: Array(0..<UInt32(entryColumn.count)), bucketCount: columns).values
        let byRow = Self.countingSort(keys: byColumn.map { entryRow[Int($0)] }, values: byColumn, bucketCount: rowRange.count)
        return CellSegments(rowStart: byRow.start, column: byRow.values.map { entryColumn[Int($0)] },
                            segment: byRow.values.map { entrySegment[Int($0)] })
    }

    /// For each row, where the segments cross the horizontal line through
    /// the row's cell centres (half-open in y, as in ray casting), sorted by x.
    func crossingsByRow() -> (start: [UInt32], x: [Double], segment: [UInt32]) {
        var crossingRow: [UInt32] = []
        var crossingSegment: [UInt32] = []
        let xy = rings.degreeXY
        let reference = shape
        for r in 0..<rings.ringCount {
            for s in rings.segments(ofRing: r) {
                let (ay, by) = (xy[2 * s + 1], xy[2 * s + 3])
                guard ay != by else { continue }
                let firstRow = max(0, Int(((min(ay, by) - originY) / cellSize - 0.5).rounded(.up)) - 1)
                let lastRow = min(rows - 1, Int(((max(ay, by) - originY) / cellSize - 0.5).rounded(.down)) + 1)
                guard firstRow <= lastRow else { continue }
                for row in firstRow...lastRow {
                    let y = reference.centerY(row)
                    if (ay > y) != (by > y) {
                        crossingRow.append(UInt32(row))
                        crossingSegment.append(UInt32(s))
                    }
                }
            }
        }
        let (start, segments) = Self.countingSort(keys: crossingRow, values: crossingSegment, bucketCount: rows)
        var x = [Double](repeating: 0, count: segments.count)
        var sortedSegments = segments
        for row in 0..<rows {
            let range = Int(start[row])..<Int(start[row + 1])
            guard !range.isEmpty else { continue }
            let y = reference.centerY(row)
            var pairs = range.map { i -> (Double, UInt32) in
                let s = Int(segments[i])
                let (ax, ay, bx, by) = (xy[2 * s], xy[2 * s + 1], xy[2 * s + 2], xy[2 * s + 3])
                return (ax + (y - ay) * (bx - ax) / (by - ay), segments[i])
            }
            pairs.sort { $0.0 < $1.0 }
            for (k, pair) in pairs.enumerated() {
                x[range.lowerBound + k] = pair.0
                sortedSegments[range.lowerBound + k] = pair.1
            }
        }
        return (start, x, sortedSegments)
    }

    /// Stable counting sort of `values` by `keys` in `0..<bucketCount`:
    /// bucket `k` is `values[start[k] ..< start[k + 1]]`.
    static func countingSort(keys: [UInt32], values: [UInt32], bucketCount: Int) -> (start: [UInt32], values: [UInt32]) {
        var start = [UInt32](repeating: 0, count: bucketCount + 1)
        for key in keys { start[Int(key) + 1] += 1 }
        for k in 0..<bucketCount { start[k + 1] += start[k] }
        var next = start
        var sorted = [UInt32](repeating: 0, count: values.count)
        for (key, value) in zip(keys, values) {
            sorted[Int(next[Int(key)])] = value
            next[Int(key)] += 1
        }
        return (start, sorted)
    }
}

/// Each band's scan, set by whichever thread made it.
final class BandResults: @unchecked Sendable {
    private let lock = NSLock()
    private var bands: [OwnershipRasterBuilder.ScannedBand?]

    init(count: Int) { bands = Array(repeating: nil, count: count) }

    func set(_ band: Int, _ result: OwnershipRasterBuilder.ScannedBand) { lock.withLock { bands[band] = result } }

    func get(_ band: Int) -> OwnershipRasterBuilder.ScannedBand { lock.withLock { bands[band]! } }
}
