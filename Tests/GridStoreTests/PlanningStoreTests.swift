import Foundation
import GRDB
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridStore

/// The sample grids with households and incidents in and around the grid
/// that the tests split (和桥社区第二网格), and random households elsewhere.
final class PlanningFixture {
    static let splitGrid = "430981-001-017-002"
    /// A north–south line through the middle of the grid, crossing it once.
    static let splitLine = "LINESTRING(112.357361 28.836, 112.357361 28.850)"
    private let copy: TemporaryStore
    var store: GridStore { copy.store }
    var path: String { copy.path }

    /// Built once and copied for each test: the imports are the slow part.
    static let template: Result<String, Error> = Result {
        let t = try TemporaryStore()
        let store = t.store
        _ = try store.importGrids(path: Fixtures.sampleGrids)
        var csv = "id,lon,lat,members\n"
        // A lattice over the grid's envelope: both sides of the line and its neighbours.
        for i in 0..<20 {
            for j in 0..<20 {
                csv += "L\(i)-\(j),\(112.3512 + Double(i) * 0.0006),\(28.8375 + Double(j) * 0.00055),\((i + j) % 4 + 1)\n"
            }
        }
        var random = SeededRandom(seed: 17)
        for k in 0..<1_500 {
            let p = random.point(in: Envelope(minX: 112.25, minY: 28.71, maxX: 112.94, maxY: 29.18))
            csv += "R\(k),\(p.lon),\(p.lat),\(k % 3 + 1)\n"
        }
        _ = try store.importPoints(.households, path: try t.file("h.csv", csv))
        var incidents = "id,lon,lat,category,channel,status\n"
        for (k, lon) in [112.353, 112.355, 112.359, 112.361].enumerated() {
            incidents += "E\(k),\(lon),28.8425,矛盾纠纷,12345,\(k == 3 ? "closed" : "reported")\n"
        }
        _ = try store.importPoints(.incidents, path: try t.file("e.csv", incidents), dispatch: DispatchRules())
        _ = try store.database.pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        let copy = Fixtures.temporaryPath("planning-template.sqlite")
        try FileManager.default.copyItem(atPath: t.path, toPath: copy)
        return copy
    }

    init() throws { copy = try TemporaryStore(copyOf: try Self.template.get()) }

    /// Writes a fixture file and remembers to remove it.
    func file(_ name: String, _ text: String) throws -> String { try copy.file(name, text) }

    /// A draft of the active generation with the split made.
    func splitDraft() throws -> (draft: Int64, codes: [String]) {
        let draft = try store.createDraft(name: "2027年网格调整")
        let line = try GEOSContext().wkb(wkt: Self.splitLine)
        let report = try store.editDraft(draft, thresholds: PlanThresholds()) { editor in
            [try editor.applied(try editor.split(Self.splitGrid, along: line))]
        }
        let codes = report.edits[0].changed.map(\.info.code).filter { $0.hasPrefix("430981-001-017-") && $0 > "430981-001-017-004" }
        return (draft, codes)
    }

    /// Every grid of a generation as (code, WKB), to prove nothing changed.
    func snapshot(_ generation: Int64) throws -> [String: [UInt8]] {
        Dictionary(uniqueKeysWithValues: try store.gridShapes(generation: generation).map { ($0.code, $0.wkb) })
    }
}

extension GEOSContext {
    func wkb(wkt: String) throws -> [UInt8] { try Geometry(wkt: wkt, context: self).wkb() }
}

@Suite(.serialized) struct PlanningStoreTests {
    @Test func aDraftIsACopyAndOnlyDraftsCanBeEdited() throws {
        let f = try PlanningFixture()
        let draft = try f.store.createDraft(name: "调整")
        #expect(try f.snapshot(draft) == f.snapshot(1))
        let generations = try f.store.generations()
        #expect(generations.map(\.status) == [.active, .draft] && generations[1].parent == 1 && generations[1].grids == 271)
        #expect(try f.store.validate(draft, thresholds: PlanThresholds()).errors.isEmpty)
        #expect { try f.store.editDraft(1, thresholds: PlanThresholds()) { _ in [] } } throws: {
            "\($0)" == "generation 1 is active, not a draft: only drafts can be edited"
        }
    }

    /// A draft other drafts were started from can be deleted (schemathesis found a 500:
    /// the children's parent_id kept the foreign key); they then descend from its parent.
    @Test func aDraftOthersWereStartedFromCanBeDeleted() throws {
        let f = try PlanningFixture()
        let first = try f.store.createDraft(name: "一稿")
        let second = try f.store.createDraft(from: first, name: "二稿")
        try f.store.deleteDraft(first)
        let generations = try f.store.generations()
        #expect(generations.map(\.id) == [1, second] && generations[1].parent == 1)
        #expect(try f.snapshot(second) == f.snapshot(1))
        let integrity = try f.store.database.pool.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
        #expect(integrity.isEmpty)
    }

    @Test func aFailedEditLeavesTheDraftUnchanged() throws {
        let f = try PlanningFixture()
        let draft = try f.store.createDraft(name: "调整")
        let before = try f.snapshot(draft)
        let revision = try f.store.generation(draft).revision
        let line = try GEOSContext().wkb(wkt: PlanningFixture.splitLine)
        // The split succeeds and is applied in memory; the merge after it fails: neither is written.
        #expect { try f.store.editDraft(draft, thresholds: PlanThresholds()) { editor in
            let split = try editor.applied(try editor.split(PlanningFixture.splitGrid, along: line))
            return [split, try editor.applied(try editor.merge(["430981-001-017-001", "430981-003-001-001"]))]
        } } throws: { "\($0)".hasPrefix("merge: grid 430981-003-001-001 is in village 430981-003-001") }
        #expect(try f.snapshot(draft) == before)
        #expect(try f.store.generation(draft).revision == revision)
        let villages = try f.store.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM villages WHERE generation_id = ?", arguments: [draft]) }
        #expect(villages == 165)
    }

    /// The preview's counts against an independent recount: SQL over the
    /// stored assignments after activation, and GEOS point-in-polygon on the draft.
    @Test func diffMatchesTheAssignmentsAfterActivationAndHistoryIsKept() throws {
        let f = try PlanningFixture()
        let (draft, pieces) = try f.splitDraft()
        #expect(pieces.count == 2)
        let preview = try f.store.impact(of: draft)
        #expect(preview.changes[PlanningFixture.splitGrid] == .removed && pieces.allSatisfy { preview.changes[$0] == .added })
        let moved = preview.impact.moves.reduce(0) { $0 + $1.counts.households }
        #expect(moved > 100, "the lattice puts many households in the split grid")

        // Independent: GEOS point-in-polygon of every household on the two new grids.
        let geos = try GEOSContext()
        let positions = try f.store.database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT X(geom), Y(geom) FROM households").map { LonLat($0[0], $0[1]) }
        }
        for piece in pieces {
            let shape = try PreparedGeometry(try Geometry(wkb: try f.store.gridShapes(generation: draft).first { $0.code == piece }!.wkb, context: geos))
            let inside = try positions.filter { try shape.contains(try Geometry.point(x: $0.lon, y: $0.lat, context: geos)) }.count
            #expect(preview.impact.after[piece]?.households == inside, "\(piece)")
        }

        let activation = try f.store.activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules())
        #expect(activation.retired == 1 && activation.rerouted == 3)
        #expect(try f.store.activeGeneration() == draft)
        // SQL over the two generations' stored assignments.
        let stored = try f.store.database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT a.grid_code, b.grid_code, count(*), sum(h.members) FROM households h
                JOIN assignments a ON a.generation_id = 1 AND a.layer = 'household' AND a.feature_id = h.id
                JOIN assignments b ON b.generation_id = ? AND b.layer = 'household' AND b.feature_id = h.id
                WHERE a.grid_code IS NOT b.grid_code GROUP BY a.grid_code, b.grid_code ORDER BY a.grid_code, b.grid_code
                """, arguments: [draft]).map { "\($0[0] as String? ?? "-")→\($0[1] as String? ?? "-"): \($0[2] as Int) \($0[3] as Int)" }
        }
        let previewed = preview.impact.moves.filter { $0.counts.households > 0 }
            .map { "\($0.from ?? "-")→\($0.to ?? "-"): \($0.counts.households) \($0.counts.residents)" }
        #expect(previewed == stored)
        let openMoved = try f.store.database.pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM incidents i
                JOIN assignments a ON a.generation_id = 1 AND a.layer = 'incident' AND a.feature_id = i.id
                JOIN assignments b ON b.generation_id = ? AND b.layer = 'incident' AND b.feature_id = i.id
                WHERE a.grid_code IS NOT b.grid_code AND i.status NOT IN ('resolved', 'closed')
                """, arguments: [draft])
        }
        #expect(preview.impact.moves.reduce(0) { $0 + $1.counts.openIncidents } == openMoved && openMoved == 3)

        // History: the household keeps its old grid in the retired generation.
        let history = try f.store.history(.households, id: "L5-10")
        #expect(history.map(\.generation.status) == [.retired, .active])
        #expect(history[0].grid == PlanningFixture.splitGrid && pieces.contains(history[1].grid ?? ""))
        #expect(try f.store.households(grid: PlanningFixture.splitGrid, generation: 1).contains { $0.id == "L5-10" })
        #expect(try f.store.statistics(by: .grid, generation: 1).count == 271)

        // Open incidents follow their grid, with the move in their history; the closed one stays.
        for id in ["E0", "E1", "E2"] {
            let incident = try f.store.incident(id: id)
            #expect(pieces.contains(incident.grid ?? ""), "\(id): \(incident.grid ?? "-")")
            #expect(incident.history?.last?.actor == "plan activate")
        }
        #expect(try f.store.incident(id: "E3").grid == PlanningFixture.splitGrid)
        #expect(try f.store.generation(draft).rules == AssignmentRules())

        // Rollback: generation 1 again, the incidents back in the old grid.
        let rollback = try f.store.rollback(dispatch: DispatchRules())
        #expect(rollback.generation == 1 && rollback.retired == draft && rollback.rerouted == 3)
        #expect(try f.store.generations().map(\.status) == [.active, .retired])
        #expect(try f.store.incident(id: "E0").grid == PlanningFixture.splitGrid)
        #expect(try f.store.history(.households, id: "L5-10").map(\.grid) == [PlanningFixture.splitGrid, history[1].grid])
    }

    /// Reports keep arriving while an activation computes (one between its
    /// reading of the points and its transaction, on every attempt): it must
    /// still succeed, and those reports get grids of the new generation.
    @Test func activationSucceedsWhileReportsArrive() throws {
        let f = try PlanningFixture()
        let (draft, pieces) = try f.splitDraft()
        var reported: [String] = []
        let activation = try f.store.reactivate(draft, expecting: .draft, actor: "plan activate", dispatch: DispatchRules(), at: Date()) {
            let position = LonLat(112.3540 + Double(reported.count) * 0.0006, 28.8425)
            let report = IncidentReport(position: position, source: (position.lon, position.lat, .wgs84), category: "环境卫生",
                                        channel: "12345", severity: "简单", description: nil, reporter: nil, reportedAt: Date())
            reported.append(try f.store.report(report, rules: DispatchRules()).id)
        }
        #expect(activation.generation == draft && reported.count == 1)
        #expect(try f.store.activeGeneration() == draft)
        let points = try f.store.database.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT (SELECT count(*) FROM households) + (SELECT count(*) FROM cameras) + (SELECT count(*) FROM incidents)")
        }
        #expect(activation.assigned.values.reduce(0, +) == points)
        for id in reported {
            let grid = try f.store.database.pool.read { db in
                try String.fetchOne(db, sql: "SELECT grid_code FROM assignments WHERE generation_id = ? AND layer = 'incident' AND feature_id = ?",
                                    arguments: [draft, id])
            }
            #expect(pieces.contains(grid ?? ""), "\(id) in the new generation: \(grid ?? "none")")
            #expect(pieces.contains(try f.store.incident(id: id).grid ?? ""), "\(id) re-routed to its new grid")
        }
    }

    @Test func aDraftWithCoverageErrorsCannotBeActivated() throws {
        let f = try PlanningFixture()
        // The sample grids without one grid: a gap where it was.
        let text = try String(contentsOfFile: Fixtures.sampleGrids, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("\"code\":\"430981-001-017-003\"") }
        var file = lines.joined(separator: "\n")
        file = file.replacingOccurrences(of: "},\n]}", with: "}\n]}")
        let report = try f.store.importDraft(path: try f.file("draft.geojson", file), name: "缺一格")
        #expect(report.imported == 270 && report.generation == 2)
        let problems = try f.store.validate(2, thresholds: PlanThresholds())
        let gap = try #require(problems.errors.first)
        #expect(gap.kind == .gap && problems.errors.count == 1)
        // Where the removed grid was: its shape in generation 1 covers the reported place.
        let geos = try GEOSContext()
        let removed = try Geometry(wkb: try f.store.gridShapes(generation: 1).first { $0.code == "430981-001-017-003" }!.wkb, context: geos)
        #expect(try removed.covers(try Geometry.point(x: gap.location!.lon, y: gap.location!.lat, context: geos)))
        let area = try f.store.grids(generation: 1).first { $0.code == "430981-001-017-003" }!.areaSquareMetres!
        #expect(abs(gap.areaSquareMetres! - area) / area < 1e-4)
        #expect { try f.store.activate(2, thresholds: PlanThresholds(), dispatch: DispatchRules()) } throws: {
            "\($0)".hasPrefix("generation 2 has 1 coverage problem; fix them first (validating the draft lists them):\n  error: no grid covers this part of the county")
        }
        #expect(try f.store.activeGeneration() == 1)
    }

    @Test func suggestionsSplitOverloadedGrids() throws {
        let f = try PlanningFixture()
        let result = try f.store.suggestDraft(maxHouseholds: 150, name: "建议", thresholds: PlanThresholds())
        #expect(result.overloaded.map(\.code).contains(PlanningFixture.splitGrid))
        let preview = try f.store.impact(of: result.draft)
        for grid in try f.store.grids(generation: result.draft) where preview.changes[grid.code] == .added {
            #expect((preview.impact.after[grid.code]?.households ?? 0) <= 150, "\(grid.code)")
        }
        #expect(try f.store.validate(result.draft, thresholds: PlanThresholds()).errors.isEmpty)
    }
}

@Suite struct ReportDuringActivationTests {
    /// The server locates with an index it refreshes every few seconds: a
    /// report located with generation 1's index after generation 2 became
    /// active must be stored, assigned and routed under generation 2.
    @Test func aReportLocatedWithARetiredGenerationIsStoredUnderTheActiveOne() throws {
        let f = try PlanningFixture()
        let stale = try f.store.placement()
        #expect(stale.generation == 1)
        let (draft, pieces) = try f.splitDraft()
        _ = try f.store.activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules())
        // West of the split line, inside the grid that generation 2 split.
        let place = LonLat(112.355, 28.8425)
        #expect(try stale.locate(place).grid >= 0 && stale.codes[Int(try stale.locate(place).grid)] == PlanningFixture.splitGrid)
        let report = IncidentReport(position: place, source: (place.lon, place.lat, .wgs84), category: "矛盾纠纷", channel: "12345",
                                    severity: nil, description: nil, reporter: "测试", reportedAt: Date())
        let (id, routing) = try f.store.report(report, rules: DispatchRules(), placement: stale)
        #expect(pieces.contains(routing.grid), "routed to \(routing.grid)")
        #expect(try f.store.incident(id: id).grid == routing.grid)
        let generations = try f.store.database.pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT generation_id FROM assignments WHERE layer = 'incident' AND feature_id = ?", arguments: [id])
        }
        #expect(generations == [draft])
    }
}

extension ReportDuringActivationTests {
    /// A move located with the retired generation's index is assigned in the active one.
    @Test func aMoveLocatedWithARetiredGenerationIsAssignedInTheActiveOne() throws {
        let f = try PlanningFixture()
        let stale = try f.store.placement()
        let (draft, pieces) = try f.splitDraft()
        _ = try f.store.activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules())
        let before = try f.store.incident(id: "E2")
        var change = IncidentChange(.move, actor: "调度员", note: nil, expectedVersion: before.version)
        change.position = LonLat(112.355, 28.8425)
        change.source = (112.355, 28.8425, .wgs84)
        let moved = try f.store.apply(change, to: "E2", rules: DispatchRules(), placement: stale)
        #expect(pieces.contains(moved.grid ?? ""), "moved to \(moved.grid ?? "no grid")")
        let assigned = try f.store.database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT grid_code FROM assignments WHERE generation_id = ? AND layer = 'incident' AND feature_id = 'E2'",
                                arguments: [draft])
        }
        #expect(assigned == moved.grid)
    }
}
