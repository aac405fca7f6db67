import Foundation
import Testing
import TestSupport
@testable import GeoKit

@Suite struct GEOSWrapperTests {
    /// The loop runs in a `wangge bench memory` process of its own: resident
    /// memory is per process, and other tests allocate concurrently in this one.
    @Test func ownershipLoopDoesNotLeak() throws {
        let binary = try #require(Fixtures.executable("wangge"), "build the wangge executable first (swift build --build-tests)")
        let output = try Fixtures.run(binary, ["bench", "memory", "--iterations", "100000"])
        let grown = try #require(output.split(separator: " ").compactMap { Int($0) }.first, "unexpected output: \(output)")
        // Each iteration allocates seven geometries, a prepared geometry and three
        // readers or writers: leaking any one of them (≥ 100 bytes) would grow the
        // process by over 10 MB.
        #expect(grown < 4 * 1024 * 1024, "\(output)")
    }

    @Test func errorsCarryGEOSMessages() throws {
        let context = try GEOSContext()
        #expect {
            _ = try Geometry(wkt: "POLYGON ((0 0, 1 0, 1 1", context: context)
        } throws: { error in
            let message = (error as? GeoError)?.message ?? ""
            return message.contains("read WKT") && message.contains("ParseException")
        }
        // The context still works after an error, and the message does not linger.
        let ok = try Geometry(wkt: "POINT (1 2)", context: context)
        #expect(try ok.pointCoordinates.x == 1)
        #expect { _ = try Geometry(wkb: [1, 2, 3], context: context) } throws: { error in
            ((error as? GeoError)?.message ?? "").contains("read WKB")
        }
    }

    /// GEOS 3.11's GeoJSON reader crashes the process on an empty position
    /// inside a line, ring or multipoint (found by `make fuzz`); the document
    /// refuses it first, naming the feature, at every nesting depth.
    @Test func emptyPositionsAreRefusedBeforeGEOSReadsThem() throws {
        let geometries = [
            #"{"type":"LineString","coordinates":[[112.3,28.8],[]]}"#,
            #"{"type":"MultiPoint","coordinates":[[]]}"#,
            #"{"type":"Polygon","coordinates":[[[112.3,28.8],[],[112.4,28.9],[112.3,28.8]]]}"#,
            #"{"type":"MultiLineString","coordinates":[[[1,2],[3,4]],[[]]]}"#,
            #"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[]]]]}"#,
            #"{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"LineString","coordinates":[[]]}]}"#,
        ]
        for geometry in geometries {
            let collection = #"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,2]}},{"type":"Feature","properties":{},"geometry":\#(geometry)}]}"#
            #expect(throws: GeoError.self, "\(geometry)") { try GeoJSONDocument(text: collection, source: "grids.geojson") }
            do {
                _ = try GeoJSONDocument(text: collection, source: "grids.geojson")
            } catch let error as GeoError {
                #expect(error.message.hasPrefix("grids.geojson: feature 2: "), "\(error.message)")
                #expect(error.message.contains("[]"), "\(error.message)")
            }
            #expect(throws: GeoError.self, "\(geometry)") { try GeoJSONDocument(text: geometry, source: "shape") }
        }
        // An empty Point, an empty line and an empty polygon are valid GeoJSON and read as empty geometries.
        let context = try GEOSContext()
        for empty in [#"{"type":"Point","coordinates":[]}"#, #"{"type":"LineString","coordinates":[]}"#, #"{"type":"Polygon","coordinates":[[]]}"#] {
            let document = try GeoJSONDocument(text: empty, source: "shape")
            #expect(try Geometry(geoJSON: document.features[0].geometryJSON, context: context).isEmpty, "\(empty)")
        }
    }

    @Test func wkbWktAndGeoJSONRoundTrips() throws {
        let context = try GEOSContext()
        let original = try Geometry(wkt: "MULTIPOLYGON (((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 2 4, 4 4, 4 2, 2 2)), ((20 20, 21 20, 21 21, 20 20)))", context: context)
        let fromWKB = try Geometry(wkb: original.wkb(), context: context)
        #expect(try fromWKB.equalsExact(original))
        let fromGeoJSON = try Geometry(geoJSON: original.geoJSON(), context: context)
        #expect(try fromGeoJSON.equalsExact(original))
        let fromWKT = try Geometry(wkt: original.wkt(), context: context)
        #expect(try fromWKT.equalsExact(original))
        #expect(try original.area == 100 - 4 + 0.5)
        #expect(try original.type == .multiPolygon)
        #expect(try original.numberOfGeometries == 2)
        let json = try original.geoJSON()
        #expect(json.hasPrefix("{\"type\":\"MultiPolygon\""))
    }

    @Test func validityReasonAndRepair() throws {
        let context = try GEOSContext()
        let bowTie = try Geometry(wkt: "POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))", context: context)
        let report = try bowTie.validity()
        #expect(!report.isValid)
        #expect(report.reason == "Self-intersection")
        #expect(report.location?.x == 1 && report.location?.y == 1)
        #expect(try bowTie.validityReason().hasPrefix("Self-intersection[1 1]"))
        let repaired = try bowTie.makeValid()
        #expect(try repaired.validity().isValid)
        #expect(abs(try repaired.area - 2) < 1e-12)
        #expect(try repaired.asMultiPolygon().type == .multiPolygon)
    }

    @Test func strtreeMatchesBruteForce() throws {
        let context = try GEOSContext()
        var random = SeededRandom(seed: 7)
        let envelopes = (0..<500).map { _ -> Envelope in
            let x = random.unit() * 100, y = random.unit() * 100
            return Envelope(minX: x, minY: y, maxX: x + random.unit() * 5, maxY: y + random.unit() * 5)
        }
        let tree = try STRtree(envelopes: envelopes, context: context)
        for _ in 0..<200 {
            let x = random.unit() * 100, y = random.unit() * 100
            let hits = tree.query(try Geometry.point(x: x, y: y, context: context))
            let expected = envelopes.indices.filter { envelopes[$0].contains(x: x, y: y) }
            #expect(hits == expected)
        }
    }

    @Test func voronoiPolygonizeTilesTheFrame() throws {
        let context = try GEOSContext()
        let points = try Geometry(wkt: "MULTIPOINT ((1 1), (3 1), (2 3), (4 4))", context: context)
        let frame = try Geometry.box(Envelope(minX: 0, minY: 0, maxX: 5, maxY: 5), context: context)
        let edges = try points.voronoiDiagram(envelope: frame, onlyEdges: true)
        let noded = try Geometry.collection(.geometryCollection, [edges, try frame.boundary()], context: context).unaryUnion()
        let faces = try Geometry.polygonize([noded], context: context)
        let inside = try (0..<faces.numberOfGeometries).map { try faces.geometry(at: $0) }
            .filter { try frame.contains($0.pointOnSurface()) }
        #expect(inside.count == 4)
        #expect(abs(try inside.reduce(0) { $0 + (try $1.area) } - 25) < 1e-9)
    }
}
