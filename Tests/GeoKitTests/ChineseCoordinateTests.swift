import Foundation
import Testing
import TestSupport
@testable import GeoKit

@Suite struct ChineseCoordinateTests {
    struct Pair { let wgs84: [Double]; let gcj02: [Double]; let label: String }

    func vectors(_ key: String) throws -> [[String: Any]] {
        let data = try #require(FileManager.default.contents(atPath: Fixtures.reference("gcj02_test_vectors.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(root[key] as? [[String: Any]])
    }

    func pair(_ v: [String: Any], _ a: String, _ b: String) throws -> ([Double], [Double]) {
        (try #require(v[a] as? [Double]), try #require(v[b] as? [Double]))
    }

    @Test func publishedPairsReproduceToOneNanodegree() throws {
        let published = try vectors("published_wgs84_to_gcj02")
        // The first four are exact published values; the others come from inverses (~1e-7 off).
        for v in published.prefix(4) {
            let (wgs, gcj) = try pair(v, "wgs84", "gcj02")
            let out = ChineseCoordinates.wgs84ToGCJ02(lon: wgs[0], lat: wgs[1])
            #expect(abs(out.lon - gcj[0]) < 1e-9 && abs(out.lat - gcj[1]) < 1e-9, "\(v["label"] ?? "")")
        }
        for v in published.dropFirst(4) {
            let (wgs, gcj) = try pair(v, "wgs84", "gcj02")
            let out = ChineseCoordinates.wgs84ToGCJ02(lon: wgs[0], lat: wgs[1])
            #expect(abs(out.lon - gcj[0]) < 1e-6 && abs(out.lat - gcj[1]) < 1e-6)
        }
    }

    @Test func derivedPairsIncludingOutsideChina() throws {
        for v in try vectors("derived_wgs84_to_gcj02") {
            let (wgs, gcj) = try pair(v, "wgs84", "gcj02")
            let out = ChineseCoordinates.wgs84ToGCJ02(lon: wgs[0], lat: wgs[1])
            #expect(abs(out.lon - gcj[0]) < 1e-9 && abs(out.lat - gcj[1]) < 1e-9, "\(v["label"] ?? "")")
            let back = ChineseCoordinates.gcj02ToWGS84(lon: gcj[0], lat: gcj[1])
            #expect(abs(back.lon - wgs[0]) < 1e-9 && abs(back.lat - wgs[1]) < 1e-9, "inverse \(v["label"] ?? "")")
        }
        // Tokyo is outside China: unchanged both ways.
        #expect(ChineseCoordinates.wgs84ToGCJ02(lon: 139.6917, lat: 35.6895) == (139.6917, 35.6895))
        #expect(ChineseCoordinates.gcj02ToWGS84(lon: 139.6917, lat: 35.6895) == (139.6917, 35.6895))
    }

    @Test func offsetAtYuanjiangIsAboutFiveHundredMetres() {
        let g = ChineseCoordinates.wgs84ToGCJ02(lon: 112.354, lat: 28.844)
        let east = Geodesic.distance(lon1: 112.354, lat1: 28.844, lon2: g.lon, lat2: 28.844)
        let south = Geodesic.distance(lon1: 112.354, lat1: 28.844, lon2: 112.354, lat2: g.lat)
        #expect(abs(east - 559) < 40 && abs(south - 330) < 40, "east \(east) m, south \(south) m")
    }

    @Test func bd09MatchesHutoolAndInvertsExactly() throws {
        let v = try #require(try vectors("bd09_related").first { ($0["status"] as? String)?.hasPrefix("matches") == true })
        let (gcj, bd) = try pair(v, "gcj02", "bd09")
        let out = ChineseCoordinates.gcj02ToBD09(lon: gcj[0], lat: gcj[1])
        #expect(abs(out.lon - bd[0]) < 1e-9 && abs(out.lat - bd[1]) < 1e-9)
        let back = ChineseCoordinates.bd09ToGCJ02(lon: bd[0], lat: bd[1])
        #expect(abs(back.lon - gcj[0]) < 1e-9 && abs(back.lat - gcj[1]) < 1e-9)
    }

    @Test func inversesRoundTripAcrossChina() {
        var random = SeededRandom(seed: 11)
        for _ in 0..<2_000 {
            let lon = 75 + random.unit() * 60, lat = 18 + random.unit() * 35
            let g = ChineseCoordinates.wgs84ToGCJ02(lon: lon, lat: lat)
            let w = ChineseCoordinates.gcj02ToWGS84(lon: g.lon, lat: g.lat)
            #expect(abs(w.lon - lon) < 1e-9 && abs(w.lat - lat) < 1e-9)
            let b = ChineseCoordinates.wgs84ToBD09(lon: lon, lat: lat)
            let w2 = ChineseCoordinates.bd09ToWGS84(lon: b.lon, lat: b.lat)
            #expect(abs(w2.lon - lon) < 1e-9 && abs(w2.lat - lat) < 1e-9)
        }
    }
}
