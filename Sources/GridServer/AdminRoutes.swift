import GridApplication
import Foundation
import GridCore
import GridStore
import Hummingbird
import Localization

/// Tokens over HTTP, for the admin role: what `wangge token create/list/revoke` does.
struct AdminRoutes {
    let service: GridService

    func add(to router: Router<WanggeContext>) {
        let v1 = router.group("v1")
        v1.get("tokens") { _, context in
            try requireAdmin(context)
            return try JSON.response(try service.tokenList())
        }
        v1.post("tokens") { request, context in
            try requireAdmin(context)
            let body = try await jsonBody(TokenRequest.self, of: request,
                                          shape: "{\"role\", \"name\"?, \"grids\"?, \"villages\"?, \"towns\"?, \"expires\"?}")
            return try JSON.response(try service.createToken(body), status: .created)
        }
        v1.delete("tokens/{id}") { _, context in
            try requireAdmin(context)
            let text = try context.pathParameter("id")
            guard let id = Int64(text) else { throw APIError.notFound(tr("no token \(TextLimits.shown(text))")) }
            try service.revokeToken(id: id)
            return Response(status: .noContent)
        }
    }

    func requireAdmin(_ context: WanggeContext) throws {
        let caller = try context.requireCaller()
        guard caller.role == .admin else { throw APIError(.forbidden, tr("tokens are for the admin role; you are \(caller.role.rawValue)")) }
    }
}
