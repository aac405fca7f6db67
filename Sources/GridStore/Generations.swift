import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

/// Draft, active (exactly one) or retired.
public enum GenerationStatus: String, Sendable, Codable {
    case draft, active, retired
}

/// One generation of grid boundaries, for `plan list`.
public struct GenerationSummary: Sendable, Equatable, Encodable {
    public var id: Int64
    public var name: String
    public var status: GenerationStatus
    public var source: String?
    public var parent: Int64?
    public var createdAt: String
    public var activatedAt: String?
    public var retiredAt: String?
    public var revision: Int
    public var grids: Int
    /// The assignment distances its assignments were made with (nil: not recorded).
    public var rules: AssignmentRules?

    /// The `source` a draft copied from generation `parent` is stored with (both stores).
    static func copySource(of parent: Int64) -> String { "generation \(parent)" }

    /// Whether it is a copy of its parent generation, not read from a file.
    public var isCopy: Bool { parent.map { source == Self.copySource(of: $0) } ?? false }
}

/// What an edit of a draft did, for the user.
public struct PlanEditReport: Sendable {
    public var generation: Int64
    public var edits: [PlanEdit]
    /// Slivers and other warnings in the edited area.
    public var warnings: [PlanProblem]
}

/// What an activation or a rollback did.
public struct ActivationReport: Sendable, CustomStringConvertible {
    public var generation: Int64
    public var name: String
    public var retired: Int64?
    public var assigned: [AssignmentMethod: Int]
    public var rerouted: Int
    /// Grid workers' tokens whose grids the redraw changed (or left without a place).
    public var tokens: [TokenScopeChange]
    public var seconds: Double

    public var description: String { rendered(in: .en) }

    /// The report in a reader's language.
    public func rendered(in language: Language) -> String {
        let counts = AssignmentMethod.counts(assigned) ?? tr("no points")
        let activated = retired.map { tr("generation \(generation) \(name) is active; generation \($0) retired") }
            ?? tr("generation \(generation) \(name) is active")
        return activated.rendered(in: language)
            + "\n" + tr("assigned: \(counts)").rendered(in: language)
            + "\n" + tr("open incidents re-routed to their new grid: \(rerouted)").rendered(in: language)
            + TokenScopeChange.report(tokens, in: language)
            + String(format: "\n(%.1f s)", seconds)
    }
}

/// An activation found the generation edited (or its status changed) while it computed.
struct ActivationRace: Error {}

extension GridStore {
    // MARK: Listing

    public func generations() throws -> [GenerationSummary] {
        try database.pool.read { db in try Self.generationSummaries(db, id: nil) }
    }

    public func generation(_ id: Int64) throws -> GenerationSummary {
        guard let found = try database.pool.read({ db in try Self.generationSummaries(db, id: id).first }) else {
            throw WanggeError.notFound(tr("no generation \(id)"))
        }
        return found
    }

    static func generationSummaries(_ db: Database, id: Int64?) throws -> [GenerationSummary] {
        try Row.fetchAll(db, sql: """
            SELECT n.id, n.name, n.status, n.source, n.parent_id, n.created_at, n.activated_at, n.retired_at, n.revision,
                   (SELECT count(*) FROM grids g WHERE g.generation_id = n.id) AS grids, n.nearest_tolerance_m, n.near_boundary_m
            FROM generations n \(id == nil ? "" : "WHERE n.id = ?") ORDER BY n.id
            """, arguments: id.map { [$0] } ?? []).map { row in
            let tolerance: Double? = row["nearest_tolerance_m"], band: Double? = row["near_boundary_m"]
            return GenerationSummary(
                id: row["id"], name: row["name"], status: GenerationStatus(rawValue: row["status"]) ?? .retired, source: row["source"],
                parent: row["parent_id"], createdAt: row["created_at"], activatedAt: row["activated_at"], retiredAt: row["retired_at"],
                revision: row["revision"], grids: row["grids"],
                rules: tolerance.flatMap { t in band.map { AssignmentRules(nearestToleranceMeters: t, nearBoundaryMeters: $0) } })
        }
    }

    /// The draft to work on: `id`, or the only draft there is.
    public func draft(_ id: Int64?, for purpose: Localized = tr("edited")) throws -> Int64 {
        try Self.chooseDraft(id, for: purpose, generation: generation, generations: generations)
    }

    static func notADraft(_ id: Int64, status: String, purpose: Localized) -> WanggeError {
        WanggeError.invalid(tr("generation \(id) is \(status), not a draft: only drafts can be \(purpose)"))
    }

    /// `draft(_:for:)` over either store's generations.
    static func chooseDraft(_ id: Int64?, for purpose: Localized, generation: (Int64) throws -> GenerationSummary,
                            generations: () throws -> [GenerationSummary]) throws -> Int64 {
        if let id {
            let generation = try generation(id)
            guard generation.status == .draft else { throw notADraft(id, status: generation.status.rawValue, purpose: purpose) }
            return id
        }
        let drafts = try generations().filter { $0.status == .draft }
        guard drafts.count == 1 else {
            throw WanggeError.invalid(drafts.isEmpty ? tr("no draft: start one (a copy of the active generation) first")
                             : tr("\(drafts.count) drafts (\(drafts.map { String($0.id) }.joined(separator: ", "))): name one"))
        }
        return drafts[0].id
    }

    // MARK: Drafts

    /// A draft copying a generation's grids, villages and towns.
    public func createDraft(from source: Int64? = nil, name: String) throws -> Int64 {
        let source = try source ?? activeGeneration()
        _ = try generation(source)
        let county = try countyBoundary(of: source)
        return try database.pool.write { db in
            try db.execute(sql: "INSERT INTO generations (name, status, source, parent_id, created_at, county) VALUES (?, 'draft', ?, ?, ?, ?)",
                           arguments: [name, GenerationSummary.copySource(of: source), source, Self.timestamp(Date()), Data(county)])
            let draft = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO towns (generation_id, code, name, geom) SELECT ?, code, name, geom FROM towns WHERE generation_id = ?",
                           arguments: [draft, source])
            try db.execute(sql: """
                INSERT INTO villages (generation_id, code, name, town_code, geom)
                SELECT ?, code, name, town_code, geom FROM villages WHERE generation_id = ?
                """, arguments: [draft, source])
            try db.execute(sql: """
                INSERT INTO grids (generation_id, code, name, village_code, town_code, worker_name, worker_phone, area_m2, geom)
                SELECT ?, code, name, village_code, town_code, worker_name, worker_phone, area_m2, geom FROM grids WHERE generation_id = ?
                """, arguments: [draft, source])
            return draft
        }
    }

    /// A draft from a grid file, read and validated as `import grids` does.
    /// Its county is the active generation's (when there is one), so the
    /// coverage check tells where the file's grids leave gaps or spill over.
    public func importDraft(path: String, _ file: GridFileOptions = GridFileOptions(), name: String? = nil) throws -> ImportReport {
        try Self.importDraft(path: path, file, name: name,
                             activeGeneration: { try database.pool.read { db in try Int64.fetchOne(db, sql: "SELECT id FROM generations WHERE status = 'active'") } },
                             countyBoundary: countyBoundary) { name, parent, county, features, hierarchy, shapes in
            try database.pool.write { db in
                let id = try Self.insertGeneration(db, name: name, status: .draft, source: path, parent: parent, county: county)
                try Self.insertAreas(db, generation: id, hierarchy: hierarchy, features: features, shapes: shapes)
                return id
            }
        }
    }

    /// The draft import of either store: the file read and checked, its county the active
    /// generation's (else its own grids' union), and `write` storing the draft (its id).
    static func importDraft(path: String, _ file: GridFileOptions, name: String?, activeGeneration: () throws -> Int64?,
                            countyBoundary: (Int64) throws -> [UInt8],
                            write: (_ name: String, _ parent: Int64?, _ county: [UInt8], [GridFeature], (villages: [PlanArea], towns: [PlanArea]),
                                    [GridShape]) throws -> Int64) throws -> ImportReport {
        let start = Date()
        let (features, hierarchy, shapes, report) = try readGridFile(path: path, file)
        let active = try activeGeneration()
        let county = try active.map(countyBoundary) ?? union(shapes.map(\.wkb))
        let draft = try write(name ?? "draft from \((path as NSString).lastPathComponent)", active, county, features, hierarchy, shapes)
        var result = report
        result.imported = features.count
        result.generation = draft
        result.seconds = Date().timeIntervalSince(start)
        return result
    }

    /// Deletes a draft and its grids.
    public func deleteDraft(_ id: Int64) throws {
        let id = try draft(id, for: tr("deleted"))
        try database.pool.write { db in
            for table in ["grids", "villages", "towns", "assignments"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE generation_id = ?", arguments: [id])
            }
            // Drafts started from this one now descend from its parent (the foreign key would refuse the delete).
            try db.execute(sql: "UPDATE generations SET parent_id = (SELECT parent_id FROM generations WHERE id = ?1) WHERE parent_id = ?1", arguments: [id])
            try db.execute(sql: "DELETE FROM generations WHERE id = ? AND status = 'draft'", arguments: [id])
        }
    }

    /// The county a generation's grids must tile: stored with it, else the union of its grids.
    func countyBoundary(of generation: Int64) throws -> [UInt8] {
        if let stored = try database.pool.read({ db in try Data.fetchOne(db, sql: "SELECT county FROM generations WHERE id = ?", arguments: [generation]) }) {
            return [UInt8](stored)
        }
        return try Self.union(try gridShapes(generation: generation).map(\.wkb))
    }

    static func union(_ shapes: [[UInt8]]) throws -> [UInt8] {
        let geos = try GEOSContext()
        let geometries = try shapes.map { try Geometry(wkb: $0, context: geos) }
        return try Geometry.collection(.geometryCollection, geometries, context: geos).unaryUnion().asMultiPolygon().wkb()
    }

    // MARK: Editing

    /// A generation's grids, villages, towns and county, for editing or checking.
    public func plan(_ generation: Int64) throws -> BoundaryPlan {
        let county = try countyBoundary(of: generation)
        return try database.pool.read { db in try Self.plan(db, generation: generation, county: county) }
    }

    static func plan(_ db: Database, generation: Int64, county: [UInt8]) throws -> BoundaryPlan {
        let grids = try Row.fetchAll(db, sql: """
            SELECT \(gridInfoColumns), AsBinary(g.geom) AS wkb
            FROM grids g
            JOIN villages v ON v.generation_id = g.generation_id AND v.code = g.village_code
            JOIN towns t ON t.generation_id = g.generation_id AND t.code = g.town_code
            WHERE g.generation_id = ? ORDER BY g.code
            """, arguments: [generation]).map { PlanGrid(info: gridInfo($0), wkb: [UInt8]($0["wkb"] as Data)) }
        let villages = try Row.fetchAll(db, sql: "SELECT code, name, town_code, AsBinary(geom) AS wkb FROM villages WHERE generation_id = ?", arguments: [generation])
            .map { PlanArea(code: $0["code"], name: $0["name"], townCode: $0["town_code"], wkb: [UInt8]($0["wkb"] as Data)) }
        let towns = try Row.fetchAll(db, sql: "SELECT code, name, AsBinary(geom) AS wkb FROM towns WHERE generation_id = ?", arguments: [generation])
            .map { PlanArea(code: $0["code"], name: $0["name"], townCode: $0["code"], wkb: [UInt8]($0["wkb"] as Data)) }
        let used = try String.fetchSet(db, sql: "SELECT DISTINCT code FROM grids")
        return BoundaryPlan(grids: grids, villages: villages, towns: towns, county: county, usedCodes: used)
    }

    /// Edits a draft in one transaction: `body` makes edits with the editor
    /// (applying each), the result is checked around the edited grids, and
    /// written only if the check finds no error there. On any error nothing changes.
    public func editDraft(_ id: Int64?, thresholds: PlanThresholds, _ body: (PlanEditor) throws -> [PlanEdit]) throws -> PlanEditReport {
        let draft = try draft(id)
        let county = try countyBoundary(of: draft)
        return try database.pool.write { db in
            let before = try Self.plan(db, generation: draft, county: county)
            let (after, edits, problems) = try Self.checkedEdit(of: before, thresholds: thresholds, body)
            try Self.writeChanges(db, generation: draft, from: before, to: after)
            return PlanEditReport(generation: draft, edits: edits, warnings: problems)
        }
    }

    /// Runs an edit on a plan in memory and checks the result around the edited
    /// grids: the edited plan, the edits and the problems found (warnings only;
    /// an error there refuses the edit).
    static func checkedEdit(of before: BoundaryPlan, thresholds: PlanThresholds, _ body: (PlanEditor) throws -> [PlanEdit])
        throws -> (after: BoundaryPlan, edits: [PlanEdit], problems: [PlanProblem]) {
        let editor = try PlanEditor(plan: before)
        let edits: [PlanEdit]
        do {
            edits = try body(editor)
        } catch let error as GeoError {
            throw WanggeError.invalid(error.text)
        }
        let after = editor.plan
        let touched = Set(edits.flatMap { $0.changed.map(\.info.code) })
        let region = try union(edits.map(\.region))
        let problems = try PlanValidator(thresholds: thresholds).problems(in: after, focus: (touched, region))
        let errors = problems.errors
        guard errors.isEmpty else {
            throw WanggeError.refused(.joined([tr("the edit would leave the draft with \(errors.count) problem\(errors.count == 1 ? "" : "s"); nothing was changed:")]
                              + errors.prefix(20).map { tr("  \($0.text)") }, separator: "\n"))
        }
        return (after, edits, problems)
    }

    /// What differs between two plans of a draft: the grids, villages and towns to delete (by code) and to insert.
    struct PlanDifferences {
        var deletedGrids: [String] = []
        var insertedGrids: [PlanGrid] = []
        var deletedVillages: [String] = [], insertedVillages: [PlanArea] = []
        var deletedTowns: [String] = [], insertedTowns: [PlanArea] = []

        init(from before: BoundaryPlan, to after: BoundaryPlan) {
            let old = Dictionary(uniqueKeysWithValues: before.grids.map { ($0.info.code, $0) })
            let new = Dictionary(uniqueKeysWithValues: after.grids.map { ($0.info.code, $0) })
            deletedGrids = old.filter { new[$0.key] != $0.value }.keys.sorted()
            insertedGrids = new.filter { old[$0.key] != $0.value }.values.sorted { $0.info.code < $1.info.code }
            deletedVillages = before.villages.filter { after.villages[$0.key] != $0.value }.keys.sorted()
            insertedVillages = after.villages.filter { before.villages[$0.key] != $0.value }.values.sorted { $0.code < $1.code }
            deletedTowns = before.towns.filter { after.towns[$0.key] != $0.value }.keys.sorted()
            insertedTowns = after.towns.filter { before.towns[$0.key] != $0.value }.values.sorted { $0.code < $1.code }
        }
    }

    /// Writes the grids, villages and towns that differ between two plans of a draft.
    static func writeChanges(_ db: Database, generation: Int64, from before: BoundaryPlan, to after: BoundaryPlan) throws {
        let differences = PlanDifferences(from: before, to: after)
        // Explicit DELETE and INSERT, not REPLACE: SpatiaLite's index triggers must see both.
        for (table, codes) in [("grids", differences.deletedGrids), ("villages", differences.deletedVillages), ("towns", differences.deletedTowns)] {
            for code in codes { try db.execute(sql: "DELETE FROM \(table) WHERE generation_id = ? AND code = ?", arguments: [generation, code]) }
        }
        for grid in differences.insertedGrids { try insertGrid(db, generation: generation, grid.info, wkb: grid.wkb) }
        for village in differences.insertedVillages { try insertVillage(db, generation: generation, village) }
        for town in differences.insertedTowns { try insertTown(db, generation: generation, town) }
        try db.execute(sql: "UPDATE generations SET revision = revision + 1 WHERE id = ?", arguments: [generation])
    }

    /// Every problem of a generation's coverage.
    public func validate(_ generation: Int64, thresholds: PlanThresholds) throws -> [PlanProblem] {
        _ = try self.generation(generation)
        return try PlanValidator(thresholds: thresholds).problems(in: try plan(generation))
    }

    // MARK: Rows

    static func insertGeneration(_ db: Database, name: String, status: GenerationStatus, source: String?, parent: Int64?, county: [UInt8]) throws -> Int64 {
        try db.execute(sql: "INSERT INTO generations (name, status, source, parent_id, created_at, county) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [name, status.rawValue, source, parent, timestamp(Date()), Data(county)])
        return db.lastInsertedRowID
    }

    static func insertAreas(_ db: Database, generation: Int64, hierarchy: (villages: [PlanArea], towns: [PlanArea]),
                            features: [GridFeature], shapes: [GridShape]) throws {
        for town in hierarchy.towns { try insertTown(db, generation: generation, town) }
        for village in hierarchy.villages { try insertVillage(db, generation: generation, village) }
        for (feature, shape) in zip(features, shapes) { try insertGrid(db, generation: generation, feature.info, wkb: shape.wkb) }
    }

    static func insertGrid(_ db: Database, generation: Int64, _ i: GridInfo, wkb: [UInt8]) throws {
        try db.execute(sql: """
            INSERT INTO grids (generation_id, code, name, village_code, town_code, worker_name, worker_phone, area_m2, geom)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, GeomFromWKB(?, 4326))
            """, arguments: [generation, i.code, i.name, i.villageCode, i.townCode, i.workerName, i.workerPhone, i.areaSquareMetres ?? 0, Data(wkb)])
    }

    static func insertVillage(_ db: Database, generation: Int64, _ village: PlanArea) throws {
        try db.execute(sql: "INSERT INTO villages (generation_id, code, name, town_code, geom) VALUES (?, ?, ?, ?, GeomFromWKB(?, 4326))",
                       arguments: [generation, village.code, village.name, village.townCode, Data(village.wkb)])
    }

    static func insertTown(_ db: Database, generation: Int64, _ town: PlanArea) throws {
        try db.execute(sql: "INSERT INTO towns (generation_id, code, name, geom) VALUES (?, ?, ?, GeomFromWKB(?, 4326))",
                       arguments: [generation, town.code, town.name, Data(town.wkb)])
    }

    /// A time in the stored form (UTC), as generations, tokens and the audit log keep it; the same as `time`.
    public static func timestamp(_ date: Date) -> String { time(date) }

    // MARK: Activation

    /// Makes a draft the active generation: every stored point is assigned to
    /// its grids (computed first, outside the transaction), then one
    /// transaction retires the active generation, activates the draft, writes
    /// the assignments and re-routes open incidents whose grid changes. Points
    /// reported or imported meanwhile are assigned inside that transaction,
    /// so activation succeeds on a live system. A draft with coverage errors
    /// is refused. A crash at any point leaves the previous generation active
    /// and everything whole.
    public func activate(_ id: Int64, thresholds: PlanThresholds, dispatch: DispatchRules, at now: Date = Date()) throws -> ActivationReport {
        let draft = try draft(id, for: Self.activatedPurpose)
        try Self.refuseCoverageErrors(of: draft, try validate(draft, thresholds: thresholds).errors)
        return try reactivate(draft, expecting: .draft, actor: "plan activate", dispatch: dispatch, at: now)
    }

    static let activatedPurpose = tr("activated (a rollback re-activates the last retired one)")

    static func refuseCoverageErrors(of draft: Int64, _ errors: [PlanProblem]) throws {
        guard errors.isEmpty else {
            throw WanggeError.refused(.joined([tr("generation \(draft) has \(errors.count) coverage problem\(errors.count == 1 ? "" : "s"); fix them first (validating the draft lists them):")]
                              + errors.prefix(20).map { tr("  \($0.text)") }, separator: "\n"))
        }
    }

    /// The generation a rollback re-activates: the one retired last.
    static let rollbackTargetSQL = """
        SELECT id FROM generations WHERE status = 'retired'
        ORDER BY coalesce(retired_at, activated_at, created_at) DESC, id DESC LIMIT 1
        """

    /// Re-activates the most recently retired generation, retiring the active one.
    public func rollback(dispatch: DispatchRules, at now: Date = Date()) throws -> ActivationReport {
        let target = try database.pool.read { db in
            try Int64.fetchOne(db, sql: Self.rollbackTargetSQL)
        }
        guard let target else { throw WanggeError.notFound(tr("no retired generation to roll back to")) }
        return try reactivate(target, expecting: .retired, actor: "plan rollback", dispatch: dispatch, at: now)
    }

    /// `afterComputing` runs between the computation and the transaction (tests add points there).
    func reactivate(_ id: Int64, expecting status: GenerationStatus, actor: String, dispatch: DispatchRules, at now: Date,
                    afterComputing: () throws -> Void = {}) throws -> ActivationReport {
        let rules = rules
        return try Self.reactivating(id, expecting: status, rules: rules, generation: generation, gridShapes: { try gridShapes(generation: $0) },
                                     storedPoints: { try database.pool.read(Self.storedPoints) }, afterComputing: afterComputing) { computed in
            try database.pool.write { db in
                try computed.recheck(current: try Self.generationSummaries(db, id: id).first, stored: try Self.storedPoints(db))
                return try Self.withBulkWriteCache(db) {
                    try Self.activate(db, generation: id, assigner: computed.assigner, points: computed.points, assignments: computed.assignments,
                                      rules: rules, actor: actor, dispatch: dispatch, at: now)
                }
            }
        }
    }

    /// An activation's assignments, computed before its transaction from the generation as it was read.
    final class ComputedActivation {
        let generation: GenerationSummary
        let assigner: GridAssigner
        private(set) var points: [StoredPoint]
        private(set) var assignments: [PointAssignment]

        init(generation: GenerationSummary, assigner: GridAssigner, points: [StoredPoint]) throws {
            self.generation = generation
            self.assigner = assigner
            self.points = points
            assignments = try assigner.assign(points.map(\.position))
        }

        /// Inside the transaction: the grids were read outside it, so an edit of the generation meanwhile
        /// (or a change of its status) means starting again (`ActivationRace`); points that arrived meanwhile
        /// (reports come in all the time) are assigned here, with the grids already built.
        func recheck(current: GenerationSummary?, stored: [StoredPoint]) throws {
            guard let current, current.revision == generation.revision, current.status == generation.status else { throw ActivationRace() }
            if stored != points {
                points = stored
                assignments = try assigner.assign(points.map(\.position))
            }
        }
    }

    /// The activation of either store: up to three attempts, each computing the assignments
    /// outside the transaction and writing them in `transaction` (which rechecks them).
    static func reactivating(_ id: Int64, expecting status: GenerationStatus, rules: AssignmentRules,
                             generation: (Int64) throws -> GenerationSummary, gridShapes: (Int64) throws -> [GridShape],
                             storedPoints: () throws -> [StoredPoint], afterComputing: () throws -> Void,
                             transaction: (ComputedActivation) throws -> (retired: Int64?, rerouted: Int, tokens: [TokenScopeChange]))
        throws -> ActivationReport {
        let start = Date()
        for attempt in 1...3 {
            let generation = try generation(id)
            guard generation.status == status else {
                throw WanggeError.invalid(tr("generation \(id) is \(generation.status.rawValue), not \(status.rawValue)"))
            }
            let computed = try ComputedActivation(generation: generation, assigner: try GridAssigner(shapes: try gridShapes(id), rules: rules),
                                                  points: try storedPoints())
            try afterComputing()
            do {
                let (retired, rerouted, tokens) = try transaction(computed)
                var report = ActivationReport(generation: id, name: generation.name, retired: retired, assigned: [:], rerouted: rerouted,
                                              tokens: tokens, seconds: Date().timeIntervalSince(start))
                for a in computed.assignments { report.assigned[a.method, default: 0] += 1 }
                return report
            } catch is ActivationRace {
                if attempt == 3 { throw WanggeError.invalid(tr("generation \(id) was edited or changed status during activation; try again")) }
            }
        }
        throw WanggeError.invalid(tr("activation of generation \(id) did not finish"))
    }

    /// Inside a write transaction: retires the active generation, activates
    /// `generation` with its assignments, re-routes open incidents and carries
    /// grid workers' tokens over to the new grids. Returns the retired
    /// generation, the number of incidents re-routed and the tokens changed.
    static func activate(_ db: Database, generation: Int64, assigner: GridAssigner, points: [StoredPoint], assignments: [PointAssignment],
                         rules: AssignmentRules, actor: String, dispatch: DispatchRules, at now: Date)
        throws -> (retired: Int64?, rerouted: Int, tokens: [TokenScopeChange]) {
        let time = timestamp(now)
        let retired = try Int64.fetchOne(db, sql: "SELECT id FROM generations WHERE status = 'active'")
        try db.execute(sql: "UPDATE generations SET status = 'retired', retired_at = ? WHERE status = 'active'", arguments: [time])
        try db.execute(sql: """
            UPDATE generations SET status = 'active', activated_at = ?, retired_at = NULL, nearest_tolerance_m = ?, near_boundary_m = ?
            WHERE id = ?
            """, arguments: [time, rules.nearestToleranceMeters, rules.nearBoundaryMeters, generation])
        // A re-activated generation gets today's assignments, not those of its first time.
        try db.execute(sql: "DELETE FROM assignments WHERE generation_id = ?", arguments: [generation])
        try writeAssignments(db, generation: generation, codes: assigner.codes, points: points, assignments: assignments)
        let rerouted = try regridOpenIncidents(db, generation: generation, at: now, actor: actor, rules: dispatch)
        let tokens = try rescopeTokens(db, from: retired, to: generation)
        pauseForCrashTest()
        return (retired, rerouted, tokens)
    }

    /// With WANGGE_TEST_PAUSE_IN_ACTIVATION=SECONDS, an activation waits that
    /// long inside its transaction, after every write, so that a test can
    /// kill the process there and check that nothing of it stays.
    static func pauseForCrashTest() {
        guard let text = ProcessInfo.processInfo.environment["WANGGE_TEST_PAUSE_IN_ACTIVATION"], let seconds = Double(text) else { return }
        FileHandle.standardError.write(Data("activation: paused inside the transaction\n".utf8))
        Thread.sleep(forTimeInterval: seconds)
    }

    // MARK: History

    /// The grid a household, camera or incident had in every generation that assigned it.
    public func history(_ layer: PointLayer, id: String) throws -> [(generation: GenerationSummary, grid: String?, method: AssignmentMethod?)] {
        try database.pool.read { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(layer.table) WHERE id = ?)", arguments: [id]) == true else {
                throw WanggeError.notFound(tr("no \(layer.rawValue) \(id)"))
            }
            let summaries = try Self.generationSummaries(db, id: nil).filter { $0.status != .draft }
            return try summaries.compactMap { generation in
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT grid_code, method FROM assignments WHERE generation_id = ? AND layer = ? AND feature_id = ?
                    """, arguments: [generation.id, layer.rawValue, id]) else { return nil }
                return (generation, row["grid_code"], AssignmentMethod(rawValue: row["method"]))
            }
        }
    }
}
