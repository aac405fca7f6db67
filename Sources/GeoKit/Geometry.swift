import CGEOS
import Localization

public enum GeometryType: Int32, Sendable {
    case point = 0, lineString, linearRing, polygon, multiPoint, multiLineString, multiPolygon, geometryCollection

    public var name: String {
        switch self {
        case .point: "Point"
        case .lineString: "LineString"
        case .linearRing: "LinearRing"
        case .polygon: "Polygon"
        case .multiPoint: "MultiPoint"
        case .multiLineString: "MultiLineString"
        case .multiPolygon: "MultiPolygon"
        case .geometryCollection: "GeometryCollection"
        }
    }
}

/// An axis-aligned bounding box.
public struct Envelope: Equatable, Sendable, Codable {
    public var minX: Double, minY: Double, maxX: Double, maxY: Double
    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
    }
    public var width: Double { maxX - minX }
    public var height: Double { maxY - minY }
    public func contains(x: Double, y: Double) -> Bool { x >= minX && x <= maxX && y >= minY && y <= maxY }
    public func expanded(by margin: Double) -> Envelope {
        Envelope(minX: minX - margin, minY: minY - margin, maxX: maxX + margin, maxY: maxY + margin)
    }
    public func union(_ other: Envelope) -> Envelope {
        Envelope(minX: Swift.min(minX, other.minX), minY: Swift.min(minY, other.minY),
                 maxX: Swift.max(maxX, other.maxX), maxY: Swift.max(maxY, other.maxY))
    }
}

/// The result of a validity check: `reason` and `location` are set when invalid.
public struct ValidityReport: Sendable, Equatable {
    public let isValid: Bool
    public let reason: String?
    public let location: (x: Double, y: Double)?
    public static func == (a: ValidityReport, b: ValidityReport) -> Bool {
        a.isValid == b.isValid && a.reason == b.reason && a.location?.x == b.location?.x && a.location?.y == b.location?.y
    }
}

/// A GEOS geometry owned by exactly this object and destroyed in `deinit`.
/// It keeps its context alive, and like the context it belongs to one thread.
public final class Geometry {
    public let context: GEOSContext
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer, context: GEOSContext) {
        self.pointer = pointer
        self.context = context
    }

    deinit {
        GEOSGeom_destroy_r(context.handle, pointer)
    }

    var handle: GEOSContextHandle_t { context.handle }

    // MARK: Construction

    public static func point(x: Double, y: Double, context: GEOSContext) throws -> Geometry {
        try context.owned("create point", GEOSGeom_createPointFromXY_r(context.handle, x, y))
    }

    public static func box(_ e: Envelope, context: GEOSContext) throws -> Geometry {
        try context.owned("create rectangle", GEOSGeom_createRectangle_r(context.handle, e.minX, e.minY, e.maxX, e.maxY))
    }

    /// A LineString or LinearRing from interleaved x, y coordinates.
    static func coordinateSequence(_ coordinates: [(Double, Double)], context: GEOSContext) throws -> OpaquePointer {
        var flat = [Double]()
        flat.reserveCapacity(coordinates.count * 2)
        for (x, y) in coordinates { flat.append(x); flat.append(y) }
        let sequence = flat.withUnsafeBufferPointer {
            GEOSCoordSeq_copyFromBuffer_r(context.handle, $0.baseAddress, UInt32(coordinates.count), 0, 0)
        }
        guard let sequence else { throw context.takeError("create coordinate sequence") }
        return sequence
    }

    public static func lineString(_ coordinates: [(Double, Double)], context: GEOSContext) throws -> Geometry {
        let sequence = try coordinateSequence(coordinates, context: context)
        // On success the line takes ownership of the sequence; on failure we still own it.
        guard let line = GEOSGeom_createLineString_r(context.handle, sequence) else {
            GEOSCoordSeq_destroy_r(context.handle, sequence)
            throw context.takeError("create line string")
        }
        return Geometry(owning: line, context: context)
    }

    /// A polygon from an exterior ring and holes, each ring closed (first == last).
    public static func polygon(_ rings: [[(Double, Double)]], context: GEOSContext) throws -> Geometry {
        guard let exteriorCoordinates = rings.first else { throw GeoError(tr("a polygon needs an exterior ring")) }
        func ring(_ coordinates: [(Double, Double)]) throws -> OpaquePointer {
            let sequence = try coordinateSequence(coordinates, context: context)
            guard let ring = GEOSGeom_createLinearRing_r(context.handle, sequence) else {
                GEOSCoordSeq_destroy_r(context.handle, sequence)
                throw context.takeError("create linear ring")
            }
            return ring
        }
        let exterior = try ring(exteriorCoordinates)
        var holes: [OpaquePointer?] = []
        do {
            for coordinates in rings.dropFirst() { holes.append(try ring(coordinates)) }
        } catch {
            GEOSGeom_destroy_r(context.handle, exterior)
            for hole in holes { GEOSGeom_destroy_r(context.handle, hole) }
            throw error
        }
        let polygon = holes.withUnsafeMutableBufferPointer {
            GEOSGeom_createPolygon_r(context.handle, exterior, $0.baseAddress, UInt32($0.count))
        }
        guard let polygon else {
            GEOSGeom_destroy_r(context.handle, exterior)
            for hole in holes { GEOSGeom_destroy_r(context.handle, hole) }
            throw context.takeError("create polygon")
        }
        return Geometry(owning: polygon, context: context)
    }

    /// A collection that takes copies of the parts (the parts stay usable).
    public static func collection(_ type: GeometryType, _ parts: [Geometry], context: GEOSContext) throws -> Geometry {
        var clones: [OpaquePointer?] = []
        for part in parts {
            guard let clone = GEOSGeom_clone_r(context.handle, part.pointer) else {
                for c in clones { GEOSGeom_destroy_r(context.handle, c) }
                throw context.takeError("clone geometry")
            }
            clones.append(clone)
        }
        let result = clones.withUnsafeMutableBufferPointer {
            GEOSGeom_createCollection_r(context.handle, type.rawValue, $0.baseAddress, UInt32($0.count))
        }
        guard let result else {
            for c in clones { GEOSGeom_destroy_r(context.handle, c) }
            throw context.takeError("create collection")
        }
        return Geometry(owning: result, context: context)
    }

    public func clone() throws -> Geometry {
        try context.owned("clone", GEOSGeom_clone_r(handle, pointer))
    }

    // MARK: Properties

    public var type: GeometryType {
        get throws {
            let id = GEOSGeomTypeId_r(handle, pointer)
            guard let type = GeometryType(rawValue: id) else { throw context.takeError("geometry type") }
            return type
        }
    }

    public var isEmpty: Bool {
        get throws { try context.predicate("isEmpty", GEOSisEmpty_r(handle, pointer)) }
    }

    public var area: Double {
        get throws {
            var value = 0.0
            try context.status("area", GEOSArea_r(handle, pointer, &value))
            return value
        }
    }

    public var length: Double {
        get throws {
            var value = 0.0
            try context.status("length", GEOSLength_r(handle, pointer, &value))
            return value
        }
    }

    public var numberOfGeometries: Int {
        get throws {
            let n = GEOSGetNumGeometries_r(handle, pointer)
            if n < 0 { throw context.takeError("number of geometries") }
            return Int(n)
        }
    }

    /// A copy of the n-th part of a collection (or of the geometry itself).
    public func geometry(at index: Int) throws -> Geometry {
        guard let part = GEOSGetGeometryN_r(handle, pointer, Int32(index)) else {
            throw context.takeError("geometry \(index)")
        }
        return try context.owned("clone part", GEOSGeom_clone_r(handle, part))
    }

    public var numberOfCoordinates: Int {
        get throws {
            let n = GEOSGetNumCoordinates_r(handle, pointer)
            if n < 0 { throw context.takeError("number of coordinates") }
            return Int(n)
        }
    }

    public var envelope: Envelope {
        get throws {
            var e = Envelope(minX: 0, minY: 0, maxX: 0, maxY: 0)
            try context.status("envelope", GEOSGeom_getExtent_r(handle, pointer, &e.minX, &e.minY, &e.maxX, &e.maxY))
            return e
        }
    }

    /// x and y of a Point.
    public var pointCoordinates: (x: Double, y: Double) {
        get throws {
            var x = 0.0, y = 0.0
            try context.status("point x", GEOSGeomGetX_r(handle, pointer, &x))
            try context.status("point y", GEOSGeomGetY_r(handle, pointer, &y))
            return (x, y)
        }
    }

    public var srid: Int32 {
        get { GEOSGetSRID_r(handle, pointer) }
    }

    public func setSRID(_ srid: Int32) { GEOSSetSRID_r(handle, pointer, srid) }

    // MARK: Validity

    public func validity() throws -> ValidityReport {
        var reason: UnsafeMutablePointer<CChar>?
        var location: OpaquePointer?
        let result = GEOSisValidDetail_r(handle, pointer, 0, &reason, &location)
        defer {
            if let reason { GEOSFree_r(handle, reason) }
            if let location { GEOSGeom_destroy_r(handle, location) }
        }
        switch result {
        case 1: return ValidityReport(isValid: true, reason: nil, location: nil)
        case 0:
            var where_: (Double, Double)?
            if let location {
                var x = 0.0, y = 0.0
                if GEOSGeomGetX_r(handle, location, &x) == 1, GEOSGeomGetY_r(handle, location, &y) == 1 { where_ = (x, y) }
            }
            return ValidityReport(isValid: false, reason: reason.map { String(cString: $0) }, location: where_)
        default:
            throw context.takeError("isValidDetail")
        }
    }

    /// `GEOSisValidReason_r`: "Valid Geometry" or the reason with its location.
    public func validityReason() throws -> String {
        try context.takeString("isValidReason", GEOSisValidReason_r(handle, pointer))
    }

    public func makeValid() throws -> Geometry {
        try context.owned("makeValid", GEOSMakeValid_r(handle, pointer))
    }

    // MARK: Operations

    public func intersection(_ other: Geometry) throws -> Geometry {
        try context.owned("intersection", GEOSIntersection_r(handle, pointer, other.pointer))
    }

    public func difference(_ other: Geometry) throws -> Geometry {
        try context.owned("difference", GEOSDifference_r(handle, pointer, other.pointer))
    }

    public func union(_ other: Geometry) throws -> Geometry {
        try context.owned("union", GEOSUnion_r(handle, pointer, other.pointer))
    }

    public func unaryUnion() throws -> Geometry {
        try context.owned("unaryUnion", GEOSUnaryUnion_r(handle, pointer))
    }

    public func buffer(_ width: Double, quadrantSegments: Int32 = 8) throws -> Geometry {
        try context.owned("buffer", GEOSBuffer_r(handle, pointer, width, quadrantSegments))
    }

    public func boundary() throws -> Geometry {
        try context.owned("boundary", GEOSBoundary_r(handle, pointer))
    }

    public func centroid() throws -> Geometry {
        try context.owned("centroid", GEOSGetCentroid_r(handle, pointer))
    }

    public func pointOnSurface() throws -> Geometry {
        try context.owned("pointOnSurface", GEOSPointOnSurface_r(handle, pointer))
    }

    public func normalized() throws -> Geometry {
        let copy = try clone()
        if GEOSNormalize_r(handle, copy.pointer) != 0 { throw context.takeError("normalize") }
        return copy
    }

    /// Voronoi edges or cells of this geometry's vertices, clipped to `envelope` if given.
    public func voronoiDiagram(envelope: Geometry? = nil, tolerance: Double = 0, onlyEdges: Bool = false) throws -> Geometry {
        try context.owned("voronoiDiagram", GEOSVoronoiDiagram_r(handle, pointer, envelope?.pointer, tolerance, onlyEdges ? 1 : 0))
    }

    /// Polygons formed by fully noded linework.
    public static func polygonize(_ lines: [Geometry], context: GEOSContext) throws -> Geometry {
        var pointers: [OpaquePointer?] = lines.map { $0.pointer }
        return try pointers.withUnsafeMutableBufferPointer { buffer in
            // GEOSPolygonize_r takes `const GEOSGeometry *const[]`.
            try buffer.baseAddress!.withMemoryRebound(to: OpaquePointer?.self, capacity: buffer.count) { base in
                try context.owned("polygonize", GEOSPolygonize_r(context.handle, base, UInt32(buffer.count)))
            }
        }
    }

    /// The faces of the planar partition that `lines` make once noded together
    /// (every crossing becomes a vertex of both lines), as polygons. Dangling
    /// ends and lines with the same face on both sides bound nothing and are dropped.
    /// Faces that share an edge share its vertices exactly, so they tile without slivers.
    public static func faces(of lines: [Geometry], context: GEOSContext) throws -> [Geometry] {
        let noded = try collection(.geometryCollection, lines, context: context).unaryUnion()
        return try polygonize([noded], context: context).polygons()
    }

    /// The pieces a line cuts this polygon or multipolygon into: the faces of
    /// its boundary noded with the line that lie inside it. A line that does
    /// not cross from edge to edge leaves one piece per polygon.
    public func split(by line: Geometry) throws -> [Geometry] {
        let prepared = try PreparedGeometry(self)
        return try Geometry.faces(of: [try boundary(), line], context: context).filter { face in
            try prepared.contains(try face.pointOnSurface())
        }
    }

    public func distance(to other: Geometry) throws -> Double {
        var value = 0.0
        try context.status("distance", GEOSDistance_r(handle, pointer, other.pointer, &value))
        return value
    }

    // MARK: Predicates

    public func contains(_ other: Geometry) throws -> Bool {
        try context.predicate("contains", GEOSContains_r(handle, pointer, other.pointer))
    }

    public func covers(_ other: Geometry) throws -> Bool {
        try context.predicate("covers", GEOSCovers_r(handle, pointer, other.pointer))
    }

    public func intersects(_ other: Geometry) throws -> Bool {
        try context.predicate("intersects", GEOSIntersects_r(handle, pointer, other.pointer))
    }

    public func overlaps(_ other: Geometry) throws -> Bool {
        try context.predicate("overlaps", GEOSOverlaps_r(handle, pointer, other.pointer))
    }

    /// Whether the DE-9IM matrix of this and `other` matches `pattern`
    /// (e.g. "2********": the interiors share an area).
    public func relate(_ other: Geometry, pattern: String) throws -> Bool {
        try context.predicate("relate \(pattern)", GEOSRelatePattern_r(handle, pointer, other.pointer, pattern))
    }

    public func touches(_ other: Geometry) throws -> Bool {
        try context.predicate("touches", GEOSTouches_r(handle, pointer, other.pointer))
    }

    /// Topological equality: the same point set, whatever the vertex order or start.
    public func equalsTopologically(_ other: Geometry) throws -> Bool {
        try context.predicate("equals", GEOSEquals_r(handle, pointer, other.pointer))
    }

    public func equalsExact(_ other: Geometry, tolerance: Double = 0) throws -> Bool {
        try context.predicate("equalsExact", GEOSEqualsExact_r(handle, pointer, other.pointer, tolerance))
    }

    // MARK: Coordinates

    /// Every coordinate of a LineString, LinearRing or Point as x, y pairs.
    public func coordinates() throws -> [(x: Double, y: Double)] {
        guard let sequence = GEOSGeom_getCoordSeq_r(handle, pointer) else { throw context.takeError("coordinate sequence") }
        var size: UInt32 = 0
        try context.status("coordinate sequence size", GEOSCoordSeq_getSize_r(handle, sequence, &size))
        var flat = [Double](repeating: 0, count: Int(size) * 2)
        try flat.withUnsafeMutableBufferPointer {
            try context.status("copy coordinates", GEOSCoordSeq_copyToBuffer_r(handle, sequence, $0.baseAddress, 0, 0))
        }
        return (0..<Int(size)).map { (flat[2 * $0], flat[2 * $0 + 1]) }
    }

    /// The rings of a Polygon: exterior first, then holes, each as a LinearRing.
    public func rings() throws -> [Geometry] {
        guard let exterior = GEOSGetExteriorRing_r(handle, pointer) else { throw context.takeError("exterior ring") }
        var result = [try context.owned("clone ring", GEOSGeom_clone_r(handle, exterior))]
        let holes = GEOSGetNumInteriorRings_r(handle, pointer)
        if holes < 0 { throw context.takeError("number of interior rings") }
        for i in 0..<holes {
            guard let hole = GEOSGetInteriorRingN_r(handle, pointer, i) else { throw context.takeError("interior ring \(i)") }
            result.append(try context.owned("clone ring", GEOSGeom_clone_r(handle, hole)))
        }
        return result
    }

    /// A new geometry with every coordinate passed through `transform`
    /// (used for reprojection; the structure is kept).
    public func mapCoordinates(_ transform: (inout [Double]) throws -> Void) throws -> Geometry {
        switch try type {
        case .point:
            let point = try pointCoordinates
            var xy = [point.x, point.y]
            try transform(&xy)
            return try Geometry.point(x: xy[0], y: xy[1], context: context)
        case .lineString, .linearRing:
            var flat = try coordinates().flatMap { [$0.x, $0.y] }
            try transform(&flat)
            let pairs = stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) }
            if try type == .linearRing {
                return try Geometry.polygon([pairs], context: context).rings()[0]
            }
            return try Geometry.lineString(pairs, context: context)
        case .polygon:
            var rings: [[(Double, Double)]] = []
            for ring in try self.rings() {
                var flat = try ring.coordinates().flatMap { [$0.x, $0.y] }
                try transform(&flat)
                rings.append(stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) })
            }
            return try Geometry.polygon(rings, context: context)
        case .multiPoint, .multiLineString, .multiPolygon, .geometryCollection:
            let parts = try (0..<numberOfGeometries).map { try geometry(at: $0).mapCoordinates(transform) }
            return try Geometry.collection(try type, parts, context: context)
        }
    }

    /// The polygons of a Polygon or MultiPolygon (or the polygonal parts of a collection).
    public func polygons() throws -> [Geometry] {
        switch try type {
        case .polygon: return [try clone()]
        case .multiPolygon, .geometryCollection:
            return try (0..<numberOfGeometries).flatMap { try geometry(at: $0).polygons() }
        default: return []
        }
    }

    /// The LineStrings of a linear geometry (or the linear parts of a collection).
    public func lineStrings() throws -> [Geometry] {
        switch try type {
        case .lineString, .linearRing: return [try clone()]
        case .multiLineString, .geometryCollection:
            return try (0..<numberOfGeometries).flatMap { try geometry(at: $0).lineStrings() }
        default: return []
        }
    }

    /// The geometry as a MultiPolygon: a Polygon is wrapped, non-polygonal parts dropped.
    public func asMultiPolygon() throws -> Geometry {
        if try type == .multiPolygon { return try clone() }
        return try Geometry.collection(.multiPolygon, try polygons(), context: context)
    }
}
