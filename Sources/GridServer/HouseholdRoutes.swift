import Foundation
import GeoKit
import GridApplication
import GridCore
import GridStore
import Hummingbird
import Localization

/// Household upkeep by grid workers (入户走访) over HTTP: one household, its
/// history, and adding, editing, moving and removing it with optimistic versions.
struct HouseholdRoutes {
    let service: GridService

    func add(to router: Router<WanggeContext>) {
        let v1 = router.group("v1")
        v1.post("households") { request, context in try await create(request, context, id: nil) }
        v1.get("households") { request, context in
            let caller = try context.requireCaller()
            let q = Query(request: request)
            guard let search = q.string("q")?.trimmingCharacters(in: .whitespaces), search.count >= 2 else {
                throw APIError.badParameter("q", tr("give at least 2 characters of an address or a name"))
            }
            let limit = try q.int("limit", default: 20, range: 1...100)
            return try JSON.response(HouseholdSearch(households: try service.searchHouseholds(search, limit: limit, for: caller,
                                                                                              action: "GET \(request.uri.path)")))
        }
        v1.get("households/{id}") { request, context in
            let caller = try context.requireCaller()
            return try withETag(try service.household(id: try context.pathParameter("id"), for: caller, action: "GET \(request.uri.path)"))
        }
        v1.post("households/{id}") { request, context in try await create(request, context, id: try context.pathParameter("id")) }
        v1.patch("households/{id}") { request, context in try await change(request, context) }
        v1.delete("households/{id}") { request, context in try remove(request, context) }
        v1.get("households/{id}/history") { request, context in
            let caller = try context.requireCaller()
            return try JSON.response(try service.householdHistory(id: try context.pathParameter("id"), for: caller,
                                                                  action: "GET \(request.uri.path)"))
        }
    }

    struct HouseholdSearch: Encodable {
        let households: [HouseholdView]
    }

    /// A value of a household body: JSON's kinds, told apart (a boolean is no number here).
    enum BodyValue: Decodable {
        case null, bool(Bool), number(Double), string(String), strings([String]), other

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let n = try? c.decode(Double.self) { self = .number(n) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else if let list = try? c.decode([String].self) { self = .strings(list) }
            else { self = .other }
        }
    }

    /// The household's fields and place from a body; anything else (grid_code, a version to set) is refused by name.
    func input(_ body: [String: BodyValue], allowing extra: Set<String>) throws -> HouseholdInput {
        var input = HouseholdInput()
        for (key, value) in body.sorted(by: { $0.key < $1.key }) {
            if let field = HouseholdField(rawValue: key) {
                input.fields[field] = try text(of: value, for: field)
                continue
            }
            switch key {
            case "lon", "lat":
                guard case .number(let n) = value else { throw APIError.badParameter(key, tr("must be a number")) }
                if key == "lon" { input.x = n } else { input.y = n }
            case "crs":
                guard case .string(let s) = value else { throw APIError.badParameter(key, tr("must be a string such as \"EPSG:4326\"")) }
                input.crs = try bodyCRS(s)
            case "version" where extra.contains(key):
                guard case .number(let n) = value, n.rounded() == n, n >= 1, n <= Double(Int32.max) else {
                    throw APIError.badParameter(key, tr("must be the version you read (a whole number from 1)"))
                }
                input.version = Int(n)
            case "id" where extra.contains(key):
                continue
            case "grid", "grid_code", "method":
                throw APIError(.unprocessableContent, tr("\(key): the grid is not set by hand: it follows from lon and lat"), parameter: key)
            default:
                let settable = HouseholdField.allCases.map(\.rawValue) + ["lon", "lat", "crs"] + extra.sorted()
                throw APIError(.unprocessableContent, tr("\(key): not a field you can send here (\(settable.joined(separator: ", ")))"), parameter: key)
            }
        }
        return input
    }

    private func text(of value: BodyValue, for field: HouseholdField) throws -> String? {
        switch (field, value) {
        case (_, .null): return nil
        case (.members, .number(let n)):
            guard n.rounded() == n, abs(n) < 1e9 else { throw APIError.badParameter(field.rawValue, tr("must be a whole number")) }
            return String(Int(n))
        case (.members, _): throw APIError.badParameter(field.rawValue, tr("must be a whole number"))
        case (.tags, .strings(let list)):
            do { return try HouseholdFieldCheck.tags(list) } catch let error as WanggeError { throw APIError(.badRequest, error.text, parameter: "tags") }
        case (.tags, _): throw APIError.badParameter(field.rawValue, tr("must be a list of strings, e.g. [\"独居老人\"]"))
        case (_, .string(let s)): return s
        default: throw APIError.badParameter(field.rawValue, tr("must be a string or null"))
        }
    }

    func body(_ request: Request) async throws -> [String: BodyValue] {
        try await jsonBody([String: BodyValue].self, of: request,
                           shape: "a JSON object of household fields (address, head, phone, id_number, members, tags, lon, lat, crs)")
    }

    /// POST /v1/households/{id}, or POST /v1/households with the id in the body: 201 with the household.
    func create(_ request: Request, _ context: WanggeContext, id: String?) async throws -> Response {
        let caller = try context.requireCaller()
        guard GridService.mayKeepHouseholds(caller) else {
            throw APIError(.forbidden, tr("adding households is for grid workers (in their grids) and admins; you are \(caller.role.rawValue)"))
        }
        let body = try await body(request)
        var householdID = id
        if id == nil {
            guard case .string(let given)? = body["id"] else { throw APIError.badParameter("id", tr("missing: give the household's id as a string")) }
            householdID = given
        }
        let input = try input(body, allowing: id == nil ? ["id"] : [])
        guard input.x != nil || input.y != nil else { throw APIError.badParameter("lon", tr("a new household needs its place: lon and lat")) }
        let view = try service.addHousehold(id: householdID!, input, by: caller, action: "\(request.method) \(request.uri.path)")
        var response = try withETag(view)
        response.status = .created
        return response
    }

    /// The version the caller saw: `version` in the body, else If-Match (428 without either).
    func expectedVersion(_ request: Request, given: Int?, id: String) throws -> Int {
        let ifMatch = request.headers[.ifMatch].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" W/")) }
        if let ifMatch, Int(ifMatch) == nil { throw APIError(.badRequest, tr("If-Match: \"\(ifMatch)\" is not a version (the ETag of GET /v1/households/\(id))")) }
        guard let version = given ?? ifMatch.flatMap({ Int($0) }) else {
            throw APIError(.preconditionRequired, tr("give the version you saw, as \"version\" or an If-Match header (the ETag of GET /v1/households/\(id))"),
                           parameter: "version")
        }
        return version
    }

    /// PATCH /v1/households/{id}: fields to set (null clears), lon and lat to move it.
    func change(_ request: Request, _ context: WanggeContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.pathParameter("id")
        guard GridService.mayKeepHouseholds(caller) else {
            throw APIError(.forbidden, tr("changing households is for grid workers (in their grids) and admins; you are \(caller.role.rawValue)"))
        }
        var input = try input(try await body(request), allowing: ["version"])
        input.version = try expectedVersion(request, given: input.version, id: id)
        return try withETag(try service.changeHousehold(id: id, input, by: caller, action: "\(request.method) \(request.uri.path)"))
    }

    /// DELETE /v1/households/{id}: the version as If-Match or ?version=; 204.
    func remove(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let id = try context.pathParameter("id")
        guard GridService.mayKeepHouseholds(caller) else {
            throw APIError(.forbidden, tr("removing households is for grid workers (in their grids) and admins; you are \(caller.role.rawValue)"))
        }
        let given = try Query(request: request).string("version").map { text in
            guard let n = Int(text), n >= 1 else { throw APIError.badParameter("version", tr("\"\(text)\" is not a version")) }
            return n
        }
        let version = try expectedVersion(request, given: given, id: id)
        try service.removeHousehold(id: id, version: version, by: caller, action: "\(request.method) \(request.uri.path)")
        return Response(status: .noContent)
    }

    func withETag(_ view: HouseholdView) throws -> Response {
        var response = try JSON.response(view)
        if let version = view.version { response.headers[.eTag] = "\"\(version)\"" }
        return response
    }
}
