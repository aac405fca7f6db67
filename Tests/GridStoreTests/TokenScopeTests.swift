import Foundation
import GRDB
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridStore

/// Grid workers' tokens across redraws, village and town scopes, and expiry.
@Suite(.serialized) struct TokenScopeTests {
    static let village = "430981-001-017"

    @Test func aWorkerOfASplitGridKeepsBothPartsAndIsToldAtActivation() throws {
        let f = try PlanningFixture()
        let worker = try f.store.createToken(name: "和桥二格", role: .gridWorker, grids: [PlanningFixture.splitGrid], hash: "split-worker")
        let neighbour = try #require(try f.store.grids().first { $0.code != PlanningFixture.splitGrid && $0.villageCode == Self.village }?.code)
        _ = try f.store.createToken(name: "邻格", role: .gridWorker, grids: [neighbour], hash: "neighbour-worker")
        _ = try f.store.createToken(name: "和桥村", role: .gridWorker, grids: [], villages: [Self.village], hash: "village-worker")
        let (draft, parts) = try f.splitDraft()
        #expect(parts.count == 2)
        let report = try f.store.activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules())
        // The split grid's worker serves its two successors; the neighbour, untouched, is not reported.
        #expect(report.tokens == [TokenScopeChange(id: worker, name: "和桥二格", gridsBefore: [PlanningFixture.splitGrid],
                                                   gridsAfter: parts.sorted(), missingAreas: [])])
        #expect(report.description.contains("token \(worker) 和桥二格: grids \(PlanningFixture.splitGrid) → \(parts.sorted().joined(separator: ","))"))
        // Each language whole, whatever the process's: the server renders a report for each reader.
        let chinese = report.rendered(in: .zh)
        #expect(chinese.contains("令牌 \(worker) 和桥二格：") && !chinese.contains("token \(worker)") && !chinese.contains("grids "), "\(chinese)")
        #expect(!report.rendered(in: .en).contains("令牌"))
        #expect(try f.store.caller(tokenHash: "split-worker")?.grids == Set(parts))
        #expect(try f.store.caller(tokenHash: "neighbour-worker")?.grids == [neighbour])
        // A village scope means the village's grids in whatever generation is active.
        let villageGrids = Set(try f.store.grids().filter { $0.villageCode == Self.village }.map(\.code))
        #expect(villageGrids.isSuperset(of: parts) && !villageGrids.contains(PlanningFixture.splitGrid))
        #expect(try f.store.caller(tokenHash: "village-worker")?.grids == villageGrids)
        #expect(try f.store.tokens().first { $0.id == worker }?.scope.grids == parts.sorted())
        // Rolling back gives the worker its old grid again.
        let back = try f.store.rollback(dispatch: DispatchRules())
        #expect(back.tokens.map(\.id) == [worker] && back.tokens[0].gridsAfter == [PlanningFixture.splitGrid])
        #expect(try f.store.caller(tokenHash: "split-worker")?.grids == [PlanningFixture.splitGrid])
    }

    @Test func reimportingTheSameGridsChangesNoToken() throws {
        let f = try PlanningFixture()
        _ = try f.store.createToken(name: "w", role: .gridWorker, grids: [PlanningFixture.splitGrid], hash: "w")
        let report = try f.store.importGrids(path: Fixtures.sampleGrids)
        #expect(report.tokens.isEmpty && !report.description.contains("tokens re-scoped"))
        #expect(try f.store.caller(tokenHash: "w")?.grids == [PlanningFixture.splitGrid])
    }

    @Test func aRedrawThatLeavesAWorkerNothingSaysSo() throws {
        let f = try PlanningFixture()
        let worker = try f.store.createToken(name: "w", role: .gridWorker, grids: [PlanningFixture.splitGrid], hash: "w")
        let village = try f.store.createToken(name: "v", role: .gridWorker, grids: [], villages: [Self.village], hash: "v")
        // Another county entirely: nothing overlaps the old grid, and its village is gone.
        var mapping = GridFieldMapping()
        mapping.code = "NAME"
        let report = try f.store.importGrids(path: Fixtures.northCarolina, GridFileOptions(mapping: mapping), force: true)
        #expect(report.tokens == [
            TokenScopeChange(id: worker, name: "w", gridsBefore: [PlanningFixture.splitGrid], gridsAfter: [], missingAreas: []),
            TokenScopeChange(id: village, name: "v", gridsBefore: [], gridsAfter: [], missingAreas: ["village \(Self.village)"]),
        ])
        #expect(report.description.contains("token \(worker) w: no grid of the new generation overlaps its grids \(PlanningFixture.splitGrid)"))
        #expect(report.description.contains("token \(village) v: village \(Self.village) no longer exist"))
        #expect(try f.store.caller(tokenHash: "w")?.grids == [PlanningFixture.splitGrid])
        #expect(try f.store.caller(tokenHash: "v")?.grids == [])
    }

    @Test func scopesAreCheckedAndOnlyForGridWorkers() throws {
        let f = try PlanningFixture()
        #expect { _ = try f.store.createToken(name: "x", role: .gridWorker, grids: [], hash: "a") } throws: {
            "\($0)".contains("needs grids, villages or towns (codes)")
        }
        #expect { _ = try f.store.createToken(name: "x", role: .gridWorker, grids: [], villages: ["430981-999-999"], hash: "b") } throws: {
            "\($0)".contains("villages: no village 430981-999-999 in the active generation")
        }
        #expect { _ = try f.store.createToken(name: "x", role: .viewer, grids: [], towns: ["430981-001"], hash: "c") } throws: {
            "\($0)".contains("are for grid_worker tokens")
        }
        _ = try f.store.createToken(name: "镇", role: .gridWorker, grids: [], towns: ["430981-001"], hash: "town")
        let townGrids = Set(try f.store.grids().filter { $0.townCode == "430981-001" }.map(\.code))
        #expect(!townGrids.isEmpty)
        #expect(try f.store.caller(tokenHash: "town")?.grids == townGrids)
    }

    @Test func expiredTokensAreRefusedAndListedAsExpired() throws {
        let f = try PlanningFixture()
        let now = Date()
        let id = try f.store.createToken(name: "临时", role: .viewer, grids: [], expiresAt: now.addingTimeInterval(3_600), hash: "temp")
        #expect(try f.store.caller(tokenHash: "temp", now: now)?.expiresAt != nil)
        #expect(try f.store.caller(tokenHash: "temp", now: now.addingTimeInterval(3_601)) == nil)
        #expect(try f.store.tokens(now: now).first { $0.id == id }?.status == "active")
        #expect(try f.store.tokens(now: now.addingTimeInterval(3_601)).first { $0.id == id }?.status == "expired")
    }

    /// A database from before the migration: its notifications get the grid,
    /// village and town of their incident, so that workers still read their own.
    @Test func theMigrationGivesOldNotificationsTheirAreas() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        let p = LonLat(112.355, 28.842), rules = DispatchRules()
        let id = try t.store.report(IncidentReport(position: p, source: (p.lon, p.lat, .wgs84), category: "矛盾纠纷", channel: "12345",
                                                   severity: nil, description: nil, reporter: "李四", reportedAt: Date()), rules: rules).id
        let record = try t.store.apply(IncidentChange(.escalate, actor: "调度员", note: "升级", expectedVersion: 1), to: id, rules: rules)
        try t.store.database.pool.write { db in
            for (table, column) in [("notifications", "grid_code"), ("notifications", "village_code"), ("notifications", "town_code"),
                                    ("tokens", "villages"), ("tokens", "towns"), ("tokens", "expires_at")] {
                try db.execute(sql: "ALTER TABLE \(table) DROP COLUMN \(column)")
            }
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'token-scopes-expiry-and-notification-areas'")
        }
        let migrated = try GridStore(path: t.path)
        let areas = try migrated.database.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT grid_code, village_code, town_code FROM notifications WHERE incident_id = ?", arguments: [id])
        }
        let grid = try #require(record.grid)
        #expect(areas?[0] == grid && areas?[1] == record.village && areas?[2] == record.town)
        #expect(try migrated.notifications(forGrids: [grid]).map(\.incidentID) == [id])
    }

    @Test func expiryIsADurationADayOrATime() throws {
        let now = try #require(GridStore.parseTime("2026-11-26T10:00:00Z"))
        #expect(try TokenExpiry.parse("90d", now: now) == now.addingTimeInterval(90 * 86_400))
        #expect(try TokenExpiry.parse("12h", now: now) == now.addingTimeInterval(12 * 3_600))
        // A day is valid through its end, China time.
        #expect(try TokenExpiry.parse("2026-12-31", now: now) == GridStore.parseTime("2026-12-31T16:00:00Z"))
        #expect(try TokenExpiry.parse("2027-01-01T08:00:00+08:00", now: now) == GridStore.parseTime("2027-01-01T00:00:00Z"))
        for bad in ["90", "0d", "-3h", "soon", "2026-13-45"] {
            #expect { _ = try TokenExpiry.parse(bad, now: now) } throws: { "\($0)".contains("expires: \"\(bad)\" is not a duration") }
        }
        #expect { _ = try TokenExpiry.parse("2026-01-01", now: now) } throws: { "\($0)".contains("already past") }
    }
}
