import Dispatch
import Foundation
import GeoKit

/// A raster over the grids' envelope in which each cell is either "deep" in
/// one grid (the cell, widened by the near-boundary distance, lies inside
/// that grid and touches no other) or undecided. A point in a deep cell gets
/// `inside`, no distance and no runner-up with one table lookup, exactly what
/// `GridLocator` would answer; every other point goes to `GridLocator`.
public struct OwnershipRaster: Sendable {
    public let origin: LonLat
    public let cellSize: Double
    public let columns: Int
    public let rows: Int
    /// Grid index of each deep cell, row-major; -1 for undecided.
    public let cells: [Int32]

    @inline(__always)
    public func cell(lon: Double, lat: Double) -> Int32 {
        let column = Int(((lon - origin.lon) / cellSize).rounded(.down))
        let row = Int(((lat - origin.lat) / cellSize).rounded(.down))
        guard column >= 0, row >= 0, column < columns, row < rows else { return -1 }
        return cells[row * columns + column]
    }

    public var deepShare: Double {
        Double(cells.lazy.filter { $0 >= 0 }.count) / Double(max(cells.count, 1))
    }
}

/// Assigns many points at once on every core: the ownership raster decides
/// the points far from any edge, a per-thread `GridLocator` the rest.
public final class GridAssigner: Sendable {
    public let shapes: [GridShape]
    public let rules: AssignmentRules
    public let raster: OwnershipRaster
    public let rasterBuildSeconds: Double
    /// Grid codes in index order (ascending), as assignments refer to them.
    public let codes: [String]

    /// - Parameter cellsAlongLongerSide: raster resolution; finer cells send
    ///   fewer points to GEOS but take longer to classify.
    public init(shapes: [GridShape], rules: AssignmentRules = AssignmentRules(), cellsAlongLongerSide: Int = 2048) throws {
        let sorted = shapes.sorted { $0.code < $1.code }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.code == b.code {
            throw GeoError("duplicate grid code \(a.code)")
        }
        self.shapes = sorted
        self.rules = rules
        codes = sorted.map(\.code)
        let start = DispatchTime.now()
        // The locators that classify the raster go to the pool for later work.
        raster = try Self.buildRaster(shapes: sorted, rules: rules, cellsAlongLongerSide: cellsAlongLongerSide, pool: pool)
        rasterBuildSeconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    /// A new locator, for the calling thread to own.
    public func makeLocator() throws -> GridLocator {
        try GridLocator(shapes: shapes, rules: rules)
    }

    private let pool: LocatorPool = LocatorPool()

    /// Runs `body` with a locator borrowed from this assigner's pool (made on
    /// first need), so repeated calls do not rebuild GEOS and PROJ objects.
    /// A locator is used by one thread at a time: its contexts may move
    /// between threads between uses, never be shared during one.
    public func withLocator<T>(_ body: (GridLocator) throws -> T) throws -> T {
        let locator = try pool.take() ?? makeLocator()
        defer { pool.give(locator) }
        return try body(locator)
    }

    public static var coreCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Assigns every point, in order, using all cores.
    public func assign(_ points: [LonLat]) throws -> [PointAssignment] {
        try assign(points, useRaster: true)
    }

    /// The plain GEOS path for every point (STRtree + prepared geometry), on
    /// all cores: the reference the raster path must agree with.
    public func assignExact(_ points: [LonLat]) throws -> [PointAssignment] {
        try assign(points, useRaster: false)
    }

    func assign(_ points: [LonLat], useRaster: Bool) throws -> [PointAssignment] {
        var results = [PointAssignment](repeating: PointAssignment(grid: -1, method: .none), count: points.count)
        let chunks = Self.coreCount
        let chunkSize = (points.count + chunks - 1) / max(chunks, 1)
        let failure = FirstError()
        let raster = self.raster
        results.withUnsafeMutableBufferPointer { buffer in
            let output = SendableBuffer(buffer)
            points.withUnsafeBufferPointer { input in
                let inputBuffer = SendableConstBuffer(input)
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    let lower = chunk * chunkSize
                    let upper = min(points.count, lower + chunkSize)
                    guard lower < upper else { return }
                    do {
                        try self.withLocator { locator in
                            for i in lower..<upper {
                                let p = inputBuffer.base[i]
                                let deep = useRaster ? raster.cell(lon: p.lon, lat: p.lat) : -1
                                output.base[i] = deep >= 0
                                    ? PointAssignment(grid: deep, method: .inside)
                                    : try locator.locate(lon: p.lon, lat: p.lat)
                            }
                        }
                    } catch {
                        failure.record(error)
                    }
                }
            }
        }
        if let error = failure.error { throw error }
        return results
    }

    // MARK: Raster classification

    static func buildRaster(shapes: [GridShape], rules: AssignmentRules, cellsAlongLongerSide: Int, pool: LocatorPool) throws -> OwnershipRaster {
        let probe = try GridLocator(shapes: shapes, rules: rules)
        defer { pool.give(probe) }
        let extent = probe.envelope
        let cellSize = max(extent.width, extent.height) / Double(max(cellsAlongLongerSide, 1))
        guard cellSize > 0 else {
            return OwnershipRaster(origin: LonLat(extent.minX, extent.minY), cellSize: 1, columns: 0, rows: 0, cells: [])
        }
        let columns = Int((extent.width / cellSize).rounded(.up)) + 1
        let rows = Int((extent.height / cellSize).rounded(.up)) + 1
        var cells = [Int32](repeating: -1, count: columns * rows)
        let block = 32
        let blockRows = (rows + block - 1) / block
        let margin = probe.degrees(covering: rules.nearBoundaryMeters)
        let failure = FirstError()
        let origin = LonLat(extent.minX, extent.minY)
        // Bands of block rows per thread; each thread owns its GEOS objects.
        cells.withUnsafeMutableBufferPointer { buffer in
            let output = SendableBuffer(buffer)
            let threads = coreCount
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                do {
                    let locator = try GridLocator(shapes: shapes, rules: rules)
                    defer { pool.give(locator) }
                    let classifier = RasterClassifier(
                        locator: locator, origin: origin, cellSize: cellSize, columns: columns, margin: margin, output: output)
                    var blockRow = thread
                    while blockRow < blockRows {
                        var column = 0
                        while column < columns {
                            try classifier.classify(column, blockRow * block,
                                                    min(columns, column + block), min(rows, (blockRow + 1) * block))
                            column += block
                        }
                        blockRow += threads
                    }
                } catch {
                    failure.record(error)
                }
            }
        }
        if let error = failure.error { throw error }
        return OwnershipRaster(origin: origin, cellSize: cellSize, columns: columns, rows: rows, cells: cells)
    }
}

/// Quadtree classification of a block of raster cells with one thread's locator.
private struct RasterClassifier {
    let locator: GridLocator
    let origin: LonLat
    let cellSize: Double
    let columns: Int
    let margin: Double
    let output: SendableBuffer<Int32>

    func classify(_ c0: Int, _ r0: Int, _ c1: Int, _ r1: Int) throws {
        let box = Envelope(minX: origin.lon + Double(c0) * cellSize, minY: origin.lat + Double(r0) * cellSize,
                           maxX: origin.lon + Double(c1) * cellSize, maxY: origin.lat + Double(r1) * cellSize)
            .expanded(by: margin)
        if let owner = try locator.soleOwner(of: box) {
            for row in r0..<r1 {
                for column in c0..<c1 { output.base[row * columns + column] = Int32(owner) }
            }
            return
        }
        if c1 - c0 <= 1 && r1 - r0 <= 1 { return }
        let cm = (c0 + c1 + 1) / 2, rm = (r0 + r1 + 1) / 2
        for (a0, a1) in [(c0, cm), (cm, c1)] where a0 < a1 {
            for (b0, b1) in [(r0, rm), (rm, r1)] where b0 < b1 {
                try classify(a0, b0, a1, b1)
            }
        }
    }
}

extension GridLocator {
    /// The one grid whose interior contains `box`, when no other grid touches
    /// it; nil otherwise.
    func soleOwner(of box: Envelope) throws -> Int? {
        let boxGeometry = try Geometry.box(box, context: geos)
        let candidates = tree.query(boxGeometry)
        guard !candidates.isEmpty else { return nil }
        var owner: Int?
        for index in candidates where try grids[index].contains(boxGeometry) {
            owner = index
            break
        }
        guard let owner else { return nil }
        for index in candidates where index != owner {
            if try grids[index].intersects(boxGeometry) { return nil }
        }
        return owner
    }
}

/// Idle locators, handed out one caller at a time.
final class LocatorPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [GridLocator] = []

    func take() -> GridLocator? {
        lock.lock()
        defer { lock.unlock() }
        return idle.popLast()
    }

    func give(_ locator: GridLocator) {
        lock.lock()
        idle.append(locator)
        lock.unlock()
    }
}

/// A mutable buffer handed to `concurrentPerform` workers that write disjoint ranges.
struct SendableBuffer<Element>: @unchecked Sendable {
    let base: UnsafeMutableBufferPointer<Element>
    init(_ base: UnsafeMutableBufferPointer<Element>) { self.base = base }
}

struct SendableConstBuffer<Element>: @unchecked Sendable {
    let base: UnsafeBufferPointer<Element>
    init(_ base: UnsafeBufferPointer<Element>) { self.base = base }
}

/// The first error thrown by any worker thread.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?
    func record(_ error: Error) {
        lock.lock()
        if stored == nil { stored = error }
        lock.unlock()
    }
    var error: Error? {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}
