import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// A household change as a front end receives it: fields to set or clear, a
/// place in any CRS (for an add or a move), and the version the editor saw.
public struct HouseholdInput: Sendable {
    public var fields: [HouseholdField: String?]
    public var x: Double?, y: Double?
    public var crs: CoordinateSystem
    public var version: Int?

    public init(fields: [HouseholdField: String?] = [:], x: Double? = nil, y: Double? = nil, crs: CoordinateSystem = .wgs84, version: Int? = nil) {
        self.fields = fields
        self.x = x
        self.y = y
        self.crs = crs
        self.version = version
    }
}

/// A household's history as the caller may see it.
public struct HouseholdHistory: Sendable, Encodable {
    public let id: String
    /// The grid it is in now (for a removed household, the one it was last in).
    public let grid: String?
    public let events: [HouseholdEvent]
    public let masked: Bool
}

extension GridService {
    /// Who keeps households up to date: admins, and grid workers in their own
    /// grids. The command line (no caller) may.
    public static func mayKeepHouseholds(_ caller: Caller?) -> Bool {
        caller.map { [.admin, .gridWorker].contains($0.role) } ?? true
    }

    /// 403 unless the caller keeps households; `what` names the change.
    private func requireUpkeep(_ caller: Caller?, _ what: Localized) throws {
        guard Self.mayKeepHouseholds(caller) else {
            throw WanggeError.unauthorized(tr("\(what) is for grid workers (in their grids) and admins; you are \(caller!.role.rawValue)"))
        }
    }

    /// For a grid worker, a grid must be one of theirs; anyone else may.
    private static func requireOwnGrid(_ grid: String?, of caller: Caller?, _ what: @autoclosure () -> Localized) throws {
        guard let caller, caller.role == .gridWorker else { return }
        guard let grid, caller.grids.contains(grid) else { throw WanggeError.unauthorized(what()) }
    }

    private func actor(_ caller: Caller?, name: String?, action: String) -> HouseholdActor {
        HouseholdActor(name: caller?.name ?? name ?? ProcessInfo.processInfo.environment["USER"] ?? "cli", caller: caller, auditAction: action)
    }

    private func place(_ input: HouseholdInput) throws -> (position: LonLat, source: (x: Double, y: Double, crs: CoordinateSystem))? {
        switch (input.x, input.y) {
        case (nil, nil): return nil
        case (let x?, let y?): return (try Self.wgs84(x: x, y: y, crs: input.crs), (x, y, input.crs))
        case (nil, _): throw WanggeError.invalid(tr("lon: missing (a place needs lon and lat)"), field: "lon")
        case (_, nil): throw WanggeError.invalid(tr("lat: missing (a place needs lon and lat)"), field: "lat")
        }
    }

    /// Adds a household at a place, assigned to its grid as an import assigns.
    /// A grid worker adds only in their own grids.
    public func addHousehold(id: String, _ input: HouseholdInput, by caller: Caller? = nil, actorName: String? = nil,
                             action: String = "household add") throws -> HouseholdView {
        try requireUpkeep(caller, tr("adding households"))
        let edit = HouseholdEdit(fields: input.fields, place: try place(input))
        let record = try translatingErrors {
            try store.addHousehold(id: id, edit, by: actor(caller, name: actorName, action: action), placement: try active().placement,
                                   permit: { grid in
                try Self.requireOwnGrid(grid, of: caller, tr("the place is in grid \(grid ?? "-"), which is not one of your grids"))
            }, at: Date())
        }
        return try shown(record, to: caller, action: nil)
    }

    /// Edits a household and, with a place, moves it (re-assigned as imports
    /// assign). A grid worker changes only households in their own grids, and
    /// may move one into another worker's grid (a family that moved within the
    /// county): the history records both grids.
    public func changeHousehold(id: String, _ input: HouseholdInput, by caller: Caller? = nil, actorName: String? = nil,
                                action: String = "household edit") throws -> HouseholdView {
        try requireUpkeep(caller, tr("changing households"))
        let place = try place(input)
        guard place != nil || !input.fields.isEmpty else {
            throw WanggeError.invalid(tr("nothing to change: give a field (\(HouseholdField.allCases.map(\.rawValue).joined(separator: ", "))) or lon and lat"),
                                      field: "body")
        }
        let edit = HouseholdEdit(fields: input.fields, place: place, expectedVersion: input.version)
        let record = try translatingErrors {
            try store.changeHousehold(id: id, edit, by: actor(caller, name: actorName, action: action), placement: try active().placement,
                                      permit: { from, _ in
                try Self.requireOwnGrid(from, of: caller, tr("household \(id) is not in your grids"))
            }, at: Date())
        }
        return try shown(record, to: caller, action: nil)
    }

    /// Removes a household (its history stays). A grid worker removes only in their own grids.
    public func removeHousehold(id: String, version: Int?, by caller: Caller? = nil, actorName: String? = nil,
                                action: String = "household remove") throws {
        try requireUpkeep(caller, tr("removing households"))
        try translatingErrors {
            try store.removeHousehold(id: id, expectedVersion: version, by: actor(caller, name: actorName, action: action), permit: { grid in
                try Self.requireOwnGrid(grid, of: caller, tr("household \(id) is not in your grids"))
            }, at: Date())
        }
    }

    /// One household as the caller may see it; an unmasked read is audited as `action`.
    public func household(id: String, for caller: Caller? = nil, action: String = "household") throws -> HouseholdView {
        if let caller { try requireHouseholdRecords(caller) }
        return try shown(try translatingErrors { try store.household(id: id) }, to: caller, action: action)
    }

    /// A household's history (also after its removal), each field as the
    /// caller may see it in the household's grid, as incident history is masked.
    public func householdHistory(id: String, for caller: Caller? = nil, action: String = "household history") throws -> HouseholdHistory {
        if let caller { try requireHouseholdRecords(caller) }
        let events = try translatingErrors { try store.householdHistory(id: id) }
        let current = try translatingErrors { () -> HouseholdRecord? in
            do { return try store.household(id: id) } catch let error as WanggeError where error.kind == .notFound { return nil }
        }
        guard current != nil || !events.isEmpty else { throw WanggeError.householdNotFound(id) }
        let grid = current?.grid ?? events.last.flatMap { $0.toGrid ?? $0.fromGrid }
        guard let caller else { return HouseholdHistory(id: id, grid: grid, events: events, masked: false) }
        let rules = fieldRules(caller, inGrid: grid)
        let fields: [String: PersonalField] = ["head": .name, "phone": .phone, "id_number": .idNumber, "address": .address, "tags": .tags,
                                               "lon": .position, "lat": .position]
        let shownEvents = events.map { event in
            var event = event
            event.actor = rules.show(.name, event.actor) ?? "*"
            for (key, change) in event.changes {
                guard let field = fields[key] else { continue }
                func show(_ value: String?) -> String? {
                    switch field {
                    case .position: value.flatMap(Double.init).map { String(rules.show(coordinate: $0)) }
                    case .tags: rules[.tags] == .full ? value : nil
                    default: rules.show(field, value)
                    }
                }
                event.changes[key] = FieldChange(before: show(change.before), after: show(change.after))
            }
            return event
        }
        if rules.revealsIdentity && !events.isEmpty {
            try translatingErrors { try store.audit(caller, action: action, grid: grid, records: 1) }
        }
        return HouseholdHistory(id: id, grid: grid, events: shownEvents, masked: rules != .everything)
    }

    /// The household as the caller may see it in its grid; a read (`action`) that reveals who lives there is audited.
    private func shown(_ record: HouseholdRecord, to caller: Caller?, action: String?) throws -> HouseholdView {
        guard let caller else { return HouseholdView(record, rules: .everything) }
        let rules = fieldRules(caller, inGrid: record.grid)
        if let action, rules.revealsIdentity {
            try translatingErrors { try store.audit(caller, action: action, grid: record.grid, records: 1) }
        }
        return HouseholdView(record, rules: rules)
    }
}
