import CGEOS

/// A GEOS STRtree over items identified by their index in `envelopes`.
/// The tree stores the index as its item pointer, so no Swift object has to
/// stay pinned for the tree's lifetime. Queries run on the owning thread only.
public final class STRtree {
    let context: GEOSContext
    let pointer: OpaquePointer
    /// The item envelopes as geometries; GEOS keeps references to them.
    private let envelopeGeometries: [Geometry]

    public init(envelopes: [Envelope], context: GEOSContext, nodeCapacity: Int = 10) throws {
        guard let tree = GEOSSTRtree_create_r(context.handle, nodeCapacity) else {
            throw context.takeError("STRtree create")
        }
        self.context = context
        pointer = tree
        var boxes: [Geometry] = []
        boxes.reserveCapacity(envelopes.count)
        do {
            for (index, envelope) in envelopes.enumerated() {
                let box = try Geometry.box(envelope, context: context)
                boxes.append(box)
                // Item pointers are index + 1 so that item 0 is not a null pointer.
                GEOSSTRtree_insert_r(context.handle, tree, box.pointer, UnsafeMutableRawPointer(bitPattern: index + 1))
            }
        } catch {
            GEOSSTRtree_destroy_r(context.handle, tree)
            throw error
        }
        envelopeGeometries = boxes
    }

    deinit {
        GEOSSTRtree_destroy_r(context.handle, pointer)
    }

    /// Indexes of the items whose envelope intersects `geometry`'s envelope, ascending.
    public func query(_ geometry: Geometry) -> [Int] {
        var hits: [Int] = []
        withUnsafeMutablePointer(to: &hits) { hitsPointer in
            GEOSSTRtree_query_r(context.handle, pointer, geometry.pointer, { item, userData in
                guard let item, let userData else { return }
                userData.assumingMemoryBound(to: [Int].self).pointee.append(Int(bitPattern: item) - 1)
            }, hitsPointer)
        }
        hits.sort()
        return hits
    }
}
