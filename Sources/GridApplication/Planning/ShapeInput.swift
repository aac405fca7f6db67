import Foundation
import GeoKit
import GridCore
import Localization

/// A line or polygon for a planning edit, as text: WKT, or GeoJSON (a
/// geometry, a Feature, or a FeatureCollection of one feature), in any CRS.
/// Reading a file is the front end's work: the HTTP API never opens a path it is sent.
public enum ShapeInput {
    /// The shape as WKB in WGS84; errors begin with `source` (the file or the field it came from).
    public static func wkb(text: String, source: String, crs: CoordinateSystem) throws -> [UInt8] {
        let geos = try GEOSContext()
        var geometry: Geometry
        do {
            if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {
                let document = try GeoJSONDocument(text: text, source: source)
                guard document.features.count == 1, let json = document.features[0].geometryJSONOrNil else {
                    throw WanggeError.invalid(tr("\(source): expected one geometry, found \(document.features.count) features"))
                }
                geometry = try Geometry(geoJSON: json, context: geos)
            } else {
                geometry = try Geometry(wkt: text.trimmingCharacters(in: .whitespacesAndNewlines), context: geos)
            }
            if crs != .wgs84 {
                let converter = try WGS84Converter(from: crs, context: try PROJContext())
                geometry = try geometry.mapCoordinates { xy in
                    for i in stride(from: 0, to: xy.count, by: 2) {
                        let p = try converter.toWGS84(x: xy[i], y: xy[i + 1])
                        xy[i] = p.lon
                        xy[i + 1] = p.lat
                    }
                }
            }
            return try geometry.wkb()
        } catch let error as GeoError {
            throw WanggeError.invalid(tr("\(source): \(error.text)"))
        }
    }
}

