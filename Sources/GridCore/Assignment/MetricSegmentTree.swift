/// A packed R-tree (sort-tile-recursive) over the grids' edges in the metric
/// CRS, used while building the index to find the edges that can matter to
/// points outside every grid. Leaves are chunks of up to `chunkLength`
/// consecutive segments of one ring.
struct MetricSegmentTree: Sendable {
    static let chunkLength = 8
    static let fanout = 16

    /// Node boxes (minX, minY, maxX, maxY), leaves first, the root last.
    let boxes: FrozenBuffer<Double>
    /// A leaf's first segment, or an inner node's first child.
    let firstChild: FrozenBuffer<UInt32>
    let childCount: FrozenBuffer<UInt32>
    let leafCount: Int
    var root: Int { firstChild.count - 1 }

    init(rings: GridRings) {
        var boxes: [Double] = []
        var first: [UInt32] = []
        var counts: [UInt32] = []
        let xy = rings.metricXY
        for r in 0..<rings.ringCount {
            let segments = rings.segments(ofRing: r)
            var start = segments.lowerBound
            while start < segments.upperBound {
                let end = min(start + Self.chunkLength, segments.upperBound)
                var box = (Double.infinity, Double.infinity, -Double.infinity, -Double.infinity)
                for v in start...end {
                    box = (min(box.0, xy[2 * v]), min(box.1, xy[2 * v + 1]), max(box.2, xy[2 * v]), max(box.3, xy[2 * v + 1]))
                }
                boxes += [box.0, box.1, box.2, box.3]
                first.append(UInt32(start))
                counts.append(UInt32(end - start))
                start = end
            }
        }
        // Level by level: order the level (sort-tile-recursive), append it,
        // then group runs of `fanout` under new parents.
        var allBoxes: [Double] = [], allFirst: [UInt32] = [], allCounts: [UInt32] = []
        leafCount = first.count
        while true {
            let order = Self.sortTileRecursive(boxes)
            let levelStart = allFirst.count
            for i in order {
                allBoxes += boxes[4 * i..<4 * i + 4]
                allFirst.append(first[i])
                allCounts.append(counts[i])
            }
            let n = order.count
            if n <= 1 { break }
            boxes = []
            first = []
            counts = []
            for start in stride(from: 0, to: n, by: Self.fanout) {
                let end = min(start + Self.fanout, n)
                var box = (Double.infinity, Double.infinity, -Double.infinity, -Double.infinity)
                for i in (levelStart + start)..<(levelStart + end) {
                    box = (min(box.0, allBoxes[4 * i]), min(box.1, allBoxes[4 * i + 1]),
                           max(box.2, allBoxes[4 * i + 2]), max(box.3, allBoxes[4 * i + 3]))
                }
                boxes += [box.0, box.1, box.2, box.3]
                first.append(UInt32(levelStart + start))
                counts.append(UInt32(end - start))
            }
        }
        self.boxes = FrozenBuffer(allBoxes)
        firstChild = FrozenBuffer(allFirst)
        childCount = FrozenBuffer(allCounts)
    }

    /// Sort-tile-recursive order of boxes: vertical slices by centre x,
    /// each sorted by centre y, so that each run of `fanout` is compact.
    static func sortTileRecursive(_ boxes: [Double]) -> [Int] {
        let n = boxes.count / 4
        guard n > Self.fanout else { return Array(0..<n) }
        let centerX = (0..<n).map { i -> Double in (boxes[4 * i] + boxes[4 * i + 2]) / 2 }
        let centerY = (0..<n).map { i -> Double in (boxes[4 * i + 1] + boxes[4 * i + 3]) / 2 }
        let byX = (0..<n).sorted { centerX[$0] < centerX[$1] }
        let nodes = (n + Self.fanout - 1) / Self.fanout
        let slices = Int(Double(nodes).squareRoot().rounded(.up))
        let sliceLength = ((n + slices - 1) / slices + Self.fanout - 1) / Self.fanout * Self.fanout
        var order: [Int] = []
        order.reserveCapacity(n)
        for start in stride(from: 0, to: n, by: sliceLength) {
            order += byX[start..<min(start + sliceLength, n)].sorted { centerY[$0] < centerY[$1] }
        }
        return order
    }

    /// A pointer view for queries (valid while the tree lives).
    var view: MetricSegmentTreeView {
        MetricSegmentTreeView(boxes: boxes.base, firstChild: firstChild.base, childCount: childCount.base, leafCount: leafCount, root: root)
    }
}

/// Raw pointers into a `MetricSegmentTree`, so that loops over it do no
/// reference counting.
struct MetricSegmentTreeView {
    let boxes: UnsafePointer<Double>
    let firstChild: UnsafePointer<UInt32>
    let childCount: UnsafePointer<UInt32>
    let leafCount: Int
    let root: Int

    /// Distance from a box to node `i`'s box: a lower bound of the distance
    /// between anything in them (up to rounding, which callers allow for).
    @inline(__always)
    func boxDistance(_ i: Int, minX: Double, minY: Double, maxX: Double, maxY: Double) -> Double {
        let dx = max(boxes[4 * i] - maxX, 0, minX - boxes[4 * i + 2])
        let dy = max(boxes[4 * i + 1] - maxY, 0, minY - boxes[4 * i + 3])
        return (dx * dx + dy * dy).squareRoot()
    }

    /// The distance from a point to the nearest segment (best-first search).
    func nearestSegmentDistance(_ x: Double, _ y: Double, metricXY: UnsafePointer<Double>, heap: inout NodeHeap) -> Double {
        guard root >= 0 else { return .infinity }
        var best = Double.infinity
        heap.removeAll(keepingCapacity: true)
        heap.push(NodeDistance(distance: boxDistance(root, minX: x, minY: y, maxX: x, maxY: y), node: Int32(root)))
        while let entry = heap.pop(), entry.distance <= best {
            let node = Int(entry.node)
            let first = Int(firstChild[node]), count = Int(childCount[node])
            if node >= leafCount {
                for child in first..<(first + count) {
                    heap.push(NodeDistance(distance: boxDistance(child, minX: x, minY: y, maxX: x, maxY: y), node: Int32(child)))
                }
                continue
            }
            for s in first..<(first + count) {
                best = min(best, ExactArithmetic.geosPointToSegment(x, y, metricXY[2 * s], metricXY[2 * s + 1], metricXY[2 * s + 2], metricXY[2 * s + 3]))
            }
        }
        return best
    }

    /// Calls `body` with every segment of every leaf whose box is within `reach` of the box.
    func forEachSegment(nearMinX minX: Double, minY: Double, maxX: Double, maxY: Double, within reach: Double,
                        stack: inout [Int32], _ body: (Int) -> Void) {
        guard root >= 0 else { return }
        stack.removeAll(keepingCapacity: true)
        stack.append(Int32(root))
        while let node = stack.popLast().map(Int.init) {
            guard boxDistance(node, minX: minX, minY: minY, maxX: maxX, maxY: maxY) <= reach else { continue }
            let first = Int(firstChild[node]), count = Int(childCount[node])
            if node >= leafCount {
                for child in first..<(first + count) { stack.append(Int32(child)) }
            } else {
                for s in first..<(first + count) { body(s) }
            }
        }
    }
}

/// A tree node and its distance from the query.
struct NodeDistance {
    var distance: Double
    var node: Int32
}

/// A binary min-heap of nodes by distance, reused between queries.
struct NodeHeap {
    private var items: [NodeDistance] = []

    mutating func removeAll(keepingCapacity: Bool) { items.removeAll(keepingCapacity: keepingCapacity) }

    mutating func push(_ item: NodeDistance) {
        items.append(item)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard item.distance < items[parent].distance else { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = item
    }

    mutating func pop() -> NodeDistance? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        var i = 0
        let count = items.count
        while true {
            let left = 2 * i + 1
            guard left < count else { break }
            let right = left + 1
            let child = right < count && items[right].distance < items[left].distance ? right : left
            guard items[child].distance < last.distance else { break }
            items[i] = items[child]
            i = child
        }
        items[i] = last
        return top
    }
}

/// A grid and its distance from a point, in metres.
struct GridDistance: Sendable {
    var grid: Int32
    var distance: Double

    /// Nearest first; equal distances by code (index) order, as `GridLocator` ranks them.
    static func ranked(_ a: GridDistance, _ b: GridDistance) -> Bool {
        a.distance < b.distance || (a.distance == b.distance && a.grid < b.grid)
    }
}
