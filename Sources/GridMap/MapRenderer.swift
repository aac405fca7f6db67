import Localization
import Foundation

/// What the labels show.
public enum LabelStyle: String, Sendable, CaseIterable {
    case codes, names, none
}

public struct MapOptions: Sendable {
    public var width: Int
    /// Total lines: one title line, the map, two legend lines.
    public var height: Int
    public var color: ColorMode
    public var labels: LabelStyle
    public var layers: Set<MapPoint.Layer>
    /// An area drawn with a highlighted outline (interactive selection).
    public var highlight: String?
    /// More areas drawn with a highlighted outline (a plan's changed grids).
    public var highlights: Set<String> = []
    /// The date printed in the title (fixed in tests).
    public var date: String
    /// Height of a terminal cell over its width.
    public var cellAspect: Double

    public init(width: Int, height: Int, color: ColorMode, labels: LabelStyle = .codes, layers: Set<MapPoint.Layer> = [],
                highlight: String? = nil, date: String, cellAspect: Double = 2) {
        self.width = max(width, 20)
        self.height = max(height, 8)
        self.color = color
        self.labels = labels
        self.layers = layers
        self.highlight = highlight
        self.date = date
        self.cellAspect = cellAspect
    }

    public var mapRows: Int { height - 3 }
}

/// The part of the plane on screen: its centre and the metres one column spans.
public struct Viewport: Sendable, Equatable {
    public var center: MapXY
    public var metresPerColumn: Double

    public init(center: MapXY, metresPerColumn: Double) {
        self.center = center
        self.metresPerColumn = metresPerColumn
    }

    /// The viewport that shows `bounds` whole, with a small margin.
    public static func fitting(_ bounds: MapBounds, options: MapOptions) -> Viewport {
        let columns = Double(options.width), rows = Double(options.mapRows)
        let perColumn = max(bounds.width / columns, bounds.height / (rows * options.cellAspect), 1) * 1.04
        return Viewport(center: bounds.center, metresPerColumn: perColumn)
    }
}

/// Renders a scene as lines of terminal text: a title, the map (fill colour by
/// class, braille outlines, symbols, labels) and a two-line legend with the
/// class bounds and a scale bar. Every line has exactly `width` columns.
public enum MapRenderer {
    public static func render(_ scene: MapScene, viewport: Viewport, options: MapOptions) -> [String] {
        var canvas = Canvas(width: options.width, height: options.mapRows)
        return render(scene, viewport: viewport, options: options, canvas: &canvas)
    }

    static func render(_ scene: MapScene, viewport: Viewport, options: MapOptions, canvas: inout Canvas) -> [String] {
        let frame = Frame(viewport: viewport, options: options)
        let visible = scene.areas.indices.filter { scene.areas[$0].bounds.intersects(frame.bounds) }
        let values = scene.areas.compactMap { $0.inFocus ? $0.value : nil }
        let classes = Classification(quantilesOf: values, classes: 6)
        let colours = Palette.sequential(classes.count)

        for index in visible { canvas.fill(area: scene.areas[index], index: index, frame: frame) }
        for index in visible { canvas.outline(scene.areas[index], frame: frame, into: \.lines, heavy: false) }
        for border in scene.borders where border.bounds.intersects(frame.bounds) {
            canvas.outline(border, frame: frame, into: \.heavy, heavy: true)
        }
        for area in scene.areas where area.code == options.highlight || options.highlights.contains(area.code) {
            canvas.outline(area, frame: frame, into: \.highlight, heavy: true)
        }
        for point in scene.points where options.layers.contains(point.layer) {
            canvas.symbol(point, frame: frame)
        }
        if options.labels != .none {
            canvas.placeLabels(scene.areas, visible: visible, style: options.labels, frame: frame)
        }

        let ansi = ANSI(mode: options.color)
        var lines = [fit(title(scene, options: options), width: options.width, ansi: ansi, bold: true)]
        lines += canvas.rows(scene: scene, classes: classes, colours: colours, ansi: ansi)
        lines += legend(scene, classes: classes, colours: colours, viewport: viewport, options: options, ansi: ansi)
        return lines
    }

    static func title(_ scene: MapScene, options: MapOptions) -> String {
        "\(scene.title) · \(scene.metric.title) · \(options.date)"
    }

    /// Two lines: the class swatches with their bounds and unit (continued on
    /// the second line when the first is full), then the scale bar and symbols.
    static func legend(_ scene: MapScene, classes: Classification, colours: [RGB], viewport: Viewport, options: MapOptions, ansi: ANSI) -> [String] {
        var items: [(text: String, width: Int)] = []
        for i in 0..<classes.count {
            let low = classes.lowerBound(ofClass: i), high = classes.upperBounds[i]
            let range = low == high ? number(high) : "\(number(low))–\(number(high))"
            let swatch = options.color == .none ? "[\(Palette.shades[min(i + 1, Palette.shades.count - 1)])]" : "\(ansi.background(colours[i]))  \(ansi.reset)"
            let swatchWidth = options.color == .none ? 3 : 2
            items.append((swatch + " " + range + " ", swatchWidth + 2 + displayWidth(range)))
        }
        if items.isEmpty {
            let noData = tr("no data").rendered + " "
            items.append((noData, displayWidth(noData)))
        }
        let unit = scene.metric.unit
        items[items.count - 1].text += unit
        items[items.count - 1].width += displayWidth(unit)
        var first = "", second = ""
        var used = 0
        var index = 0
        while index < items.count, used + items[index].width <= options.width {
            first += items[index].text
            used += items[index].width + 1
            first += " "
            index += 1
        }
        for item in items[index...] { second += item.text + " " }

        // Scale bar: a round length near a quarter of the width.
        let target = viewport.metresPerColumn * Double(options.width) / 4
        let magnitude = pow(10, floor(log10(target)))
        let length = [1.0, 2, 5, 10].map { $0 * magnitude }.last { $0 <= target } ?? magnitude
        let columns = max(2, Int((length / viewport.metresPerColumn).rounded()))
        let label = length >= 1000 ? "\(number(length / 1000)) km" : "\(Int(length)) m"
        second += (second.isEmpty ? "" : "  ") + "0 ├" + String(repeating: "─", count: max(0, columns - 2)) + "┤ \(label)"
        let symbols = options.layers.sorted { $0.rawValue < $1.rawValue }.map { layer in
            "\(ansi.foreground(Palette.symbols[layer]!))⠿\(ansi.reset) \(layer.label)"
        }
        if !symbols.isEmpty { second += "   " + symbols.joined(separator: "  ") }
        return [fit(first, width: options.width, ansi: ansi, bold: false), fit(second, width: options.width, ansi: ansi, bold: false)]
    }

    /// Pads or truncates plain text to `width` columns.
    public static func fitPlain(_ text: String, width: Int) -> String {
        fit(text, width: width, ansi: ANSI(mode: .none), bold: false)
    }

    /// Pads or truncates text (which may hold ANSI sequences) to `width` columns.
    static func fit(_ text: String, width: Int, ansi: ANSI, bold: Bool) -> String {
        var out = bold ? ansi.bold : ""
        var used = 0
        var inEscape = false
        for scalar in text.unicodeScalars {
            if scalar == "\u{1B}" { inEscape = true }
            if inEscape {
                out.unicodeScalars.append(scalar)
                if scalar == "m" { inEscape = false }
                continue
            }
            let w = scalarWidth(scalar)
            if used + w > width { break }
            out.unicodeScalars.append(scalar)
            used += w
        }
        return out + String(repeating: " ", count: width - used) + (bold ? ansi.reset : "")
    }

    /// Numbers as a legend shows them: whole numbers, or one decimal when small.
    static func number(_ v: Double) -> String {
        if v.rounded() == v || abs(v) >= 100 { return String(Int(v.rounded())) }
        return String(format: "%.1f", v)
    }
}

/// Screen geometry of one frame: metres ↔ columns, rows and braille dots.
struct Frame {
    let left: Double, top: Double
    let metresPerColumn: Double, metresPerRow: Double
    let columns: Int, rows: Int
    let bounds: MapBounds

    init(viewport: Viewport, options: MapOptions) {
        columns = options.width
        rows = options.mapRows
        metresPerColumn = viewport.metresPerColumn
        metresPerRow = viewport.metresPerColumn * options.cellAspect
        left = viewport.center.x - Double(columns) / 2 * metresPerColumn
        top = viewport.center.y + Double(rows) / 2 * metresPerRow
        bounds = MapBounds(minX: left, minY: top - Double(rows) * metresPerRow, maxX: left + Double(columns) * metresPerColumn, maxY: top)
    }

    /// Continuous cell coordinates (column, row) of a point.
    func cell(_ p: MapXY) -> (Double, Double) { ((p.x - left) / metresPerColumn, (top - p.y) / metresPerRow) }

    /// Braille dot coordinates: 2 across and 4 down per cell.
    func dot(_ p: MapXY) -> (Int, Int) {
        let (c, r) = cell(p)
        return (Int((c * 2).rounded(.down)), Int((r * 4).rounded(.down)))
    }
}
