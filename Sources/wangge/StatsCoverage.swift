import GridApplication
import ArgumentParser
import CSV
import Foundation
import GeoKit
import GridCore
import GridStore

/// Which grids a statistics command covers, and how it groups them.
struct AreaScope: ParsableArguments {
    @Option(help: "Only this town (code or name).") var town: String?
    @Option(help: "Only this village (code or name).") var village: String?
    @Option(help: "Only this grid (code).") var grid: String?
    @Option(help: "Group by town, village or grid (default: the level below the scope).") var by: AreaLevel?
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print CSV.") var csv = false

    func validate() throws {
        if [town, village, grid].compactMap({ $0 }).count > 1 { throw ValidationError("give at most one of --town, --village, --grid") }
        if json && csv { throw ValidationError("give --json or --csv, not both") }
    }

    func contains(_ g: GridInfo) -> Bool {
        if let town { return g.townCode == town || g.townName == town }
        if let village { return g.villageCode == village || g.villageName == village }
        if let grid { return g.code == grid }
        return true
    }

    var description: String {
        if let town { return "--town \(town)" }
        if let village { return "--village \(village)" }
        if let grid { return "--grid \(grid)" }
        return "the county"
    }

    var level: AreaLevel {
        if let by { return by }
        if grid != nil || village != nil { return .grid }
        return town != nil ? .village : .town
    }

    /// The grids in scope, or an error naming the filter that matched nothing.
    func grids(_ all: [GridInfo]) throws -> [GridInfo] {
        let chosen = all.filter(contains)
        guard !chosen.isEmpty else { throw UserError("no grid matches \(description)") }
        return chosen
    }

    static func key(_ g: GridInfo, _ level: AreaLevel) -> (code: String, name: String) {
        switch level {
        case .town: (g.townCode, g.townName)
        case .village: (g.villageCode, g.villageName)
        case .grid: (g.code, g.name)
        }
    }
}

/// Writes rows as CSV to standard output.
func printCSV(_ header: [String], _ rows: [[String]]) throws {
    let writer = try CSVWriter(stream: .toMemory())
    try writer.write(row: header)
    for row in rows { try writer.write(row: row) }
    writer.stream.close()
    guard let data = writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data else { throw UserError("CSV output failed") }
    print(String(decoding: data, as: UTF8.self))
}

/// Coverage of every grid of the active generation, from the store.
func computeCoverage(store: GridStore, config: WanggeConfig) throws -> (grids: [GridInfo], coverage: [String: GridCoverage]) {
    let grids = try store.grids()
    let shapes = try store.gridShapes()
    let index = Dictionary(uniqueKeysWithValues: shapes.enumerated().map { ($1.code, Int32($0)) })
    let households = try store.householdGrids().map { (position: $0.position, grid: $0.grid.flatMap { index[$0] } ?? -1) }
    let geos = try GEOSContext()
    let extent = try shapes.map { try Geometry(wkb: $0.wkb, context: geos).envelope }.reduce(nil as Envelope?) { $0?.union($1) ?? $1 }
    let center = extent.map { LonLat(($0.minX + $0.maxX) / 2, ($0.minY + $0.maxY) / 2) } ?? LonLat(0, 0)
    let calculator = try CoverageCalculator(around: center, settings: config.coverage)
    let result = try calculator.coverage(grids: shapes, cameras: try store.cameraViews(), households: households)
    return (grids, Dictionary(uniqueKeysWithValues: result.map { ($0.code, $0) }))
}

extension Wangge.Stats {
    struct Coverage: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Camera coverage: covered area and households, cameras by type, blind spots and the largest uncovered patches.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: AreaScope

        func run() throws {
            let (gridStore, config) = try store.openStore()
            let start = Date()
            let (allGrids, coverage) = try computeCoverage(store: gridStore, config: config)
            let grids = try scope.grids(allGrids)
            let level = scope.level
            let settings = config.coverage
            var groups: [(code: String, name: String, parts: [GridCoverage])] = []
            for g in grids {
                let key = AreaScope.key(g, level)
                if groups.last?.code != key.code { groups.append((key.code, key.name, [])) }
                groups[groups.count - 1].parts.append(coverage[g.code]!)
            }
            let rows = groups.map { AreaCoverage(code: $0.code, name: $0.name, parts: $0.parts, threshold: settings.blindSpotThreshold, patches: settings.patchesPerGrid) }
            let total = AreaCoverage(code: "total", name: "", parts: grids.map { coverage[$0.code]! }, threshold: settings.blindSpotThreshold, patches: settings.patchesPerGrid)
            if scope.json {
                print(try jsonText(["areas": rows, "total": [total]]))
                return
            }
            func patch(_ p: UncoveredPatch?) -> String {
                p.map { String(format: "%.2f km² @ %.5f,%.5f", $0.areaSquareMetres / 1e6, $0.lon, $0.lat) } ?? ""
            }
            func types(_ t: [String: Int]) -> String { t.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ") }
            let cells = (rows + [total]).map { r in
                [r.code, r.name, String(r.grids), String(format: "%.2f", r.areaSquareMetres / 1e6), String(format: "%.3f", r.coveredSquareMetres / 1e6),
                 String(format: "%.2f", r.coveredShare * 100), String(r.households), String(format: "%.1f", r.householdsCoveredShare * 100),
                 String(r.camerasOnline), String(r.camerasOffline), String(format: "%.1f", r.camerasPerThousandHouseholds),
                 String(r.blindSpotGrids.count), patch(r.largestUncovered.first), types(r.camerasByType)]
            }
            let header = [level.rawValue, "name", "grids", "km²", "covered km²", "covered %", "households", "hh covered %",
                          "online", "offline", "cams/1000 hh", "blind grids", "largest uncovered", "cameras by type"]
            if scope.csv {
                try printCSV(header, cells)
                return
            }
            print(table(header, cells, rightAligned: Set(2...11)))
            let blind = grids.map { coverage[$0.code]! }.filter { $0.coveredShare < settings.blindSpotThreshold }
            print("\nblind spots: \(blind.count) of \(grids.count) grids below \(String(format: "%.0f", settings.blindSpotThreshold * 100))% covered"
                  + (blind.isEmpty ? "" : "; the five largest gaps:"))
            for g in blind.sorted(by: { ($0.patches.first?.areaSquareMetres ?? 0) > ($1.patches.first?.areaSquareMetres ?? 0) }).prefix(5) {
                print("  \(g.code)  \(String(format: "%.1f", g.coveredShare * 100))% covered, largest uncovered \(patch(g.patches.first))")
            }
            printError(String(format: "coverage computed in %.2f s (offline cameras left out)", Date().timeIntervalSince(start)))
        }
    }

    struct Workload: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Households and residents per grid worker against the standard in the config; incidents per 1,000 households.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: AreaScope

        @Flag(help: "Only grids outside the standard.") var flaggedOnly = false

        func run() throws {
            let (gridStore, config) = try store.openStore()
            let statistics = Dictionary(uniqueKeysWithValues: try gridStore.statistics(by: .grid).map { ($0.code, $0) })
            var loads = try scope.grids(try gridStore.grids()).map { GridWorkload(grid: $0, statistics: statistics[$0.code]!, settings: config.workload) }
            let counts = Dictionary(grouping: loads, by: \.status).mapValues(\.count)
            if flaggedOnly { loads = loads.filter { $0.status != .within } }
            if scope.json {
                print(try jsonText(loads))
                return
            }
            let header = ["grid", "name", "worker", "kind", "households", "residents", "hh/worker", "standard", "status", "incidents/1000 hh"]
            let cells = loads.map { w in
                [w.code, w.name, w.worker ?? "", w.urban ? "urban" : "rural", String(w.households), String(w.residents),
                 String(format: "%.0f", w.householdsPerWorker), "\(w.standard.minHouseholds)–\(w.standard.maxHouseholds)",
                 w.status == .within ? "ok" : w.status.rawValue + "loaded", String(format: "%.1f", w.incidentsPerThousandHouseholds)]
            }
            if scope.csv {
                try printCSV(header, cells)
                return
            }
            print(table(header, cells, rightAligned: [4, 5, 6, 9]))
            print("\(counts[.over] ?? 0) grids overloaded, \(counts[.under] ?? 0) underloaded, \(counts[.within] ?? 0) within the standard")
        }
    }
}
