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
    IncidentRoutes(service: service).add(to: router)
    return router
}

/// Work the server repeats at an interval until graceful shutdown cancels
/// it: reloading the grids when another generation becomes active, and
/// escalating overdue incidents ("最多跑一地": nothing waits forever).
public struct PeriodicTask: Service {
    let name: String
    let interval: Duration
    let logger: Logger
    let immediately: Bool
    let work: @Sendable () throws -> Void

    public init(name: String, interval: Duration, logger: Logger, immediately: Bool, work: @escaping @Sendable () throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.immediately = immediately
        self.work = work
    }

    public func run() async throws {
        let (name, interval, logger, immediately, work) = (name, interval, logger, immediately, work)
        // Stop with the server: graceful shutdown cancels the loop.
        await cancelWhenGracefulShutdown {
            var first = true
            while !Task.isCancelled {
                if !(first && immediately) { try? await Task.sleep(for: interval) }
                first = false
                do {
                    try work()
                } catch {
                    logger.error("\(name) failed: \(error)")
                }
            }
        }
    }
}

/// The server over one SpatiaLite file.
public func buildApplication(service: GridService, host: String, port: Int, logger: Logger? = nil,
                             extraServices: [any Service] = []) -> some ApplicationProtocol {
    var logger = logger ?? Logger(label: "wangge")
    if logger.logLevel > .info { logger.logLevel = .info }
    return Application(
        router: buildRouter(service: service),
        configuration: .init(address: .hostname(host, port: port), serverName: "wangge"),
        services: services(service: service, logger: logger) + extraServices,
        logger: logger)
}

func services(service: GridService, logger: Logger) -> [any Service] {
    var services: [any Service] = [
        PeriodicTask(name: "reloading the grids", interval: .seconds(5), logger: logger, immediately: false) {
            try service.refreshIfNeeded()
        },
    ]
    let seconds = service.dispatchRules.escalationScanSeconds
    if seconds > 0 {
        services.append(PeriodicTask(name: "escalating overdue incidents", interval: .milliseconds(Int64(seconds * 1000)),
                                     logger: logger, immediately: true) {
            let touched = try service.store.escalateOverdue(at: Date(), rules: service.dispatchRules)
            if !touched.isEmpty { logger.info("escalated \(touched.count) overdue incident(s)") }
        })
    }
    return services
}
