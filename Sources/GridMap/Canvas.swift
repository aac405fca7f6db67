/// The cells of one frame: which area fills each cell, the braille dots of
/// outlines, borders, highlight and symbols, and placed label text.
struct Canvas {
    let width: Int
    let height: Int
    var fill: [Int32]
    var lines: [UInt8]
    var heavy: [UInt8]
    var highlight: [UInt8]
    var symbols: [UInt8]
    var symbolLayer: [MapPoint.Layer?]
    /// Label characters; `continuation` marks the second column of a wide character.
    var text: [Character?]
    var continuation: [Bool]
    /// Where each placed label went: the area, its row and its columns.
    var placedLabels: [(area: Int, row: Int, columns: Range<Int>)]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        let n = width * height
        fill = Array(repeating: -1, count: n)
        lines = Array(repeating: 0, count: n)
        heavy = Array(repeating: 0, count: n)
        highlight = Array(repeating: 0, count: n)
        symbols = Array(repeating: 0, count: n)
        symbolLayer = Array(repeating: nil, count: n)
        text = Array(repeating: nil, count: n)
        continuation = Array(repeating: false, count: n)
        placedLabels = []
    }

    // MARK: Fill

    /// Scanline fill at each cell row's centre line, even-odd over all rings.
    mutating func fill(area: MapArea, index: Int, frame: Frame) {
        let (_, firstRow) = frame.cell(MapXY(0, area.bounds.maxY))
        let (_, lastRow) = frame.cell(MapXY(0, area.bounds.minY))
        let rowRange = max(0, Int(firstRow.rounded(.down)))...min(height - 1, Int(lastRow.rounded(.down)))
        guard !rowRange.isEmpty, rowRange.lowerBound <= rowRange.upperBound else { return }
        var crossings: [Double] = []
        for row in rowRange {
            let y = frame.top - (Double(row) + 0.5) * frame.metresPerRow
            crossings.removeAll(keepingCapacity: true)
            for ring in area.rings {
                var j = ring.count - 1
                for i in 0..<ring.count {
                    let a = ring[i], b = ring[j]
                    if (a.y > y) != (b.y > y) {
                        crossings.append(a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x))
                    }
                    j = i
                }
            }
            crossings.sort()
            var k = 0
            while k + 1 < crossings.count {
                let from = Int(((crossings[k] - frame.left) / frame.metresPerColumn - 0.5).rounded(.up))
                let to = Int(((crossings[k + 1] - frame.left) / frame.metresPerColumn - 0.5).rounded(.down))
                let lower = max(0, from), upper = min(width - 1, to)
                if lower <= upper {
                    for column in lower...upper { fill[row * width + column] = Int32(index) }
                }
                k += 2
            }
        }
    }

    // MARK: Lines and symbols

    static let dotBits: [[UInt8]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]

    mutating func setDot(_ x: Int, _ y: Int, in layer: WritableKeyPath<Canvas, [UInt8]>) {
        guard x >= 0, y >= 0, x < width * 2, y < height * 4 else { return }
        self[keyPath: layer][(y / 4) * width + x / 2] |= Canvas.dotBits[x % 2][y % 4]
    }

    /// Every edge of every ring in braille dots; heavy lines are two dots thick.
    mutating func outline(_ area: MapArea, frame: Frame, into layer: WritableKeyPath<Canvas, [UInt8]>, heavy: Bool) {
        for ring in area.rings where ring.count > 1 {
            var previous = frame.dot(ring[ring.count - 1])
            for point in ring {
                let current = frame.dot(point)
                line(from: previous, to: current, in: layer, thick: heavy)
                previous = current
            }
        }
    }

    mutating func line(from a: (Int, Int), to b: (Int, Int), in layer: WritableKeyPath<Canvas, [UInt8]>, thick: Bool) {
        // Skip segments wholly off screen (with room for the thick pen).
        let maxX = width * 2, maxY = height * 4
        if (a.0 < -1 && b.0 < -1) || (a.1 < -1 && b.1 < -1) || (a.0 > maxX && b.0 > maxX) || (a.1 > maxY && b.1 > maxY) { return }
        var x = a.0, y = a.1
        let dx = abs(b.0 - a.0), dy = -abs(b.1 - a.1)
        let sx = a.0 < b.0 ? 1 : -1, sy = a.1 < b.1 ? 1 : -1
        var error = dx + dy
        var steps = 0
        while steps <= 100_000 {
            setDot(x, y, in: layer)
            if thick {
                setDot(x + 1, y, in: layer)
                setDot(x, y + 1, in: layer)
            }
            if x == b.0 && y == b.1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
            steps += 1
        }
    }

    mutating func symbol(_ point: MapPoint, frame: Frame) {
        let (x, y) = frame.dot(point.position)
        guard x >= 0, y >= 0, x < width * 2, y < height * 4 else { return }
        setDot(x, y, in: \.symbols)
        symbolLayer[(y / 4) * width + x / 2] = point.layer
    }

    // MARK: Labels

    /// Greedy placement, largest areas first: a label goes where it overlaps
    /// no other label (with a column of space around it), lies inside its own
    /// area and fits on screen.
    mutating func placeLabels(_ areas: [MapArea], visible: [Int], style: LabelStyle, frame: Frame) {
        let focused = visible.filter { areas[$0].inFocus }
        let prefix = commonPrefix(focused.map { areas[$0].code })
        let order = focused.sorted {
            let a = areas[$0].bounds, b = areas[$1].bounds
            return a.width * a.height > b.width * b.height || (a.width * a.height == b.width * b.height && $0 < $1)
        }
        var taken = [Bool](repeating: false, count: width * height)
        for index in order {
            let area = areas[index]
            let label = style == .names ? area.name : String(area.code.dropFirst(prefix.count))
            guard !label.isEmpty else { continue }
            let labelWidth = displayWidth(label)
            let (c, r) = frame.cell(area.labelPoint)
            let row = Int(r.rounded(.down))
            let start = Int((c - Double(labelWidth) / 2).rounded())
            guard row >= 0, row < height, start >= 0, start + labelWidth <= width else { continue }
            let lower = max(0, start - 1), upper = min(width - 1, start + labelWidth)
            if (lower...upper).contains(where: { taken[row * width + $0] }) { continue }
            // A label stays inside its own area, so small areas go unlabelled rather than cluttered.
            if (start..<(start + labelWidth)).contains(where: { fill[row * width + $0] != Int32(index) }) { continue }
            var column = start
            for character in label {
                let w = displayWidth(String(character))
                text[row * width + column] = character
                if w == 2 { continuation[row * width + column + 1] = true }
                column += w
            }
            for c in start..<(start + labelWidth) { taken[row * width + c] = true }
            placedLabels.append((index, row, start..<(start + labelWidth)))
        }
    }

    /// The longest common prefix of whole `-`-separated segments, with its dash.
    func commonPrefix(_ codes: [String]) -> String {
        guard codes.count > 1, let first = codes.first else { return "" }
        var segments = first.split(separator: "-", omittingEmptySubsequences: false).dropLast()
        for code in codes.dropFirst() {
            let other = code.split(separator: "-", omittingEmptySubsequences: false)
            var n = 0
            while n < segments.count && n < other.count - 1 && segments[segments.startIndex + n] == other[n] { n += 1 }
            segments = segments.prefix(n)
        }
        return segments.isEmpty ? "" : segments.joined(separator: "-") + "-"
    }

    // MARK: Output

    func rows(scene: MapScene, classes: Classification, colours: [RGB], ansi: ANSI) -> [String] {
        let plain = ansi.mode == .none
        var out: [String] = []
        out.reserveCapacity(height)
        for row in 0..<height {
            var line = ""
            line.reserveCapacity(width * (plain ? 3 : 24))
            var currentForeground: RGB?
            var currentBackground: RGB?
            var hasBackground = false
            for column in 0..<width {
                let i = row * width + column
                if continuation[i] { continue }
                let areaIndex = Int(fill[i])
                let area = areaIndex >= 0 ? scene.areas[areaIndex] : nil
                var classIndex: Int?
                if let area, area.inFocus, let value = area.value, classes.count > 0 { classIndex = classes.classIndex(of: value) }
                let background: RGB? = area == nil ? nil : (area!.inFocus ? (classIndex.map { colours[$0] } ?? Palette.noData) : Palette.dimmed)
                let glyph: Character
                var foreground: RGB
                let lineColour = (background?.luminance ?? 0) > 0.5 ? RGB(hex: 0x1A1A1A) : RGB(hex: 0xE8E8E8)
                if let character = text[i] {
                    glyph = character
                    foreground = (background?.luminance ?? 0) > 0.5 ? RGB(0, 0, 0) : RGB(255, 255, 255)
                } else {
                    let bits = lines[i] | heavy[i] | highlight[i] | symbols[i]
                    if bits != 0 {
                        glyph = Character(Unicode.Scalar(0x2800 + UInt32(bits))!)
                    } else if plain, let classIndex {
                        glyph = Palette.shades[min(classIndex + 1, Palette.shades.count - 1)]
                    } else {
                        glyph = " "
                    }
                    if highlight[i] != 0 {
                        foreground = Palette.highlight
                    } else if symbols[i] != 0, let layer = symbolLayer[i] {
                        foreground = Palette.symbols[layer]!
                    } else {
                        foreground = lineColour
                    }
                }
                if !plain {
                    if background != currentBackground || (background == nil && hasBackground) {
                        if let background {
                            line += ansi.background(background)
                            hasBackground = true
                        } else {
                            line += "\u{1B}[49m"
                            hasBackground = false
                        }
                        currentBackground = background
                    }
                    if foreground != currentForeground {
                        line += ansi.foreground(foreground)
                        currentForeground = foreground
                    }
                }
                line.append(glyph)
            }
            line += ansi.reset
            out.append(line)
        }
        return out
    }
}
