import Foundation
import GridStore
import Hummingbird
import Logging
import ServiceLifecycle

/// The router with every route: /healthz and /openapi.json, /v1, and OGC API - Features.
public func buildRouter(service: GridService) -> Router<WanggeContext> {
    let router = Router(context: WanggeContext.self)
    router.add(middleware: AuthMiddleware(tokens: service.tokens))
    router.get("/openapi.json") { _, _ in
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw APIError(.internalServerError, "the OpenAPI document is missing from the build")
        }
        return JSON.raw(text)
    }
    APIRoutes(service: service).add(to: router)
    OGCRoutes(service: service).add(to: router)
    return router
}

/// Watches for another generation becoming active and reloads the grid index.
struct GenerationWatcher: Service {
    let service: GridService
    let logger: Logger
    let interval: Duration

    func run() async throws {
        let (service, logger, interval) = (service, logger, interval)
        // Stop with the server: graceful shutdown cancels the loop.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                do {
                    try service.refreshIfNeeded()
                } catch {
                    logger.error("reloading the grids failed: \(error)")
                }
            }
        }
    }
}

/// The server over one SpatiaLite file.
public func buildApplication(service: GridService, host: String, port: Int, logger: Logger? = nil) -> some ApplicationProtocol {
    var logger = logger ?? Logger(label: "wangge")
    if logger.logLevel > .info { logger.logLevel = .info }
    return Application(
        router: buildRouter(service: service),
        configuration: .init(address: .hostname(host, port: port), serverName: "wangge"),
        services: [GenerationWatcher(service: service, logger: logger, interval: .seconds(5))],
        logger: logger)
}
