import Foundation
import GeoKit
import GridCore
import GridApplication
import GridStore
import Hummingbird
import Localization

/// OGC API - Features, Part 1 (Core, GeoJSON): landing page, conformance,
/// collections, items with bbox / limit / offset paging, single items.
/// Personal data follows the same masking rules as /v1.
struct OGCRoutes {
    let service: GridService
    /// The configured public URL (or the bind address) that links begin with:
    /// never the request's Host header, which any client can set.
    let baseURL: String
    static let defaultLimit = 10
    static let maxLimit = 10_000

    func add(to router: Router<WanggeContext>) {
        // A browser asking for the root gets the web map; everyone else the OGC landing page.
        router.get("/") { request, _ in try WebMapPage.wanted(by: request) ? try WebMapPage.response(service.config.webMap) : try landing() }
        router.get("conformance") { _, context in
            _ = try context.requireCaller()
            return try JSON.response(["conformsTo": [
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
            ] + TileRoutes.conformance])
        }
        router.get("collections") { _, context in
            _ = try context.requireCaller()
            let base = baseURL
            let object: [String: Any] = [
                "links": [["href": "\(base)/collections", "rel": "self", "type": "application/json", "title": "this document"]],
                "collections": try Collection.allCases.map { try collectionObject($0, base: base) },
            ]
            return try JSON.object(object)
        }
        router.get("collections/{id}") { _, context in
            _ = try context.requireCaller()
            return try JSON.object(try collectionObject(try collection(context), base: baseURL))
        }
        router.get("collections/{id}/items") { request, context in try items(request, context) }
        router.get("collections/{id}/items/{fid}") { request, context in try item(request, context) }
    }

    func collection(_ context: WanggeContext) throws -> Collection {
        let id = try context.pathParameter("id")
        guard let collection = Collection(rawValue: id) else {
            throw APIError.notFound(tr("no collection \(id): the collections are \(Collection.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        return collection
    }

    func landing() throws -> Response {
        let base = baseURL
        return try JSON.object([
            "title": "Wangge 网格 — grid management",
            "description": "Grids, villages, towns, households, cameras and incidents of the county, as OGC API - Features, and the areas as OGC API - Tiles (Mapbox Vector Tiles). Every path but this page, the web map's files (/web/), /healthz and /openapi.json needs Authorization: Bearer <token>.",
            "links": [
                ["href": "\(base)/", "rel": "self", "type": "application/json", "title": "this document"],
                ["href": "\(base)/openapi.json", "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "title": "the API definition"],
                ["href": "\(base)/conformance", "rel": "conformance", "type": "application/json", "title": "conformance classes"],
                ["href": "\(base)/collections", "rel": "data", "type": "application/json", "title": "the collections"],
                ["href": "\(base)/tileMatrixSets", "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "type": "application/json", "title": "tile matrix sets (vector tiles of grids, villages and towns)"],
                ["href": "\(base)/?f=html", "rel": "alternate", "type": "text/html", "title": "the web map"],
            ],
        ])
    }

    func collectionObject(_ c: Collection, base: String) throws -> [String: Any] {
        let extent = try service.active().extent
        var links: [[String: String]] = [
            ["href": "\(base)/collections/\(c.rawValue)", "rel": "self", "type": "application/json", "title": c.title],
            ["href": "\(base)/collections/\(c.rawValue)/items", "rel": "items", "type": "application/geo+json", "title": c.title],
        ]
        if c.isPolygon {
            links.append(["href": "\(base)/collections/\(c.rawValue)/tiles", "rel": TileRoutes.tilesetsRelation, "type": "application/json",
                          "title": "\(c.title), vector tiles"])
        }
        return [
            "id": c.rawValue, "title": c.title, "itemType": "feature",
            "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
            "extent": ["spatial": ["bbox": [[extent.minX, extent.minY, extent.maxX, extent.maxY]], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"]],
            "links": links,
        ]
    }

    /// One GeoJSON Feature as text: properties encoded, geometry from SpatiaLite.
    func featureJSON(_ f: VisibleFeature) throws -> String {
        let id = String(decoding: try JSON.encode(f.id), as: UTF8.self)
        let props = String(decoding: try JSON.encode(f.properties), as: UTF8.self)
        return "{\"type\":\"Feature\",\"id\":\(id),\"geometry\":\(f.geometryJSON),\"properties\":\(props)}"
    }

    func items(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let collection = try collection(context)
        let q = Query(request: request)
        let limit = try q.int("limit", default: Self.defaultLimit, range: 1...Self.maxLimit)
        let offset = try q.int("offset", default: 0, range: 0...100_000_000)
        let generation = try q.generation(service)
        let (matched, features) = try service.features(collection, bbox: try q.bbox(), limit: limit, offset: offset, generation: generation,
                                                       for: caller, action: "GET \(request.uri.path)")
        let featureTexts = try features.map(featureJSON)
        let base = baseURL
        let bboxParameter = (q.string("bbox").map { "&bbox=\($0)" } ?? "") + (generation.map { "&generation=\($0)" } ?? "")
        var links: [[String: String]] = [
            ["href": "\(base)/collections/\(collection.rawValue)/items?limit=\(limit)&offset=\(offset)\(bboxParameter)", "rel": "self", "type": "application/geo+json"],
            ["href": "\(base)/collections/\(collection.rawValue)", "rel": "collection", "type": "application/json"],
        ]
        // Over the count limit the total is unknown: a full page may have a next one.
        if matched.map({ offset + features.count < $0 }) ?? (features.count == limit) {
            links.append(["href": "\(base)/collections/\(collection.rawValue)/items?limit=\(limit)&offset=\(offset + limit)\(bboxParameter)",
                          "rel": "next", "type": "application/geo+json"])
        }
        let linksText = String(decoding: try JSONSerialization.data(withJSONObject: links, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        let stamp = GridStore.timestamp(Date())
        let numberMatched = matched.map { "\"numberMatched\":\($0)," } ?? ""
        let text = "{\"type\":\"FeatureCollection\",\(numberMatched)\"numberReturned\":\(features.count),\"timeStamp\":\"\(stamp)\",\"links\":\(linksText),\"features\":[\(featureTexts.joined(separator: ","))]}"
        return JSON.raw(text, contentType: "application/geo+json")
    }

    func item(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let collection = try collection(context)
        let fid = try context.pathParameter("fid")
        let text = try featureJSON(try service.feature(collection, id: fid, for: caller, action: "GET \(request.uri.path)"))
        return JSON.raw(text, contentType: "application/geo+json")
    }
}
