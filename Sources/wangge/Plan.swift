import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridMap
import GridStore
import Localization

/// `--generation N`: which generation a query reads (default: the active one).
struct GenerationOption: ParsableArguments {
    @Option(help: ArgumentHelp(tr("The generation to read (default: the active one; see `wangge plan list`).").rendered))
    var generation: Int64?
}

/// Which draft a plan command works on.
struct DraftOption: ParsableArguments {
    @Option(help: ArgumentHelp(tr("The draft (default: the only draft there is).").rendered))
    var draft: Int64?
}



extension Wangge {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "plan",
            abstract: tr("Boundary planning: draft generations, edits, checks, impact preview, activation and history.").rendered,
            discussion: tr("A draft is a copy of a generation's grids (or a file's) that planners edit: split, merge, reshape, move, worker. Every edit keeps the draft a clean coverage of the county (checked around the edit; on a problem nothing changes). `plan diff` shows what activating it would move; `plan activate` makes it the active generation in one transaction, `plan rollback` goes back.").rendered,
            subcommands: [
                List.self, New.self, ImportDraft.self, Validate.self, Split.self, Merge.self, Reshape.self, Move.self,
                Worker.self, Diff.self, Activate.self, Rollback.self, Suggest.self, History.self, Delete.self,
            ])
    }
}

extension Wangge.Plan {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: tr("Every generation: id, name, status, created, activated, retired, grids.").rendered)
        /// The file a generation was read from, else the generation it was copied from.
        static func from(_ generation: GenerationSummary) -> String {
            if let source = generation.source, !generation.isCopy { return (source as NSString).lastPathComponent }
            return generation.parent.map { tr("generation \($0)").rendered } ?? ""
        }

        /// A generation's status as the reader reads it.
        static func status(_ status: GenerationStatus) -> Localized {
            switch status {
            case .draft: tr("draft")
            case .active: tr("active")
            case .retired: tr("retired")
            }
        }
        @OptionGroup var store: StoreOptions
        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

        func run() throws {
            let generations = try store.openService().generations()
            if json {
                print(try jsonText(generations))
                return
            }
            print(table([tr("id"), tr("name"), tr("status"), tr("from"), tr("created"), tr("activated"), tr("retired at"), tr("grids")], generations.map {
                [String($0.id), $0.name, Self.status($0.status).rendered,
                 Self.from($0),
                 localTime($0.createdAt), $0.activatedAt.map(localTime) ?? "", $0.retiredAt.map(localTime) ?? "", String($0.grids)]
            }, rightAligned: [7]))
        }
    }

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "new", abstract: tr("Start a draft: a copy of a generation's grids, villages and towns.").rendered)
        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp(tr("The generation to copy: active or its id.").rendered)) var from: String = "active"
        @Option(help: ArgumentHelp(tr("The draft's name, e.g. 2027年网格调整.").rendered)) var name: String

        func run() throws {
            let service = try store.openService()
            let source = try service.sourceGeneration(from)
            let draft = try service.createDraft(from: source, name: name)
            print(tr("draft \(draft.id) \(draft.name): a copy of generation \(source) (\(draft.grids) grids)").rendered)
        }
    }

    struct ImportDraft: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: tr("Start a draft from a file of grids (read and validated as `import grids` does).").rendered)
        @OptionGroup var store: StoreOptions
        @OptionGroup var file: GridFileArguments
        @Option(help: ArgumentHelp(tr("The draft's name.").rendered)) var name: String?

        func run() throws {
            let service = try store.openService(creating: true)
            let (report, problems) = try service.importDraft(path: file.file, file.options(service.config.gridFields), name: name)
            print(report.description)
            printProblems(problems, generation: report.generation!)
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "validate",
            abstract: tr("Check a generation's coverage: validity, overlaps, gaps, county, village and town boundaries, codes.").rendered,
            discussion: tr("Every problem with its location (lon/lat) and area in m². Exit status 1 when there are errors.").rendered)
        @OptionGroup var store: StoreOptions
        @Argument(help: ArgumentHelp(tr("The generation (default: the only draft).").rendered)) var generation: Int64?
        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

        func run() throws {
            let service = try store.openService()
            let id = try generation ?? service.draft(nil)
            let problems = try service.validate(id)
            if json {
                print(try jsonText(problems))
            } else {
                printProblems(problems, generation: id)
            }
            if !problems.errors.isEmpty { throw ExitCode(1) }
        }
    }

    struct Split: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "split",
            abstract: tr("Cut a draft grid in two along a line crossing it from edge to edge.").rendered,
            discussion: tr("Both pieces get new codes under the grid's village (the next free numbers); the larger keeps the worker.").rendered)
        @OptionGroup var store: StoreOptions
        @OptionGroup var draft: DraftOption
        @Argument(help: ArgumentHelp(tr("The grid code.").rendered)) var grid: String
        @Option(help: ArgumentHelp(tr("The cut: WKT (LINESTRING(…)), or a GeoJSON or WKT file.").rendered)) var line: String
        @Option(help: ArgumentHelp(tr("CRS of the line's coordinates.").rendered)) var crs: CoordinateSystem = .wgs84

        func run() throws {
            let wkb = try ShapeOption.read(line, option: "--line", crs: crs)
            try runEdit(store, draft, .split(grid: grid, line: wkb))
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "merge",
            abstract: tr("Join bordering grids of one village into one grid (a new code; the first grid's worker).").rendered)
        @OptionGroup var store: StoreOptions
        @OptionGroup var draft: DraftOption
        @Argument(help: ArgumentHelp(tr("Two or more grid codes.").rendered)) var grids: [String]

        func run() throws {
            try runEdit(store, draft, .merge(grids: grids))
        }
    }

    struct Reshape: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reshape",
            abstract: tr("Give a draft grid a new shape, taking area from its neighbours.").rendered,
            discussion: tr("Area the new shape covers is taken from the grids that had it; area the grid gives up goes, piece by piece, to the neighbour sharing the longest border with it. A piece no other grid borders would be a gap: the edit is refused, naming where it is.").rendered)
        @OptionGroup var store: StoreOptions
        @OptionGroup var draft: DraftOption
        @Argument(help: ArgumentHelp(tr("The grid code.").rendered)) var grid: String
        @Option(help: ArgumentHelp(tr("The new shape: WKT (POLYGON(…)), or a GeoJSON or WKT file.").rendered)) var polygon: String
        @Option(help: ArgumentHelp(tr("CRS of the polygon's coordinates.").rendered)) var crs: CoordinateSystem = .wgs84

        func run() throws {
            let wkb = try ShapeOption.read(polygon, option: "--polygon", crs: crs)
            try runEdit(store, draft, .reshape(grid: grid, polygon: wkb))
        }
    }

    struct Move: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "move",
            abstract: tr("Move a draft grid to another village (and its town); it gets a code under that village.").rendered)
        @OptionGroup var store: StoreOptions
        @OptionGroup var draft: DraftOption
        @Argument(help: ArgumentHelp(tr("The grid code.").rendered)) var grid: String
        @Option(help: ArgumentHelp(tr("The village code.").rendered)) var village: String

        func run() throws {
            try runEdit(store, draft, .move(grid: grid, village: village))
        }
    }

    struct Worker: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "worker", abstract: tr("Set a draft grid's worker (网格员).").rendered)
        @OptionGroup var store: StoreOptions
        @OptionGroup var draft: DraftOption
        @Argument(help: ArgumentHelp(tr("The grid code.").rendered)) var grid: String
        @Option(help: ArgumentHelp(tr("The worker's name (omit for none).").rendered)) var name: String?
        @Option(help: ArgumentHelp(tr("The worker's phone.").rendered)) var phone: String?

        func run() throws {
            try runEdit(store, draft, .worker(grid: grid, name: name, phone: phone))
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "diff",
            abstract: tr("What activating a draft would move: households, residents, cameras and open incidents, grid by grid, and each worker's load.").rendered,
            discussion: tr("Points are assigned to the draft in memory; nothing is written. --map draws the draft with the changed grids highlighted.").rendered)
        @OptionGroup var store: StoreOptions
        @Argument(help: ArgumentHelp(tr("The draft (default: the only draft).").rendered)) var draft: Int64?
        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false
        @Flag(help: ArgumentHelp(tr("Draw the draft as a map, changed grids highlighted.").rendered)) var map = false
        @Flag(help: ArgumentHelp(tr("Print how long each step took (standard error).").rendered)) var timing = false
        @Option(help: ArgumentHelp(tr("Map columns (default: the terminal's width).").rendered)) var width: Int?
        @Option(help: ArgumentHelp(tr("Map lines (default: the terminal's height).").rendered)) var height: Int?
        @Option(help: ArgumentHelp(tr("auto, always or never.").rendered)) var color: String = "auto"

        func run() throws {
            let service = try store.openService()
            let report = try service.impact(of: draft)
            let id = report.draft
            if timing {
                let steps = report.timing.map { String(format: "%@ %.3f s", $0.step, $0.seconds) }.joined(separator: ", ")
                printError(String(format: "impact of draft %lld: %.3f s (%@)", id, report.seconds, steps))
            }
            if json {
                print(try jsonText(PlanImpactSummary(report)))
            } else if map {
                try drawChanges(service, generation: id, changed: report.changes, impact: report.impact,
                                width: width, height: height, color: color)
            } else {
                print(Self.text(report, draftName: try service.generation(id).name))
            }
        }

        /// "3 added", in the reader's language.
        static func count(_ count: Int, _ kind: GridChangeKind) -> Localized {
            switch kind {
            case .added: tr("\(count) added")
            case .removed: tr("\(count) removed")
            case .reshaped: tr("\(count) reshaped")
            case .edited: tr("\(count) edited")
            case .neighbour: tr("\(count) with points changing grid on their edge")
            }
        }

        static func text(_ report: PlanImpactReport, draftName: String) -> String {
            let impact = report.impact
            var lines: [String] = []
            let kinds = Dictionary(grouping: report.changes.values, by: { $0 }).mapValues(\.count)
            let counted = [GridChangeKind.added, .removed, .reshaped, .edited].compactMap { k in kinds[k].map { Self.count($0, k) } }
            let changed = counted.isEmpty ? tr("no grid changed") : Localized.list(counted)
            lines.append(tr("draft \(report.draft) \(draftName) against active generation \(report.base): \(changed)").rendered)
            lines.append("")
            if impact.moves.isEmpty {
                lines.append(tr("nothing moves").rendered)
            } else {
                lines.append(tr("moves").rendered)
                lines.append(table([tr("from"), tr("to"), tr("households"), tr("residents"), tr("cameras"), tr("open incidents")], impact.moves.map { m in
                    [m.from ?? tr("(none)").rendered, m.to ?? tr("(none)").rendered, String(m.counts.households), String(m.counts.residents),
                     String(m.counts.cameras), String(m.counts.openIncidents)]
                }, rightAligned: [2, 3, 4, 5]))
                let total = impact.moves.reduce(ImpactCounts()) { sum, m in
                    var s = sum
                    s.households += m.counts.households
                    s.residents += m.counts.residents
                    s.cameras += m.counts.cameras
                    s.openIncidents += m.counts.openIncidents
                    return s
                }
                lines.append(tr("moving: \(total.households) households, \(total.residents) residents, \(total.cameras) cameras, \(total.openIncidents) open incidents").rendered)
            }
            lines.append("")
            lines.append(tr("changed grids").rendered)
            func change(_ a: Int, _ b: Int) -> String { a == b ? String(a) : "\(a) → \(b)" }
            lines.append(table([tr("grid"), tr("name"), tr("change"), tr("worker"), tr("households"), tr("residents"), tr("cameras"), tr("open incidents")], impact.grids.map { g in
                [g.code, g.name, g.change.rawValue, g.worker ?? "-", change(g.before.households, g.after.households),
                 change(g.before.residents, g.after.residents), change(g.before.cameras, g.after.cameras),
                 change(g.before.openIncidents, g.after.openIncidents)]
            }, rightAligned: Set(4...7)))
            lines.append("")
            lines.append(tr("workers' load (households)").rendered)
            lines.append(table([tr("worker"), tr("phone"), tr("grids before"), tr("grids after"), tr("before"), tr("after"), tr("change")], impact.workers.map { w in
                [w.worker ?? tr("(no worker yet)").rendered, w.phone ?? "", w.gridsBefore.joined(separator: " "), w.gridsAfter.joined(separator: " "),
                 String(w.householdsBefore), String(w.householdsAfter), String(format: "%+d", w.householdsAfter - w.householdsBefore)]
            }, rightAligned: [4, 5, 6]))
            return lines.joined(separator: "\n")
        }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "activate",
            abstract: tr("Make a draft the active generation (one transaction); the active one is retired and stays queryable.").rendered,
            discussion: tr("Every stored point is assigned to the draft's grids and open incidents whose grid changes are re-routed to the new grid's worker, with the move in their history.").rendered)
        @OptionGroup var store: StoreOptions
        @Argument(help: ArgumentHelp(tr("The draft.").rendered)) var draft: Int64

        func run() throws {
            print(try store.openService().activate(draft).rendered(in: .current))
        }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rollback", abstract: tr("Re-activate the most recently retired generation, retiring the active one.").rendered)
        @OptionGroup var store: StoreOptions

        func run() throws {
            print(try store.openService().rollback().rendered(in: .current))
        }
    }

    struct Suggest: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "suggest",
            abstract: tr("Draft a split of every grid over a household limit into compact parts, for review.").rendered,
            discussion: tr("Each overloaded grid is cut along the Voronoi edges of k-means centres of its households (in the metric CRS).").rendered)
        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp(tr("The most households a grid should hold.").rendered)) var maxHouseholds: Int
        @Option(help: ArgumentHelp(tr("The generation to start from: active or its id.").rendered)) var from: String = "active"
        @Option(help: ArgumentHelp(tr("The draft's name.").rendered)) var name: String?

        func run() throws {
            let service = try store.openService()
            let source = try service.sourceGeneration(from)
            let result = try service.suggest(from: source, maxHouseholds: maxHouseholds, name: name)
            print(tr("draft \(result.draft): \(result.overloaded.count) grids over \(maxHouseholds) households in generation \(source)").rendered)
            printEdits(result.report)
            print(tr("review it: wangge plan diff \(result.draft); edit it with plan split/merge/reshape; then wangge plan activate \(result.draft)").rendered)
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "history", abstract: tr("The grid a household, camera or incident had in each generation.").rendered)
        @OptionGroup var store: StoreOptions
        @Argument(help: ArgumentHelp(tr("household, camera or incident.").rendered)) var layer: String
        @Argument(help: ArgumentHelp(tr("Its id.").rendered)) var id: String
        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

        func run() throws {
            guard let layer = PointLayer(rawValue: layer) else { throw ValidationError(tr("the layer must be household, camera or incident").rendered) }
            let rows = try store.openService().history(layer, id: id)
            if json {
                struct Entry: Encodable { let generation: Int64, name: String, status: String, grid: String?, method: String? }
                print(try jsonText(rows.map { Entry(generation: $0.generation.id, name: $0.generation.name, status: $0.generation.status.rawValue,
                                                    grid: $0.grid, method: $0.method?.rawValue) }))
                return
            }
            print(table([tr("generation"), tr("name"), tr("status"), tr("activated"), tr("grid"), tr("method")], rows.map {
                [String($0.generation.id), $0.generation.name, List.status($0.generation.status).rendered, $0.generation.activatedAt.map(localTime) ?? "",
                 $0.grid ?? tr("(none)").rendered, $0.method?.text.rendered ?? ""]
            }))
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: tr("Discard a draft.").rendered)
        @OptionGroup var store: StoreOptions
        @Argument(help: ArgumentHelp(tr("The draft.").rendered)) var draft: Int64

        func run() throws {
            try store.openService().deleteDraft(draft)
            print(tr("draft \(draft) deleted").rendered)
        }
    }
}

/// Runs one edit on a draft and reports it.
func runEdit(_ store: StoreOptions, _ draft: DraftOption, _ edit: PlanEditRequest) throws {
    printEdits(try store.openService().edit(draft: draft.draft, edit))
}

func printEdits(_ report: PlanEditReport) {
    for edit in report.edits {
        print(tr("draft \(report.generation): \(edit.summary)").rendered)
        for note in edit.notes { print("  \(note)") }
    }
    for warning in report.warnings { print("  " + warning.text.rendered) }
}

func printProblems(_ problems: [PlanProblem], generation: Int64) {
    let errors = problems.errors.count
    if problems.isEmpty {
        print(tr("generation \(generation): a clean coverage of the county (no overlaps, gaps or slivers)").rendered)
        return
    }
    for problem in problems { print(problem.text.rendered) }
    print(tr("generation \(generation): \(errors) error\(errors == 1 ? "" : "s"), \(problems.count - errors) warning\(problems.count - errors == 1 ? "" : "s")").rendered)
}

/// A line or polygon given on the command line: WKT, or a file of WKT or GeoJSON.
enum ShapeOption {
    static func read(_ value: String, option: String, crs: CoordinateSystem) throws -> [UInt8] {
        if FileManager.default.fileExists(atPath: value) {
            guard let data = FileManager.default.contents(atPath: value) else { throw WanggeError.invalid(tr("\(value): cannot read the file")) }
            return try ShapeInput.wkb(text: String(decoding: data, as: UTF8.self), source: value, crs: crs)
        }
        if value.contains("/") || [".geojson", ".json", ".wkt"].contains(where: { value.lowercased().hasSuffix($0) }) {
            throw WanggeError.invalid(tr("\(option) \(value): no such file (give a file of WKT or GeoJSON, or WKT itself)"))
        }
        return try ShapeInput.wkb(text: value, source: option, crs: crs)
    }
}

/// Draws a generation with the given grids highlighted (outlined, the others dimmed).
func drawChanges(_ service: GridService, generation: Int64, changed: [String: GridChangeKind], impact: PlanImpact?,
                 width: Int?, height: Int?, color: String) throws {
    guard ["auto", "always", "never"].contains(color) else { throw ValidationError(tr("--color must be auto, always or never").rendered) }
    let data = try MapData(service: service, layers: [], generation: generation,
                           statistics: impact?.statisticsAfter)
    let highlighted = Set(changed.filter { $0.value != .removed }.keys)
    let size = TerminalSize.current()
    var options = MapOptions(
        width: width ?? size?.columns ?? 100, height: height ?? size?.rows ?? 40,
        color: ColorMode.detect(option: color, isTerminal: isatty(1) == 1, environment: ProcessInfo.processInfo.environment),
        labels: .codes, date: Wangge.Map.today())
    options.highlights = highlighted
    var scene = try data.scene(metric: .households, focus: .county)
    if !highlighted.isEmpty {
        for i in scene.areas.indices { scene.areas[i].inFocus = highlighted.contains(scene.areas[i].code) }
    }
    scene.title = tr("generation \(generation) · \(highlighted.count) changed grids highlighted").rendered
    var bounds = data.focusBounds(.county)
    if !highlighted.isEmpty {
        // Zoom to the changes, with their surroundings.
        bounds = scene.areas.filter { highlighted.contains($0.code) }.reduce(MapBounds.empty) { $0.union($1.bounds) }
        let margin = max(bounds.width, bounds.height) * 0.6
        bounds = MapBounds(minX: bounds.minX - margin, minY: bounds.minY - margin, maxX: bounds.maxX + margin, maxY: bounds.maxY + margin)
    }
    print(MapRenderer.render(scene, viewport: Viewport.fitting(bounds, options: options), options: options).joined(separator: "\n"))
}
