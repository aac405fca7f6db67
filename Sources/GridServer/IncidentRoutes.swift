import Foundation
import GeoKit
import GridCore
import GridStore
import Hummingbird

/// The incident workflow over HTTP: listing, one incident with its history,
/// actions with optimistic concurrency, statistics and notifications.
struct IncidentRoutes {
    let service: GridService

    func add(to router: Router<WanggeContext>) {
        let v1 = router.group("v1")
        v1.get("incidents") { request, context in try list(request, context) }
        v1.get("incidents/{id}") { request, context in try show(request, context) }
        v1.post("incidents/{id}/actions") { request, context in try await act(request, context) }
        v1.get("stats/incidents") { request, context in try statistics(request, context) }
        v1.get("notifications") { request, context in
            let caller = try context.requireCaller()
            let q = Query(request: request)
            let limit = try q.int("limit", default: 100, range: 1...1_000)
            let grids: Set<String>?
            switch service.privacy.role(caller.role).notifications {
            case .all: grids = nil
            case .own: grids = caller.grids
            case .none:
                throw APIError(.forbidden, "notifications are for the units that handle incidents; the \(caller.role.rawValue) role reads none "
                               + "(privacy.\(caller.role.rawValue).notifications); see GET /v1/stats/incidents for counts")
            }
            return try JSON.response(try service.store.notifications(unit: q.string("unit"), limit: limit, forGrids: grids))
        }
    }

    func time(_ q: Query, _ name: String) throws -> Date? {
        guard let text = q.string(name) else { return nil }
        guard let date = GridStore.parseTime(text) else {
            throw APIError.badParameter(name, "\"\(text)\" is not a day (2026-11-01) or an ISO 8601 time")
        }
        return date
    }

    /// The incident as the caller may see it (see `GridService.visible`); counts the reads that reveal who someone is.
    func masked(_ record: IncidentRecord, for caller: Caller, unmasked: inout Int) -> IncidentRecord {
        let (shown, revealsIdentity) = service.visible(record, to: caller)
        if revealsIdentity { unmasked += 1 }
        return shown
    }

    /// GET /v1/incidents: filtered, newest first, paged by limit and offset.
    func list(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let q = Query(request: request)
        var filter = IncidentFilter()
        do {
            filter.grid = try q.string("grid").map { try service.store.areaCode(.grid, named: $0) }
            filter.village = try q.string("village").map { try service.store.areaCode(.village, named: $0) }
            filter.town = try q.string("town").map { try service.store.areaCode(.town, named: $0) }
        } catch let error as UnknownAreaError {
            throw APIError.badParameter(error.level.rawValue, error.description)
        }
        if let text = q.string("status") {
            filter.statuses = try text.split(separator: ",").map { part in
                guard let status = IncidentStatus(rawValue: String(part)) else {
                    throw APIError.badParameter("status", "\"\(part)\" is not one of \(IncidentStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return status
            }
        }
        if let text = q.string("overdue") {
            guard let flag = Bool(text) else { throw APIError.badParameter("overdue", "\"\(text)\" is not true or false") }
            filter.overdueOnly = flag
        }
        filter.since = try time(q, "since")
        filter.until = try time(q, "until")
        filter.category = q.string("category")
        filter.channel = q.string("channel")
        let limit = try q.int("limit", default: 100, range: 1...1_000)
        filter.limit = limit + 1
        filter.offset = try q.int("offset", default: 0, range: 0...Int(Int32.max))
        let found = try service.store.incidents(filter)
        var unmasked = 0
        let items = found.prefix(limit).map { masked($0, for: caller, unmasked: &unmasked) }
        if unmasked > 0 { try service.store.audit(caller, action: "GET \(request.uri.path)", grid: filter.grid, records: unmasked) }
        struct Page: Encodable { let items: [IncidentRecord], nextOffset: Int? }
        return try JSON.response(Page(items: Array(items), nextOffset: found.count > limit ? filter.offset + limit : nil))
    }

    /// GET /v1/incidents/{id}: the incident with its history; the ETag is its version.
    func show(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.parameters.require("id")
        return try shown(try incidentCall { try service.store.incident(id: id) }, to: caller, request)
    }

    struct ActionBody: Decodable {
        let action: String
        let note: String?
        let version: Int?
        let satisfaction: Int?
        let result: String?
        let lon: Double?, lat: Double?, crs: String?
        let category: String?
        let grid: String?
        let level: String?
    }

    /// Which actions a role may take. Grid workers act only on incidents of their own grids.
    static func allowed(_ action: IncidentAction, for role: Role) -> Bool {
        switch role {
        case .admin, .dispatcher: true
        case .gridWorker: [.accept, .start, .mediate, .resolve, .escalate, .return].contains(action)
        case .planner, .viewer: false
        }
    }

    /// POST /v1/incidents/{id}/actions: one lifecycle step. The version the
    /// caller saw must come as `If-Match` or `version` (428 without it);
    /// a stale one gets 409 and changes nothing.
    func act(_ request: Request, _ context: WanggeContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.parameters.require("id")
        let body = try await jsonBody(ActionBody.self, of: request, shape: "a JSON object with \"action\" and \"version\"")
        guard let action = IncidentAction(rawValue: body.action), action != .report, action != .regrid else {
            let names = IncidentAction.allCases.filter { $0 != .report && $0 != .regrid }.map(\.rawValue)
            throw APIError.badParameter("action", "\"\(body.action)\" is not one of \(names.joined(separator: ", "))")
        }
        guard Self.allowed(action, for: caller.role) else {
            throw APIError(.forbidden, "\(caller.role.rawValue) may not \(action.rawValue) incidents")
        }
        let ifMatch = request.headers[.ifMatch].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" W/")) }
        guard let version = body.version ?? ifMatch.flatMap({ Int($0) }) else {
            throw APIError(.preconditionRequired, "give the version you saw, as \"version\" or an If-Match header (the ETag of GET /v1/incidents/\(id))",
                           parameter: "version")
        }
        if caller.role == .gridWorker {
            let current = try incidentCall { try service.store.incident(id: id) }
            guard let grid = current.grid, caller.grids.contains(grid) else {
                throw APIError(.forbidden, "incident \(id) is not in your grids")
            }
        }
        var change = IncidentChange(action, actor: caller.name, note: body.note, expectedVersion: version)
        change.satisfaction = body.satisfaction
        if let result = body.result {
            guard result == "settled" || result == "failed" else { throw APIError.badParameter("result", "\"\(result)\" is not settled or failed") }
            change.settled = result == "settled"
        }
        if action == .move {
            guard let lon = body.lon, let lat = body.lat else { throw APIError.badParameter("lon", "move needs lon and lat") }
            let crs: CoordinateSystem
            do { crs = try CoordinateSystem(parsing: body.crs ?? "EPSG:4326") } catch let e as GeoError { throw APIError.badParameter("crs", e.message) }
            change.position = try toWGS84(x: lon, y: lat, crs: crs, parameter: "lon")
            change.source = (lon, lat, crs)
        }
        change.category = body.category
        change.grid = body.grid
        if let text = body.level {
            guard let level = HandlingLevel(rawValue: text) else { throw APIError.badParameter("level", "\"\(text)\" is not grid, village, town or county") }
            change.level = level
        }
        let record = try incidentCall { try service.store.apply(change, to: id, rules: service.dispatchRules, placement: service.index.placement) }
        return try shown(record, to: caller, request)
    }

    /// The incident as the caller may see it, with its version as the ETag; unmasked reads are audited.
    func shown(_ record: IncidentRecord, to caller: Caller, _ request: Request) throws -> Response {
        var unmasked = 0
        let visible = masked(record, for: caller, unmasked: &unmasked)
        if unmasked > 0 { try service.store.audit(caller, action: "\(request.method) \(request.uri.path)", grid: record.grid, records: unmasked) }
        var response = try JSON.response(visible)
        response.headers[.eTag] = "\"\(record.version)\""
        return response
    }

    /// Runs a store call, turning incident errors into problem responses.
    func incidentCall<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as IncidentError {
            switch error {
            case .notFound: throw APIError.notFound(error.description)
            case .illegal: throw APIError(.conflict, error.description, parameter: "action")
            case .conflict: throw APIError(.conflict, error.description, parameter: "version")
            case .invalid: throw APIError(.unprocessableContent, error.description)
            }
        }
    }

    /// GET /v1/stats/incidents?by=town&since=&until=
    func statistics(_ request: Request, _ context: WanggeContext) throws -> Response {
        _ = try context.requireCaller()
        let q = Query(request: request)
        let text = q.string("by") ?? "town"
        guard let grouping = IncidentGrouping(rawValue: text) else {
            throw APIError.badParameter("by", "\"\(text)\" is not one of \(IncidentGrouping.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return try JSON.response(try service.store.incidentStatistics(by: grouping, since: try time(q, "since"), until: try time(q, "until")))
    }
}
