import Foundation
import Testing
@testable import GridMap

/// A synthetic town: a 12 × 8 block of 500 m square grids with long CJK names,
/// more labels than can fit.
func blockScene(columns: Int = 12, rows: Int = 8, size: Double = 500, name: (Int) -> String = { "第\($0)号网格社区" }) -> MapScene {
    var areas: [MapArea] = []
    for r in 0..<rows {
        for c in 0..<columns {
            let x = Double(c) * size, y = Double(r) * size
            let ring = [MapXY(x, y), MapXY(x + size, y), MapXY(x + size, y + size), MapXY(x, y + size), MapXY(x, y)]
            let n = r * columns + c
            areas.append(MapArea(code: "430981-001-\(String(format: "%03d", r))-\(String(format: "%03d", c))",
                                 name: name(n), rings: [ring], value: Double(n % 17),
                                 labelPoint: MapXY(x + size / 2, y + size / 2)))
        }
    }
    let whole = [MapXY(0, 0), MapXY(Double(columns) * size, 0), MapXY(Double(columns) * size, Double(rows) * size), MapXY(0, Double(rows) * size), MapXY(0, 0)]
    let border = MapArea(code: "town", name: "town", rings: [whole], value: nil, labelPoint: MapXY(0, 0))
    return MapScene(title: "测试镇", metric: MapMetric(key: "households", title: "户数 households", unit: "户"),
                    areas: areas, borders: [border], points: [MapPoint(position: MapXY(250, 250), layer: .cameras)])
}

@Suite struct RendererTests {
    @Test(arguments: [ColorMode.none, .ansi256, .truecolor], [LabelStyle.names, .codes])
    func everyLineHasExactlyTheRequestedWidth(color: ColorMode, labels: LabelStyle) {
        let options = MapOptions(width: 90, height: 30, color: color, labels: labels, layers: [.cameras], date: "2026-11-21")
        let scene = blockScene()
        let lines = MapRenderer.render(scene, viewport: .fitting(scene.bounds, options: options), options: options)
        #expect(lines.count == 30)
        for (i, line) in lines.enumerated() {
            #expect(displayWidth(stripANSI(line)) == 90, "line \(i): \(stripANSI(line))")
        }
    }

    @Test func labelsNeverOverlapAndStayInsideTheirGrid() {
        let options = MapOptions(width: 100, height: 40, color: .none, labels: .names, date: "2026-11-21")
        let scene = blockScene(name: { $0 % 3 == 0 ? "第\($0)号网格社区" : "第\($0)格" })
        var canvas = Canvas(width: options.width, height: options.mapRows)
        let lines = MapRenderer.render(scene, viewport: .fitting(scene.bounds, options: options), options: options, canvas: &canvas)
        let placed = canvas.placedLabels
        #expect(placed.count >= 10, "only \(placed.count) labels placed")
        #expect(placed.count < scene.areas.count) // not all 96 fit: the test exercises rejection
        for (i, a) in placed.enumerated() {
            for b in placed[(i + 1)...] where a.row == b.row {
                // At least one blank column between two labels on a row.
                #expect(a.columns.upperBound < b.columns.lowerBound || b.columns.upperBound < a.columns.lowerBound,
                        "labels of \(scene.areas[a.area].name) and \(scene.areas[b.area].name) touch")
            }
            for column in a.columns { #expect(canvas.fill[a.row * canvas.width + column] == Int32(a.area)) }
            // The label's text is in its row, at its columns (CJK characters count two).
            #expect(lines[a.row + 1].contains(scene.areas[a.area].name))
        }
    }

    @Test func cjkLabelsKeepColumnsAligned() {
        let options = MapOptions(width: 70, height: 25, color: .none, labels: .names, date: "2026-11-21")
        let scene = blockScene(columns: 4, rows: 3, size: 2_000)
        let lines = MapRenderer.render(scene, viewport: .fitting(scene.bounds, options: options), options: options)
        let labelled = lines.filter { $0.contains("网格社区") }
        #expect(!labelled.isEmpty)
        for line in lines { #expect(displayWidth(line) == 70) }
        // The right-hand border of the town is in the same column on every map row it crosses.
        let mapLines = lines[1..<(lines.count - 2)]
        let columns = Set(mapLines.compactMap { line -> Int? in
            var column = 0, last: Int?
            for character in line {
                if let scalar = character.unicodeScalars.first, (0x2801...0x28FF).contains(scalar.value) { last = column }
                column += displayWidth(String(character))
            }
            return last
        })
        #expect(columns.count <= 2, "right border at columns \(columns.sorted())")
    }

    @Test func quantileClassesAndLegend() {
        let classes = Classification(quantilesOf: (1...100).map(Double.init), classes: 5)
        #expect(classes.upperBounds == [20, 40, 60, 80, 100])
        #expect(classes.classIndex(of: 1) == 0 && classes.classIndex(of: 41) == 2 && classes.classIndex(of: 100) == 4)
        let ties = Classification(quantilesOf: [5, 5, 5, 5, 9], classes: 6)
        #expect(ties.upperBounds == [5, 9])
        let options = MapOptions(width: 80, height: 20, color: .none, labels: .none, date: "2026-11-21")
        let scene = blockScene()
        let lines = MapRenderer.render(scene, viewport: .fitting(scene.bounds, options: options), options: options)
        #expect(lines[0].hasPrefix("测试镇 · 户数 households · 2026-11-21"))
        #expect(lines[lines.count - 2].contains("[.] 0–2") && lines[lines.count - 2].contains("户"))
        #expect(lines[lines.count - 1].contains("├") && lines[lines.count - 1].contains("km"))
    }

    @Test func scaleBarLengthMatchesTheViewport() {
        let options = MapOptions(width: 100, height: 30, color: .none, labels: .none, date: "2026-11-21")
        let viewport = Viewport(center: MapXY(0, 0), metresPerColumn: 100)
        let lines = MapRenderer.render(blockScene(), viewport: viewport, options: options)
        // A quarter of 100 columns × 100 m is 2.5 km: the bar shows 2 km = 20 columns.
        let bar = lines[lines.count - 1]
        let start = bar.firstIndex(of: "├")!, end = bar.firstIndex(of: "┤")!
        #expect(bar.distance(from: start, to: end) + 1 == 20 && bar.contains("2 km"))
    }

    @Test func colourModeDetection() {
        #expect(ColorMode.detect(option: "auto", isTerminal: false, environment: [:]) == .none)
        #expect(ColorMode.detect(option: "auto", isTerminal: true, environment: ["NO_COLOR": "1"]) == .none)
        #expect(ColorMode.detect(option: "auto", isTerminal: true, environment: ["COLORTERM": "truecolor"]) == .truecolor)
        #expect(ColorMode.detect(option: "auto", isTerminal: true, environment: [:]) == .ansi256)
        #expect(ColorMode.detect(option: "always", isTerminal: false, environment: ["NO_COLOR": "1"]) == .ansi256)
        #expect(ColorMode.detect(option: "never", isTerminal: true, environment: ["COLORTERM": "truecolor"]) == .none)
    }
}

func stripANSI(_ text: String) -> String {
    text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
}
