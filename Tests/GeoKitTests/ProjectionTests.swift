import Foundation
import Testing
import TestSupport
@testable import GeoKit

@Suite struct ProjectionTests {
    @Test func wgs84ToGaussKrugerAndBackWithinOneMillimetre() throws {
        let context = try PROJContext()
        let forward = try CoordinateTransformer(from: "EPSG:4326", to: "EPSG:4547", context: context)
        #expect(forward.sourceName == "WGS 84")
        for (lon, lat) in [(112.355, 28.842), (113.9, 22.5), (114.0, 30.6), (115.4, 40.0)] {
            let xy = try forward.transform(x: lon, y: lat)
            // CM 114°E: false easting 500 km, x grows eastwards with normalised axes.
            #expect((xy.x - 500_000).sign == (lon - 114).sign || abs(lon - 114) < 1e-9)
            let back = try forward.inverse(x: xy.x, y: xy.y)
            let error = Geodesic.distance(lon1: lon, lat1: lat, lon2: back.x, lat2: back.y)
            #expect(error < 0.001, "round trip error \(error) m at \(lon), \(lat)")
        }
        // The central meridian maps to the false easting exactly.
        #expect(abs(try forward.transform(x: 114, y: 30).x - 500_000) < 1e-6)
    }

    /// A copy in another context (another thread's) transforms to the same
    /// bits as the transformer PROJ searched for, forwards and back.
    @Test func aCopyTransformsBitForBitLikeTheOriginal() throws {
        var random = SeededRandom(seed: 41)
        for (crs, lon, lat) in [("EPSG:4547", 114.0, 28.9), ("EPSG:32617", -79.5, 35.5), ("EPSG:3857", 112.4, 28.8)] {
            let original = try CoordinateTransformer(from: "EPSG:4326", to: crs, context: try PROJContext())
            let copy = try original.copy(in: try PROJContext())
            #expect(copy.source == original.source && copy.target == original.target && copy.sourceName == original.sourceName)
            #expect(copy.sourceAreaOfUse == original.sourceAreaOfUse && copy.definition == original.definition)
            for _ in 0..<10_000 {
                let p = (lon + (random.unit() - 0.5) * 4, lat + (random.unit() - 0.5) * 4)
                let (a, b) = (try original.transform(x: p.0, y: p.1), try copy.transform(x: p.0, y: p.1))
                #expect(a.x.bitPattern == b.x.bitPattern && a.y.bitPattern == b.y.bitPattern, "\(crs) at \(p)")
                let (c, d) = (try original.inverse(x: a.x, y: a.y), try copy.inverse(x: a.x, y: a.y))
                #expect(c.x.bitPattern == d.x.bitPattern && c.y.bitPattern == d.y.bitPattern, "\(crs) back from \(a)")
            }
        }
    }

    /// The metric transformers name CGCS2000 as the source in its Gauss-Krüger zones, to spare
    /// PROJ's search for a WGS84 → CGCS2000 transformation: the same pipeline as from WGS84
    /// (PROJ has only a ballpark one between them), and the same bits, in every zone.
    @Test func metricTransformersGiveWhatPROJFindsFromWGS84() throws {
        var random = SeededRandom(seed: 43)
        for number in MetricCRS.gaussKrugerZones {
            let metric = "EPSG:\(number)"
            #expect(MetricCRS.geographicCRS(for: metric) == "EPSG:4490")
            let searched = try CoordinateTransformer(from: "EPSG:4326", to: metric, context: try PROJContext())
            let direct = try MetricCRS.transformer(to: metric, context: try PROJContext())
            let searchedBack = try CoordinateTransformer(from: metric, to: "EPSG:4326", context: try PROJContext())
            let back = try MetricCRS.transformer(from: metric, context: try PROJContext())
            #expect(direct.definition != nil && direct.definition == searched.definition, "\(metric)")
            #expect(back.definition != nil && back.definition == searchedBack.definition, "\(metric) back")
            let centralMeridian = Double(75 + 3 * (number - 4534))
            for _ in 0..<500 {
                let lon = centralMeridian + (random.unit() - 0.5) * 3, lat = 18 + random.unit() * 35
                let (a, b) = (try searched.transform(x: lon, y: lat), try direct.transform(x: lon, y: lat))
                #expect(a.x.bitPattern == b.x.bitPattern && a.y.bitPattern == b.y.bitPattern, "\(metric) at \(lon), \(lat)")
                let (c, d) = (try searchedBack.transform(x: a.x, y: a.y), try back.transform(x: a.x, y: a.y))
                #expect(c.x.bitPattern == d.x.bitPattern && c.y.bitPattern == d.y.bitPattern, "\(metric) back from \(a)")
            }
        }
        // Outside China's zones the source stays WGS84.
        #expect(MetricCRS.geographicCRS(for: "EPSG:32617") == "EPSG:4326")
        #expect(MetricCRS.geographicCRS(for: "EPSG:4533") == "EPSG:4326" && MetricCRS.geographicCRS(for: "EPSG:4555") == "EPSG:4326")
    }

    @Test func projectedDistanceAgreesWithGeodesic() throws {
        let context = try PROJContext()
        let code = MetricCRS.code(forLongitude: 112.355, latitude: 28.842)
        #expect(code == "EPSG:4546")
        let t = try CoordinateTransformer(from: "EPSG:4326", to: code, context: context)
        let a = try t.transform(x: 112.30, y: 28.80), b = try t.transform(x: 112.45, y: 28.95)
        let projected = hypot(a.x - b.x, a.y - b.y)
        let geodesic = Geodesic.distance(lon1: 112.30, lat1: 28.80, lon2: 112.45, lat2: 28.95)
        #expect(abs(projected - geodesic) / geodesic < 0.0005)
    }

    @Test func unknownCRSIsReportedWithPROJsWords() throws {
        let context = try PROJContext()
        #expect {
            _ = try CoordinateTransformer(from: "EPSG:999999", to: "EPSG:4326", context: context)
        } throws: { error in
            let message = (error as? GeoError)?.message ?? ""
            return message.contains("EPSG:999999") && message.contains("crs not found")
        }
    }

    @Test func converterChecksRangesAndAreaOfUse() throws {
        let context = try PROJContext()
        let wgs = try WGS84Converter(from: .wgs84, context: context)
        #expect { _ = try wgs.toWGS84(x: 112, y: 95) } throws: { ($0 as? GeoError)?.message.contains("latitude 95.0 is outside") == true }
        let gk = try WGS84Converter(from: .epsg(4547), context: context)
        let inZone = try gk.toWGS84(x: 500_000, y: 3_300_000)
        #expect(abs(inZone.lon - 114) < 1e-9)
        #expect { _ = try gk.toWGS84(x: 500_000, y: 9_000_000) } throws: { ($0 as? GeoError)?.message.contains("area of use") == true }
        // 沅江市 straddles 112.5°E, the western edge of this zone: its western part, in the
        // zone's coordinates, comes back where it was; a point 2° beyond the edge does not.
        let toZone = try CoordinateTransformer(from: "EPSG:4326", to: "EPSG:4547", context: context)
        for (lon, lat) in [(112.21, 28.85), (112.35, 29.1), (111.6, 28.9)] {
            let projected = try toZone.transform(x: lon, y: lat)
            let back = try gk.toWGS84(x: projected.x, y: projected.y)
            #expect(abs(back.lon - lon) < 1e-9 && abs(back.lat - lat) < 1e-9, "\(lon), \(lat)")
        }
        // CGCS2000 to WGS84 is PROJ's ballpark no-op, which the converter skips: the same coordinates.
        #expect(try CoordinateTransformer(from: "EPSG:4490", to: "EPSG:4326", context: context).isIdentity)
        #expect(try !CoordinateTransformer(from: "EPSG:4547", to: "EPSG:4326", context: context).isIdentity)
        let cgcs = try WGS84Converter(from: .epsg(4490), context: context)
        let same = try cgcs.toWGS84(x: 112.3597, y: 28.841)
        #expect(same.lon == 112.3597 && same.lat == 28.841)
        #expect { _ = try cgcs.toWGS84(x: 60, y: 28.8) } throws: { ($0 as? GeoError)?.message.contains("area of use") == true }
        let farWest = try toZone.transform(x: 110.4, y: 28.9)
        #expect { _ = try gk.toWGS84(x: farWest.x, y: farWest.y) } throws: { ($0 as? GeoError)?.message.contains("area of use") == true }
        let mercator = try WGS84Converter(from: .epsg(3857), context: context)
        // Spherical Mercator written out by hand, as an independent check of PROJ.
        let radius = 6_378_137.0, lon = 112.355, lat = 28.842
        let x = radius * lon * .pi / 180, y = radius * log(tan(.pi / 4 + lat * .pi / 360))
        let p = try mercator.toWGS84(x: x, y: y)
        #expect(abs(p.lon - lon) < 1e-9 && abs(p.lat - lat) < 1e-9)
    }

    /// EPSG:4978 takes x, y, z from the Earth's centre: read as x, y it gave points nowhere near the data.
    @Test func onlyGeographicOrProjected2DSystemsAreAccepted() throws {
        let context = try PROJContext()
        #expect { _ = try WGS84Converter(from: .epsg(4978), context: context) } throws: {
            "\($0)".hasPrefix("EPSG:4978 (WGS 84): it is a geocentric CRS (x, y, z in metres from the Earth's centre); give a geographic or projected 2D CRS")
        }
        #expect { _ = try WGS84Converter(from: .epsg(4979), context: context) } throws: { "\($0)".contains("it is a 3D geographic CRS") }
        #expect { _ = try WGS84Converter(from: .epsg(5773), context: context) } throws: { "\($0)".contains("it is a vertical CRS") }
        for code in [4326, 4490, 4547, 3857, 32650] { _ = try WGS84Converter(from: .epsg(code), context: context) }
    }

    @Test func parsesCoordinateSystemNames() throws {
        #expect(try CoordinateSystem(parsing: "EPSG:4490") == .epsg(4490))
        #expect(try CoordinateSystem(parsing: "4326") == .wgs84)
        #expect(try CoordinateSystem(parsing: "GCJ-02") == .gcj02)
        #expect(try CoordinateSystem(parsing: "bd09") == .bd09)
        #expect(throws: GeoError.self) { try CoordinateSystem(parsing: "utm50") }
    }

    @Test func countyMetricAreaAgreesWithGeodesicArea() throws {
        let geos = try GEOSContext()
        let proj = try PROJContext()
        let document = try GeoJSONDocument(contentsOf: Fixtures.countyBoundary)
        let county = try Geometry(geoJSON: document.features[0].geometryJSON, context: geos)
        let geodesic = try Geodesic.area(of: county)
        // The published figure is 2,131.96 km².
        #expect(abs(geodesic / 1e6 - 2131.96) < 5)
        let metric = try CoordinateTransformer(from: "EPSG:4326", to: "EPSG:4546", context: proj).transform(county).area
        #expect(abs(metric - geodesic) / geodesic < 0.001)
    }
}
