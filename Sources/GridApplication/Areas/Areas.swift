import Foundation
import GridCore
import GridStore
import Localization

/// Which part of the county a question is about: the county, a town, a
/// village (each by code or name) or a grid (by code), and how to group the answer.
public struct AreaScope: Sendable, Equatable {
    public var town: String?
    public var village: String?
    public var grid: String?
    /// Group by this level (nil: the level below the scope).
    public var groupBy: AreaLevel?

    public init(town: String? = nil, village: String? = nil, grid: String? = nil, groupBy: AreaLevel? = nil) {
        self.town = town
        self.village = village
        self.grid = grid
        self.groupBy = groupBy
    }

    /// The level rows are grouped by.
    public var level: AreaLevel {
        if let groupBy { return groupBy }
        if grid != nil || village != nil { return .grid }
        return town != nil ? .village : .town
    }

    static func key(_ g: GridInfo, _ level: AreaLevel) -> (code: String, name: String) {
        switch level {
        case .town: (g.townCode, g.townName)
        case .village: (g.villageCode, g.villageName)
        case .grid: (g.code, g.name)
        }
    }
}

extension GridService {
    /// The code of the area `value` names (a grid by code; a village or town by code or name) in a
    /// generation, nil without a value. Unknown: an error naming the level and the closest match.
    public func areaCode(_ level: AreaLevel, _ value: String?, generation: Int64? = nil) throws -> String? {
        guard let value else { return nil }
        return try translatingErrors { try store.areaCode(level, named: value, generation: generation) }
    }

    /// The grids of a generation inside the scope (every filter given), in code order.
    public func grids(in scope: AreaScope = AreaScope(), generation: Int64? = nil) throws -> [GridInfo] {
        let town = try areaCode(.town, scope.town, generation: generation)
        let village = try areaCode(.village, scope.village, generation: generation)
        let grid = try areaCode(.grid, scope.grid, generation: generation)
        return try translatingErrors { try store.grids(generation: generation) }.filter {
            (town == nil || $0.townCode == town) && (village == nil || $0.villageCode == village) && (grid == nil || $0.code == grid)
        }
    }

    /// One grid of a generation, or not found.
    public func grid(code: String, generation: Int64? = nil) throws -> GridInfo {
        guard let grid = try translatingErrors({ try store.grid(code: code, generation: generation) }) else {
            throw WanggeError.notFound(tr("no grid \(TextLimits.shown(code)) in \(generation.map { "generation \($0)" } ?? "the active generation")"))
        }
        return grid
    }

    /// The towns, or the villages (of one town, by code or name), with their grid counts.
    public func areas(_ level: AreaLevel, town: String? = nil) throws -> [(code: String, name: String, town: String?, grids: Int)] {
        let townCode = try areaCode(.town, town)
        return try translatingErrors { try store.areas(level, town: townCode) }
    }

    /// Households, residents, cameras and incidents per area of the scope.
    public func statistics(in scope: AreaScope = AreaScope(), generation: Int64? = nil) throws -> [AreaStatistics] {
        let level = scope.groupBy ?? (scope.town == nil && scope.village == nil && scope.grid == nil ? .town : scope.level)
        let all = try translatingErrors { try store.statistics(by: level, generation: generation, grid: nil) }
        guard scope.town != nil || scope.village != nil || scope.grid != nil else { return all }
        let keys = Set(try grids(in: scope, generation: generation).map { AreaScope.key($0, level).code })
        return all.filter { keys.contains($0.code) }
    }
}

extension GridService {
    /// A grid's outline as GeoJSON, nil when there is no such grid.
    public func gridGeometryJSON(code: String) throws -> String? {
        try translatingErrors { try store.features(.grids, bbox: nil, grid: nil, id: code, limit: 1, offset: 0, generation: nil, countLimit: GridStore.matchCountLimit).features.first?.geometryJSON }
    }
}
