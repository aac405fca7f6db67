import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

/// The impact preview of a draft, with how long each step took.
public struct PlanImpactReport: Sendable {
    public var draft: Int64
    public var base: Int64
    public var impact: PlanImpact
    public var changes: [String: GridChangeKind]
    public var timing: [(step: String, seconds: Double)]
    public var points: Int

    public var seconds: Double { timing.reduce(0) { $0 + $1.seconds } }
}

extension GridStore {
    /// What activating `draft` would move, against `base` (default: the active
    /// generation): the stored points are assigned to the draft's grids in
    /// memory (nothing is written) and compared with their base assignments.
    public func impact(of draft: Int64, against base: Int64? = nil) throws -> PlanImpactReport {
        let base = try base ?? activeGeneration()
        return try Self.impact(of: draft, against: base, rules: rules, read: {
            let (points, before) = try database.pool.read { db in try Self.impactPoints(db, generation: base) }
            let (gridsBefore, gridsAfter, shapes) = try database.pool.read { db in
                (try Self.gridInfos(db, generation: base), try Self.gridInfos(db, generation: draft),
                 try Row.fetchAll(db, sql: "SELECT code, AsBinary(geom) AS wkb FROM grids WHERE generation_id = ? ORDER BY code", arguments: [draft])
                    .map { GridShape(code: $0["code"], wkb: [UInt8]($0["wkb"] as Data)) })
            }
            return ImpactInputs(points: points, before: before, gridsBefore: gridsBefore, gridsAfter: gridsAfter, shapes: shapes)
        }, changes: { try gridChanges(from: base, to: draft) })
    }

    /// What an impact preview reads: every stored point with its grid in the base, both generations' grids, the draft's shapes.
    struct ImpactInputs {
        var points: [ImpactPoint]
        var before: [String?]
        var gridsBefore: [GridInfo]
        var gridsAfter: [GridInfo]
        var shapes: [GridShape]
    }

    /// The impact preview of either store, timed step by step.
    static func impact(of draft: Int64, against base: Int64, rules: AssignmentRules, read: () throws -> ImpactInputs,
                       changes: () throws -> [String: GridChangeKind]) throws -> PlanImpactReport {
        var timing: [(String, Double)] = []
        var clock = Date()
        func lap(_ step: String) {
            timing.append((step, Date().timeIntervalSince(clock)))
            clock = Date()
        }
        let inputs = try read()
        let (points, shapes) = (inputs.points, inputs.shapes)
        lap("read \(points.count) points and their grids")
        // The bulk index builds in about 0.2 s for a county and decides most points with one lookup.
        let assigner = try GridAssigner(shapes: shapes, rules: rules)
        lap("index \(shapes.count) draft grids")
        let assignments = try assigner.assign(points.map(\.position))
        let after = assignments.map { $0.grid >= 0 ? assigner.codes[Int($0.grid)] : nil }
        lap("assign to the draft")
        let changes = try changes()
        let impact = PlanImpact(points: points, before: inputs.before, after: after, gridsBefore: inputs.gridsBefore,
                                gridsAfter: inputs.gridsAfter, changes: changes)
        lap("compare")
        return PlanImpactReport(draft: draft, base: base, impact: impact, changes: changes, timing: timing, points: points.count)
    }

    /// Every stored point with its residents or open status, and its grid in `generation`.
    static func impactPoints(_ db: Database, generation: Int64) throws -> ([ImpactPoint], [String?]) {
        var points: [ImpactPoint] = []
        var grids: [String?] = []
        let queries: [(PointLayer, String)] = [
            (.households, "members, 0 AS is_open"),
            (.cameras, "0 AS members, 0 AS is_open"),
            (.incidents, "0 AS members, status NOT IN ('resolved', 'closed') AS is_open"),
        ]
        for (layer, extra) in queries {
            let rows = try Row.fetchCursor(db, sql: """
                SELECT X(p.geom) AS lon, Y(p.geom) AS lat, \(extra), a.grid_code FROM \(layer.table) p
                LEFT JOIN assignments a ON a.generation_id = ? AND a.layer = ? AND a.feature_id = p.id
                """, arguments: [generation, layer.rawValue])
            while let row = try rows.next() {
                points.append(ImpactPoint(layer: layer, position: LonLat(row["lon"], row["lat"]), members: row["members"], isOpen: row["is_open"]))
                grids.append(row["grid_code"])
            }
        }
        return (points, grids)
    }

    /// How each grid of `to` differs from `from`, by code; unchanged grids are left out.
    public func gridChanges(from: Int64, to: Int64) throws -> [String: GridChangeKind] {
        let (old, new) = try database.pool.read { db in
            (try Self.plan(db, generation: from, county: []).grids, try Self.plan(db, generation: to, county: []).grids)
        }
        return try Self.gridChanges(from: old, to: new)
    }

    /// How each grid of `new` differs from `old`, by code; unchanged grids are left out.
    static func gridChanges(from old: [PlanGrid], to new: [PlanGrid]) throws -> [String: GridChangeKind] {
        let oldByCode = Dictionary(uniqueKeysWithValues: old.map { ($0.info.code, $0) })
        let newCodes = Set(new.map(\.info.code))
        var changes: [String: GridChangeKind] = [:]
        for code in oldByCode.keys where !newCodes.contains(code) { changes[code] = .removed }
        let geos = try GEOSContext()
        for grid in new {
            guard let previous = oldByCode[grid.info.code] else {
                changes[grid.info.code] = .added
                continue
            }
            if grid.wkb != previous.wkb {
                // Vertices added on an edge by a neighbour's cut do not make a reshape.
                let a = try Geometry(wkb: grid.wkb, context: geos), b = try Geometry(wkb: previous.wkb, context: geos)
                let moved = try LocalArea.squareMetres(of: try a.difference(b)) + LocalArea.squareMetres(of: try b.difference(a))
                if moved >= PlanThresholds.noiseSquareMetres {
                    changes[grid.info.code] = .reshaped
                    continue
                }
            }
            var info = grid.info, previousInfo = previous.info
            info.areaSquareMetres = nil
            previousInfo.areaSquareMetres = nil
            if info != previousInfo { changes[grid.info.code] = .edited }
        }
        return changes
    }

    /// A new draft copying `source` in which every grid with more than
    /// `maxHouseholds` households (in `source`'s assignments) is split into
    /// compact parts (k-means of its households, Voronoi cuts), for the
    /// planner to review and edit. Grids that cannot be split stay and are named.
    public func suggestDraft(from source: Int64? = nil, maxHouseholds: Int, name: String, thresholds: PlanThresholds)
        throws -> (draft: Int64, report: PlanEditReport, overloaded: [(code: String, households: Int)]) {
        guard maxHouseholds > 0 else { throw WanggeError.invalid(tr("max_households: must be at least 1")) }
        let source = try source ?? activeGeneration()
        let households = try database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT a.grid_code, X(h.geom) AS lon, Y(h.geom) AS lat FROM households h
                JOIN assignments a ON a.generation_id = ? AND a.layer = 'household' AND a.feature_id = h.id
                WHERE a.grid_code IS NOT NULL ORDER BY a.grid_code, h.id
                """, arguments: [source])
        }
        return try Self.suggestDraft(households: households.map { ($0["grid_code"], LonLat($0["lon"], $0["lat"])) }, maxHouseholds: maxHouseholds,
                                     createDraft: { try createDraft(from: source, name: name) },
                                     editDraft: { try editDraft($0, thresholds: thresholds, $1) }, deleteDraft: { try deleteDraft($0) })
    }

    /// The suggestion of either store, from the source's households (grid, place; by grid, then id).
    static func suggestDraft(households: [(grid: String, position: LonLat)], maxHouseholds: Int,
                             createDraft: () throws -> Int64, editDraft: (Int64, (PlanEditor) throws -> [PlanEdit]) throws -> PlanEditReport,
                             deleteDraft: (Int64) throws -> Void)
        throws -> (draft: Int64, report: PlanEditReport, overloaded: [(code: String, households: Int)]) {
        let byGrid = Dictionary(grouping: households, by: \.grid).mapValues { $0.map(\.position) }
        let overloaded = byGrid.filter { $0.value.count > maxHouseholds }.map { ($0.key, $0.value.count) }.sorted { $0.0 < $1.0 }
        let draft = try createDraft()
        do {
            let report = try editDraft(draft) { editor in
                var edits: [PlanEdit] = []
                for (code, _) in overloaded {
                    guard let edit = try editor.splitByHouseholds(code, households: byGrid[code]!, maxHouseholds: maxHouseholds) else { continue }
                    try editor.apply(edit)
                    edits.append(edit)
                }
                return edits
            }
            return (draft, report, overloaded)
        } catch {
            try? deleteDraft(draft)
            throw error
        }
    }
}
