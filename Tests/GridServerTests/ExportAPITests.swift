import GridApplication
import Foundation
import GeoKit
import GridCore
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// GET /v1/export/{dataset} as clients meet it: every format as a named attachment GDAL reads,
/// the format from `f` or `Accept`, masking exactly as the OGC items of the same role, audit
/// entries, and faults named by their parameter.
@Suite(.serialized) struct ExportAPITests {
    /// Its own store: exports write audit entries that other suites count.
    static let prepared: Result<ServerFixture, Error> = Result { try ServerFixture() }
    let fixture: ServerFixture
    init() throws { fixture = try Self.prepared.get() }

    static var today: String { GridStore.timePolicy.day(Date()) }

    /// The body saved as a file GDAL can open, and the feature count of each layer as `ogrinfo -al -so` gives it.
    func ogrinfo(_ response: TestResponse, ext: String) throws -> [String: Int] {
        let path = Fixtures.temporaryPath("download.\(ext)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(response.body.readableBytesView).write(to: URL(fileURLWithPath: path))
        return try Fixtures.ogrinfoCounts(path)
    }

    @Test func everyFormatIsANamedAttachmentGDALReads() async throws {
        let formats: [(f: String, type: String, ext: String)] = [
            ("geojson", "application/geo+json", "geojson"), ("csv", "text/csv; charset=utf-8", "csv"),
            ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
            ("gpkg", "application/geopackage+sqlite3", "gpkg"), ("shp", "application/zip", "shp.zip"),
            ("kml", "application/vnd.google-earth.kml+xml", "kml"),
        ]
        var settings = ServerSettings()
        let exports = Fixtures.temporaryPath("exports")
        settings.exportDirectory = exports
        try FileManager.default.createDirectory(atPath: exports, withIntermediateDirectories: true)
        try await buildApplication(service: fixture.service, host: "127.0.0.1", port: 0, settings: settings).test(.router) { client in
            for format in formats {
                try await client.execute(uri: "/v1/export/grids?f=\(format.f)", method: .get, headers: fixture.headers(.planner)) { response in
                    #expect(response.status == .ok, "\(format.f): \(String(buffer: response.body))")
                    #expect(response.headers[.contentType] == format.type)
                    #expect(response.headers[.contentDisposition] == "attachment; filename=\"grids-\(Self.today).\(format.ext)\"")
                    #expect(response.headers[.contentLength] == String(response.body.readableBytes))
                    let counts = try ogrinfo(response, ext: format.ext)
                    #expect(counts.values.reduce(0, +) == 271, "\(format.f): \(counts)")
                }
            }
            // The files are gone once sent.
            #expect(try FileManager.default.contentsOfDirectory(atPath: exports).isEmpty)
        }
    }

    @Test func theFormatComesFromAcceptWhenFIsMissing() async throws {
        let cases: [(accept: String?, type: String)] = [
            (nil, "application/geo+json"), ("*/*", "application/geo+json"), ("text/csv", "text/csv; charset=utf-8"),
            ("application/json;q=0.5, application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("application/vnd.google-earth.kml+xml", "application/vnd.google-earth.kml+xml"), ("application/zip", "application/zip"),
        ]
        try await fixture.app().test(.router) { client in
            for c in cases {
                var headers = fixture.headers(.viewer)
                if let accept = c.accept { headers[.accept] = accept }
                try await client.execute(uri: "/v1/export/towns", method: .get, headers: headers) { response in
                    #expect(response.status == .ok && response.headers[.contentType] == c.type, "\(c.accept ?? "no Accept")")
                }
            }
            var headers = fixture.headers(.viewer)
            headers[.accept] = "image/png"
            try await client.execute(uri: "/v1/export/towns", method: .get, headers: headers) { response in
                #expect(response.status == .notAcceptable)
                #expect(response.headers[.contentType] == "application/problem+json")
            }
        }
    }

    /// RFC 6266 with RFC 5987: an ASCII name for old clients, the Chinese area in filename*.
    @Test func aChineseAreaIsInTheFileNameAsUTF8() async throws {
        let town = "琼湖街道".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        try await fixture.app().test(.router) { client in
            try await client.execute(uri: "/v1/export/villages?f=csv&town=\(town)", method: .get, headers: fixture.headers(.viewer)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentDisposition] == "attachment; filename=\"villages-\(Self.today).csv\"; "
                        + "filename*=UTF-8''villages-\(town)-\(Self.today).csv")
                let lines = String(decoding: Data(response.body.readableBytesView).dropFirst(3), as: UTF8.self).components(separatedBy: "\r\n")
                #expect(lines[0] == "WKT,code,name,town_code")
                #expect(lines.dropFirst().filter { !$0.isEmpty }.allSatisfy { $0.hasSuffix(",430981-001") })
            }
        }
    }

    /// An export shows each role what the OGC items of the same role show: same records, same masking.
    @Test(arguments: ["households", "incidents"])
    func masksExactlyAsTheOGCItemsOfTheSameRole(_ collection: String) async throws {
        try await fixture.app().test(.router) { client in
            for role in Role.allCases {
                let ogc = try await client.execute(uri: "/collections/\(collection)/items?limit=10000", method: .get, headers: fixture.headers(role)) { $0 }
                let export = try await client.execute(uri: "/v1/export/\(collection)?f=geojson", method: .get, headers: fixture.headers(role)) { $0 }
                #expect(export.status == ogc.status, "\(role.rawValue)")
                if role == .viewer && collection == "households" {
                    #expect(export.status == .forbidden)
                    let problem = try #require(try json(export) as? [String: Any])
                    #expect((problem["detail"] as? String)?.hasPrefix("the viewer role sees household counts only") == true)
                    continue
                }
                func byID(_ response: TestResponse, idInProperties: Bool) throws -> [String: [String: String]] {
                    let features = try #require(try json(response) as? [String: Any])["features"] as? [[String: Any]] ?? []
                    return Dictionary(uniqueKeysWithValues: features.map { feature in
                        // A file's columns are fixed (a point outside every grid has a null grid); OGC leaves such a key out.
                        var properties = (feature["properties"] as? [String: Any] ?? [:]).filter { !($0.value is NSNull) }.mapValues { "\($0)" }
                        let id = idInProperties ? properties.removeValue(forKey: "id")! : feature["id"] as! String
                        let coordinates = (feature["geometry"] as? [String: Any])?["coordinates"] as? [Double] ?? []
                        properties["place"] = coordinates.map { String(format: "%.7f", $0) }.joined(separator: ",")
                        return (id, properties)
                    })
                }
                let shown = try byID(ogc, idInProperties: false), exported = try byID(export, idInProperties: true)
                #expect(exported.count >= (collection == "households" ? 560 : 2) && exported == shown, "\(role.rawValue) \(collection)")
                for (id, properties) in shown where exported[id] != properties {
                    Issue.record("\(role.rawValue) \(id): exported \(exported[id] ?? [:]), shown \(properties)")
                    break
                }
            }
        }
    }

    @Test func exportsThatShowNamesInFullAreAudited() async throws {
        let store = fixture.store
        let households = try store.features(.households, limit: 10_000, offset: 0).features
        let inWorkerGrid = households.filter { $0.grid == ServerFixture.workerGrid }.count
        try await fixture.app().test(.router) { client in
            for (role, audited) in [(Role.admin, households.count), (.gridWorker, inWorkerGrid), (.dispatcher, 0), (.planner, 0)] {
                let before = try store.auditLog(limit: 100_000).count
                try await client.execute(uri: "/v1/export/households?f=csv", method: .get, headers: fixture.headers(role)) { #expect($0.status == .ok) }
                let log = try store.auditLog(limit: 100_000)
                #expect(log.count == before + (audited > 0 ? 1 : 0), "\(role.rawValue)")
                if audited > 0 {
                    let entry = try #require(log.first)
                    #expect(entry.action == "GET /v1/export/households" && entry.records == audited && entry.role == role.rawValue, "\(entry)")
                }
            }
            // Grids and statistics are no personal data: not audited.
            let before = try store.auditLog(limit: 100_000).count
            try await client.execute(uri: "/v1/export/stats?f=csv", method: .get, headers: fixture.headers(.admin)) { #expect($0.status == .ok) }
            #expect(try store.auditLog(limit: 100_000).count == before)
        }
    }

    @Test func faultsAreNamedByTheirParameter() async throws {
        let cases: [(uri: String, status: HTTPResponse.Status, parameter: String?, detail: String)] = [
            ("/v1/export/grids?f=dwg", .badRequest, "f", "f: unknown \"dwg\": the formats are geojson, csv, xlsx, gpkg, shp, kml"),
            ("/v1/export/grids?crs=EPSG:999999", .badRequest, "crs", "crs: EPSG:999999 is not a CRS PROJ knows"),
            ("/v1/export/grids?f=kml&crs=metric", .badRequest, "crs", "crs: KML is always WGS84 longitude and latitude (EPSG:4326), not \"metric\""),
            ("/v1/export/grids?town=nowhere", .badRequest, "town", "town: no town \"nowhere\""),
            ("/v1/export/parcels", .notFound, nil, "dataset: unknown \"parcels\""),
            ("/v1/export/draft", .badRequest, "generation", "generation: draft needs the draft's generation number"),
            ("/v1/export/draft?generation=99", .badRequest, "generation", "generation: draft 99: no generation 99"),
            ("/v1/export/grids?generation=1", .badRequest, "generation", "generation: only draft takes a generation number"),
        ]
        try await fixture.app().test(.router) { client in
            for c in cases {
                try await client.execute(uri: c.uri, method: .get, headers: fixture.headers(.admin)) { response in
                    #expect(response.status == c.status, "\(c.uri): \(String(buffer: response.body))")
                    let problem = try #require(try json(response) as? [String: Any])
                    #expect((problem["detail"] as? String)?.hasPrefix(c.detail) == true, "\(c.uri): \(problem["detail"] ?? "")")
                    let named = (problem["invalid-params"] as? [[String: Any]])?.first?["name"] as? String
                    #expect(named == c.parameter, "\(c.uri)")
                }
            }
        }
    }

    /// A planner takes a draft as a zipped Shapefile with its UTF-8 .cpg.
    @Test func aDraftIsAZippedShapefileWithItsEncoding() async throws {
        let draft = try fixture.service.createDraft(from: 1, name: "导出测试").id
        defer { try? fixture.service.deleteDraft(draft) }
        try await fixture.app().test(.router) { client in
            try await client.execute(uri: "/v1/export/draft?generation=\(draft)&f=shp", method: .get, headers: fixture.headers(.planner)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentDisposition] == "attachment; filename=\"draft-\(draft)-\(Self.today).shp.zip\"")
                #expect(try ogrinfo(response, ext: "shp.zip") == ["draft-\(draft)": 271])
                let path = Fixtures.temporaryPath("draft.shp.zip")
                defer { try? FileManager.default.removeItem(atPath: path) }
                try Data(response.body.readableBytesView).write(to: URL(fileURLWithPath: path))
                let listing = try Fixtures.run("/usr/bin/unzip", ["-l", path])
                for ext in ["shp", "shx", "dbf", "prj", "cpg"] { #expect(listing.contains("draft-\(draft).\(ext)"), "\(listing)") }
            }
        }
    }
}
