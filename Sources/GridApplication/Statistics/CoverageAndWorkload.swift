import Foundation
import GeoKit
import GridCore
import GridStore

/// Camera coverage of a scope: a row per area of its level, the total, and
/// the grids below the blind-spot threshold, largest gap first.
public struct CoverageReport: Sendable, Encodable {
    public let level: AreaLevel
    public let areas: [AreaCoverage]
    public let total: AreaCoverage
    /// The scope's grids below the blind-spot threshold, largest uncovered patch first.
    public let blindSpots: [GridCoverage]
    public let blindSpotThreshold: Double
}

/// Households and residents per worker against the standard, per grid of a scope.
public struct WorkloadReport: Sendable, Encodable {
    public let grids: [GridWorkload]
    public let overloaded: Int
    public let underloaded: Int
    public let within: Int
}

extension GridService {
    /// Coverage of every grid of the active generation, by grid code.
    public func gridCoverage() throws -> [String: GridCoverage] {
        try translatingErrors {
            let shapes = try store.gridShapes(generation: nil)
            let index = Dictionary(uniqueKeysWithValues: shapes.enumerated().map { ($1.code, Int32($0)) })
            let households = try store.householdGrids(generation: nil).map { (position: $0.position, grid: $0.grid.flatMap { index[$0] } ?? -1) }
            let geos = try GEOSContext()
            let extent = try shapes.map { try Geometry(wkb: $0.wkb, context: geos).envelope }.reduce(nil as Envelope?) { $0?.union($1) ?? $1 }
            let center = extent.map { LonLat(($0.minX + $0.maxX) / 2, ($0.minY + $0.maxY) / 2) } ?? LonLat(0, 0)
            let calculator = try CoverageCalculator(around: center, settings: config.coverage)
            let result = try calculator.coverage(grids: shapes, cameras: try store.cameraViews(), households: households)
            return Dictionary(uniqueKeysWithValues: result.map { ($0.code, $0) })
        }
    }

    /// Camera coverage of a scope: covered area and households, cameras by type, blind spots and the largest uncovered patches.
    public func coverage(in scope: AreaScope = AreaScope()) throws -> CoverageReport {
        let grids = try grids(in: scope)
        let coverage = try gridCoverage()
        let settings = config.coverage
        let level = scope.level
        var groups: [(code: String, name: String, parts: [GridCoverage])] = []
        for g in grids {
            guard let part = coverage[g.code] else { continue }
            let key = AreaScope.key(g, level)
            if groups.last?.code != key.code { groups.append((key.code, key.name, [])) }
            groups[groups.count - 1].parts.append(part)
        }
        let parts = grids.compactMap { coverage[$0.code] }
        let rows = groups.map { AreaCoverage(code: $0.code, name: $0.name, parts: $0.parts, threshold: settings.blindSpotThreshold, patches: settings.patchesPerGrid) }
        let total = AreaCoverage(code: "total", name: "", parts: parts, threshold: settings.blindSpotThreshold, patches: settings.patchesPerGrid)
        let blind = parts.filter { $0.coveredShare < settings.blindSpotThreshold }
            .sorted { ($0.patches.first?.areaSquareMetres ?? 0) > ($1.patches.first?.areaSquareMetres ?? 0) }
        return CoverageReport(level: level, areas: rows, total: total, blindSpots: blind, blindSpotThreshold: settings.blindSpotThreshold)
    }

    /// Each grid worker's load against the standard in the configuration; `flaggedOnly`: only grids outside it.
    public func workload(in scope: AreaScope = AreaScope(), flaggedOnly: Bool = false) throws -> WorkloadReport {
        let statistics = Dictionary(uniqueKeysWithValues: try translatingErrors { try store.statistics(by: .grid, generation: nil, grid: nil) }.map { ($0.code, $0) })
        let settings = config.workload
        let loads = try grids(in: scope).compactMap { g in statistics[g.code].map { GridWorkload(grid: g, statistics: $0, settings: settings) } }
        let counts = Dictionary(grouping: loads, by: \.status).mapValues(\.count)
        return WorkloadReport(grids: flaggedOnly ? loads.filter { $0.status != .within } : loads,
                              overloaded: counts[.over] ?? 0, underloaded: counts[.under] ?? 0, within: counts[.within] ?? 0)
    }
}
