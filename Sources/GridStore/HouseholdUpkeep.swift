import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

/// A household field a grid worker keeps up to date (入户走访), named as in imports.
public enum HouseholdField: String, Sendable, CaseIterable, Codable {
    case address, head, phone, idNumber = "id_number", members, tags
}

/// What a household change does.
public enum HouseholdAction: String, Sendable, Codable {
    case add, edit, move, remove
}

/// A change to a household: fields set (a nil value clears one; absent ones
/// stay as they are), a new place, and the version the editor saw.
public struct HouseholdEdit: Sendable {
    public var fields: [HouseholdField: String?]
    /// The new place in WGS84 and as given (its CRS and coordinates).
    public var place: (position: LonLat, source: (x: Double, y: Double, crs: CoordinateSystem))?
    public var expectedVersion: Int?

    public init(fields: [HouseholdField: String?] = [:], place: (position: LonLat, source: (x: Double, y: Double, crs: CoordinateSystem))? = nil,
                expectedVersion: Int? = nil) {
        self.fields = fields
        self.place = place
        self.expectedVersion = expectedVersion
    }
}

/// One field's value before and after a change (nil: empty).
public struct FieldChange: Sendable, Codable, Equatable {
    public var before: String?
    public var after: String?

    public init(before: String?, after: String?) {
        self.before = before
        self.after = after
    }
}

/// One entry of a household's history.
public struct HouseholdEvent: Sendable, Encodable, Equatable {
    public var seq: Int64
    /// In the display zone.
    public var at: String
    public var actor: String
    public var action: HouseholdAction
    /// The household's version after the change.
    public var version: Int
    /// The grid it was in before and after (a move between workers' grids names both).
    public var fromGrid: String?
    public var toGrid: String?
    /// By field (address, head, phone, id_number, members, tags, lon, lat).
    public var changes: [String: FieldChange]
}

/// Who a change is by: the name in the history and, for an API caller, the audit log's entry.
public struct HouseholdActor: Sendable {
    public var name: String
    public var caller: Caller?
    /// The audit log's action ("PATCH /v1/households/H1").
    public var auditAction: String

    public init(name: String, caller: Caller? = nil, auditAction: String) {
        self.name = name
        self.caller = caller
        self.auditAction = auditAction
    }
}

/// The household side's errors, in English here; their words move into the message catalogue.
extension WanggeError {
    public static func householdNotFound(_ id: String) -> WanggeError {
        .notFound(tr("no household \(TextLimits.shown(id))"), field: "id", value: id)
    }

    public static func householdExists(_ id: String, version: Int) -> WanggeError {
        WanggeError(.conflict, tr("household \(TextLimits.shown(id)) already exists (version \(version)); change it with PATCH or `wangge household edit`"),
                    field: "id", value: id)
    }

    /// Someone else changed it first: the caller's version is stale.
    public static func staleHousehold(id: String, expected: Int, actual: Int) -> WanggeError {
        WanggeError(.conflict, tr("household \(id) was changed by someone else: you have version \(expected), it is now \(actual); reload and try again"),
                    field: "version", value: String(expected))
    }

    /// A place that is not in China: a typo, or longitude and latitude swapped.
    public static func householdOutsideChina(lon: Double, lat: Double) -> WanggeError {
        WanggeError(.invalid, tr("lon: (\(lon), \(lat)) is not in China: check the coordinates (longitude first) and their CRS"), field: "lon")
    }

    public static func badPhone(_ text: String) -> WanggeError {
        .invalid(tr("phone: \(TextLimits.shown(text)) is not a phone number: 11 digits for a mobile (13800138000), or an area code and number (0737-1234567)"), field: "phone", value: text)
    }

    public static func badIDNumber(_ text: String, _ why: Localized) -> WanggeError {
        .invalid(tr("id_number: \(TextLimits.shown(text)) \(why)"), field: "id_number", value: text)
    }

    public static func badTag(_ tag: String) -> WanggeError {
        .invalid(tr("tags: \(TextLimits.shown(tag)) may not contain \";\", \"|\" or \"；\" (they separate tags)"), field: "tags", value: tag)
    }
}

/// Formats a household field must have when a person types it; imports check
/// only lengths (a county's old registers hold every kind of number).
public enum HouseholdFieldCheck {
    /// A mobile (11 digits from 1) or a landline (digits with an optional
    /// area code, 7 to 12 digits, "-" or a space between), optionally after +86.
    public static func isPhoneNumber(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.hasPrefix("+86") { rest = rest.dropFirst(3).drop { $0 == " " || $0 == "-" } }
        guard rest.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "-" || $0 == " " }),
              let first = rest.first, first.isNumber, let last = rest.last, last.isNumber else { return false }
        let digits = rest.filter(\.isNumber)
        if digits.first == "1" && !rest.contains("-") && !rest.contains(" ") { return digits.count == 11 }
        return (7...12).contains(digits.count)
    }

    /// What is wrong with a resident ID number (居民身份证号码, GB 11643): 18
    /// characters, 17 digits and a check character (a digit or X) that the
    /// ISO 7064 MOD 11-2 sum gives; nil when it is fine.
    public static func idNumberProblem(_ text: String) -> Localized? {
        let characters = Array(text.uppercased())
        guard characters.count == 18, characters.prefix(17).allSatisfy({ $0.isASCII && $0.isNumber }),
              let last = characters.last, last == "X" || (last.isASCII && last.isNumber) else {
            return tr("is not an ID number: 17 digits and a digit or X")
        }
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        let sum = zip(characters.prefix(17), weights).reduce(0) { $0 + Int(String($1.0))! * $1.1 }
        let check = Array("10X98765432")[sum % 11]
        return check == last ? nil : tr("has the check character \(String(last)), but its digits give \(String(check)): a digit is mistyped")
    }

    /// Tags as stored ("独居老人;低保户") from a list, each checked.
    public static func tags(_ list: [String]) throws -> String {
        let cleaned = list.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let bad = cleaned.first(where: { $0.contains(";") || $0.contains("|") || $0.contains("；") }) { throw WanggeError.badTag(bad) }
        return cleaned.joined(separator: ";")
    }
}

extension GridStore {
    static let householdColumns = """
        h.id, X(h.geom) AS lon, Y(h.geom) AS lat, h.address, h.head, h.phone, h.id_number, h.members, h.tags, h.version,
        a.grid_code, a.method
        """

    static func householdRecord(_ row: Row) -> HouseholdRecord {
        let tags: String = row["tags"]
        return HouseholdRecord(id: row["id"], lon: row["lon"], lat: row["lat"], address: row["address"], head: row["head"], phone: row["phone"],
                               idNumber: row["id_number"], members: row["members"], tags: tags.split(separator: ";").map(String.init),
                               grid: row["grid_code"], method: (row["method"] as String?).flatMap(AssignmentMethod.init(rawValue:)),
                               version: row["version"])
    }

    /// One household with its grid in the active generation and its version; nil if there is none.
    static func household(_ db: Database, id: String) throws -> HouseholdRecord? {
        let generation = try Int64.fetchOne(db, sql: "SELECT id FROM generations WHERE status = 'active'")
        return try Row.fetchOne(db, sql: """
            SELECT \(householdColumns) FROM households h
            LEFT JOIN assignments a ON a.generation_id = ? AND a.layer = 'household' AND a.feature_id = h.id
            WHERE h.id = ?
            """, arguments: [generation, id]).map(householdRecord)
    }

    public func household(id: String) throws -> HouseholdRecord {
        guard let record = try database.pool.read({ db in try Self.household(db, id: id) }) else { throw WanggeError.householdNotFound(id) }
        return record
    }

    /// A household's history, oldest first, times in the display zone (also after its removal).
    public func householdHistory(id: String) throws -> [HouseholdEvent] {
        try database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT seq, at, actor, action, version, from_grid, to_grid, changes FROM household_events WHERE household_id = ? ORDER BY seq
                """, arguments: [id]).map { row in
                Self.householdEvent(seq: row["seq"], at: row["at"], actor: row["actor"], action: row["action"], version: row["version"],
                                    fromGrid: row["from_grid"], toGrid: row["to_grid"], changes: row["changes"])
            }
        }
    }

    /// A history entry from its stored columns.
    static func householdEvent(seq: Int64, at: String, actor: String, action: String, version: Int, fromGrid: String?, toGrid: String?,
                               changes: String) -> HouseholdEvent {
        HouseholdEvent(seq: seq, at: timePolicy.displayed(stored: at), actor: actor, action: HouseholdAction(rawValue: action) ?? .edit, version: version,
                       fromGrid: fromGrid, toGrid: toGrid,
                       changes: (try? JSONDecoder().decode([String: FieldChange].self, from: Data(changes.utf8))) ?? [:])
    }

    /// The stored values of a household's fields (as `attributes` makes them), by field.
    static func texts(_ record: HouseholdRecord?) -> [HouseholdField: String?] {
        guard let record else { return [:] }
        return [.address: record.address, .head: record.head, .phone: record.phone, .idNumber: record.idNumber,
                .members: String(record.members), .tags: record.tags.isEmpty ? nil : record.tags.joined(separator: ";")]
    }

    /// Checks the fields an edit sets: lengths, numbers and tags as imports
    /// check them, and the formats of phone and ID numbers a person types.
    /// Each error names its field.
    static func checkedFields(_ fields: [HouseholdField: String?]) throws {
        for (field, value) in fields {
            guard let value, !value.isEmpty else { continue }
            do {
                _ = try attributes(.households, PointFields(columns: [field.rawValue: 0], values: [value]), dispatch: DispatchRules())
            } catch let error as WanggeError {
                // The import's words name the field as a column ("field phone: …"); here the field is the parameter.
                let message = error.text.rendered
                let unprefixed = ["field ", "字段 "].first { message.hasPrefix($0) }.map { String(message.dropFirst($0.count)) } ?? message
                throw WanggeError.invalid(.verbatim(unprefixed), field: field.rawValue, value: value)
            }
            switch field {
            case .phone: if !HouseholdFieldCheck.isPhoneNumber(value) { throw WanggeError.badPhone(value) }
            case .idNumber: if let problem = HouseholdFieldCheck.idNumberProblem(value) { throw WanggeError.badIDNumber(value, problem) }
            case .tags: _ = try HouseholdFieldCheck.tags(value.split(separator: ";").map(String.init))
            case .address, .head, .members: break
            }
        }
    }

    /// A new household's id, place and fields, checked before it is located (by either store); its place.
    static func checkedAddition(id: String, _ edit: HouseholdEdit) throws -> (position: LonLat, source: (x: Double, y: Double, crs: CoordinateSystem)) {
        if id.isEmpty { throw WanggeError.invalid(tr("id: missing"), field: "id") }
        if let problem = TextLimits.problem(id, limit: TextLimits.code) { throw WanggeError.invalid(tr("id: \(TextLimits.shown(id)) \(problem)"), field: "id") }
        guard let place = edit.place else { throw WanggeError.invalid(tr("lon: a new household needs its place (lon, lat)"), field: "lon") }
        try checkedFields(edit.fields)
        return place
    }

    /// Adds a household at a place: located in the active generation as an
    /// import would (`placement`), stored with version 1 and a first history
    /// entry, in one transaction. `permit` sees the grid it falls in and may refuse.
    public func addHousehold(id: String, _ edit: HouseholdEdit, by actor: HouseholdActor, placement: Placement?,
                             permit: (_ grid: String?) throws -> Void, at now: Date = Date()) throws -> HouseholdRecord {
        let place = try Self.checkedAddition(id: id, edit)
        return try locatingInActiveGeneration(place.position, placement: placement) { db, generation, codes, assignment in
            if let existing = try Self.household(db, id: id) { throw WanggeError.householdExists(id, version: existing.version ?? 1) }
            let grid = assignment.flatMap { $0.grid >= 0 ? codes[Int($0.grid)] : nil }
            try permit(grid)
            let values = try Self.storedValues(Self.texts(nil).merging(edit.fields) { $1 })
            let rest: [any DatabaseValueConvertible] = [place.source.crs.description, place.source.x, place.source.y, Self.time(now),
                                                        place.position.lon, place.position.lat]
            try db.execute(sql: """
                INSERT INTO households (id, address, head, phone, id_number, members, tags, source_crs, source_x, source_y, version, updated_at, geom)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, MakePoint(?, ?, 4326))
                """, arguments: StatementArguments([id.databaseValue] + values + rest.map(\.databaseValue)))
            try Self.writeAssignments(db, generation: generation, codes: codes,
                                      points: [StoredPoint(layer: .households, id: id, position: place.position)], assignments: assignment.map { [$0] } ?? [])
            let after = try Self.household(db, id: id)!
            try Self.record(db, id: id, action: .add, before: nil, after: after, by: actor, at: now)
            return after
        }
    }

    /// Edits a household's fields and, with a place, moves it (re-assigned in
    /// the active generation as imports assign). The version must be the one
    /// stored; it is bumped. `permit` sees the grid it is in and, on a move, the grid it goes to.
    public func changeHousehold(id: String, _ edit: HouseholdEdit, by actor: HouseholdActor, placement: Placement?,
                                permit: (_ from: String?, _ to: String?) throws -> Void, at now: Date = Date()) throws -> HouseholdRecord {
        try Self.checkedFields(edit.fields)
        return try locatingInActiveGeneration(edit.place?.position, placement: placement) { db, generation, codes, assignment in
            guard let before = try Self.household(db, id: id) else { throw WanggeError.householdNotFound(id) }
            let target = assignment.map { $0.grid >= 0 ? codes[Int($0.grid)] : nil } ?? before.grid
            try permit(before.grid, target)
            let version = before.version ?? 1
            if let expected = edit.expectedVersion, expected != version { throw WanggeError.staleHousehold(id: id, expected: expected, actual: version) }
            let values = try Self.storedValues(Self.texts(before).merging(edit.fields) { $1 })
            try db.execute(sql: """
                UPDATE households SET address = ?, head = ?, phone = ?, id_number = ?, members = ?, tags = ?, updated_at = ?, version = version + 1
                WHERE id = ? AND version = ?
                """, arguments: StatementArguments(values + [Self.time(now).databaseValue, id.databaseValue, version.databaseValue]))
            guard db.changesCount == 1 else { throw WanggeError.staleHousehold(id: id, expected: version, actual: version + 1) }
            if let place = edit.place, let assignment {
                try db.execute(sql: "UPDATE households SET geom = MakePoint(?, ?, 4326), source_crs = ?, source_x = ?, source_y = ? WHERE id = ?",
                               arguments: [place.position.lon, place.position.lat, place.source.crs.description, place.source.x, place.source.y, id])
                try Self.writeAssignments(db, generation: generation, codes: codes,
                                          points: [StoredPoint(layer: .households, id: id, position: place.position)], assignments: [assignment])
            }
            let after = try Self.household(db, id: id)!
            try Self.record(db, id: id, action: edit.place == nil ? .edit : .move, before: before, after: after, by: actor, at: now)
            return after
        }
    }

    /// Removes a household and its assignments; its history stays, ending with the removal.
    public func removeHousehold(id: String, expectedVersion: Int?, by actor: HouseholdActor, permit: (_ grid: String?) throws -> Void,
                                at now: Date = Date()) throws {
        try database.pool.write { db in
            guard let before = try Self.household(db, id: id) else { throw WanggeError.householdNotFound(id) }
            try permit(before.grid)
            let version = before.version ?? 1
            if let expectedVersion, expectedVersion != version { throw WanggeError.staleHousehold(id: id, expected: expectedVersion, actual: version) }
            try db.execute(sql: "DELETE FROM households WHERE id = ? AND version = ?", arguments: [id, version])
            guard db.changesCount == 1 else { throw WanggeError.staleHousehold(id: id, expected: version, actual: version + 1) }
            try db.execute(sql: "DELETE FROM assignments WHERE layer = 'household' AND feature_id = ?", arguments: [id])
            try Self.record(db, id: id, action: .remove, before: before, after: nil, by: actor, at: now, version: version + 1)
        }
    }

    /// The values of the household columns address…tags, checked as imports check them.
    static func storedValues(_ fields: [HouseholdField: String?]) throws -> [DatabaseValue] {
        let present = fields.compactMap { field, value in value.map { (field.rawValue, $0) } }
        let columns = Dictionary(uniqueKeysWithValues: present.enumerated().map { ($1.0, $0) })
        return try attributes(.households, PointFields(columns: columns, values: present.map(\.1)), dispatch: DispatchRules())
    }

    /// Runs `body` in a write transaction of the active generation with the
    /// place's assignment (nil without a place). The place is located before
    /// the write lock is taken, in a placement that may be older than the
    /// active generation: the write checks and locates again if it is.
    /// A place outside China, or outside every grid beyond the nearest
    /// tolerance (the assignment method `none`), is refused.
    private func locatingInActiveGeneration<T>(_ position: LonLat?, placement: Placement?,
                                               _ body: (Database, Int64, [String], PointAssignment?) throws -> T) throws -> T {
        try Self.locatingInActiveGeneration(position, placement: placement, current: { try self.placement() }) { current, assignment in
            try database.pool.write { db in
                guard try Self.activeGeneration(db) == current.generation else { throw GenerationChanged() }
                return try body(db, current.generation, current.codes, assignment)
            }
        }
    }

    /// `locatingInActiveGeneration` of either store: `write` throws `GenerationChanged` when
    /// the active generation is no longer the placement's, and is then run again with a new one.
    static func locatingInActiveGeneration<T>(_ position: LonLat?, placement: Placement?, current: () throws -> Placement,
                                              _ write: (Placement, PointAssignment?) throws -> T) throws -> T {
        if let position, ChineseCoordinates.isOutsideChina(lon: position.lon, lat: position.lat) {
            throw WanggeError.householdOutsideChina(lon: position.lon, lat: position.lat)
        }
        var placement = placement
        for _ in 1...3 {
            let current = try placement ?? current()
            let assignment = try position.map { try current.locate($0) }
            if let assignment, assignment.grid < 0 {
                throw WanggeError.outsideEveryGrid(nearestGrid: assignment.nearestGrid >= 0 ? current.codes[Int(assignment.nearestGrid)] : nil,
                                                   distanceMeters: assignment.distanceMeters)
            }
            do {
                return try write(current, assignment)
            } catch is GenerationChanged {
                placement = nil
            }
        }
        throw WanggeError.invalid(tr("the active generation kept changing while the household was stored; try again"))
    }

    /// Each field (and lon, lat) that differs between a household before and after a change.
    static func eventChanges(before: HouseholdRecord?, after: HouseholdRecord?) -> [String: FieldChange] {
        var changes: [String: FieldChange] = [:]
        let (old, new) = (texts(before), texts(after))
        for field in HouseholdField.allCases {
            let (b, a) = (old[field] ?? nil, new[field] ?? nil)
            if b != a { changes[field.rawValue] = FieldChange(before: b, after: a) }
        }
        for (name, value) in [("lon", \HouseholdRecord.lon), ("lat", \HouseholdRecord.lat)] {
            let (b, a) = (before.map { String($0[keyPath: value]) }, after.map { String($0[keyPath: value]) })
            if b != a { changes[name] = FieldChange(before: b, after: a) }
        }
        return changes
    }

    /// Appends a history entry with each field that changed, and audits an API caller's change, in the caller's transaction.
    private static func record(_ db: Database, id: String, action: HouseholdAction, before: HouseholdRecord?, after: HouseholdRecord?,
                               by actor: HouseholdActor, at now: Date, version: Int? = nil) throws {
        let changes = eventChanges(before: before, after: after)
        try db.execute(sql: """
            INSERT INTO household_events (household_id, at, actor, action, version, from_grid, to_grid, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, time(now), actor.name, action.rawValue, version ?? after?.version ?? 1, before?.grid, after?.grid,
                             try WanggeJSON.text(changes)])
        if let caller = actor.caller {
            let grid = after?.grid ?? before?.grid
            try db.execute(sql: "INSERT INTO audit_log (at, token_id, caller, role, action, grid_code, records) VALUES (?, ?, ?, ?, ?, ?, 1)",
                           arguments: [timestamp(now), caller.tokenID, caller.name, caller.role.rawValue, actor.auditAction, grid])
        }
    }
}
