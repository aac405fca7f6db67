import Foundation
import Synchronization
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridApplication
@testable import GridStore

extension SampleFiles {
    /// The generated incidents: WGS84, and those of the WeChat channel in GCJ-02.
    static var incidents: String { directory + "/incidents.csv" }
    static var wechatIncidents: String { directory + "/incidents_gcj02.csv" }
}

/// The incident workflow on SpatiaLite and PostGIS: the same lists, records with their
/// histories, figures and notifications, the same lifecycle, the same refusals.
@Suite(.serialized) struct IncidentParityTests {
    static let rules = DispatchRules(departments: ["矛盾纠纷": "司法局", "环境卫生": "城管局"])
    /// After the sample's last report (2026-11-01): some incidents are overdue, none is in the future.
    static let now = ISO8601DateFormatter().date(from: "2026-11-01T12:00:00+08:00")!
    static let t0 = ISO8601DateFormatter().date(from: "2026-11-02T09:00:00+08:00")!
    static func at(hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }
    /// In 和桥社区第二网格 (琼湖街道).
    static let seat = LonLat(112.355, 28.842)

    /// A store of each kind with the sample county's grids, and its incidents when `incidents`.
    static func stores(incidents: Bool) throws -> (reference: any Repositories, postgis: any Repositories) {
        let stores = try Backend.allCases.map { backend -> any Repositories in
            let store = try backend.emptyStore()
            _ = try store.importGrids(path: Fixtures.sampleGrids, GridFileOptions(), generationName: "parity", dispatch: rules,
                                      thresholds: PlanThresholds(), force: false, progress: nil)
            if incidents {
                for (file, crs) in [(SampleFiles.incidents, CoordinateSystem.wgs84), (SampleFiles.wechatIncidents, .gcj02)] {
                    _ = try store.importPoints(.incidents, path: file, crs: crs, encoding: nil, dispatch: rules, columnNames: PointColumnNames(),
                                               progress: nil)
                }
            }
            return store
        }
        return (stores[0], stores[1])
    }

    /// Loaded once for the tests that only read.
    static let loaded = Result { try stores(incidents: true) }

    /// What a call gives on a store, an error included, as text to compare.
    static func outcome<T>(_ body: () throws -> T) -> String {
        do { return "\(try body())" } catch { return "error: \(error)" }
    }

    /// What a call gives on a store: its value, or its error as text.
    enum Outcome<T: Equatable>: Equatable {
        case value(T)
        case failure(String)

        init(_ body: () throws -> T) {
            do { self = .value(try body()) } catch { self = .failure("\(error)") }
        }

        var failed: Bool { if case .failure = self { true } else { false } }
    }

    @Test func importedIncidentsAreListedAndCountedAlike() throws {
        let (reference, postgis) = try Self.loaded.get()
        let all = try reference.incidents(IncidentFilter(), now: Self.now)
        #expect(all.count > 3_000 && all.contains { $0.grid != nil } && all.contains(where: \.overdue))
        #expect(try postgis.incidents(IncidentFilter(), now: Self.now) == all)
        #expect(try postgis.pointCounts() == reference.pointCounts())
        let sample = all[Self.sampleIndex(all)]
        var filters: [IncidentFilter] = []
        func filter(_ configure: (inout IncidentFilter) -> Void) {
            var f = IncidentFilter()
            configure(&f)
            filters.append(f)
        }
        filter { $0.grid = sample.grid }
        filter { $0.village = sample.village }
        filter { $0.town = sample.town; $0.statuses = [.closed] }
        filter { $0.statuses = [.reported, .accepted, .inProgress] }
        filter { $0.overdueOnly = true }
        filter { $0.since = ISO8601DateFormatter().date(from: "2026-06-01T00:00:00+08:00"); $0.until = ISO8601DateFormatter().date(from: "2026-07-01T00:00:00+08:00") }
        filter { $0.category = "矛盾纠纷"; $0.channel = "12345" }
        filter { $0.limit = 20; $0.offset = 40 }
        for f in filters {
            let expected = try reference.incidents(f, now: Self.now)
            #expect(!expected.isEmpty)
            #expect(try postgis.incidents(f, now: Self.now) == expected)
        }
        for id in [all[0].id, sample.id, all[all.count - 1].id] {
            let record = try reference.incident(id: id, now: Self.now)
            let imports = [SampleFiles.incidents, SampleFiles.wechatIncidents].map(LifecycleReason.imported(file:))
            #expect(record.history?.first?.reason.map(imports.contains) == true && record.history?.first?.note == nil)
            #expect(try postgis.incident(id: id, now: Self.now) == record)
        }
        #expect(Self.outcome { try postgis.incident(id: "E99999", now: Self.now) } == Self.outcome { try reference.incident(id: "E99999", now: Self.now) })
    }

    /// An incident with a grid, about a third of the way down the list.
    static func sampleIndex(_ all: [IncidentRecord]) -> Int {
        all.indices.dropFirst(all.count / 3).first { all[$0].grid != nil } ?? 0
    }

    @Test func figuresAreTheSameByEveryGroupingAndMonth() throws {
        let (reference, postgis) = try Self.loaded.get()
        let june = ISO8601DateFormatter().date(from: "2026-06-01T00:00:00+08:00"), september = ISO8601DateFormatter().date(from: "2026-09-01T00:00:00+08:00")
        for grouping in IncidentGrouping.allCases {
            for (since, until) in [(nil, nil), (june, september)] {
                let expected = try reference.incidentStatistics(by: grouping, since: since, until: until, now: Self.now)
                #expect(!expected.isEmpty)
                #expect(try postgis.incidentStatistics(by: grouping, since: since, until: until, now: Self.now) == expected, "\(grouping)")
            }
        }
        let county = try #require(try postgis.incidentStatistics(by: .county, since: nil, until: nil, now: Self.now).first)
        let received = try reference.incidents(IncidentFilter(), now: Self.now).count
        #expect(county.received == received && county.closed > 0 && county.overdue > 0)
        let town = try reference.grids(generation: nil)[0].townCode
        for trend in [IncidentTrendFilter(), IncidentTrendFilter(town: town), IncidentTrendFilter(category: "环境卫生", since: june, until: september)] {
            let expected = try reference.monthlyIncidentStatistics(trend, now: Self.now)
            #expect(expected.contains { $0.received > 0 && $0.closed > 0 })
            #expect(try postgis.monthlyIncidentStatistics(trend, now: Self.now) == expected)
        }
    }

    /// One change on both stores: the same record back, or the same refusal.
    @discardableResult
    static func act(_ stores: (reference: any Repositories, postgis: any Repositories), _ id: String, _ action: IncidentAction, hours: Double,
                    by actor: String = "王网格", note: String? = "done", _ configure: (inout IncidentChange) -> Void = { _ in },
                    sourceLocation: SourceLocation = #_sourceLocation) -> Outcome<IncidentRecord> {
        var change = IncidentChange(action, actor: actor, note: note)
        configure(&change)
        let expected = Outcome { try stores.reference.apply(change, to: id, at: at(hours: hours), rules: rules, placement: nil) }
        #expect(Outcome { try stores.postgis.apply(change, to: id, at: at(hours: hours), rules: rules, placement: nil) } == expected,
                sourceLocation: sourceLocation)
        return expected
    }

    /// A report on both stores: the same id and routing back (or the same refusal). Returns the id, empty when refused.
    static func report(_ stores: (reference: any Repositories, postgis: any Repositories), _ p: LonLat, category: String = "矛盾纠纷",
                       severity: String = "简单", hours: Double, ticket: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let report = IncidentReport(position: p, source: (p.lon, p.lat, .wgs84), category: category, channel: "12345", severity: severity,
                                    description: "宅基地纠纷", reporter: "李四", reportedAt: at(hours: hours), externalID: ticket)
        var id = ""
        let expected = Outcome { () throws -> [String] in
            let stored = try stores.reference.report(report, rules: rules, placement: nil)
            id = stored.id
            return [stored.id, "\(stored.routing)"]
        }
        #expect(Outcome { () throws -> [String] in let stored = try stores.postgis.report(report, rules: rules, placement: nil); return [stored.id, "\(stored.routing)"] } == expected,
                sourceLocation: sourceLocation)
        return id
    }

    /// A point inside the first grid of a town (its point on surface), and that grid.
    static func inside(_ store: any Repositories, town: String) throws -> (point: LonLat, grid: GridInfo) {
        let grid = try #require(try store.grids(generation: nil).first { $0.townCode == town })
        let shape = try #require(try store.gridShapes(generation: nil).first { $0.code == grid.code })
        let p = try Geometry(wkb: shape.wkb, context: try GEOSContext()).pointOnSurface().pointCoordinates
        return (LonLat(p.x, p.y), grid)
    }

    @Test func theLifecycleRunsAlike() throws {
        let stores = try Self.stores(incidents: false)
        let (reference, postgis) = stores
        // The ladder: the village mediates twice, the town once, then closed and reopened.
        let a = Self.report(stores, Self.seat, hours: 0)
        Self.act(stores, a, .accept, hours: 1)
        Self.act(stores, a, .mediate, hours: 2) { $0.settled = false }
        let ladder = Self.act(stores, a, .mediate, hours: 3) { $0.settled = false }
        if case .value(let record) = ladder { #expect(record.unit == "琼湖街道" && record.status == .escalated) } else { Issue.record("not escalated") }
        Self.act(stores, a, .accept, hours: 4, by: "镇综治办")
        Self.act(stores, a, .resolve, hours: 5, by: "镇综治办")
        Self.act(stores, a, .close, hours: 6, by: "调度员") { $0.satisfaction = 4 }
        #expect(Self.act(stores, a, .escalate, hours: 6.5).failed, "closed: refused alike")
        Self.act(stores, a, .reopen, hours: 7, by: "调度员", note: "当事人不认可调解结果")
        // A second report of the same matter nearby is marked a duplicate; one returned and rerouted elsewhere.
        let b = Self.report(stores, LonLat(112.3551, 28.8421), hours: 8)
        #expect(try reference.incident(id: b, now: Self.t0).duplicateOf == a)
        let (place, far) = try Self.inside(reference, town: "430981-006")
        Self.act(stores, b, .return, hours: 9, note: "系邻村事务")
        Self.act(stores, b, .reroute, hours: 10, by: "调度员", note: "转草尾镇") { $0.grid = far.code; $0.level = .town }
        // Moved, recategorized, escalated by hand; a move outside the county refused alike.
        let c = Self.report(stores, Self.seat, category: "环境卫生", severity: "一般", hours: 11)
        Self.act(stores, c, .move, hours: 12, by: "调度员", note: "地址更正") { $0.position = place; $0.source = (place.lon, place.lat, .wgs84) }
        #expect(Self.act(stores, c, .move, hours: 12.5) { $0.position = LonLat(113.6, 28.8); $0.source = (113.6, 28.8, .wgs84) }.failed)
        Self.act(stores, c, .recategorize, hours: 13, by: "调度员") { $0.category = "矛盾纠纷" }
        Self.act(stores, c, .recategorize, hours: 13.5, by: "调度员") { $0.category = "环境" }
        Self.act(stores, c, .escalate, hours: 14)
        #expect(Self.act(stores, "R9999999", .accept, hours: 14).failed)
        // Overdue ones go up a level, then the county centre is told once.
        var escalated: [String] = []
        for hours in [100.0, 200, 400, 1_000, 1_001] {
            let r = try reference.escalateOverdue(at: Self.at(hours: hours), rules: Self.rules)
            let p = try postgis.escalateOverdue(at: Self.at(hours: hours), rules: Self.rules)
            #expect(p.map { "\($0.id) \($0.level)" } == r.map { "\($0.id) \($0.level)" }, "at \(hours) h")
            escalated += r.map(\.id)
        }
        #expect(!escalated.isEmpty)
        let later = Self.at(hours: 1_002)
        let all = try reference.incidents(IncidentFilter(), now: later)
        #expect(all.count == 3)
        #expect(try postgis.incidents(IncidentFilter(), now: later) == all)
        for id in [a, b, c] {
            let record = try reference.incident(id: id, now: later)
            #expect((record.history?.count ?? 0) > 3 && !(record.notifications ?? []).isEmpty)
            #expect(try postgis.incident(id: id, now: later) == record)
        }
        let seatGrid = try #require(try reference.incident(id: a, now: later).history?.first?.grid)
        for (unit, grids) in [(nil, nil), ("琼湖街道", nil), (nil, Set([seatGrid])), (nil, Set([far.code])), (nil, Set<String>())] as [(String?, Set<String>?)] {
            let expected = try reference.notifications(unit: unit, limit: 100, forGrids: grids)
            #expect(try postgis.notifications(unit: unit, limit: 100, forGrids: grids) == expected, "\(unit ?? "-") \(grids ?? [])")
        }
        #expect(try reference.notifications(unit: nil, limit: 100, forGrids: nil).count > 3)
        for grouping in IncidentGrouping.allCases {
            #expect(try postgis.incidentStatistics(by: grouping, since: nil, until: nil, now: later)
                    == reference.incidentStatistics(by: grouping, since: nil, until: nil, now: later))
        }
        #expect(try postgis.monthlyIncidentStatistics(IncidentTrendFilter(), now: later) == reference.monthlyIncidentStatistics(IncidentTrendFilter(), now: later))
    }

    @Test func aStaleVersionConflictsAlikeAndAcrossServers() throws {
        let stores = try Self.stores(incidents: false)
        let a = Self.report(stores, Self.seat, hours: 0)
        Self.act(stores, a, .accept, hours: 1)
        let stale = Self.act(stores, a, .resolve, hours: 2) { $0.expectedVersion = 1 }
        #expect(stale == .failure("\(WanggeError.staleVersion(id: a, expected: 1, actual: 2))"))

        // Two servers on one database: both read version 1; the second to write conflicts.
        let url = try PostgresTestCluster.freshDatabase()
        let one = try PostGISStore(url: url), two = try PostGISStore(url: url)
        _ = try one.importGrids(path: Fixtures.sampleGrids, GridFileOptions(), generationName: "two servers", dispatch: Self.rules,
                                thresholds: PlanThresholds(), force: false, progress: nil)
        let id = try two.report(IncidentReport(position: Self.seat, source: (Self.seat.lon, Self.seat.lat, .wgs84), category: "矛盾纠纷",
                                               channel: "12345", severity: "简单", description: nil, reporter: nil, reportedAt: Self.at(hours: 0)),
                                rules: Self.rules, placement: nil).id
        let seen = try one.incident(id: id, now: Self.t0).version
        _ = try two.apply(IncidentChange(.accept, actor: "二号服务器", expectedVersion: seen), to: id, at: Self.at(hours: 1), rules: Self.rules, placement: nil)
        #expect(throws: WanggeError.staleVersion(id: id, expected: 1, actual: 2)) {
            try one.apply(IncidentChange(.accept, actor: "一号服务器", expectedVersion: seen), to: id, at: Self.at(hours: 1), rules: Self.rules, placement: nil)
        }

        // A write in flight on another server when this one writes, without a version given: this one reads
        // version 2, waits for the other's row lock, then finds version 3 committed and refuses, writing nothing.
        let other = try PostgresConnection(url: PostgresURL(url))
        try other.execute("BEGIN")
        try other.query("UPDATE incidents SET version = version + 1, status = 'in_progress' WHERE id = $1", [.text(id)])
        let result = Answer()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let answer = Self.outcome { try one.apply(IncidentChange(.start, actor: "一号服务器", note: "到场"), to: id, at: Self.at(hours: 2), rules: Self.rules, placement: nil) }
            result.text.withLock { $0 = answer }
            done.signal()
        }
        // Until this server's UPDATE waits for the row (or has failed on its own).
        let watcher = try PostgresConnection(url: PostgresURL(url))
        while result.text.withLock({ $0 == nil }) {
            let waiting = try watcher.query("""
                SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE incidents%'
                """).int(0, "n") ?? 0
            if waiting > 0 { break }
            usleep(10_000)
        }
        try other.execute("COMMIT")
        done.wait()
        #expect(result.text.withLock { $0 } == "error: \(WanggeError.staleVersion(id: id, expected: 2, actual: 3))")
        let after = try one.incident(id: id, now: Self.t0)
        #expect(after.version == 3 && after.history?.count == 2, "the refused change left no event")
    }

    @Test func repeatedTicketsAndStoredIncidentsAreRefusedAlike() throws {
        let stores = try Self.stores(incidents: false)
        let (reference, postgis) = stores
        let directory = Fixtures.temporaryPath("tickets")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let header = "id,lon,lat,category,channel,severity,status,reported_at,external_id\n"
        func file(_ name: String, _ rows: [String]) throws -> String {
            let path = directory + "/" + name
            try (header + rows.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let row = { (id: String, ticket: String) in "\(id),112.355,28.842,矛盾纠纷,12345,简单,reported,2026-10-30T08:00:00+08:00,\(ticket)" }
        func importBoth(_ path: String) -> String {
            func run(_ store: any Repositories) -> String {
                Self.outcome { try store.importPoints(.incidents, path: path, crs: .wgs84, encoding: nil, dispatch: Self.rules, columnNames: PointColumnNames(),
                                                 progress: nil).imported }
            }
            let expected = run(reference)
            #expect(run(postgis) == expected)
            return expected
        }
        let twice = importBoth(try file("twice.csv", [row("T1", "GD-1"), row("T2", "GD-1")]))
        #expect(twice.contains("also at"), "\(twice)")
        let once = try file("once.csv", [row("T1", "GD-1")])
        #expect(importBoth(once) == "1")
        let again = importBoth(try file("again.csv", [row("T3", "GD-1")]))
        #expect(again.contains("is already incident T1"), "\(again)")
        let stored = importBoth(once)
        #expect(stored.contains("already stored"), "\(stored)")
        #expect(Self.report(stores, Self.seat, hours: 0, ticket: "GD-1") == "")
        #expect(Self.report(stores, Self.seat, hours: 0, ticket: "GD-2") == "R0000001")
        #expect(try postgis.pointCounts() == reference.pointCounts())
        #expect(try postgis.incidents(IncidentFilter(), now: Self.t0) == reference.incidents(IncidentFilter(), now: Self.t0))
    }

    @Test func importingGridsAgainReroutesOpenIncidentsAlike() throws {
        let (reference, postgis) = try Self.stores(incidents: true)
        // The sample's grids with the shapes of neighbours in a village swapped: their incidents change grid.
        var lines = try String(contentsOfFile: Fixtures.sampleGrids, encoding: .utf8).components(separatedBy: "\n")
        func village(_ line: String) -> String? { line.range(of: #""village_code":"[^"]*""#, options: .regularExpression).map { String(line[$0]) } }
        var i = 0
        while i + 1 < lines.count {
            if let v = village(lines[i]), v == village(lines[i + 1]),
               let g1 = lines[i].range(of: #""geometry":"#), let g2 = lines[i + 1].range(of: #""geometry":"#) {
                let (head1, shape1) = (lines[i][..<g1.lowerBound], lines[i][g1.lowerBound...])
                let (head2, shape2) = (lines[i + 1][..<g2.lowerBound], lines[i + 1][g2.lowerBound...])
                // Each line but the last feature's ends with a comma after the feature.
                func trimmed(_ s: Substring) -> (String, String) { s.hasSuffix(",") ? (String(s.dropLast()), ",") : (String(s), "") }
                let (s1, c1) = trimmed(shape1), (s2, c2) = trimmed(shape2)
                lines[i] = head1 + s2 + c1
                lines[i + 1] = head2 + s1 + c2
                i += 2
            } else {
                i += 1
            }
        }
        let swapped = Fixtures.temporaryPath("swapped-grids.geojson")
        try lines.joined(separator: "\n").write(toFile: swapped, atomically: true, encoding: .utf8)
        let before = try reference.incidents(IncidentFilter(), now: Self.now)
        for store in [reference, postgis] {
            _ = try store.importGrids(path: swapped, GridFileOptions(), generationName: "swapped", dispatch: Self.rules,
                                      thresholds: PlanThresholds(), force: false, progress: nil)
        }
        let after = try reference.incidents(IncidentFilter(), now: Self.now)
        let moved = zip(before, after).filter { $0.grid != $1.grid }.map(\.1)
        #expect(moved.count > 10 && moved.allSatisfy { $0.status.isOpen })
        #expect(try postgis.incidents(IncidentFilter(), now: Self.now) == after)
        for record in moved.prefix(5) {
            let history = try reference.incident(id: record.id, now: Self.now)
            #expect(history.history?.last?.action == .regrid)
            #expect(try Self.withoutActivationTimes(postgis.incident(id: record.id, now: Self.now)) == Self.withoutActivationTimes(history))
        }
        // Each store activated at its own moment: the times aside, the same notifications.
        func untimed(_ notifications: [IncidentNotification]) -> [IncidentNotification] { notifications.map { var n = $0; n.at = ""; return n } }
        let told = try reference.notifications(unit: nil, limit: 500, forGrids: nil)
        #expect(told.count == moved.count)
        #expect(try untimed(postgis.notifications(unit: nil, limit: 500, forGrids: nil)) == untimed(told))
    }

    /// The record without the times of the events and notifications that the grid import's activation (at its own moment) made.
    static func withoutActivationTimes(_ record: IncidentRecord) -> IncidentRecord {
        var record = record
        record.history = record.history?.map { var e = $0; if e.action == .regrid { e.at = "" }; return e }
        record.notifications = record.notifications?.map { var n = $0; n.at = ""; return n }
        return record
    }
}

/// What another thread answered.
final class Answer: Sendable {
    let text = Mutex<String?>(nil)
}
