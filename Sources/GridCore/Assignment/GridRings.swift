import GeoKit
import Localization

/// Every ring of every grid as flat coordinate tables: WGS84 degrees for
/// point-in-polygon and the metric CRS for distances, vertex for vertex, in
/// GEOS's own ring order and direction (distances depend on the direction in
/// their last bits). Segment `s` joins vertices `s` and `s + 1` of one ring.
struct GridRings {
    /// x, y interleaved, WGS84 degrees.
    var degreeXY: [Double] = []
    /// x, y interleaved, metres in the locator's metric CRS: the very
    /// coordinates `GridLocator` measures against.
    var metricXY: [Double] = []
    /// Ring `r` holds vertices `ringStart[r] ..< ringStart[r + 1]` (closed: first == last).
    var ringStart: [Int] = [0]
    /// The grid (index in code order) of each ring.
    var ringGrid: [Int32] = []
    /// Whether each ring is a hole (an interior ring of its polygon).
    var ringIsHole: [Bool] = []

    var ringCount: Int { ringGrid.count }
    var vertexCount: Int { degreeXY.count / 2 }

    /// The segments of ring `r`.
    func segments(ofRing r: Int) -> Range<Int> { ringStart[r]..<max(ringStart[r], ringStart[r + 1] - 1) }

    /// The grid of every vertex (build-time helper).
    func vertexGrids() -> [Int32] {
        var grids = [Int32](repeating: -1, count: vertexCount)
        for r in 0..<ringCount {
            for v in ringStart[r]..<ringStart[r + 1] { grids[v] = ringGrid[r] }
        }
        return grids
    }
}

extension GridLocator {
    /// The rings of the locator's own geometries, lon/lat and metric.
    func rings() throws -> GridRings {
        var result = GridRings()
        for (index, (grid, metric)) in zip(grids, metricGrids).enumerated() {
            let polygons = try grid.base.polygons(), metricPolygons = try metric.base.polygons()
            guard polygons.count == metricPolygons.count else {
                throw GeoError(tr("grid \(codes[index]): its metric copy has \(metricPolygons.count) polygons, not \(polygons.count)"))
            }
            for (polygon, metricPolygon) in zip(polygons, metricPolygons) {
                let rings = try polygon.rings(), metricRings = try metricPolygon.rings()
                guard rings.count == metricRings.count else {
                    throw GeoError(tr("grid \(codes[index]): its metric copy has \(metricRings.count) rings, not \(rings.count)"))
                }
                for (ringIndex, (ring, metricRing)) in zip(rings, metricRings).enumerated() {
                    let coordinates = try ring.coordinates(), metricCoordinates = try metricRing.coordinates()
                    guard coordinates.count == metricCoordinates.count else {
                        throw GeoError(tr("grid \(codes[index]): a metric ring has \(metricCoordinates.count) vertices, not \(coordinates.count)"))
                    }
                    guard coordinates.count >= 2 else { continue }
                    for (point, metricPoint) in zip(coordinates, metricCoordinates) {
                        result.degreeXY.append(point.x)
                        result.degreeXY.append(point.y)
                        result.metricXY.append(metricPoint.x)
                        result.metricXY.append(metricPoint.y)
                    }
                    result.ringStart.append(result.vertexCount)
                    result.ringGrid.append(Int32(index))
                    result.ringIsHole.append(ringIndex > 0)
                }
            }
        }
        return result
    }
}
