import GridApplication
import Foundation
import GridStore
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import Localization

/// The router with every route: /healthz and /openapi.json, /v1, OGC API - Features and OGC API - Tiles.
/// `baseURL` (scheme, host and port) begins every OGC link; exports are written under `exportDirectory` (nil: the system's temporary directory).
public func buildRouter(service: GridService, baseURL: String, exportDirectory: String? = nil) -> Router<WanggeContext> {
    let router = Router(context: WanggeContext.self)
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: AuthMiddleware(tokens: service.tokens))
    router.add(middleware: BlockingWorkMiddleware(service: service))
    router.get("/openapi.json") { _, _ in
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw APIError(.internalServerError, tr("the OpenAPI document is missing from the build"))
        }
        return JSON.raw(text)
    }
    APIRoutes(service: service).add(to: router)
    OGCRoutes(service: service, baseURL: baseURL).add(to: router)
    TileRoutes(service: service, baseURL: baseURL).add(to: router)
    IncidentRoutes(service: service).add(to: router)
    HouseholdRoutes(service: service).add(to: router)
    AdminRoutes(service: service).add(to: router)
    PlanningRoutes(service: service).add(to: router)
    ExportRoutes(service: service, directory: exportDirectory).add(to: router)
    WebMapRoutes(service: service).add(to: router)
    return router
}

/// Work the server repeats at an interval until graceful shutdown cancels
/// it: reloading the grids when another generation becomes active, and
/// escalating overdue incidents ("最多跑一地": nothing waits forever).
/// With `after`, it starts only once the server listens.
public struct PeriodicTask: Service {
    let name: String
    let interval: Duration
    let logger: Logger
    let immediately: Bool
    let started: ServerStarted?
    let work: @Sendable () throws -> Void

    public init(name: String, interval: Duration, logger: Logger, immediately: Bool, after started: ServerStarted? = nil,
                work: @escaping @Sendable () throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.immediately = immediately
        self.started = started
        self.work = work
    }

    public func run() async throws {
        let (name, interval, logger, immediately, started, work) = (name, interval, logger, immediately, started, work)
        // Stop with the server: graceful shutdown cancels the loop.
        await cancelWhenGracefulShutdown {
            await started?.wait()
            var first = true
            while !Task.isCancelled {
                if !(first && immediately) { try? await Task.sleep(for: interval) }
                first = false
                guard !Task.isCancelled else { break }
                do {
                    // Database work blocks: not on a cooperative thread.
                    try await withTaskExecutorPreference(BlockingWorkExecutor.shared) { try work() }
                } catch {
                    logger.error("\(name) failed: \(error)")
                }
            }
        }
    }
}

/// The server over one SpatiaLite file. Its periodic work starts once the
/// port is bound: a server that cannot start writes nothing.
public func buildApplication(service: GridService, host: String, port: Int, settings: ServerSettings = ServerSettings(),
                             logger: Logger? = nil, extraServices: [any Service] = []) -> some ApplicationProtocol {
    // The active generation loaded before the first request, not by it.
    _ = try? service.active()
    var logger = logger ?? Logger(label: "wangge")
    if logger.logLevel > .info { logger.logLevel = .info }
    let started = ServerStarted()
    return Application(
        router: buildRouter(service: service, baseURL: settings.baseURL(host: host, port: port), exportDirectory: settings.exportDirectory),
        server: guardedHTTP1(settings),
        configuration: .init(address: .hostname(host, port: port), serverName: "wangge",
                             availableConnectionsDelegate: MaximumAvailableConnections(settings.connectionLimit, logger: logger)),
        services: services(service: service, logger: logger, after: started) + extraServices,
        onServerRunning: { _ in started.open() },
        logger: logger)
}

func services(service: GridService, logger: Logger, after started: ServerStarted) -> [any Service] {
    var services: [any Service] = [
        PeriodicTask(name: "reloading the grids", interval: .seconds(5), logger: logger, immediately: false, after: started) {
            try service.refreshIfNeeded()
        },
    ]
    let seconds = service.dispatchRules.escalationScanSeconds
    if seconds > 0 {
        services.append(PeriodicTask(name: "escalating overdue incidents", interval: .milliseconds(Int64(seconds * 1000)),
                                     logger: logger, immediately: true, after: started) {
            let touched = try service.escalateOverdue()
            if !touched.isEmpty { logger.info("escalated \(touched.count) overdue incident(s)") }
        })
    }
    return services
}
