import Foundation
import Synchronization
import Testing
import TestSupport
@testable import GeoKit

@Suite struct ConverterCacheTests {
    /// Places of the sample county's eastern part, inside the area of use of CGCS2000 / 3-degree Gauss-Krüger CM 114E (EPSG:4547).
    static func places() throws -> [(lon: Double, lat: Double, x: Double, y: Double)] {
        let forward = try CoordinateTransformer(from: "EPSG:4326", to: "EPSG:4547", context: try PROJContext())
        return try (0..<40).map { k in
            let lon = 112.6 + Double(k) * 0.01, lat = 28.8 + Double(k) * 0.005
            let xy = try forward.transform(x: lon, y: lat)
            return (lon, lat, xy.x, xy.y)
        }
    }

    @Test func aConverterIsBuiltOncePerCRSAndReused() throws {
        let cache = WGS84ConverterCache()
        for p in try Self.places() {
            let back = try cache.withConverter(from: .epsg(4547)) { try $0.toWGS84(x: p.x, y: p.y) }
            #expect(abs(back.lon - p.lon) < 1e-8 && abs(back.lat - p.lat) < 1e-8)
        }
        #expect(cache.built == 1)
        _ = try cache.withConverter(from: .gcj02) { try $0.toWGS84(x: 112.36, y: 28.84) }
        #expect(cache.built == 2)
        #expect(throws: GeoError.self) { try cache.withConverter(from: .epsg(999_999)) { _ in } }
    }

    /// A client naming many CRSs leaves at most `keptPrototypes` behind (each holds a
    /// PROJ context with proj.db open); past them, converters are built and lent as before.
    @Test func prototypesAreKeptForAFewCRSsOnly() throws {
        let cache = WGS84ConverterCache()
        for (zone, code) in (32601...32621).enumerated() { // UTM zones 1–21 north
            let centralMeridian = -177.0 + 6 * Double(zone)
            let back = try cache.withConverter(from: .epsg(code)) { try $0.toWGS84(x: 500_000, y: 3_300_000) }
            #expect(abs(back.lon - centralMeridian) < 1e-9, "EPSG:\(code)")
        }
        #expect(cache.prototypeCount == WGS84ConverterCache.keptPrototypes)
        #expect(cache.built == 21)
    }

    /// Threads at once each get a converter of their own (PROJ contexts are
    /// not thread-safe): every answer is right, and no more are built than threads.
    @Test func concurrentCallersNeverShareAConverter() throws {
        let cache = WGS84ConverterCache()
        let places = try Self.places()
        let wrong = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 400) { i in
            let p = places[i % places.count]
            let back = try? cache.withConverter(from: .epsg(4547)) { try $0.toWGS84(x: p.x, y: p.y) }
            if back.map({ abs($0.lon - p.lon) >= 1e-8 || abs($0.lat - p.lat) >= 1e-8 }) ?? true { wrong.withLock { $0 += 1 } }
        }
        #expect(wrong.withLock { $0 } == 0)
        #expect(cache.built >= 1 && cache.built <= ProcessInfo.processInfo.activeProcessorCount + 1)
    }
}
