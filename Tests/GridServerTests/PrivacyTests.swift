import GridApplication
import Foundation
import GeoKit
import GridCore
import GridServer
import GridStore
import Hummingbird
import HummingbirdTesting
import Localization
import Testing
import TestSupport

/// The privacy policy as an attacker with each role's token meets it: every
/// endpoint that returns households or incidents × every role × every
/// personal field, checked against what is stored.
@Suite(.serialized) struct PrivacyTests {
    /// The policy the README and Config/wangge.yaml promise, written out here
    /// on its own so that a change to the built-in defaults shows up as a failure.
    static let promised: [String: [PersonalField: FieldAccess]] = {
        let all = Dictionary(uniqueKeysWithValues: PersonalField.allCases.map { ($0, FieldAccess.full) })
        var identityMasked = all
        for field in [PersonalField.name, .phone, .idNumber] { identityMasked[field] = .masked }
        var workerElsewhere = identityMasked
        workerElsewhere[.address] = .masked
        workerElsewhere[.tags] = .hidden
        return [
            "admin": all, "planner": identityMasked, "dispatcher": identityMasked, "grid_worker in its grids": all,
            "grid_worker elsewhere": workerElsewhere,
            "viewer": [.name: .hidden, .phone: .hidden, .idNumber: .hidden, .address: .hidden, .position: .masked, .tags: .hidden, .freeText: .hidden],
        ]
    }()

    static func audience(_ role: Role, grid: String?) -> String {
        role != .gridWorker ? role.rawValue : grid == ServerFixture.workerGrid ? "grid_worker in its grids" : "grid_worker elsewhere"
    }

    /// Its own store: the incidents made here would change other suites' counts.
    static let prepared: Result<(fixture: ServerFixture, incidents: [String], farGrid: String), Error> = Result {
        let fixture = try ServerFixture()
        let store = fixture.store, rules = DispatchRules()
        var ids: [String] = []
        for (grid, reporter, text) in [(ServerFixture.workerGrid, "孙八", "邻居张三家漏水，电话13912345678"),
                                         (ServerFixture.otherGrid, "周九", "楼上吴十家深夜噪音，身份证430981199001011234")] {
            let p = fixture.inside[grid]!
            let id = try store.report(IncidentReport(position: p, source: (p.lon, p.lat, .wgs84), category: "噪音扰民", channel: "12345",
                                                     severity: nil, description: text, reporter: reporter, reportedAt: Date()), rules: rules).id
            try store.apply(IncidentChange(.accept, actor: "网格员郑一", note: "约好周三上门，回电13912345678", expectedVersion: 1), to: id, rules: rules)
            var move = IncidentChange(.move, actor: "调度员王二", note: "地址更正", expectedVersion: 2)
            move.position = LonLat(p.lon + 0.00003, p.lat + 0.00002)
            move.source = (p.lon + 0.00003, p.lat + 0.00002, .wgs84)
            try store.apply(move, to: id, rules: rules)
            ids.append(id)
        }
        // The deadline check escalates every incident (the system acts: it is no
        // one), and then a person who calls themselves "scheduler" escalates the
        // first again: a person still, masked like any other.
        _ = try store.escalateOverdue(at: Date().addingTimeInterval(30 * 86_400), rules: rules)
        let spoofed = try store.incident(id: ids[0])
        try store.apply(IncidentChange(.escalate, actor: SystemActor.scheduler.rawValue, note: "群众要求", expectedVersion: spoofed.version),
                        to: ids[0], rules: rules)
        // A grid in another town, for notifications that are none of the worker's business.
        let workerTown = try #require(try store.grid(code: ServerFixture.workerGrid)?.townCode)
        let far = try #require(try store.grids().first { $0.townCode != workerTown }).code
        return (fixture, ids, far)
    }

    let fixture: ServerFixture
    let incidents: [String]
    let farGrid: String

    init() throws {
        let prepared = try Self.prepared.get()
        fixture = prepared.fixture
        incidents = prepared.incidents
        farGrid = prepared.farGrid
    }

    /// One personal value as an endpoint showed it, with what is stored.
    struct Observation {
        let field: PersonalField
        let stored: Any?
        let shown: Any?
        let grid: String?
        let label: String
    }

    func check(_ o: Observation, role: Role) {
        let audience = Self.audience(role, grid: o.grid)
        let access = Self.promised[audience]![o.field]!
        let label = "\(audience): \(o.label)"
        let shown = o.shown is NSNull ? nil : o.shown
        if o.field == .position {
            let stored = o.stored as! Double, value = shown as? Double
            #expect(value.map { abs($0 - (access == .full ? stored : (stored * 1000).rounded() / 1000)) < 1e-7 } == true, "\(label): \(String(describing: value)) for \(stored)")
            return
        }
        let stored = (o.stored is NSNull ? nil : o.stored) as? String
        let text = shown as? String
        switch access {
        case .full:
            // Free text keeps its words; the phone and ID numbers in it follow those fields.
            var expected = stored
            for (number, field, masked) in [("13912345678", PersonalField.phone, "139****5678"), ("430981199001011234", .idNumber, "4309**********1234")]
            where o.field == .freeText {
                let numberAccess = Self.promised[audience]![field]!
                let replacement = numberAccess == .full ? number : numberAccess == .masked ? masked : String(repeating: "*", count: number.count)
                expected = expected?.replacingOccurrences(of: number, with: replacement)
            }
            #expect(text == expected, "\(label): \(String(describing: text)) for \(String(describing: stored))")
        case .hidden:
            // A person in an incident's history stays a "*"; everything else is null.
            #expect(text == nil || text == "*", "\(label): \(String(describing: text)) should be hidden")
        case .masked:
            guard let stored else {
                #expect(text == nil, "\(label)")
                return
            }
            let expected: String = switch o.field {
            case .name: String(stored.first!) + String(repeating: "*", count: max(1, stored.count - 1))
            case .phone: String(stored.prefix(3)) + String(repeating: "*", count: stored.count - 7) + String(stored.suffix(4))
            case .idNumber: String(stored.prefix(4)) + String(repeating: "*", count: stored.count - 8) + String(stored.suffix(4))
            case .address: String(stored.map { $0.isNumber ? "*" : $0 })
            case .position, .tags, .freeText: "?"
            }
            #expect(text == expected && text != stored, "\(label): \(String(describing: text)) for \(stored)")
        }
    }

    // MARK: What each endpoint shows

    /// Households as stored, by id.
    func storedHouseholds() throws -> [String: FeatureRecord] {
        Dictionary(uniqueKeysWithValues: try fixture.store.features(.households, limit: 10_000, offset: 0).features.map { ($0.id, $0) })
    }

    static func point(_ geometryJSON: String) -> (lon: Double, lat: Double) {
        let object = try? JSONSerialization.jsonObject(with: Data(geometryJSON.utf8)) as? [String: Any]
        let c = object?["coordinates"] as? [Double] ?? [.nan, .nan]
        return (c[0], c[1])
    }

    /// Observations of one household: `tagsShown` is the tags as the endpoint gives them (array or "a;b").
    func household(_ stored: FeatureRecord, shown: [String: Any], position: (Any?, Any?), endpoint: String) -> [Observation] {
        func value(_ key: String) -> String? {
            guard let property = stored.properties.first(where: { $0.key == key }), case .string(let s) = property.value else { return nil }
            return s
        }
        let label = "\(endpoint) \(stored.id)"
        let p = Self.point(stored.geometryJSON)
        var tags = shown["tags"]
        // No tags: [] in /v1, "" in OGC, as stored.
        if let list = tags as? [String] { tags = list.joined(separator: ";") }
        if tags as? String == "" { tags = nil }
        return [
            Observation(field: .name, stored: value("head"), shown: shown["head"], grid: stored.grid, label: "\(label) head"),
            Observation(field: .phone, stored: value("phone"), shown: shown["phone"], grid: stored.grid, label: "\(label) phone"),
            Observation(field: .idNumber, stored: value("id_number"), shown: shown["id_number"], grid: stored.grid, label: "\(label) id_number"),
            Observation(field: .address, stored: value("address"), shown: shown["address"], grid: stored.grid, label: "\(label) address"),
            Observation(field: .tags, stored: value("tags").flatMap { $0.isEmpty ? nil : $0 }, shown: tags, grid: stored.grid, label: "\(label) tags"),
            Observation(field: .position, stored: p.lon, shown: position.0, grid: stored.grid, label: "\(label) lon"),
            Observation(field: .position, stored: p.lat, shown: position.1, grid: stored.grid, label: "\(label) lat"),
        ]
    }

    /// Observations of one incident: reporter, description, place, and the history when shown.
    func incident(_ stored: IncidentRecord, shown: [String: Any], position: (Any?, Any?), endpoint: String) -> [Observation] {
        let label = "\(endpoint) \(stored.id)"
        var observations = [
            Observation(field: .name, stored: stored.reporter, shown: shown["reporter"], grid: stored.grid, label: "\(label) reporter"),
            Observation(field: .freeText, stored: stored.description, shown: shown["description"], grid: stored.grid, label: "\(label) description"),
            Observation(field: .position, stored: stored.lon, shown: position.0, grid: stored.grid, label: "\(label) lon"),
            Observation(field: .position, stored: stored.lat, shown: position.1, grid: stored.grid, label: "\(label) lat"),
        ]
        if let history = shown["history"] as? [[String: Any]] {
            let events = stored.history ?? []
            #expect(history.count == events.count, "\(label) history")
            for (event, entry) in zip(events, history) {
                if let system = event.systemActor {
                    // The system is no one: never masked, and worded for the reader.
                    #expect(entry["actor"] as? String == event.actor, "\(label) history: the system's \(event.actor)")
                    #expect([Language.en, .zh].map { system.text.rendered(in: $0) }.contains(entry["actor_text"] as? String ?? ""),
                            "\(label) history: \(String(describing: entry["actor_text"])) for the system's \(event.actor)")
                } else {
                    observations.append(Observation(field: .name, stored: event.actor, shown: entry["actor"], grid: stored.grid, label: "\(label) history actor"))
                    observations.append(Observation(field: .name, stored: event.actor, shown: entry["actor_text"], grid: stored.grid,
                                                    label: "\(label) history actor_text"))
                }
                observations.append(Observation(field: .freeText, stored: event.note, shown: entry["note"], grid: stored.grid, label: "\(label) history note"))
                for key in ["from_place", "to_place"] {
                    guard let place = event.detail?[key] else { continue }
                    let storedParts = place.split(separator: ",").map { Double($0)! }
                    let shownParts = ((entry["detail"] as? [String: Any])?[key] as? String ?? "").split(separator: ",").map { Double($0) }
                    observations.append(Observation(field: .position, stored: storedParts[0], shown: shownParts.first ?? nil, grid: stored.grid,
                                                    label: "\(label) history \(key)"))
                    observations.append(Observation(field: .position, stored: storedParts[1], shown: shownParts.last ?? nil, grid: stored.grid,
                                                    label: "\(label) history \(key)"))
                }
            }
        }
        return observations
    }

    /// One GET: the status, and the observations of what came back.
    func observe(_ client: some TestClientProtocol, _ uri: String, _ role: Role,
                 _ read: @escaping @Sendable (Any) throws -> [Observation]) async throws -> (status: HTTPResponse.Status, observations: [Observation]) {
        try await client.execute(uri: uri, method: .get, headers: fixture.headers(role)) { response in
            (response.status, response.status == .ok ? try read(try json(response)) : [])
        }
    }

    @Test func theShippedDefaultsAreThePromisedPolicy() {
        for role in Role.allCases {
            for grid in [ServerFixture.workerGrid, ServerFixture.otherGrid] {
                let caller = Caller(tokenID: 1, name: "x", role: role, grids: [ServerFixture.workerGrid])
                #expect(PrivacyPolicy.defaults.rules(for: caller, inGrid: grid).access == Self.promised[Self.audience(role, grid: grid)]!, "\(role) \(grid)")
            }
        }
        #expect(Role.allCases.filter { PrivacyPolicy.defaults.role($0).households == .counts } == [.viewer])
    }

    @Test func everyEndpointShowsEveryRoleOnlyWhatThePolicyAllows() async throws {
        let households = try storedHouseholds()
        let storedIncidents = try Dictionary(uniqueKeysWithValues: (incidents + ["E1", "E2"]).map { ($0, try fixture.store.incident(id: $0)) })
        let events = storedIncidents.values.flatMap { $0.history ?? [] }
        #expect(Set(events.compactMap(\.systemActor)) == [.scheduler, .importer], "the system's events, imported and escalated by the deadline")
        #expect(events.contains { $0.actor == SystemActor.scheduler.rawValue && $0.systemActor == nil }, "a person calling themselves scheduler")
        let w = fixture.inside[ServerFixture.workerGrid]!, o = fixture.inside[ServerFixture.otherGrid]!
        let bbox = "\(min(w.lon, o.lon) - 0.001),\(min(w.lat, o.lat) - 0.001),\(max(w.lon, o.lon) + 0.001),\(max(w.lat, o.lat) + 0.001)"
        typealias Reader = @Sendable (Any) throws -> [Observation]
        let feature: @Sendable (Any, String) -> [Observation] = { [self] object, endpoint in
            let f = object as? [String: Any] ?? [:]
            let properties = f["properties"] as? [String: Any] ?? [:]
            let coordinates = (f["geometry"] as? [String: Any])?["coordinates"] as? [Double] ?? []
            let id = f["id"] as? String ?? ""
            if let stored = households[id] {
                return household(stored, shown: properties, position: (coordinates.first, coordinates.last), endpoint: endpoint)
            }
            return storedIncidents[id].map { incident($0, shown: properties, position: (coordinates.first, coordinates.last), endpoint: endpoint) } ?? []
        }
        var endpoints: [(uri: String, householdRecords: Bool, read: Reader)] = []
        for grid in [ServerFixture.workerGrid, ServerFixture.otherGrid] {
            endpoints.append(("/v1/grids/\(grid)/households?limit=500", true, { [self] body in
                ((body as? [String: Any])?["households"] as? [[String: Any]] ?? []).flatMap { h in
                    household(households[h["id"] as! String]!, shown: h, position: (h["lon"], h["lat"]), endpoint: "households of \(grid)")
                }
            }))
            endpoints.append(("/v1/grids/\(grid)/incidents", false, { [self] body in
                ((body as? [String: Any])?["items"] as? [[String: Any]] ?? []).flatMap { item in
                    storedIncidents[item["id"] as! String].map { incident($0, shown: item, position: (item["lon"], item["lat"]), endpoint: "incidents of \(grid)") } ?? []
                }
            }))
        }
        endpoints.append(("/collections/households/items?bbox=\(bbox)&limit=1000", true, { body in
            ((body as? [String: Any])?["features"] as? [Any] ?? []).flatMap { feature($0, "OGC households") }
        }))
        for id in ["G0-05", "G1-05"] {
            endpoints.append(("/collections/households/items/\(id)", true, { body in feature(body, "OGC household") }))
        }
        endpoints.append(("/collections/incidents/items?limit=1000", false, { body in
            ((body as? [String: Any])?["features"] as? [Any] ?? []).flatMap { feature($0, "OGC incidents") }
        }))
        for id in incidents {
            endpoints.append(("/collections/incidents/items/\(id)", false, { body in feature(body, "OGC incident") }))
        }
        endpoints.append(("/v1/incidents?limit=1000", false, { [self] body in
            ((body as? [String: Any])?["items"] as? [[String: Any]] ?? []).flatMap { item in
                storedIncidents[item["id"] as! String].map { incident($0, shown: item, position: (item["lon"], item["lat"]), endpoint: "incident list") } ?? []
            }
        }))
        for id in incidents + ["E1"] {
            endpoints.append(("/v1/incidents/\(id)", false, { [self] body in
                let item = body as? [String: Any] ?? [:]
                return incident(storedIncidents[id]!, shown: item, position: (item["lon"], item["lat"]), endpoint: "incident")
            }))
        }
        // Exports (GeoJSON here; every format is written from the same masked rows): the id is a property.
        for collection in ["households", "incidents"] {
            endpoints.append(("/v1/export/\(collection)?f=geojson", collection == "households", { body in
                ((body as? [String: Any])?["features"] as? [Any] ?? []).flatMap { object in
                    var exported = object as? [String: Any] ?? [:]
                    exported["id"] = (exported["properties"] as? [String: Any])?["id"]
                    return feature(exported, "export of \(collection)")
                }
            }))
        }
        let allEndpoints = endpoints
        try await fixture.app().test(.router) { client in
            for role in Role.allCases {
                for endpoint in allEndpoints {
                    let auditBefore = try fixture.store.auditLog(limit: 100_000).count
                    let (status, observations) = try await observe(client, endpoint.uri, role, endpoint.read)
                    let refused = endpoint.householdRecords && role == .viewer
                    #expect(status == (refused ? .forbidden : .ok), "\(role.rawValue) \(endpoint.uri)")
                    if !refused { #expect(observations.count >= 4, "\(role.rawValue) \(endpoint.uri): nothing to check") }
                    for observation in observations { check(observation, role: role) }
                    // Reads showing a name, phone or ID number in full are audited, and only those.
                    let identifying = observations.contains { o in
                        o.field == .name && o.stored != nil && Self.promised[Self.audience(role, grid: o.grid)]![.name] == .full
                    }
                    #expect(try fixture.store.auditLog(limit: 100_000).count == auditBefore + (identifying ? 1 : 0), "\(role.rawValue) \(endpoint.uri) audit")
                }
            }
        }
    }

    @Test func noPersonNamedInAnIncidentReachesARoleThatMayNotSeeNames() async throws {
        try await fixture.app().test(.router) { client in
            for role in Role.allCases {
                for (k, id) in incidents.enumerated() {
                    let own = k == 0
                    try await client.execute(uri: "/v1/incidents/\(id)", method: .get, headers: fixture.headers(role)) { response in
                        let body = String(buffer: response.body)
                        let full = role == .admin || (role == .gridWorker && own)
                        for name in [own ? "孙八" : "周九", "网格员郑一", "调度员王二"] {
                            #expect(body.contains(name) == full, "\(role.rawValue) GET /v1/incidents/\(id): \(name)")
                        }
                    }
                }
            }
        }
    }

    @Test func notificationsReachOnlyTheWorkersOwnUnits() async throws {
        let rules = DispatchRules(), store = fixture.store
        let geos = try GEOSContext()
        let farShape = try #require(try store.gridShapes().first { $0.code == farGrid })
        let p = try Geometry(wkb: farShape.wkb, context: geos).pointOnSurface().pointCoordinates
        var cases: [(id: String, workerSees: Bool)] = []
        for (grid, position) in [(ServerFixture.workerGrid, fixture.inside[ServerFixture.workerGrid]!),
                                 (ServerFixture.otherGrid, fixture.inside[ServerFixture.otherGrid]!), (farGrid, LonLat(p.x, p.y))] {
            // Sent down to the grid: only that grid's worker is told.
            let down = try store.report(IncidentReport(position: position, source: (position.lon, position.lat, .wgs84), category: "环境卫生",
                                                       channel: "12345", severity: nil, description: nil, reporter: "某人", reportedAt: Date()), rules: rules).id
            var reroute = IncidentChange(.reroute, actor: "调度员", note: "网格处理", expectedVersion: 1)
            reroute.level = .grid
            try store.apply(reroute, to: down, rules: rules)
            cases.append((down, grid == ServerFixture.workerGrid))
            // Escalated to the town: the worker's own town is its business, another town is not.
            let up = try store.report(IncidentReport(position: position, source: (position.lon, position.lat, .wgs84), category: "环境卫生",
                                                     channel: "12345", severity: nil, description: nil, reporter: "某人", reportedAt: Date()), rules: rules).id
            try store.apply(IncidentChange(.escalate, actor: "调度员", note: "升级", expectedVersion: 1), to: up, rules: rules)
            cases.append((up, grid != farGrid))
        }
        let expected = cases
        try await fixture.app().test(.router) { client in
            for role in Role.allCases {
                try await client.execute(uri: "/v1/notifications?limit=1000", method: .get, headers: fixture.headers(role)) { response in
                    if role == .viewer || role == .planner {
                        #expect(response.status == .forbidden, "\(role.rawValue)")
                        return
                    }
                    let notes = try #require(try json(response) as? [[String: Any]], "\(role.rawValue)")
                    let told = Set(notes.compactMap { $0["incident_id"] as? String })
                    for c in expected {
                        #expect(told.contains(c.id) == (role != .gridWorker || c.workerSees), "\(role.rawValue): notification of \(c.id)")
                    }
                }
            }
        }
    }

    /// The worker of a grid that a redraw splits still sees its households
    /// unmasked, under the new codes, without a new token.
    @Test func aWorkersHouseholdsStayItsOwnAfterARedraw() async throws {
        let path = Fixtures.temporaryPath("redraw.sqlite"), households = Fixtures.temporaryPath("redraw.csv")
        defer {
            Fixtures.removeDatabase(path)
            try? FileManager.default.removeItem(atPath: households)
        }
        let store = try GridStore(path: path)
        _ = try store.importGrids(path: Fixtures.sampleGrids)
        let split = "430981-001-017-002"
        var csv = "id,lon,lat,head,phone\n"
        for i in 0..<12 {
            for j in 0..<12 { csv += "H\(i)-\(j),\(112.3512 + Double(i) * 0.001),\(28.8375 + Double(j) * 0.0009),户主\(i)\(j),1380000\(String(format: "%02d%02d", i, j))\n" }
        }
        try csv.write(toFile: households, atomically: true, encoding: .utf8)
        _ = try store.importPoints(.households, path: households)
        let token = Tokens.generate()
        _ = try store.createToken(name: "和桥二格", role: .gridWorker, grids: [split], hash: Tokens.hash(token))
        let service = try GridService(store: store)
        let draft = try store.createDraft(name: "调整")
        let line = try Geometry(wkt: "LINESTRING(112.357361 28.836, 112.357361 28.850)", context: try GEOSContext()).wkb()
        _ = try store.editDraft(draft, thresholds: PlanThresholds()) { [try $0.applied(try $0.split(split, along: line))] }
        let report = try store.activate(draft, thresholds: PlanThresholds(), dispatch: DispatchRules())
        let parts = try #require(report.tokens.first?.gridsAfter)
        #expect(parts.count == 2)
        try service.refreshIfNeeded()
        try await buildApplication(service: service, host: "127.0.0.1", port: 0).test(.router) { client in
            for part in parts {
                try await client.execute(uri: "/v1/grids/\(part)/households?limit=500", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                    let page = try #require(try json(response) as? [String: Any])
                    let shown = page["households"] as? [[String: Any]] ?? []
                    #expect(!shown.isEmpty && page["masked"] as? Bool == false, "\(part)")
                    #expect(shown.allSatisfy { ($0["phone"] as? String)?.contains("*") == false })
                }
            }
        }
    }

    /// A viewer sees incidents to 0.001°: ever smaller bounding boxes must not find the exact point.
    @Test func aBoundingBoxCannotPinDownAMaskedPosition() async throws {
        let e1 = try fixture.store.incident(id: "E1")
        // A box beside E1 that does not hold it, but lies in the cell E1 rounds to.
        let cellCentre = (lon: (e1.lon * 1000).rounded() / 1000, lat: (e1.lat * 1000).rounded() / 1000)
        let step = e1.lon < cellCentre.lon ? 0.000_002 : -0.000_002
        let beside = [e1.lon + step, e1.lat - 0.000_001, e1.lon + 2 * step, e1.lat + 0.000_001]
        let bbox = "\(min(beside[0], beside[2])),\(beside[1]),\(max(beside[0], beside[2])),\(beside[3])"
        try await fixture.app().test(.router) { client in
            for (role, findsE1) in [(Role.viewer, true), (.dispatcher, false)] {
                try await client.execute(uri: "/collections/incidents/items?bbox=\(bbox)&limit=1000", method: .get, headers: fixture.headers(role)) { response in
                    let ids = ((try json(response) as? [String: Any])?["features"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                    #expect(ids.contains("E1") == findsE1, "\(role.rawValue): \(ids)")
                }
            }
        }
    }

    @Test func expiredTokensAreRefused() async throws {
        let token = Tokens.generate()
        _ = try fixture.store.createToken(name: "过期", role: .admin, grids: [], expiresAt: Date().addingTimeInterval(-60), hash: Tokens.hash(token))
        try await fixture.app().test(.router) { client in
            try await client.execute(uri: "/v1/towns", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("has expired"))
            }
        }
    }

    @Test func hiddenFieldsCannotBeSearchedOrFiltered() async throws {
        try await fixture.app().test(.router) { client in
            // A worker outside its grids sees addresses masked and names masked: no search, and no tag filter.
            for query in ["q=%E5%BB%BA%E8%AE%BE%E8%B7%AF1%E5%8F%B7", "tag=%E7%8B%AC%E5%B1%85%E8%80%81%E4%BA%BA"] {
                try await client.execute(uri: "/v1/grids/\(ServerFixture.otherGrid)/households?\(query)", method: .get,
                                         headers: fixture.headers(.gridWorker)) { #expect($0.status == .forbidden, "\(query)") }
            }
            // A dispatcher sees addresses in full: it searches them, but not names.
            try await client.execute(uri: "/v1/grids/\(ServerFixture.otherGrid)/households?q=%E5%BB%BA%E8%AE%BE%E8%B7%AF1%E5%8F%B7", method: .get,
                                     headers: fixture.headers(.dispatcher)) { response in
                let page = try json(response) as? [String: Any]
                #expect((page?["households"] as? [Any])?.count == 1)
            }
            try await client.execute(uri: "/v1/grids/\(ServerFixture.otherGrid)/households?q=%E6%9D%8E%E4%B8%89", method: .get,
                                     headers: fixture.headers(.dispatcher)) { response in
                let page = try json(response) as? [String: Any]
                #expect((page?["households"] as? [Any])?.count == 0)
            }
        }
    }
}
