import Foundation
import GridCore
import GridStore

/// The county at a glance: what `wangge summary` prints.
public struct CountySummary: Sendable {
    public let location: String
    public let engine: String
    public let generation: Int64
    public let towns: [AreaStatistics]
    public let villages: Int
    public let points: [PointLayer: Int]
    public let unassigned: [PointLayer: Int]
    /// The distances the stored assignments were made with, which the configuration may no longer say.
    public let assignedWith: AssignmentRules
    /// The distances the configuration says now.
    public let configured: AssignmentRules
}

extension GridService {
    public func summary() throws -> CountySummary {
        try translatingErrors {
            let generation = try store.activeGeneration()
            return CountySummary(
                location: store.location, engine: try store.engine(), generation: generation,
                towns: try store.statistics(by: .town, generation: nil, grid: nil),
                villages: try store.statistics(by: .village, generation: nil, grid: nil).count,
                points: try store.pointCounts(), unassigned: try store.unassignedCounts(generation: nil),
                assignedWith: try store.generation(generation).rules ?? store.rules, configured: store.rules)
        }
    }
}
