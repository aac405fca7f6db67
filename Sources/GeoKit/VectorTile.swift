import CGEOS
import Foundation
import Localization

/// Spherical Web Mercator (EPSG:3857) by its closed formula, and the tiles of
/// the OGC WebMercatorQuad tile matrix set (Google / OSM XYZ numbering: row 0 at the north).
public enum WebMercator {
    /// Half the width of the world in metres (π · 6 378 137).
    public static let halfWorld = 20_037_508.342789244
    /// The latitude where the square world ends.
    public static let maxLatitude = 85.051128779806592
    public static let maxZoom = 20

    /// Metres east and north of lon/lat degrees; latitudes beyond ±85.05° are clamped.
    public static func project(lon: Double, lat: Double) -> (x: Double, y: Double) {
        let radius = 6_378_137.0
        let clamped = min(max(lat, -maxLatitude), maxLatitude)
        return (lon * .pi / 180 * radius, log(tan(.pi / 4 + clamped * .pi / 360)) * radius)
    }

    /// A geometry in lon/lat degrees, in Web Mercator metres (same structure).
    public static func project(_ geometry: Geometry) throws -> Geometry {
        try geometry.mapCoordinates { flat in
            for i in stride(from: 0, to: flat.count - 1, by: 2) {
                (flat[i], flat[i + 1]) = project(lon: flat[i], lat: flat[i + 1])
            }
        }
    }
}

/// One tile of WebMercatorQuad: zoom (tile matrix), column (x) and row (y, from the north).
public struct TileAddress: Hashable, Sendable, CustomStringConvertible {
    public let zoom: Int, column: Int, row: Int
    public init(zoom: Int, column: Int, row: Int) {
        self.zoom = zoom
        self.column = column
        self.row = row
    }

    public var description: String { "\(zoom)/\(column)/\(row)" }

    /// Tiles per side at this zoom.
    public static func matrixSize(_ zoom: Int) -> Int { 1 << zoom }

    /// The tile's square in Web Mercator metres.
    public var envelope: Envelope {
        let size = 2 * WebMercator.halfWorld / Double(Self.matrixSize(zoom))
        let minX = -WebMercator.halfWorld + Double(column) * size
        let maxY = WebMercator.halfWorld - Double(row) * size
        return Envelope(minX: minX, minY: maxY - size, maxX: minX + size, maxY: maxY)
    }

    /// The tiles at `zoom` that an envelope in Web Mercator metres meets.
    public static func covering(_ envelope: Envelope, zoom: Int) -> [TileAddress] {
        let range = columnsAndRows(covering: envelope, zoom: zoom)
        return range.rows.flatMap { row in range.columns.map { TileAddress(zoom: zoom, column: $0, row: row) } }
    }

    /// The column and row ranges at `zoom` that an envelope in Web Mercator metres meets.
    public static func columnsAndRows(covering envelope: Envelope, zoom: Int) -> (columns: ClosedRange<Int>, rows: ClosedRange<Int>) {
        let n = matrixSize(zoom)
        let size = 2 * WebMercator.halfWorld / Double(n)
        func index(_ metres: Double) -> Int { min(max(Int(floor(metres / size)), 0), n - 1) }
        let columns = index(envelope.minX + WebMercator.halfWorld)...index(envelope.maxX + WebMercator.halfWorld)
        let rows = index(WebMercator.halfWorld - envelope.maxY)...index(WebMercator.halfWorld - envelope.minY)
        return (columns, rows)
    }
}

extension Geometry {
    /// The part of this geometry inside an axis-aligned rectangle (`GEOSClipByRect_r`):
    /// faster than an intersection, and the result may be a collection or empty.
    public func clipped(to rectangle: Envelope) throws -> Geometry {
        try context.owned("clip by rectangle", GEOSClipByRect_r(handle, pointer, rectangle.minX, rectangle.minY, rectangle.maxX, rectangle.maxY))
    }

    /// Douglas-Peucker simplification that keeps rings simple and holes inside
    /// (`GEOSTopologyPreserveSimplify_r`); `tolerance` in the geometry's units.
    public func simplifiedPreservingTopology(tolerance: Double) throws -> Geometry {
        try context.owned("simplify", GEOSTopologyPreserveSimplify_r(handle, pointer, tolerance))
    }
}

/// Mapbox Vector Tile 2.1 encoding of polygon layers. The protobuf messages
/// (vector_tile.proto: Tile, Layer, Feature, Value) are written by hand: the
/// writer needs only varints and length-delimited fields, and a generated
/// SwiftProtobuf model would add a runtime library and a plugin build for that.
public struct VectorTileEncoder {
    /// Tile coordinates per side (the MVT default).
    public static let extent = 4096
    /// Units beyond each edge that geometry is kept, so that strokes of neighbouring tiles join.
    public static let buffer = 64

    public let address: TileAddress
    private var layers: [[UInt8]] = []

    public init(address: TileAddress) { self.address = address }

    /// Whether no layer has a feature.
    public var isEmpty: Bool { layers.isEmpty }

    /// The encoded Tile message.
    public var bytes: [UInt8] { layers.flatMap { $0 } }

    /// The envelope, in Web Mercator metres, that features are clipped to: the tile and its buffer.
    public var clipEnvelope: Envelope {
        let tile = address.envelope
        return tile.expanded(by: tile.width * Double(Self.buffer) / Double(Self.extent))
    }

    /// The simplification tolerance in metres: one pixel of the tile drawn 256 pixels wide.
    public var simplifyTolerance: Double { address.envelope.width / 256 }

    /// Adds a layer of polygon features (geometry in Web Mercator metres) clipped, simplified
    /// and quantised to this tile. Features that vanish at this zoom are left out; an empty layer is not written.
    /// Returns the number of features written.
    @discardableResult
    public mutating func addPolygonLayer(name: String, features: [(id: UInt64, geometry: Geometry, properties: [(String, String)])]) throws -> Int {
        var layer = ProtobufWriter()
        var keys: [String: Int] = [:], values: [String: Int] = [:]
        var keyList: [String] = [], valueList: [String] = []
        var written = 0
        let clip = clipEnvelope, tolerance = simplifyTolerance
        for feature in features {
            let clipped = try feature.geometry.clipped(to: clip)
            if try clipped.isEmpty { continue }
            let simplified = try clipped.simplifiedPreservingTopology(tolerance: tolerance)
            let commands = try polygonCommands(simplified)
            if commands.isEmpty { continue }
            var tags: [UInt32] = []
            for (key, value) in feature.properties {
                let k = keys[key] ?? { keyList.append(key); keys[key] = keyList.count - 1; return keyList.count - 1 }()
                let v = values[value] ?? { valueList.append(value); values[value] = valueList.count - 1; return valueList.count - 1 }()
                tags += [UInt32(k), UInt32(v)]
            }
            var message = ProtobufWriter()
            message.varintField(1, feature.id)
            message.packedField(2, tags)
            message.varintField(3, 3)  // GeomType POLYGON
            message.packedField(4, commands)
            layer.bytesField(2, message.bytes)
            written += 1
        }
        guard written > 0 else { return 0 }
        var header = ProtobufWriter()
        header.varintField(15, 2)  // version 2 of the specification
        header.stringField(1, name)
        var body = header.bytes + layer.bytes
        var tail = ProtobufWriter()
        for key in keyList { tail.stringField(3, key) }
        for value in valueList {
            var message = ProtobufWriter()
            message.stringField(1, value)
            tail.bytesField(4, message.bytes)
        }
        tail.varintField(5, UInt64(Self.extent))
        body += tail.bytes
        var tile = ProtobufWriter()
        tile.bytesField(3, body)
        layers.append(tile.bytes)
        return written
    }

    /// Tile coordinates of a point in Web Mercator metres: x right, y down, 0…4096 over the tile.
    public func tileCoordinates(x: Double, y: Double) -> (x: Int, y: Int) {
        let tile = address.envelope
        let scale = Double(Self.extent) / tile.width
        return (Int(((x - tile.minX) * scale).rounded()), Int(((tile.maxY - y) * scale).rounded()))
    }

    /// The MVT command stream of the polygons in `geometry`: each polygon's exterior
    /// with a positive surveyor's area in tile coordinates (clockwise on screen), its holes
    /// negative; rings that quantise to fewer than three points or no area dropped, and
    /// a polygon whose exterior is dropped dropped whole.
    func polygonCommands(_ geometry: Geometry) throws -> [UInt32] {
        var commands: [UInt32] = []
        var cursor = (x: 0, y: 0)
        for polygon in try geometry.polygons() {
            for (index, ring) in try polygon.rings().enumerated() {
                var points = try quantised(ring)
                guard points.count >= 3 else {
                    if index == 0 { break } else { continue }
                }
                let area = Self.surveyorArea(points)
                guard area != 0 else {
                    if index == 0 { break } else { continue }
                }
                if (index == 0) != (area > 0) { points.reverse() }
                commands.append(Self.command(1, count: 1))
                commands += [Self.zigzag(points[0].x - cursor.x), Self.zigzag(points[0].y - cursor.y)]
                cursor = points[0]
                commands.append(Self.command(2, count: points.count - 1))
                for point in points.dropFirst() {
                    commands += [Self.zigzag(point.x - cursor.x), Self.zigzag(point.y - cursor.y)]
                    cursor = point
                }
                commands.append(Self.command(7, count: 1))
            }
        }
        return commands
    }

    /// A ring's points in tile coordinates, without repeats and without the closing point.
    func quantised(_ ring: Geometry) throws -> [(x: Int, y: Int)] {
        var points: [(x: Int, y: Int)] = []
        for coordinate in try ring.coordinates() {
            let point = tileCoordinates(x: coordinate.x, y: coordinate.y)
            if let last = points.last, last == point { continue }
            points.append(point)
        }
        if points.count > 1, points.first! == points.last! { points.removeLast() }
        return points
    }

    /// Twice the signed area by the surveyor's (shoelace) formula, in tile coordinates.
    static func surveyorArea(_ points: [(x: Int, y: Int)]) -> Int {
        var sum = 0
        for i in points.indices {
            let a = points[i], b = points[(i + 1) % points.count]
            sum += a.x * b.y - b.x * a.y
        }
        return sum
    }

    static func command(_ id: UInt32, count: Int) -> UInt32 { (id & 0x7) | (UInt32(count) << 3) }

    static func zigzag(_ n: Int) -> UInt32 { UInt32(truncatingIfNeeded: (Int32(n) << 1) ^ (Int32(n) >> 31)) }
}

/// The protobuf wire format's writing half: varints (wire type 0) and length-delimited fields (wire type 2).
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func key(_ field: Int, wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    mutating func varintField(_ field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        varint(value)
    }

    mutating func bytesField(_ field: Int, _ value: [UInt8]) {
        key(field, wireType: 2)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func stringField(_ field: Int, _ value: String) { bytesField(field, Array(value.utf8)) }

    mutating func packedField(_ field: Int, _ values: [UInt32]) {
        var packed = ProtobufWriter()
        for value in values { packed.varint(UInt64(value)) }
        bytesField(field, packed.bytes)
    }
}
