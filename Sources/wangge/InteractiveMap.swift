import GridApplication
import Foundation
import GridCore
import GridMap
import GridStore
import Localization

/// The terminal state to restore, reachable from a signal handler.
nonisolated(unsafe) private var savedTerminal = termios()
nonisolated(unsafe) private var terminalIsRaw = false

/// Leaves the alternate screen, shows the cursor and restores the saved mode.
private func restoreTerminal() {
    guard terminalIsRaw else { return }
    let sequence = "\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l"
    _ = sequence.withCString { write(1, $0, strlen($0)) }
    tcsetattr(0, TCSAFLUSH, &savedTerminal)
    terminalIsRaw = false
}

/// `wangge map -i`: full screen, raw keyboard, redrawn on every key and on resize.
struct InteractiveMap {
    let data: MapData
    var options: MapOptions
    var metric: MapMetricKind
    var focus: MapFocus

    enum Key: Equatable {
        case up, down, left, right, plus, minus, tab, backTab, enter, escape, backspace, quit
        case character(Character)
    }

    /// Layer sets that `l` cycles through.
    static let layerCycle: [Set<MapPoint.Layer>] = [[], [.cameras], [.incidents], [.cameras, .incidents], [.households]]

    func run() throws {
        guard isatty(0) == 1, isatty(1) == 1 else { throw WanggeError.invalid(tr("map -i needs a terminal on standard input and output")) }
        guard tcgetattr(0, &savedTerminal) == 0 else { throw WanggeError.invalid(tr("cannot read the terminal mode")) }
        var raw = savedTerminal
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | BRKINT | INPCK | ISTRIP)
        guard tcsetattr(0, TCSAFLUSH, &raw) == 0 else { throw WanggeError.invalid(tr("cannot switch the terminal to raw mode")) }
        terminalIsRaw = true
        for sig in [SIGTERM, SIGHUP, SIGQUIT] {
            signal(sig) { number in
                restoreTerminal()
                _exit(128 + number)
            }
        }
        defer { restoreTerminal() }
        writeOut("\u{1B}[?1049h\u{1B}[?25l")
        var session = Session(map: self)
        try session.loop()
    }

    struct Session {
        var map: InteractiveMap
        var viewport: Viewport
        var selected: Int?
        var layerIndex = 0
        var details: [String]?
        var search: String?
        var message: String?
        let order: [Int]

        init(map: InteractiveMap) {
            self.map = map
            let size = TerminalSize.current()
            if let size {
                self.map.options.width = size.columns
                self.map.options.height = size.rows - 1
            }
            viewport = Viewport.fitting(map.data.focusBounds(map.focus), options: self.map.options)
            order = map.data.grids.indices.filter { map.data.inFocus(map.data.grids[$0], map.focus) }
            layerIndex = InteractiveMap.layerCycle.firstIndex(of: map.options.layers) ?? 0
        }

        mutating func loop() throws {
            var lastSize = TerminalSize.current().map { ($0.columns, $0.rows) }
            try draw()
            while true {
                let keys = readKeys(timeoutMilliseconds: 250)
                guard !keys.isEmpty else {
                    let size = TerminalSize.current().map { ($0.columns, $0.rows) }
                    if let size, size.0 != lastSize?.0 || size.1 != lastSize?.1 {
                        lastSize = size
                        map.options.width = size.0
                        map.options.height = size.1 - 1
                        try draw()
                    }
                    continue
                }
                for key in keys where try !handle(key) { return }
                try draw()
            }
        }

        /// Applies one key; false to quit.
        mutating func handle(_ key: Key) throws -> Bool {
            if search != nil { return try handleSearch(key) }
            let hadDetails = details != nil
            details = nil
            message = nil
            let stepX = viewport.metresPerColumn * Double(map.options.width) / 8
            let stepY = viewport.metresPerColumn * map.options.cellAspect * Double(map.options.mapRows) / 8
            switch key {
            case .quit, .character("q"), .character("Q"): return false
            case .escape: if !hadDetails { return true }
            case .left: viewport.center.x -= stepX
            case .right: viewport.center.x += stepX
            case .up: viewport.center.y += stepY
            case .down: viewport.center.y -= stepY
            case .plus, .character("="): viewport.metresPerColumn /= 1.5
            case .minus, .character("_"): viewport.metresPerColumn *= 1.5
            case .tab, .backTab:
                guard !order.isEmpty else { break }
                let position = selected.flatMap { order.firstIndex(of: $0) }
                let next = key == .tab ? ((position ?? -1) + 1) % order.count : ((position ?? order.count) - 1 + order.count) % order.count
                select(order[next])
            case .enter:
                if let selected { details = detailLines(selected) } else { message = tr("Tab selects a grid first").rendered }
            case .character("m"):
                let all = MapMetricKind.allCases
                map.metric = all[((all.firstIndex(of: map.metric) ?? 0) + 1) % all.count]
            case .character("l"):
                layerIndex = (layerIndex + 1) % InteractiveMap.layerCycle.count
            case .character("/"):
                search = ""
            case .character("0"):
                viewport = Viewport.fitting(map.data.focusBounds(map.focus), options: map.options)
            default: break
            }
            return true
        }

        mutating func handleSearch(_ key: Key) throws -> Bool {
            switch key {
            case .escape, .quit: search = nil
            case .backspace: if !(search ?? "").isEmpty { search!.removeLast() }
            case .enter:
                let query = search ?? ""
                search = nil
                let grids = map.data.grids
                if let found = grids.indices.first(where: { grids[$0].code == query })
                    ?? grids.indices.first(where: { grids[$0].code.hasSuffix(query) || grids[$0].name == query })
                    ?? grids.indices.first(where: { grids[$0].name.contains(query) || grids[$0].villageName.contains(query) }),
                   !query.isEmpty {
                    select(found)
                    let bounds = map.data.gridRings[found].joined().reduce(MapBounds.empty) { $0.including($1) }
                    viewport.center = bounds.center
                } else {
                    message = tr("no grid matches \"\(query)\"").rendered
                }
            case .character(let c): search!.append(c)
            default: break
            }
            return true
        }

        mutating func select(_ index: Int) {
            selected = index
            let bounds = map.data.gridRings[index].joined().reduce(MapBounds.empty) { $0.including($1) }
            let frameWidth = viewport.metresPerColumn * Double(map.options.width)
            let frameHeight = viewport.metresPerColumn * map.options.cellAspect * Double(map.options.mapRows)
            // Keep the selected grid on screen.
            if abs(bounds.center.x - viewport.center.x) > frameWidth * 0.4 || abs(bounds.center.y - viewport.center.y) > frameHeight * 0.4 {
                viewport.center = bounds.center
            }
        }

        func detailLines(_ index: Int) -> [String] {
            let grid = map.data.grids[index]
            let s = map.data.statistics[grid.code]
            return [
                "\(grid.name)  \(grid.code)",
                tr("\(grid.townName) \(grid.villageName)   area \(String(format: "%.2f", (grid.areaSquareMetres ?? 0) / 1e6)) km²").rendered,
                tr("grid worker: \(grid.workerName ?? "-")  \(grid.workerPhone ?? "")").rendered,
                tr("households: \(s?.households ?? 0)   residents: \(s?.residents ?? 0)").rendered,
                tr("cameras: \(s?.cameras ?? 0) (\(s?.camerasOnline ?? 0) online)   open incidents: \(s?.openIncidents ?? 0) of \(s?.incidents ?? 0)").rendered,
                tr("(any key closes)").rendered,
            ]
        }

        func draw() throws {
            var options = map.options
            options.layers = InteractiveMap.layerCycle[layerIndex]
            options.highlight = selected.map { map.data.grids[$0].code }
            let scene = try map.data.scene(metric: map.metric, focus: map.focus)
            var lines = MapRenderer.render(scene, viewport: viewport, options: options)
            let ansi = options.color == .none ? ("", "") : ("\u{1B}[7m", "\u{1B}[0m")
            if let details {
                let boxWidth = min(options.width - 2, (details.map(displayWidth).max() ?? 0) + 4)
                for (k, text) in details.enumerated() where k + 2 < lines.count {
                    let padded = " " + text + String(repeating: " ", count: max(0, boxWidth - displayWidth(text) - 1))
                    lines[k + 2] = ansi.0 + MapRenderer.fitPlain(padded, width: boxWidth) + ansi.1 + "\u{1B}[K"
                }
            }
            let status: String
            if let search {
                status = tr("/ find grid (code or name): \(search)▏  Enter jump · Esc cancel").rendered
            } else if let message {
                status = message
            } else {
                status = tr("←↑↓→ pan  +/- zoom  0 reset  Tab grid  Enter details  m metric  l layers  / find  q quit").rendered
            }
            lines.append(ansi.0 + MapRenderer.fitPlain(status, width: options.width) + ansi.1)
            writeOut("\u{1B}[H" + lines.joined(separator: "\u{1B}[K\r\n") + "\u{1B}[J")
        }
    }
}

/// Writes all of `text` to standard output, unbuffered.
func writeOut(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { if errno == EINTR { continue } else { return } }
        offset += written
    }
}

/// Reads the keys waiting on standard input (a paste or an IME commit can
/// bring several at once), decoding arrow keys and UTF-8; empty on timeout.
func readKeys(timeoutMilliseconds: Int32) -> [InteractiveMap.Key] {
    var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
    guard poll(&descriptor, 1, timeoutMilliseconds) > 0 else { return [] }
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = read(0, &buffer, buffer.count)
    guard count > 0 else { return [.quit] }
    var keys: [InteractiveMap.Key] = []
    var i = 0
    let bytes = Array(buffer[0..<count])
    while i < bytes.count {
        let b = bytes[i]
        if b == 27 {
            if i + 2 < bytes.count, bytes[i + 1] == 91 {
                let map: [UInt8: InteractiveMap.Key] = [65: .up, 66: .down, 67: .right, 68: .left, 90: .backTab]
                keys.append(map[bytes[i + 2]] ?? .escape)
                i += 3
            } else {
                keys.append(.escape)
                i += 1
            }
            continue
        }
        switch b {
        case 3, 4: keys.append(.quit) // Ctrl-C, Ctrl-D: raw mode delivers them as bytes
        case 9: keys.append(.tab)
        case 10, 13: keys.append(.enter)
        case 8, 127: keys.append(.backspace)
        case 43: keys.append(.plus)
        case 45: keys.append(.minus)
        default:
            // One UTF-8 character: its length from the lead byte.
            let length = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
            let end = min(bytes.count, i + length)
            if let character = String(decoding: bytes[i..<end], as: UTF8.self).first { keys.append(.character(character)) }
            i = end
            continue
        }
        i += 1
    }
    return keys
}
