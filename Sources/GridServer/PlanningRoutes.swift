import GridApplication
import Foundation
import GeoKit
import GridCore
import GridStore
import Hummingbird
import Localization

/// Boundary planning over HTTP, for the planner and admin roles: what
/// `wangge plan …` does, draft by draft.
struct PlanningRoutes {
    let service: GridService

    struct NewDraftBody: Decodable { let from: String?, name: String }
    struct SuggestBody: Decodable { let maxHouseholds: Int, from: String?, name: String?
        enum CodingKeys: String, CodingKey { case maxHouseholds = "max_households", from, name }
    }
    /// One edit: `op` and the fields it needs. Shapes are WKT or GeoJSON text, never a path.
    struct EditBody: Decodable {
        let op: String
        let grid: String?, grids: [String]?
        let line: String?, polygon: String?, crs: String?
        let village: String?
        let name: String?, phone: String?
    }

    func add(to router: Router<WanggeContext>) {
        let v1 = router.group("v1")
        v1.get("plans") { _, context in
            try requirePlanner(context)
            return try JSON.response(try service.generations())
        }
        v1.post("plans") { request, context in
            try requirePlanner(context)
            let body = try await jsonBody(NewDraftBody.self, of: request, shape: "{\"name\", \"from\"?: \"active\" or a generation id}")
            let source = try service.sourceGeneration(body.from ?? "active")
            return try JSON.response(try service.createDraft(from: source, name: body.name), status: .created)
        }
        v1.post("plans/suggestions") { request, context in
            try requirePlanner(context)
            let body = try await jsonBody(SuggestBody.self, of: request, shape: "{\"max_households\", \"from\"?, \"name\"?}")
            let result = try service.suggest(from: try service.sourceGeneration(body.from ?? "active"), maxHouseholds: body.maxHouseholds, name: body.name)
            return try JSON.response(SuggestionOutcome(draft: result.draft,
                                                       overloaded: result.overloaded.map { .init(code: $0.code, households: $0.households) },
                                                       edits: PlanEditOutcome(result.report)), status: .created)
        }
        v1.post("plans/rollback") { _, context in
            try requirePlanner(context)
            return try JSON.response(ActivationOutcome(try service.rollback()))
        }
        v1.get("plans/{id}") { _, context in
            try requirePlanner(context)
            return try JSON.response(try service.generation(try generationID(context)))
        }
        v1.delete("plans/{id}") { _, context in
            try requirePlanner(context)
            try service.deleteDraft(try generationID(context))
            return Response(status: .noContent)
        }
        v1.get("plans/{id}/problems") { _, context in
            try requirePlanner(context)
            return try JSON.response(try service.validate(try generationID(context)))
        }
        v1.get("plans/{id}/impact") { _, context in
            try requirePlanner(context)
            return try JSON.response(PlanImpactSummary(try service.impact(of: try generationID(context))))
        }
        v1.post("plans/{id}/edits") { request, context in
            try requirePlanner(context)
            let draft = try generationID(context)
            let body = try await jsonBody(EditBody.self, of: request,
                                          shape: "{\"op\": split|merge|reshape|move|worker, \"grid\", \"grids\", \"line\", \"polygon\", \"crs\", \"village\", \"name\", \"phone\"}")
            return try JSON.response(PlanEditOutcome(try service.edit(draft: draft, try edit(body))))
        }
        v1.post("plans/{id}/activate") { _, context in
            try requirePlanner(context)
            return try JSON.response(ActivationOutcome(try service.activate(try generationID(context))))
        }
    }

    func requirePlanner(_ context: WanggeContext) throws {
        let caller = try context.requireCaller()
        guard [.admin, .planner].contains(caller.role) else {
            throw APIError(.forbidden, tr("planning is for the planner and admin roles; you are \(caller.role.rawValue)"))
        }
    }

    func generationID(_ context: WanggeContext) throws -> Int64 {
        let text = try context.pathParameter("id")
        guard let id = Int64(text) else { throw APIError.notFound(tr("no generation \(TextLimits.shown(text))")) }
        return id
    }

    /// The edit a body asks for, each field named when it is missing.
    func edit(_ body: EditBody) throws -> PlanEditRequest {
        func required<T>(_ value: T?, _ name: String) throws -> T {
            guard let value else { throw APIError(.unprocessableContent, tr("\(name): \(body.op) needs it"), parameter: name) }
            return value
        }
        func shape(_ text: String?, _ name: String) throws -> [UInt8] {
            try ShapeInput.wkb(text: try required(text, name), source: name, crs: try bodyCRS(body.crs))
        }
        switch body.op {
        case "split": return .split(grid: try required(body.grid, "grid"), line: try shape(body.line, "line"))
        case "merge": return .merge(grids: try required(body.grids, "grids"))
        case "reshape": return .reshape(grid: try required(body.grid, "grid"), polygon: try shape(body.polygon, "polygon"))
        case "move": return .move(grid: try required(body.grid, "grid"), village: try required(body.village, "village"))
        case "worker": return .worker(grid: try required(body.grid, "grid"), name: body.name, phone: body.phone)
        default:
            throw APIError(.unprocessableContent, tr("op: \"\(TextLimits.shown(body.op))\" is not split, merge, reshape, move or worker"), parameter: "op")
        }
    }
}
