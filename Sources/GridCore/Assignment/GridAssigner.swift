import Dispatch
import Foundation
import GeoKit
import Localization

/// Assigns many points at once on every core. Most points are decided by
/// the `AssignmentIndex` (a raster lookup, an exact crossing test on a few
/// edges, or GEOS's distance formula on GEOS's metric coordinates); the
/// cases it cannot certify go to a `GridLocator`. The answers are the
/// `GridLocator` answers, point for point.
public final class GridAssigner: Sendable {
    public let shapes: [GridShape]
    public let rules: AssignmentRules
    public let index: AssignmentIndex
    /// Seconds to build `index` (and the first locator it is built from).
    public let indexBuildSeconds: Double
    /// The build's steps: the GEOS locator, then the index's own.
    public let indexBuildSteps: [(step: String, seconds: Double)]
    /// Grid codes in index order (ascending), as assignments refer to them.
    public let codes: [String]

    private let locators = ObjectPool<GridLocator>()
    private let projectors = ObjectPool<MetricProjector>()

    /// - Parameter cellSize: the raster's cell side in degrees; nil chooses
    ///   one from the grids (see `AssignmentIndex`).
    public init(shapes: [GridShape], rules: AssignmentRules = AssignmentRules(), cellSize: Double? = nil) throws {
        let sorted = shapes.sorted { $0.code < $1.code }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.code == b.code {
            throw GeoError(tr("duplicate grid code \(a.code)"))
        }
        guard sorted.count < PointAssignment.maximumGridCount else {
            throw GeoError(tr("\(sorted.count) grids: at most \(PointAssignment.maximumGridCount - 1) can be assigned to"))
        }
        self.shapes = sorted
        self.rules = rules
        codes = sorted.map(\.code)
        var clock = StepClock()
        let locator = try GridLocator(shapes: sorted, rules: rules)
        clock.lap("GEOS locator")
        index = try AssignmentIndex(locator: locator, cellSize: cellSize)
        locators.give(locator)
        indexBuildSteps = clock.laps + index.buildSteps
        indexBuildSeconds = indexBuildSteps.reduce(0) { $0 + $1.seconds }
    }

    /// A new locator, for the calling thread to own.
    public func makeLocator() throws -> GridLocator {
        try GridLocator(shapes: shapes, rules: rules, copying: index.metricOriginal)
    }

    /// Runs `body` with a locator borrowed from this assigner's pool (made on
    /// first need), so repeated calls do not rebuild GEOS and PROJ objects.
    /// A locator is used by one thread at a time: its contexts may move
    /// between threads between uses, never be shared during one.
    public func withLocator<T>(_ body: (GridLocator) throws -> T) throws -> T {
        let locator = try locators.take() ?? makeLocator()
        defer { locators.give(locator) }
        return try body(locator)
    }

    public static var coreCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// The fast path for one thread (it borrows PROJ and GEOS objects from
    /// this assigner's pools while it lives); for callers that split work
    /// their own way, like `locate --input`'s parallel CSV chunks.
    public func makeFastAssigner() -> FastAssigner {
        FastAssigner(index: index, projectors: projectors, locators: locators, makeLocator: { [self] in try makeLocator() })
    }

    /// One point, by the fast path (the server's `locate`).
    public func locate(_ point: LonLat) throws -> PointAssignment {
        var assigner = makeFastAssigner()
        return try assigner.assign(lon: point.lon, lat: point.lat)
    }

    /// Assigns every point, in order, using all cores.
    public func assign(_ points: [LonLat]) throws -> [PointAssignment] {
        try assignCounting(points).assignments
    }

    /// `assign`, with how many points each part of the fast path decided.
    public func assignCounting(_ points: [LonLat]) throws -> (assignments: [PointAssignment], counts: AssignmentPathCounts) {
        let total = CountsTotal()
        let results = try assignInParallel(points) { [self] input, output, range in
            var assigner = makeFastAssigner()
            guard let first = input.baseAddress?.advanced(by: range.lowerBound), let results = output.baseAddress else { return }
            // LonLat is two doubles, lon then lat.
            try first.withMemoryRebound(to: Double.self, capacity: 2 * range.count) {
                try assigner.assign($0, count: range.count, into: results + range.lowerBound)
            }
            total.add(assigner.counts)
        }
        return (results, total.value)
    }

    /// The plain GEOS path for every point (STRtree + prepared geometry), on
    /// all cores: the reference the fast path must agree with.
    public func assignExact(_ points: [LonLat]) throws -> [PointAssignment] {
        try assignInParallel(points) { [self] input, output, range in
            try withLocator { locator in
                for i in range { output[i] = try locator.locate(lon: input[i].lon, lat: input[i].lat) }
            }
        }
    }

    /// Runs `work` over slices of the points on every core; slices are
    /// handed out one at a time so that a busy core takes fewer.
    private func assignInParallel(
        _ points: [LonLat],
        _ work: @Sendable (UnsafeBufferPointer<LonLat>, UnsafeMutableBufferPointer<PointAssignment>, Range<Int>) throws -> Void
    ) throws -> [PointAssignment] {
        let failure = FirstError()
        let slices = SliceCounter(total: points.count, sliceLength: 1 << 16)
        // Each slot is written once, by the thread that assigns the point, so
        // the result is not first filled with placeholders on one core.
        let results = try [PointAssignment](unsafeUninitializedCapacity: points.count) { buffer, initializedCount in
            let output = SendableBuffer(buffer)
            points.withUnsafeBufferPointer { input in
                let inputBuffer = SendableConstBuffer(input)
                DispatchQueue.concurrentPerform(iterations: min(Self.coreCount, max(slices.sliceCount, 1))) { _ in
                    while let range = slices.next() {
                        do {
                            try work(inputBuffer.base, output.base, range)
                        } catch {
                            failure.record(error)
                            return
                        }
                    }
                }
            }
            if let error = failure.error { throw error }
            initializedCount = points.count
        }
        return results
    }
}

/// Hands out consecutive slices of `0..<total`, one caller at a time.
public final class SliceCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var nextStart = 0
    public let total: Int
    public let sliceLength: Int

    public init(total: Int, sliceLength: Int) {
        self.total = total
        self.sliceLength = sliceLength
    }

    public var sliceCount: Int { (total + sliceLength - 1) / sliceLength }

    public func next() -> Range<Int>? {
        lock.lock()
        defer { lock.unlock() }
        guard nextStart < total else { return nil }
        let range = nextStart..<min(total, nextStart + sliceLength)
        nextStart = range.upperBound
        return range
    }
}

/// The path counts of every thread, summed.
final class CountsTotal: @unchecked Sendable {
    private let lock = NSLock()
    private var sum = AssignmentPathCounts()

    func add(_ counts: AssignmentPathCounts) {
        lock.lock()
        sum = sum + counts
        lock.unlock()
    }

    var value: AssignmentPathCounts {
        lock.lock()
        defer { lock.unlock() }
        return sum
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
