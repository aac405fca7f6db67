import GridApplication
import ArgumentParser
import CSV
import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// Which grids a statistics command covers, and how it groups them.
struct AreaOptions: ParsableArguments {
    @Option(help: ArgumentHelp(tr("Only this town (code or name).").rendered)) var town: String?
    @Option(help: ArgumentHelp(tr("Only this village (code or name).").rendered)) var village: String?
    @Option(help: ArgumentHelp(tr("Only this grid (code).").rendered)) var grid: String?
    @Option(help: ArgumentHelp(tr("Group by town, village or grid (default: the level below the scope).").rendered)) var by: AreaLevel?
    @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false
    @Flag(help: ArgumentHelp(tr("Print CSV.").rendered)) var csv = false

    func validate() throws {
        if [town, village, grid].compactMap({ $0 }).count > 1 { throw ValidationError(tr("give at most one of --town, --village, --grid").rendered) }
        if json && csv { throw ValidationError(tr("give --json or --csv, not both").rendered) }
    }

    var scope: AreaScope { AreaScope(town: town, village: village, grid: grid, groupBy: by) }
}

/// Writes rows as CSV to standard output.
func printCSV(_ header: [String], _ rows: [[String]]) throws {
    let writer = try CSVWriter(stream: .toMemory())
    try writer.write(row: header)
    for row in rows { try writer.write(row: row) }
    writer.stream.close()
    guard let data = writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data else { throw WanggeError.invalid(tr("CSV output failed")) }
    print(String(decoding: data, as: UTF8.self))
}

extension Wangge.Stats {
    struct Coverage: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "coverage",
            abstract: tr("Camera coverage: covered area and households, cameras by type, blind spots and the largest uncovered patches.").rendered)

        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: AreaOptions

        func run() throws {
            let service = try store.openService()
            let start = Date()
            let report = try service.coverage(in: scope.scope)
            let (rows, total, level) = (report.areas, report.total, report.level)
            if scope.json {
                print(try jsonText(report))
                return
            }
            func patch(_ p: UncoveredPatch?) -> String {
                p.map { String(format: "%.2f km² @ %.5f,%.5f", $0.areaSquareMetres / 1e6, $0.lon, $0.lat) } ?? ""
            }
            func types(_ t: [String: Int]) -> String { t.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ") }
            // The API's total row has the code "total"; the table says it in the reader's words.
            let labelled: [(code: String, area: AreaCoverage)] = rows.map { ($0.code, $0) } + [(tr("total").rendered, total)]
            let cells = labelled.map { code, r -> [String] in
                [code, r.name, String(r.grids), String(format: "%.2f", r.areaSquareMetres / 1e6), String(format: "%.3f", r.coveredSquareMetres / 1e6),
                 String(format: "%.2f", r.coveredShare * 100), String(r.households), String(format: "%.1f", r.householdsCoveredShare * 100),
                 String(r.camerasOnline), String(r.camerasOffline), String(format: "%.1f", r.camerasPerThousandHouseholds),
                 String(r.blindSpotGrids.count), patch(r.largestUncovered.first), types(r.camerasByType)]
            }
            let header: [Localized] = [groupingHeader(level.rawValue), tr("name"), tr("grids"), tr("km²"), tr("covered km²"), tr("covered %"), tr("households"), tr("hh covered %"),
                          tr("online"), tr("offline"), tr("cams/1000 hh"), tr("blind grids"), tr("largest uncovered"), tr("cameras by type")]
            if scope.csv {
                try printCSV(header.map(\.description), cells)
                return
            }
            print(table(header, cells, rightAligned: Set(2...11)))
            let blind = report.blindSpots
            let threshold = String(format: "%.0f", report.blindSpotThreshold * 100)
            print(blind.isEmpty ? tr("\nblind spots: \(blind.count) of \(total.grids) grids below \(threshold)% covered").rendered
                  : tr("\nblind spots: \(blind.count) of \(total.grids) grids below \(threshold)% covered; the five largest gaps:").rendered)
            for g in blind.prefix(5) {
                print(tr("  \(g.code)  \(String(format: "%.1f", g.coveredShare * 100))% covered, largest uncovered \(patch(g.patches.first))").rendered)
            }
            printError(tr("coverage computed in \(String(format: "%.2f", Date().timeIntervalSince(start))) s (offline cameras left out)").rendered)
        }
    }

    struct Workload: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "workload",
            abstract: tr("Households and residents per grid worker against the standard in the config; incidents per 1,000 households.").rendered)

        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: AreaOptions

        @Flag(help: ArgumentHelp(tr("Only grids outside the standard.").rendered)) var flaggedOnly = false

        func run() throws {
            let report = try store.openService().workload(in: scope.scope, flaggedOnly: flaggedOnly)
            let loads = report.grids
            if scope.json {
                print(try jsonText(report))
                return
            }
            let header: [Localized] = [tr("grid"), tr("name"), tr("worker"), tr("kind"), tr("households"), tr("residents"), tr("hh/worker"), tr("standard"), tr("status"), tr("incidents/1000 hh")]
            let cells = loads.map { w in
                [w.code, w.name, w.worker ?? "", w.urban ? "urban" : "rural", String(w.households), String(w.residents),
                 String(format: "%.0f", w.householdsPerWorker), "\(w.standard.minHouseholds)–\(w.standard.maxHouseholds)",
                 w.status == .within ? "ok" : w.status.rawValue + "loaded", String(format: "%.1f", w.incidentsPerThousandHouseholds)]
            }
            if scope.csv {
                try printCSV(header.map(\.description), cells)
                return
            }
            print(table(header, cells, rightAligned: [4, 5, 6, 9]))
            print(tr("\(report.overloaded) grids overloaded, \(report.underloaded) underloaded, \(report.within) within the standard").rendered)
        }
    }
}
