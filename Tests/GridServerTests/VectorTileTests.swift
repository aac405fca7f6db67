import Foundation
import GeoFiles
import GeoKit
import GridApplication
import GridCore
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import SampleCounty
import Testing
import TestSupport

/// OGC API - Tiles: the tiles are decoded by GDAL's MVT driver, not by the encoder's own code.
@Suite struct VectorTileTests {
    /// A database of the sample county (271 grids) with a draft that splits one grid, and a viewer's token.
    struct County {
        let path: String, store: GridStore, service: GridService, headers: HTTPFields, draft: Int64
        init(_ name: String) throws {
            path = Fixtures.temporaryPath(name)
            store = try GridStore(path: path)
            _ = try store.importGrids(path: Fixtures.sampleGrids)
            draft = try store.createDraft(name: "调整")
            let line = try Geometry(wkt: "LINESTRING(112.357361 28.836, 112.357361 28.850)", context: try GEOSContext()).wkb()
            _ = try store.editDraft(draft, thresholds: PlanThresholds()) { [try $0.applied(try $0.split("430981-001-017-002", along: line))] }
            let token = Tokens.generate()
            _ = try store.createToken(name: "viewer", role: .viewer, grids: [], hash: Tokens.hash(token))
            service = try GridService(store: store)
            headers = [.authorization: "Bearer \(token)"]
        }
    }

    /// The tile at `zoom` holding lon/lat.
    static func tile(lon: Double, lat: Double, zoom: Int) -> TileAddress {
        let p = WebMercator.project(lon: lon, lat: lat)
        return TileAddress.covering(Envelope(minX: p.x, minY: p.y, maxX: p.x, maxY: p.y), zoom: zoom)[0]
    }

    static func uri(_ collection: String, _ tile: TileAddress, _ query: String = "") -> String {
        "/collections/\(collection)/tiles/WebMercatorQuad/\(tile.zoom)/\(tile.row)/\(tile.column)\(query)"
    }

    /// The tile's features as GDAL reads them (geometry kept beyond the edge), by layer name.
    static func decode(_ bytes: [UInt8], _ tile: TileAddress) throws -> [String: [VectorFeature]] {
        let folder = Fixtures.temporaryPath("tile-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let directory = "\(folder)/\(tile.zoom)/\(tile.column)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = "\(directory)/\(tile.row).pbf"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let dataset = try VectorDataset(vectorTile: file, options: ["CLIP=NO"])
        return Dictionary(uniqueKeysWithValues: try dataset.layers().map { ($0.name, try $0.features()) })
    }

    /// Every grid that meets a city tile is in it with its code, name, village and town and
    /// nothing else; its geometry stays within the buffer, and its area is the clipped
    /// grid's within what simplifying to a pixel and rounding to the 4096 grid can change.
    @Test(arguments: [14, 17]) func gridTilesHoldEveryGridThatMeetsThem(zoom: Int) async throws {
        let county = try County("tiles-grids-\(zoom).sqlite")
        defer { Fixtures.removeDatabase(county.path) }
        let tile = Self.tile(lon: 112.356, lat: 28.8425, zoom: zoom)
        let bytes = try await buildApplication(service: county.service, host: "127.0.0.1", port: 0).test(.router) { client in
            try await client.execute(uri: Self.uri("grids", tile, "?f=mvt"), method: .get, headers: county.headers) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/vnd.mapbox-vector-tile")
                #expect(response.headers[.cacheControl] == "private, no-cache")
                return Array(response.body.readableBytesView)
            }
        }
        let layers = try Self.decode(bytes, tile)
        #expect(Array(layers.keys) == ["grids"])
        let features = layers["grids"] ?? []
        let geos = try GEOSContext()
        let info = Dictionary(uniqueKeysWithValues: try county.store.grids(generation: nil).map { ($0.code, $0) })
        let tileBox = try Geometry.box(tile.envelope, context: geos)
        let unit = tile.envelope.width / 4096
        var expected: Set<String> = []
        var clippedShapes: [String: Geometry] = [:]
        let clipBox = tile.envelope.expanded(by: 64 * unit)
        for shape in try county.store.gridShapes(generation: nil) {
            let mercator = try WebMercator.project(try Geometry(wkb: shape.wkb, context: geos))
            // A sliver under a few square units may round away; anything larger must be drawn.
            if try mercator.intersection(tileBox).area > 4 * unit * unit { expected.insert(shape.code) }
            clippedShapes[shape.code] = try mercator.intersection(try Geometry.box(clipBox, context: geos))
        }
        #expect(!expected.isEmpty)
        let codes = Set(features.compactMap { $0.values["code"] })
        #expect(codes.count == features.count && Set(features.compactMap { $0.values["mvt_id"] }).count == features.count)
        #expect(expected.subtracting(codes).isEmpty, "missing: \(expected.subtracting(codes).sorted())")
        for feature in features {
            let code = try #require(feature.values["code"])
            let grid = try #require(info[code])
            // GDAL shows the feature's id as mvt_id.
            let id = try #require(feature.values["mvt_id"].flatMap { Int($0) })
            #expect(id > 0)
            #expect(feature.values == ["mvt_id": String(id), "code": code, "name": grid.name, "village_code": grid.villageCode, "town_code": grid.townCode])
            let geometry = try Geometry(wkb: try #require(feature.wkb), context: geos)
            let envelope = try geometry.envelope
            #expect(clipBox.expanded(by: unit).contains(x: envelope.minX, y: envelope.minY)
                    && clipBox.expanded(by: unit).contains(x: envelope.maxX, y: envelope.maxY), "\(code) leaves the buffer")
            let clipped = try #require(clippedShapes[code])
            // Douglas-Peucker at tolerance t moves the outline by at most t, rounding by at most a unit.
            let tolerance = try clipped.length * (tile.envelope.width / 256 + unit)
            let (decodedArea, clippedArea) = (try geometry.area, try clipped.area)
            #expect(abs(decodedArea - clippedArea) <= tolerance, "\(code): \(decodedArea) m² against \(clippedArea) m²")
        }
    }

    @Test func etagsStatusesAndErrors() async throws {
        let county = try County("tiles-http.sqlite")
        defer { Fixtures.removeDatabase(county.path) }
        let tile = Self.tile(lon: 112.356, lat: 28.8425, zoom: 15)
        try await buildApplication(service: county.service, host: "127.0.0.1", port: 0).test(.router) { client in
            func status(_ uri: String, headers: HTTPFields? = nil) async throws -> (HTTPResponse.Status, String, HTTPFields) {
                try await client.execute(uri: uri, method: .get, headers: headers ?? county.headers) { response in
                    (response.status, String(buffer: response.body), response.headers)
                }
            }
            let (first, _, headers) = try await status(Self.uri("grids", tile))
            #expect(first == .ok)
            let etag = try #require(headers[.eTag])
            var conditional = county.headers
            conditional[.ifNoneMatch] = etag
            let (again, body, notModified) = try await status(Self.uri("grids", tile), headers: conditional)
            #expect(again == .notModified && body.isEmpty && notModified[.eTag] == etag)
            conditional[.ifNoneMatch] = "\"other\""
            #expect(try await status(Self.uri("grids", tile), headers: conditional).0 == .ok)

            #expect(try await status(Self.uri("grids", tile), headers: [:]).0 == .unauthorized)
            #expect(try await status("/collections/grids/tiles", headers: [:]).0 == .unauthorized)
            #expect(try await status("/tileMatrixSets/WebMercatorQuad", headers: [:]).0 == .unauthorized)

            for (uri, parameter) in [("21/0/0", "tileMatrix"), ("x/0/0", "tileMatrix"), ("3/8/0", "tileRow"), ("3/0/-1", "tileCol"), ("0/0/1", "tileCol")] {
                let (code, problem, _) = try await status("/collections/grids/tiles/WebMercatorQuad/\(uri)")
                #expect(code == .badRequest && problem.contains("\"name\":\"\(parameter)\""), "\(uri): \(problem)")
            }
            let (format, formatProblem, _) = try await status(Self.uri("grids", tile, "?f=png"))
            #expect(format == .badRequest && formatProblem.contains("\"name\":\"f\""))
            let (households, named, _) = try await status("/collections/households/tiles/WebMercatorQuad/0/0/0")
            #expect(households == .notFound && named.contains("grids, villages, towns"))
            #expect(try await status("/collections/grids/tiles/WorldCRS84Quad").0 == .notFound)

            // Far from the county: no area, 204 with its ETag.
            let (empty, emptyBody, emptyHeaders) = try await status("/collections/towns/tiles/WebMercatorQuad/10/0/0")
            #expect(empty == .noContent && emptyBody.isEmpty && emptyHeaders[.eTag] != nil)

            // A draft: its split grid in the tile, with another ETag; a generation that is not there is 400.
            let (draftStatus, _, draftHeaders) = try await status(Self.uri("grids", tile, "?generation=\(county.draft)"))
            #expect(draftStatus == .ok && draftHeaders[.eTag] != etag)
            let draftBytes = try await client.execute(uri: Self.uri("grids", tile, "?generation=\(county.draft)"), method: .get, headers: county.headers) {
                Array($0.body.readableBytesView)
            }
            let draftCodes = Set(try Self.decode(draftBytes, tile)["grids", default: []].compactMap { $0.values["code"] })
            // 002 is split into 005 (holding the tile's point) and 006.
            #expect(draftCodes.contains("430981-001-017-005") && !draftCodes.contains("430981-001-017-002"), "\(draftCodes.sorted())")
            let activeBytes = try await client.execute(uri: Self.uri("grids", tile), method: .get, headers: county.headers) { Array($0.body.readableBytesView) }
            let activeCodes = Set(try Self.decode(activeBytes, tile)["grids", default: []].compactMap { $0.values["code"] })
            #expect(activeCodes.contains("430981-001-017-002") && !activeCodes.contains("430981-001-017-005"))
            let (missing, missingProblem, _) = try await status(Self.uri("grids", tile, "?generation=99"))
            #expect(missing == .badRequest && missingProblem.contains("\"name\":\"generation\""))

            // Villages carry their town; the tileset names the template and the fields; the collection links it.
            let villageBytes = try await client.execute(uri: Self.uri("villages", tile), method: .get, headers: county.headers) { Array($0.body.readableBytesView) }
            let village = try #require(try Self.decode(villageBytes, tile)["villages"]?.first)
            #expect(Set(village.values.keys) == ["mvt_id", "code", "name", "town_code"] && village.values["code"]?.hasPrefix(village.values["town_code"] ?? "?") == true)
            let (_, tileset, _) = try await status("/collections/grids/tiles/WebMercatorQuad")
            #expect(tileset.contains("/collections/grids/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}?f=mvt"))
            #expect(tileset.contains("\"village_code\"") && tileset.contains("\"tileMatrixSetLimits\""))
            let (_, collection, _) = try await status("/collections/villages")
            #expect(collection.contains("http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"))
            let (_, conformance, _) = try await status("/conformance")
            #expect(conformance.contains("ogcapi-tiles-1/1.0/conf/mvt"))
            let (_, matrixSet, _) = try await status("/tileMatrixSets/WebMercatorQuad")
            #expect(matrixSet.contains("\"matrixWidth\":1048576"))
        }
    }

    /// A province of a few hundred grids at zoom 7: grids ~25 pixels wide. Unsimplified,
    /// each of their ~200 vertices would cost at least two bytes (two one-byte deltas):
    /// 400 bytes a grid. Simplified to a pixel, a cell of a dozen corners and gently curved
    /// edges keeps a few dozen vertices: under 100 bytes a grid with its id and tags.
    @Test func lowZoomTilesOfAProvinceStaySmall() throws {
        let path = Fixtures.temporaryPath("tiles-province.sqlite")
        defer { Fixtures.removeDatabase(path) }
        let generator = ProvinceGenerator(gridCount: 300)
        let file = Fixtures.temporaryPath("province.geojson")
        defer { try? FileManager.default.removeItem(atPath: file) }
        try generator.geoJSON(try generator.makeGrids()).write(toFile: file, atomically: true, encoding: .utf8)
        let store = try GridStore(path: path)
        _ = try store.importGrids(path: file)
        let service = try GridService(store: store)
        let centre = generator.region
        let tile = Self.tile(lon: (centre.minX + centre.maxX) / 2, lat: (centre.minY + centre.maxY) / 2, zoom: 7)
        let encoded = try service.vectorTile(.grids, at: tile, generation: nil)
        let features = try Self.decode(encoded.bytes, tile)["grids"] ?? []
        #expect(features.count > 50)
        #expect(encoded.bytes.count < 100 * features.count, "\(encoded.bytes.count) bytes for \(features.count) grids")
        #expect(try Self.decode(try service.vectorTile(.towns, at: tile, generation: nil).bytes, tile)["towns"]?.isEmpty == false)
        // The second time from the cache: the same bytes.
        #expect(try service.vectorTile(.grids, at: tile, generation: nil).bytes == encoded.bytes)
        #expect(service.vectorTiles.cachedTiles == 2)
    }
}
