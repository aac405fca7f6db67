import CGEOS
import Foundation

// WKT, WKB and GeoJSON readers and writers. Each C reader or writer is owned
// by one of these small classes and destroyed in its deinit.

final class WKTReader {
    let context: GEOSContext
    let pointer: OpaquePointer
    init(context: GEOSContext) throws {
        guard let p = GEOSWKTReader_create_r(context.handle) else { throw context.takeError("WKT reader") }
        self.context = context; pointer = p
    }
    deinit { GEOSWKTReader_destroy_r(context.handle, pointer) }
}

final class WKTWriter {
    let context: GEOSContext
    let pointer: OpaquePointer
    init(context: GEOSContext, precision: Int32?) throws {
        guard let p = GEOSWKTWriter_create_r(context.handle) else { throw context.takeError("WKT writer") }
        self.context = context; pointer = p
        GEOSWKTWriter_setTrim_r(context.handle, p, 1)
        if let precision { GEOSWKTWriter_setRoundingPrecision_r(context.handle, p, precision) }
    }
    deinit { GEOSWKTWriter_destroy_r(context.handle, pointer) }
}

final class WKBReader {
    let context: GEOSContext
    let pointer: OpaquePointer
    init(context: GEOSContext) throws {
        guard let p = GEOSWKBReader_create_r(context.handle) else { throw context.takeError("WKB reader") }
        self.context = context; pointer = p
    }
    deinit { GEOSWKBReader_destroy_r(context.handle, pointer) }
}

final class WKBWriter {
    let context: GEOSContext
    let pointer: OpaquePointer
    init(context: GEOSContext, includeSRID: Bool) throws {
        guard let p = GEOSWKBWriter_create_r(context.handle) else { throw context.takeError("WKB writer") }
        self.context = context; pointer = p
        GEOSWKBWriter_setIncludeSRID_r(context.handle, p, includeSRID ? 1 : 0)
    }
    deinit { GEOSWKBWriter_destroy_r(context.handle, pointer) }
}

final class GeoJSONReader {
    let context: GEOSContext
    let pointer: OpaquePointer
    init(context: GEOSContext) throws {
        guard let p = GEOSGeoJSONReader_create_r(context.handle) else { throw context.takeError("GeoJSON reader") }
        self.context = context; pointer = p
    }
    deinit { GEOSGeoJSONReader_destroy_r(context.handle, pointer) }
}

final class GeoJSONWriter {
    let context: GEOSContext
    let pointer: OpaquePointer
    init(context: GEOSContext) throws {
        guard let p = GEOSGeoJSONWriter_create_r(context.handle) else { throw context.takeError("GeoJSON writer") }
        self.context = context; pointer = p
    }
    deinit { GEOSGeoJSONWriter_destroy_r(context.handle, pointer) }
}

extension Geometry {
    public convenience init(wkt: String, context: GEOSContext) throws {
        let reader = try WKTReader(context: context)
        guard let p = GEOSWKTReader_read_r(context.handle, reader.pointer, wkt) else {
            throw context.takeError("read WKT")
        }
        self.init(owning: p, context: context)
    }

    public convenience init(wkb: [UInt8], context: GEOSContext) throws {
        let reader = try WKBReader(context: context)
        let p = wkb.withUnsafeBufferPointer {
            GEOSWKBReader_read_r(context.handle, reader.pointer, $0.baseAddress, $0.count)
        }
        guard let p else { throw context.takeError("read WKB") }
        self.init(owning: p, context: context)
    }

    /// A GeoJSON geometry object (not a Feature) as text.
    public convenience init(geoJSON: String, context: GEOSContext) throws {
        let reader = try GeoJSONReader(context: context)
        guard let p = GEOSGeoJSONReader_readGeometry_r(context.handle, reader.pointer, geoJSON) else {
            throw context.takeError("read GeoJSON geometry")
        }
        self.init(owning: p, context: context)
    }

    /// WKT; `precision` rounds to that many decimals.
    public func wkt(precision: Int32? = nil) throws -> String {
        let writer = try WKTWriter(context: context, precision: precision)
        return try context.takeString("write WKT", GEOSWKTWriter_write_r(handle, writer.pointer, pointer))
    }

    /// ISO WKB (little endian, 2D); with `includeSRID` the EWKB form.
    public func wkb(includeSRID: Bool = false) throws -> [UInt8] {
        let writer = try WKBWriter(context: context, includeSRID: includeSRID)
        var size = 0
        guard let bytes = GEOSWKBWriter_write_r(handle, writer.pointer, pointer, &size) else {
            throw context.takeError("write WKB")
        }
        defer { GEOSFree_r(handle, bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: size))
    }

    /// The GeoJSON geometry object as compact text.
    public func geoJSON() throws -> String {
        let writer = try GeoJSONWriter(context: context)
        return try context.takeString("write GeoJSON", GEOSGeoJSONWriter_writeGeometry_r(handle, writer.pointer, pointer, -1))
    }
}
