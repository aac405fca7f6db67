import GridApplication
import Foundation
import GridStore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
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

/// Listens, on a blocking-work thread, for what other servers on the same database change
/// (PostgreSQL's NOTIFY), and applies it at once: an activation, a revoked token or a stored
/// configuration reaches every server within a second, not at the next 5-second check.
struct ChangeListener: Service {
    let service: GridService
    let feed: any ChangeFeed
    let logger: Logger

    func run() async throws {
        let (service, feed, logger) = (service, feed, logger)
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do {
                    try await withTaskExecutorPreference(BlockingWorkExecutor.shared) {
                        logConfigurationReload(try service.apply(try feed.waitForChanges(timeout: 0.5)), logger: logger)
                    }
                    if failing { logger.info("listening for other servers' changes again") }
                    failing = false
                } catch {
                    if !failing { logger.error("listening for other servers' changes failed: \(error)") }
                    failing = true
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}

/// The event loops of every server in the process: one a core, less one.
/// The core left over runs the blocking work (database reads, imports, the
/// periodic jobs) without taking turns with a loop: with a loop on every
/// core, a request waited out a scheduler time slice now and then. On
/// 2 cores, wrk at 16 connections: p99 2.9-3.7 ms with two loops,
/// 0.65-0.84 ms with one, at 49-55k instead of 60-63k requests/s
/// (scripts/bench-server.sh, alternated; README).
let serverEventLoops = MultiThreadedEventLoopGroup(numberOfThreads: max(1, System.coreCount - 1))

/// The server over one SpatiaLite file. Its periodic work starts once the
/// port is bound: a server that cannot start writes nothing.
public func buildApplication(service: GridService, host: String, port: Int, settings: ServerSettings = ServerSettings(),
                             logger: Logger? = nil, extraServices: [any Service] = []) -> some ApplicationProtocol {
    // The active generation loaded before the first request, not by it.
    _ = try? service.active()
    var logger = logger ?? Logger(label: "wangge")
    if logger.logLevel > .info { logger.logLevel = .info }
    let started = ServerStarted()
    let serverName = "wangge"
    return Application(
        router: buildRouter(service: service, baseURL: settings.baseURL(host: host, port: port), exportDirectory: settings.exportDirectory),
        server: guardedHTTP1(settings, service: service, serverName: serverName),
        configuration: .init(address: .hostname(host, port: port), serverName: serverName,
                             availableConnectionsDelegate: MaximumAvailableConnections(settings.connectionLimit, logger: logger)),
        services: services(service: service, logger: logger, after: started) + extraServices,
        onServerRunning: { _ in started.open() },
        eventLoopGroupProvider: .shared(serverEventLoops),
        logger: logger)
}

/// Logs what a look at the database's stored configuration changed (nothing when nothing did).
public func logConfigurationReload(_ reload: ConfigurationReload, logger: Logger) {
    switch reload {
    case .unchanged: break
    case .applied(let version): logger.info("applied the configuration stored in the database (version \(version)): it overrides the file's")
    case .cleared(let version): logger.info("the configuration stored in the database was cleared (version \(version)): the file's rules apply again")
    case .refused(let version, let reason): logger.error("kept the rules in force: the configuration stored in the database (version \(version)) does not load: \(reason)")
    }
}

func services(service: GridService, logger: Logger, after started: ServerStarted) -> [any Service] {
    var services: [any Service] = [
        // SpatiaLite's processes learn of an activation or a stored configuration here (PostGIS's at once, by NOTIFY:
        // this is their fallback). The stored configuration's check is a one-row read.
        PeriodicTask(name: "reloading the grids and the stored configuration", interval: .seconds(5), logger: logger, immediately: false, after: started) {
            try service.refreshIfNeeded()
            logConfigurationReload(try service.reloadStoredConfiguration(), logger: logger)
        },
    ]
    if let feed = service.store as? any ChangeFeed {
        services.append(ChangeListener(service: service, feed: feed, logger: logger))
    }
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
