import Foundation
import GeoKit
import GridCore
import GridStore

/// The active generation's grids in memory for `locate`: the assigner's
/// index answers most points without GEOS; the rest go to a `GridLocator`
/// borrowed from the assigner's pool.
final class GridIndex: Sendable {
    let generation: Int64
    /// The generation's edit count when the index was built (a draft's changes with every edit).
    let revision: Int
    let assigner: GridAssigner
    let grids: [String: GridInfo]
    /// The data's extent, for OGC collection metadata.
    let extent: Envelope

    init(store: GridStore, generation: Int64? = nil) throws {
        let generation = try generation ?? store.activeGeneration()
        self.generation = generation
        revision = try store.generation(generation).revision
        assigner = try GridAssigner(shapes: try store.gridShapes(generation: generation), rules: store.rules)
        grids = Dictionary(uniqueKeysWithValues: try store.grids(generation: generation).map { ($0.code, $0) })
        extent = try store.extent()
    }

    func locate(_ p: LonLat) throws -> PointAssignment {
        try assigner.locate(p)
    }

    /// This index as the store's placement, so incident intake reuses it instead of building a locator.
    var placement: Placement {
        Placement(generation: generation, codes: assigner.codes) { [assigner] in try assigner.locate($0) }
    }

    func answer(input: LocateAnswer.Input, wgs84: LonLat, assignment: PointAssignment) -> LocateAnswer {
        LocateAnswer(input: input, wgs84: wgs84, assignment: assignment, codes: assigner.codes, info: { self.grids[$0] })
    }
}

/// Everything the handlers share: the store and the current grid index,
/// swapped for a new one when another generation becomes active.
public final class GridService: @unchecked Sendable {
    public let store: GridStore
    let tokens: TokenCache
    private let lock = NSLock()
    private var currentIndex: GridIndex
    /// Indexes of other generations asked for with `?generation=`, the latest few.
    private var otherIndexes: [Int64: GridIndex] = [:]
    static let otherIndexesKept = 4
    private var currentDispatchRules: DispatchRules
    private var currentPrivacy: PrivacyPolicy

    public init(store: GridStore, dispatchRules: DispatchRules = DispatchRules(), privacy: PrivacyPolicy = .defaults) throws {
        self.store = store
        currentDispatchRules = dispatchRules
        currentPrivacy = privacy
        tokens = TokenCache(store: store)
        currentIndex = try GridIndex(store: store)
    }

    var index: GridIndex {
        lock.lock()
        defer { lock.unlock() }
        return currentIndex
    }

    /// The index of a generation (nil: the active one), built on first use and kept.
    func index(generation: Int64?) throws -> GridIndex {
        let current = index
        guard let generation, generation != current.generation else { return current }
        lock.lock()
        let cached = otherIndexes[generation]
        lock.unlock()
        if let cached, cached.revision == (try store.generation(generation).revision) { return cached }
        let fresh = try GridIndex(store: store, generation: generation)
        lock.lock()
        if otherIndexes.count >= Self.otherIndexesKept { otherIndexes.removeAll() }
        otherIndexes[generation] = fresh
        lock.unlock()
        return fresh
    }

    /// How incidents are routed and escalated (the config's dispatch section);
    /// replaced when the configuration file changes, without a restart.
    public var dispatchRules: DispatchRules {
        get {
            lock.lock()
            defer { lock.unlock() }
            return currentDispatchRules
        }
        set {
            lock.lock()
            currentDispatchRules = newValue
            lock.unlock()
        }
    }

    /// Which personal fields each role sees (the config's privacy section); replaced when the configuration file changes.
    public var privacy: PrivacyPolicy {
        get { lock.withLock { currentPrivacy } }
        set { lock.withLock { currentPrivacy = newValue } }
    }

    /// Reloads the index if the active generation changed (an import or an activation).
    public func refreshIfNeeded() throws {
        let active = try store.activeGeneration()
        guard active != index.generation else { return }
        let fresh = try GridIndex(store: store)
        lock.lock()
        currentIndex = fresh
        lock.unlock()
    }
}

extension Query {
    /// `generation=N`: a stored generation (400 naming the parameter otherwise); nil for the active one.
    func generation(_ store: GridStore) throws -> Int64? {
        guard let text = string("generation") else { return nil }
        guard let id = Int64(text) else { throw APIError.badParameter("generation", "\"\(text)\" is not a generation id") }
        do {
            _ = try store.generation(id)
        } catch let error as StoreError {
            throw APIError.badParameter("generation", error.message)
        }
        return id
    }
}
