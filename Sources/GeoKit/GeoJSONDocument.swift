import Foundation
import Localization

/// A property value of a GeoJSON feature or a CSV cell.
public enum PropertyValue: Sendable, Equatable, Encodable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .number(let n): if n.rounded() == n && abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .bool(let b): try c.encode(b)
        case .null: try c.encodeNil()
        }
    }

    /// The value as text, as a user would write it; nil for null.
    public var text: String? {
        switch self {
        case .string(let s): s
        case .number(let n): n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): String(b)
        case .null: nil
        }
    }
}

/// One feature of a GeoJSON file: its position (0-based) for messages, its
/// properties and its geometry object as JSON text (for GEOS's reader).
public struct GeoJSONFeature: Sendable {
    public let index: Int
    public let id: String?
    public let properties: [String: PropertyValue]
    /// nil when the feature's geometry is null.
    public let geometryJSONOrNil: String?

    public var geometryJSON: String { geometryJSONOrNil ?? "null" }
}

/// A GeoJSON FeatureCollection, Feature or bare geometry, parsed with
/// Foundation; errors name the source and the feature.
public struct GeoJSONDocument: Sendable {
    public let source: String
    public let features: [GeoJSONFeature]

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GeoError(tr("\(path): cannot read file"))
        }
        try self.init(data: data, source: path)
    }

    public init(text: String, source: String) throws {
        try self.init(data: Data(text.utf8), source: source)
    }

    public init(data: Data, source: String) throws {
        self.source = source
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw GeoError(tr("\(source): malformed JSON: \(Self.describe(error))"))
        }
        guard let object = root as? [String: Any], let type = object["type"] as? String else {
            throw GeoError(tr("\(source): not GeoJSON: the top level must be an object with a \"type\""))
        }
        switch type {
        case "FeatureCollection":
            guard let list = object["features"] as? [Any] else {
                throw GeoError(tr("\(source): FeatureCollection without a \"features\" array"))
            }
            features = try list.enumerated().map { try Self.feature($1, index: $0, source: source) }
        case "Feature":
            features = [try Self.feature(object, index: 0, source: source)]
        case "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection":
            try Self.checkPositions(object, place: source)
            features = [GeoJSONFeature(index: 0, id: nil, properties: [:], geometryJSONOrNil: try Self.json(object))]
        default:
            throw GeoError(tr("\(source): unknown GeoJSON type \"\(type)\""))
        }
    }

    static func feature(_ value: Any, index: Int, source: String) throws -> GeoJSONFeature {
        guard let object = value as? [String: Any], object["type"] as? String == "Feature" else {
            throw GeoError(tr("\(source): feature \(index + 1): not a GeoJSON Feature object"))
        }
        var properties: [String: PropertyValue] = [:]
        if let raw = object["properties"] as? [String: Any] {
            for (key, value) in raw { properties[key] = PropertyValue(json: value) }
        } else if let raw = object["properties"], !(raw is NSNull) {
            throw GeoError(tr("\(source): feature \(index + 1): \"properties\" must be an object or null"))
        }
        var id: String?
        if let raw = object["id"] { id = PropertyValue(json: raw).text }
        var geometry: String?
        if let raw = object["geometry"], !(raw is NSNull) {
            guard let g = raw as? [String: Any], g["type"] is String else {
                throw GeoError(tr("\(source): feature \(index + 1): \"geometry\" must be a GeoJSON geometry object"))
            }
            try checkPositions(g, place: "\(source): feature \(index + 1)")
            geometry = try json(g)
        }
        return GeoJSONFeature(index: index, id: id, properties: properties, geometryJSONOrNil: geometry)
    }

    /// How deep the positions sit in each type's "coordinates".
    static let positionDepth = ["Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3]

    /// Refuses an empty position (`[]`) in a line, ring or multipoint, naming
    /// `place`: GEOS 3.11's reader dereferences it and crashes the process
    /// (found by `make fuzz`). An empty Point (`"coordinates": []`) is valid
    /// GeoJSON and stays; every other malformation is left to GEOS's messages.
    static func checkPositions(_ geometry: [String: Any], place: String) throws {
        guard let type = geometry["type"] as? String else { return }
        if type == "GeometryCollection" {
            for case let member as [String: Any] in geometry["geometries"] as? [Any] ?? [] {
                try checkPositions(member, place: place)
            }
            return
        }
        guard let depth = positionDepth[type], depth > 0, let coordinates = geometry["coordinates"] else { return }
        func check(_ value: Any, depth: Int) throws {
            guard let array = value as? [Any] else { return }
            if depth == 0 {
                if array.isEmpty {
                    throw GeoError(tr("\(place): \(type) has an empty position [] in \"coordinates\"; each position is [longitude, latitude]"))
                }
                return
            }
            for element in array { try check(element, depth: depth - 1) }
        }
        try check(coordinates, depth: depth)
    }

    static func json(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: []), as: UTF8.self)
    }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        return (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
    }
}

extension PropertyValue {
    /// A value as `JSONSerialization` gives it; arrays and objects become their JSON text.
    public init(json value: Any) {
        self = switch value {
        case let s as String: .string(s)
        // JSONSerialization gives booleans as NSNumber too.
        case let n as NSNumber: String(cString: n.objCType) == "c" ? .bool(n.boolValue) : .number(n.doubleValue)
        case is NSNull: .null
        default: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]))
            .map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
        }
    }
}
