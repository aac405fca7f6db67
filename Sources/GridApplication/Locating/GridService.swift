import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// A generation's grids loaded in memory for locating points: the
/// assigner's index answers most points without GEOS; the rest go to a
/// `GridLocator` borrowed from the assigner's pool.
public final class LoadedGeneration: Sendable {
    public let generation: Int64
    /// The generation's edit count when it was loaded (a draft's changes with every edit).
    public let revision: Int
    public let assigner: GridAssigner
    public let grids: [String: GridInfo]
    /// The data's extent, for OGC collection metadata.
    public let extent: Envelope

    init(store: any Repositories, generation: Int64? = nil) throws {
        let generation = try generation ?? store.activeGeneration()
        self.generation = generation
        revision = try store.generation(generation).revision
        assigner = try GridAssigner(shapes: try store.gridShapes(generation: generation), rules: store.rules)
        grids = Dictionary(uniqueKeysWithValues: try store.grids(generation: generation).map { ($0.code, $0) })
        extent = try store.extent()
    }

    /// This generation as the store's placement, so incident intake reuses it instead of building a locator.
    var placement: Placement {
        Placement(generation: generation, codes: assigner.codes) { [assigner] in try assigner.locate($0) }
    }

    /// The answer for one located point: its grid with the hierarchy and worker.
    public func answer(input: LocateAnswer.Input, wgs84: LonLat, assignment: PointAssignment) -> LocateAnswer {
        LocateAnswer(input: input, wgs84: wgs84, assignment: assignment, codes: assigner.codes, info: { self.grids[$0] })
    }
}

/// The application: the store, the active generation loaded for locating,
/// and the rules in force. Every front end (the command line, the HTTP
/// server) calls its use cases, and nothing else, to read or change data.
public final class GridService: @unchecked Sendable {
    /// The data behind the use cases: SpatiaLite by default (`GridStore`).
    public let store: any Repositories
    public let tokens: TokenCache
    /// Vector tiles of the areas, drawn on first request and kept.
    public let vectorTiles = VectorTiles()
    private let lock = NSLock()
    /// Loaded on first use: commands that never locate do not pay for the index.
    private var current: LoadedGeneration?
    /// Other generations asked for with `generation`, the latest few.
    private var others: [Int64: LoadedGeneration] = [:]
    static let othersKept = 4
    let rulesInForce: RulesInForce

    public init(store: any Repositories, config: WanggeConfig = WanggeConfig()) throws {
        self.store = store
        rulesInForce = RulesInForce(file: config)
        tokens = TokenCache(store: store)
    }

    /// Opens the database at `path` (default: the configuration's) with the configuration's rules:
    /// a `postgresql://` URL is PostGIS, anything else a SpatiaLite file. Only imports and token
    /// creation (`creating`) make a new file; anything else refuses a path without one.
    /// `readPath`: a hot standby of a PostgreSQL primary, for reads (`--read-db`, `read_database`).
    /// `serving`: for the server's requests, each PostgreSQL statement bounded by `server.database_timeout_s`.
    public static func open(path: String? = nil, readPath: String? = nil, config: WanggeConfig, creating: Bool = false,
                            serving: Bool = false) throws -> any Repositories {
        let location = path ?? config.database
        let timeout = serving ? config.server.databaseTimeout.inSeconds : nil
        return try translatingErrors { () throws -> any Repositories in
            if PostgresURL.isPostgres(location) {
                return try PostGISStore(url: location, readURL: readPath, rules: config.rules, statementTimeout: timeout)
            }
            if let readPath {
                throw WanggeError.invalid(tr("\(readPath): a read database is a standby of a PostgreSQL database; \(location) is a SpatiaLite file"), field: "read-db")
            }
            return try GridStore(path: location, rules: config.rules, create: creating)
        }
    }

    /// The active generation, loaded.
    public func active() throws -> LoadedGeneration {
        if let loaded = lock.withLock({ current }) { return loaded }
        let fresh = try translatingErrors { try LoadedGeneration(store: store) }
        lock.withLock { if current == nil { current = fresh } }
        return lock.withLock { current! }
    }

    /// Whether the active generation is in memory: locating in it then reads nothing from the database.
    public var isActiveLoaded: Bool { lock.withLock { current != nil } }

    /// A generation (nil: the active one), loaded on first use and kept.
    public func loaded(generation: Int64?) throws -> LoadedGeneration {
        let active = try active()
        guard let generation, generation != active.generation else { return active }
        let cached = lock.withLock { others[generation] }
        return try translatingErrors {
            if let cached, cached.revision == (try store.generation(generation).revision) { return cached }
            let fresh = try LoadedGeneration(store: store, generation: generation)
            lock.withLock {
                if others.count >= Self.othersKept { others.removeAll() }
                others[generation] = fresh
            }
            return fresh
        }
    }

    /// The configuration in force: the one stored in the database while there is one
    /// (`reloadStoredConfiguration`), else the file's. Setting it replaces the file's
    /// (when the file changes, without a restart).
    public var config: WanggeConfig {
        get { rulesInForce.config }
        set { rulesInForce.file = newValue }
    }

    /// How incidents are routed and escalated (the config's dispatch section).
    public var dispatchRules: DispatchRules { config.dispatch }

    /// Which personal fields each role sees (the config's privacy section).
    public var privacy: PrivacyPolicy { config.privacy }

    /// Reloads the active generation if another one became active (an import or an activation).
    /// Nothing loaded yet (a command that never located): nothing to reload.
    public func refreshIfNeeded() throws {
        guard let loaded = lock.withLock({ current }) else { return }
        let activeNow = try translatingErrors { try store.activeGeneration() }
        guard activeNow != loaded.generation else { return }
        let fresh = try translatingErrors { try LoadedGeneration(store: store) }
        lock.withLock { current = fresh }
    }

    /// Acts on what another process changed in a shared database: a new active generation is
    /// loaded, a revoked token refused from the next request, a stored configuration put in force;
    /// what became of the configuration, for the log.
    @discardableResult
    public func apply(_ changes: [StoreChange]) throws -> ConfigurationReload {
        guard !changes.isEmpty else { return .unchanged }
        // A server's first listening connection keeps the tokens it has just read: forgetting them
        // raced its first requests (a locate then needed the database).
        if changes.contains(where: { $0 != .listening }) { tokens.markAllDue() }
        for case .tokenRevoked(let id) in changes { tokens.forget(tokenID: id) }
        let lookAgain = changes.contains { $0 == .reconnected || $0 == .listening }
        if lookAgain || changes.contains(where: { if case .activated = $0 { true } else { false } }) { try refreshIfNeeded() }
        guard lookAgain || changes.contains(where: { if case .configured = $0 { true } else { false } }) else { return .unchanged }
        return try reloadStoredConfiguration()
    }

    /// How far the standby serving reads is behind, in seconds; nil without one, or while it is unavailable.
    public func standbyLag() throws -> Double? {
        guard let store = store as? any ReplicationStatus else { return nil }
        return try translatingErrors { try store.standbyLag() }
    }

    /// Whether reads go to the primary because the standby could not answer lately.
    public var isStandbyUnavailable: Bool { (store as? any ReplicationStatus)?.isStandbyUnavailable ?? false }

    /// Checks that a generation asked for exists; nil stays nil (the active one).
    public func checkedGeneration(_ id: Int64?) throws -> Int64? {
        guard let id else { return nil }
        do {
            _ = try store.generation(id)
        } catch {
            guard let known = WanggeError.from(error) else { throw error }
            throw known.blaming("generation")
        }
        return id
    }
}
