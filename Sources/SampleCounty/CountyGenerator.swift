import Foundation
import GeoKit
import GridCore
import Localization

/// The sample county: settlements, 271 grids tiling the real 沅江市 boundary,
/// grouped into towns and villages. Everything follows from one seed.
///
/// Method: settlements (the county seat, town seats, villages and hamlets)
/// give a household density; grid seeds are k-means centres of a sample
/// that mixes household positions with uniform positions, so grids are small
/// where people live densely and large in the countryside. The Voronoi edges
/// of the seeds and the county boundary are noded together and polygonized,
/// so neighbouring grids share their edges exactly and the grids tile the
/// county with no gap or overlap. Towns are k-means clusters of grids,
/// villages k-means clusters of a town's grids: both are unions of whole grids.
public struct CountyGenerator {
    public static let defaultSeed: UInt64 = 430_981
    public static let countySeat = LonLat(112.355, 28.842)
    public static let countyCode = "430981"
    public static let gridCount = 271
    public static let townCount = 13
    public static let villageCount = 165

    public let seed: UInt64
    let geos: GEOSContext
    let county: Geometry
    let preparedCounty: PreparedGeometry
    public let settlements: [Settlement]
    /// cos of the county's middle latitude: x = lon · cosφ makes degrees isotropic.
    let xScale: Double

    public struct Settlement: Sendable {
        public enum Kind: Sendable { case countySeat, townSeat, village, hamlet }
        public let kind: Kind
        public let center: LonLat
        /// Standard deviation of household positions around the centre, metres.
        public let spreadMeters: Double
        public let weight: Double
    }

    public init(countyGeoJSON: String, seed: UInt64 = defaultSeed) throws {
        self.seed = seed
        geos = try GEOSContext()
        county = try CountyGenerator.readCounty(countyGeoJSON, context: geos)
        preparedCounty = try PreparedGeometry(county)
        let e = try county.envelope
        xScale = cos((e.minY + e.maxY) / 2 * .pi / 180)
        var random = SeededRandom(seed: seed)
        settlements = try CountyGenerator.makeSettlements(county: preparedCounty, envelope: e, random: &random)
    }

    static func readCounty(_ text: String, context: GEOSContext) throws -> Geometry {
        let collection = try GeoJSONDocument(text: text, source: "county boundary")
        guard let first = collection.features.first else { throw GeoError(tr("county boundary file has no feature")) }
        return try Geometry(geoJSON: first.geometryJSON, context: context)
    }

    public func countyArea() throws -> Double { try Geodesic.area(of: county) }

    func inside(_ p: LonLat) throws -> Bool {
        try preparedCounty.contains(try Geometry.point(x: p.lon, y: p.lat, context: geos))
    }

    /// Offsets a point by metres east and north.
    static func offset(_ p: LonLat, east: Double, north: Double) -> LonLat {
        LonLat(p.lon + east / (111_320 * cos(p.lat * .pi / 180)), p.lat + north / 110_574)
    }

    static func uniformPoint(in e: Envelope, county: PreparedGeometry, random: inout SeededRandom) throws -> LonLat {
        while true {
            let p = LonLat(random.uniform(e.minX...e.maxX), random.uniform(e.minY...e.maxY))
            if try county.contains(try Geometry.point(x: p.lon, y: p.lat, context: county.base.context)) { return p }
        }
    }

    static func makeSettlements(county: PreparedGeometry, envelope e: Envelope, random: inout SeededRandom) throws -> [Settlement] {
        var result = [Settlement(kind: .countySeat, center: countySeat, spreadMeters: 1_800, weight: 0.30)]
        func farFromAll(_ p: LonLat, _ minimum: Double) -> Bool {
            result.allSatisfy { Geodesic.distance(lon1: $0.center.lon, lat1: $0.center.lat, lon2: p.lon, lat2: p.lat) >= minimum }
        }
        // Twelve town seats, at least 7 km from each other and the county seat.
        var towns = 0
        while towns < 12 {
            let p = try uniformPoint(in: e, county: county, random: &random)
            if farFromAll(p, 7_000) {
                result.append(Settlement(kind: .townSeat, center: p, spreadMeters: 700, weight: 0.025))
                towns += 1
            }
        }
        // Villages at least 1.6 km apart; each with two to five hamlets.
        var villages = 0
        var attempts = 0
        while villages < 170 && attempts < 100_000 {
            attempts += 1
            let p = try uniformPoint(in: e, county: county, random: &random)
            guard farFromAll(p, 1_600) else { continue }
            result.append(Settlement(kind: .village, center: p, spreadMeters: 350, weight: 0.0012))
            villages += 1
            for _ in 0..<random.int(2...5) {
                let h = offset(p, east: random.normal() * 700, north: random.normal() * 700)
                if try county.contains(try Geometry.point(x: h.lon, y: h.lat, context: county.base.context)) {
                    result.append(Settlement(kind: .hamlet, center: h, spreadMeters: 180, weight: 0.0006))
                }
            }
        }
        return result
    }

    /// A household position: a settlement chosen by weight, a normal spread
    /// around it, kept only inside the county.
    public func householdPosition(_ random: inout SeededRandom) throws -> (LonLat, Int) {
        let choices = settlements.enumerated().map { ($0.offset, $0.element.weight) }
        while true {
            let index = random.weighted(choices)
            let s = settlements[index]
            let p = CountyGenerator.offset(s.center, east: random.normal() * s.spreadMeters, north: random.normal() * s.spreadMeters)
            if try inside(p) { return (p, index) }
        }
    }

    // MARK: Grids

    public struct SampleGrid {
        public var info: GridInfo
        public var geometry: Geometry
    }

    /// Seeds placed by household density where people live densely, by area elsewhere:
    /// the county seat gets `citySeeds`, each town seat `townSeatSeeds`, and
    /// the countryside the rest, from k-means over village households mixed
    /// with uniform land.
    static let citySeeds = 48
    static let townSeatSeeds = 3

    public func makeGrids() throws -> [SampleGrid] {
        var random = SeededRandom(seed: seed &+ 1)
        let e = try county.envelope
        func scaled(_ p: LonLat) -> LonLat { LonLat(p.lon * xScale, p.lat) }
        func positions(around s: Settlement, count: Int) throws -> [LonLat] {
            var result: [LonLat] = []
            while result.count < count {
                let p = CountyGenerator.offset(s.center, east: random.normal() * s.spreadMeters, north: random.normal() * s.spreadMeters)
                if try inside(p) { result.append(scaled(p)) }
            }
            return result
        }
        var seeds: [LonLat] = []
        var dense: [(center: LonLat, radius: Double)] = []
        for s in settlements where s.kind == .countySeat || s.kind == .townSeat {
            let k = s.kind == .countySeat ? CountyGenerator.citySeeds : CountyGenerator.townSeatSeeds
            let sample = try positions(around: s, count: k * 60)
            seeds += KMeans.cluster(sample, k: k, iterations: 30, random: &random).centers
                .map { c in sample.min { KMeans.distance2($0, c) < KMeans.distance2($1, c) }! }
            dense.append((s.center, 1.6 * s.spreadMeters))
        }
        // The countryside: outside the dense areas, households of villages and hamlets plus uniform land.
        func inDenseArea(_ p: LonLat) -> Bool {
            dense.contains { Geodesic.distance(lon1: $0.center.lon, lat1: $0.center.lat, lon2: p.lon, lat2: p.lat) < $0.radius }
        }
        var sample: [LonLat] = []
        let rural = settlements.filter { $0.kind == .village || $0.kind == .hamlet }
        let ruralChoices = rural.indices.map { ($0, rural[$0].weight) }
        while sample.count < 6_000 {
            let s = rural[random.weighted(ruralChoices)]
            let p = CountyGenerator.offset(s.center, east: random.normal() * s.spreadMeters, north: random.normal() * s.spreadMeters)
            if try inside(p), !inDenseArea(p) { sample.append(scaled(p)) }
        }
        while sample.count < 14_000 {
            let p = try CountyGenerator.uniformPoint(in: e, county: preparedCounty, random: &random)
            if !inDenseArea(p) { sample.append(scaled(p)) }
        }
        let countryside = KMeans.cluster(sample, k: CountyGenerator.gridCount - seeds.count, iterations: 25, random: &random).centers
        // Snap each seed to its nearest sample point so every seed is inside the county.
        seeds += countryside.map { c in sample.min { KMeans.distance2($0, c) < KMeans.distance2($1, c) }! }
        let cells = try voronoiTiling(seeds: seeds)
        return try organise(cells: cells, seeds: seeds, random: &random)
    }

    /// One geometry per seed: the seed's Voronoi cell within the county.
    func voronoiTiling(seeds: [LonLat]) throws -> [Geometry] {
        let e = try county.envelope
        let xScale = self.xScale
        let frame = Envelope(minX: e.minX * xScale, minY: e.minY, maxX: e.maxX * xScale, maxY: e.maxY).expanded(by: 0.05)
        let parts = try VoronoiPartition.cells(
            of: preparedCounty, seeds: seeds, frame: frame,
            toPlane: { x, y in LonLat(x * xScale, y) },
            fromPlane: { xy in for i in stride(from: 0, to: xy.count, by: 2) { xy[i] /= xScale } })
        return try parts.enumerated().map { index, faces in
            guard !faces.isEmpty else { throw GeoError(tr("grid seed \(index) has no face inside the county")) }
            if faces.count == 1 { return faces[0] }
            return try Geometry.collection(.multiPolygon, faces, context: geos).unaryUnion()
        }
    }

    /// Groups cells into towns and villages, then names and codes everything.
    func organise(cells: [Geometry], seeds: [LonLat], random: inout SeededRandom) throws -> [SampleGrid] {
        let townClusters = KMeans.cluster(seeds, k: CountyGenerator.townCount, iterations: 40, random: &random)
        let seat = LonLat(CountyGenerator.countySeat.lon * xScale, CountyGenerator.countySeat.lat)
        // Towns numbered by distance from the county seat: the three nearest are the sub-districts.
        let townOrder = townClusters.centers.indices.sorted {
            KMeans.distance2(townClusters.centers[$0], seat) < KMeans.distance2(townClusters.centers[$1], seat)
        }
        let townNames = Names.subdistricts + Names.towns
        var usedVillageNames = Set<String>()
        var grids: [SampleGrid] = []
        let nonEmptyTowns = townOrder.filter { townClusters.assignment.contains($0) }
        for (townNumber, cluster) in nonEmptyTowns.enumerated() {
            let members = seeds.indices.filter { townClusters.assignment[$0] == cluster }
            let townCode = String(format: "%@-%03d", CountyGenerator.countyCode, townNumber + 1)
            let urban = townNumber < Names.subdistricts.count
            let villageTotal = max(1, Int((Double(members.count) * Double(CountyGenerator.villageCount) / Double(CountyGenerator.gridCount)).rounded()))
            let villageClusters = KMeans.cluster(members.map { seeds[$0] }, k: min(villageTotal, members.count), iterations: 40, random: &random)
            // Villages numbered west to east, then grids within a village north to south.
            let villageOrder = villageClusters.centers.indices
                .filter { c in villageClusters.assignment.contains(c) }
                .sorted { villageClusters.centers[$0].lon < villageClusters.centers[$1].lon }
            for (villageNumber, villageCluster) in villageOrder.enumerated() {
                let villageMembers = members.indices.filter { villageClusters.assignment[$0] == villageCluster }.map { members[$0] }
                    .sorted { seeds[$0].lat > seeds[$1].lat }
                var villageName: String
                repeat {
                    villageName = String(random.pick(Names.placeFirst)) + String(random.pick(Names.placeSecond)) + (urban ? "社区" : "村")
                } while usedVillageNames.contains(villageName)
                usedVillageNames.insert(villageName)
                let villageCode = String(format: "%@-%03d", townCode, villageNumber + 1)
                for (gridNumber, cell) in villageMembers.enumerated() {
                    let info = GridInfo(
                        code: String(format: "%@-%03d", villageCode, gridNumber + 1),
                        name: GridCodes.gridName(villageName: villageName, number: gridNumber + 1),
                        villageCode: villageCode, villageName: villageName,
                        townCode: townCode, townName: townNames[townNumber],
                        workerName: Names.personName(&random), workerPhone: Names.mobilePhone(&random))
                    grids.append(SampleGrid(info: info, geometry: cells[cell]))
                }
            }
        }
        return grids.sorted { $0.info.code < $1.info.code }
    }

    /// The grids as a GeoJSON FeatureCollection, one feature per line.
    public static func geoJSON(_ grids: [SampleGrid]) throws -> String {
        var lines = ["{\"type\":\"FeatureCollection\",\"name\":\"yuanjiang_grids\",\"crs\":{\"type\":\"name\",\"properties\":{\"name\":\"urn:ogc:def:crs:OGC:1.3:CRS84\"}},\"features\":["]
        for (i, grid) in grids.enumerated() {
            let info = grid.info
            let properties: [String: String?] = [
                "code": info.code, "name": info.name, "village_code": info.villageCode, "village_name": info.villageName,
                "town_code": info.townCode, "town_name": info.townName, "worker_name": info.workerName, "worker_phone": info.workerPhone,
            ]
            let propertyJSON = String(decoding: try JSONSerialization.data(withJSONObject: properties.compactMapValues { $0 }, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
            let comma = i + 1 < grids.count ? "," : ""
            lines.append("{\"type\":\"Feature\",\"properties\":\(propertyJSON),\"geometry\":\(try grid.geometry.asMultiPolygon().geoJSON())}\(comma)")
        }
        lines.append("]}")
        return lines.joined(separator: "\n") + "\n"
    }
}
