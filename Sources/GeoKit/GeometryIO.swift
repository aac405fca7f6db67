import CGEOS
import Foundation

// WKT, WKB and GeoJSON readers and writers: each C object is owned by one
// `GEOSCodec` and destroyed in its deinit.

final class GEOSCodec {
    let context: GEOSContext
    let pointer: OpaquePointer
    private let destroy: (GEOSContextHandle_t, OpaquePointer) -> Void

    init(_ what: String, context: GEOSContext, create: (GEOSContextHandle_t) -> OpaquePointer?,
         destroy: @escaping (GEOSContextHandle_t, OpaquePointer) -> Void) throws {
        guard let p = create(context.handle) else { throw context.takeError(what) }
        self.context = context
        pointer = p
        self.destroy = destroy
    }

    deinit { destroy(context.handle, pointer) }

    static func wktReader(_ c: GEOSContext) throws -> GEOSCodec {
        try GEOSCodec("WKT reader", context: c, create: GEOSWKTReader_create_r, destroy: GEOSWKTReader_destroy_r)
    }

    static func wktWriter(_ c: GEOSContext, precision: Int32?) throws -> GEOSCodec {
        let writer = try GEOSCodec("WKT writer", context: c, create: GEOSWKTWriter_create_r, destroy: GEOSWKTWriter_destroy_r)
        GEOSWKTWriter_setTrim_r(c.handle, writer.pointer, 1)
        if let precision { GEOSWKTWriter_setRoundingPrecision_r(c.handle, writer.pointer, precision) }
        return writer
    }

    static func wkbReader(_ c: GEOSContext) throws -> GEOSCodec {
        try GEOSCodec("WKB reader", context: c, create: GEOSWKBReader_create_r, destroy: GEOSWKBReader_destroy_r)
    }

    static func wkbWriter(_ c: GEOSContext, includeSRID: Bool) throws -> GEOSCodec {
        let writer = try GEOSCodec("WKB writer", context: c, create: GEOSWKBWriter_create_r, destroy: GEOSWKBWriter_destroy_r)
        GEOSWKBWriter_setIncludeSRID_r(c.handle, writer.pointer, includeSRID ? 1 : 0)
        return writer
    }

    static func geoJSONReader(_ c: GEOSContext) throws -> GEOSCodec {
        try GEOSCodec("GeoJSON reader", context: c, create: GEOSGeoJSONReader_create_r, destroy: GEOSGeoJSONReader_destroy_r)
    }

    static func geoJSONWriter(_ c: GEOSContext) throws -> GEOSCodec {
        try GEOSCodec("GeoJSON writer", context: c, create: GEOSGeoJSONWriter_create_r, destroy: GEOSGeoJSONWriter_destroy_r)
    }
}

extension Geometry {
    public convenience init(wkt: String, context: GEOSContext) throws {
        let reader = try GEOSCodec.wktReader(context)
        guard let p = GEOSWKTReader_read_r(context.handle, reader.pointer, wkt) else {
            throw context.takeError("read WKT")
        }
        self.init(owning: p, context: context)
    }

    public convenience init(wkb: [UInt8], context: GEOSContext) throws {
        let reader = try GEOSCodec.wkbReader(context)
        let p = wkb.withUnsafeBufferPointer {
            GEOSWKBReader_read_r(context.handle, reader.pointer, $0.baseAddress, $0.count)
        }
        guard let p else { throw context.takeError("read WKB") }
        self.init(owning: p, context: context)
    }

    /// A GeoJSON geometry object (not a Feature) as text.
    public convenience init(geoJSON: String, context: GEOSContext) throws {
        let reader = try GEOSCodec.geoJSONReader(context)
        guard let p = GEOSGeoJSONReader_readGeometry_r(context.handle, reader.pointer, geoJSON) else {
            throw context.takeError("read GeoJSON geometry")
        }
        self.init(owning: p, context: context)
    }

    /// WKT; `precision` rounds to that many decimals.
    public func wkt(precision: Int32? = nil) throws -> String {
        let writer = try GEOSCodec.wktWriter(context, precision: precision)
        return try context.takeString("write WKT", GEOSWKTWriter_write_r(handle, writer.pointer, pointer))
    }

    /// ISO WKB (little endian, 2D); with `includeSRID` the EWKB form.
    public func wkb(includeSRID: Bool = false) throws -> [UInt8] {
        let writer = try GEOSCodec.wkbWriter(context, includeSRID: includeSRID)
        var size = 0
        guard let bytes = GEOSWKBWriter_write_r(handle, writer.pointer, pointer, &size) else {
            throw context.takeError("write WKB")
        }
        defer { GEOSFree_r(handle, bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: size))
    }

    /// The GeoJSON geometry object as compact text.
    public func geoJSON() throws -> String {
        let writer = try GEOSCodec.geoJSONWriter(context)
        return try context.takeString("write GeoJSON", GEOSGeoJSONWriter_writeGeometry_r(handle, writer.pointer, pointer, -1))
    }
}
