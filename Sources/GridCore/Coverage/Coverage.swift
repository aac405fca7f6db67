import Foundation
import GeoKit

/// A camera as coverage needs it: where it is and what it sees.
public struct CameraView: Sendable, Equatable {
    public var id: String
    public var position: LonLat
    public var type: String
    /// Degrees clockwise from north; nil when unknown.
    public var headingDegrees: Double?
    public var fieldOfViewDegrees: Double?
    public var rangeMeters: Double?
    public var online: Bool

    public init(id: String, position: LonLat, type: String, headingDegrees: Double?, fieldOfViewDegrees: Double?,
                rangeMeters: Double?, online: Bool) {
        self.id = id
        self.position = position
        self.type = type
        self.headingDegrees = headingDegrees
        self.fieldOfViewDegrees = fieldOfViewDegrees
        self.rangeMeters = rangeMeters
        self.online = online
    }
}

/// Field of view and range a camera type has when its record gives none.
public struct CameraDefaults: Sendable, Equatable, Codable {
    public var fieldOfViewDegrees: Double
    public var rangeMeters: Double
    public init(fieldOfViewDegrees: Double, rangeMeters: Double) {
        self.fieldOfViewDegrees = fieldOfViewDegrees
        self.rangeMeters = rangeMeters
    }
}

public struct CoverageSettings: Sendable, Equatable {
    /// Per camera type; `fallback` for types not listed.
    public var defaults: [String: CameraDefaults]
    public var fallback: CameraDefaults
    /// A grid whose covered share is below this (0…1) is a blind spot.
    public var blindSpotThreshold: Double
    /// How many uncovered patches to report per grid, largest first.
    public var patchesPerGrid: Int
    /// Patches smaller than this many m² are not reported.
    public var minimumPatchSquareMetres: Double

    /// The built-in table, as in the shipped Config/wangge.yaml (a test keeps the two equal).
    public static let standardCameraDefaults = [
        "天网": CameraDefaults(fieldOfViewDegrees: 90, rangeMeters: 120), "雪亮": CameraDefaults(fieldOfViewDegrees: 60, rangeMeters: 80),
        "慧眼": CameraDefaults(fieldOfViewDegrees: 360, rangeMeters: 30), "学校": CameraDefaults(fieldOfViewDegrees: 90, rangeMeters: 60),
        "医院": CameraDefaults(fieldOfViewDegrees: 90, rangeMeters: 60), "防汛": CameraDefaults(fieldOfViewDegrees: 60, rangeMeters: 200),
        "交通": CameraDefaults(fieldOfViewDegrees: 45, rangeMeters: 150),
    ]

    public init(defaults: [String: CameraDefaults] = standardCameraDefaults, fallback: CameraDefaults = CameraDefaults(fieldOfViewDegrees: 90, rangeMeters: 80),
                blindSpotThreshold: Double = 0.05, patchesPerGrid: Int = 3, minimumPatchSquareMetres: Double = 10_000) {
        self.defaults = defaults
        self.fallback = fallback
        self.blindSpotThreshold = blindSpotThreshold
        self.patchesPerGrid = patchesPerGrid
        self.minimumPatchSquareMetres = minimumPatchSquareMetres
    }

    func resolved(_ camera: CameraView) -> (fov: Double, range: Double, heading: Double) {
        let typeDefaults = defaults[camera.type] ?? fallback
        var fov = camera.fieldOfViewDegrees ?? typeDefaults.fieldOfViewDegrees
        // Without a heading a directed camera cannot be placed: count its full circle of range.
        if camera.headingDegrees == nil { fov = 360 }
        return (min(max(fov, 0), 360), camera.rangeMeters ?? typeDefaults.rangeMeters, camera.headingDegrees ?? 0)
    }
}

/// An uncovered part of a grid: where a new camera would help.
public struct UncoveredPatch: Sendable, Equatable, Codable {
    public var areaSquareMetres: Double
    /// A point inside the patch (WGS84).
    public var lon: Double
    public var lat: Double
}

/// Camera coverage of one grid.
public struct GridCoverage: Sendable, Equatable, Encodable {
    public var code: String
    public var areaSquareMetres: Double
    public var coveredSquareMetres: Double
    public var households: Int
    public var householdsCovered: Int
    public var camerasOnline: Int
    public var camerasOffline: Int
    public var camerasByType: [String: Int]
    public var patches: [UncoveredPatch]

    public var coveredShare: Double { areaSquareMetres > 0 ? coveredSquareMetres / areaSquareMetres : 0 }
}

/// Builds camera view sectors and measures what they cover, in the metric CRS
/// of the area (never in degrees). Sectors of one grid are unioned before
/// they are measured, so overlapping views are not counted twice.
public final class CoverageCalculator {
    let geos: GEOSContext
    let proj: PROJContext
    public let metricCRS: String
    let toMetric: CoordinateTransformer
    public let settings: CoverageSettings

    public init(around center: LonLat, settings: CoverageSettings) throws {
        geos = try GEOSContext()
        proj = try PROJContext()
        metricCRS = MetricCRS.code(forLongitude: center.lon, latitude: center.lat)
        toMetric = try MetricCRS.transformer(to: metricCRS, context: proj)
        self.settings = settings
    }

    /// The camera's view in metric coordinates: a circle for 360°, otherwise
    /// a sector from heading − fov/2 to heading + fov/2, with a vertex every 2° at most.
    public func sector(_ camera: CameraView) throws -> Geometry {
        let (fov, range, heading) = settings.resolved(camera)
        let c = try toMetric.transform(x: camera.position.lon, y: camera.position.lat)
        let steps = max(8, Int((fov / 2).rounded(.up)))
        var ring: [(Double, Double)] = []
        if fov < 360 { ring.append((c.x, c.y)) }
        for k in 0...steps {
            if fov >= 360 && k == steps { break }
            let bearing = (heading - fov / 2 + fov * Double(k) / Double(steps)) * .pi / 180
            ring.append((c.x + range * sin(bearing), c.y + range * cos(bearing)))
        }
        ring.append(ring[0])
        return try Geometry.polygon([ring], context: geos)
    }

    /// A lon/lat geometry in the metric CRS.
    public func metric(_ geometry: Geometry) throws -> Geometry { try toMetric.transform(geometry) }

    public func metricPoint(_ p: LonLat) throws -> Geometry {
        let xy = try toMetric.transform(x: p.lon, y: p.lat)
        return try Geometry.point(x: xy.x, y: xy.y, context: geos)
    }

    /// Coverage of every grid. `households` holds each household's position
    /// and the index of its grid in `grids` (-1 for none).
    public func coverage(grids: [GridShape], cameras: [CameraView], households: [(position: LonLat, grid: Int32)]) throws -> [GridCoverage] {
        let gridGeometries = try grids.map { try metric(try Geometry(wkb: $0.wkb, context: geos)) }
        let online = cameras.filter(\.online)
        let sectors = try online.map(sector)
        let tree = try STRtree(envelopes: try sectors.map { try $0.envelope }, context: geos)
        let cameraGrid = try assignCameras(cameras, to: gridGeometries)
        var householdsByGrid = [[LonLat]](repeating: [], count: grids.count)
        for h in households where h.grid >= 0 && Int(h.grid) < grids.count { householdsByGrid[Int(h.grid)].append(h.position) }
        let back = try MetricCRS.transformer(from: metricCRS, context: proj)
        var result: [GridCoverage] = []
        for (index, grid) in gridGeometries.enumerated() {
            let area = try grid.area
            // Sectors near the grid, unioned once: overlaps count once.
            let nearby = tree.query(try Geometry.box(try grid.envelope.expanded(by: 1), context: geos))
            var covered = 0.0
            var householdsCovered = 0
            var uncovered = grid
            if !nearby.isEmpty {
                let union = try Geometry.collection(.geometryCollection, nearby.map { sectors[$0] }, context: geos).unaryUnion()
                let inside = try union.intersection(grid)
                covered = try inside.area
                uncovered = try grid.difference(union)
                let prepared = try PreparedGeometry(union)
                for p in householdsByGrid[index] where try prepared.covers(try metricPoint(p)) { householdsCovered += 1 }
            }
            var patches: [UncoveredPatch] = []
            for part in try uncovered.polygons() {
                let partArea = try part.area
                guard partArea >= settings.minimumPatchSquareMetres else { continue }
                let p = try part.pointOnSurface().pointCoordinates
                let lonLat = try back.transform(x: p.x, y: p.y)
                patches.append(UncoveredPatch(areaSquareMetres: partArea, lon: lonLat.x, lat: lonLat.y))
            }
            patches.sort { $0.areaSquareMetres > $1.areaSquareMetres }
            var byType: [String: Int] = [:]
            var onlineCount = 0, offlineCount = 0
            for (k, camera) in cameras.enumerated() where cameraGrid[k] == index {
                byType[camera.type, default: 0] += 1
                if camera.online { onlineCount += 1 } else { offlineCount += 1 }
            }
            result.append(GridCoverage(
                code: grids[index].code, areaSquareMetres: area, coveredSquareMetres: covered,
                households: householdsByGrid[index].count, householdsCovered: householdsCovered,
                camerasOnline: onlineCount, camerasOffline: offlineCount, camerasByType: byType,
                patches: Array(patches.prefix(settings.patchesPerGrid))))
        }
        return result
    }

    /// The grid each camera stands in (-1 outside all), by GEOS point-in-polygon in metres.
    func assignCameras(_ cameras: [CameraView], to grids: [Geometry]) throws -> [Int] {
        let prepared = try grids.map { try PreparedGeometry($0) }
        let tree = try STRtree(envelopes: try grids.map { try $0.envelope }, context: geos)
        return try cameras.map { camera in
            let p = try metricPoint(camera.position)
            return try tree.query(p).first { try prepared[$0].covers(p) } ?? -1
        }
    }
}

/// Coverage summed over a group of grids (a village, a town, the county).
public struct AreaCoverage: Sendable, Equatable, Codable {
    public var code: String
    public var name: String
    public var grids: Int
    public var areaSquareMetres: Double
    public var coveredSquareMetres: Double
    public var coveredShare: Double
    public var households: Int
    public var householdsCovered: Int
    public var householdsCoveredShare: Double
    public var camerasOnline: Int
    public var camerasOffline: Int
    public var camerasByType: [String: Int]
    public var camerasPerThousandHouseholds: Double
    /// Grids below the blind-spot threshold.
    public var blindSpotGrids: [String]
    /// The largest uncovered patches, largest first (for a single grid: its own).
    public var largestUncovered: [UncoveredPatch]

    /// Sums grid coverages; grids tile the area, so areas add up.
    public init(code: String, name: String, parts: [GridCoverage], threshold: Double, patches: Int) {
        self.code = code
        self.name = name
        grids = parts.count
        areaSquareMetres = parts.reduce(0) { $0 + $1.areaSquareMetres }
        coveredSquareMetres = parts.reduce(0) { $0 + $1.coveredSquareMetres }
        coveredShare = areaSquareMetres > 0 ? coveredSquareMetres / areaSquareMetres : 0
        households = parts.reduce(0) { $0 + $1.households }
        householdsCovered = parts.reduce(0) { $0 + $1.householdsCovered }
        householdsCoveredShare = households > 0 ? Double(householdsCovered) / Double(households) : 0
        camerasOnline = parts.reduce(0) { $0 + $1.camerasOnline }
        camerasOffline = parts.reduce(0) { $0 + $1.camerasOffline }
        camerasByType = parts.reduce(into: [:]) { total, part in
            for (type, n) in part.camerasByType { total[type, default: 0] += n }
        }
        let cameras = camerasOnline + camerasOffline
        camerasPerThousandHouseholds = households > 0 ? Double(cameras) * 1000 / Double(households) : 0
        blindSpotGrids = parts.filter { $0.coveredShare < threshold }.map(\.code)
        largestUncovered = Array(parts.flatMap(\.patches).sorted { $0.areaSquareMetres > $1.areaSquareMetres }.prefix(patches))
    }
}
