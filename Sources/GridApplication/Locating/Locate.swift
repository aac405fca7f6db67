import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// One point of a batch, as given: its id and coordinates in the batch's CRS.
public struct PointInput: Sendable, Decodable {
    public let id: String?
    public let lon: Double
    public let lat: Double

    public init(id: String?, lon: Double, lat: Double) {
        self.id = id
        self.lon = lon
        self.lat = lat
    }
}

/// A located point of a batch: its id and its answer.
public struct LocatedPoint: Sendable, Encodable {
    public let id: String?
    public let result: LocateAnswer
}

extension GridService {
    /// Converts a point given in `crs` to WGS84 with a cached converter; the error names `field`.
    public static func wgs84(x: Double, y: Double, crs: CoordinateSystem, field: String = "lon") throws -> LonLat {
        // Most points come in WGS84 already: no converter to check out (out-of-range ones get its message below).
        if crs == .wgs84, (-180...180).contains(x), (-90...90).contains(y) { return LonLat(x, y) }
        do {
            let p = try WGS84ConverterCache.shared.withConverter(from: crs) { try $0.toWGS84(x: x, y: y) }
            return LonLat(p.lon, p.lat)
        } catch let error as GeoError {
            throw WanggeError.invalid(tr("(\(x), \(y)) in \(crs): \(error.text)"), field: field)
        }
    }

    /// The grid, village, town and worker of one point given in any CRS, in a
    /// generation (nil: the active one). Outside every grid is an answer, not an error.
    public func locate(x: Double, y: Double, crs: CoordinateSystem, generation: Int64? = nil) throws -> LocateAnswer {
        let p = try Self.wgs84(x: x, y: y, crs: crs)
        let loaded = try loaded(generation: generation)
        let assignment = try translatingErrors { try loaded.assigner.locate(p) }
        return loaded.answer(input: .init(x: x, y: y, crs: crs.description), wgs84: p, assignment: assignment)
    }

    /// Locates a batch in one go on every core; a point that cannot be converted is an error naming its index.
    public func locate(_ points: [PointInput], crs: CoordinateSystem, generation: Int64? = nil) throws -> [LocatedPoint] {
        var positions: [LonLat] = []
        positions.reserveCapacity(points.count)
        do {
            try WGS84ConverterCache.shared.withConverter(from: crs) { converter in
                for (i, point) in points.enumerated() {
                    do {
                        let p = try converter.toWGS84(x: point.lon, y: point.lat)
                        positions.append(LonLat(p.lon, p.lat))
                    } catch let error as GeoError {
                        throw WanggeError.invalid(tr("points[\(i)]: \(error.text)"), field: "points[\(i)]")
                    }
                }
            }
        } catch let error as GeoError {
            throw WanggeError.invalid(tr("crs: \(error.text)"), field: "crs")
        }
        let loaded = try loaded(generation: generation)
        let assignments = try translatingErrors { try loaded.assigner.assign(positions) }
        return points.indices.map { i in
            LocatedPoint(id: points[i].id, result: loaded.answer(input: .init(x: points[i].lon, y: points[i].lat, crs: crs.description),
                                                                wgs84: positions[i], assignment: assignments[i]))
        }
    }
}
