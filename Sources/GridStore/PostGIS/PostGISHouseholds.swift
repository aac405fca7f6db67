import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

// Household upkeep on PostgreSQL (a grid worker's visits: add, edit, move, remove, history),
// with `GridStore`'s checks and errors; versions are checked in `UPDATE … WHERE version = $n`.
extension PostGISStore {
    /// The active generation's grids, ready to locate a place (as `GridStore.placement`).
    public func placement() throws -> Placement {
        let generation = try activeGeneration()
        return try GridStore.placement(generation: generation, shapes: try gridShapes(generation: generation), rules: rules)
    }

    /// Creates the household partitions that these towns' counties lack, in a transaction of its
    /// own and before the write that fills them: creating a partition locks the whole table until
    /// its transaction ends, which a long import or activation must not do.
    func createHouseholdPartitions(towns: [String]) throws {
        try database.write { connection in
            try connection.execute("SELECT pg_advisory_xact_lock(\(PostGISDatabase.AdvisoryLock.partitions))")
            let missing = try connection.query("""
                SELECT DISTINCT wangge_county(t) AS county FROM json_array_elements_text($1::json) t
                WHERE wangge_county(t) <> '' AND to_regclass('households_c' || wangge_county(t)) IS NULL
                """, [.text(try WanggeJSON.text(towns))])
            for r in 0..<missing.count {
                // Six digits (wangge_county's pattern): safe as a name and a literal.
                let county = missing.text(r, "county")
                try connection.execute("CREATE TABLE households_c\(county) PARTITION OF households FOR VALUES IN ('\(county)')")
            }
        }
    }

    /// As above, for the towns of a stored generation.
    func createHouseholdPartitions(generation: Int64) throws {
        let towns = try database.read { connection in
            let rows = try connection.query("SELECT code FROM towns WHERE generation_id = $1", [.integer(generation)])
            return (0..<rows.count).map { rows.text($0, "code") }
        }
        try createHouseholdPartitions(towns: towns)
    }

    /// The county (household partition) of each grid of a generation.
    static func gridCounties(_ connection: PostgresConnection, generation: Int64) throws -> [String: String] {
        let rows = try connection.query("SELECT code, wangge_county(town_code) AS county FROM grids WHERE generation_id = $1", [.integer(generation)])
        return Dictionary(uniqueKeysWithValues: (0..<rows.count).map { (rows.text($0, "code"), rows.text($0, "county")) })
    }

    /// SQL for the county of grid `$grid` (a parameter's placeholder) of generation `$generation`: '' outside every grid.
    static func countyOfGrid(generation: String, grid: String) -> String {
        "coalesce((SELECT wangge_county(town_code) FROM grids WHERE generation_id = \(generation) AND code = \(grid)), '')"
    }

    /// One household with its grid in the active generation and its version; nil if there is none.
    static func household(_ connection: PostgresConnection, id: String) throws -> HouseholdRecord? {
        let rows = try connection.query("""
            SELECT \(householdColumns) FROM households h
            LEFT JOIN assignments a ON a.generation_id = (SELECT id FROM generations WHERE status = 'active')
                AND a.layer = 'household' AND a.feature_id = h.id
            WHERE h.id = $1
            """, [.text(id)])
        return rows.count == 1 ? householdRecord(rows, 0) : nil
    }

    public func householdHistory(id: String) throws -> [HouseholdEvent] {
        try read { connection in
            let rows = try connection.query("""
                SELECT seq, at, actor, action, version, from_grid, to_grid, changes FROM household_events WHERE household_id = $1 ORDER BY seq
                """, [.text(id)])
            return (0..<rows.count).map { r in
                GridStore.householdEvent(seq: rows.int64(r, "seq") ?? 0, at: rows.text(r, "at"), actor: rows.text(r, "actor"), action: rows.text(r, "action"),
                                         version: rows.int(r, "version") ?? 1, fromGrid: rows.string(r, "from_grid"), toGrid: rows.string(r, "to_grid"),
                                         changes: rows.text(r, "changes"))
            }
        }
    }

    /// As `GridStore.addHousehold`.
    public func addHousehold(id: String, _ edit: HouseholdEdit, by actor: HouseholdActor, placement: Placement?,
                             permit: (_ grid: String?) throws -> Void, at now: Date = Date()) throws -> HouseholdRecord {
        let place = try GridStore.checkedAddition(id: id, edit)
        return try locatingInActiveGeneration(place.position, placement: placement) { connection, generation, codes, assignment in
            // Ids are unique across counties (partitions), which the key (county, id) does not see: adders take turns.
            try connection.execute("SELECT pg_advisory_xact_lock(\(PostGISDatabase.AdvisoryLock.householdIDs))")
            if let existing = try Self.household(connection, id: id) { throw WanggeError.householdExists(id, version: existing.version ?? 1) }
            let grid = assignment.flatMap { $0.grid >= 0 ? codes[Int($0.grid)] : nil }
            try permit(grid)
            let values = try GridStore.storedValues(GridStore.texts(nil).merging(edit.fields) { $1 }).map(PostgresValue.init)
            let rest: [PostgresValue] = [.text(place.source.crs.description), .double(place.source.x), .double(place.source.y), .text(GridStore.time(now)),
                                         .double(place.position.lon), .double(place.position.lat), .integer(generation), .optional(grid)]
            let inserted = try connection.query("""
                INSERT INTO households (id, address, head, phone, id_number, members, tags, source_crs, source_x, source_y, version, updated_at, geom, county)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, ST_SetSRID(ST_MakePoint($12::float8, $13::float8), 4326),
                        \(Self.countyOfGrid(generation: "$14", grid: "$15")))
                ON CONFLICT (county, id) DO NOTHING RETURNING version
                """, [.text(id)] + values + rest)
            if inserted.count == 0 { throw WanggeError.householdExists(id, version: try Self.household(connection, id: id)?.version ?? 1) }
            try Self.writeAssignments(connection, generation: generation, codes: codes,
                                      points: [GridStore.StoredPoint(layer: .households, id: id, position: place.position)],
                                      assignments: assignment.map { [$0] } ?? [])
            let after = try Self.household(connection, id: id)!
            try Self.record(connection, id: id, action: .add, before: nil, after: after, by: actor, at: now)
            return after
        }
    }

    /// As `GridStore.changeHousehold`: the stored version must be the caller's, and the
    /// `UPDATE … WHERE version = $n` refuses a change another server made meanwhile.
    public func changeHousehold(id: String, _ edit: HouseholdEdit, by actor: HouseholdActor, placement: Placement?,
                                permit: (_ from: String?, _ to: String?) throws -> Void, at now: Date = Date()) throws -> HouseholdRecord {
        try GridStore.checkedFields(edit.fields)
        return try locatingInActiveGeneration(edit.place?.position, placement: placement) { connection, generation, codes, assignment in
            guard let before = try Self.household(connection, id: id) else { throw WanggeError.householdNotFound(id) }
            let target = assignment.map { $0.grid >= 0 ? codes[Int($0.grid)] : nil } ?? before.grid
            try permit(before.grid, target)
            let version = before.version ?? 1
            if let expected = edit.expectedVersion, expected != version { throw WanggeError.staleHousehold(id: id, expected: expected, actual: version) }
            let values = try GridStore.storedValues(GridStore.texts(before).merging(edit.fields) { $1 }).map(PostgresValue.init)
            let updated = try connection.query("""
                UPDATE households SET address = $1, head = $2, phone = $3, id_number = $4, members = $5, tags = $6, updated_at = $7, version = version + 1
                WHERE id = $8 AND version = $9 RETURNING version
                """, values + [.text(GridStore.time(now)), .text(id), .integer(Int64(version))])
            guard updated.count == 1 else { throw WanggeError.staleHousehold(id: id, expected: version, actual: version + 1) }
            if let place = edit.place, let assignment {
                // A move into another county's grid moves the row to that county's partition.
                try connection.query("""
                    UPDATE households SET geom = ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326), source_crs = $3, source_x = $4, source_y = $5,
                        county = \(Self.countyOfGrid(generation: "$7", grid: "$8"))
                    WHERE id = $6
                    """, [.double(place.position.lon), .double(place.position.lat), .text(place.source.crs.description), .double(place.source.x),
                          .double(place.source.y), .text(id), .integer(generation), .optional(target)])
                try Self.writeAssignments(connection, generation: generation, codes: codes,
                                          points: [GridStore.StoredPoint(layer: .households, id: id, position: place.position)], assignments: [assignment])
            }
            let after = try Self.household(connection, id: id)!
            try Self.record(connection, id: id, action: edit.place == nil ? .edit : .move, before: before, after: after, by: actor, at: now)
            return after
        }
    }

    /// As `GridStore.removeHousehold`: its history stays, ending with the removal.
    public func removeHousehold(id: String, expectedVersion: Int?, by actor: HouseholdActor, permit: (_ grid: String?) throws -> Void,
                                at now: Date = Date()) throws {
        try database.write { connection in
            guard let before = try Self.household(connection, id: id) else { throw WanggeError.householdNotFound(id) }
            try permit(before.grid)
            let version = before.version ?? 1
            if let expectedVersion, expectedVersion != version { throw WanggeError.staleHousehold(id: id, expected: expectedVersion, actual: version) }
            let deleted = try connection.query("DELETE FROM households WHERE id = $1 AND version = $2 RETURNING id", [.text(id), .integer(Int64(version))])
            guard deleted.count == 1 else { throw WanggeError.staleHousehold(id: id, expected: version, actual: version + 1) }
            try connection.query("DELETE FROM assignments WHERE layer = 'household' AND feature_id = $1", [.text(id)])
            try Self.record(connection, id: id, action: .remove, before: before, after: nil, by: actor, at: now, version: version + 1)
        }
    }

    /// `body` in a write transaction of the active generation, with the place's assignment (see
    /// `GridStore.locatingInActiveGeneration`). The transaction shares the activation lock, so that
    /// an activation on another server waits for it (and then sees the household) or goes first.
    private func locatingInActiveGeneration<T>(_ position: LonLat?, placement: Placement?,
                                               _ body: (PostgresConnection, Int64, [String], PointAssignment?) throws -> T) throws -> T {
        try GridStore.locatingInActiveGeneration(position, placement: placement, current: { try self.placement() }) { current, assignment in
            try database.write { connection in
                try connection.execute("SELECT pg_advisory_xact_lock_shared(\(PostGISDatabase.AdvisoryLock.activation))")
                guard try Self.activeGeneration(connection) == current.generation else { throw GenerationChanged() }
                return try body(connection, current.generation, current.codes, assignment)
            }
        }
    }

    /// Appends a history entry and audits an API caller's change, in the caller's transaction (as `GridStore.record`).
    private static func record(_ connection: PostgresConnection, id: String, action: HouseholdAction, before: HouseholdRecord?, after: HouseholdRecord?,
                               by actor: HouseholdActor, at now: Date, version: Int? = nil) throws {
        try connection.query("""
            INSERT INTO household_events (household_id, at, actor, action, version, from_grid, to_grid, changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """, [.text(id), .text(GridStore.time(now)), .text(actor.name), .text(action.rawValue), .integer(Int64(version ?? after?.version ?? 1)),
                  .optional(before?.grid), .optional(after?.grid), .text(try WanggeJSON.text(GridStore.eventChanges(before: before, after: after)))])
        if let caller = actor.caller {
            try connection.query("INSERT INTO audit_log (at, token_id, caller, role, action, grid_code, records) VALUES ($1, $2, $3, $4, $5, $6, 1)",
                                 [.text(GridStore.timestamp(now)), .integer(caller.tokenID), .text(caller.name), .text(caller.role.rawValue),
                                  .text(actor.auditAction), .optional(after?.grid ?? before?.grid)])
        }
    }
}

extension PostgresValue {
    /// A value checked as the SpatiaLite path binds it, as a parameter.
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let i): self = .integer(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .text(s)
        case .blob(let b): self = .bytes([UInt8](b))
        }
    }
}
