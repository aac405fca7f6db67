import Foundation
import Synchronization
import Testing
import TestSupport
import GeoKit
import GridCore
import Localization
@testable import GridApplication
@testable import GridStore

/// Planning on PostGIS gives SpatiaLite's answers: the same plan operations on
/// the same county give the same reports, generations, grids, statistics and
/// token scopes; two servers on one database never both activate.
@Suite(.serialized) struct PlanningParityTests {
    /// The grid PlanningStoreTests splits, and the line it splits it along.
    static let splitGrid = "430981-001-017-002"
    static let splitLine = "LINESTRING(112.357361 28.836, 112.357361 28.850)"
    static let activatedAt = Date(timeIntervalSince1970: 1_800_000_000)
    static let rolledBackAt = Date(timeIntervalSince1970: 1_800_003_600)

    /// Two grids of one village that border each other, and a grid with a neighbour in another
    /// village of its town (chosen on the reference's draft, so that both stores get the same edits).
    static func neighbours(_ grids: [GridInfo], shapes: [GridShape]) throws -> (merge: [String], move: (code: String, village: String)) {
        let geos = try GEOSContext()
        let shapeOf = Dictionary(uniqueKeysWithValues: try shapes.map { ($0.code, try Geometry(wkb: $0.wkb, context: geos)) })
        let inTown = grids.filter { $0.townCode == "430981-002" }
        var merge: [String]?, move: (String, String)?
        for (i, a) in inTown.enumerated() {
            for b in inTown[(i + 1)...] where try shapeOf[a.code]!.intersects(shapeOf[b.code]!) {
                if a.villageCode == b.villageCode, merge == nil { merge = [a.code, b.code] }
            }
        }
        for (i, a) in inTown.enumerated() {
            for b in inTown[(i + 1)...] where a.villageCode != b.villageCode && move == nil && !(merge ?? []).contains(b.code) {
                if try shapeOf[a.code]!.intersects(shapeOf[b.code]!) { move = (b.code, a.villageCode) }
            }
        }
        return (try #require(merge), try #require(move))
    }

    /// Everything the plan operations answer, in order, without the times a run cannot share (creation times, durations).
    static func transcript(_ store: any Repositories, merge: [String]?, move: (code: String, village: String)?) throws
        -> (lines: [String], draft: Int64, shapes: [GridShape], grids: [GridInfo]) {
        var lines: [String] = []
        func note(_ label: String, _ value: Any) { lines.append("\(label): \(value)") }
        func failure(_ body: () throws -> Any) -> String {
            do { return "no error: \(try body())" } catch { return "\((error as? WanggeError)?.kind.rawValue ?? "?") \(error)" }
        }
        func generations() throws {
            for g in try store.generations() {
                note("generation", [String(g.id), g.name, g.status.rawValue, g.source ?? "-", g.parent.map(String.init) ?? "-",
                                    // Generation 1 became active at its import, seconds apart on the two stores.
                                    g.activatedAt.map { $0.hasPrefix("2027") ? $0 : "imported" } ?? "-",
                                    g.retiredAt ?? "-", String(g.revision), String(g.grids), "\(String(describing: g.rules))"])
            }
        }
        func activation(_ r: ActivationReport) {
            note("activation", [String(r.generation), r.name, r.retired.map(String.init) ?? "-", String(r.rerouted)])
            note("assigned", AssignmentMethod.allCases.map { "\($0.rawValue) \(r.assigned[$0] ?? 0)" })
            note("tokens", r.tokens)
        }
        func state(_ generation: Int64?) throws {
            note("grids", try store.grids(generation: generation).map { "\($0)" })
            note("grid WKB", try store.gridShapes(generation: generation).map { "\($0.code) \($0.wkb)" })
            for level in [AreaLevel.village, .town] {
                note("\(level) WKB", try store.areaShapes(level, generation: generation).map { "\($0.code) \($0.name) \($0.wkb)" })
            }
        }
        let grids = try store.grids(generation: nil)
        let worker = try store.createToken(name: "和桥二格", role: .gridWorker, grids: [splitGrid], villages: [], towns: [], expiresAt: nil, hash: "split-worker")
        _ = try store.createToken(name: "和桥村", role: .gridWorker, grids: [], villages: ["430981-001-017"], towns: [], expiresAt: nil, hash: "village-worker")
        _ = try store.createToken(name: "邻格", role: .gridWorker, grids: [grids[0].code], villages: [], towns: [], expiresAt: nil, hash: "other-worker")

        note("no draft yet", failure { try store.draft(nil, for: tr("edited")) })
        let draft = try store.createDraft(from: nil, name: "2027年网格调整")
        note("the only draft", try store.draft(nil, for: tr("edited")))
        note("active is no draft", failure { try store.draft(1, for: tr("edited")) })
        let line = try Geometry(wkt: splitLine, context: try GEOSContext()).wkb()
        let split = try store.editDraft(draft, thresholds: PlanThresholds()) { editor in [try editor.applied(try editor.split(splitGrid, along: line))] }
        note("split", split.edits.map { "\($0.summary) removed \($0.removed) changed \($0.changed.map(\.info.code))" })
        note("split warnings", split.warnings.map(\.text.rendered))
        // Merge and move need the draft's shapes: the caller passes them in on the second store.
        let shapes = try store.gridShapes(generation: draft), draftGrids = try store.grids(generation: draft)
        let chosen = try merge.map { (merge: $0, move: move!) } ?? neighbours(draftGrids, shapes: shapes)
        let (merging, moving) = (chosen.merge, chosen.move)
        let edited = try store.editDraft(nil, thresholds: PlanThresholds()) { editor in
            [try editor.applied(try editor.merge(merging)), try editor.applied(try editor.move(moving.code, toVillage: moving.village)),
             try editor.applied(try editor.setWorker(draftGrids[5].code, name: "李四", phone: "13800000000"))]
        }
        note("edits", edited.edits.map { "\($0.summary) removed \($0.removed) changed \($0.changed.map(\.info.code)) notes \($0.notes)" })
        note("edit warnings", edited.warnings.map(\.text.rendered))
        note("failed edit", failure {
            try store.editDraft(draft, thresholds: PlanThresholds()) { editor in
                [try editor.applied(try editor.merge(["430981-001-017-001", "430981-003-001-001"]))]
            }
        })
        note("problems", try store.validate(draft, thresholds: PlanThresholds()).map(\.text.rendered))
        note("changes", try store.gridChanges(from: 1, to: draft).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" })
        let impact = try store.impact(of: draft, against: nil)
        note("impact", [String(impact.draft), String(impact.base), String(impact.points)])
        note("impact changes", impact.changes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" })
        note("impact moves", impact.impact.moves.map { "\($0.from ?? "-")→\($0.to ?? "-") \($0.counts)" })
        note("impact grids", impact.impact.grids.map { "\($0)" })
        note("impact workers", impact.impact.workers.map { "\($0)" })
        note("impact after", impact.impact.after.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" })

        let suggestion = try store.suggestDraft(from: nil, maxHouseholds: 90, name: "建议", thresholds: PlanThresholds())
        note("suggested", [String(suggestion.draft)] + suggestion.overloaded.map { "\($0.code) \($0.households)" })
        note("suggested edits", suggestion.report.edits.map { "\($0.summary) changed \($0.changed.map(\.info.code))" })
        note("suggested grids", try store.gridShapes(generation: suggestion.draft).map { "\($0.code) \($0.wkb)" })
        note("two drafts", failure { try store.draft(nil, for: tr("edited")) })
        try store.deleteDraft(suggestion.draft)

        // A draft from a file that leaves a gap: refused at activation, with the same words.
        let text = try String(contentsOfFile: Fixtures.sampleGrids, encoding: .utf8)
        let file = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("\"code\":\"430981-001-017-003\"") }
            .joined(separator: "\n").replacingOccurrences(of: "},\n]}", with: "}\n]}")
        let path = Fixtures.temporaryPath("gap.geojson")
        try file.write(toFile: path, atomically: true, encoding: .utf8)
        let imported = try store.importDraft(path: path, GridFileOptions(), name: "缺一格")
        note("imported draft", "\(imported.imported) \(imported.generation ?? 0)")
        note("gap refused", failure { try store.activate(imported.generation!, thresholds: PlanThresholds(), dispatch: DispatchRules(), at: activatedAt) })
        try store.deleteDraft(imported.generation!)
        note("deleted draft", failure { try store.generation(imported.generation!) })

        try generations()
        activation(try store.activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules(), at: activatedAt))
        try generations()
        try state(nil)
        note("statistics", try store.statistics(by: .grid, generation: nil, grid: nil).map { "\($0)" })
        note("village statistics", try store.statistics(by: .village, generation: nil, grid: nil).map { "\($0)" })
        note("scopes", try store.tokens(now: activatedAt).map { "\($0.id) \($0.scope.grids) \($0.scope.villages)" })
        note("worker", try store.caller(tokenHash: "split-worker", now: activatedAt)?.grids.sorted() ?? [])
        note("village worker", try store.caller(tokenHash: "village-worker", now: activatedAt)?.grids.sorted() ?? [])
        let moved = try store.householdPage(grid: nil, tag: nil, query: nil, searchNames: false, searchAddresses: true, limit: 5, after: nil, generation: nil)
        for household in moved { note("history \(household.id)", try store.history(.households, id: household.id).map { "\($0.generation.id) \($0.grid ?? "-") \(String(describing: $0.method))" }) }
        note("active is no draft", failure { try store.activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules(), at: activatedAt) })

        activation(try store.rollback(dispatch: DispatchRules(), at: rolledBackAt))
        try generations()
        try state(nil)
        note("worker back", try store.caller(tokenHash: "split-worker", now: rolledBackAt)?.grids.sorted() ?? [])
        note("scopes back", try store.tokens(now: rolledBackAt).first { $0.id == worker }.map { "\($0.scope.grids)" } ?? "-")
        activation(try store.rollback(dispatch: DispatchRules(), at: rolledBackAt.addingTimeInterval(60)))
        try generations()
        return (lines, draft, shapes, draftGrids)
    }

    @Test func theSamePlanOperationsGiveTheSameAnswers() throws {
        let reference = try loadedStore(.spatialite)
        let (expected, _, shapes, grids) = try Self.transcript(reference, merge: nil, move: nil)
        let (merge, move) = try Self.neighbours(grids, shapes: shapes)
        let (found, _, _, _) = try Self.transcript(try loadedStore(.postgis), merge: merge, move: move)
        #expect(found.count == expected.count)
        for (p, r) in zip(found, expected) { #expect(p == r) }
        // The transcript holds real work: the split, the edits and a token carried over.
        #expect(expected.contains { $0.hasPrefix("tokens: [") && $0.contains(Self.splitGrid) })
        #expect(expected.contains { $0.hasPrefix("edits: ") && $0.contains("merged") && $0.contains("moved") })
    }

    /// Two stores on one database (two servers): an activation that computed while
    /// the other activated finds the draft active and fails alike on both backends.
    @Test(arguments: Backend.allCases) func anActivationThatLostTheRaceFailsAsOnSpatiaLite(_ backend: Backend) throws {
        let (first, second) = try backend.loadedPair()
        let draft = try first.createDraft(from: nil, name: "调整")
        let line = try Geometry(wkt: Self.splitLine, context: try GEOSContext()).wkb()
        _ = try first.editDraft(draft, thresholds: PlanThresholds()) { editor in [try editor.applied(try editor.split(Self.splitGrid, along: line))] }
        let afterComputing = { _ = try first.activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules(), at: Self.activatedAt) }
        #expect { try reactivate(second, draft, afterComputing: afterComputing) } throws: {
            "\($0)" == "generation \(draft) is active, not draft"
        }
        #expect(try second.activeGeneration() == draft && first.generations().map(\.status) == [.retired, .active])
    }

    private func reactivate(_ store: any Repositories, _ id: Int64, afterComputing: () throws -> Void) throws {
        switch store {
        case let store as GridStore:
            _ = try store.reactivate(id, expecting: .draft, actor: "plan activate", dispatch: DispatchRules(), at: Self.activatedAt, afterComputing: afterComputing)
        case let store as PostGISStore:
            _ = try store.reactivate(id, expecting: .draft, actor: "plan activate", dispatch: DispatchRules(), at: Self.activatedAt, afterComputing: afterComputing)
        default: Issue.record("an unknown store")
        }
    }

    /// Two servers activate the same draft at the same moment: exactly one does; the other is told
    /// the draft is already active (the words SpatiaLite uses), and one generation is active.
    @Test(arguments: Backend.allCases) func twoServersActivatingAtOnceLetOneThrough(_ backend: Backend) throws {
        let (first, second) = try backend.loadedPair()
        let draft = try first.createDraft(from: nil, name: "调整")
        let line = try Geometry(wkt: Self.splitLine, context: try GEOSContext()).wkb()
        _ = try first.editDraft(draft, thresholds: PlanThresholds()) { editor in [try editor.applied(try editor.split(Self.splitGrid, along: line))] }
        let stores = [first, second]
        let results = Mutex<[Result<ActivationReport, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let result = Result { try stores[i].activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules(), at: Self.activatedAt) }
            results.withLock { $0.append(result) }
        }
        let all = results.withLock { $0 }
        let reports = all.compactMap { try? $0.get() }
        #expect(reports.count == 1 && reports.first?.retired == 1)
        for case .failure(let error) in all {
            #expect((error as? WanggeError)?.kind == .invalid && "\(error)".hasPrefix("generation \(draft) is active, not"), "\(error)")
        }
        #expect(try second.generations().map(\.status) == [.retired, .active])
        #expect(try first.statistics(by: .grid, generation: nil, grid: nil) == second.statistics(by: .grid, generation: nil, grid: nil))
    }
}
