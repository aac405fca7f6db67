import Foundation
import GRDB
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridStore

@Suite struct FeatureQueryTests {
    /// A bbox page comes from the layer's R*Tree in id order, equal to a plain
    /// scan of every household's coordinates, at every offset; the count stops at its limit.
    @Test func bboxPagesMatchAPlainScanAndTheCountIsBounded() throws {
        let f = try PlanningFixture()
        let households = try f.store.database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, X(geom), Y(geom) FROM households ORDER BY id").map { (id: $0[0] as String, lon: $0[1] as Double, lat: $0[2] as Double) }
        }
        // The lattice's corner household lies exactly on the box's south-west corner: touching counts.
        let corner = try #require(households.first { $0.id == "L0-0" })
        for box in [BoundingBox(minLon: 112.25, minLat: 28.71, maxLon: 112.94, maxLat: 29.18),
                    BoundingBox(minLon: corner.lon, minLat: corner.lat, maxLon: 112.36, maxLat: 28.845)] {
            let inside = households.filter { (box.minLon...box.maxLon).contains($0.lon) && (box.minLat...box.maxLat).contains($0.lat) }.map(\.id)
            #expect(inside.count > 100)
            let all = try f.store.features(.households, bbox: box, limit: 10_000, offset: 0)
            #expect(all.matched == inside.count && all.features.map(\.id) == inside)
            let page = try f.store.features(.households, bbox: box, limit: 25, offset: 50, countLimit: 100)
            #expect(page.matched == nil, "more than 100 matched: the count stops")
            #expect(page.features.map(\.id) == Array(inside[50..<75]))
            #expect(page.features.allSatisfy { $0.geometryJSON.hasPrefix("{\"type\":\"Point\"") })
            // Counted (under the limit), the matches are found once and paged from them: every page, the last and past the end.
            for offset in [0, 50, inside.count - 3, inside.count, inside.count + 5] {
                let counted = try f.store.features(.households, bbox: box, limit: 25, offset: offset)
                #expect(counted.matched == inside.count)
                #expect(counted.features.map(\.id) == Array(inside.dropFirst(offset).prefix(25)), "offset \(offset)")
            }
        }
        #expect(try f.store.features(.households, bbox: BoundingBox(minLon: 100, minLat: 10, maxLon: 100.1, maxLat: 10.1), limit: 10, offset: 0).matched == 0)
    }
}
