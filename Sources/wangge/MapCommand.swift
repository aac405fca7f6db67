import GridApplication
import ArgumentParser
import Foundation
import GridCore
import GridMap
import GridStore

extension MapMetricKind: ExpressibleByArgument {}
extension LabelStyle: ExpressibleByArgument {}

extension Wangge {
    struct Map: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw the county, a town, a village or one grid as a choropleth in the terminal.",
            discussion: """
                Grids are filled by the metric's class (quantiles, viridis), outlined in braille; town \
                borders are drawn heavier. With -i the map is interactive: arrows pan, + and - zoom, Tab \
                steps through grids, Enter shows the selected grid, m cycles metrics, l toggles layers, \
                / jumps to a grid by code or name, q quits.
                """)

        @OptionGroup var store: StoreOptions

        @Option(help: "Show one town (code or name).") var town: String?
        @Option(help: "Show one village (code or name).") var village: String?
        @Option(help: "Show one grid (code).") var grid: String?

        @Option(help: "households, population, cameras, incidents, load (households per worker) or coverage (% of area).")
        var metric: MapMetricKind = .households

        @Option(help: "Point layers to draw, comma-separated: cameras,incidents,households.")
        var layers: String = ""

        @Option(help: "Columns (default: the terminal's width).") var width: Int?
        @Option(help: "Lines (default: the terminal's height).") var height: Int?

        @Option(help: "auto, always or never (NO_COLOR and non-terminal output turn colour off in auto).")
        var color: String = "auto"

        @Option(help: "codes, names or none.")
        var labels: LabelStyle = .codes

        @Option(help: "The date in the title (default: today).")
        var date: String?

        @Flag(name: .customShort("i"), help: "Interactive, full screen.")
        var interactive = false

        @OptionGroup var generationOption: GenerationOption

        @Flag(help: "Outline the grids that differ from the active generation (for the active one: from the generation it replaced).")
        var highlightChanged = false

        func validate() throws {
            guard ["auto", "always", "never"].contains(color) else { throw ValidationError("--color must be auto, always or never") }
            _ = try parsedLayers()
            if [town, village, grid].compactMap({ $0 }).count > 1 { throw ValidationError("give at most one of --town, --village, --grid") }
        }

        func parsedLayers() throws -> Set<MapPoint.Layer> {
            var result = Set<MapPoint.Layer>()
            for name in layers.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                guard let layer = MapPoint.Layer(rawValue: name) else {
                    throw ValidationError("unknown layer '\(name)': use cameras, incidents or households")
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
                throw ValidationError("--generation draws the grids of a generation; coverage and -i work on the active generation")
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
