import Foundation
import GeoKit
import GridCore
import Localization

// Planning on PostgreSQL: drafts, edits, validation, impact, activation and rollback,
// with `GridStore`'s logic (its shared statics) over PostGIS's rows.
extension PostGISStore {
    // MARK: Drafts

    public func draft(_ id: Int64?, for purpose: Localized = tr("edited")) throws -> Int64 {
        try GridStore.chooseDraft(id, for: purpose, generation: generation, generations: generations)
    }

    /// As `GridStore.importDraft`: the file read and checked alike, its county the active generation's.
    public func importDraft(path: String, _ file: GridFileOptions = GridFileOptions(), name: String? = nil) throws -> ImportReport {
        try GridStore.importDraft(path: path, file, name: name,
                                  activeGeneration: { try read { try $0.query("SELECT id FROM generations WHERE status = 'active'").int64(0, "id") } },
                                  countyBoundary: countyBoundary) { name, parent, county, features, hierarchy, shapes in
            try database.write { connection in
                let id = try Self.insertGeneration(connection, name: name, source: path, parent: parent, county: county)
                try Self.insertAreas(connection, generation: id, towns: hierarchy.towns, villages: hierarchy.villages,
                                     grids: zip(features, shapes).map { PlanGrid(info: $0.info, wkb: $1.wkb) })
                return id
            }
        }
    }

    public func createDraft(from source: Int64? = nil, name: String) throws -> Int64 {
        let source = try source ?? activeGeneration()
        _ = try generation(source)
        let county = try countyBoundary(of: source)
        return try database.write { connection in
            let draft = try Self.insertGeneration(connection, name: name, source: GenerationSummary.copySource(of: source), parent: source, county: county)
            try connection.query("INSERT INTO towns (generation_id, code, name, geom) SELECT $1, code, name, geom FROM towns WHERE generation_id = $2",
                                 [.integer(draft), .integer(source)])
            try connection.query("""
                INSERT INTO villages (generation_id, code, name, town_code, geom)
                SELECT $1, code, name, town_code, geom FROM villages WHERE generation_id = $2
                """, [.integer(draft), .integer(source)])
            try connection.query("""
                INSERT INTO grids (generation_id, code, name, village_code, town_code, worker_name, worker_phone, area_m2, geom)
                SELECT $1, code, name, village_code, town_code, worker_name, worker_phone, area_m2, geom FROM grids WHERE generation_id = $2
                """, [.integer(draft), .integer(source)])
            return draft
        }
    }

    public func deleteDraft(_ id: Int64) throws {
        let id = try draft(id, for: tr("deleted"))
        try database.write { connection in
            for table in ["grids", "villages", "towns", "assignments"] {
                try connection.query("DELETE FROM \(table) WHERE generation_id = $1", [.integer(id)])
            }
            // Drafts started from this one now descend from its parent (the foreign key would refuse the delete).
            try connection.query("UPDATE generations SET parent_id = (SELECT parent_id FROM generations WHERE id = $1) WHERE parent_id = $1", [.integer(id)])
            try connection.query("DELETE FROM generations WHERE id = $1 AND status = 'draft'", [.integer(id)])
        }
    }

    /// The county a generation's grids must tile: stored with it, else the union of its grids.
    func countyBoundary(of generation: Int64) throws -> [UInt8] {
        if let stored = try read({ try $0.query("SELECT county FROM generations WHERE id = $1", [.integer(generation)]).bytes(0, "county") }) {
            return stored
        }
        return try GridStore.union(try gridShapes(generation: generation).map(\.wkb))
    }

    // MARK: Editing

    static func plan(_ connection: PostgresConnection, generation: Int64, county: [UInt8]) throws -> BoundaryPlan {
        let grids = try connection.query("""
            SELECT \(GridStore.gridInfoColumns), ST_AsBinary(g.geom) AS wkb
            FROM grids g
            JOIN villages v ON v.generation_id = g.generation_id AND v.code = g.village_code
            JOIN towns t ON t.generation_id = g.generation_id AND t.code = g.town_code
            WHERE g.generation_id = $1 ORDER BY g.code
            """, [.integer(generation)])
        let villages = try connection.query("SELECT code, name, town_code, ST_AsBinary(geom) AS wkb FROM villages WHERE generation_id = $1",
                                            [.integer(generation)])
        let towns = try connection.query("SELECT code, name, code AS town_code, ST_AsBinary(geom) AS wkb FROM towns WHERE generation_id = $1",
                                         [.integer(generation)])
        let used = try connection.query("SELECT DISTINCT code FROM grids")
        func areas(_ rows: PostgresRows) -> [PlanArea] {
            (0..<rows.count).map { PlanArea(code: rows.text($0, "code"), name: rows.text($0, "name"), townCode: rows.text($0, "town_code"),
                                            wkb: rows.bytes($0, "wkb") ?? []) }
        }
        let infos = grids.grdbRows().map(GridStore.gridInfo)
        return BoundaryPlan(grids: (0..<grids.count).map { PlanGrid(info: infos[$0], wkb: grids.bytes($0, "wkb") ?? []) },
                            villages: areas(villages), towns: areas(towns), county: county,
                            usedCodes: Set((0..<used.count).map { used.text($0, "code") }))
    }

    /// As `GridStore.editDraft`. The draft's row is locked for the transaction, so that
    /// edits (and an activation) on other servers wait rather than interleave; NO KEY, so
    /// that a draft started from this one meanwhile (its foreign key) does not wait.
    public func editDraft(_ id: Int64?, thresholds: PlanThresholds, _ body: (PlanEditor) throws -> [PlanEdit]) throws -> PlanEditReport {
        let draft = try draft(id)
        let county = try countyBoundary(of: draft)
        return try database.write { connection in
            let status = try connection.query("SELECT status FROM generations WHERE id = $1 FOR NO KEY UPDATE", [.integer(draft)]).text(0, "status")
            guard status == GenerationStatus.draft.rawValue else {
                throw GridStore.notADraft(draft, status: status, purpose: tr("edited"))
            }
            let before = try Self.plan(connection, generation: draft, county: county)
            let (after, edits, problems) = try GridStore.checkedEdit(of: before, thresholds: thresholds, body)
            let differences = GridStore.PlanDifferences(from: before, to: after)
            for (table, codes) in [("grids", differences.deletedGrids), ("villages", differences.deletedVillages), ("towns", differences.deletedTowns)]
            where !codes.isEmpty {
                try connection.query("DELETE FROM \(table) WHERE generation_id = $1 AND code = ANY(\(Self.textArray(codes)))", [.integer(draft)])
            }
            try Self.insertAreas(connection, generation: draft, towns: differences.insertedTowns, villages: differences.insertedVillages,
                                 grids: differences.insertedGrids)
            try connection.query("UPDATE generations SET revision = revision + 1 WHERE id = $1", [.integer(draft)])
            return PlanEditReport(generation: draft, edits: edits, warnings: problems)
        }
    }

    /// Codes as a PostgreSQL array literal (`ARRAY['a', 'b']`), each quoted.
    static func textArray(_ codes: [String]) -> String {
        "ARRAY[" + codes.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }.joined(separator: ", ") + "]::text[]"
    }

    public func validate(_ generation: Int64, thresholds: PlanThresholds) throws -> [PlanProblem] {
        _ = try self.generation(generation)
        let county = try countyBoundary(of: generation)
        return try PlanValidator(thresholds: thresholds).problems(in: try read { try Self.plan($0, generation: generation, county: county) })
    }

    // MARK: Rows

    /// A new draft generation; its id the next after the highest, as SQLite numbers rows (a deleted last draft's id is used again),
    /// so that the ids planners type are the same on both stores. The table lock makes servers number one at a time.
    static func insertGeneration(_ connection: PostgresConnection, name: String, source: String?, parent: Int64?, county: [UInt8]) throws -> Int64 {
        try connection.execute("LOCK TABLE generations IN SHARE ROW EXCLUSIVE MODE")
        return try connection.query("""
            INSERT INTO generations (id, name, status, source, parent_id, created_at, county)
            VALUES ((SELECT coalesce(max(id), 0) + 1 FROM generations), $1, 'draft', $2, $3, $4, $5) RETURNING id
            """, [.text(name), .optional(source), parent.map { .integer($0) } ?? .null, .text(GridStore.timestamp(Date())), .bytes(county)])
            .int64(0, "id") ?? 0
    }

    static func insertAreas(_ connection: PostgresConnection, generation: Int64, towns: [PlanArea], villages: [PlanArea], grids: [PlanGrid]) throws {
        for town in towns {
            try connection.query("INSERT INTO towns (generation_id, code, name, geom) VALUES ($1, $2, $3, ST_GeomFromWKB($4, 4326))",
                                 [.integer(generation), .text(town.code), .text(town.name), .bytes(town.wkb)])
        }
        for village in villages {
            try connection.query("INSERT INTO villages (generation_id, code, name, town_code, geom) VALUES ($1, $2, $3, $4, ST_GeomFromWKB($5, 4326))",
                                 [.integer(generation), .text(village.code), .text(village.name), .text(village.townCode), .bytes(village.wkb)])
        }
        for grid in grids {
            let i = grid.info
            try connection.query("""
                INSERT INTO grids (generation_id, code, name, village_code, town_code, worker_name, worker_phone, area_m2, geom)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ST_GeomFromWKB($9, 4326))
                """, [.integer(generation), .text(i.code), .text(i.name), .text(i.villageCode), .text(i.townCode), .optional(i.workerName),
                      .optional(i.workerPhone), .double(i.areaSquareMetres ?? 0), .bytes(grid.wkb)])
        }
    }

    // MARK: Review

    public func impact(of draft: Int64, against base: Int64? = nil) throws -> PlanImpactReport {
        let base = try base ?? activeGeneration()
        return try GridStore.impact(of: draft, against: base, rules: rules, read: {
            let (points, before) = try read { try Self.impactPoints($0, generation: base) }
            return GridStore.ImpactInputs(points: points, before: before, gridsBefore: try grids(generation: base), gridsAfter: try grids(generation: draft),
                                          shapes: try gridShapes(generation: draft))
        }, changes: { try gridChanges(from: base, to: draft) })
    }

    /// As `GridStore.impactPoints`: every stored point with its residents or open status, and its grid in `generation`.
    static func impactPoints(_ connection: PostgresConnection, generation: Int64) throws -> ([ImpactPoint], [String?]) {
        var points: [ImpactPoint] = []
        var grids: [String?] = []
        let queries: [(PointLayer, String)] = [
            (.households, "members, false AS is_open"),
            (.cameras, "0 AS members, false AS is_open"),
            (.incidents, "0 AS members, status NOT IN ('resolved', 'closed') AS is_open"),
        ]
        for (layer, extra) in queries {
            let rows = try connection.query("""
                SELECT ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, \(extra), a.grid_code FROM \(layer.table) p
                LEFT JOIN assignments a ON a.generation_id = $1 AND a.layer = $2 AND a.feature_id = p.id ORDER BY p.id
                """, [.integer(generation), .text(layer.rawValue)])
            for r in 0..<rows.count {
                points.append(ImpactPoint(layer: layer, position: LonLat(rows.double(r, "lon") ?? .nan, rows.double(r, "lat") ?? .nan),
                                          members: rows.int(r, "members") ?? 0, isOpen: rows.bool(r, "is_open") ?? false))
                grids.append(rows.string(r, "grid_code"))
            }
        }
        return (points, grids)
    }

    public func gridChanges(from: Int64, to: Int64) throws -> [String: GridChangeKind] {
        let (old, new) = try read { connection in
            (try Self.plan(connection, generation: from, county: []).grids, try Self.plan(connection, generation: to, county: []).grids)
        }
        return try GridStore.gridChanges(from: old, to: new)
    }

    public func suggestDraft(from source: Int64? = nil, maxHouseholds: Int, name: String, thresholds: PlanThresholds)
        throws -> (draft: Int64, report: PlanEditReport, overloaded: [(code: String, households: Int)]) {
        guard maxHouseholds > 0 else { throw WanggeError.invalid(tr("max_households: must be at least 1")) }
        let source = try source ?? activeGeneration()
        let households = try read { connection in
            let rows = try connection.query("""
                SELECT a.grid_code, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat FROM households h
                JOIN assignments a ON a.generation_id = $1 AND a.layer = 'household' AND a.feature_id = h.id
                WHERE a.grid_code IS NOT NULL ORDER BY a.grid_code, h.id
                """, [.integer(source)])
            return (0..<rows.count).map { r in (rows.text(r, "grid_code"), LonLat(rows.double(r, "lon") ?? .nan, rows.double(r, "lat") ?? .nan)) }
        }
        return try GridStore.suggestDraft(households: households, maxHouseholds: maxHouseholds,
                                          createDraft: { try createDraft(from: source, name: name) },
                                          editDraft: { try editDraft($0, thresholds: thresholds, $1) }, deleteDraft: { try deleteDraft($0) })
    }

    // MARK: Activation

    /// As `GridStore.activate`; the transaction holds the activation lock, so that two servers never activate at once.
    public func activate(_ id: Int64, thresholds: PlanThresholds, dispatch: DispatchRules, at now: Date = Date()) throws -> ActivationReport {
        let draft = try draft(id, for: GridStore.activatedPurpose)
        try GridStore.refuseCoverageErrors(of: draft, try validate(draft, thresholds: thresholds).errors)
        return try reactivate(draft, expecting: .draft, actor: "plan activate", dispatch: dispatch, at: now)
    }

    public func rollback(dispatch: DispatchRules, at now: Date = Date()) throws -> ActivationReport {
        guard let target = try read({ try $0.query(GridStore.rollbackTargetSQL).int64(0, "id") }) else {
            throw WanggeError.notFound(tr("no retired generation to roll back to"))
        }
        return try reactivate(target, expecting: .retired, actor: "plan rollback", dispatch: dispatch, at: now)
    }

    /// As `GridStore.reactivate` (`afterComputing` runs between the computation and the transaction).
    func reactivate(_ id: Int64, expecting status: GenerationStatus, actor: String, dispatch: DispatchRules, at now: Date,
                    afterComputing: () throws -> Void = {}) throws -> ActivationReport {
        let rules = rules
        try createHouseholdPartitions(generation: id)
        return try GridStore.reactivating(id, expecting: status, rules: rules, generation: generation, gridShapes: { try gridShapes(generation: $0) },
                                          storedPoints: { try read(Self.storedPoints) }, afterComputing: afterComputing) { computed in
            try database.write { connection in
                // Servers on one database activate one at a time; an edit of the generation waits for its row.
                try connection.execute("SELECT pg_advisory_xact_lock(\(PostGISDatabase.AdvisoryLock.activation))")
                try connection.query("SELECT 1 FROM generations WHERE id = $1 FOR NO KEY UPDATE", [.integer(id)])
                try computed.recheck(current: try Self.generationSummaries(connection, id: id).first, stored: try Self.storedPoints(connection))
                let done = try Self.activate(connection, generation: id, assigner: computed.assigner, points: computed.points,
                                             assignments: computed.assignments, rules: rules, actor: actor, dispatch: dispatch, at: now)
                return (done.retired, done.rerouted, done.tokens)
            }
        }
    }

    /// Inside an activation's transaction: grid workers' tokens carried over to the new grids (as `GridStore.rescopeTokens`,
    /// with the same planar areas in degrees, so that the ratios agree).
    static func rescopeTokens(_ connection: PostgresConnection, from old: Int64?, to generation: Int64) throws -> [TokenScopeChange] {
        let rows = try connection.query("SELECT id, name, grids, villages, towns FROM tokens WHERE revoked_at IS NULL ORDER BY id")
        let tokens = (0..<rows.count).map { r in
            GridStore.StoredScope(id: rows.int64(r, "id") ?? 0, name: rows.text(r, "name"), grids: rows.text(r, "grids"),
                                  villages: rows.text(r, "villages"), towns: rows.text(r, "towns"))
        }
        let changes = try GridStore.rescoped(tokens, from: old, to: generation, successors: { code in
            let found = try connection.query("""
                SELECT n.code FROM grids o JOIN grids n ON n.generation_id = $1 AND o.geom && n.geom
                WHERE o.generation_id = $2 AND o.code = $3
                AND (ST_Area(ST_Intersection(o.geom, n.geom)) >= 0.1 * ST_Area(o.geom) OR ST_Area(ST_Intersection(o.geom, n.geom)) >= 0.5 * ST_Area(n.geom))
                ORDER BY n.code
                """, [.integer(generation), old.map { .integer($0) } ?? .null, .text(code)])
            return (0..<found.count).map { found.text($0, "code") }
        }, codes: { table in
            let found = try connection.query("SELECT code FROM \(table) WHERE generation_id = $1", [.integer(generation)])
            return Set((0..<found.count).map { found.text($0, "code") })
        })
        for change in changes where !change.gridsAfter.isEmpty {
            try connection.query("UPDATE tokens SET grids = $1 WHERE id = $2", [.text(change.gridsAfter.joined(separator: ",")), .integer(change.id)])
        }
        return changes
    }
}
