import Foundation

/// The two floating-point primitives the fast assignment path relies on.
/// Both are chosen so that the fast path either answers exactly what GEOS
/// answers or knows that it cannot and hands the point to GEOS.
enum ExactArithmetic {
    /// Shewchuk's error bound for the floating-point 2×2 orientation
    /// determinant: beyond it the computed sign is the exact sign.
    static let orientationErrorBound = (3.0 + 16.0 * 0x1p-53) * 0x1p-53

    /// The sign of the orientation of `c` relative to the directed line
    /// a → b: +1 counter-clockwise (left), -1 clockwise (right), and 0 when
    /// the points are collinear *or* the sign cannot be certified in floating
    /// point. Callers treat 0 as "GEOS decides".
    @inline(__always)
    static func orientation(_ ax: Double, _ ay: Double, _ bx: Double, _ by: Double, _ cx: Double, _ cy: Double) -> Int {
        let left = (ax - cx) * (by - cy)
        let right = (ay - cy) * (bx - cx)
        let determinant = left - right
        let magnitude: Double
        if left > 0 {
            if right <= 0 { return determinant > 0 ? 1 : (determinant < 0 ? -1 : 0) }
            magnitude = left + right
        } else if left < 0 {
            if right >= 0 { return determinant > 0 ? 1 : (determinant < 0 ? -1 : 0) }
            magnitude = -left - right
        } else {
            // A zero product means an exactly zero factor, so the sign of `right` is exact.
            return determinant > 0 ? 1 : (determinant < 0 ? -1 : 0)
        }
        let bound = orientationErrorBound * magnitude
        if determinant > bound { return 1 }
        if -determinant > bound { return -1 }
        return 0
    }

    /// Distance from p to the segment a → b with the very operations of
    /// GEOS's `Distance::pointToSegment` (the comp.graphics.algorithms
    /// formula), in the same order, so that the result is bit-for-bit the
    /// value GEOS computes for the same segment direction.
    @inline(__always)
    static func geosPointToSegment(_ px: Double, _ py: Double, _ ax: Double, _ ay: Double, _ bx: Double, _ by: Double) -> Double {
        if ax == bx && ay == by { return geosPointDistance(px, py, ax, ay) }
        let lengthSquared = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
        let r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / lengthSquared
        if r <= 0 { return geosPointDistance(px, py, ax, ay) }
        if r >= 1 { return geosPointDistance(px, py, bx, by) }
        let s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / lengthSquared
        return abs(s) * lengthSquared.squareRoot()
    }

    /// GEOS's `Coordinate::distance`.
    @inline(__always)
    static func geosPointDistance(_ px: Double, _ py: Double, _ ax: Double, _ ay: Double) -> Double {
        let dx = px - ax
        let dy = py - ay
        return (dx * dx + dy * dy).squareRoot()
    }
}

/// An immutable buffer of plain values, owned by this object and freed in
/// `deinit`. The fast path reads it through an unsafe pointer without
/// reference counting or bounds checks; it is never written after `init`,
/// so sharing it between threads is safe. Large buffers are placed on
/// 2 MiB boundaries and offered 2 MiB pages: random lookups into a table of
/// tens of megabytes then rarely miss the TLB.
public final class FrozenBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    private let storage: UnsafeMutableRawPointer
    public let count: Int
    public let base: UnsafePointer<Element>

    static var hugePage: Int { 2 << 20 }

    public convenience init(_ values: [Element]) {
        self.init(count: values.count) { _ = $0.initialize(from: values) }
    }

    /// A table of `count` elements that `fill` writes, every one of them,
    /// in place: large tables are not built in an array and then copied.
    init(count: Int, fill: (UnsafeMutableBufferPointer<Element>) throws -> Void) rethrows {
        let bytes = max(count, 1) * MemoryLayout<Element>.stride
        let storage: UnsafeMutableRawPointer
        if bytes >= Self.hugePage {
            var pointer: UnsafeMutableRawPointer?
            let rounded = (bytes + Self.hugePage - 1) / Self.hugePage * Self.hugePage
            guard posix_memalign(&pointer, Self.hugePage, rounded) == 0, let pointer else {
                fatalError("out of memory for a \(rounded)-byte index table")
            }
            #if os(Linux)
            // Advice only: without huge pages the table works the same.
            _ = madvise(pointer, rounded, MADV_HUGEPAGE)
            #endif
            storage = pointer
        } else {
            storage = .allocate(byteCount: bytes, alignment: MemoryLayout<Element>.alignment)
        }
        let typed = storage.bindMemory(to: Element.self, capacity: max(count, 1))
        // Filled before `self` is whole, so that a throw frees the memory here and `deinit` never runs.
        do {
            try fill(UnsafeMutableBufferPointer(start: typed, count: count))
        } catch {
            Self.release(storage, count: count)
            throw error
        }
        self.storage = storage
        self.count = count
        base = UnsafePointer(typed)
    }

    deinit { Self.release(storage, count: count) }

    private static func release(_ storage: UnsafeMutableRawPointer, count: Int) {
        if max(count, 1) * MemoryLayout<Element>.stride >= hugePage {
            free(storage)
        } else {
            storage.deallocate()
        }
    }
}
