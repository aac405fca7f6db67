import Foundation

/// RFC 4180 CSV read in one pass over the UTF-8 bytes, with every field trimmed
/// of spaces (tabs, the Unicode space separators such as the ideographic space
/// U+3000, and the zero-width space: Foundation's `CharacterSet.whitespaces`). A quote opens a field only as its first character after those
/// spaces; `""` inside is one quote; a quoted field may span lines and keeps its
/// spaces. Line breaks are CR, LF or CRLF. A byte order mark at the start is skipped.
///
/// Two things are errors rather than guesses: a quote that opens a field and never
/// closes (the rest of the file would be read into it) and text after a closing quote.
enum CSVRecords {
    /// A record's place: its index (0 is the header) and the line it starts on.
    struct Position {
        let record: Int
        let number: Int
    }

    struct Problem: Error {
        let line: Int
        let record: Int
        let field: Int
        let message: String
    }

    /// Calls `body` with each record's position and fields, in file order. A field
    /// that is not UTF-8 is a `Problem` (the caller decides the encoding first).

    private static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")

    static func parse(bytes: UnsafeBufferPointer<UInt8>, _ body: (Position, [String]) throws -> Void) throws {
        let n = bytes.count
        var i = n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        var line = 1, record = 0
        var fields: [String] = []
        while i < n {
            let start = Position(record: record, number: line)
            // A new array for each record, as wide as the one before: the caller keeps it. With
            // `removeAll(keepingCapacity:)` instead, a 695,000-row import's peak grew by 370 MB once
            // its batches overlapped (heaptrack: those arrays outlived their records until the
            // parsing thread ended; why was not found). Measured with scripts/bench-import.sh.
            let width = fields.count
            fields = []
            fields.reserveCapacity(width)
            var endOfRecord = false
            while !endOfRecord {
                while i < n, case let space = spaceLength(bytes, i), space > 0 { i += space }
                if i < n, bytes[i] == quote {
                    let opened = line
                    i += 1
                    let contentStart = i
                    var escaped = false, closed = false
                    while i < n {
                        let b = bytes[i]
                        if b == quote {
                            if i + 1 < n, bytes[i + 1] == quote {
                                escaped = true
                                i += 2
                                continue
                            }
                            closed = true
                            break
                        }
                        if b == lf || (b == cr && !(i + 1 < n && bytes[i + 1] == lf)) { line += 1 }
                        i += 1
                    }
                    guard closed else {
                        throw Problem(line: opened, record: record, field: fields.count,
                                      message: "a quote opens this field and never closes (the rest of the file would be read into it)")
                    }
                    guard var value = text(UnsafeBufferPointer(rebasing: bytes[contentStart..<i])) else {
                        throw notUTF8(line: opened, record: record, field: fields.count)
                    }
                    if escaped { value = value.replacingOccurrences(of: "\"\"", with: "\"") }
                    fields.append(value)
                    i += 1
                    while i < n, case let space = spaceLength(bytes, i), space > 0 { i += space }
                    if i < n, bytes[i] != comma, bytes[i] != cr, bytes[i] != lf {
                        throw Problem(line: line, record: record, field: fields.count - 1,
                                      message: "text after the closing quote (a quote inside a quoted field is written twice: \"\")")
                    }
                } else {
                    let valueStart = i
                    var valueEnd = i
                    while i < n {
                        let b = bytes[i]
                        if b == comma || b == cr || b == lf { break }
                        if b < 0x80 {
                            i += 1
                            if b != 0x20 && b != 0x09 { valueEnd = i }
                        } else {
                            let space = spaceLength(bytes, i)
                            i += space > 0 ? space : 1
                            if space == 0 { valueEnd = i }
                        }
                    }
                    guard let value = text(UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd])) else {
                        throw notUTF8(line: line, record: record, field: fields.count)
                    }
                    fields.append(value)
                }
                // After the field: a comma, a line break or the end.
                if i >= n {
                    endOfRecord = true
                } else if bytes[i] == comma {
                    i += 1
                    if i >= n { fields.append(""); endOfRecord = true }
                } else {
                    if bytes[i] == cr, i + 1 < n, bytes[i + 1] == lf { i += 1 }
                    i += 1
                    line += 1
                    endOfRecord = true
                }
            }
            try body(start, fields)
            record += 1
        }
    }

    /// The field's text, nil when it is not well-formed UTF-8. (`String(validating:as:)`
    /// is generic over the encoding: its metadata look-ups were 4% of a household import.)
    @inline(__always)
    private static func text(_ field: UnsafeBufferPointer<UInt8>) -> String? {
        TextDecoding.isUTF8(field) ? String(decoding: field, as: UTF8.self) : nil
    }

    private static func notUTF8(line: Int, record: Int, field: Int) -> Problem {
        Problem(line: line, record: record, field: field,
                message: "not UTF-8 text (save the CSV as UTF-8: in Excel, 另存为 \"CSV UTF-8（逗号分隔）\")")
    }

    /// The byte length of the space character at `i` that fields are trimmed of
    /// (tab and the Unicode space separators, Zs), or 0.
    @inline(__always)
    static func spaceLength(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let b = bytes[i]
        if b == 0x20 || b == 0x09 { return 1 }
        if b < 0x80 { return 0 }
        let n = bytes.count
        switch b {
        case 0xC2: // U+00A0
            return i + 1 < n && bytes[i + 1] == 0xA0 ? 2 : 0
        case 0xE1: // U+1680
            return i + 2 < n && bytes[i + 1] == 0x9A && bytes[i + 2] == 0x80 ? 3 : 0
        case 0xE2: // U+2000–U+200B (Foundation counts the zero-width space too), U+202F, U+205F
            guard i + 2 < n else { return 0 }
            let (b1, b2) = (bytes[i + 1], bytes[i + 2])
            return (b1 == 0x80 && ((0x80...0x8B).contains(b2) || b2 == 0xAF)) || (b1 == 0x81 && b2 == 0x9F) ? 3 : 0
        case 0xE3: // U+3000
            return i + 2 < n && bytes[i + 1] == 0x80 && bytes[i + 2] == 0x80 ? 3 : 0
        default:
            return 0
        }
    }
}
