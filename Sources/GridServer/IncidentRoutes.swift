import Foundation
import GeoKit
import GridCore
import GridApplication
import GridStore
import Hummingbird
import Localization

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
            return try JSON.response(try service.notifications(unit: q.string("unit"), limit: limit, for: caller))
        }
    }

    func time(_ q: Query, _ name: String) throws -> Date? {
        guard let text = q.string(name) else { return nil }
        guard let date = GridStore.parseTime(text) else {
            throw APIError.badParameter(name, tr("\"\(text)\" is not a day (2026-11-01) or an ISO 8601 time"))
        }
        return date
    }

    /// GET /v1/incidents: filtered, newest first, paged by limit and offset.
    func list(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let q = Query(request: request)
        var query = IncidentFilter()
        query.grid = q.string("grid")
        query.village = q.string("village")
        query.town = q.string("town")
        if let text = q.string("status") {
            query.statuses = try text.split(separator: ",").map { part in
                guard let status = IncidentStatus(rawValue: String(part)) else {
                    throw APIError.badParameter("status", tr("\"\(part)\" is not one of \(IncidentStatus.allCases.map(\.rawValue).joined(separator: ", "))"))
                }
                return status
            }
        }
        query.overdueOnly = try q.bool("overdue") ?? false
        query.since = try time(q, "since")
        query.until = try time(q, "until")
        query.category = q.string("category")
        query.channel = q.string("channel")
        query.limit = try q.int("limit", default: 100, range: 1...1_000)
        query.offset = try q.int("offset", default: 0, range: 0...Int(Int32.max))
        return try JSON.response(try service.incidents(query, for: caller, action: "GET \(request.uri.path)"))
    }

    /// GET /v1/incidents/{id}: the incident with its history; the ETag is its version.
    func show(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.pathParameter("id")
        return try withETag(try service.incident(id: id, for: caller, action: "GET \(request.uri.path)"))
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

    /// POST /v1/incidents/{id}/actions: one lifecycle step. The version the
    /// caller saw must come as `If-Match` or `version` (428 without it);
    /// a stale one gets 409 and changes nothing.
    func act(_ request: Request, _ context: WanggeContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.pathParameter("id")
        let body = try await jsonBody(ActionBody.self, of: request, shape: "a JSON object with \"action\" and \"version\"")
        guard let action = IncidentAction(rawValue: body.action), action != .report, action != .regrid else {
            let names = IncidentAction.allCases.filter { $0 != .report && $0 != .regrid }.map(\.rawValue)
            throw APIError.badParameter("action", tr("\"\(body.action)\" is not one of \(names.joined(separator: ", "))"))
        }
        guard GridService.mayTake(action, caller.role) else {
            throw APIError(.forbidden, tr("\(caller.role.rawValue) may not \(action.rawValue) incidents"))
        }
        let ifMatch = request.headers[.ifMatch].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" W/")) }
        guard let version = body.version ?? ifMatch.flatMap({ Int($0) }) else {
            throw APIError(.preconditionRequired, tr("give the version you saw, as \"version\" or an If-Match header (the ETag of GET /v1/incidents/\(id))"),
                           parameter: "version")
        }
        var change = IncidentChange(action, actor: caller.name, note: body.note, expectedVersion: version)
        change.satisfaction = body.satisfaction
        if let result = body.result {
            guard result == "settled" || result == "failed" else { throw APIError.badParameter("result", tr("\"\(result)\" is not settled or failed")) }
            change.settled = result == "settled"
        }
        if action == .move {
            guard let lon = body.lon, let lat = body.lat else { throw APIError.badParameter("lon", tr("move needs lon and lat")) }
            let crs = try bodyCRS(body.crs)
            change.position = try GridService.wgs84(x: lon, y: lat, crs: crs)
            change.source = (lon, lat, crs)
        }
        change.category = body.category
        change.grid = body.grid
        if let text = body.level {
            guard let level = HandlingLevel(rawValue: text) else { throw APIError.badParameter("level", tr("\"\(text)\" is not grid, village, town or county")) }
            change.level = level
        }
        return try withETag(try service.act(on: id, change, by: caller, action: "\(request.method) \(request.uri.path)"))
    }

    /// The incident with its version as the ETag.
    func withETag(_ record: IncidentRecord) throws -> Response {
        var response = try JSON.response(record)
        response.headers[.eTag] = "\"\(record.version)\""
        return response
    }

    /// GET /v1/stats/incidents?by=town&since=&until=; by=month also takes town, village and category.
    func statistics(_ request: Request, _ context: WanggeContext) throws -> Response {
        _ = try context.requireCaller()
        let q = Query(request: request)
        let text = q.string("by") ?? "town"
        guard let grouping = IncidentGrouping(rawValue: text) else {
            throw APIError.badParameter("by", tr("\"\(text)\" is not one of \(IncidentGrouping.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        if grouping == .month {
            return try JSON.response(try service.monthlyIncidentStatistics(town: q.string("town"), village: q.string("village"),
                                                                           category: q.string("category"), since: try time(q, "since"),
                                                                           until: try time(q, "until")))
        }
        for name in ["town", "village", "category"] where q.string(name) != nil {
            throw APIError.badParameter(name, tr("filters only the trend: use it with by=month"))
        }
        return try JSON.response(try service.incidentStatistics(by: grouping, since: try time(q, "since"), until: try time(q, "until")))
    }
}
