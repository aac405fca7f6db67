import GeoKit
import Testing

@Suite struct CoverageOperationTests {
    @Test func aLineSplitsAPolygonIntoItsTwoSides() throws {
        let geos = try GEOSContext()
        let square = try Geometry(wkt: "POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))", context: geos)
        let pieces = try square.split(by: try Geometry(wkt: "LINESTRING(1 -1, 1 5)", context: geos))
        #expect(try pieces.map { try $0.area }.sorted() == [4, 12])
        // A line ending inside cuts nothing.
        #expect(try square.split(by: try Geometry(wkt: "LINESTRING(1 -1, 1 2)", context: geos)).count == 1)
    }

    @Test func sharedBordersAreMeasuredGeodesically() throws {
        let geos = try GEOSContext()
        let west = try Geometry(wkt: "POLYGON((112.40 28.80, 112.41 28.80, 112.41 28.81, 112.40 28.81, 112.40 28.80))", context: geos)
        let east = try Geometry(wkt: "POLYGON((112.41 28.805, 112.42 28.805, 112.42 28.82, 112.41 28.82, 112.41 28.805))", context: geos)
        let corner = try Geometry(wkt: "POLYGON((112.41 28.81, 112.42 28.81, 112.42 28.82, 112.41 28.82, 112.41 28.81))", context: geos)
        // 0.005° of latitude along the meridian 112.41°E, about 553 m.
        let expected = Geodesic.distance(lon1: 112.41, lat1: 28.805, lon2: 112.41, lat2: 28.81)
        #expect(abs(try Geodesic.sharedBorderLength(west, east) - expected) < 1e-6)
        #expect(abs(expected - 553.6) < 1)
        // Meeting at a corner only is no border.
        #expect(try Geodesic.sharedBorderLength(west, corner) == 0)
        #expect(try west.touches(corner) && !(try west.relate(east, pattern: "2********")))
    }
}
