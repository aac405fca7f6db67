import Foundation
import GRDB
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridStore

@Suite struct IncidentStoreTests {
    @Test func reportsAreRoutedStoredAndDeduplicated() throws {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        let seat = LonLat(112.355, 28.842)
        let now = Date()
        let rules = DispatchRules(departments: ["环境卫生": "城管局"])
        func report(_ p: LonLat, crs: CoordinateSystem = .wgs84, source: (Double, Double)? = nil, at: Date = now) throws -> (id: String, routing: Routing) {
            try t.store.report(IncidentReport(position: p, source: (source?.0 ?? p.lon, source?.1 ?? p.lat, crs), category: "环境卫生",
                                              channel: "码上办", severity: "一般", description: "垃圾", reporter: "王五", reportedAt: at), rules: rules)
        }
        let first = try report(seat)
        #expect(first.id == "R0000001" && first.routing.grid == "430981-001-017-002" && first.routing.level == .town)
        #expect(first.routing.duplicateOf == nil && first.routing.department == "城管局")
        // 40 m north, an hour later: a likely duplicate of the first.
        let second = try report(LonLat(seat.lon, seat.lat + 40 / 110_800.0), at: now.addingTimeInterval(3600))
        #expect(second.id == "R0000002" && second.routing.duplicateOf == "R0000001")
        // The same place in GCJ-02, as WeChat sends it, routes to the same grid.
        let g = ChineseCoordinates.wgs84ToGCJ02(lon: seat.lon, lat: seat.lat)
        #expect(try report(seat, crs: .gcj02, source: (g.lon, g.lat)).routing.grid == first.routing.grid)
        let stored = try t.store.database.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT status, level, unit, department, deadline, duplicate_of, source_crs FROM incidents WHERE id = 'R0000002'")
        }
        let row = try #require(stored)
        let status: String = row["status"], level: String = row["level"], unit: String = row["unit"]
        let duplicate: String? = row["duplicate_of"], crs: String = row["source_crs"]
        #expect(status == "reported")
        #expect(level == "town")
        #expect(unit == "琼湖街道")
        #expect(duplicate == "R0000001")
        #expect(crs == "EPSG:4326")
        let grid = try t.store.database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT grid_code FROM assignments WHERE layer = 'incident' AND feature_id = 'R0000001'")
        }
        #expect(grid == first.routing.grid)
        // Outside the county: refused, nothing stored.
        let before = try t.snapshot()
        #expect { _ = try report(LonLat(113.5, 28.8)) } throws: { ($0 as? WanggeError)?.kind == .refused && "\($0)".hasPrefix("the point is outside every grid") }
        #expect(try t.snapshot() == before)
    }
}
