import Foundation
import GeoKit
import GridApplication
import GridCore
import GridStore
import Hummingbird
import Localization

/// OGC API - Tiles (Core, TileSet, TileSets List, GeoData TileSets, MVT) over the
/// area collections, in the WebMercatorQuad tile matrix set: what the web map draws a
/// province with. Tiles carry codes and names only; a grid's details come from /v1/grids/{code}.
struct TileRoutes {
    let service: GridService
    let baseURL: String

    static let tileMatrixSetID = "WebMercatorQuad"
    static let tileMatrixSetURI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    static let mediaType = "application/vnd.mapbox-vector-tile"
    static let conformance = [
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
        "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
    ]
    static let tilesetsRelation = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
    static let tilingSchemeRelation = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"

    func add(to router: Router<WanggeContext>) {
        router.get("tileMatrixSets") { _, context in
            _ = try context.requireCaller()
            return try JSON.object(["tileMatrixSets": [[
                "id": Self.tileMatrixSetID, "title": "Google Maps Compatible for the World", "uri": Self.tileMatrixSetURI,
                "links": [["href": "\(baseURL)/tileMatrixSets/\(Self.tileMatrixSetID)", "rel": "self", "type": "application/json"]],
            ]]])
        }
        router.get("tileMatrixSets/{tileMatrixSetId}") { _, context in
            _ = try context.requireCaller()
            try tileMatrixSet(context)
            return try JSON.object(Self.webMercatorQuad)
        }
        router.get("collections/{id}/tiles") { _, context in
            _ = try context.requireCaller()
            let collection = try collection(context)
            return try JSON.object([
                "links": [["href": "\(baseURL)/collections/\(collection.rawValue)/tiles", "rel": "self", "type": "application/json"]],
                "tilesets": [tilesetSummary(collection)],
            ])
        }
        router.get("collections/{id}/tiles/{tileMatrixSetId}") { _, context in
            _ = try context.requireCaller()
            let collection = try collection(context)
            try tileMatrixSet(context)
            return try JSON.object(try tileset(collection))
        }
        router.get("collections/{id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}") { request, context in
            try tile(request, context)
        }
    }

    func collection(_ context: WanggeContext) throws -> Collection {
        let id = try context.pathParameter("id")
        guard let collection = Collection(rawValue: id), collection.isPolygon else {
            throw APIError.notFound(tr("no tiles for \(TextLimits.shown(id)): the collections with tiles are \(VectorTiles.collections.map(\.rawValue).joined(separator: ", "))"))
        }
        return collection
    }

    func tileMatrixSet(_ context: WanggeContext) throws {
        let id = try context.pathParameter("tileMatrixSetId")
        guard id == Self.tileMatrixSetID else {
            throw APIError.notFound(tr("no tile matrix set \(TextLimits.shown(id)): the one served is \(Self.tileMatrixSetID)"))
        }
    }

    /// The tile of `/{tileMatrix}/{tileRow}/{tileCol}`: 200 with the MVT bytes, 204 when
    /// no area meets it, 304 when If-None-Match holds its ETag.
    func tile(_ request: Request, _ context: WanggeContext) throws -> Response {
        _ = try context.requireCaller()
        let collection = try collection(context)
        try tileMatrixSet(context)
        let zoom = try index("tileMatrix", context, below: WebMercator.maxZoom + 1)
        let size = TileAddress.matrixSize(zoom)
        let row = try index("tileRow", context, below: size)
        let column = try index("tileCol", context, below: size)
        let q = Query(request: request)
        if let format = q.string("f"), format != "mvt" {
            throw APIError.badParameter("f", tr("\"\(TextLimits.shown(format))\" is not a tile format: use mvt"))
        }
        let address = TileAddress(zoom: zoom, column: column, row: row)
        let generation = try q.generation(service)
        let headers: HTTPFields = [.cacheControl: "private, no-cache", .vary: "Authorization"]
        let etag = try service.tileETag(collection, at: address, generation: generation)
        if JSON.notModified(request, etag: etag) {
            var notModified = headers
            notModified[.eTag] = etag
            return Response(status: .notModified, headers: notModified)
        }
        let tile = try service.vectorTile(collection, at: address, generation: generation)
        var answer = headers
        answer[.eTag] = tile.etag
        guard !tile.bytes.isEmpty else { return Response(status: .noContent, headers: answer) }
        answer[.contentType] = Self.mediaType
        return Response(status: .ok, headers: answer, body: .init(byteBuffer: ByteBuffer(bytes: tile.bytes)))
    }

    /// A path parameter that must be a whole number in 0..<`limit`, else 400 naming it.
    func index(_ name: String, _ context: WanggeContext, below limit: Int) throws -> Int {
        let text = try context.pathParameter(name)
        guard let value = Int(text) else { throw APIError.badParameter(name, tr("\"\(TextLimits.shown(text))\" is not a whole number")) }
        guard (0..<limit).contains(value) else { throw APIError.badParameter(name, tr("\(value) is outside \(0)…\(limit - 1)")) }
        return value
    }

    /// The fields of each collection's tile layer.
    static func fields(_ collection: Collection) -> [String: String] {
        switch collection {
        case .grids: ["code": "the grid's code", "name": "the grid's name", "village_code": "the village it belongs to", "town_code": "the town it belongs to"]
        case .villages: ["code": "the village's code", "name": "the village's name", "town_code": "the town it belongs to"]
        default: ["code": "the town's code", "name": "the town's name"]
        }
    }

    func tilesetLinks(_ collection: Collection) -> [[String: Any]] {
        let tileset = "\(baseURL)/collections/\(collection.rawValue)/tiles/\(Self.tileMatrixSetID)"
        return [
            ["href": tileset, "rel": "self", "type": "application/json", "title": "\(collection.title), WebMercatorQuad"],
            ["href": "\(baseURL)/tileMatrixSets/\(Self.tileMatrixSetID)", "rel": Self.tilingSchemeRelation, "type": "application/json"],
            ["href": "\(tileset)/{tileMatrix}/{tileRow}/{tileCol}?f=mvt", "rel": "item", "type": Self.mediaType, "templated": true],
        ]
    }

    func tilesetSummary(_ collection: Collection) -> [String: Any] {
        ["title": collection.title, "dataType": "vector", "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
         "tileMatrixSetURI": Self.tileMatrixSetURI, "links": tilesetLinks(collection)]
    }

    /// The tileset's metadata: its layer and fields, zoom limits, and the tiles that hold data at each zoom.
    func tileset(_ collection: Collection) throws -> [String: Any] {
        let extent = try service.active().extent
        let low = WebMercator.project(lon: extent.minX, lat: extent.minY), high = WebMercator.project(lon: extent.maxX, lat: extent.maxY)
        let mercator = Envelope(minX: low.x, minY: low.y, maxX: high.x, maxY: high.y)
        let limits: [[String: Any]] = (0...WebMercator.maxZoom).map { zoom in
            let range = TileAddress.columnsAndRows(covering: mercator, zoom: zoom)
            return ["tileMatrix": String(zoom), "minTileRow": range.rows.lowerBound, "maxTileRow": range.rows.upperBound,
                    "minTileCol": range.columns.lowerBound, "maxTileCol": range.columns.upperBound]
        }
        let properties = Self.fields(collection).mapValues { ["type": "string", "description": $0] as [String: Any] }
        var object = tilesetSummary(collection)
        object["tileMatrixSetLimits"] = limits
        object["boundingBox"] = ["lowerLeft": [extent.minX, extent.minY], "upperRight": [extent.maxX, extent.maxY],
                                 "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
        object["layers"] = [[
            "id": collection.rawValue, "title": collection.title, "dataType": "vector", "geometryDimension": 2,
            "minTileMatrix": "0", "maxTileMatrix": String(WebMercator.maxZoom),
            "propertiesSchema": ["type": "object", "required": Array(properties.keys).sorted(), "properties": properties],
        ]]
        return object
    }

    /// The OGC 2D Tile Matrix Set definition of WebMercatorQuad, zooms 0…20.
    static var webMercatorQuad: [String: Any] {
        let worldCellSize = 2 * WebMercator.halfWorld / 256
        // The standard pixel is 0.28 mm.
        let matrices: [[String: Any]] = (0...WebMercator.maxZoom).map { zoom in
            let cellSize = worldCellSize / Double(1 << zoom)
            return ["id": String(zoom), "scaleDenominator": cellSize / 0.00028, "cellSize": cellSize, "cornerOfOrigin": "topLeft",
                    "pointOfOrigin": [-WebMercator.halfWorld, WebMercator.halfWorld], "tileWidth": 256, "tileHeight": 256,
                    "matrixWidth": 1 << zoom, "matrixHeight": 1 << zoom]
        }
        return ["id": tileMatrixSetID, "title": "Google Maps Compatible for the World", "uri": tileMatrixSetURI,
                "crs": "http://www.opengis.net/def/crs/EPSG/0/3857", "orderedAxes": ["X", "Y"],
                "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible", "tileMatrices": matrices]
    }
}
