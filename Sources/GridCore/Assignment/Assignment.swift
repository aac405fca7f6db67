import Localization
import GeoKit

/// How a point was given its grid. See `GridLocator` for the rule.
public enum AssignmentMethod: String, Sendable, Codable, CaseIterable {
    /// In the interior of exactly one grid.
    case inside
    /// Exactly on a grid edge: the owner is the covering grid whose code sorts first.
    case boundary
    /// Outside every grid but within the tolerance of the nearest one.
    case nearest
    /// Farther than the tolerance from every grid: unassigned.
    case none
}

extension AssignmentMethod: LocalizedConvertible {
    /// The method as people read it; `rawValue` stays the code in JSON and CSV.
    public var text: Localized {
        switch self {
        case .inside: tr("inside")
        case .boundary: tr("on the edge")
        case .nearest: tr("nearest")
        case .none: tr("unassigned")
        }
    }

    /// How many points each method assigned, in method order ("inside 2530, nearest 3"; in
    /// Chinese 网格内 2530，就近分配 3); nil when there are none.
    public static func counts(_ counts: [AssignmentMethod: Int]) -> Localized? {
        let items = allCases.compactMap { m in counts[m].map { Localized.joined([m.text, .verbatim(String($0))], separator: " ") } }
        return items.isEmpty ? nil : .list(items)
    }
}

/// The distances that govern assignment, in metres.
public struct AssignmentRules: Sendable, Equatable, Codable {
    /// A point outside every grid but at most this far from one goes to the nearest.
    public var nearestToleranceMeters: Double
    /// A point at most this far from another grid records it as the runner-up,
    /// and its distance to its own grid's edge.
    public var nearBoundaryMeters: Double

    public init(nearestToleranceMeters: Double = 50, nearBoundaryMeters: Double = 20) {
        self.nearestToleranceMeters = nearestToleranceMeters
        self.nearBoundaryMeters = nearBoundaryMeters
    }
}

/// The grid given to one point. Grids are referred to by their index in the
/// assigner's `codes` (sorted ascending), -1 for none. Stored compactly
/// (16 bytes: the method shares a word with the other grid) because bulk
/// runs write millions of them.
public struct PointAssignment: Sendable, Equatable {
    public var grid: Int32
    /// Bits 0–29: the other grid + 1 (0 for none); bits 30–31: the method.
    /// The other grid is the nearest other grid when it is within the
    /// near-boundary distance of the point (for `nearest` points: within the
    /// tolerance); for `none` points the closest grid, so that a dispatcher
    /// can be told.
    private var otherAndMethod: UInt32
    private var distance: Float
    private var otherDistance: Float

    /// Grid indexes must stay below this to fit the packed word.
    public static let maximumGridCount = 1 << 29

    private static let otherMask: UInt32 = (1 << 30) - 1

    public init(grid: Int32, method: AssignmentMethod, distanceMeters: Double? = nil,
                runnerUp: Int32 = -1, runnerUpDistanceMeters: Double? = nil, nearestGrid: Int32 = -1) {
        self.grid = grid
        otherAndMethod = 0
        distance = distanceMeters.map(Float.init) ?? .nan
        otherDistance = runnerUpDistanceMeters.map(Float.init) ?? .nan
        self.method = method
        other = method == .none ? nearestGrid : runnerUp
    }

    public var method: AssignmentMethod {
        get {
            switch otherAndMethod >> 30 {
            case 0: .inside
            case 1: .boundary
            case 2: .nearest
            default: .none
            }
        }
        set {
            let code: UInt32 = switch newValue {
            case .inside: 0
            case .boundary: 1
            case .nearest: 2
            case .none: 3
            }
            otherAndMethod = otherAndMethod & Self.otherMask | code << 30
        }
    }

    private var other: Int32 {
        get { Int32(bitPattern: otherAndMethod & Self.otherMask) - 1 }
        set { otherAndMethod = otherAndMethod & ~Self.otherMask | UInt32(bitPattern: newValue + 1) & Self.otherMask }
    }

    /// Metres from the point to its grid's edge: 0 for `boundary`, the gap for
    /// `nearest`, the depth for `inside` points within the near-boundary
    /// distance; nil for points deeper inside. For `none`, the distance to
    /// the nearest grid (`nearestGrid`).
    public var distanceMeters: Double? {
        get { distance.isNaN ? nil : Double(distance) }
        set { distance = newValue.map(Float.init) ?? .nan }
    }

    public var runnerUp: Int32 {
        get { method == .none ? -1 : other }
        set { other = newValue }
    }

    public var runnerUpDistanceMeters: Double? {
        get { method == .none || otherDistance.isNaN ? nil : Double(otherDistance) }
        set { otherDistance = newValue.map(Float.init) ?? .nan }
    }

    public var nearestGrid: Int32 { method == .none ? other : -1 }

    public static func == (a: PointAssignment, b: PointAssignment) -> Bool {
        a.grid == b.grid && a.method == b.method && a.runnerUp == b.runnerUp && a.nearestGrid == b.nearestGrid
            && a.distanceMeters == b.distanceMeters && a.runnerUpDistanceMeters == b.runnerUpDistanceMeters
    }
}

/// A grid's code and polygon (WKB, lon/lat): the thread-safe input from which
/// each thread builds its own GEOS objects.
public struct GridShape: Sendable, Equatable {
    public let code: String
    public let wkb: [UInt8]
    public init(code: String, wkb: [UInt8]) {
        self.code = code
        self.wkb = wkb
    }
}

/// A lon/lat pair in WGS84 degrees.
public struct LonLat: Sendable, Equatable, Hashable {
    public var lon: Double
    public var lat: Double
    public init(_ lon: Double, _ lat: Double) {
        self.lon = lon
        self.lat = lat
    }
}
