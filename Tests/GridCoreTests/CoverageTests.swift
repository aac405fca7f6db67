import Foundation
import Testing
import TestSupport
import GeoKit
@testable import GridCore

/// Analytic checks of camera coverage on a 2 km square grid near 沅江.
@Suite struct CoverageTests {
    static let center = LonLat(112.5, 28.9)

    /// A square grid of about 2 km a side centred on `center`.
    func squareGrid(_ code: String = "G") throws -> GridShape {
        let context = try GEOSContext()
        let box = Envelope(minX: 112.49, minY: 28.89, maxX: 112.51, maxY: 28.91)
        return GridShape(code: code, wkb: try Geometry.box(box, context: context).wkb())
    }

    func camera(_ id: String, heading: Double?, fov: Double?, range: Double?, online: Bool = true, type: String = "天网",
                at position: LonLat = CoverageTests.center) -> CameraView {
        CameraView(id: id, position: position, type: type, headingDegrees: heading, fieldOfViewDegrees: fov, rangeMeters: range, online: online)
    }

    func covered(_ cameras: [CameraView], settings: CoverageSettings = CoverageSettings(), households: [LonLat] = []) throws -> GridCoverage {
        let calculator = try CoverageCalculator(around: Self.center, settings: settings)
        return try calculator.coverage(grids: [try squareGrid()], cameras: cameras, households: households.map { ($0, 0) })[0]
    }

    @Test func quarterSectorCoversAQuarterCircle() throws {
        let r = 100.0
        let result = try covered([camera("A", heading: 45, fov: 90, range: r)])
        let expected = Double.pi * r * r / 4
        #expect(abs(result.coveredSquareMetres - expected) / expected < 0.005, "\(result.coveredSquareMetres) vs \(expected)")
    }

    @Test func overlappingSectorsAreNotCountedTwice() throws {
        let r = 100.0
        // 0°±45° and 45°±45° overlap in 45°: together they span 135°, not 180°.
        let result = try covered([camera("A", heading: 0, fov: 90, range: r), camera("B", heading: 45, fov: 90, range: r)])
        let expected = Double.pi * r * r * 135 / 360
        #expect(abs(result.coveredSquareMetres - expected) / expected < 0.005)
        // The same camera twice covers what it covers once.
        let twice = try covered([camera("A", heading: 10, fov: 60, range: r), camera("A2", heading: 10, fov: 60, range: r)])
        let once = try covered([camera("A", heading: 10, fov: 60, range: r)])
        #expect(abs(twice.coveredSquareMetres - once.coveredSquareMetres) < 1e-6)
    }

    @Test func domesDefaultsAndMissingHeading() throws {
        let settings = CoverageSettings(defaults: ["慧眼": CameraDefaults(fieldOfViewDegrees: 360, rangeMeters: 30)])
        let dome = try covered([camera("D", heading: nil, fov: nil, range: nil, type: "慧眼")], settings: settings)
        #expect(abs(dome.coveredSquareMetres - Double.pi * 900) / (Double.pi * 900) < 0.005)
        // A directed camera without a heading counts its whole circle of range.
        let unknown = try covered([camera("U", heading: nil, fov: 60, range: 50)])
        #expect(abs(unknown.coveredSquareMetres - Double.pi * 2500) / (Double.pi * 2500) < 0.005)
        // The fallback (90°, 80 m) for an unlisted type.
        let fallback = try covered([camera("F", heading: 0, fov: nil, range: nil, type: "其他")])
        #expect(abs(fallback.coveredSquareMetres - Double.pi * 6400 / 4) / (Double.pi * 6400 / 4) < 0.005)
    }

    @Test func offlineCamerasAreLeftOutAndCounted() throws {
        let result = try covered([camera("A", heading: 0, fov: 90, range: 100), camera("B", heading: 180, fov: 90, range: 100, online: false)])
        #expect(abs(result.coveredSquareMetres - Double.pi * 10_000 / 4) / (Double.pi * 10_000 / 4) < 0.005)
        #expect(result.camerasOnline == 1 && result.camerasOffline == 1 && result.camerasByType == ["天网": 2])
    }

    @Test func householdsInsideAViewAndTheUncoveredPatch() throws {
        // 50 m north of a north-facing camera is seen; 50 m south is not.
        let north = LonLat(Self.center.lon, Self.center.lat + 50 / 110_800.0)
        let south = LonLat(Self.center.lon, Self.center.lat - 50 / 110_800.0)
        let result = try covered([camera("A", heading: 0, fov: 90, range: 100)], households: [north, south])
        #expect(result.households == 2 && result.householdsCovered == 1)
        // The one uncovered patch is the rest of the grid, with a point inside it.
        let patch = try #require(result.patches.first)
        #expect(abs(patch.areaSquareMetres - (result.areaSquareMetres - result.coveredSquareMetres)) < 1)
        #expect(patch.lon > 112.49 && patch.lon < 112.51 && patch.lat > 28.89 && patch.lat < 28.91)
        let area = AreaCoverage(code: "v", name: "v", parts: [result, result], threshold: 0.05, patches: 3)
        #expect(area.grids == 2 && area.blindSpotGrids == ["G", "G"] && area.householdsCovered == 2)
        #expect(abs(area.coveredShare - result.coveredShare) < 1e-12)
    }

    @Test func metricGridAreasAgreeWithGeodesicAreas() throws {
        let shapes = try Fixtures.shapes(Fixtures.sampleGrids)
        let calculator = try CoverageCalculator(around: LonLat(112.6, 28.95), settings: CoverageSettings())
        #expect(calculator.metricCRS == "EPSG:4547") // the county straddles 112.5°E; its centre is nearer 114°E
        let geos = try GEOSContext()
        var worst = 0.0
        for shape in shapes {
            let lonLat = try Geometry(wkb: shape.wkb, context: geos)
            let geodesic = try Geodesic.area(of: lonLat)
            let metric = try calculator.metric(lonLat).area
            worst = max(worst, abs(metric - geodesic) / geodesic)
        }
        #expect(worst < 0.001, "worst relative difference \(worst)")
    }

    @Test func workloadAgainstTheStandard() {
        let settings = WorkloadSettings(villages: ["430981-005-004": WorkloadStandard(minHouseholds: 50, maxHouseholds: 100)])
        func grid(_ village: String, _ villageCode: String = "430981-001-001") -> GridInfo {
            GridInfo(code: "\(villageCode)-001", name: "g", villageCode: villageCode, villageName: village, townCode: "t", townName: "镇")
        }
        func stats(_ households: Int, incidents: Int = 0) -> AreaStatistics {
            AreaStatistics(code: "g", name: "g", grids: 1, households: households, residents: households * 2, incidents: incidents)
        }
        let over = GridWorkload(grid: grid("新桥社区"), statistics: stats(600, incidents: 12), settings: settings)
        #expect(over.urban && over.status == .over && over.incidentsPerThousandHouseholds == 20)
        #expect(GridWorkload(grid: grid("丰和村"), statistics: stats(600), settings: settings).status == .within)
        #expect(GridWorkload(grid: grid("丰和村"), statistics: stats(100), settings: settings).status == .under)
        #expect(GridWorkload(grid: grid("平华村", "430981-005-004"), statistics: stats(120), settings: settings).status == .over)
        var two = settings
        two.workersPerGrid = 2
        #expect(GridWorkload(grid: grid("新桥社区"), statistics: stats(600), settings: two).status == .within)
    }
}
