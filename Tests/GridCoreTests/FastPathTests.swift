import Foundation
import Testing
import TestSupport
import GeoKit
@testable import GridCore

/// The fast path must give, for every point, exactly what the plain GEOS
/// path gives: grid, method, distances and runner-up (`PointAssignment`'s
/// `==` compares them all). Each test also checks that the fast path, not
/// its GEOS fallback, decided nearly all of the points.
@Suite struct FastPathTests {
    /// Every point compared; the first differences named.
    static func expectSameAsGEOS(_ assigner: GridAssigner, _ points: [LonLat], _ label: String,
                                 maximumGEOSShare: Double = 0.01) throws {
        let exact = try assigner.assignExact(points)
        let (fast, counts) = try assigner.assignCounting(points)
        let differences = zip(exact, fast).enumerated().filter { $0.element.0 != $0.element.1 }
        let shown = differences.prefix(5).map { "\(points[$0.offset]): GEOS \($0.element.0), fast \($0.element.1)" }
        #expect(differences.isEmpty, "\(label): \(differences.count) of \(points.count) differ: \(shown.joined(separator: "; "))")
        #expect(counts.total == points.count)
        #expect(Double(counts.geos) <= maximumGEOSShare * Double(points.count), "\(label): GEOS decided \(counts.geos) of \(points.count)")
    }

    /// Vertices, edge midpoints, points a third and seven tenths along each
    /// edge, and points beside edges at several offsets (degrees), from
    /// every `stride`-th vertex of every ring.
    static func edgeProbes(_ shapes: [GridShape], stride: Int = 1, offsets: [Double] = [1e-12, 1e-9, 1e-7, 1e-5, 1.8e-4, 2.2e-4]) throws -> [LonLat] {
        let geos = try GEOSContext()
        var probes: [LonLat] = []
        for shape in shapes {
            for polygon in try Geometry(wkb: shape.wkb, context: geos).polygons() {
                for ring in try polygon.rings() {
                    let vertices = try ring.coordinates()
                    for i in Swift.stride(from: 0, to: vertices.count - 1, by: stride) {
                        let (a, b) = (vertices[i], vertices[i + 1])
                        probes.append(LonLat(a.x, a.y))
                        for t in [0.5, 1.0 / 3, 0.7] {
                            probes.append(LonLat(a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)))
                        }
                        let length = ((b.x - a.x) * (b.x - a.x) + (b.y - a.y) * (b.y - a.y)).squareRoot()
                        guard length > 0 else { continue }
                        let (nx, ny) = (-(b.y - a.y) / length, (b.x - a.x) / length)
                        let (mx, my) = ((a.x + b.x) / 2, (a.y + b.y) / 2)
                        for offset in offsets {
                            probes.append(LonLat(mx + offset * nx, my + offset * ny))
                            probes.append(LonLat(mx - offset * nx, my - offset * ny))
                        }
                        probes.append(LonLat(a.x + 1e-7, a.y - 1e-7))
                    }
                }
            }
        }
        return probes
    }

    static func randomPoints(_ count: Int, in envelope: Envelope, seed: UInt64) -> [LonLat] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in random.point(in: envelope) }
    }

    @Test func sampleCountyMillionRandomPoints() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.sampleGrids))
        // The raster reaches a little beyond the grids, for points outside every grid.
        let points = Self.randomPoints(1_000_000, in: assigner.index.raster.extent, seed: 8)
        try Self.expectSameAsGEOS(assigner, points, "sample county, random")
    }

    @Test func sampleCountyVerticesEdgesAndJustOutside() throws {
        let shapes = try Fixtures.shapes(Fixtures.sampleGrids)
        let assigner = try GridAssigner(shapes: shapes)
        let probes = try Self.edgeProbes(shapes)
        // Vertices and points on edges are GEOS's to decide; beside them the fast path answers.
        try Self.expectSameAsGEOS(assigner, probes, "sample county, edges", maximumGEOSShare: 0.5)
    }

    @Test func sampleCountyWithSmallAndLargeCells() throws {
        let shapes = try Fixtures.shapes(Fixtures.sampleGrids)
        var random = SeededRandom(seed: 31)
        for metres in [25.0, 300.0] {
            let assigner = try GridAssigner(shapes: shapes, cellSize: metres / 110_574)
            let points = Self.randomPoints(100_000, in: assigner.index.raster.extent, seed: random.next())
            try Self.expectSameAsGEOS(assigner, points + (try Self.edgeProbes(shapes, stride: 7)), "cells of \(metres) m",
                                      maximumGEOSShare: 0.1)
        }
    }

    @Test func northCarolinaRandomVerticesAndEdges() throws {
        let shapes = try Fixtures.shapes(Fixtures.northCarolina, codeField: "NAME")
        let assigner = try GridAssigner(shapes: shapes)
        let random = Self.randomPoints(200_000, in: assigner.index.raster.extent, seed: 1993)
        // Its long straight edges bow tens of metres off their metric chords: GEOS decides more there.
        try Self.expectSameAsGEOS(assigner, random, "North Carolina, random", maximumGEOSShare: 0.05)
        // Farther out, beyond the raster: GEOS's answers, whoever computes them.
        try Self.expectSameAsGEOS(assigner, Self.randomPoints(2_000, in: assigner.index.envelope.expanded(by: 2), seed: 1994),
                                  "North Carolina, far", maximumGEOSShare: 1)
        try Self.expectSameAsGEOS(assigner, try Self.edgeProbes(shapes, stride: 2, offsets: [1e-12, 1e-9, 1e-7, 1e-5, 2e-4, 1e-3]),
                                  "North Carolina, edges", maximumGEOSShare: 0.5)
    }

    /// The raster's rows are scanned in parallel bands whose records are
    /// joined afterwards: any number of bands gives the one-band raster,
    /// cell for cell and record for record.
    @Test func rasterInBandsEqualsOneScan() throws {
        for (shapes, label) in [(try Fixtures.shapes(Fixtures.sampleGrids), "sample county"),
                                (try Fixtures.shapes(Fixtures.northCarolina, codeField: "NAME"), "North Carolina")] {
            let sorted = shapes.sorted { $0.code < $1.code }
            let locator = try GridLocator(shapes: sorted, rules: AssignmentRules())
            let reference = try GridAssigner(shapes: shapes).index.raster
            let builder = try OwnershipRasterBuilder(rings: try locator.rings(), gridCount: sorted.count, extent: locator.envelope,
                                                     margin: reference.margin, cellSize: reference.cellSize)
            func contents(_ raster: OwnershipRaster) -> ([Int32], [UInt32], [Int]) {
                (Array(UnsafeBufferPointer(start: raster.cells.base, count: raster.cells.count)),
                 Array(UnsafeBufferPointer(start: raster.records.base, count: raster.records.count)),
                 [raster.deepCells, raster.edgeCells, raster.geosCells])
            }
            let one = contents(try builder.build(bands: 1))
            #expect(one.1.count > 1000 && one.2[1] > 100, "\(label): edge cells with records")
            for bands in [2, 7, 64] {
                let banded = contents(try builder.build(bands: bands))
                #expect(banded.0 == one.0 && banded.1 == one.1 && banded.2 == one.2, "\(label): \(bands) bands")
            }
        }
    }

    /// Points exactly on raster cell centres and corners, where the
    /// crossing test's reference point sits.
    @Test func rasterCentresAndCorners() throws {
        let shapes = try Fixtures.shapes(Fixtures.sampleGrids)
        let assigner = try GridAssigner(shapes: shapes)
        let raster = assigner.index.raster
        var points: [LonLat] = []
        for row in Swift.stride(from: 0, to: raster.rows, by: 7) {
            for column in Swift.stride(from: 0, to: raster.columns, by: 7) {
                points.append(LonLat(raster.centerX(column), raster.centerY(row)))
                points.append(LonLat(raster.originX + Double(column) * raster.cellSize, raster.originY + Double(row) * raster.cellSize))
            }
        }
        try Self.expectSameAsGEOS(assigner, points, "cell centres and corners")
    }

    /// A hole with a grid inside it, overlapping grids, and a grid touching
    /// another at one vertex: the raster's GEOS cells and the fallback for
    /// points inside two grids.
    @Test func holesOverlapsAndTouchingCorners() throws {
        let geos = try GEOSContext()
        func shape(_ code: String, _ rings: [[(Double, Double)]]) throws -> GridShape {
            GridShape(code: code, wkb: try Geometry.polygon(rings, context: geos).wkb())
        }
        let shapes = [
            // A donut and the grid filling its hole.
            try shape("A", [[(112.0, 28.0), (112.1, 28.0), (112.1, 28.1), (112.0, 28.1), (112.0, 28.0)],
                            [(112.03, 28.03), (112.03, 28.07), (112.07, 28.07), (112.07, 28.03), (112.03, 28.03)]]),
            try shape("B", [[(112.03, 28.03), (112.07, 28.03), (112.07, 28.07), (112.03, 28.07), (112.03, 28.03)]]),
            // Overlapping A's east side.
            try shape("C", [[(112.09, 28.02), (112.15, 28.02), (112.15, 28.08), (112.09, 28.08), (112.09, 28.02)]]),
            // Touching A at its north-west corner only.
            try shape("D", [[(111.95, 28.1), (112.0, 28.1), (111.95, 28.15), (111.95, 28.1)]]),
        ]
        let assigner = try GridAssigner(shapes: shapes)
        let points = Self.randomPoints(100_000, in: assigner.index.raster.extent, seed: 5)
        // The overlap covers about 4% of the envelope, all of it GEOS's.
        try Self.expectSameAsGEOS(assigner, points + (try Self.edgeProbes(shapes)), "holes and overlaps", maximumGEOSShare: 0.1)
        let inBoth = try assigner.assign([LonLat(112.095, 28.05)])[0]
        #expect(inBoth.grid == 0 && inBoth.method == .inside && inBoth.runnerUp == 2 && inBoth.runnerUpDistanceMeters == 0)
    }

    /// A small generated province (curved, densified edges): a tiling, and the same answers.
    @Test func generatedProvince() throws {
        let region = Envelope(minX: 112.0, minY: 27.0, maxX: 112.6, maxY: 27.5)
        let shapes = try ProvinceGenerator(gridCount: 120, medianVertices: 120, region: region, seed: 7).makeGrids()
        #expect(shapes.count == 120)
        let geos = try GEOSContext()
        let polygons = try shapes.map { try Geometry(wkb: $0.wkb, context: geos) }
        let counts = try polygons.map { try $0.numberOfCoordinates }.sorted()
        #expect((100...140).contains(counts[counts.count / 2]), "median \(counts[counts.count / 2]) vertices")
        let sum = try polygons.reduce(0) { $0 + (try $1.area) }
        let union = try Geometry.collection(.geometryCollection, polygons, context: geos).unaryUnion()
        #expect(abs(try union.area - sum) / sum < 1e-9, "grids overlap")
        #expect(try union.type == .polygon, "grids are not one piece")
        #expect(try union.type == .polygon && union.rings().count == 1, "grids leave holes")
        let assigner = try GridAssigner(shapes: shapes)
        let points = Self.randomPoints(100_000, in: assigner.index.raster.extent, seed: 11)
        try Self.expectSameAsGEOS(assigner, points, "province, random")
        try Self.expectSameAsGEOS(assigner, try Self.edgeProbes(shapes, stride: 5), "province, edges", maximumGEOSShare: 0.5)
    }

    /// Points `minimumKm`…`maximumKm` outside the grids' envelope (a ring of
    /// boxes around it), uniform over that ring: beyond the raster.
    static func farPoints(_ count: Int, around envelope: Envelope, minimumKm: Double = 1, maximumKm: Double = 60, seed: UInt64) -> [LonLat] {
        var random = SeededRandom(seed: seed)
        let inner = envelope.expanded(by: minimumKm / 111), outer = envelope.expanded(by: maximumKm / 111)
        var points: [LonLat] = []
        while points.count < count {
            let p = random.point(in: outer)
            if p.lon < inner.minX || p.lon > inner.maxX || p.lat < inner.minY || p.lat > inner.maxY { points.append(p) }
        }
        return points
    }

    /// Far points (1–60 km out) take the far cells' lists, not GEOS, and
    /// answer as GEOS does; so does the mix of the bounding box (about 40%
    /// outside every grid) with them.
    @Test func sampleCountyFarOutsideAndBoundingBoxMix() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.sampleGrids))
        let far = Self.farPoints(20_000, around: assigner.index.envelope, seed: 60)
        try Self.expectSameAsGEOS(assigner, far, "sample county, 1–60 km outside")
        let near = Self.farPoints(5_000, around: assigner.index.envelope, minimumKm: 0, maximumKm: 1.5, seed: 61)
        try Self.expectSameAsGEOS(assigner, near, "sample county, just beyond the raster")
        let box = Self.randomPoints(50_000, in: assigner.index.envelope, seed: 62)
        try Self.expectSameAsGEOS(assigner, box + far.prefix(10_000), "sample county, bounding box and far mix")
        let (assignments, counts) = try assigner.assignCounting(far)
        #expect(counts.outside == far.count && assignments.allSatisfy { $0.method == .none && $0.nearestGrid >= 0 })
        // CGCS2000 / 3-degree Gauss-Krüger: computed in Swift first.
        #expect(assigner.index.projectsInSwift)
        try Self.expectFewCandidatesRead(assigner, far, "sample county, 1–60 km outside")
        try Self.expectFewCandidatesRead(assigner, box, "sample county, bounding box")
    }

    /// Points outside every grid read a few dozen candidates apiece (groups
    /// of edges and the edges of the groups that can matter), not every edge
    /// of their tile's or cell's list: hundreds, kilometres out, before the
    /// lists were grouped.
    static func expectFewCandidatesRead(_ assigner: GridAssigner, _ points: [LonLat], _ label: String, perPoint: Double = 40) throws {
        let counts = try assigner.assignCounting(points).counts
        let mean = Double(counts.outsideCandidatesRead) / Double(max(counts.outside, 1))
        #expect(counts.outside > 0 && mean <= perPoint, "\(label): \(mean) candidates read per point outside every grid")
    }

    /// Farther still (60–250 km: a mistyped coordinate, a neighbouring
    /// province's address): GEOS's answers, on each of the three areas.
    @Test func hundredsOfKilometresOutside() throws {
        let region = Envelope(minX: 112.0, minY: 27.0, maxX: 112.6, maxY: 27.5)
        for (shapes, label) in [(try Fixtures.shapes(Fixtures.sampleGrids), "sample county"),
                                (try Fixtures.shapes(Fixtures.northCarolina, codeField: "NAME"), "North Carolina"),
                                (try ProvinceGenerator(gridCount: 120, medianVertices: 120, region: region, seed: 7).makeGrids(), "province")] {
            let assigner = try GridAssigner(shapes: shapes)
            let far = Self.farPoints(3_000, around: assigner.index.envelope, minimumKm: 60, maximumKm: 250, seed: 250)
            try Self.expectSameAsGEOS(assigner, far, "\(label), 60–250 km outside", maximumGEOSShare: 0.05)
        }
    }

    /// The Swift projection agrees with PROJ to well within its bound, for
    /// Gauss-Krüger (CGCS2000) and UTM (WGS84) zones, and refuses pipelines
    /// it does not reproduce.
    @Test func swiftTransverseMercatorAgreesWithPROJ() throws {
        var random = SeededRandom(seed: 67)
        for (crs, lon, lat) in [("EPSG:4546", 111.0, 28.9), ("EPSG:32617", -79.5, 35.5), ("EPSG:32750", 117.0, -30.0)] {
            let transformer = try CoordinateTransformer(from: "EPSG:4326", to: crs, context: try PROJContext())
            let definition = try #require(transformer.definition)
            let projection = try #require(TransverseMercator(definition: definition), "\(crs): \(definition)")
            var worst = 0.0
            for _ in 0..<20_000 {
                let p = (lon + (random.unit() - 0.5) * 5, lat + (random.unit() - 0.5) * 4)
                let exact = try transformer.transform(x: p.0, y: p.1)
                let mine = projection.project(p.0, p.1)
                worst = max(worst, abs(mine.x - exact.x), abs(mine.y - exact.y))
            }
            #expect(worst <= TransverseMercator.bound / 20, "\(crs): \(worst) m")
        }
        let mercator = try CoordinateTransformer(from: "EPSG:4326", to: "EPSG:3857", context: try PROJContext())
        let mercatorDefinition = try #require(mercator.definition)
        #expect(TransverseMercator(definition: mercatorDefinition) == nil)
        #expect(TransverseMercator(definition: "proj=pipeline step proj=unitconvert xy_in=deg xy_out=rad step proj=tmerc lat_0=10 lon_0=111 k=1 x_0=500000 y_0=0 ellps=GRS80") == nil)
    }

    /// A box's bicubic stand-in for the projection: within the projection's
    /// own margin (`bound / 20`) everywhere in boxes of a tile's and a far
    /// cell's size, in three zones; none for a box too wide to fit.
    @Test func localProjectionStaysWithinTheBound() throws {
        var random = SeededRandom(seed: 68)
        for (crs, lon, lat) in [("EPSG:4546", 112.3, 28.9), ("EPSG:32617", -79.5, 35.5), ("EPSG:32750", 117.0, -30.0)] {
            let transformer = try CoordinateTransformer(from: "EPSG:4326", to: crs, context: try PROJContext())
            let definition = try #require(transformer.definition)
            let projection = try #require(TransverseMercator(definition: definition))
            for side in [0.008, 0.036, 0.09] {
                let west = lon + (random.unit() - 0.5) * 2, south = lat + (random.unit() - 0.5) * 2
                let local = try #require(LocalProjection(of: projection, west: west, east: west + side, south: south, north: south + side),
                                         "\(crs), \(side)°")
                var worst = 0.0
                for _ in 0..<5_000 {
                    let p = (west + random.unit() * side, south + random.unit() * side)
                    let exact = projection.project(p.0, p.1)
                    let mine = local.header.withUnsafeBufferPointer { LocalProjection.project($0.baseAddress!, p.0, p.1) }
                    worst = max(worst, abs(mine.x - exact.x), abs(mine.y - exact.y))
                }
                #expect(worst <= TransverseMercator.bound / 20, "\(crs), \(side)°: \(worst) m")
            }
            #expect(LocalProjection(of: projection, west: lon, east: lon + 2, south: lat, north: lat + 2) == nil)
        }
    }

    @Test func northCarolinaFarOutside() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.northCarolina, codeField: "NAME"))
        let far = Self.farPoints(10_000, around: assigner.index.envelope, seed: 63)
        // The state's long straight edges bow off their chords: some points fall to GEOS near them.
        try Self.expectSameAsGEOS(assigner, far, "North Carolina, 1–60 km outside", maximumGEOSShare: 0.05)
        let near = Self.farPoints(3_000, around: assigner.index.envelope, minimumKm: 0, maximumKm: 1.5, seed: 64)
        try Self.expectSameAsGEOS(assigner, near, "North Carolina, just beyond the raster", maximumGEOSShare: 0.05)
        try Self.expectFewCandidatesRead(assigner, far, "North Carolina, 1–60 km outside")
    }

    @Test func generatedProvinceFarOutsideAndBoundingBox() throws {
        let region = Envelope(minX: 112.0, minY: 27.0, maxX: 112.6, maxY: 27.5)
        let shapes = try ProvinceGenerator(gridCount: 120, medianVertices: 120, region: region, seed: 7).makeGrids()
        let assigner = try GridAssigner(shapes: shapes)
        let far = Self.farPoints(10_000, around: assigner.index.envelope, seed: 65)
        try Self.expectSameAsGEOS(assigner, far, "province, 1–60 km outside")
        try Self.expectSameAsGEOS(assigner, Self.randomPoints(50_000, in: assigner.index.envelope, seed: 66) + far.prefix(5_000),
                                  "province, bounding box and far mix")
        try Self.expectFewCandidatesRead(assigner, far, "province, 1–60 km outside")
    }

    @Test func singlePointLocateMatchesBulk() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.sampleGrids))
        let points = Self.randomPoints(2_000, in: assigner.index.envelope.expanded(by: 0.01), seed: 3)
        let bulk = try assigner.assign(points)
        for (point, expected) in zip(points, bulk) {
            #expect(try assigner.locate(point) == expected)
        }
        // Outside the raster and not a number: GEOS's answer, error or not.
        let far = try assigner.locate(LonLat(100, 10))
        #expect(far == (try assigner.withLocator { try $0.locate(lon: 100, lat: 10) }))
    }
}

@Suite struct ExactArithmeticTests {
    /// GEOS's own point-to-segment distance, bit for bit (a two-point line string).
    @Test func pointToSegmentIsGEOSToTheBit() throws {
        let geos = try GEOSContext()
        var random = SeededRandom(seed: 17)
        for _ in 0..<20_000 {
            let scale = random.chance(0.5) ? 1.0 : 1e5
            let a = (500_000 + random.unit() * scale, 3_200_000 + random.unit() * scale)
            let b = random.chance(0.05) ? a : (a.0 + random.normal() * scale, a.1 + random.normal() * scale)
            let p = (a.0 + random.normal() * scale, a.1 + random.normal() * scale)
            let line = try Geometry.lineString([a, b], context: geos)
            let point = try Geometry.point(x: p.0, y: p.1, context: geos)
            let expected = try point.distance(to: line)
            let actual = ExactArithmetic.geosPointToSegment(p.0, p.1, a.0, a.1, b.0, b.1)
            #expect(actual.bitPattern == expected.bitPattern, "\(p) to \(a)–\(b): \(actual) vs GEOS \(expected)")
        }
    }

    @Test func orientationIsCertainOrSilent() {
        // Exactly collinear, in values that are not exact in binary.
        #expect(ExactArithmetic.orientation(0.1, 0.1, 0.3, 0.3, 0.7, 0.7) == 0)
        #expect(ExactArithmetic.orientation(112.01, 28.0, 112.01, 28.02, 112.01, 28.005) == 0)
        #expect(ExactArithmetic.orientation(0, 0, 1, 0, 0.5, 1e-300) == 1)
        #expect(ExactArithmetic.orientation(0, 0, 1, 0, 0.5, -1e-300) == -1)
        // A point a hair off a long line: the filter may decline, but never lies.
        var random = SeededRandom(seed: 23)
        for _ in 0..<10_000 {
            let (ax, ay) = (112 + random.unit(), 28 + random.unit())
            let (bx, by) = (112 + random.unit(), 28 + random.unit())
            let t = random.unit()
            let (cx, cy) = (ax + t * (bx - ax), ay + t * (by - ay) + (random.unit() - 0.5) * 1e-13)
            let sign = ExactArithmetic.orientation(ax, ay, bx, by, cx, cy)
            let exact = Self.exactOrientation(ax, ay, bx, by, cx, cy)
            #expect(sign == 0 || sign == exact)
        }
    }

    /// The orientation sign in exact integer arithmetic: every coordinate
    /// here is a multiple of 2^-48 below 2^7, so scaled by 2^48 it is an
    /// integer, and the products are compared in full width.
    static func exactOrientation(_ ax: Double, _ ay: Double, _ bx: Double, _ by: Double, _ cx: Double, _ cy: Double) -> Int {
        func scaled(_ v: Double) -> Int64 { Int64(v * 0x1p48) }
        let (x1, y1) = (scaled(ax) - scaled(cx), scaled(ay) - scaled(cy))
        let (x2, y2) = (scaled(bx) - scaled(cx), scaled(by) - scaled(cy))
        let left = x1.multipliedFullWidth(by: y2), right = y1.multipliedFullWidth(by: x2)
        if left.high != right.high { return left.high > right.high ? 1 : -1 }
        return left.low == right.low ? 0 : (left.low > right.low ? 1 : -1)
    }
}
