import Foundation
import GridApplication
import GridCore
import GridMap
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Localization
import Testing
import TestSupport

/// The web map's server side: the page for browsers at /, its files and
/// Leaflet without a token (and nothing else from the disk), its texts from
/// the catalogue, the caller, the choropleth and an incident's allowed actions.
@Suite struct WebMapTests {
    let fixture: ServerFixture
    init() throws { fixture = try ServerFixture.shared.get() }

    @Test func browsersGetThePageAndOtherClientsTheLandingPage() async throws {
        try await fixture.app().test(.router) { client in
            for (uri, accept) in [("/", "text/html,application/xhtml+xml,*/*;q=0.8"), ("/?f=html", "application/json")] {
                try await client.execute(uri: uri, method: .get, headers: [.accept: accept]) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                    let policy = try #require(response.headers[.contentSecurityPolicy])
                    #expect(policy.hasPrefix("default-src 'self';") && policy.contains("frame-ancestors 'none'"))
                    let page = String(buffer: response.body)
                    #expect(page.contains("/web/leaflet/leaflet.min.js") && page.contains("/web/app.js"))
                    #expect(!page.contains("http://") && !page.contains("https://"), "the page names no other server")
                }
            }
            for (uri, accept) in [("/", nil), ("/", "application/json"), ("/?f=json", "text/html")] as [(String, String?)] {
                try await client.execute(uri: uri, method: .get, headers: accept.map { [.accept: $0] } ?? [:]) { response in
                    #expect(response.status == .ok && response.headers[.contentType] == "application/json", "\(uri) \(accept ?? "-")")
                    let body = try json(response) as? [String: Any]
                    #expect(body?["links"] != nil)
                }
            }
            try await client.execute(uri: "/?f=xml", method: .get, headers: [.accept: "text/html"]) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("\"name\":\"f\""))
            }
        }
    }

    @Test func thePagesFilesAndLeafletNeedNoTokenAndNothingElseIsServed() async throws {
        try await fixture.app().test(.router) { client in
            for (path, type) in [("/web/app.js", "javascript"), ("/web/vectortiles.js", "javascript"), ("/web/app.css", "text/css"),
                                 ("/web/leaflet/leaflet.min.js", "javascript"), ("/web/leaflet/leaflet.css", "text/css"),
                                 ("/web/leaflet/images/layers.png", "image/png")] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path): is Debian's libjs-leaflet installed (scripts/setup.sh)?")
                    #expect(response.headers[.contentType]?.contains(type) == true, "\(path): \(response.headers[.contentType] ?? "-")")
                    #expect(response.headers[.cacheControl] == "no-cache" && response.headers[.eTag] != nil, "\(path)")
                }
            }
            // Out of the two folders: refused, whatever the spelling.
            for path in ["/web/../openapi.json", "/web/leaflet/../../../../etc/passwd", "/web/%2e%2e/%2e%2e/etc/passwd",
                         "/web/leaflet/%2E%2E/%2E%2E/%2E%2E/etc/hostname", "/web/", "/web/nothing.js", "/web/leaflet/"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status != .ok, "\(path) answered 200")
                    #expect(!String(buffer: response.body).contains("root:"), "\(path)")
                }
            }
            // The rest of the API still needs the token: /web is no way around it.
            try await client.execute(uri: "/v1/grids", method: .get) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func thePageGetsItsTextsInTheReadersLanguage() async throws {
        let script = try String(contentsOfFile: Fixtures.path("Sources/GridServer/Web/app.js"), encoding: .utf8)
        let templates = Set(ScriptTexts.templates(in: script))
        #expect(templates.count > 80 && templates.contains("Log in"))
        try await fixture.app().test(.router) { client in
            try await client.execute(uri: "/web/config.json", method: .get, headers: [.acceptLanguage: "zh-CN,zh;q=0.9"]) { response in
                let body = try #require(try json(response) as? [String: Any])
                #expect(body["language"] as? String == "zh" && response.headers[.vary] == "Accept-Language")
                let texts = try #require(body["texts"] as? [String: String])
                #expect(Set(texts.keys) == templates, "without Chinese: \(templates.subtracting(texts.keys).sorted())")
                #expect(texts["Log in"] == "登录" && texts["grid worker"] == "网格员")
                #expect(body["refresh_seconds"] as? Double == 3 && body["base_tiles"] == nil)
            }
            try await client.execute(uri: "/web/config.json", method: .get, headers: [.acceptLanguage: "en-US"]) { response in
                let body = try #require(try json(response) as? [String: Any])
                #expect(body["language"] as? String == "en" && (body["texts"] as? [String: String])?.isEmpty == true)
            }
        }
    }

    /// A centre's intranet tile server: offered to the page, and the only other origin its policy allows (images).
    @Test func configuredBaseTilesReachThePageAndItsPolicy() async throws {
        var config = fixture.service.config
        config.webMap.baseTiles = "http://tiles.intranet:8080/{z}/{x}/{y}.png"
        config.webMap.baseTilesAttribution = "天地图"
        let service = try GridService(store: fixture.store, config: config)
        try await buildApplication(service: service, host: "127.0.0.1", port: 0).test(.router) { client in
            try await client.execute(uri: "/web/config.json", method: .get) { response in
                let tiles = try #require((try json(response) as? [String: Any])?["base_tiles"] as? [String: Any])
                #expect(tiles["url"] as? String == "http://tiles.intranet:8080/{z}/{x}/{y}.png" && tiles["attribution"] as? String == "天地图")
            }
            try await client.execute(uri: "/", method: .get, headers: [.accept: "text/html"]) { response in
                #expect(response.headers[.contentSecurityPolicy]?.contains("img-src 'self' data: http://tiles.intranet:8080;") == true,
                        "\(response.headers[.contentSecurityPolicy] ?? "-")")
            }
        }
    }

    @Test func meNamesTheCallerAndAGridWorkersGrids() async throws {
        try await fixture.app().test(.router) { client in
            for role in Role.allCases {
                try await client.execute(uri: "/v1/me", method: .get, headers: fixture.headers(role)) { response in
                    let me = try #require(try json(response) as? [String: Any])
                    #expect(me["role"] as? String == role.rawValue && me["name"] as? String == "test-\(role.rawValue)")
                    #expect(me["grids"] as? [String] == (role == .gridWorker ? [ServerFixture.workerGrid] : nil))
                }
            }
            try await client.execute(uri: "/v1/me", method: .get) { #expect($0.status == .unauthorized) }
        }
    }

    /// The classes are the terminal map's, and each grid's value the count `/v1/stats?by=grid` gives.
    @Test func theChoroplethHasTheTerminalMapsClassesAndTheStoredCounts() async throws {
        let scene = try MapData(service: fixture.service, layers: []).scene(metric: .households, focus: .county)
        let terminal = Classification(quantilesOf: scene.areas.compactMap(\.value), classes: 6)
        try await fixture.app().test(.router) { client in
            let counts = try await client.execute(uri: "/v1/stats?by=grid", method: .get, headers: fixture.headers(.viewer)) { response in
                Dictionary(uniqueKeysWithValues: try #require(try json(response) as? [[String: Any]]).map { ($0["code"] as! String, $0["households"] as! Int) })
            }
            try await client.execute(uri: "/v1/map/choropleth?metric=households", method: .get, headers: fixture.headers(.viewer)) { response in
                let body = try #require(try json(response) as? [String: Any])
                let classes = try #require(body["classes"] as? [[String: Any]])
                #expect(classes.map { $0["to"] as! Double } == terminal.upperBounds)
                #expect(classes.map { $0["colour"] as! String } == Palette.sequential(terminal.count).map(\.hex))
                let grids = try #require(body["grids"] as? [[String: Any]])
                #expect(grids.count == scene.areas.count && grids.count == 271)
                for grid in grids {
                    let code = grid["code"] as! String, value = grid["value"] as! Double, index = grid["class"] as! Int
                    #expect(value == Double(counts[code] ?? -1), "\(code)")
                    let upper = classes[index]["to"] as! Double, below = index == 0 ? -Double.infinity : classes[index - 1]["to"] as! Double
                    #expect(below < value && value <= upper, "\(code) \(value) in class \(index)")
                }
                #expect((body["metrics"] as? [[String: Any]])?.count == MapMetricKind.allCases.count)
            }
            try await client.execute(uri: "/v1/map/choropleth?metric=overdue", method: .get, headers: fixture.headers(.dispatcher)) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/v1/map/choropleth?metric=wealth", method: .get, headers: fixture.headers(.dispatcher)) { response in
                #expect(response.status == .badRequest && String(buffer: response.body).contains("\"name\":\"metric\""))
            }
        }
    }

    @Test func anIncidentOffersTheActionsItsStatusAndTheCallersRoleAllow() async throws {
        try await fixture.app().test(.router) { client in
            func actions(_ id: String, _ role: Role) async throws -> [String]? {
                try await client.execute(uri: "/v1/incidents/\(id)", method: .get, headers: fixture.headers(role)) { response in
                    (try #require(try json(response) as? [String: Any]))["allowed_actions"] as? [String]
                }
            }
            // E1 is reported in the worker's grid, E2 closed in the other.
            let reported = try #require(try await actions("E1", .dispatcher))
            #expect(Set(reported) == ["accept", "escalate", "return", "reroute"])
            let admin = try await actions("E1", .admin), worker = try #require(try await actions("E1", .gridWorker))
            #expect(admin == reported)
            #expect(Set(worker) == ["accept", "escalate", "return"])
            let viewer = try await actions("E1", .viewer), planner = try await actions("E1", .planner)
            #expect(viewer == [] && planner == [])
            let closedForDispatcher = try await actions("E2", .dispatcher), closedForWorker = try await actions("E2", .gridWorker)
            #expect(closedForDispatcher == ["reopen"])
            #expect(closedForWorker == [], "not the worker's grid")
        }
    }

    @Test func incidentMarkersCarryNothingPersonalAndCost304WhileUnchanged() async throws {
        try await fixture.app().test(.router) { client in
            for role in Role.allCases {
                let (markers, tag) = try await client.execute(uri: "/v1/map/incidents", method: .get, headers: fixture.headers(role)) { response in
                    (try #require(try json(response) as? [[String: Any]]), try #require(response.headers[.eTag]))
                }
                // E1 is open, E2 closed.
                #expect(markers.map { $0["id"] as? String } == ["E1"], "\(role.rawValue)")
                let marker = try #require(markers.first)
                #expect(Set(marker.keys) == ["id", "lon", "lat", "status", "overdue", "version", "grid", "category"], "\(role.rawValue): \(marker.keys.sorted())")
                let lon = try #require(marker["lon"] as? Double), stored = try #require(fixture.inside[ServerFixture.workerGrid]).lon
                // Positions are masked (to 0.001°) only for the viewer, by the shipped policy.
                #expect(role == .viewer ? (lon * 1000).rounded() / 1000 == lon && lon != stored : lon == stored, "\(role.rawValue) \(lon)")
                var revalidate = fixture.headers(role)
                revalidate[.ifNoneMatch] = tag
                try await client.execute(uri: "/v1/map/incidents", method: .get, headers: revalidate) { response in
                    #expect(response.status == .notModified && response.body.readableBytes == 0)
                }
                revalidate[.ifNoneMatch] = "\"other\""
                try await client.execute(uri: "/v1/map/incidents", method: .get, headers: revalidate) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }

    @Test func theItemsOfADraftGenerationAndAnUnknownOne() async throws {
        try await fixture.app().test(.router) { client in
            try await client.execute(uri: "/collections/grids/items?limit=1&generation=9999", method: .get, headers: fixture.headers(.planner)) { response in
                #expect([.badRequest, .notFound].contains(response.status) && String(buffer: response.body).contains("9999"))
            }
            let active = try fixture.service.store.activeGeneration()
            try await client.execute(uri: "/collections/grids/items?limit=2&generation=\(active)", method: .get, headers: fixture.headers(.planner)) { response in
                let body = try #require(try json(response) as? [String: Any])
                #expect((body["features"] as? [Any])?.count == 2)
                let links = try #require(body["links"] as? [[String: Any]])
                #expect(links.contains { ($0["href"] as? String)?.contains("generation=\(active)") == true && $0["rel"] as? String == "next" })
            }
        }
    }
}

/// The search box's households: by address across the county, by name only
/// for those who see names, a grid worker in their own grids, a viewer not at all.
@Suite struct HouseholdSearchTests {
    let fixture: ServerFixture
    init() throws { fixture = try ServerFixture.shared.get() }

    func search(_ client: some TestClientProtocol, _ q: String, _ role: Role) async throws -> (status: HTTPResponse.Status, households: [[String: Any]]) {
        let uri = "/v1/households?q=\(q.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!)&limit=100"
        return try await client.execute(uri: uri, method: .get, headers: fixture.headers(role)) { response in
            (response.status, (try? json(response) as? [String: Any])?["households"] as? [[String: Any]] ?? [])
        }
    }

    @Test func addressesAcrossTheCountyNamesOnlyForThoseWhoSeeThem() async throws {
        try await fixture.app().test(.router) { client in
            // The worker's grid has 和平路0号 … 和平路29号, the other grid 建设路…, the rest 乡间N号.
            let dispatcher = try await search(client, "和平路", .dispatcher)
            #expect(dispatcher.status == .ok && dispatcher.households.count == 30)
            #expect(dispatcher.households.allSatisfy { ($0["grid"] as? String) == ServerFixture.workerGrid && ($0["head"] as? String)?.hasSuffix("*") == true })
            let byNameMasked = try await search(client, "张三", .dispatcher)
            #expect(byNameMasked.households.isEmpty, "a dispatcher sees names masked: no search by name")
            let byNameAdmin = try await search(client, "张三", .admin)
            #expect(byNameAdmin.households.count == 10 && byNameAdmin.households.allSatisfy { $0["head"] as? String == "张三" })

            let own = try await search(client, "和平路1", .gridWorker)
            #expect(own.households.count == 11 && own.households.allSatisfy { ($0["head"] as? String)?.contains("*") == false })
            let others = try await search(client, "建设路", .gridWorker)
            #expect(others.status == .ok && others.households.isEmpty, "a grid worker searches their own grids only")

            #expect(try await search(client, "和平路", .viewer).status == .forbidden)
            #expect(try await search(client, "和", .dispatcher).status == .badRequest)
            let limited = try await client.execute(uri: "/v1/households?q=%E4%B9%A1%E9%97%B4&limit=5", method: .get, headers: fixture.headers(.planner)) {
                (try json($0) as? [String: Any])?["households"] as? [Any]
            }
            #expect(limited?.count == 5)
        }
    }
}
