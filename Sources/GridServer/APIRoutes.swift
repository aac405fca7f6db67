import GridApplication
import Foundation
import GeoKit
import GridCore
import GridStore
import Hummingbird
import HummingbirdCore
import Localization

/// Query parameters, parsed with errors that name the parameter (400).
struct Query {
    /// Split once: `URI.queryParameters` splits the query again at every use.
    let parameters: FlatDictionary<Substring, Substring>

    init(request: Request) {
        parameters = request.uri.queryParameters
    }

    func string(_ name: String) -> String? {
        parameters[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    func double(_ name: String, required: Bool = false, range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let text = string(name) else {
            if required { throw APIError.badParameter(name, tr("missing")) }
            return nil
        }
        guard let value = Double(text), value.isFinite else { throw APIError.badParameter(name, tr("\"\(text)\" is not a number")) }
        if let range, !range.contains(value) {
            throw APIError.badParameter(name, tr("\(text) is outside \(range.lowerBound)…\(range.upperBound)"))
        }
        return value
    }

    func int(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = string(name) else { return value }
        guard let n = Int(text) else { throw APIError.badParameter(name, tr("\"\(text)\" is not a whole number")) }
        guard range.contains(n) else { throw APIError.badParameter(name, tr("\(n) is outside \(range.lowerBound)…\(range.upperBound)")) }
        return n
    }

    func crs() throws -> CoordinateSystem {
        guard let text = string("crs") else { return .wgs84 }
        do { return try CoordinateSystem(parsing: text) } catch let error as GeoError { throw APIError.badParameter("crs", error.text) }
    }

    func bool(_ name: String) throws -> Bool? {
        guard let text = string(name) else { return nil }
        guard let flag = Bool(text) else { throw APIError.badParameter(name, tr("\"\(text)\" is not true or false")) }
        return flag
    }

    /// `by=town|village|grid`.
    func areaLevel(_ name: String) throws -> AreaLevel? {
        guard let text = string(name) else { return nil }
        guard let level = AreaLevel(rawValue: text) else { throw APIError.badParameter(name, tr("\"\(text)\" is not grid, village or town")) }
        return level
    }

    /// `town`, `village` or `grid` (codes or names) and `by`.
    func areaScope() throws -> AreaScope {
        AreaScope(town: string("town"), village: string("village"), grid: string("grid"), groupBy: try areaLevel("by"))
    }

    /// `generation=N`: a stored generation (400 naming the parameter otherwise); nil for the active one.
    func generation(_ service: GridService) throws -> Int64? {
        guard let text = string("generation") else { return nil }
        guard let id = Int64(text) else { throw APIError.badParameter("generation", tr("\"\(text)\" is not a generation id")) }
        return try service.checkedGeneration(id)
    }

    /// `bbox=minLon,minLat,maxLon,maxLat` in WGS84.
    func bbox() throws -> BoundingBox? {
        guard let text = string("bbox") else { return nil }
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 4, let a = parts[0], let b = parts[1], let c = parts[2], let d = parts[3] else {
            throw APIError.badParameter("bbox", tr("\"\(text)\" is not four numbers minLon,minLat,maxLon,maxLat"))
        }
        guard (-180...180).contains(a), (-180...180).contains(c), (-90...90).contains(b), (-90...90).contains(d) else {
            throw APIError.badParameter("bbox", tr("\"\(text)\" is outside longitude -180…180 / latitude -90…90"))
        }
        guard a <= c, b <= d else { throw APIError.badParameter("bbox", tr("\"\(text)\": the minimum is above the maximum")) }
        return BoundingBox(minLon: a, minLat: b, maxLon: c, maxLat: d)
    }
}

/// The CRS a body names (default WGS84), or 400 naming `crs`.
func bodyCRS(_ text: String?) throws -> CoordinateSystem {
    do { return try CoordinateSystem(parsing: text ?? "EPSG:4326") } catch let e as GeoError { throw APIError.badParameter("crs", e.text) }
}

/// A small JSON body (64 KiB at most), decoded; `shape` tells the caller what was expected.
func jsonBody<T: Decodable>(_ type: T.Type, of request: Request, shape: String) async throws -> T {
    var request = request
    let buffer: ByteBuffer
    do { buffer = try await request.collectBody(upTo: 64 * 1024) } catch { throw APIError(.contentTooLarge, tr("the body is over 64 KiB")) }
    do {
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    } catch {
        throw APIError(.badRequest, tr("the body must be \(shape): \(error)"), parameter: "body")
    }
}

struct APIRoutes {
    let service: GridService
    static let maxBatchPoints = 10_000
    static let maxBodyBytes = 1 << 21

    func add(to router: Router<WanggeContext>) {
        router.get("/healthz") { _, _ in
            struct Health: Encodable { let status: String, generation: Int64, grids: Int, standbyLagS: Double?, standby: String? }
            let active = try service.active()
            let lag = try service.standbyLag()
            if let lag, lag > service.config.server.maxStandbyLag.inSeconds {
                throw WanggeError(.unavailable, tr("the standby that serves reads is \(Int(lag)) s behind its primary"), cause: "replication lag")
            }
            // A standby that cannot answer: this server reads from the primary, and says so.
            return try JSON.response(Health(status: "ok", generation: active.generation, grids: active.grids.count, standbyLagS: lag,
                                            standby: service.isStandbyUnavailable ? "unavailable" : nil))
        }
        let v1 = router.group("v1")
        v1.get("locate") { request, context in try locate(request, context) }
        v1.post("locate") { request, context in try await locateBatch(request, context) }
        v1.get("towns") { _, context in
            _ = try context.requireCaller()
            struct Town: Encodable { let code: String, name: String, grids: Int }
            return try JSON.response(try service.areas(.town).map { Town(code: $0.code, name: $0.name, grids: $0.grids) })
        }
        v1.get("villages") { request, context in
            _ = try context.requireCaller()
            struct Village: Encodable { let code: String, name: String, town: String?, grids: Int }
            let villages = try service.areas(.village, town: Query(request: request).string("town"))
            return try JSON.response(villages.map { Village(code: $0.code, name: $0.name, town: $0.town, grids: $0.grids) })
        }
        v1.get("grids") { request, context in
            _ = try context.requireCaller()
            let q = Query(request: request)
            let scope = AreaScope(town: q.string("town"), village: q.string("village"))
            return try JSON.response(try service.grids(in: scope, generation: try q.generation(service)))
        }
        v1.get("grids/{code}") { request, context in try gridDetail(request, context) }
        v1.get("grids/{code}/households") { request, context in try households(request, context) }
        v1.get("grids/{code}/cameras") { request, context in try gridFeatures(.cameras, request, context) }
        v1.get("grids/{code}/incidents") { request, context in try gridFeatures(.incidents, request, context) }
        v1.get("stats") { request, context in
            _ = try context.requireCaller()
            let q = Query(request: request)
            return try JSON.response(try service.statistics(in: AreaScope(groupBy: try q.areaLevel("by") ?? .town), generation: try q.generation(service)))
        }
        v1.get("stats/coverage") { request, context in
            _ = try context.requireCaller()
            return try JSON.response(try service.coverage(in: try Query(request: request).areaScope()))
        }
        v1.get("stats/workload") { request, context in
            _ = try context.requireCaller()
            let q = Query(request: request)
            return try JSON.response(try service.workload(in: try q.areaScope(), flaggedOnly: try q.bool("flagged_only") ?? false))
        }
        v1.post("incidents") { request, context in try await reportIncident(request, context) }
        v1.get("audit") { request, context in
            let caller = try context.requireCaller()
            guard caller.role == .admin else { throw APIError(.forbidden, tr("the audit log is for the admin role; you are \(caller.role.rawValue)")) }
            let limit = try Query(request: request).int("limit", default: 100, range: GridService.auditLogLimits)
            return try JSON.response(try service.auditLog(limit: limit))
        }
    }

    func locate(_ request: Request, _ context: WanggeContext) throws -> Response {
        _ = try context.requireCaller()
        let q = Query(request: request)
        let crs = try q.crs()
        let x = try q.double("lon", required: true)!, y = try q.double("lat", required: true)!
        if crs.isGeographicWGS84Like {
            guard (-180...180).contains(x) else { throw APIError.badParameter("lon", tr("\(x) is outside -180…180")) }
            guard (-90...90).contains(y) else { throw APIError.badParameter("lat", tr("\(y) is outside -90…90")) }
        }
        return JSON.response(bytes: try service.locate(x: x, y: y, crs: crs, generation: try q.generation(service)).json())
    }

    struct BatchBody: Decodable {
        let crs: String?
        let points: [PointInput]
    }

    func locateBatch(_ request: Request, _ context: WanggeContext) async throws -> Response {
        _ = try context.requireCaller()
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: Self.maxBodyBytes)
        } catch {
            throw APIError(.contentTooLarge, tr("the body is over \(Self.maxBodyBytes) bytes: send at most \(Self.maxBatchPoints) points"))
        }
        let body: BatchBody
        do {
            body = try JSONDecoder().decode(BatchBody.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError(.badRequest, tr("the body must be {\"crs\": …, \"points\": [{\"id\": …, \"lon\": …, \"lat\": …}, …]}: \(error)"), parameter: "body")
        }
        guard body.points.count <= Self.maxBatchPoints else {
            throw APIError(.contentTooLarge, tr("\(body.points.count) points: at most \(Self.maxBatchPoints) in one request"))
        }
        let crs = try bodyCRS(body.crs)
        return JSON.response(bytes: try LocateAnswer.batchJSON(try service.locate(body.points, crs: crs).map { ($0.id, $0.result) }))
    }

    struct IncidentBody: Decodable {
        let lon: Double, lat: Double, crs: String?, category: String, channel: String
        let severity: String?, description: String?, reporter: String?
        let occurredAt: String?, externalID: String?
        enum CodingKeys: String, CodingKey {
            case lon, lat, crs, category, channel, severity, description, reporter, occurredAt = "occurred_at", externalID = "external_id"
        }
    }

    /// POST /v1/incidents: dispatchers and grid workers report; the answer is the routing.
    func reportIncident(_ request: Request, _ context: WanggeContext) async throws -> Response {
        let caller = try context.requireCaller()
        guard GridService.mayReport(caller) else {
            throw APIError(.forbidden, tr("reporting incidents is for dispatchers and grid workers; you are \(caller.role.rawValue)"))
        }
        let body = try await jsonBody(IncidentBody.self, of: request,
                                      shape: "{\"lon\", \"lat\", \"crs\"?, \"category\", \"channel\", \"severity\"?, \"description\"?, \"reporter\"?, "
                                          + "\"occurred_at\"?, \"external_id\"?}")
        let occurredAt = try body.occurredAt.map { text in
            guard let date = GridStore.parseTime(text) else {
                throw APIError.badParameter("occurred_at", tr("\"\(text)\" is not a day (2026-11-01), a minute (2026-11-01 08:30) or an ISO 8601 time"))
            }
            return date
        }
        let input = IncidentInput(x: body.lon, y: body.lat, crs: try bodyCRS(body.crs), category: body.category, channel: body.channel,
                                  severity: body.severity, description: body.description, reporter: body.reporter, occurredAt: occurredAt,
                                  externalID: body.externalID)
        return try JSON.response(try service.reportIncident(input, by: caller), status: .created)
    }

    func gridDetail(_ request: Request, _ context: WanggeContext) throws -> Response {
        _ = try context.requireCaller()
        let code = try context.pathParameter("code")
        let grid = try service.grid(code: code)
        let counts = try service.statistics(in: AreaScope(grid: code, groupBy: .grid)).first
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
            object["geometry"] = try service.gridGeometryJSON(code: code).flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) }
        }
        return try JSON.object(object)
    }

    func households(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let code = try context.pathParameter("code")
        let q = Query(request: request)
        let limit = try q.int("limit", default: 50, range: 1...500)
        var after: String?
        if let cursor = q.string("cursor") {
            guard let data = Data(base64Encoded: cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")),
                  let id = String(data: data, encoding: .utf8), !id.isEmpty else {
                throw APIError.badParameter("cursor", tr("not a cursor from a previous page"))
            }
            after = id
        }
        let page = try service.householdPage(grid: code, tag: q.string("tag"), search: q.string("q"), limit: limit, after: after,
                                             for: caller, action: "GET \(request.uri.path)")
        let next = page.nextCursor.map {
            Data($0.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        }
        struct Page: Encodable { let grid: String, households: [HouseholdView], nextCursor: String?, masked: Bool }
        return try JSON.response(Page(grid: page.grid, households: page.households, nextCursor: next, masked: page.masked))
    }

    func gridFeatures(_ collection: Collection, _ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let q = Query(request: request)
        let limit = try q.int("limit", default: 100, range: 1...1_000)
        let offset = try q.int("offset", default: 0, range: 0...10_000_000)
        return try JSON.response(try service.gridFeatures(collection, grid: try context.pathParameter("code"), limit: limit, offset: offset,
                                                          for: caller, action: "GET \(request.uri.path)"))
    }
}
