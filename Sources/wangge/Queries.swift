import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridMap
import GridStore
import Localization

/// A value as the JSON every front end writes (the HTTP API's bytes).
func jsonText<T: Encodable>(_ value: T) throws -> String { try WanggeJSON.text(value) }

/// A plain text table whose columns line up with CJK text too.
func table(_ header: [Localized], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    let header = header.map(\.rendered)
    let all = [header] + rows
    let widths = header.indices.map { c in all.map { displayWidth($0[c]) }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { c, cell in
            let pad = String(repeating: " ", count: widths[c] - displayWidth(cell))
            return rightAligned.contains(c) ? pad + cell : cell + pad
        }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
        .joined(separator: "\n")
}

/// A table's first column when it holds areas or groups: its level or grouping, named.
func groupingHeader(_ code: String) -> Localized {
    switch code {
    case "county": tr("county")
    case "town": tr("town")
    case "village": tr("village")
    case "grid": tr("grid")
    case "category": tr("category")
    case "channel": tr("channel")
    case "month": tr("month")
    default: .verbatim(code)
    }
}

/// "label  value" lines with the values lined up, in the reader's language.
func labelledLines(_ rows: [(label: Localized, value: String)]) -> String {
    let labels = rows.map(\.label.rendered)
    let width = labels.map(displayWidth).max() ?? 0
    return zip(labels, rows).map { label, row in
        row.value.isEmpty ? label : label + String(repeating: " ", count: width - displayWidth(label) + 2) + row.value
    }.joined(separator: "\n")
}

extension Wangge {
    struct Grids: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "grids", abstract: tr("List the active generation's grids with their village, town and worker.").rendered)

        @OptionGroup var store: StoreOptions

        @Option(help: ArgumentHelp(tr("Only grids of this town (code or name).").rendered))
        var town: String?

        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered))
        var json = false

        @OptionGroup var generationOption: GenerationOption

        func run() throws {
            let service = try store.openService()
            let grids = try service.grids(in: AreaScope(town: town), generation: try service.checkedGeneration(generationOption.generation))
            if json {
                print(try jsonText(grids))
                return
            }
            print(table([tr("code"), tr("name"), tr("village"), tr("town"), tr("worker"), tr("phone"), tr("km²")], grids.map {
                [$0.code, $0.name, $0.villageName, $0.townName, $0.workerName ?? "", $0.workerPhone ?? "",
                 String(format: "%.2f", ($0.areaSquareMetres ?? 0) / 1e6)]
            }, rightAligned: [6]))
            print(tr("\(grids.count) grids").rendered)
        }
    }

    struct Households: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "households", abstract: tr("List a grid's households, optionally with one tag (e.g. 独居老人).").rendered)

        @OptionGroup var store: StoreOptions

        @Option(help: ArgumentHelp(tr("The grid code.").rendered))
        var grid: String

        @Option(help: ArgumentHelp(tr("Only households with this tag.").rendered))
        var tag: String?

        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered))
        var json = false

        @OptionGroup var generationOption: GenerationOption

        func run() throws {
            let service = try store.openService()
            let generation = try service.checkedGeneration(generationOption.generation)
            let households = try service.households(grid: grid, tag: tag, generation: generation)
            if json {
                print(try jsonText(households))
                return
            }
            print(table([tr("id"), tr("head"), tr("phone"), tr("members"), tr("tags"), tr("address")], households.map {
                [$0.id, $0.head ?? "", $0.phone ?? "", String($0.members), $0.tags.joined(separator: ";"), $0.address ?? ""]
            }, rightAligned: [3]))
            print(tr("\(households.count) households, \(households.reduce(0) { $0 + $1.members }) residents in \(grid)").rendered + (tag.map { " tagged \($0)" } ?? ""))
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stats",
            abstract: tr("Statistics: counts (default), camera coverage, grid worker load and incidents.").rendered,
            subcommands: [Counts.self, Coverage.self, Workload.self, Incidents.self], defaultSubcommand: Counts.self)
    }
}

extension Wangge.Stats {
    struct Counts: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "counts", abstract: tr("Households, residents, cameras and incidents per town, village or grid.").rendered)

        @OptionGroup var store: StoreOptions

        @Option(help: ArgumentHelp(tr("Group by town, village or grid.").rendered))
        var by: AreaLevel = .town

        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered))
        var json = false

        @Flag(help: ArgumentHelp(tr("Print CSV.").rendered))
        var csv = false

        @OptionGroup var generationOption: GenerationOption

        func validate() throws {
            if json && csv { throw ValidationError(tr("give --json or --csv, not both").rendered) }
        }

        func run() throws {
            let service = try store.openService()
            let stats = try service.statistics(in: AreaScope(groupBy: by), generation: try service.checkedGeneration(generationOption.generation))
            if json {
                print(try jsonText(stats))
                return
            }
            if csv {
                try printCSV([by.rawValue, "name", "grids", "households", "residents", "cameras", "cameras_online", "incidents",
                              "open_incidents", "near_boundary", "nearest"], stats.map { s in
                    [s.code, s.name, String(s.grids), String(s.households), String(s.residents), String(s.cameras), String(s.camerasOnline),
                     String(s.incidents), String(s.openIncidents), String(s.nearBoundary), String(s.nearest)]
                })
                return
            }
            print(statisticsTable(stats, level: by))
        }
    }
}

extension AreaLevel: ExpressibleByArgument {}

func statisticsTable(_ stats: [AreaStatistics], level: AreaLevel) -> String {
    var rows = stats.map { s in
        [s.code, s.name, String(s.grids), String(s.households), String(s.residents), String(s.cameras), String(s.camerasOnline),
         String(s.incidents), String(s.openIncidents), String(s.nearBoundary), String(s.nearest)]
    }
    func total(_ key: KeyPath<AreaStatistics, Int>) -> String { String(stats.reduce(0) { $0 + $1[keyPath: key] }) }
    rows.append([tr("total").rendered, "", total(\.grids), total(\.households), total(\.residents), total(\.cameras), total(\.camerasOnline),
                 total(\.incidents), total(\.openIncidents), total(\.nearBoundary), total(\.nearest)])
    return table([groupingHeader(level.rawValue), tr("name"), tr("grids"), tr("households"), tr("residents"), tr("cameras"), tr("online"), tr("incidents"), tr("open"),
                  tr("near edge"), tr("nearest")], rows, rightAligned: Set(2...10))
}
