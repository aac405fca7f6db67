import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// An encoded Mapbox Vector Tile of one area collection, and the tag that names its content.
public struct EncodedTile: Sendable {
    /// The Tile message; empty when no area meets the tile.
    public let bytes: [UInt8]
    /// Changes with the generation, its revision (a draft's edits), the collection and the tile.
    public let etag: String
}

/// One area of a tile layer: a small integer id (its place in code order,
/// from 1), the properties a tile carries, and its shape in Web Mercator metres.
struct TileArea: Sendable {
    let id: UInt64
    let properties: [(String, String)]
    let mercatorWKB: [UInt8]
}

/// The areas of one collection in one generation's revision, with STRtree
/// indexes over them: GEOS objects belong to one thread at a time, so each
/// thread that draws tiles borrows an index of its own from the pool. At most
/// one index a core: each holds every area's geometry (a province's grids: tens
/// of MB), and more threads than cores would not draw faster.
final class TileLayerSource: Sendable {
    let areas: [TileArea]
    private let indexes = ObjectPool<TileLayerIndex>()
    private let slots = DispatchSemaphore(value: max(1, ProcessInfo.processInfo.activeProcessorCount))

    init(areas: [(code: String, properties: [(String, String)], wkb: [UInt8])]) throws {
        let context = try GEOSContext()
        self.areas = try areas.enumerated().map { index, area in
            let mercator = try WebMercator.project(try Geometry(wkb: area.wkb, context: context))
            return TileArea(id: UInt64(index + 1), properties: [("code", area.code)] + area.properties, mercatorWKB: try mercator.wkb())
        }
    }

    /// Runs `body` with an index of its own; waits while every core's index is in use.
    func withIndex<T>(_ body: (TileLayerIndex) throws -> T) throws -> T {
        slots.wait()
        defer { slots.signal() }
        let index = try indexes.take() ?? TileLayerIndex(areas)
        defer { indexes.give(index) }
        return try body(index)
    }
}

/// A GEOS context, the areas' geometries in it, and an STRtree over their envelopes.
final class TileLayerIndex {
    let context: GEOSContext
    let geometries: [Geometry]
    let tree: STRtree

    init(_ areas: [TileArea]) throws {
        context = try GEOSContext()
        let context = context
        geometries = try areas.map { try Geometry(wkb: $0.mercatorWKB, context: context) }
        tree = try STRtree(envelopes: try geometries.map { try $0.envelope }, context: context)
    }

    /// Indexes of the areas whose envelope meets `envelope`, ascending.
    func candidates(_ envelope: Envelope) throws -> [Int] {
        tree.query(try Geometry.box(envelope, context: context))
    }
}

/// Encoded tiles, least recently used first out once their bytes pass `budget`.
final class TileByteCache: @unchecked Sendable {
    struct Key: Hashable {
        let generation: Int64, revision: Int, collection: String, address: TileAddress
    }
    private let lock = NSLock()
    private var entries: [Key: (bytes: [UInt8], used: UInt64)] = [:]
    private var clock: UInt64 = 0
    private var total = 0
    let budget: Int

    init(budget: Int) { self.budget = budget }

    func bytes(_ key: Key) -> [UInt8]? {
        lock.withLock {
            guard let entry = entries[key] else { return nil }
            clock += 1
            entries[key] = (entry.bytes, clock)
            return entry.bytes
        }
    }

    func store(_ bytes: [UInt8], for key: Key) {
        lock.withLock {
            clock += 1
            if let old = entries.updateValue((bytes, clock), forKey: key) { total -= old.bytes.count }
            // Each entry also costs its key and bookkeeping: an empty tile is not free.
            total += bytes.count + 64
            guard total > budget else { return }
            // Down to three quarters at once: one sort pays for many insertions.
            for (key, entry) in entries.sorted(by: { $0.value.used < $1.value.used }) {
                guard total > budget * 3 / 4 else { break }
                entries[key] = nil
                total -= entry.bytes.count + 64
            }
        }
    }

    var count: Int { lock.withLock { entries.count } }
}

/// The vector tiles the server draws: sources per generation revision and
/// collection, built on first use, and the encoded tiles.
public final class VectorTiles: @unchecked Sendable {
    struct SourceKey: Hashable { let generation: Int64, revision: Int, collection: String }
    private let lock = NSLock()
    private var sources: [SourceKey: TileLayerSource] = [:]
    /// Three collections of the active generation and of a draft being planned.
    static let sourcesKept = 6
    let cache: TileByteCache

    /// `cacheBytes`: how many bytes of encoded tiles are kept (64 MiB: a province's tiles of a few zoom levels).
    public init(cacheBytes: Int = 64 << 20) {
        cache = TileByteCache(budget: cacheBytes)
    }

    /// The collections that have tiles: the areas.
    public static let collections: [Collection] = Collection.allCases.filter(\.isPolygon)

    /// Encoded tiles kept, for tests and the benchmark.
    public var cachedTiles: Int { cache.count }

    func source(_ key: SourceKey, build: () throws -> TileLayerSource) throws -> TileLayerSource {
        if let source = lock.withLock({ sources[key] }) { return source }
        let fresh = try build()
        return lock.withLock {
            if let source = sources[key] { return source }
            if sources.count >= Self.sourcesKept { sources.removeAll() }
            sources[key] = fresh
            return fresh
        }
    }
}

extension GridService {
    /// The ETag of a tile in a generation (nil: the active one) without drawing it.
    public func tileETag(_ collection: Collection, at address: TileAddress, generation: Int64?) throws -> String {
        let loaded = try loaded(generation: try checkedGeneration(generation))
        return Self.tileETag(collection, address, loaded)
    }

    static func tileETag(_ collection: Collection, _ address: TileAddress, _ loaded: LoadedGeneration) -> String {
        "\"\(loaded.generation).\(loaded.revision)-\(collection.rawValue)-\(address.zoom)-\(address.column)-\(address.row)\""
    }

    /// One Mapbox Vector Tile of an area collection (grids, villages or towns) in a
    /// generation (nil: the active one): one layer named after the collection, each
    /// area clipped to the tile and its buffer and simplified to a pixel. No personal
    /// data: codes, names and the codes of the areas above.
    public func vectorTile(_ collection: Collection, at address: TileAddress, generation: Int64?) throws -> EncodedTile {
        guard collection.isPolygon else {
            throw WanggeError.notFound(tr("no tiles for \(collection.rawValue): the collections with tiles are \(VectorTiles.collections.map(\.rawValue).joined(separator: ", "))"))
        }
        let loaded = try loaded(generation: try checkedGeneration(generation))
        let etag = Self.tileETag(collection, address, loaded)
        let key = TileByteCache.Key(generation: loaded.generation, revision: loaded.revision, collection: collection.rawValue, address: address)
        if let bytes = vectorTiles.cache.bytes(key) { return EncodedTile(bytes: bytes, etag: etag) }
        let source = try vectorTiles.source(.init(generation: loaded.generation, revision: loaded.revision, collection: collection.rawValue)) {
            try translatingErrors { try TileLayerSource(areas: try tileAreas(collection, generation: loaded.generation)) }
        }
        var encoder = VectorTileEncoder(address: address)
        try source.withIndex { index in
            let features = try index.candidates(encoder.clipEnvelope).map { i in
                (id: source.areas[i].id, geometry: index.geometries[i], properties: source.areas[i].properties)
            }
            try encoder.addPolygonLayer(name: collection.rawValue, features: features)
        }
        let bytes = encoder.bytes
        vectorTiles.cache.store(bytes, for: key)
        return EncodedTile(bytes: bytes, etag: etag)
    }

    /// The areas of a collection with the properties their tiles carry besides the code.
    func tileAreas(_ collection: Collection, generation: Int64) throws -> [(code: String, properties: [(String, String)], wkb: [UInt8])] {
        let grids = try store.grids(generation: generation)
        switch collection {
        case .grids:
            let info = Dictionary(grids.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
            return try store.gridShapes(generation: generation).sorted { $0.code < $1.code }.map { shape in
                let grid = info[shape.code]
                return (shape.code, [("name", grid?.name ?? ""), ("village_code", grid?.villageCode ?? ""), ("town_code", grid?.townCode ?? "")], shape.wkb)
            }
        case .villages:
            let towns = Dictionary(grids.map { ($0.villageCode, $0.townCode) }, uniquingKeysWith: { a, _ in a })
            return try store.areaShapes(.village, generation: generation).map { area in
                (area.code, [("name", area.name), ("town_code", towns[area.code] ?? "")], area.wkb)
            }
        default:
            return try store.areaShapes(.town, generation: generation).map { area in (area.code, [("name", area.name)], area.wkb) }
        }
    }
}
