import Foundation

/// How colour is written: 24-bit, the xterm 256-colour cube, or not at all.
public enum ColorMode: String, Sendable, CaseIterable {
    case truecolor, ansi256, none

    /// From `--color auto|always|never`, NO_COLOR, COLORTERM and whether stdout is a terminal.
    public static func detect(option: String, isTerminal: Bool, environment: [String: String]) -> ColorMode {
        switch option {
        case "never": return .none
        case "always": break
        default:
            if !isTerminal || environment["NO_COLOR"].map({ !$0.isEmpty }) == true || environment["TERM"] == "dumb" { return .none }
        }
        let colorterm = environment["COLORTERM"]?.lowercased() ?? ""
        return colorterm.contains("truecolor") || colorterm.contains("24bit") ? .truecolor : .ansi256
    }
}

public struct RGB: Sendable, Equatable, Hashable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    public init(hex: UInt32) {
        self.init(UInt8(hex >> 16 & 0xFF), UInt8(hex >> 8 & 0xFF), UInt8(hex & 0xFF))
    }

    /// As CSS writes it: #rrggbb.
    public var hex: String {
        "#" + [r, g, b].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// Relative luminance in 0…1 (sRGB weights, no gamma: enough to pick black or white text).
    public var luminance: Double { (0.2126 * Double(r) + 0.7152 * Double(g) + 0.0722 * Double(b)) / 255 }

    /// The nearest colour of the xterm 256-colour cube (16–231) or grey ramp (232–255).
    public var xterm256: Int {
        func level(_ v: UInt8) -> Int { v < 48 ? 0 : v < 115 ? 1 : (Int(v) - 35) / 40 }
        let levels = [0, 95, 135, 175, 215, 255]
        let (cr, cg, cb) = (level(r), level(g), level(b))
        let cube = 16 + 36 * cr + 6 * cg + cb
        let cubeError = sq(levels[cr] - Int(r)) + sq(levels[cg] - Int(g)) + sq(levels[cb] - Int(b))
        let average = (Int(r) + Int(g) + Int(b)) / 3
        let greyIndex = min(23, max(0, (average - 8) / 10))
        let grey = 8 + 10 * greyIndex
        let greyError = sq(grey - Int(r)) + sq(grey - Int(g)) + sq(grey - Int(b))
        return greyError < cubeError ? 232 + greyIndex : cube
    }

    private func sq(_ v: Int) -> Int { v * v }
}

/// Colour-blind-safe sequential palette (viridis), and the colours of lines and symbols.
public enum Palette {
    static let viridis: [RGB] = [0x440154, 0x443983, 0x31688E, 0x21918C, 0x35B779, 0x90D743, 0xFDE725].map(RGB.init(hex:))
    /// Hand-picked xterm-256 colours for the viridis stops: the nearest cube
    /// colour would merge the second and third into one.
    static let viridis256: [RGB: Int] = Dictionary(uniqueKeysWithValues: zip(viridis, [53, 60, 67, 30, 72, 149, 220]))

    /// `count` colours spread over viridis, dark to light.
    public static func sequential(_ count: Int) -> [RGB] {
        guard count > 1 else { return [viridis[3]] }
        return (0..<count).map { viridis[Int((Double($0) / Double(count - 1) * Double(viridis.count - 1)).rounded())] }
    }

    public static let noData = RGB(hex: 0x5A5A5A)
    static let dimmed = RGB(hex: 0x303030)
    static let highlight = RGB(hex: 0xFF3B30)
    static let symbols: [MapPoint.Layer: RGB] = [
        .cameras: RGB(hex: 0xFF6F61), .incidents: RGB(hex: 0xFFB000), .households: RGB(hex: 0xE0E0E0),
    ]
    /// Shades for plain text, light to dark, one per class.
    static let shades: [Character] = [" ", ".", ":", "-", "=", "+", "#"]
}

/// ANSI escape sequences for one colour mode.
struct ANSI {
    let mode: ColorMode

    func foreground(_ c: RGB) -> String {
        switch mode {
        case .truecolor: "\u{1B}[38;2;\(c.r);\(c.g);\(c.b)m"
        case .ansi256: "\u{1B}[38;5;\(Palette.viridis256[c] ?? c.xterm256)m"
        case .none: ""
        }
    }

    func background(_ c: RGB) -> String {
        switch mode {
        case .truecolor: "\u{1B}[48;2;\(c.r);\(c.g);\(c.b)m"
        case .ansi256: "\u{1B}[48;5;\(Palette.viridis256[c] ?? c.xterm256)m"
        case .none: ""
        }
    }

    var bold: String { mode == .none ? "" : "\u{1B}[1m" }
    var reset: String { mode == .none ? "" : "\u{1B}[0m" }
}

/// Display width of text in a terminal: East Asian wide and full-width characters take two columns.
public func displayWidth(_ text: String) -> Int {
    text.unicodeScalars.reduce(0) { $0 + scalarWidth($1) }
}

func scalarWidth(_ scalar: Unicode.Scalar) -> Int {
    let v = scalar.value
    if v == 0 || (0x300...0x36F).contains(v) || (0x200B...0x200F).contains(v) { return 0 }
    let wide = (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v)
        || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
        || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
        || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
    return wide ? 2 : 1
}
