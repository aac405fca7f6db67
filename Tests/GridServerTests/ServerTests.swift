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

/// A store with the sample grids, households inside two known neighbouring
/// grids and elsewhere, cameras, incidents, and one token per role.
final class ServerFixture: Sendable {
    static let workerGrid = "430981-001-011-002"
    static let otherGrid = "430981-001-011-001"
    let path = Fixtures.temporaryPath("server.sqlite")
    let store: GridStore
    let service: GridService
    let tokens: [Role: String]
    /// A point inside each of the two grids (their point on surface).
    let inside: [String: LonLat]

    init() throws {
        store = try GridStore(path: path)
        _ = try store.importGrids(path: Fixtures.sampleGrids)
        let geos = try GEOSContext()
        var inside: [String: LonLat] = [:]
        for shape in try store.gridShapes() where shape.code == Self.workerGrid || shape.code == Self.otherGrid {
            let p = try Geometry(wkb: shape.wkb, context: geos).pointOnSurface().pointCoordinates
            inside[shape.code] = LonLat(p.x, p.y)
        }
        self.inside = inside
        var csv = "id,lon,lat,head,phone,id_number,members,tags,address\n"
        for (k, code) in [Self.workerGrid, Self.otherGrid].enumerated() {
            let p = inside[code]!
            for i in 0..<30 {
                let lon = p.lon + Double(i % 6) * 0.00002, lat = p.lat + Double(i / 6) * 0.00002
                csv += "G\(k)-\(String(format: "%02d", i)),\(lon),\(lat),\(k == 0 ? "张" : "李")\(["三", "四", "五"][i % 3]),1380013\(String(format: "%04d", i)),43098119800101\(String(format: "%04d", i)),\(i % 4 + 1),\(i % 5 == 0 ? "独居老人" : ""),\(k == 0 ? "和平路" : "建设路")\(i)号\n"
            }
        }
        var random = SeededRandom(seed: 77)
        for i in 0..<500 {
            let p = random.point(in: Envelope(minX: 112.25, minY: 28.71, maxX: 112.94, maxY: 29.18))
            csv += "R\(i),\(p.lon),\(p.lat),王\(i),139\(String(format: "%08d", i)),43098119700101\(String(format: "%04d", i)),2,,乡间\(i)号\n"
        }
        let h = Fixtures.temporaryPath("h.csv")
        defer { try? FileManager.default.removeItem(atPath: h) }
        try csv.write(toFile: h, atomically: true, encoding: .utf8)
        _ = try store.importPoints(.households, path: h)
        let w = inside[Self.workerGrid]!, o = inside[Self.otherGrid]!
        let c = Fixtures.temporaryPath("c.csv"), e = Fixtures.temporaryPath("e.csv")
        defer { for f in [c, e] { try? FileManager.default.removeItem(atPath: f) } }
        try "id,lon,lat,type,heading_deg,fov_deg,range_m,status\nC1,\(w.lon),\(w.lat),天网,90,90,100,online\nC2,\(o.lon),\(o.lat),雪亮,0,60,80,offline\n"
            .write(toFile: c, atomically: true, encoding: .utf8)
        try "id,lon,lat,category,channel,status,reporter\nE1,\(w.lon),\(w.lat),矛盾纠纷,12345,reported,赵六\nE2,\(o.lon),\(o.lat),环境卫生,网格员上报,closed,钱七\n"
            .write(toFile: e, atomically: true, encoding: .utf8)
        _ = try store.importPoints(.cameras, path: c)
        _ = try store.importPoints(.incidents, path: e)
        var tokens: [Role: String] = [:]
        for role in Role.allCases {
            let token = Tokens.generate()
            _ = try store.createToken(name: "test-\(role.rawValue)", role: role, grids: role == .gridWorker ? [Self.workerGrid] : [],
                                      hash: Tokens.hash(token))
            tokens[role] = token
        }
        self.tokens = tokens
        service = try GridService(store: store)
    }

    deinit { Fixtures.removeDatabase(path) }

    static let shared: Result<ServerFixture, Error> = Result { try ServerFixture() }

    func app() -> some ApplicationProtocol { buildApplication(service: service, host: "127.0.0.1", port: 0) }

    func headers(_ role: Role?) -> HTTPFields {
        guard let role else { return [:] }
        return [.authorization: "Bearer \(tokens[role]!)"]
    }
}

func json(_ response: TestResponse) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
}

@Suite(.serialized) struct ServerTests {
    let fixture: ServerFixture
    init() throws { fixture = try ServerFixture.shared.get() }

    static let protectedPaths = [
        "/v1/locate?lon=112.355&lat=28.842", "/v1/towns", "/v1/villages", "/v1/grids", "/v1/grids/\(ServerFixture.workerGrid)",
        "/v1/grids/\(ServerFixture.workerGrid)/households", "/v1/grids/\(ServerFixture.workerGrid)/cameras",
        "/v1/grids/\(ServerFixture.workerGrid)/incidents", "/v1/stats", "/v1/incidents", "/v1/incidents/E1", "/v1/stats/incidents",
        "/v1/notifications", "/v1/stats/coverage", "/v1/stats/workload?flagged_only=true", "/conformance", "/collections", "/collections/grids",
        "/collections/households/items", "/collections/grids/items/\(ServerFixture.workerGrid)",
        "/v1/export/grids?f=csv", "/v1/export/households?f=xlsx", "/v1/me", "/v1/map/choropleth?metric=incidents", "/v1/map/incidents",
    ]

    @Test func openPathsAndTokenlessRefusals() async throws {
        try await fixture.app().test(.router) { client in
            for path in ["/healthz", "/openapi.json", "/"] {
                try await client.execute(uri: path, method: .get) { #expect($0.status == .ok, "\(path)") }
            }
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                let doc = try #require(try json(response) as? [String: Any])
                #expect(doc["openapi"] as? String == "3.1.0")
                let paths = try #require(doc["paths"] as? [String: Any])
                for path in Self.protectedPaths.map({ $0.split(separator: "?")[0] }) {
                    let templated = path.replacingOccurrences(of: ServerFixture.workerGrid, with: "{code}")
                        .replacingOccurrences(of: "/collections/grids/items/{code}", with: "/collections/{id}/items/{fid}")
                        .replacingOccurrences(of: "/collections/households/items", with: "/collections/{id}/items")
                        .replacingOccurrences(of: "/collections/grids", with: "/collections/{id}")
                        .replacingOccurrences(of: "/v1/incidents/E1", with: "/v1/incidents/{id}")
                        .replacingOccurrences(of: "/v1/export/grids", with: "/v1/export/{dataset}")
                        .replacingOccurrences(of: "/v1/export/households", with: "/v1/export/{dataset}")
                    #expect(paths[templated] != nil, "OpenAPI lacks \(templated)")
                }
                // The lifecycle's reason codes: an event's and a notification's together are all there are.
                let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
                func reasons(_ schema: String) -> [String] {
                    (((schemas[schema] as? [String: Any])?["properties"] as? [String: Any])?["reason"] as? [String: Any])?["enum"] as? [String] ?? []
                }
                #expect(Set(reasons("IncidentEvent") + reasons("IncidentNotification")) == Set(LifecycleReason.codes))
            }
            for path in Self.protectedPaths {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(path)")
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                }
            }
            try await client.execute(uri: "/v1/towns", method: .get, headers: [.authorization: "Bearer wg_not_a_token"]) {
                #expect($0.status == .unauthorized)
            }
        }
    }

    @Test func everyEndpointAnswersEveryRole() async throws {
        try await fixture.app().test(.router) { client in
            for role in Role.allCases {
                for path in Self.protectedPaths {
                    // The privacy policy: a viewer sees household counts only; viewers and planners get no notifications.
                    let refused = (role == .viewer && path.contains("households")) || ([.viewer, .planner].contains(role) && path == "/v1/notifications")
                    try await client.execute(uri: path, method: .get, headers: fixture.headers(role)) { response in
                        #expect(response.status == (refused ? .forbidden : .ok), "\(role.rawValue) \(path): \(String(buffer: response.body))")
                    }
                }
                for path in ["/v1/audit", "/v1/tokens"] {
                    try await client.execute(uri: path, method: .get, headers: fixture.headers(role)) { response in
                        #expect(response.status == (role == .admin ? .ok : .forbidden), "\(role.rawValue) \(path)")
                    }
                }
            }
        }
    }

    @Test func householdsAreMaskedExceptForAdminAndTheGridsOwnWorker() async throws {
        try await fixture.app().test(.router) { client in
            for role in Role.allCases where role != .viewer {
                for grid in [ServerFixture.workerGrid, ServerFixture.otherGrid] {
                    try await client.execute(uri: "/v1/grids/\(grid)/households?limit=500", method: .get, headers: fixture.headers(role)) { response in
                        let page = try #require(try json(response) as? [String: Any])
                        let households = try #require(page["households"] as? [[String: Any]])
                        #expect(households.count >= 30)
                        let full = role == .admin || (role == .gridWorker && grid == ServerFixture.workerGrid)
                        for h in households {
                            let phone = h["phone"] as? String ?? "", id = h["id_number"] as? String ?? "", head = h["head"] as? String ?? ""
                            #expect(phone.contains("*") == !full && id.contains("*") == !full && head.contains("*") == !full,
                                    "\(role.rawValue) in \(grid): \(head) \(phone) \(id)")
                            if !full {
                                #expect(phone.count == 11 && phone.hasPrefix("1") && phone.dropFirst(3).hasPrefix("****"))
                                #expect(id.count == 18 && id.hasPrefix("4309") && id.dropFirst(4).prefix(10).allSatisfy { $0 == "*" })
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func unmaskedReadsAreAudited() async throws {
        let before = try fixture.store.auditLog(limit: 10_000).count
        try await fixture.app().test(.router) { client in
            try await client.execute(uri: "/v1/grids/\(ServerFixture.otherGrid)/households", method: .get, headers: fixture.headers(.gridWorker)) { _ in }
            try await client.execute(uri: "/v1/grids/\(ServerFixture.workerGrid)/households?limit=3", method: .get, headers: fixture.headers(.viewer)) { _ in }
        }
        #expect(try fixture.store.auditLog(limit: 10_000).count == before) // masked reads are not personal-data reads
        try await fixture.app().test(.router) { client in
            try await client.execute(uri: "/v1/grids/\(ServerFixture.workerGrid)/households?limit=3", method: .get, headers: fixture.headers(.gridWorker)) { _ in }
        }
        let entry = try #require(try fixture.store.auditLog(limit: 1).first)
        #expect(entry.caller == "test-grid_worker" && entry.grid == ServerFixture.workerGrid && entry.records == 3)
        #expect(entry.action == "GET /v1/grids/\(ServerFixture.workerGrid)/households")
    }

    @Test func searchByNameOnlyForCallersWhoSeeNames() async throws {
        try await fixture.app().test(.router) { client in
            for (role, expected) in [(Role.gridWorker, 10), (.admin, 10), (.dispatcher, 0), (.planner, 0)] {
                try await client.execute(uri: "/v1/grids/\(ServerFixture.workerGrid)/households?q=%E5%BC%A0%E4%B8%89", method: .get, headers: fixture.headers(role)) { response in
                    let page = try #require(try json(response) as? [String: Any])
                    #expect((page["households"] as? [Any])?.count == expected, "\(role.rawValue) searching 张三")
                }
            }
            try await client.execute(uri: "/v1/grids/\(ServerFixture.workerGrid)/households?q=%E5%BC%A0%E4%B8%89", method: .get, headers: fixture.headers(.viewer)) {
                #expect($0.status == .forbidden)
            }
            // Addresses are searchable for those who see them in full.
            try await client.execute(uri: "/v1/grids/\(ServerFixture.workerGrid)/households?q=%E5%92%8C%E5%B9%B3%E8%B7%AF1%E5%8F%B7", method: .get, headers: fixture.headers(.dispatcher)) { response in
                let page = try #require(try json(response) as? [String: Any])
                #expect((page["households"] as? [Any])?.count == 1)
            }
        }
    }

    @Test func cursorPagingIsStableAndStaysInItsGrid() async throws {
        try await fixture.app().test(.router) { client in
            var ids: [String] = []
            var cursor: String?
            repeat {
                let uri = "/v1/grids/\(ServerFixture.workerGrid)/households?limit=7" + (cursor.map { "&cursor=\($0)" } ?? "")
                cursor = try await client.execute(uri: uri, method: .get, headers: fixture.headers(.dispatcher)) { response in
                    let page = try #require(try json(response) as? [String: Any])
                    ids += (page["households"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                    return page["next_cursor"] as? String
                }
            } while cursor != nil
            #expect(ids == ids.sorted() && Set(ids).count == ids.count && ids.count >= 30)
            // A cursor taken to another grid pages that grid only, still masked for a worker outside it.
            let foreign = Data("G0-05".utf8).base64EncodedString()
            try await client.execute(uri: "/v1/grids/\(ServerFixture.otherGrid)/households?cursor=\(foreign)", method: .get, headers: fixture.headers(.gridWorker)) { response in
                let page = try #require(try json(response) as? [String: Any])
                let households = page["households"] as? [[String: Any]] ?? []
                #expect(households.allSatisfy { ($0["grid"] as? String) == ServerFixture.otherGrid && ($0["masked"] as? Bool) == true })
            }
            try await client.execute(uri: "/v1/grids/\(ServerFixture.workerGrid)/households?cursor=%25%25", method: .get, headers: fixture.headers(.dispatcher)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("\"name\":\"cursor\""))
            }
        }
    }

    @Test func ogcItemsMaskPerFeaturePageAndFilterByBbox() async throws {
        let w = fixture.inside[ServerFixture.workerGrid]!, o = fixture.inside[ServerFixture.otherGrid]!
        let bbox = "\(min(w.lon, o.lon) - 0.001),\(min(w.lat, o.lat) - 0.001),\(max(w.lon, o.lon) + 0.001),\(max(w.lat, o.lat) + 0.001)"
        try await fixture.app().test(.router) { client in
            let uri = "/collections/households/items?bbox=\(bbox)&limit=1000"
            let features = try await client.execute(uri: uri, method: .get, headers: fixture.headers(.gridWorker)) { response -> [[String: Any]] in
                #expect(response.headers[.contentType] == "application/geo+json")
                let collection = try #require(try json(response) as? [String: Any])
                #expect(collection["numberMatched"] as? Int == collection["numberReturned"] as? Int)
                return collection["features"] as? [[String: Any]] ?? []
            }
            let ids = Set(features.compactMap { $0["id"] as? String })
            #expect(ids.isSuperset(of: (0..<30).map { String(format: "G0-%02d", $0) } + (0..<30).map { String(format: "G1-%02d", $0) }))
            for feature in features {
                let properties = try #require(feature["properties"] as? [String: Any])
                let own = properties["grid"] as? String == ServerFixture.workerGrid
                #expect((properties["phone"] as? String)?.contains("*") == !own, "\(feature["id"] ?? "") grid \(properties["grid"] ?? "")")
            }
            // Paging: next links walk every feature exactly once.
            var seen: [String] = []
            var next: String? = "/collections/households/items?bbox=\(bbox)&limit=25"
            while let page = next {
                let path = page.replacingOccurrences(of: "http://localhost", with: "").replacingOccurrences(of: "http://127.0.0.1", with: "")
                next = try await client.execute(uri: path, method: .get, headers: fixture.headers(.dispatcher)) { response in
                    let collection = try #require(try json(response) as? [String: Any])
                    seen += (collection["features"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                    let links = collection["links"] as? [[String: Any]] ?? []
                    return (links.first { $0["rel"] as? String == "next" }?["href"] as? String).map { String($0[$0.range(of: "/collections")!.lowerBound...]) }
                }
            }
            #expect(seen.count == features.count && Set(seen) == ids)
            for (parameter, value) in [("bbox", "1,2,3"), ("bbox", "10,10,5,5"), ("limit", "0"), ("limit", "abc"), ("offset", "-1")] {
                try await client.execute(uri: "/collections/households/items?\(parameter)=\(value)", method: .get, headers: fixture.headers(.dispatcher)) { response in
                    #expect(response.status == .badRequest, "\(parameter)=\(value)")
                    #expect(String(buffer: response.body).contains("\"name\":\"\(parameter)\""))
                }
            }
            try await client.execute(uri: "/collections/nothing/items", method: .get, headers: fixture.headers(.viewer)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/collections/households/items/none", method: .get, headers: fixture.headers(.dispatcher)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/collections/incidents/items/E1", method: .get, headers: fixture.headers(.dispatcher)) { response in
                let feature = try #require(try json(response) as? [String: Any])
                #expect((feature["properties"] as? [String: Any])?["reporter"] as? String == "赵*")
            }
        }
    }

    @Test func locateAnswersAndNamesBadParameters() async throws {
        let w = fixture.inside[ServerFixture.workerGrid]!
        try await fixture.app().test(.router) { client in
            try await client.execute(uri: "/v1/locate?lon=\(w.lon)&lat=\(w.lat)", method: .get, headers: fixture.headers(.dispatcher)) { response in
                let answer = try #require(try json(response) as? [String: Any])
                #expect(answer["grid"] as? String == ServerFixture.workerGrid && answer["method"] as? String == "inside")
            }
            let g = ChineseCoordinates.wgs84ToGCJ02(lon: w.lon, lat: w.lat)
            try await client.execute(uri: "/v1/locate?lon=\(g.lon)&lat=\(g.lat)&crs=gcj02", method: .get, headers: fixture.headers(.dispatcher)) { response in
                let answer = try json(response) as? [String: Any]
                #expect(answer?["grid"] as? String == ServerFixture.workerGrid)
            }
            for (query, parameter) in [("lat=28.8", "lon"), ("lon=x&lat=28.8", "lon"), ("lon=112&lat=95", "lat"), ("lon=112&lat=28&crs=EPSG:999999", "lon"), ("lon=112&lat=28&crs=mars2", "crs")] {
                try await client.execute(uri: "/v1/locate?\(query)", method: .get, headers: fixture.headers(.dispatcher)) { response in
                    #expect(response.status == .badRequest, "\(query)")
                    #expect(String(buffer: response.body).contains("\"name\":\"\(parameter)\""), "\(query): \(String(buffer: response.body))")
                }
            }
            let points = (0..<50).map { "{\"id\":\"p\($0)\",\"lon\":\(w.lon + Double($0) * 0.01),\"lat\":\(w.lat)}" }.joined(separator: ",")
            try await client.execute(uri: "/v1/locate", method: .post, headers: fixture.headers(.dispatcher), body: ByteBuffer(string: "{\"points\":[\(points)]}")) { response in
                let results = try #require((try json(response) as? [String: Any])?["results"] as? [[String: Any]])
                #expect(results.map { $0["id"] as? String } == (0..<50).map { "p\($0)" })
                #expect((results[0]["result"] as? [String: Any])?["grid"] as? String == ServerFixture.workerGrid)
            }
            let tooMany = (0..<10_001).map { _ in "{\"lon\":112.5,\"lat\":28.9}" }.joined(separator: ",")
            try await client.execute(uri: "/v1/locate", method: .post, headers: fixture.headers(.dispatcher), body: ByteBuffer(string: "{\"points\":[\(tooMany)]}")) {
                #expect($0.status == .contentTooLarge)
            }
            let huge = ByteBuffer(string: "{\"points\":[" + String(repeating: "{\"lon\":112.5000000000,\"lat\":28.9000000000},", count: 60_000) + "]}")
            try await client.execute(uri: "/v1/locate", method: .post, headers: fixture.headers(.dispatcher), body: huge) { #expect($0.status == .contentTooLarge) }
            try await client.execute(uri: "/v1/locate", method: .post, headers: fixture.headers(.dispatcher), body: ByteBuffer(string: "{\"pts\":1}")) { response in
                #expect(response.status == .badRequest && String(buffer: response.body).contains("\"name\":\"body\""))
            }
            try await client.execute(uri: "/v1/grids/430981-999-999-999", method: .get, headers: fixture.headers(.viewer)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/stats?by=county", method: .get, headers: fixture.headers(.viewer)) { #expect($0.status == .badRequest) }
        }
    }

    @Test func gridDetailAndStatisticsAgree() async throws {
        try await fixture.app().test(.router) { client in
            let detail = try await client.execute(uri: "/v1/grids/\(ServerFixture.workerGrid)?geometry=true", method: .get, headers: fixture.headers(.planner)) {
                try #require(try json($0) as? [String: Any])
            }
            let counts = try #require(detail["counts"] as? [String: Int])
            #expect(counts["households"]! >= 30 && counts["cameras"] == 1 && counts["incidents"] == 1 && counts["open_incidents"] == 1)
            #expect((detail["geometry"] as? [String: Any])?["type"] as? String == "MultiPolygon")
            let stats = try await client.execute(uri: "/v1/stats?by=grid", method: .get, headers: fixture.headers(.planner)) {
                try #require(try json($0) as? [[String: Any]])
            }
            let row = try #require(stats.first { $0["code"] as? String == ServerFixture.workerGrid })
            #expect(row["households"] as? Int == counts["households"])
        }
    }

    @Test func incidentReportsAreRoutedForDispatchersAndWorkersOnly() async throws {
        let w = fixture.inside[ServerFixture.workerGrid]!
        let body = "{\"lon\":\(w.lon),\"lat\":\(w.lat),\"category\":\"矛盾纠纷\",\"channel\":\"12345\",\"severity\":\"简单\"}"
        try await fixture.app().test(.router) { client in
            try await client.execute(uri: "/v1/incidents", method: .post, headers: fixture.headers(.dispatcher), body: ByteBuffer(string: body)) { response in
                #expect(response.status == .created)
                let answer = try #require(try json(response) as? [String: Any])
                let routing = try #require(answer["routing"] as? [String: Any])
                #expect(routing["grid"] as? String == ServerFixture.workerGrid)
                #expect(routing["level"] as? String == "village")
                #expect((routing["deadline"] as? String)?.hasSuffix("Z") == true)
            }
            for role in [Role.viewer, .planner] {
                try await client.execute(uri: "/v1/incidents", method: .post, headers: fixture.headers(role), body: ByteBuffer(string: body)) {
                    #expect($0.status == .forbidden, "\(role.rawValue)")
                }
            }
            let outside = "{\"lon\":113.6,\"lat\":28.8,\"category\":\"其他\",\"channel\":\"来访\"}"
            try await client.execute(uri: "/v1/incidents", method: .post, headers: fixture.headers(.gridWorker), body: ByteBuffer(string: outside)) { response in
                #expect(response.status == .unprocessableContent)
                #expect(String(buffer: response.body).contains("the nearest is"))
            }
        }
    }

    @Test func overARealSocket() async throws {
        try await fixture.app().test(.live) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                let health = try json(response) as? [String: Any]
                #expect(health?["grids"] as? Int == 271)
            }
            try await client.execute(uri: "/v1/locate?lon=112.355&lat=28.842", method: .get, headers: fixture.headers(.viewer)) { response in
                let answer = try json(response) as? [String: Any]
                #expect(response.status == .ok && answer?["method"] as? String == "inside")
            }
        }
    }

    /// Tokens over HTTP: only the admin creates, lists and revokes them; a
    /// created token works at once, a revoked one no more, and none of them
    /// shows its value after creation.
    @Test func theAdminManagesTokensOverHTTP() async throws {
        try await fixture.app().test(.router) { client in
            let body = #"{"role": "grid_worker", "name": "新网格员", "grids": ["\#(ServerFixture.workerGrid)"], "expires": "30d"}"#
            for role in Role.allCases where role != .admin {
                try await client.execute(uri: "/v1/tokens", method: .post, headers: fixture.headers(role), body: ByteBuffer(string: body)) {
                    #expect($0.status == .forbidden, "\(role.rawValue) created a token")
                }
                try await client.execute(uri: "/v1/tokens/1", method: .delete, headers: fixture.headers(role)) {
                    #expect($0.status == .forbidden, "\(role.rawValue) revoked a token")
                }
            }
            var created: [String: Any] = [:]
            try await client.execute(uri: "/v1/tokens", method: .post, headers: fixture.headers(.admin), body: ByteBuffer(string: body)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                created = try #require(try json(response) as? [String: Any])
            }
            let token = try #require(created["token"] as? String)
            let id = try #require(created["id"] as? Int)
            #expect((created["scope"] as? [String: Any])?["grids"] as? [String] == [ServerFixture.workerGrid])
            try await client.execute(uri: "/v1/tokens", method: .get, headers: fixture.headers(.admin)) { response in
                let listed = String(buffer: response.body)
                #expect(listed.contains("新网格员") && !listed.contains(token), "the list shows the token's name, never its value")
            }
            try await client.execute(uri: "/v1/grids/\(ServerFixture.workerGrid)/households", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                #expect($0.status == .ok)
            }
            let longName = String(repeating: "名", count: 201)
            for (bad, field) in [(#"{"role": "king"}"#, "role"), (#"{"role": "grid_worker"}"#, ""), (#"{"role": "viewer", "expires": "soon"}"#, ""),
                                 (#"{"role": "viewer", "name": "a\u0000b"}"#, "name"), (#"{"role": "viewer", "name": "\#(longName)"}"#, "name")] {
                try await client.execute(uri: "/v1/tokens", method: .post, headers: fixture.headers(.admin), body: ByteBuffer(string: bad)) { response in
                    #expect(response.status == .unprocessableContent, "\(bad): \(String(buffer: response.body))")
                    let problem = try json(response) as? [String: Any]
                    if !field.isEmpty {
                        #expect((problem?["invalid-params"] as? [[String: Any]])?.first?["name"] as? String == field, "\(bad)")
                    }
                }
            }
            try await client.execute(uri: "/v1/tokens/\(id)", method: .delete, headers: fixture.headers(.admin)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/tokens/\(id)", method: .delete, headers: fixture.headers(.admin)) { #expect($0.status == .notFound) }
            // Revoked: refused once the cache forgets it (5 s at most); a token never used before is refused at once.
            var fresh: [String: Any] = [:]
            try await client.execute(uri: "/v1/tokens", method: .post, headers: fixture.headers(.admin), body: ByteBuffer(string: #"{"role": "viewer"}"#)) {
                fresh = try #require(try json($0) as? [String: Any])
            }
            let unused = try #require(fresh["token"] as? String), freshID = try #require(fresh["id"] as? Int)
            try await client.execute(uri: "/v1/tokens/\(freshID)", method: .delete, headers: fixture.headers(.admin)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/towns", method: .get, headers: [.authorization: "Bearer \(unused)"]) { #expect($0.status == .unauthorized) }
        }
    }
}
