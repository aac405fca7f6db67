import GridApplication
import ArgumentParser
import Foundation
import GridServer
import GridStore
import Localization
import Logging
import Synchronization

extension Wangge {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "serve",
            abstract: tr("Serve the query API, OGC API - Features and the web map over the database, SpatiaLite or PostGIS (Hummingbird).").rendered)

        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp(tr("Address to listen on.").rendered)) var host = "127.0.0.1"
        @Option(help: ArgumentHelp(tr("Port to listen on.").rendered)) var port = 8080
        @Option(name: .customLong("read-db"),
                help: ArgumentHelp(tr("A hot standby of the PostgreSQL database for reads (default: `read_database` in the config file); writes, and reads that must see this server's own writes, go to --db.").rendered))
        var readDb: String?

        func run() async throws {
            let service = try store.openService(readDatabase: readDb, serving: true)
            ProcessLanguage.current = WanggeConfig.outputLanguage(configured: service.config.language)
            // Load the active generation now: a database without grids fails here, not on the first request.
            _ = try service.active()
            var logger = Logger(label: "wangge")
            logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            if let version = service.storedConfigurationVersion {
                logger.info("following the configuration stored in the database (version \(version)) instead of the file's")
            }
            let app = buildApplication(service: service, host: host, port: port, settings: service.config.server, logger: logger,
                                       extraServices: [configWatcher(service: service, logger: logger)].compactMap { $0 })
            try await app.runService()
        }

        /// Reloads the dispatch rules and the privacy policy when the configuration
        /// file changes: a new department, time limit or field rule applies
        /// without a restart. A broken file is logged and the rules in force are kept.
        /// While the database stores a configuration, that one stays in force (the file's is kept for when it is cleared).
        func configWatcher(service: GridService, logger: Logger) -> PeriodicTask? {
            guard let path = WanggeConfig.resolvedPath(explicitPath: store.config) else { return nil }
            @Sendable func modified() -> Date? { try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date }
            final class LastSeen: Sendable { let date: Mutex<Date?>; init(_ d: Date?) { date = Mutex(d) } }
            let seen = LastSeen(modified())
            // A stat a second: a changed rule applies within a second, on every server that reads this file.
            return PeriodicTask(name: "reloading \(path)", interval: .seconds(1), logger: logger, immediately: false) {
                let now = modified()
                guard seen.date.withLock({ previous in
                    defer { previous = now }
                    return previous != now
                }) else { return }
                var config = try WanggeConfig.load(explicitPath: path)
                // The database stays the one the server opened.
                config.database = service.config.database
                config.readDatabase = service.config.readDatabase
                service.config = config
                if let version = service.storedConfigurationVersion {
                    logger.info("\(path) changed; the configuration stored in the database (version \(version)) stays in force")
                } else {
                    logger.info("reloaded the dispatch rules and the privacy policy from \(path)")
                }
            }
        }
    }

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "token",
            abstract: tr("Create, list and revoke API tokens.").rendered, subcommands: [Create.self, List.self, Revoke.self])

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "create", abstract: tr("Create a token; it is printed once and stored only as a hash.").rendered)
            @OptionGroup var store: StoreOptions
            @Option(help: ArgumentHelp(tr("admin, planner, dispatcher, grid_worker or viewer.").rendered)) var role: String
            @Option(help: ArgumentHelp(tr("For grid_worker: the grids served, comma-separated (carried over to their successors at every redraw).").rendered)) var grids: String?
            @Option(help: ArgumentHelp(tr("For grid_worker: villages served, comma-separated: all their grids in whatever generation is active.").rendered)) var villages: String?
            @Option(help: ArgumentHelp(tr("For grid_worker: towns served, comma-separated: all their grids in whatever generation is active.").rendered)) var towns: String?
            @Option(help: ArgumentHelp(tr("When the token stops working: 90d, 12h, a day (2026-12-31, valid through it, China time) or an ISO 8601 time.").rendered))
            var expires: String?
            @Option(help: ArgumentHelp(tr("Who the token is for (shown in the audit log).").rendered)) var name: String?

            func validate() throws {
                guard Role(rawValue: role) != nil else {
                    throw ValidationError(tr("unknown role '\(role)': use \(Role.allCases.map(\.rawValue).joined(separator: ", "))").rendered)
                }
            }

            static func codes(_ text: String?) -> [String] {
                (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }

            func run() throws {
                let created = try store.openService(creating: true).createToken(
                    TokenRequest(role: role, name: name, grids: Self.codes(grids), villages: Self.codes(villages), towns: Self.codes(towns), expires: expires))
                let details = [Role.text(of: created.role), created.scope.text.rendered].filter { !$0.isEmpty }.map(Localized.verbatim)
                    + (created.expires.map { [tr("expires \(localTime($0))")] } ?? [])
                printError(tr("token \(created.id) for \(created.name) (\(Localized.list(details))); keep it: it is not stored").rendered)
                print(created.token)
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: tr("List tokens (never their values): role, scope, expiry and status.").rendered)
            /// A token's status as the reader reads it.
            static func status(_ status: String) -> Localized {
                switch status {
                case "active": tr("active")
                case "expired": tr("expired")
                case "revoked": tr("revoked")
                default: .verbatim(status)
                }
            }
            @OptionGroup var store: StoreOptions
            func run() throws {
                print(table([tr("id"), tr("name"), tr("role"), tr("scope"), tr("created"), tr("expires"), tr("status")], try store.openService().tokenList().map {
                    [String($0.id), $0.name, Role.text(of: $0.role), $0.scope.text.rendered, localTime($0.created), $0.expires.map(localTime) ?? tr("never").rendered,
                     Self.status($0.status).rendered + ($0.revoked.map { " " + localTime($0) } ?? "")]
                }))
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "revoke", abstract: tr("Revoke a token by id.").rendered)
            @OptionGroup var store: StoreOptions
            @Argument(help: ArgumentHelp(tr("The token's id (see `wangge token list`).").rendered)) var id: Int64
            func run() throws {
                try store.openService().revokeToken(id: id)
                print(tr("token \(id) revoked (servers stop accepting it within 5 s)").rendered)
            }
        }
    }
}
