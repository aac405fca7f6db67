import Foundation
import Synchronization
import Testing
import TestSupport
import GeoKit
import GridCore
import SampleCounty
@testable import GridApplication
@testable import GridStore

/// PostGIS files households by county (declarative partitions on the county of their
/// grid's town), so that one county's import or deletion leaves the others alone,
/// while ids stay unique across the province.
@Suite(.serialized) struct HouseholdPartitionTests {
    /// A generated province of 1,200 grids (six counties or so, national-style codes) with 3,000 households.
    struct Province {
        let store: PostGISStore
        let connection: PostgresConnection
        let gridFile: String
        /// The households file's lines by id (without the header).
        let lines: [String: String]
        /// Each grid's county, from its town code (the first six digits), computed here, not by the database.
        let countyOfGrid: [String: String]

        init() throws {
            let generator = ProvinceGenerator(gridCount: 1_200, medianVertices: 24)
            let shapes = try generator.makeGrids()
            gridFile = Fixtures.temporaryPath("province.geojson")
            try generator.geoJSON(shapes).write(toFile: gridFile, atomically: true, encoding: .utf8)
            let households = Fixtures.temporaryPath("province-households.csv")
            try generator.writeHouseholds(count: 3_000, in: shapes, to: households)
            let url = try PostgresTestCluster.freshDatabase()
            store = try PostGISStore(url: url)
            connection = try PostgresConnection(url: try PostgresURL(url))
            _ = try store.importGrids(path: gridFile, generationName: "province")
            _ = try store.importPoints(.households, path: households)
            lines = Dictionary(uniqueKeysWithValues: try String(contentsOfFile: households, encoding: .utf8)
                .split(separator: "\n").dropFirst().map { (String($0.prefix { $0 != "," }), String($0)) })
            countyOfGrid = Dictionary(uniqueKeysWithValues: try store.grids(generation: nil).map { ($0.code, String($0.townCode.prefix(6))) })
        }

        /// Each household's partition and the county of its grid as the assignments give it.
        func filing() throws -> [(id: String, partition: String, county: String?)] {
            let rows = try connection.query("""
                SELECT h.tableoid::regclass::text AS partition, h.id, a.grid_code FROM households h
                LEFT JOIN assignments a ON a.generation_id = (SELECT id FROM generations WHERE status = 'active')
                    AND a.layer = 'household' AND a.feature_id = h.id
                ORDER BY h.id
                """)
            return (0..<rows.count).map { (rows.text($0, "id"), rows.text($0, "partition"), rows.string($0, "grid_code").flatMap { countyOfGrid[$0] }) }
        }

        /// Every row version of a county's partition: where each tuple lies and which transaction wrote it.
        func fingerprint(_ county: String) throws -> String {
            try connection.query("""
                SELECT count(*) || ' ' || coalesce(md5(string_agg(ctid::text || ':' || xmin::text, ',' ORDER BY id)), '') AS f FROM households_c\(county)
                """).text(0, "f")
        }

        /// A households file of these lines.
        func file(_ lines: [String], name: String) throws -> String {
            let path = Fixtures.temporaryPath(name)
            try (["id,lon,lat,members"] + lines).joined(separator: "\n").appending("\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    @Test func everyHouseholdIsFiledUnderItsGridsCounty() throws {
        let province = try Province()
        let filing = try province.filing()
        #expect(filing.count == 3_000)
        #expect(Set(province.countyOfGrid.values).count >= 3, "the generated province has too few counties to test")
        for household in filing {
            #expect(household.partition == "households_c\(household.county ?? "none")", "\(household.id)")
        }
        // Partitions are made for every county of the grids, households or none.
        let partitions = try province.connection.query("SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'households'::regclass")
        #expect(Set((0..<partitions.count).map { partitions.text($0, "name") }) == Set(province.countyOfGrid.values.map { "households_c\($0)" } + ["households_none"]))
    }

    /// An import of one county's households, while another transaction deletes every
    /// household of another county (uncommitted), finishes without waiting for it and
    /// leaves that county's rows exactly as they were (the same tuples, the same writers).
    @Test func oneCountysImportLeavesTheOthersAlone() throws {
        let province = try Province()
        let filing = try province.filing()
        let counties = Set(filing.compactMap(\.county)).sorted()
        let (a, b) = (counties[0], counties[1])
        let before = try province.fingerprint(a)
        let reimport = try province.file(filing.filter { $0.county == b }.map { province.lines[$0.id]! + "0" }, name: "county-b.csv")

        let deleter = try PostgresConnection(url: province.connection.url)
        try deleter.execute("BEGIN")
        let deleted = try deleter.query("DELETE FROM households WHERE county = $1 RETURNING id", [.text(a)]).count
        #expect(deleted == filing.filter { $0.county == a }.count && deleted > 0)
        let done = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<ImportReport, any Error>?>(nil)
        Thread { [store = province.store] in
            outcome.set(Result { try store.importPoints(.households, path: reimport) })
            done.signal()
        }.start()
        let finished = done.wait(timeout: .now() + 120) == .success
        try deleter.execute("ROLLBACK")
        if !finished { _ = done.wait(timeout: .now() + 120) }
        #expect(finished, "the import of county \(b) waited for a deletion in county \(a)")
        let report = try #require(outcome.get()).get()
        #expect(report.imported == filing.filter { $0.county == b }.count)

        #expect(try province.fingerprint(a) == before, "county \(a)'s rows were written by county \(b)'s import")
        let versions = try province.connection.query("SELECT DISTINCT version FROM households_c\(b)")
        #expect(versions.count == 1 && versions.int(0, "version") == 2)
        // A county's deletion reads and writes its own partition only.
        let plan = try province.connection.query("EXPLAIN (COSTS OFF) DELETE FROM households WHERE county = $1", [.text(a)])
        let scanned = (0..<plan.count).flatMap { plan.text($0, "QUERY PLAN").split(separator: " ").filter { $0.hasPrefix("households_c") || $0.hasPrefix("households_none") }.map(String.init) }
        #expect(!scanned.isEmpty && scanned.allSatisfy { $0.hasPrefix("households_c\(a)") }, "\(scanned)")
    }

    /// An id is one household across the province: imported again into another county's
    /// grid it moves there (its version goes up once), and it cannot be added twice.
    @Test func idsStayUniqueAcrossCounties() throws {
        let province = try Province()
        let filing = try province.filing()
        let counties = Set(filing.compactMap(\.county)).sorted()
        let mover = try #require(filing.first { $0.county == counties[0] })
        let target = try #require(filing.first { $0.county == counties[1] })
        let targetFields = province.lines[target.id]!.split(separator: ",").map(String.init)
        let moved = ([mover.id] + targetFields[1...]).joined(separator: ",")
        _ = try province.store.importPoints(.households, path: try province.file([moved], name: "moved.csv"))
        let rows = try province.connection.query("SELECT tableoid::regclass::text AS partition, version FROM households WHERE id = $1", [.text(mover.id)])
        #expect(rows.count == 1)
        #expect(rows.text(0, "partition") == "households_c\(counties[1])" && rows.int(0, "version") == 2)

        let position = LonLat(Double(targetFields[1])!, Double(targetFields[2])!)
        let actor = HouseholdActor(name: "王网格", caller: nil, auditAction: "")
        #expect(throws: WanggeError.self) {
            try province.store.addHousehold(id: filing.first { $0.county == counties[2] }!.id,
                                            HouseholdEdit(fields: [.members: "2"], place: (position, (position.lon, position.lat, .wgs84))),
                                            by: actor, placement: nil, permit: { _ in }, at: Date())
        }
        // A move by a grid worker crosses counties the same way.
        let walker = try #require(filing.first { $0.county == counties[2] })
        _ = try province.store.changeHousehold(id: walker.id, HouseholdEdit(place: (position, (position.lon, position.lat, .wgs84))),
                                               by: actor, placement: nil, permit: { _, _ in }, at: Date())
        #expect(try province.filing().first { $0.id == walker.id }?.partition == "households_c\(counties[1])")
        #expect(try province.connection.query("SELECT count(*) AS n FROM households").int(0, "n") == 3_000)
    }

    /// A redraw that gives a county's towns to another county refiles their households.
    @Test func aRedrawIntoAnotherCountyRefilesItsHouseholds() throws {
        let province = try Province()
        let filing = try province.filing()
        let county = try #require(Set(filing.compactMap(\.county)).sorted().first)
        let redrawn = Fixtures.temporaryPath("redrawn.geojson")
        try String(contentsOfFile: province.gridFile, encoding: .utf8).replacingOccurrences(of: "\"\(county)", with: "\"439999")
            .write(toFile: redrawn, atomically: true, encoding: .utf8)
        _ = try province.store.importGrids(path: redrawn, generationName: "redrawn")
        #expect(try province.fingerprint(county).hasPrefix("0 "))
        let after = try province.filing()
        #expect(after.filter { $0.partition == "households_c439999" }.map(\.id) == filing.filter { $0.county == county }.map(\.id))
        #expect(after.map(\.id) == filing.map(\.id))
    }
}

/// A value set on one thread and read on another.
final class Locked<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func set(_ new: Value) { value.withLock { $0 = new } }
    func get() -> Value { value.withLock { $0 } }
}
