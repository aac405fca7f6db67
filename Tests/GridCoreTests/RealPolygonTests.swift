import Foundation
import Testing
import TestSupport
import GeoKit
@testable import GridCore

/// Even-odd ray casting over every ring: an implementation that shares no
/// code with GEOS, to cross-check the assignment on real polygons.
struct RayCaster {
    let rings: [[[(Double, Double)]]] // per area, per ring

    init(_ shapes: [GridShape]) throws {
        let context = try GEOSContext()
        rings = try shapes.map { shape in
            try Geometry(wkb: shape.wkb, context: context).polygons().flatMap { polygon in
                try polygon.rings().map { try $0.coordinates().map { ($0.x, $0.y) } }
            }
        }
    }

    func containing(_ x: Double, _ y: Double) -> [Int] {
        rings.indices.filter { area in
            var inside = false
            for ring in rings[area] {
                var j = ring.count - 1
                for i in 0..<ring.count {
                    let (xi, yi) = ring[i], (xj, yj) = ring[j]
                    if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi { inside.toggle() }
                    j = i
                }
            }
            return inside
        }
    }
}

@Suite struct RealPolygonTests {
    @Test func northCarolinaCountiesAgreeWithRayCasting() throws {
        let shapes = try Fixtures.shapes(Fixtures.northCarolina, codeField: "NAME")
        #expect(shapes.count == 100)
        let assigner = try GridAssigner(shapes: shapes)
        let locator = try assigner.makeLocator()
        let caster = try RayCaster(shapes)
        var random = SeededRandom(seed: 2026)
        let points = (0..<10_000).map { _ in random.point(in: locator.envelope) }
        let exact = try points.map { try locator.locate(lon: $0.lon, lat: $0.lat) }
        var insideCount = 0
        for (p, a) in zip(points, exact) {
            let hits = caster.containing(p.lon, p.lat)
            if hits.count == 1 {
                insideCount += 1
                #expect(a.method == .inside && Int(a.grid) == hits[0], "\(p): ray casting says \(shapes[hits[0]].code)")
            } else {
                #expect(hits.isEmpty, "counties overlap at \(p)")
                #expect(a.method == .nearest || a.method == .none, "\(p) is in no county, got \(a.method)")
            }
        }
        #expect(insideCount > 5_000) // NC fills about 60% of its envelope
        #expect(try assigner.assign(points) == exact)
    }

    @Test func northCarolinaVerticesEdgesAndJustOutside() throws {
        let shapes = try Fixtures.shapes(Fixtures.northCarolina, codeField: "NAME")
        let assigner = try GridAssigner(shapes: shapes)
        let locator = try assigner.makeLocator()
        let caster = try RayCaster(shapes)
        var probes: [LonLat] = []
        for ring in caster.rings.flatMap({ $0 }) {
            for (i, v) in ring.enumerated() where i % 3 == 0 {
                probes.append(LonLat(v.0, v.1))
                let w = ring[(i + 1) % ring.count]
                probes.append(LonLat((v.0 + w.0) / 2, (v.1 + w.1) / 2))
                probes.append(LonLat(v.0 + 0.0001, v.1 - 0.0001))
            }
        }
        let exact = try probes.map { try locator.locate(lon: $0.lon, lat: $0.lat) }
        #expect(try assigner.assign(probes) == exact)
        // Every vertex lies on its county: boundary (or inside a neighbour's overlap), never unassigned.
        for (p, a) in zip(probes, exact).enumerated().filter({ $0.offset % 3 == 0 }).map({ $0.element }) {
            #expect(a.method == .boundary, "vertex \(p) got \(a.method)")
        }
    }

    @Test func sampleCountyTilesTheRealBoundary() throws {
        let geos = try GEOSContext()
        let county = try Geometry(geoJSON: try GeoJSONDocument(contentsOf: Fixtures.countyBoundary).features[0].geometryJSON, context: geos)
        let document = try GeoJSONDocument(contentsOf: Fixtures.sampleGrids)
        #expect(document.features.count == 271)
        let grids = try document.features.map { try Geometry(geoJSON: $0.geometryJSON, context: geos) }
        for (grid, feature) in zip(grids, document.features) {
            #expect(try grid.validity().isValid, "grid \(feature.properties["code"]?.text ?? "?")")
        }
        let countyArea = try Geodesic.area(of: county)
        let sum = try grids.reduce(0) { $0 + (try Geodesic.area(of: $1)) }
        let union = try Geometry.collection(.geometryCollection, grids, context: geos).unaryUnion()
        let unionArea = try Geodesic.area(of: union)
        // No gaps: the union is the county; no overlaps: the parts add up to the union.
        #expect(abs(unionArea - countyArea) / countyArea < 1e-6)
        #expect(abs(sum - unionArea) / unionArea < 1e-6)
        #expect(try county.difference(union).area < 1e-12)
        // The hierarchy: codes 430981-TTT-VVV-GGG, about 13 towns and 165 villages.
        let codes = document.features.compactMap { $0.properties["code"]?.text }
        #expect(codes.allSatisfy { $0.range(of: #"^430981-\d{3}-\d{3}-\d{3}$"#, options: .regularExpression) != nil })
        #expect(Set(codes).count == 271)
        #expect(Set(document.features.compactMap { $0.properties["town_code"]?.text }).count == 13)
        let villages = Set(document.features.compactMap { $0.properties["village_code"]?.text }).count
        #expect((150...180).contains(villages))
        // Grids are smaller around the county seat than in the countryside.
        let seat = try Geometry.point(x: CountyGenerator.countySeat.lon, y: CountyGenerator.countySeat.lat, context: geos)
        let areas = try grids.map { (try $0.distance(to: seat), try Geodesic.area(of: $0)) }.sorted { $0.0 < $1.0 }
        let near = areas.prefix(20).map(\.1).reduce(0, +) / 20, far = areas.suffix(100).map(\.1).reduce(0, +) / 100
        #expect(near * 3 < far, "near the seat \(near / 1e6) km², far \(far / 1e6) km²")
    }

    @Test func sampleCountyRasterAgreesWithGEOS() throws {
        let shapes = try Fixtures.shapes(Fixtures.sampleGrids)
        let assigner = try GridAssigner(shapes: shapes)
        let locator = try assigner.makeLocator()
        var random = SeededRandom(seed: 99)
        var points = (0..<60_000).map { _ in random.point(in: locator.envelope) }
        // Every 5th vertex of every grid, and points a metre or so off it.
        let geos = try GEOSContext()
        for shape in shapes {
            for polygon in try Geometry(wkb: shape.wkb, context: geos).polygons() {
                for (i, v) in try polygon.rings()[0].coordinates().enumerated() where i % 5 == 0 {
                    points.append(LonLat(v.x, v.y))
                    points.append(LonLat(v.x + 0.00001, v.y + 0.00001))
                }
            }
        }
        let exact = try assigner.assignExact(points)
        let fast = try assigner.assign(points)
        let differences = zip(exact, fast).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(differences.isEmpty, "first difference at \(differences.first.map { points[$0.offset] }.debugDescription)")
        #expect(exact.contains { $0.method == .boundary } && exact.contains { $0.runnerUp >= 0 })
    }
}
