import Foundation
import Localization

/// The coordinate system of incoming coordinates: any EPSG CRS that PROJ
/// knows, one of the Chinese systems PROJ does not know, or a CRS a file
/// describes without an EPSG code (a .prj's WKT, as PROJ reads it).
public enum CoordinateSystem: Hashable, Sendable, CustomStringConvertible {
    case epsg(Int)
    case gcj02
    case bd09
    /// A CRS definition PROJ accepts (WKT, PROJJSON or a PROJ string), named for messages.
    case definition(name: String, text: String)

    public static let wgs84 = CoordinateSystem.epsg(4326)

    /// Parses `EPSG:4326`, `4326`, `wgs84`, `cgcs2000`, `gcj02` / `GCJ-02`, `bd09` / `BD-09`.
    public init(parsing text: String) throws {
        let key = text.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "-", with: "")
        switch key {
        case "wgs84", "crs84": self = .epsg(4326)
        case "cgcs2000": self = .epsg(4490)
        case "gcj02", "gcj", "mars": self = .gcj02
        case "bd09", "bd09ll", "baidu": self = .bd09
        default:
            let digits = key.hasPrefix("epsg:") ? String(key.dropFirst(5)) : key
            guard let code = Int(digits), code > 0 else {
                throw GeoError(tr("unknown CRS '\(text)': use EPSG:<code>, gcj02 or bd09"))
            }
            self = .epsg(code)
        }
    }

    public var description: String {
        switch self {
        case .epsg(let code): "EPSG:\(code)"
        case .gcj02: "gcj02"
        case .bd09: "bd09"
        case .definition(let name, _): name
        }
    }

    /// Whether x, y are longitude and latitude in degrees on (nearly) the WGS84 datum.
    public var isGeographicWGS84Like: Bool {
        switch self {
        case .epsg(4326), .epsg(4490), .gcj02, .bd09: true
        default: false
        }
    }
}

/// Converts coordinates from one input CoordinateSystem to WGS84 lon/lat,
/// checking that they lie in the CRS's valid range. Owns a PROJ transformer
/// when one is needed, so like PROJ it belongs to one thread.
public final class WGS84Converter {
    public let source: CoordinateSystem
    private let transformer: CoordinateTransformer?
    /// The transformer's, kept as plain values for the per-point path.
    private let isIdentity: Bool
    private let usableArea: LonLatBox?

    public convenience init(from source: CoordinateSystem, context: PROJContext) throws {
        let transformer: CoordinateTransformer?
        switch source {
        case .epsg(4326), .gcj02, .bd09:
            transformer = nil
        case .epsg(let code):
            if let reason = context.notTwoDimensionalReason("EPSG:\(code)") {
                throw GeoError(tr("\(reason); give a geographic or projected 2D CRS, e.g. EPSG:4326 (lon, lat) or EPSG:4547 (CGCS2000 / 3-degree Gauss-Krüger CM 114E)"))
            }
            transformer = try CoordinateTransformer(from: "EPSG:\(code)", to: "EPSG:4326", context: context)
        case .definition(_, let text):
            // The reason names the CRS as PROJ reads it.
            if let reason = context.notTwoDimensionalReason(text, label: "the file's CRS") {
                throw GeoError(tr("\(reason); give a geographic or projected 2D CRS with --crs"))
            }
            transformer = try CoordinateTransformer(from: text, to: "EPSG:4326", context: context)
        }
        self.init(source: source, transformer: transformer)
    }

    private init(source: CoordinateSystem, transformer: CoordinateTransformer?) {
        self.source = source
        self.transformer = transformer
        isIdentity = transformer?.isIdentity ?? false
        usableArea = transformer?.sourceAreaOfUse?.box(margin: Self.areaOfUseMargin)
    }

    /// The same converter in another PROJ context, for another thread (see
    /// `CoordinateTransformer.copy`): a fraction of a millisecond, where building
    /// one searches PROJ's database. This one must not be in use meanwhile.
    public func copy(in context: PROJContext) throws -> WGS84Converter {
        WGS84Converter(source: source, transformer: try transformer?.copy(in: context))
    }

    /// The WGS84 lon/lat of (x, y) given in the source system, or an error
    /// that says which value is out of range.
    public func toWGS84(x: Double, y: Double) throws -> (lon: Double, lat: Double) {
        guard x.isFinite, y.isFinite else { throw GeoError(tr("coordinate is not a finite number")) }
        switch source {
        case .epsg(4326):
            try Self.checkLonLat(x, y, crs: source)
            return (x, y)
        case .gcj02:
            try Self.checkLonLat(x, y, crs: source)
            return ChineseCoordinates.gcj02ToWGS84(lon: x, lat: y)
        case .bd09:
            try Self.checkLonLat(x, y, crs: source)
            return ChineseCoordinates.bd09ToWGS84(lon: x, lat: y)
        case .epsg, .definition:
            if source.isGeographicWGS84Like { try Self.checkLonLat(x, y, crs: source) }
            let out = isIdentity ? (x: x, y: y) : try transformed(x, y)
            try Self.checkLonLat(out.x, out.y, crs: source)
            if let usableArea, !usableArea.contains(lon: out.x, lat: out.y) { throw outsideAreaOfUse(x, y, out) }
            return (out.x, out.y)
        }
    }

    private func transformed(_ x: Double, _ y: Double) throws -> (x: Double, y: Double) {
        guard let transformer else { throw GeoError(tr("no transformer for \(source)")) }
        do {
            return try transformer.transform(x: x, y: y)
        } catch let error as GeoError {
            throw GeoError(tr("(\(x), \(y)) is outside the valid range of \(source): \(error.text)"))
        }
    }

    private func outsideAreaOfUse(_ x: Double, _ y: Double, _ out: (x: Double, y: Double)) -> GeoError {
        guard let area = transformer?.sourceAreaOfUse else { return GeoError(tr("no transformer for \(source)")) }
        let point = String(format: "(%.3f, %.3f)", x, y), lonLat = String(format: "lon %.5f, lat %.5f", out.x, out.y)
        let bounds = String(format: "lon %.2f…%.2f, lat %.2f…%.2f", area.west, area.east, area.south, area.north)
        return GeoError(tr("\(point) in \(source.description) falls at \(lonLat), outside the CRS's area of use (\(area.name): \(bounds))"))
    }

    /// How far beyond its CRS's area of use a point may fall, in degrees. A
    /// county that straddles the edge of a Gauss-Krüger zone keeps its data in
    /// one zone: 沅江市 spans 112.2–112.95°E, across 112.5°E between the zones of
    /// 111°E (EPSG:4546) and 114°E (EPSG:4547), so either puts part of the county
    /// outside its nominal 3° strip, where the projection still holds (scale error
    /// under 0.1% for a 3° zone within 1° beyond). The check is for a wrong CRS, a zone number
    /// left in the eastings, or x and y swapped: those put points many degrees away.
    static let areaOfUseMargin = 1.0

    static func checkLonLat(_ lon: Double, _ lat: Double, crs: CoordinateSystem) throws {
        guard (-180...180).contains(lon) else { throw GeoError(tr("longitude \(lon) is outside -180…180 (\(crs))")) }
        guard (-90...90).contains(lat) else { throw GeoError(tr("latitude \(lat) is outside -90…90 (\(crs))")) }
    }
}

/// WGS84 converters kept for reuse: building one (a PROJ context and its
/// transformation) takes 30–50 ms, converting a point microseconds. PROJ
/// objects must not be used by two threads at once, so a converter is lent
/// to one caller at a time; a caller who finds none free builds another,
/// which is kept on its return (at most `kept` in all).
public final class WGS84ConverterCache: @unchecked Sendable {
    /// The one the server's handlers share.
    public static let shared = WGS84ConverterCache()

    private let lock = NSLock()
    private var free: [CoordinateSystem: [WGS84Converter]] = [:]
    /// One converter per CRS that is never lent, only copied (under the lock).
    private var prototypes: [CoordinateSystem: WGS84Converter] = [:]
    private var freeCount = 0
    private var builtCount = 0
    /// Converters kept free at most (each holds a PROJ context with an open proj.db).
    public let kept: Int

    public init(kept: Int = 64) { self.kept = kept }

    /// How many converters have been built or copied: one per CRS and concurrent caller, not one per call.
    public var built: Int { lock.withLock { builtCount } }

    /// Runs `body` with a converter from `crs` that no other thread uses meanwhile.
    public func withConverter<T>(from crs: CoordinateSystem, _ body: (WGS84Converter) throws -> T) throws -> T {
        let converter = try borrow(crs)
        defer { giveBack(converter) }
        return try body(converter)
    }

    /// A converter from `crs` for the caller to keep (a thread's for a whole batch): a free
    /// one, or a copy of the CRS's prototype.
    public func converter(from crs: CoordinateSystem) throws -> WGS84Converter { try borrow(crs) }

    private func borrow(_ crs: CoordinateSystem) throws -> WGS84Converter {
        let reused: WGS84Converter? = lock.withLock {
            guard let converter = free[crs]?.popLast() else { return nil }
            freeCount -= 1
            return converter
        }
        if let reused { return reused }
        if let prototype = lock.withLock({ prototypes[crs] }) {
            let context = try PROJContext()
            return try lock.withLock {
                builtCount += 1
                return try prototype.copy(in: context)
            }
        }
        // Built outside the lock (PROJ's search takes up to a tenth of a second) and kept as the
        // CRS's prototype while fewer than `keptPrototypes` are: each holds a PROJ context with
        // proj.db open, and a client naming a thousand CRSs must not hold a thousand files open.
        let built = try WGS84Converter(from: crs, context: try PROJContext())
        let isPrototype = lock.withLock { () -> Bool in
            builtCount += 1
            guard prototypes[crs] == nil, prototypes.count < Self.keptPrototypes else { return false }
            prototypes[crs] = built
            return true
        }
        guard isPrototype else { return built }
        let context = try PROJContext()
        return try lock.withLock { try built.copy(in: context) }
    }

    /// Prototypes kept at most: the CRSs a county's clients use are a handful.
    public static let keptPrototypes = 16

    /// How many prototypes are kept.
    public var prototypeCount: Int { lock.withLock { prototypes.count } }

    private func giveBack(_ converter: WGS84Converter) {
        lock.withLock {
            guard freeCount < kept else { return }
            free[converter.source, default: []].append(converter)
            freeCount += 1
        }
    }
}
