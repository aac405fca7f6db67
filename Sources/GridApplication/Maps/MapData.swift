import Foundation
import GeoKit
import GridCore
import GridMap
import GridStore
import Localization

/// The metrics a map can colour grids by.
public enum MapMetricKind: String, CaseIterable, Sendable {
    case households, population, cameras, incidents, load, coverage, overdue

    public var metric: MapMetric {
        switch self {
        case .households: MapMetric(key: rawValue, title: tr("households").rendered, unit: "户")
        case .population: MapMetric(key: rawValue, title: tr("residents").rendered, unit: "人")
        case .cameras: MapMetric(key: rawValue, title: tr("cameras").rendered, unit: "台")
        case .incidents: MapMetric(key: rawValue, title: tr("open incidents").rendered, unit: "件")
        case .load: MapMetric(key: rawValue, title: tr("households per worker").rendered, unit: "户/人")
        case .coverage: MapMetric(key: rawValue, title: tr("camera coverage").rendered, unit: "%")
        case .overdue: MapMetric(key: rawValue, title: tr("overdue incidents").rendered, unit: "件")
        }
    }

    public func value(_ s: AreaStatistics, coverage: Double?, overdue: Int, workersPerGrid: Int) -> Double? {
        switch self {
        case .households: Double(s.households)
        case .population: Double(s.residents)
        case .cameras: Double(s.cameras)
        case .incidents: Double(s.openIncidents)
        case .load: Double(s.households) / Double(max(workersPerGrid, 1))
        case .coverage: coverage.map { $0 * 100 }
        case .overdue: Double(overdue)
        }
    }
}

/// The numbers a map colours grids by, per grid code, read once: the
/// terminal map and the web map's choropleth take their values from here.
public struct MapValues: Sendable {
    public let statistics: [String: AreaStatistics]
    /// Covered share (0…1) per grid, when coverage was asked for.
    public let coverage: [String: Double]
    /// Open incidents past their deadline, per responsible grid.
    public let overdue: [String: Int]
    public let workersPerGrid: Int

    /// `statistics` replaces the stored counts (a draft has no stored assignments).
    public init(service: GridService, withCoverage: Bool, generation: Int64? = nil, statistics: [AreaStatistics]? = nil) throws {
        let store = service.store
        workersPerGrid = service.config.workload.workersPerGrid
        coverage = withCoverage ? try service.gridCoverage().mapValues(\.coveredShare) : [:]
        // Deadlines belong to incidents, not to a generation: overdue counts follow the incidents' current grids.
        overdue = Dictionary(uniqueKeysWithValues: try store.incidentStatistics(by: .grid, since: nil, until: nil, now: Date()).map { ($0.key, $0.overdue) })
        self.statistics = Dictionary(uniqueKeysWithValues: try (statistics ?? store.statistics(by: .grid, generation: generation, grid: nil)).map { ($0.code, $0) })
    }

    public func value(_ metric: MapMetricKind, grid code: String) -> Double? {
        statistics[code].flatMap { metric.value($0, coverage: coverage[code], overdue: overdue[code] ?? 0, workersPerGrid: workersPerGrid) }
    }
}

/// Which part of the county a map shows.
public enum MapFocus: Equatable, Sendable, CustomStringConvertible {
    case county
    case town(String)
    case village(String)
    case grid(String)

    public var description: String {
        switch self {
        case .county: "the county"
        case .town(let t): "town \(t)"
        case .village(let v): "village \(v)"
        case .grid(let g): "grid \(g)"
        }
    }
}

/// Everything a map needs from the store, loaded and projected once, so
/// that switching metric, focus or layers only rebuilds the scene.
public struct MapData: Sendable {
    public let grids: [GridInfo]
    public let values: MapValues
    public var statistics: [String: AreaStatistics] { values.statistics }
    public let gridRings: [[[MapXY]]]
    public let labelPoints: [MapXY]
    public let towns: [(code: String, name: String, rings: [[MapXY]])]
    public let points: [MapPoint]
    public let metricCRS: String

    /// The grids of `generation` (default: the active one); `statistics`
    /// replaces the stored counts (a draft has no stored assignments).
    public init(service: GridService, layers: Set<MapPoint.Layer>, withCoverage: Bool = false,
                generation: Int64? = nil, statistics: [AreaStatistics]? = nil) throws {
        let store = service.store
        values = try MapValues(service: service, withCoverage: withCoverage, generation: generation, statistics: statistics)
        grids = try store.grids(generation: generation)
        let geos = try GEOSContext()
        let proj = try PROJContext()
        let shapes = try store.areaShapes(.grid, generation: generation)
        let geometries = try shapes.map { try Geometry(wkb: $0.wkb, context: geos) }
        let extent = try geometries.map { try $0.envelope }.reduce(nil as Envelope?) { $0?.union($1) ?? $1 }
        guard let extent else { throw WanggeError.invalid(tr("no grids to draw")) }
        metricCRS = MetricCRS.code(forLongitude: (extent.minX + extent.maxX) / 2, latitude: (extent.minY + extent.maxY) / 2)
        let transformer = try MetricCRS.transformer(to: metricCRS, context: proj)
        func rings(_ geometry: Geometry) throws -> [[MapXY]] {
            try geometry.polygons().flatMap { try $0.rings() }.map { ring in
                var flat = try ring.coordinates().flatMap { [$0.x, $0.y] }
                transformer.transformInPlace(&flat)
                return stride(from: 0, to: flat.count, by: 2).map { MapXY(flat[$0], flat[$0 + 1]) }
            }
        }
        gridRings = try geometries.map(rings)
        labelPoints = try geometries.map { g in
            let p = try g.pointOnSurface().pointCoordinates
            let xy = try transformer.transform(x: p.x, y: p.y)
            return MapXY(xy.x, xy.y)
        }
        towns = try store.areaShapes(.town, generation: generation).map { ($0.code, $0.name, try rings(try Geometry(wkb: $0.wkb, context: geos))) }
        var points: [MapPoint] = []
        for layer in layers {
            let storeLayer: PointLayer = switch layer {
            case .cameras: .cameras
            case .incidents: .incidents
            case .households: .households
            }
            var flat = try store.positions(storeLayer).flatMap { [$0.lon, $0.lat] }
            transformer.transformInPlace(&flat)
            points += stride(from: 0, to: flat.count, by: 2).map { MapPoint(position: MapXY(flat[$0], flat[$0 + 1]), layer: layer) }
        }
        self.points = points
    }

    public func inFocus(_ grid: GridInfo, _ focus: MapFocus) -> Bool {
        switch focus {
        case .county: true
        case .town(let t): grid.townCode == t || grid.townName == t
        case .village(let v): grid.villageCode == v || grid.villageName == v
        case .grid(let g): grid.code == g
        }
    }

    /// The title of a focus: the area's name and code.
    public func title(_ focus: MapFocus) throws -> String {
        let focused = grids.filter { inFocus($0, focus) }
        guard let first = focused.first else {
            throw WanggeError.invalid(tr("nothing to show for \(focus): no such town, village or grid in the active generation"))
        }
        switch focus {
        case .county: return tr("county · \(Set(grids.map(\.townCode)).count) towns · \(grids.count) grids").rendered
        case .town: return tr("\(first.townName) \(first.townCode) · \(focused.count) grids").rendered
        case .village: return tr("\(first.villageName) \(first.villageCode) · \(focused.count) grids").rendered
        case .grid: return tr("\(first.name) \(first.code) · grid worker \(first.workerName ?? "-")").rendered
        }
    }

    public func scene(metric: MapMetricKind, focus: MapFocus) throws -> MapScene {
        let areas = grids.indices.map { i in
            MapArea(code: grids[i].code, name: grids[i].name, rings: gridRings[i],
                    value: values.value(metric, grid: grids[i].code),
                    labelPoint: labelPoints[i],
                    inFocus: inFocus(grids[i], focus))
        }
        let borders = towns.map { MapArea(code: $0.code, name: $0.name, rings: $0.rings, value: nil, labelPoint: MapXY(0, 0)) }
        return MapScene(title: try title(focus), metric: metric.metric, areas: areas, borders: borders, points: points)
    }

    /// The bounds of the focused grids.
    public func focusBounds(_ focus: MapFocus) -> MapBounds {
        grids.indices.filter { inFocus(grids[$0], focus) }.reduce(MapBounds.empty) { bounds, i in
            gridRings[i].joined().reduce(bounds) { $0.including($1) }
        }
    }
}
