import Foundation
import GridCore
import GridStore
import Localization

/// What a look at the database's stored configuration did to the rules in force.
public enum ConfigurationReload: Sendable, Equatable {
    /// Nothing new stored since the last look.
    case unchanged
    /// This version's configuration is now in force.
    case applied(version: Int64)
    /// This version cleared the stored configuration: the file's rules are in force again.
    case cleared(version: Int64)
    /// This version does not parse (a newer format, say): the rules in force are kept.
    case refused(version: Int64, reason: String)
}

/// The configuration file's rules and the database's stored configuration, which
/// overrides them while there is one. The database stays the one the process opened:
/// `database` and `read_database` always come from the file.
final class RulesInForce: @unchecked Sendable {
    private let lock = NSLock()
    private var fileConfig: WanggeConfig
    private var stored: (version: Int64, config: WanggeConfig)?
    /// The latest version looked at, applied or refused: a refused one is not parsed (nor logged) again.
    private var seen: Int64 = 0

    init(file: WanggeConfig) { fileConfig = file }

    var file: WanggeConfig {
        get { lock.withLock { fileConfig } }
        set { lock.withLock { fileConfig = newValue } }
    }

    var config: WanggeConfig {
        lock.withLock {
            guard var config = stored?.config else { return fileConfig }
            config.database = fileConfig.database
            config.readDatabase = fileConfig.readDatabase
            return config
        }
    }

    /// The stored configuration's version in force; nil while the file's rules are.
    var storedVersion: Int64? { lock.withLock { stored?.version } }

    /// Puts `latest` in force unless it is no newer than what was seen (a concurrent look got further).
    func take(_ latest: StoredConfiguration?) -> ConfigurationReload {
        let version = latest?.version ?? 0
        guard lock.withLock({ version > seen }) else { return .unchanged }
        var parsed: Result<WanggeConfig, any Error>?
        if let text = latest?.text {
            let source = tr("the configuration stored in the database (version \(version))").rendered
            parsed = Result { try WanggeConfig.decode(yaml: text, source: source) }
        }
        return lock.withLock {
            guard version > seen else { return .unchanged }
            seen = version
            switch parsed {
            case nil:
                defer { stored = nil }
                return stored == nil ? .unchanged : .cleared(version: version)
            case .success(let config)?:
                stored = (version, config)
                return .applied(version: version)
            case .failure(let error)?:
                return .refused(version: version, reason: WanggeError.from(error)?.description ?? "\(error)")
            }
        }
    }
}

extension GridService {
    /// The application over the database at `path` (default: the file's `database`), with the
    /// rules in force there: its stored configuration's while it has one, else the file's
    /// (`config`). The store assigns with the assignment distances it is opened with, so a
    /// stored configuration with other distances opens it again with those.
    public static func opening(path: String? = nil, readPath: String? = nil, config: WanggeConfig, creating: Bool = false, serving: Bool = false)
        throws -> (service: GridService, stored: ConfigurationReload) {
        let service = try GridService(store: try open(path: path, readPath: readPath, config: config, creating: creating, serving: serving), config: config)
        let stored = try service.reloadStoredConfiguration()
        let rules = service.config.rules
        guard rules != config.rules else { return (service, stored) }
        var withStoredRules = config
        withStoredRules.rules = rules
        let reopened = try GridService(store: try open(path: path, readPath: readPath, config: withStoredRules, serving: serving), config: config)
        try reopened.reloadStoredConfiguration()
        return (reopened, stored)
    }

    /// Validates a configuration file as every command reads it (`WanggeConfig.load`: the same
    /// errors, naming the file, line and field) and stores its text in the database as the next
    /// version, announced to every server on it. A file that does not load stores nothing.
    /// `explicitPath` nil: $WANGGE_CONFIG, else Config/wangge.yaml.
    public func pushConfiguration(explicitPath: String?, at now: Date = Date()) throws -> StoredConfiguration {
        guard let path = WanggeConfig.resolvedPath(explicitPath: explicitPath) else {
            throw WanggeError.invalid(tr("no configuration file to store: give --config FILE (or set WANGGE_CONFIG)"), field: "config")
        }
        let text = try WanggeConfig.text(ofFile: path)
        let config = try WanggeConfig.decode(yaml: text, source: path)
        // The text is readable by anyone who can read the database, its standbys and its backups.
        for (key, url) in [("database", config.database), ("read_database", config.readDatabase)] {
            guard let url, Self.holdsPassword(url) else { continue }
            throw WanggeError.invalid(tr("\(path): \(key) holds a password, which would be stored in the database for anyone who reads it; take it out of the URL (use ~/.pgpass or PGPASSWORD)"))
        }
        return try translatingErrors { try store.storeConfiguration(text, at: now) }
    }

    /// The database's stored configuration (its text nil once cleared); nil if none was ever stored.
    public func storedConfiguration() throws -> StoredConfiguration? {
        try translatingErrors { try store.storedConfiguration() }
    }

    /// Removes the stored configuration, announced to every server: they follow their files again.
    /// Nil when none was stored (nothing changes).
    public func clearConfiguration(at now: Date = Date()) throws -> StoredConfiguration? {
        try translatingErrors { try store.clearConfiguration(at: now) }
    }

    /// Puts the database's stored configuration in force if it changed since the last look: a
    /// new one replaces the file's rules, a cleared one gives them back, one that does not parse
    /// is refused and the rules in force are kept (and it is not parsed again).
    @discardableResult
    public func reloadStoredConfiguration() throws -> ConfigurationReload {
        rulesInForce.take(try storedConfiguration())
    }

    /// The version of the database's stored configuration in force; nil while the file's rules are.
    public var storedConfigurationVersion: Int64? { rulesInForce.storedVersion }

    /// Whether a PostgreSQL URL carries a password (in its user part or as a `password` parameter).
    static func holdsPassword(_ url: String) -> Bool {
        guard PostgresURL.isPostgres(url), let parts = URLComponents(string: url) else { return false }
        return parts.password != nil || parts.queryItems?.contains { $0.name.lowercased() == "password" } == true
    }
}
