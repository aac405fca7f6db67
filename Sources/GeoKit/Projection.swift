import CPROJ
import Foundation
import Localization

/// Collects PROJ's log messages so that a failed call throws PROJ's own words.
final class PROJMessageBox {
    var messages: [String] = []
}

/// One PROJ context: owns `proj_context_create` / `proj_context_destroy`.
/// PROJ contexts and objects must not cross threads, hence not `Sendable`.
public final class PROJContext {
    let pointer: OpaquePointer
    private let log: PROJMessageBox

    public init() throws {
        guard let context = proj_context_create() else { throw GeoError(tr("proj_context_create failed")) }
        pointer = context
        log = PROJMessageBox()
        proj_log_func(context, Unmanaged.passUnretained(log).toOpaque()) { userData, level, message in
            guard let userData, let message else { return }
            // Level 1 is PJ_LOG_ERROR; debug and trace chatter is not kept.
            if level <= 1 {
                Unmanaged<PROJMessageBox>.fromOpaque(userData).takeUnretainedValue().messages.append(String(cString: message))
            }
        }
        // Grids are never fetched over the network: results must not depend on it.
        _ = proj_context_set_enable_network(context, 0)
    }

    deinit {
        proj_context_destroy(pointer)
    }

    /// The error for the call that just failed: PROJ's errno text plus its log lines.
    func takeError(_ operation: String) -> GeoError {
        let code = proj_context_errno(pointer)
        var parts: [String] = []
        if code != 0, let text = proj_context_errno_string(pointer, code) { parts.append(String(cString: text)) }
        parts.append(contentsOf: log.messages)
        log.messages.removeAll()
        return GeoError(parts.isEmpty ? tr("\(operation) failed") : tr("\(operation): \(parts.joined(separator: "; "))"))
    }

    func clearLog() { log.messages.removeAll() }

    public static var version: String {
        let info = proj_info()
        return String(cString: info.version)
    }
}

/// A PROJ object (CRS or operation) owned by this Swift object.
final class PROJObject {
    let context: PROJContext
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer, context: PROJContext) {
        self.pointer = pointer
        self.context = context
    }
    deinit { proj_destroy(pointer) }

    var name: String? { proj_get_name(pointer).map { String(cString: $0) } }

    /// Why this CRS cannot take x, y input, nil for a geographic or projected 2D
    /// CRS: a geocentric one (EPSG:4978) wants x, y, z from the Earth's centre.
    var notTwoDimensionalReason: String? {
        let type = proj_get_type(pointer)
        let kind: String
        switch type {
        case PJ_TYPE_GEOGRAPHIC_2D_CRS: return nil
        case PJ_TYPE_PROJECTED_CRS:
            guard let cs = proj_crs_get_coordinate_system(context.pointer, pointer) else { return "its coordinate system cannot be read" }
            let axes = proj_cs_get_axis_count(context.pointer, cs)
            proj_destroy(cs)
            return axes == 2 ? nil : "it is a projected CRS with \(axes) axes"
        case PJ_TYPE_GEOCENTRIC_CRS: kind = "a geocentric CRS (x, y, z in metres from the Earth's centre)"
        case PJ_TYPE_GEOGRAPHIC_3D_CRS: kind = "a 3D geographic CRS (with ellipsoidal height)"
        case PJ_TYPE_VERTICAL_CRS: kind = "a vertical CRS (heights only)"
        case PJ_TYPE_COMPOUND_CRS: kind = "a compound CRS (horizontal and vertical)"
        default: kind = "not a geographic or projected CRS"
        }
        return "it is \(kind)"
    }
}

/// The area where a CRS is meant to be used, in WGS84 degrees.
public struct AreaOfUse: Sendable, Equatable {
    public let west: Double, south: Double, east: Double, north: Double, name: String
    /// The bounds without the name, widened by `margin` degrees on every side.
    public func box(margin: Double = 0) -> LonLatBox {
        LonLatBox(west: west - margin, south: south - margin, east: east + margin, north: north + margin)
    }
}

/// A longitude and latitude box (west > east when it crosses the antimeridian): plain
/// numbers, copied without reference counting, for checks made point by point.
public struct LonLatBox: Sendable, Equatable, BitwiseCopyable {
    public let west: Double, south: Double, east: Double, north: Double

    public func contains(lon: Double, lat: Double) -> Bool {
        guard lat >= south, lat <= north else { return false }
        if west <= east { return lon >= west && lon <= east }
        return lon >= west || lon <= east // crosses the antimeridian
    }
}

extension PROJContext {
    /// Why `crs` cannot take x, y input (see `PROJObject.notTwoDimensionalReason`), with its name;
    /// nil when it can, or when PROJ does not know it (the transformation then says so).
    /// `label` names the CRS in the message (default: `crs` itself, e.g. EPSG:4979).
    func notTwoDimensionalReason(_ crs: String, label: String? = nil) -> String? {
        guard let pointer = proj_create(self.pointer, crs) else { return nil }
        let object = PROJObject(pointer, context: self)
        return object.notTwoDimensionalReason.map { "\(label ?? crs)\(object.name.map { " (\($0))" } ?? ""): \($0)" }
    }
}

/// A transformation between two CRSs, with axis order normalised to
/// lon/lat (x/y) on both sides by `proj_normalize_for_visualization`.
public final class CoordinateTransformer {
    public let source: String
    public let target: String
    let context: PROJContext
    private let operation: PROJObject
    public let sourceName: String?
    public let sourceAreaOfUse: AreaOfUse?
    /// Whether PROJ's operation leaves coordinates as they are (`proj=noop …`): CGCS2000
    /// (EPSG:4490) to WGS84, for which PROJ knows only a ballpark transformation.
    /// Callers skip the call, which cost a fifth of a batch locate of CGCS2000 points.
    public let isIdentity: Bool

    public init(from source: String, to target: String, context: PROJContext) throws {
        context.clearLog()
        guard let raw = proj_create_crs_to_crs(context.pointer, source, target, nil) else {
            throw context.takeError("unknown CRS or no transformation from \(source) to \(target)")
        }
        let rawObject = PROJObject(raw, context: context)
        guard let normalized = proj_normalize_for_visualization(context.pointer, rawObject.pointer) else {
            throw context.takeError("normalize axis order for \(source) → \(target)")
        }
        self.source = source
        self.target = target
        self.context = context
        operation = PROJObject(normalized, context: context)
        isIdentity = Self.isNoOperation(operation)
        // Name and area of use of the source CRS, for messages and range checks.
        if let crs = proj_create(context.pointer, source) {
            let crsObject = PROJObject(crs, context: context)
            sourceName = crsObject.name
            var west = 0.0, south = 0.0, east = 0.0, north = 0.0
            var areaName: UnsafePointer<CChar>?
            if proj_get_area_of_use(context.pointer, crsObject.pointer, &west, &south, &east, &north, &areaName) == 1,
               west > -1000 {
                sourceAreaOfUse = AreaOfUse(west: west, south: south, east: east, north: north,
                                            name: areaName.map { String(cString: $0) } ?? "")
            } else {
                sourceAreaOfUse = nil
            }
        } else {
            throw context.takeError("unknown CRS \(source)")
        }
    }

    private init(source: String, target: String, context: PROJContext, operation: PROJObject,
                 sourceName: String?, sourceAreaOfUse: AreaOfUse?) {
        self.source = source
        self.target = target
        self.context = context
        self.operation = operation
        self.sourceName = sourceName
        self.sourceAreaOfUse = sourceAreaOfUse
        isIdentity = Self.isNoOperation(operation)
    }

    private static func isNoOperation(_ operation: PROJObject) -> Bool {
        // e.g. "proj=noop ellps=GRS80": the ellipsoid is named but nothing is done with it.
        guard let definition = proj_pj_info(operation.pointer).definition else { return false }
        return String(cString: definition).split(separator: " ").first == "proj=noop"
    }

    /// The same operation in another PROJ context (for another thread), as
    /// `proj_clone` copies it: PROJ's search for an operation between two
    /// CRSs takes a tenth of a second for a CGCS2000 zone, a copy a fraction
    /// of a millisecond, and gives the same coordinates bit for bit. This
    /// transformer must not be in use on another thread meanwhile.
    public func copy(in context: PROJContext) throws -> CoordinateTransformer {
        context.clearLog()
        guard let raw = proj_clone(context.pointer, operation.pointer) else {
            throw context.takeError("copy the transformation from \(source) to \(target)")
        }
        return CoordinateTransformer(source: source, target: target, context: context, operation: PROJObject(raw, context: context),
                                     sourceName: sourceName, sourceAreaOfUse: sourceAreaOfUse)
    }

    /// PROJ's definition of the operation (a `proj=pipeline` string), nil if it has none.
    public var definition: String? {
        proj_pj_info(operation.pointer).definition.map { String(cString: $0) }
    }

    /// Transforms one coordinate; throws if PROJ cannot.
    public func transform(x: Double, y: Double) throws -> (x: Double, y: Double) {
        var coordinate = proj_coord(x, y, 0, 0)
        proj_errno_reset(operation.pointer)
        coordinate = proj_trans(operation.pointer, PJ_FWD, coordinate)
        let out = (coordinate.xy.x, coordinate.xy.y)
        guard out.0.isFinite, out.1.isFinite, out.0 != Double.greatestFiniteMagnitude else {
            throw context.takeError("transform (\(x), \(y)) from \(source) to \(target)")
        }
        return out
    }

    /// Transforms the inverse way (target → source).
    public func inverse(x: Double, y: Double) throws -> (x: Double, y: Double) {
        var coordinate = proj_coord(x, y, 0, 0)
        proj_errno_reset(operation.pointer)
        coordinate = proj_trans(operation.pointer, PJ_INV, coordinate)
        let out = (coordinate.xy.x, coordinate.xy.y)
        guard out.0.isFinite, out.1.isFinite else {
            throw context.takeError("inverse transform (\(x), \(y)) from \(target) to \(source)")
        }
        return out
    }

    /// Transforms interleaved x, y values in place. Coordinates PROJ cannot
    /// transform become infinity; the caller checks them.
    public func transformInPlace(_ xy: inout [Double]) {
        let count = xy.count / 2
        guard count > 0 else { return }
        xy.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            let stride = 2 * MemoryLayout<Double>.stride
            _ = proj_trans_generic(operation.pointer, PJ_FWD,
                                   base, stride, count,
                                   base + 1, stride, count,
                                   nil, 0, 0, nil, 0, 0)
        }
    }

    /// A copy of `geometry` with every coordinate transformed.
    public func transform(_ geometry: Geometry) throws -> Geometry {
        try geometry.mapCoordinates { xy in
            transformInPlace(&xy)
            if let bad = stride(from: 0, to: xy.count, by: 2).first(where: { !xy[$0].isFinite || !xy[$0 + 1].isFinite || abs(xy[$0]) == .infinity }) {
                throw GeoError(tr("cannot transform coordinate \(bad / 2) from \(source) to \(target)"))
            }
        }
    }
}

/// The metric CRS used for areas, distances and camera sectors near a place:
/// the CGCS2000 3-degree Gauss-Krüger zone whose central meridian is nearest
/// (EPSG:4534 for 75°E … EPSG:4554 for 135°E), which keeps scale error under
/// 0.03% within the zone. Outside China's longitudes, the UTM zone.
public enum MetricCRS {
    public static func code(forLongitude lon: Double, latitude lat: Double) -> String {
        let centralMeridian = (lon / 3).rounded() * 3
        if (75...135).contains(centralMeridian) && lat > 0 {
            return "EPSG:\(gaussKrugerZones.lowerBound + Int(centralMeridian - 75) / 3)"
        }
        let zone = Int(((lon + 180) / 6).rounded(.down)) % 60 + 1
        return lat >= 0 ? "EPSG:\(32600 + zone)" : "EPSG:\(32700 + zone)"
    }

    /// The CGCS2000 Gauss-Krüger zones `code(forLongitude:latitude:)` gives.
    static let gaussKrugerZones = 4534...4554

    /// The geographic CRS that WGS84 longitudes and latitudes are handed to PROJ as,
    /// on their way into `metric`: CGCS2000 (EPSG:4490) for its Gauss-Krüger zones,
    /// else WGS84 itself. PROJ has only a ballpark (no-op) transformation between
    /// WGS84 and CGCS2000, so the pipeline is the same step for step (tested), but
    /// finding it from WGS84 searches PROJ's database for datum transformations: a
    /// fifth of a `wangge locate` that starts for one file. From CGCS2000 there is none to search.
    public static func geographicCRS(for metric: String) -> String {
        guard metric.hasPrefix("EPSG:"), let number = Int(metric.dropFirst(5)), gaussKrugerZones.contains(number) else { return "EPSG:4326" }
        return "EPSG:4490"
    }

    /// WGS84 longitudes and latitudes to `metric` (a code this enum gives).
    public static func transformer(to metric: String, context: PROJContext) throws -> CoordinateTransformer {
        try CoordinateTransformer(from: geographicCRS(for: metric), to: metric, context: context)
    }

    /// `metric` to WGS84 longitudes and latitudes, the way back of `transformer(to:context:)`.
    public static func transformer(from metric: String, context: PROJContext) throws -> CoordinateTransformer {
        try CoordinateTransformer(from: metric, to: geographicCRS(for: metric), context: context)
    }
}

/// Areas in m² of small lon/lat pieces (slivers, overlaps, gaps) that agree
/// with GEOS's planar topology: the planar area in square degrees scaled by
/// the WGS84 metres per degree at the piece's latitude. A geodesic area would
/// not: the geodesics of a long thin sliver's edges bow apart by centimetres,
/// so a sliver GEOS sees as nothing would measure square metres.
public enum LocalArea {
    public static func squareMetres(of geometry: Geometry) throws -> Double {
        let degrees = try geometry.area
        guard degrees > 0 else { return 0 }
        let e = try geometry.envelope
        let phi = (e.minY + e.maxY) / 2 * .pi / 180
        let a = 6_378_137.0, e2 = 0.00669437999014
        let w = (1 - e2 * sin(phi) * sin(phi)).squareRoot()
        let meridian = a * (1 - e2) / (w * w * w), primeVertical = a / w
        return degrees * (meridian * .pi / 180) * (primeVertical * cos(phi) * .pi / 180)
    }
}

/// Ellipsoidal (WGS84) areas and lengths by Karney's algorithm in PROJ's geodesic.h:
/// the independent reference for metric computations.
public enum Geodesic {
    /// Area in m² of a ring of lon/lat coordinates (absolute value).
    public static func ringArea(_ ring: [(x: Double, y: Double)]) -> Double {
        var geodesic = geod_geodesic()
        geod_init(&geodesic, 6378137, 1 / 298.257223563)
        var points = ring
        if let first = points.first, let last = points.last, first == last { points.removeLast() }
        var lats = points.map { $0.y }
        var lons = points.map { $0.x }
        var area = 0.0, perimeter = 0.0
        geod_polygonarea(&geodesic, &lats, &lons, Int32(points.count), &area, &perimeter)
        return abs(area)
    }

    /// Area in m² of a lon/lat Polygon or MultiPolygon: exteriors minus holes.
    public static func area(of geometry: Geometry) throws -> Double {
        var total = 0.0
        for polygon in try geometry.polygons() {
            for (index, ring) in try polygon.rings().enumerated() {
                let area = ringArea(try ring.coordinates())
                total += index == 0 ? area : -area
            }
        }
        return total
    }

    /// Length in metres of the linear parts of a lon/lat geometry (points and areas count 0).
    public static func length(of geometry: Geometry) throws -> Double {
        try geometry.lineStrings().reduce(0) { total, line in
            let points = try line.coordinates()
            return total + zip(points, points.dropFirst()).reduce(0) { $0 + distance(lon1: $1.0.x, lat1: $1.0.y, lon2: $1.1.x, lat2: $1.1.y) }
        }
    }

    /// Metres of border two lon/lat polygons share (0 when they only meet at points or not at all).
    public static func sharedBorderLength(_ a: Geometry, _ b: Geometry) throws -> Double {
        try length(of: try a.boundary().intersection(try b.boundary()))
    }

    /// Distance in metres between two lon/lat points.
    public static func distance(lon1: Double, lat1: Double, lon2: Double, lat2: Double) -> Double {
        var geodesic = geod_geodesic()
        geod_init(&geodesic, 6378137, 1 / 298.257223563)
        var distance = 0.0, azimuth1 = 0.0, azimuth2 = 0.0
        geod_inverse(&geodesic, lat1, lon1, lat2, lon2, &distance, &azimuth1, &azimuth2)
        return distance
    }
}
