import Foundation
import GeoKit
import GridCore
import GridStore
import Hummingbird

/// Query parameters, parsed with errors that name the parameter (400).
struct Query {
    let request: Request

    func string(_ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    func double(_ name: String, required: Bool = false, range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let text = string(name) else {
            if required { throw APIError.badParameter(name, "missing") }
            return nil
        }
        guard let value = Double(text), value.isFinite else { throw APIError.badParameter(name, "\"\(text)\" is not a number") }
        if let range, !range.contains(value) {
            throw APIError.badParameter(name, "\(text) is outside \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    func int(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = string(name) else { return value }
        guard let n = Int(text) else { throw APIError.badParameter(name, "\"\(text)\" is not a whole number") }
        guard range.contains(n) else { throw APIError.badParameter(name, "\(n) is outside \(range.lowerBound)…\(range.upperBound)") }
        return n
    }

    func crs() throws -> CoordinateSystem {
        guard let text = string("crs") else { return .wgs84 }
        do { return try CoordinateSystem(parsing: text) } catch let error as GeoError { throw APIError.badParameter("crs", error.message) }
    }

    /// `bbox=minLon,minLat,maxLon,maxLat` in WGS84.
    func bbox() throws -> BoundingBox? {
        guard let text = string("bbox") else { return nil }
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 4, let a = parts[0], let b = parts[1], let c = parts[2], let d = parts[3] else {
            throw APIError.badParameter("bbox", "\"\(text)\" is not four numbers minLon,minLat,maxLon,maxLat")
        }
        guard (-180...180).contains(a), (-180...180).contains(c), (-90...90).contains(b), (-90...90).contains(d) else {
            throw APIError.badParameter("bbox", "\"\(text)\" is outside longitude -180…180 / latitude -90…90")
        }
        guard a <= c, b <= d else { throw APIError.badParameter("bbox", "\"\(text)\": the minimum is above the maximum") }
        return BoundingBox(minLon: a, minLat: b, maxLon: c, maxLat: d)
    }
}

/// Converts input coordinates to WGS84 with a cached converter, answering 400 with the parameter at fault.
func toWGS84(x: Double, y: Double, crs: CoordinateSystem, parameter: String) throws -> LonLat {
    do {
        let p = try WGS84ConverterCache.shared.withConverter(from: crs) { try $0.toWGS84(x: x, y: y) }
        return LonLat(p.lon, p.lat)
    } catch let error as GeoError {
        throw APIError.badParameter(parameter, error.message)
    }
}

/// A small JSON body (64 KiB at most), decoded; `shape` tells the caller what was expected.
func jsonBody<T: Decodable>(_ type: T.Type, of request: Request, shape: String) async throws -> T {
    var request = request
    let buffer: ByteBuffer
    do { buffer = try await request.collectBody(upTo: 64 * 1024) } catch { throw APIError(.contentTooLarge, "the body is over 64 KiB") }
    do {
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    } catch {
        throw APIError(.badRequest, "the body must be \(shape): \(error)", parameter: "body")
    }
}

struct APIRoutes {
    let service: GridService
    static let maxBatchPoints = 10_000
    static let maxBodyBytes = 1 << 21

    func add(to router: Router<WanggeContext>) {
        router.get("/healthz") { _, _ in
            struct Health: Encodable { let status: String, generation: Int64, grids: Int }
            let index = service.index
            return try JSON.response(Health(status: "ok", generation: index.generation, grids: index.grids.count))
        }
        let v1 = router.group("v1")
        v1.get("locate") { request, context in try locate(request, context) }
        v1.post("locate") { request, context in try await locateBatch(request, context) }
        v1.get("towns") { _, context in
            _ = try context.requireCaller()
            struct Town: Encodable { let code: String, name: String, grids: Int }
            return try JSON.response(try service.store.areas(.town).map { Town(code: $0.code, name: $0.name, grids: $0.grids) })
        }
        v1.get("villages") { request, context in
            _ = try context.requireCaller()
            struct Village: Encodable { let code: String, name: String, town: String?, grids: Int }
            let villages = try service.store.areas(.village, town: Query(request: request).string("town"))
            return try JSON.response(villages.map { Village(code: $0.code, name: $0.name, town: $0.town, grids: $0.grids) })
        }
        v1.get("grids") { request, context in
            _ = try context.requireCaller()
            let q = Query(request: request)
            let generation = try q.generation(service.store)
            let town: String?, village: String?
            do {
                town = try q.string("town").map { try service.store.areaCode(.town, named: $0, generation: generation) }
                village = try q.string("village").map { try service.store.areaCode(.village, named: $0, generation: generation) }
            } catch let error as UnknownAreaError {
                throw APIError.badParameter(error.level.rawValue, error.description)
            }
            let grids = try service.store.grids(generation: generation).filter {
                (town == nil || $0.townCode == town) && (village == nil || $0.villageCode == village)
            }
            return try JSON.response(grids)
        }
        v1.get("grids/{code}") { request, context in try gridDetail(request, context) }
        v1.get("grids/{code}/households") { request, context in try households(request, context) }
        v1.get("grids/{code}/cameras") { request, context in try gridFeatures(.cameras, request, context) }
        v1.get("grids/{code}/incidents") { request, context in try gridFeatures(.incidents, request, context) }
        v1.get("stats") { request, context in
            _ = try context.requireCaller()
            let q = Query(request: request)
            let text = q.string("by") ?? "town"
            guard let level = AreaLevel(rawValue: text) else { throw APIError.badParameter("by", "\"\(text)\" is not grid, village or town") }
            return try JSON.response(try service.store.statistics(by: level, generation: try q.generation(service.store)))
        }
        v1.post("incidents") { request, context in try await reportIncident(request, context) }
        v1.get("audit") { request, context in
            let caller = try context.requireCaller()
            guard caller.role == .admin else { throw APIError(.forbidden, "the audit log is for the admin role; you are \(caller.role.rawValue)") }
            struct Entry: Encodable { let at: String, caller: String, role: String, action: String, grid: String?, records: Int }
            let limit = try Query(request: request).int("limit", default: 100, range: 1...10_000)
            return try JSON.response(try service.store.auditLog(limit: limit).map {
                Entry(at: $0.at, caller: $0.caller, role: $0.role, action: $0.action, grid: $0.grid, records: $0.records)
            })
        }
    }

    func locate(_ request: Request, _ context: WanggeContext) throws -> Response {
        _ = try context.requireCaller()
        let q = Query(request: request)
        let crs = try q.crs()
        let x = try q.double("lon", required: true)!, y = try q.double("lat", required: true)!
        if crs.isGeographicWGS84Like {
            guard (-180...180).contains(x) else { throw APIError.badParameter("lon", "\(x) is outside -180…180") }
            guard (-90...90).contains(y) else { throw APIError.badParameter("lat", "\(y) is outside -90…90") }
        }
        let p = crs == .wgs84 ? LonLat(x, y) : try toWGS84(x: x, y: y, crs: crs, parameter: "lon")
        let index = try service.index(generation: try q.generation(service.store))
        return try JSON.response(index.answer(input: .init(x: x, y: y, crs: crs.description), wgs84: p, assignment: try index.locate(p)))
    }

    struct BatchBody: Decodable {
        struct Point: Decodable { let id: String?, lon: Double, lat: Double }
        let crs: String?
        let points: [Point]
    }

    func locateBatch(_ request: Request, _ context: WanggeContext) async throws -> Response {
        _ = try context.requireCaller()
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: Self.maxBodyBytes)
        } catch {
            throw APIError(.contentTooLarge, "the body is over \(Self.maxBodyBytes) bytes: send at most \(Self.maxBatchPoints) points")
        }
        let body: BatchBody
        do {
            body = try JSONDecoder().decode(BatchBody.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError(.badRequest, "the body must be {\"crs\": …, \"points\": [{\"id\": …, \"lon\": …, \"lat\": …}, …]}: \(error)", parameter: "body")
        }
        guard body.points.count <= Self.maxBatchPoints else {
            throw APIError(.contentTooLarge, "\(body.points.count) points: at most \(Self.maxBatchPoints) in one request")
        }
        let crs: CoordinateSystem
        do { crs = try CoordinateSystem(parsing: body.crs ?? "EPSG:4326") } catch let e as GeoError { throw APIError.badParameter("crs", e.message) }
        var positions: [LonLat] = []
        positions.reserveCapacity(body.points.count)
        do {
            try WGS84ConverterCache.shared.withConverter(from: crs) { converter in
                for (i, point) in body.points.enumerated() {
                    do {
                        let p = try converter.toWGS84(x: point.lon, y: point.lat)
                        positions.append(LonLat(p.lon, p.lat))
                    } catch let error as GeoError {
                        throw APIError.badParameter("points[\(i)]", error.message)
                    }
                }
            }
        } catch let e as GeoError {
            throw APIError.badParameter("crs", e.message)
        }
        let index = service.index
        let assignments = try index.assigner.assign(positions)
        struct Item: Encodable { let id: String?, result: LocateAnswer }
        let items = body.points.indices.map { i in
            Item(id: body.points[i].id, result: index.answer(input: .init(x: body.points[i].lon, y: body.points[i].lat, crs: crs.description),
                                                             wgs84: positions[i], assignment: assignments[i]))
        }
        return try JSON.response(["results": items])
    }

    struct IncidentBody: Decodable {
        let lon: Double, lat: Double, crs: String?, category: String, channel: String
        let severity: String?, description: String?, reporter: String?
    }

    /// POST /v1/incidents: dispatchers and grid workers report; the answer is the routing.
    func reportIncident(_ request: Request, _ context: WanggeContext) async throws -> Response {
        let caller = try context.requireCaller()
        guard [.admin, .dispatcher, .gridWorker].contains(caller.role) else {
            throw APIError(.forbidden, "reporting incidents is for dispatchers and grid workers; you are \(caller.role.rawValue)")
        }
        let body = try await jsonBody(IncidentBody.self, of: request,
                                      shape: "{\"lon\", \"lat\", \"crs\"?, \"category\", \"channel\", \"severity\"?, \"description\"?, \"reporter\"?}")
        let crs: CoordinateSystem
        do { crs = try CoordinateSystem(parsing: body.crs ?? "EPSG:4326") } catch let e as GeoError { throw APIError.badParameter("crs", e.message) }
        let p = try toWGS84(x: body.lon, y: body.lat, crs: crs, parameter: "lon")
        let report = IncidentReport(position: p, source: (body.lon, body.lat, crs), category: body.category, channel: body.channel,
                                    severity: body.severity, description: body.description, reporter: body.reporter ?? caller.name, reportedAt: Date())
        do {
            let result = try service.store.report(report, rules: service.dispatchRules, placement: service.index.placement)
            struct Answer: Encodable { let id: String, routing: Routing }
            return try JSON.response(Answer(id: result.id, routing: result.routing), status: .created)
        } catch let refusal as RoutingRefusal {
            throw APIError(.unprocessableContent, "refused: \(refusal)", parameter: "lon")
        } catch let error as VocabularyError {
            throw APIError(.unprocessableContent, "\(error)", parameter: error.field.rawValue)
        } catch let error as IncidentError {
            throw APIError(.unprocessableContent, "\(error)")
        }
    }

    func gridDetail(_ request: Request, _ context: WanggeContext) throws -> Response {
        _ = try context.requireCaller()
        let code = try context.parameters.require("code")
        guard let grid = try service.store.grid(code: code) else { throw APIError.notFound("no grid \(code) in the active generation") }
        let counts = try service.store.statistics(by: .grid, grid: code).first
        var object: [String: Any] = [
            "code": grid.code, "name": grid.name,
            "village": ["code": grid.villageCode, "name": grid.villageName],
            "town": ["code": grid.townCode, "name": grid.townName],
            "worker": ["name": grid.workerName as Any, "phone": grid.workerPhone as Any],
            "area_m2": grid.areaSquareMetres as Any,
            "counts": [
                "households": counts?.households ?? 0, "residents": counts?.residents ?? 0, "cameras": counts?.cameras ?? 0,
                "cameras_online": counts?.camerasOnline ?? 0, "incidents": counts?.incidents ?? 0, "open_incidents": counts?.openIncidents ?? 0,
            ],
        ]
        if Query(request: request).string("geometry") == "true" {
            let feature = try service.store.features(.grids, id: code, limit: 1, offset: 0).features.first
            object["geometry"] = try feature.flatMap { try JSONSerialization.jsonObject(with: Data($0.geometryJSON.utf8)) }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return JSON.raw(String(decoding: data, as: UTF8.self))
    }

    func requireGrid(_ context: WanggeContext) throws -> String {
        let code = try context.parameters.require("code")
        if service.index.grids[code] != nil { return code }
        guard try service.store.grid(code: code) != nil else { throw APIError.notFound("no grid \(code) in the active generation") }
        return code
    }

    func households(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let code = try requireGrid(context)
        let q = Query(request: request)
        let limit = try q.int("limit", default: 50, range: 1...500)
        var after: String?
        if let cursor = q.string("cursor") {
            guard let data = Data(base64Encoded: cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")),
                  let id = String(data: data, encoding: .utf8), !id.isEmpty else {
                throw APIError.badParameter("cursor", "not a cursor from a previous page")
            }
            after = id
        }
        try service.requireHouseholdRecords(caller)
        let rules = service.fieldRules(caller, inGrid: code)
        let tag = q.string("tag")
        if tag != nil && rules[.tags] != .full { throw APIError(.forbidden, "tag: household tags are hidden from you (privacy.\(caller.role.rawValue))") }
        // A search only looks in what the caller sees in full: a name search would otherwise reveal who lives where.
        if q.string("q") != nil && rules[.name] != .full && rules[.address] != .full {
            throw APIError(.forbidden, "q: you see neither names nor addresses in full here, so you cannot search them")
        }
        let page = try service.store.householdPage(grid: code, tag: tag, query: q.string("q"), searchNames: rules[.name] == .full,
                                                   searchAddresses: rules[.address] == .full, limit: limit + 1, after: after)
        let shown = Array(page.prefix(limit))
        let next = page.count > limit ? shown.last.map { Data($0.id.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_") } : nil
        if rules.revealsIdentity && !shown.isEmpty {
            try service.store.audit(caller, action: "GET \(request.uri.path)", grid: code, records: shown.count)
        }
        struct Page: Encodable { let grid: String, households: [HouseholdView], nextCursor: String?, masked: Bool }
        return try JSON.response(Page(grid: code, households: shown.map { HouseholdView($0, rules: rules) }, nextCursor: next,
                                      masked: rules != .everything))
    }

    func gridFeatures(_ collection: Collection, _ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let code = try requireGrid(context)
        let q = Query(request: request)
        let limit = try q.int("limit", default: 100, range: 1...1_000)
        let offset = try q.int("offset", default: 0, range: 0...10_000_000)
        let (matched, features) = try service.store.features(collection, grid: code, limit: limit, offset: offset)
        var items: [[String: PropertyValue]] = []
        var unmaskedRecords = 0
        for feature in features {
            var (properties, unmasked) = service.visibleProperties(feature, collection: collection, caller: caller)
            properties["id"] = .string(feature.id)
            let geometryJSON = service.visibleGeometry(feature, collection: collection, caller: caller)
            if let geometry = try? JSONSerialization.jsonObject(with: Data(geometryJSON.utf8)) as? [String: Any],
               let coordinates = geometry["coordinates"] as? [Double], coordinates.count >= 2 {
                properties["lon"] = .number(coordinates[0])
                properties["lat"] = .number(coordinates[1])
            }
            if unmasked { unmaskedRecords += 1 }
            items.append(properties)
        }
        if unmaskedRecords > 0 {
            try service.store.audit(caller, action: "GET \(request.uri.path)", grid: code, records: unmaskedRecords)
        }
        struct Page: Encodable { let grid: String, matched: Int?, items: [[String: PropertyValue]] }
        return try JSON.response(Page(grid: code, matched: matched, items: items))
    }
}
