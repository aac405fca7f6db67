import Localization
/// Bounds on the text that imports, reports and the API accept (documented in
/// README, "Limits"). Unbounded text is a way to fill the disk: a
/// 100,000-character grid code once filled 21 GB of write-ahead log.
/// Lengths count Unicode scalars (what a user would call characters).
public enum TextLimits {
    /// Grid, village and town codes; household, camera and incident ids; phone and ID numbers.
    public static let code = 64
    /// Names of grids, villages, towns, people and cameras; camera types.
    public static let name = 200
    /// Addresses, descriptions, notes and tags.
    public static let text = 2_000

    /// What is wrong with a text of at most `limit` characters, without control
    /// characters (line breaks, tabs) unless `multiline`; nil when it is fine.
    public static func problem(_ value: String, limit: Int, multiline: Bool = false) -> Localized? {
        // One pass over the UTF-8 bytes (imports check millions of fields): a scalar
        // starts at every byte that is not a continuation byte, and the control
        // characters (Cc) are U+0000–U+001F and U+007F–U+009F, the last as C2 80–C2 9F.
        var length = 0
        var control: UInt32?
        var previous: UInt8 = 0
        for byte in value.utf8 {
            if byte & 0xC0 != 0x80 { length += 1 }
            if control == nil {
                if byte < 0x20 || byte == 0x7F {
                    if !(multiline && (byte == 0x0A || byte == 0x0D || byte == 0x09)) { control = UInt32(byte) }
                } else if previous == 0xC2, (0x80...0x9F).contains(byte) {
                    control = UInt32(byte)
                }
            }
            previous = byte
        }
        if length > limit { return tr("is \(length) characters long; at most \(limit) are allowed") }
        if let control {
            return tr("contains the control character U+\(String(control, radix: 16, uppercase: true).leftPadded(to: 4))")
        }
        return nil
    }

    /// What is wrong with a grid, village or town code: at most 64 characters
    /// of A–Z, a–z, 0–9, `_`, `-` and `.`, with single spaces between words
    /// (as in county names used as codes, e.g. "New Hanover"); nil when it is fine.
    public static func codeProblem(_ code: String) -> Localized? {
        if let problem = problem(code, limit: Self.code) { return problem }
        let allowed = code.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-. ".unicodeScalars.contains($0)) }
        guard allowed, !code.hasPrefix(" "), !code.hasSuffix(" "), !code.contains("  ") else {
            return tr("may hold only letters A–Z and a–z, digits, \"_\", \"-\", \".\" and single spaces between words")
        }
        return nil
    }

    /// The first problem among named free-text values (`name: "…" is … long`), nil when all are fine.
    public static func firstProblem(_ values: [(name: String, value: String?, limit: Int)]) -> Localized? {
        for (name, value, limit) in values {
            if let value, let problem = problem(value, limit: limit, multiline: limit == Self.text) { return tr("\(name): \(shown(value)) \(problem)") }
        }
        return nil
    }

    /// A value for a message: quoted, and cut short if long.
    public static func shown(_ value: String) -> String {
        value.unicodeScalars.count <= 40 ? "\"\(value)\"" : "\"\(String(String.UnicodeScalarView(value.unicodeScalars.prefix(40))))…\""
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
