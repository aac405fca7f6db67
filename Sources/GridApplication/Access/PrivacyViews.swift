import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// A household as the API shows it: each personal field as the caller's privacy rules say.
public struct HouseholdView: Encodable, Sendable {
    public let id: String, lon: Double, lat: Double, address: String?, head: String?, phone: String?, idNumber: String?
    public let members: Int, tags: [String], grid: String?
    /// To send back as If-Match or `version` with a change (absent where a listing does not read it).
    public let version: Int?
    /// Whether anything was masked or left out.
    public let masked: Bool

    public init(_ h: HouseholdRecord, rules: FieldRules) {
        id = h.id
        lon = rules.show(coordinate: h.lon)
        lat = rules.show(coordinate: h.lat)
        address = rules.show(.address, h.address)
        head = rules.show(.name, h.head)
        phone = rules.show(.phone, h.phone)
        idNumber = rules.show(.idNumber, h.idNumber)
        members = h.members
        tags = rules[.tags] == .full ? h.tags : []
        grid = h.grid
        version = h.version
        masked = rules != .everything
    }
}

extension GridService {
    /// What a caller sees of a record in a grid.
    public func fieldRules(_ caller: Caller, inGrid grid: String?) -> FieldRules {
        privacy.rules(for: caller, inGrid: grid)
    }

    /// 403 unless the caller's role may read household records (a viewer, by default, sees counts only).
    public func requireHouseholdRecords(_ caller: Caller) throws {
        guard privacy.role(caller.role).households == .records else {
            throw WanggeError.unauthorized(tr("the \(caller.role.rawValue) role sees household counts only (statistics, grid details); the configuration's privacy.\(caller.role.rawValue).households says so"))
        }
    }

    /// An incident as the caller may see it: reporter, the people and notes of
    /// its history, its description and its places by the caller's rules.
    /// `revealsIdentity` tells whether the read must be audited.
    public func visible(_ record: IncidentRecord, to caller: Caller) -> (record: IncidentRecord, revealsIdentity: Bool) {
        let rules = fieldRules(caller, inGrid: record.grid)
        var shown = record
        shown.reporter = rules.show(.name, record.reporter)
        shown.description = rules.show(.freeText, record.description)
        shown.lon = rules.show(coordinate: record.lon)
        shown.lat = rules.show(coordinate: record.lat)
        shown.history = record.history?.map { event in
            var event = event
            // The first actor is usually the reporter: people in the history are
            // names like any other; the system (an import, the deadline check) is no one.
            if event.systemActor == nil { event.actor = rules.show(.name, event.actor) ?? "*" }
            event.note = rules.show(.freeText, event.note)
            if rules[.position] != .full, var detail = event.detail {
                for key in ["from_place", "to_place"] {
                    if let place = detail[key] { detail[key] = Self.coarsePlace(place) }
                }
                event.detail = detail
            }
            return event
        }
        let names = [record.reporter].compactMap { $0 } + (record.history ?? []).filter { $0.systemActor == nil }.map(\.actor)
        return (shown, rules.revealsIdentity && !names.isEmpty)
    }

    /// "lon,lat" rounded as a masked position is.
    static func coarsePlace(_ text: String) -> String {
        let parts = text.split(separator: ",").compactMap { Double($0) }
        guard parts.count == 2 else { return "" }
        return String(format: "%.3f,%.3f", Mask.coordinate(parts[0]), Mask.coordinate(parts[1]))
    }

    /// Properties of a feature as the caller may see them; `revealsIdentity` tells whether the read must be audited.
    public func visibleProperties(_ feature: FeatureRecord, collection: Collection, caller: Caller)
        -> (properties: [String: PropertyValue], revealsIdentity: Bool) {
        let personal = collection.personalFields
        let rules = fieldRules(caller, inGrid: feature.grid)
        var properties: [String: PropertyValue] = [:]
        for (key, value) in feature.properties {
            if let field = personal[key], case .string(let s) = value {
                properties[key] = rules.show(field, s).map(PropertyValue.string) ?? .null
            } else {
                properties[key] = value
            }
        }
        if let grid = feature.grid { properties["grid"] = .string(grid) }
        let identifies = personal.values.contains { [.name, .phone, .idNumber].contains($0) }
        return (properties, identifies && rules.revealsIdentity)
    }

    /// A feature's GeoJSON geometry as the caller may see it: a household's or
    /// an incident's point rounded when its position is masked.
    public func visibleGeometry(_ feature: FeatureRecord, collection: Collection, caller: Caller) -> String {
        guard collection.hasPersonalPosition, fieldRules(caller, inGrid: feature.grid)[.position] != .full else { return feature.geometryJSON }
        guard let object = try? JSONSerialization.jsonObject(with: Data(feature.geometryJSON.utf8)) as? [String: Any],
              let coordinates = object["coordinates"] as? [Double], coordinates.count >= 2 else { return "null" }
        return "{\"type\":\"Point\",\"coordinates\":[\(Mask.coordinate(coordinates[0])),\(Mask.coordinate(coordinates[1]))]}"
    }
}

extension BoundingBox {
    /// The box grown to whole cells of masked positions (those that round to
    /// the same 0.001°), so that which points it finds tells no more than their masked coordinates.
    public var coarsened: BoundingBox {
        func edge(_ value: Double, _ side: Double) -> Double { ((value * 1000).rounded() + side * 0.5) / 1000 }
        return BoundingBox(minLon: edge(minLon, -1), minLat: edge(minLat, -1), maxLon: edge(maxLon, 1), maxLat: edge(maxLat, 1))
    }
}
