import CGEOS

/// A prepared geometry for repeated predicates. It owns the GEOS prepared
/// object and keeps the base geometry alive, since GEOS references it.
/// Not thread-safe (GEOS builds its indexes lazily): one per thread.
public final class PreparedGeometry {
    public let base: Geometry
    let pointer: OpaquePointer

    public init(_ base: Geometry) throws {
        guard let p = GEOSPrepare_r(base.context.handle, base.pointer) else {
            throw base.context.takeError("prepare")
        }
        self.base = base
        pointer = p
    }

    deinit {
        GEOSPreparedGeom_destroy_r(base.context.handle, pointer)
    }

    private var context: GEOSContext { base.context }

    public func contains(_ other: Geometry) throws -> Bool {
        try context.predicate("prepared contains", GEOSPreparedContains_r(context.handle, pointer, other.pointer))
    }

    public func covers(_ other: Geometry) throws -> Bool {
        try context.predicate("prepared covers", GEOSPreparedCovers_r(context.handle, pointer, other.pointer))
    }

    public func intersects(_ other: Geometry) throws -> Bool {
        try context.predicate("prepared intersects", GEOSPreparedIntersects_r(context.handle, pointer, other.pointer))
    }

    public func isWithinDistance(_ other: Geometry, _ distance: Double) throws -> Bool {
        try context.predicate("prepared distance within",
                              GEOSPreparedDistanceWithin_r(context.handle, pointer, other.pointer, distance))
    }

    public func distance(to other: Geometry) throws -> Double {
        var value = 0.0
        try context.status("prepared distance", GEOSPreparedDistance_r(context.handle, pointer, other.pointer, &value))
        return value
    }
}
