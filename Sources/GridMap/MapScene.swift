import Localization

/// What a map shows, already projected to a metric CRS (x east, y north, metres).
public struct MapScene: Sendable {
    public var title: String
    public var metric: MapMetric
    public var areas: [MapArea]
    /// Heavier borders drawn over the areas (the towns).
    public var borders: [MapArea]
    public var points: [MapPoint]

    public init(title: String, metric: MapMetric, areas: [MapArea], borders: [MapArea], points: [MapPoint]) {
        self.title = title
        self.metric = metric
        self.areas = areas
        self.borders = borders
        self.points = points
    }

    /// The bounding box of the areas.
    public var bounds: MapBounds {
        areas.reduce(MapBounds.empty) { $0.union($1.bounds) }
    }
}

/// The quantity the fill colours show.
public struct MapMetric: Sendable, Equatable {
    public var key: String
    public var title: String
    public var unit: String

    public init(key: String, title: String, unit: String) {
        self.key = key
        self.title = title
        self.unit = unit
    }
}

/// One polygonal area (a grid or a town): every ring of every polygon, in
/// metres. Fill uses the even-odd rule, so holes need no special case.
public struct MapArea: Sendable {
    public var code: String
    public var name: String
    public var rings: [[MapXY]]
    public var value: Double?
    public var labelPoint: MapXY
    /// Areas outside the focus are drawn dimmed and take no class.
    public var inFocus: Bool
    public let bounds: MapBounds

    public init(code: String, name: String, rings: [[MapXY]], value: Double?, labelPoint: MapXY, inFocus: Bool = true) {
        self.code = code
        self.name = name
        self.rings = rings
        self.value = value
        self.labelPoint = labelPoint
        self.inFocus = inFocus
        bounds = rings.joined().reduce(MapBounds.empty) { $0.including($1) }
    }
}

/// A point symbol: a camera, an incident or a household.
public struct MapPoint: Sendable {
    public enum Layer: String, Sendable, CaseIterable {
        case cameras, incidents, households

        /// The layer's name in the map's legend.
        public var label: String {
            switch self {
            case .cameras: tr("cameras").rendered
            case .incidents: tr("incidents").rendered
            case .households: tr("households").rendered
            }
        }
    }

    public var position: MapXY
    public var layer: Layer

    public init(position: MapXY, layer: Layer) {
        self.position = position
        self.layer = layer
    }
}

public struct MapXY: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }
}

public struct MapBounds: Sendable, Equatable {
    public var minX, minY, maxX, maxY: Double

    public static let empty = MapBounds(minX: .infinity, minY: .infinity, maxX: -.infinity, maxY: -.infinity)

    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX
        self.minY = minY
        self.maxX = maxX
        self.maxY = maxY
    }

    public var isEmpty: Bool { minX > maxX || minY > maxY }
    public var width: Double { maxX - minX }
    public var height: Double { maxY - minY }
    public var center: MapXY { MapXY((minX + maxX) / 2, (minY + maxY) / 2) }

    public func including(_ p: MapXY) -> MapBounds {
        MapBounds(minX: min(minX, p.x), minY: min(minY, p.y), maxX: max(maxX, p.x), maxY: max(maxY, p.y))
    }

    public func union(_ other: MapBounds) -> MapBounds {
        MapBounds(minX: min(minX, other.minX), minY: min(minY, other.minY), maxX: max(maxX, other.maxX), maxY: max(maxY, other.maxY))
    }

    public func intersects(_ other: MapBounds) -> Bool {
        minX <= other.maxX && other.minX <= maxX && minY <= other.maxY && other.minY <= maxY
    }
}
