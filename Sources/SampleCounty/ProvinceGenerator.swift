import Foundation
import GeoKit
import GridCore
import Localization

/// A province-sized tiling for benchmarks: `gridCount` grids over a region
/// the size of Hunan, denser around a few cities, with edges densified (and
/// gently curved) to a median of about `medianVertices` vertices a grid,
/// like surveyed boundaries.
///
/// Method: Voronoi cells of seeds (in isotropic coordinates), keeping the
/// cells of the seeds inside the region, which the surrounding seeds keep
/// whole. Neighbouring cells share their Voronoi vertices bit for bit, and
/// every edge is densified from its lexicographically first end, so both
/// grids get the very same vertices: the grids tile without gaps or
/// overlaps. An edge whose curve would make a grid invalid stays straight.
public struct ProvinceGenerator {
    public static let defaultSeed: UInt64 = 2_026_430
    public static let defaultRegion = Envelope(minX: 109.6, minY: 25.6, maxX: 114.2, maxY: 30.0)

    public let gridCount: Int
    public let medianVertices: Int
    public let region: Envelope
    public let seed: UInt64

    public init(gridCount: Int = 20_000, medianVertices: Int = 200, region: Envelope = defaultRegion, seed: UInt64 = defaultSeed) {
        self.gridCount = gridCount
        self.medianVertices = medianVertices
        self.region = region
        self.seed = seed
    }

    /// Writes `count` households spread evenly over `shapes` (a point drawn in the region and
    /// kept when a grid takes it) as a CSV a household import reads: id, lon, lat, members.
    public func writeHouseholds(count: Int, in shapes: [GridShape], to path: String) throws {
        let assigner = try GridAssigner(shapes: shapes)
        var random = SeededRandom(seed: seed &+ 7)
        var text = "id,lon,lat,members\n"
        var written = 0
        while written < count {
            let batch = (0..<min(65_536, 2 * (count - written) + 16)).map { _ in
                LonLat(random.uniform(region.minX...region.maxX), random.uniform(region.minY...region.maxY))
            }
            for (point, assignment) in zip(batch, try assigner.assign(batch)) where assignment.method == .inside && written < count {
                written += 1
                text += String(format: "P%08d,%.7f,%.7f,%d\n", written, point.lon, point.lat, random.int(1...6))
            }
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The grids, codes `P00001` … in seed order.
    public func makeGrids() throws -> [GridShape] {
        let geos = try GEOSContext()
        let xScale = cos((region.minY + region.maxY) / 2 * .pi / 180)
        var random = SeededRandom(seed: seed)
        let inner = innerSeeds(&random)
        let frame = region.expanded(by: 6 * typicalSpacing)
        let all = inner + frameSeeds(around: frame, &random)
        let scaled = try all.map { try Geometry.point(x: $0.lon * xScale, y: $0.lat, context: geos) }
        let diagram = try Geometry.collection(.multiPoint, scaled, context: geos).voronoiDiagram()
        // Each cell to its seed: the nearest seed to a point inside a Voronoi cell is its own.
        let buckets = SeedBuckets(all.map { LonLat($0.lon * xScale, $0.lat) }, cell: typicalSpacing)
        var cells = [[[(x: Double, y: Double)]]?](repeating: nil, count: inner.count)
        for i in 0..<(try diagram.numberOfGeometries) {
            let cell = try diagram.geometry(at: i)
            let probe = try cell.pointOnSurface().pointCoordinates
            let owner = buckets.nearest(LonLat(probe.x, probe.y))
            guard owner < inner.count else { continue }
            cells[owner] = try cell.rings().map { ring in try ring.coordinates().map { (x: $0.x / xScale, y: $0.y) } }
        }
        let rings = try cells.enumerated().map { index, cell in
            guard let cell else { throw GeoError(tr("province seed \(index) has no Voronoi cell")) }
            return cell
        }
        let spacing = densifySpacing(rings)
        var straight = Set<EdgeKey>()
        while true {
            var invalid: [Int] = []
            var shapes: [GridShape] = []
            for (index, cell) in rings.enumerated() {
                let polygon = try Geometry.polygon(cell.map { densified($0, spacing: spacing, straight: straight) }, context: geos)
                if try !polygon.validity().isValid { invalid.append(index) }
                shapes.append(GridShape(code: String(format: "P%05d", index + 1), wkb: try polygon.wkb()))
            }
            if invalid.isEmpty { return shapes }
            for index in invalid {
                for ring in rings[index] {
                    for (a, b) in zip(ring, ring.dropFirst()) { straight.insert(EdgeKey(a, b)) }
                }
            }
        }
    }

    /// Mean distance between neighbouring seeds, in degrees of latitude.
    var typicalSpacing: Double { (region.width * region.height * cos(region.midLatitude * .pi / 180) / Double(gridCount)).squareRoot() }

    /// Three in five seeds uniform, the rest around a dozen cities.
    func innerSeeds(_ random: inout SeededRandom) -> [LonLat] {
        let cities = (0..<12).map { _ in LonLat(random.uniform(region.minX...region.maxX), random.uniform(region.minY...region.maxY)) }
        var seeds: [LonLat] = []
        seeds.reserveCapacity(gridCount)
        while seeds.count < gridCount {
            let p: LonLat
            if random.chance(0.6) {
                p = LonLat(random.uniform(region.minX...region.maxX), random.uniform(region.minY...region.maxY))
            } else {
                let city = random.pick(cities)
                p = LonLat(city.lon + random.normal() * 0.15, city.lat + random.normal() * 0.12)
            }
            if region.contains(x: p.lon, y: p.lat) { seeds.append(p) }
        }
        return seeds
    }

    /// Seeds between the region and `frame`, at the region's mean density,
    /// so that every inner cell is closed by outer ones.
    func frameSeeds(around frame: Envelope, _ random: inout SeededRandom) -> [LonLat] {
        let ringArea = frame.width * frame.height - region.width * region.height
        let count = Int(ringArea / (region.width * region.height) * Double(gridCount)) + 8
        var seeds: [LonLat] = []
        while seeds.count < count {
            let p = LonLat(random.uniform(frame.minX...frame.maxX), random.uniform(frame.minY...frame.maxY))
            if !region.contains(x: p.lon, y: p.lat) { seeds.append(p) }
        }
        return seeds
    }

    /// The vertex spacing in metres that gives the median cell about `medianVertices` vertices.
    func densifySpacing(_ cells: [[[(x: Double, y: Double)]]]) -> Double {
        var perimeters: [(metres: Double, vertices: Int)] = cells.map { cell in
            let ring = cell[0]
            let metres = zip(ring, ring.dropFirst()).reduce(0.0) { $0 + Self.metres($1.0, $1.1) }
            return (metres, ring.count - 1)
        }
        perimeters.sort { $0.metres < $1.metres }
        let median = perimeters[perimeters.count / 2]
        return median.metres / Double(max(medianVertices - median.vertices, 1))
    }

    static func metres(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double)) -> Double {
        let dx = (b.x - a.x) * 111_320 * cos((a.y + b.y) / 2 * .pi / 180), dy = (b.y - a.y) * 110_574
        return (dx * dx + dy * dy).squareRoot()
    }

    /// A ring with every edge densified; an edge is computed from its
    /// lexicographically first end, so both grids along it get the same vertices.
    func densified(_ ring: [(x: Double, y: Double)], spacing: Double, straight: Set<EdgeKey>) -> [(Double, Double)] {
        var result: [(Double, Double)] = []
        for (a, b) in zip(ring, ring.dropFirst()) {
            result.append((a.x, a.y))
            let forward = (a.x, a.y) < (b.x, b.y)
            let (p, q) = forward ? (a, b) : (b, a)
            let steps = Int((Self.metres(p, q) / spacing).rounded())
            guard steps > 1 else { continue }
            let key = EdgeKey(p, q)
            // A gentle bend, up to 5% of the edge's length, sideways in isotropic terms.
            let bend = straight.contains(key) ? 0 : 0.05 * (key.hashBits & 1 == 0 ? 1.0 : -1.0)
            let xScale = cos((p.y + q.y) / 2 * .pi / 180)
            let dx = (q.x - p.x) * xScale, dy = q.y - p.y
            var inner: [(Double, Double)] = []
            for k in 1..<steps {
                let t = Double(k) / Double(steps)
                let offset = bend * sin(.pi * t) * (0.8 + 0.2 * sin(3 * .pi * t))
                inner.append((p.x + t * (q.x - p.x) - offset * dy / xScale, p.y + t * (q.y - p.y) + offset * dx))
            }
            result += forward ? inner : inner.reversed()
        }
        result.append(result[0])
        return result
    }

    /// An edge by its two ends in lexicographic order.
    struct EdgeKey: Hashable {
        let bits: [UInt64]
        init(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double)) {
            let (p, q) = (a.x, a.y) < (b.x, b.y) ? (a, b) : (b, a)
            bits = [p.x.bitPattern, p.y.bitPattern, q.x.bitPattern, q.y.bitPattern]
        }
        /// Mixed bits of the ends: the same on every run, unlike `hashValue`.
        var hashBits: UInt64 {
            var random = SeededRandom(seed: bits.reduce(0) { $0 &* 31 &+ $1 })
            return random.next()
        }
    }
}

/// Seeds in square buckets for nearest-seed queries.
struct SeedBuckets {
    let points: [LonLat]
    let cell: Double
    let buckets: [Int64: [Int]]

    init(_ points: [LonLat], cell: Double) {
        self.points = points
        self.cell = cell
        var buckets: [Int64: [Int]] = [:]
        for (i, p) in points.enumerated() { buckets[Self.key(p, cell), default: []].append(i) }
        self.buckets = buckets
    }

    static func key(_ p: LonLat, _ cell: Double) -> Int64 {
        Int64((p.lon / cell).rounded(.down)) << 32 ^ Int64((p.lat / cell).rounded(.down)) & 0xFFFF_FFFF
    }

    func nearest(_ p: LonLat) -> Int {
        var best = -1, bestDistance = Double.infinity
        var radius = 1
        while true {
            let cx = Int64((p.lon / cell).rounded(.down)), cy = Int64((p.lat / cell).rounded(.down))
            for x in (cx - Int64(radius))...(cx + Int64(radius)) {
                for y in (cy - Int64(radius))...(cy + Int64(radius)) {
                    for i in buckets[x << 32 ^ y & 0xFFFF_FFFF] ?? [] {
                        let d = KMeans.distance2(points[i], p)
                        if d < bestDistance { best = i; bestDistance = d }
                    }
                }
            }
            // A seed beyond the searched square would be at least `radius` cells away.
            if best >= 0 && bestDistance.squareRoot() <= Double(radius) * cell { return best }
            radius *= 2
        }
    }
}

extension Envelope {
    var midLatitude: Double { (minY + maxY) / 2 }
}

extension ProvinceGenerator {
    /// Grids a village holds, about; a town holds `villagesPerTownSide`² villages and a
    /// county `townsPerCountySide`² towns (about 50 counties for 20,000 grids).
    public static let gridsPerVillage = 25
    static let villagesPerTownSide = 2
    static let townsPerCountySide = 2

    /// The grids as a GeoJSON FeatureCollection with the fields `wangge import grids`
    /// reads: villages are the grids whose inner point falls in one square of a lattice
    /// about `gridsPerVillage` grids big, towns squares of 2×2 villages and counties of
    /// 2×2 towns, so each village lies in one town and each town in one county. Codes are
    /// built as the national ones (GB/T 2260 and the statistical town codes): a county
    /// 43NNNN, its towns 43NNNN001…, their villages 43NNNN001001…
    public func geoJSON(_ shapes: [GridShape]) throws -> String {
        let geos = try GEOSContext()
        let xScale = cos(region.midLatitude * .pi / 180)
        let villageSide = typicalSpacing * Double(Self.gridsPerVillage).squareRoot()
        let townSide = villageSide * Double(Self.villagesPerTownSide)
        let countySide = townSide * Double(Self.townsPerCountySide)
        var places: [(county: [Int], town: [Int], village: [Int], geometry: Geometry)] = []
        for shape in shapes {
            let geometry = try Geometry(wkb: shape.wkb, context: geos)
            let point = try geometry.pointOnSurface().pointCoordinates
            let x = (point.x - region.minX) * xScale, y = point.y - region.minY
            func cell(_ side: Double) -> [Int] { [Int(floor(x / side)), Int(floor(y / side))] }
            places.append((cell(countySide), cell(townSide), cell(villageSide), geometry))
        }
        func inOrder(_ cells: Set<[Int]>) -> [[Int]] { cells.sorted { $0.lexicographicallyPrecedes($1) } }
        var towns: [[Int]: String] = [:], villages: [[Int]: String] = [:]
        for (n, county) in inOrder(Set(places.map(\.county))).enumerated() {
            let countyCode = String(format: "43%04d", n + 1)
            for (t, town) in inOrder(Set(places.filter { $0.county == county }.map(\.town))).enumerated() {
                towns[town] = countyCode + String(format: "%03d", t + 1)
                for (v, village) in inOrder(Set(places.filter { $0.town == town }.map(\.village))).enumerated() {
                    villages[village] = towns[town]! + String(format: "%03d", v + 1)
                }
            }
        }
        var features: [String] = []
        for (shape, place) in zip(shapes, places) {
            let town = towns[place.town]!, village = villages[place.village]!
            let properties = ["code": shape.code, "name": "网格\(shape.code)", "village_code": village, "village_name": "\(village)村",
                              "town_code": town, "town_name": "\(town)镇"]
            let propertyJSON = String(decoding: try JSONSerialization.data(withJSONObject: properties, options: [.sortedKeys]), as: UTF8.self)
            features.append("{\"type\":\"Feature\",\"properties\":\(propertyJSON),\"geometry\":\(try place.geometry.asMultiPolygon().geoJSON())}")
        }
        return "{\"type\":\"FeatureCollection\",\"name\":\"province_grids\",\"features\":[\n" + features.joined(separator: ",\n") + "\n]}\n"
    }
}
