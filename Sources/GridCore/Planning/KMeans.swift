/// Lloyd's k-means with k-means++ seeding, on isotropic coordinates
/// (x = lon · cos φ, or metres): the sample county's grid seeds and the
/// planner's suggested splits.
public enum KMeans {
    public struct Result: Sendable {
        public var centers: [LonLat]
        /// The centre index of each point.
        public var assignment: [Int]
    }

    public static func distance2(_ a: LonLat, _ b: LonLat) -> Double {
        let dx = a.lon - b.lon, dy = a.lat - b.lat
        return dx * dx + dy * dy
    }

    public static func nearest(_ p: LonLat, _ centers: [LonLat]) -> Int {
        var best = 0, bestDistance = Double.infinity
        for (i, c) in centers.enumerated() {
            let d = distance2(p, c)
            if d < bestDistance { best = i; bestDistance = d }
        }
        return best
    }

    public static func cluster(_ points: [LonLat], k: Int, iterations: Int, random: inout SeededRandom) -> Result {
        precondition(k >= 1 && k <= points.count)
        var centers = [points[random.int(0...(points.count - 1))]]
        var nearestDistance = points.map { distance2($0, centers[0]) }
        while centers.count < k {
            let total = nearestDistance.reduce(0, +)
            var x = random.unit() * total
            var chosen = points.count - 1
            for (i, d) in nearestDistance.enumerated() {
                if x < d { chosen = i; break }
                x -= d
            }
            centers.append(points[chosen])
            for i in points.indices { nearestDistance[i] = min(nearestDistance[i], distance2(points[i], points[chosen])) }
        }
        var assignment = [Int](repeating: 0, count: points.count)
        for _ in 0..<iterations {
            for i in points.indices { assignment[i] = nearest(points[i], centers) }
            var sums = [LonLat](repeating: LonLat(0, 0), count: k)
            var counts = [Int](repeating: 0, count: k)
            for (i, p) in points.enumerated() {
                sums[assignment[i]].lon += p.lon
                sums[assignment[i]].lat += p.lat
                counts[assignment[i]] += 1
            }
            for c in 0..<k where counts[c] > 0 {
                centers[c] = LonLat(sums[c].lon / Double(counts[c]), sums[c].lat / Double(counts[c]))
            }
        }
        for i in points.indices { assignment[i] = nearest(points[i], centers) }
        return Result(centers: centers, assignment: assignment)
    }
}
