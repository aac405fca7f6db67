import Foundation
import GeoKit
import GridCore
import GridStore

/// The active generation's grids in memory for `locate`: the assigner's
/// index answers most points without GEOS; the rest go to a `GridLocator`
/// borrowed from the assigner's pool.
final class GridIndex: Sendable {
    let generation: Int64
    let assigner: GridAssigner
    let grids: [String: GridInfo]
    /// The data's extent, for OGC collection metadata.
    let extent: Envelope

    init(store: GridStore) throws {
        generation = try store.activeGeneration()
        assigner = try GridAssigner(shapes: try store.gridShapes(generation: generation), rules: store.rules)
        grids = Dictionary(uniqueKeysWithValues: try store.grids(generation: generation).map { ($0.code, $0) })
        extent = try store.extent()
    }

    func locate(_ p: LonLat) throws -> PointAssignment {
        try assigner.locate(p)
    }

    func answer(input: LocateAnswer.Input, wgs84: LonLat, assignment: PointAssignment) -> LocateAnswer {
        LocateAnswer(input: input, wgs84: wgs84, assignment: assignment, codes: assigner.codes, info: { self.grids[$0] })
    }
}

/// Everything the handlers share: the store and the current grid index,
/// swapped for a new one when another generation becomes active.
public final class GridService: @unchecked Sendable {
    public let store: GridStore
    /// How incident reports are routed (the config's dispatch section).
    public let dispatchRules: DispatchRules
    let tokens: TokenCache
    private let lock = NSLock()
    private var currentIndex: GridIndex

    public init(store: GridStore, dispatchRules: DispatchRules = DispatchRules()) throws {
        self.store = store
        self.dispatchRules = dispatchRules
        tokens = TokenCache(store: store)
        currentIndex = try GridIndex(store: store)
    }

    var index: GridIndex {
        lock.lock()
        defer { lock.unlock() }
        return currentIndex
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
