import GridApplication
import ArgumentParser
import Foundation
import GridCore
import GridMap
import GridStore
import Localization

extension MapMetricKind: ExpressibleByArgument {}
extension LabelStyle: ExpressibleByArgument {}

extension Wangge {
    struct Map: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "map",
            abstract: tr("Draw the county, a town, a village or one grid as a choropleth in the terminal.").rendered,
            discussion: tr("Grids are filled by the metric's class (quantiles, viridis), outlined in braille; town borders are drawn heavier. With -i the map is interactive: arrows pan, + and - zoom, Tab steps through grids, Enter shows the selected grid, m cycles metrics, l toggles layers, / jumps to a grid by code or name, q quits.").rendered)

        @OptionGroup var store: StoreOptions

        @Option(help: ArgumentHelp(tr("Show one town (code or name).").rendered)) var town: String?
        @Option(help: ArgumentHelp(tr("Show one village (code or name).").rendered)) var village: String?
        @Option(help: ArgumentHelp(tr("Show one grid (code).").rendered)) var grid: String?

        @Option(help: ArgumentHelp(tr("households, population, cameras, incidents, load (households per worker), coverage (% of area) or overdue (overdue incidents).").rendered))
        var metric: MapMetricKind = .households

        @Option(help: ArgumentHelp(tr("Point layers to draw, comma-separated: cameras,incidents,households.").rendered))
        var layers: String = ""

        @Option(help: ArgumentHelp(tr("Columns (default: the terminal's width).").rendered)) var width: Int?
        @Option(help: ArgumentHelp(tr("Lines (default: the terminal's height).").rendered)) var height: Int?

        @Option(help: ArgumentHelp(tr("auto, always or never (NO_COLOR and non-terminal output turn colour off in auto).").rendered))
        var color: String = "auto"

        @Option(help: ArgumentHelp(tr("codes, names or none.").rendered))
        var labels: LabelStyle = .codes

        @Option(help: ArgumentHelp(tr("The date in the title (default: today).").rendered))
        var date: String?

        @Flag(name: .customShort("i"), help: ArgumentHelp(tr("Interactive, full screen.").rendered))
        var interactive = false

        @OptionGroup var generationOption: GenerationOption

        @Flag(help: ArgumentHelp(tr("Outline the grids that differ from the active generation (for the active one: from the generation it replaced).").rendered))
        var highlightChanged = false

        func validate() throws {
            guard ["auto", "always", "never"].contains(color) else { throw ValidationError(tr("--color must be auto, always or never").rendered) }
            _ = try parsedLayers()
            if [town, village, grid].compactMap({ $0 }).count > 1 { throw ValidationError(tr("give at most one of --town, --village, --grid").rendered) }
        }

        func parsedLayers() throws -> Set<MapPoint.Layer> {
            var result = Set<MapPoint.Layer>()
            for name in layers.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                guard let layer = MapPoint.Layer(rawValue: name) else {
                    throw ValidationError(tr("unknown layer '\(name)': use cameras, incidents or households").rendered)
                }
                result.insert(layer)
            }
            return result
        }

        var focus: MapFocus {
            if let town { return .town(town) }
            if let village { return .village(village) }
            if let grid { return .grid(grid) }
            return .county
        }

        func run() throws {
            let service = try store.openService()
            let chosenLayers = try parsedLayers()
            let generation = try service.checkedGeneration(generationOption.generation)
            let (statistics, changed) = try service.generationView(generation, highlightChanged: highlightChanged)
            if generation != nil, metric == .coverage || interactive {
                throw ValidationError(tr("--generation draws the grids of a generation; coverage and -i work on the active generation").rendered)
            }
            // Interactive mode can toggle every layer and metric, so it loads them all.
            let data = try MapData(service: service, layers: interactive ? Set(MapPoint.Layer.allCases) : chosenLayers,
                                   withCoverage: interactive || metric == .coverage,
                                   generation: generation, statistics: statistics)
            let size = TerminalSize.current()
            let isTerminal = isatty(1) == 1
            var options = MapOptions(
                width: width ?? size?.columns ?? 100, height: height ?? size?.rows ?? 40,
                color: ColorMode.detect(option: color, isTerminal: isTerminal || interactive, environment: ProcessInfo.processInfo.environment),
                labels: labels, layers: chosenLayers, date: date ?? Self.today())
            options.highlights = changed
            if interactive {
                try InteractiveMap(data: data, options: options, metric: metric, focus: focus).run()
                return
            }
            let scene = try data.scene(metric: metric, focus: focus)
            var bounds = data.focusBounds(focus)
            if case .grid = focus {
                // Show the grid's neighbours around it.
                let margin = max(bounds.width, bounds.height) * 0.25
                bounds = MapBounds(minX: bounds.minX - margin, minY: bounds.minY - margin, maxX: bounds.maxX + margin, maxY: bounds.maxY + margin)
            }
            if case .grid(let code) = focus { options.highlight = code }
            let lines = MapRenderer.render(scene, viewport: Viewport.fitting(bounds, options: options), options: options)
            print(lines.joined(separator: "\n"))
        }

        static func today() -> String {
            TimePolicy.standard.day(Date())
        }
    }
}

/// The terminal's size from TIOCGWINSZ on standard output (or input).
struct TerminalSize {
    let columns: Int
    let rows: Int

    static func current() -> TerminalSize? {
        var size = winsize()
        for fd in [Int32(1), 0, 2] where ioctl(fd, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 {
            return TerminalSize(columns: Int(size.ws_col), rows: Int(size.ws_row))
        }
        return nil
    }
}
