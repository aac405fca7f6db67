import CSV
import Foundation
import GeoKit
import GridCore

/// One point record read from a CSV or GeoJSON file, before validation.
struct PointInput {
    /// "line 12" for CSV, "feature 3" for GeoJSON: where the user finds it.
    let location: String
    let id: String?
    let x: String?
    let y: String?
    let fields: [String: String]
}

/// Reads point files: CSV with a header row (coordinates in `lon`/`lat`,
/// `longitude`/`latitude` or `x`/`y`) or GeoJSON Point features.
enum PointFile {
    static let xColumns = ["lon", "lng", "longitude", "x"]
    static let yColumns = ["lat", "latitude", "y"]

    static func read(path: String) throws -> [PointInput] {
        let lower = path.lowercased()
        if lower.hasSuffix(".geojson") || lower.hasSuffix(".json") { return try readGeoJSON(path: path) }
        if lower.hasSuffix(".csv") || lower.hasSuffix(".txt") { return try readCSV(path: path) }
        throw WanggeError.invalid("\(path): unknown file type: use .csv or .geojson")
    }

    static func readCSV(path: String) throws -> [PointInput] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WanggeError.invalid("\(path): cannot read file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WanggeError.invalid("\(path): not UTF-8 text (save the CSV as UTF-8)")
        }
        // The reader takes an unclosed quote to run to the end of the file, and a
        // quoted field can span lines: find where each record starts first.
        let layout = CSVLayout(text)
        let reader: CSVReader
        do {
            reader = try CSVReader(string: text, hasHeaderRow: true, trimFields: true)
        } catch {
            throw WanggeError.invalid("\(path): malformed CSV header: \(error)")
        }
        guard let rawHeader = reader.headerRow, !rawHeader.isEmpty else { throw WanggeError.invalid("\(path): empty file, expected a header row") }
        // A UTF-8 byte order mark (Excel writes one) is not part of the first name.
        let header = rawHeader.enumerated().map { $0.offset == 0 ? $0.element.replacingOccurrences(of: "\u{FEFF}", with: "") : $0.element }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if let problem = layout.problem {
            let field = problem.record > 0 && problem.field < header.count ? "field \(header[problem.field])" : "column \(problem.field + 1)"
            throw WanggeError.invalid("\(path): line \(problem.line): \(field): \(problem.message); nothing was imported")
        }
        var firstColumnOfName: [String: Int] = [:]
        for (index, name) in header.enumerated() {
            if let first = firstColumnOfName[name] {
                throw WanggeError.invalid("\(path): line 1: column \"\(name)\" appears twice (columns \(first + 1) and \(index + 1))")
            }
            firstColumnOfName[name] = index
        }
        guard header.contains("id") else { throw WanggeError.invalid("\(path): line 1: no \"id\" column (header: \(header.joined(separator: ",")))") }
        guard let xColumn = xColumns.first(where: header.contains), let yColumn = yColumns.first(where: header.contains) else {
            throw WanggeError.invalid("\(path): line 1: no coordinate columns: expected lon,lat (or x,y)")
        }
        var rows: [PointInput] = []
        var record = 0
        while let row = reader.next() {
            record += 1
            let line = record < layout.recordLines.count ? layout.recordLines[record] : record + 1
            if row.count == 1 && row[0].isEmpty { continue } // blank line
            guard row.count == header.count else {
                throw WanggeError.invalid("\(path): line \(line): \(row.count) fields, but the header has \(header.count)")
            }
            var fields: [String: String] = [:]
            for (name, value) in zip(header, row) { fields[name] = value }
            rows.append(PointInput(location: "line \(line)", id: fields["id"], x: fields[xColumn], y: fields[yColumn], fields: fields))
        }
        if let error = reader.error { throw WanggeError.invalid("\(path): line \(record + 2): malformed CSV: \(error)") }
        return rows
    }

    static func readGeoJSON(path: String) throws -> [PointInput] {
        let document: GeoJSONDocument
        do {
            document = try GeoJSONDocument(contentsOf: path)
        } catch let error as GeoError {
            throw WanggeError.invalid(error.message)
        }
        return try document.features.map { feature in
            let location = "feature \(feature.index + 1)"
            var fields: [String: String] = [:]
            for (key, value) in feature.properties { if let text = value.text { fields[key.lowercased()] = text } }
            guard let json = feature.geometryJSONOrNil,
                  let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
                throw WanggeError.invalid("\(path): \(location): no geometry")
            }
            guard object["type"] as? String == "Point" else {
                throw WanggeError.invalid("\(path): \(location): geometry is \(object["type"] ?? "?"), expected Point")
            }
            guard let coordinates = object["coordinates"] as? [Any], coordinates.count >= 2 else {
                throw WanggeError.invalid("\(path): \(location): Point without two coordinates")
            }
            let id = fields["id"] ?? feature.id
            // A JSON number, not a string or a boolean (which would read as 1 or 0).
            func number(_ index: Int) throws -> String {
                let value = PropertyValue(json: coordinates[index])
                guard case .number(let n) = value else {
                    let shown = if case .string(let text) = value { "the string \"\(text)\"" } else { value.text ?? "null" }
                    throw WanggeError.invalid("\(path): \(location)\(id.map { " (id \($0))" } ?? ""): field coordinates[\(index)]: \(shown) is not a number")
                }
                return String(n)
            }
            return PointInput(location: location, id: id, x: try number(0), y: try number(1), fields: fields)
        }
    }
}

/// Where each record of a CSV text starts, and the first quoting problem:
/// a quote that opens a field and never closes (the CSV reader would read
/// the rest of the file into that field) or text after a closing quote.
/// Quotes follow RFC 4180 as the reader applies it: a quote opens a field
/// only as its first character (after the spaces the reader trims, 　 too),
/// and `""` inside is one quote.
struct CSVLayout {
    /// The 1-based line each record starts on; record 0 is the header.
    private(set) var recordLines: [Int] = []
    private(set) var problem: (line: Int, record: Int, field: Int, message: String)?

    init(_ text: String) {
        var text = text
        text.withUTF8 { scan($0) }
    }

    private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>) {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        let n = bytes.count
        var i = 0, line = 1, field = 0
        var inRecord = false, atFieldStart = true
        /// Steps over a line break at i (CR, LF or CRLF) if there is one.
        func lineBreak(_ i: inout Int, _ line: inout Int) -> Bool {
            guard bytes[i] == cr || bytes[i] == lf else { return false }
            if bytes[i] == cr, i + 1 < n, bytes[i + 1] == lf { i += 1 }
            i += 1
            line += 1
            return true
        }
        /// The UTF-8 length of the character at i, and whether the reader trims it as a space.
        func character(at i: Int) -> (length: Int, isSpace: Bool) {
            let b = bytes[i]
            let length = b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
            guard i + length <= n else { return (1, false) }
            var value = length == 1 ? UInt32(b) : UInt32(b) & (0xFF >> (length + 1))
            for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
            return (length, Unicode.Scalar(value).map(CSVReader.defaultWhitespaces.contains) ?? false)
        }
        while i < n {
            if !inRecord {
                recordLines.append(line)
                inRecord = true
                atFieldStart = true
                field = 0
            }
            let b = bytes[i]
            if b == quote && atFieldStart {
                let opened = line
                i += 1
                var closed = false
                while i < n {
                    if bytes[i] == quote {
                        if i + 1 < n, bytes[i + 1] == quote { i += 2; continue }
                        closed = true
                        i += 1
                        break
                    }
                    if !lineBreak(&i, &line) { i += 1 }
                }
                guard closed else {
                    problem = (opened, recordLines.count - 1, field,
                               "a quote opens this field and never closes (the rest of the file would be read into it)")
                    return
                }
                while i < n, case let c = character(at: i), c.isSpace { i += c.length }
                if i < n, bytes[i] != comma, bytes[i] != cr, bytes[i] != lf {
                    problem = (line, recordLines.count - 1, field,
                               "text after the closing quote (a quote inside a quoted field is written twice: \"\")")
                    return
                }
                atFieldStart = false
                continue
            }
            if lineBreak(&i, &line) {
                inRecord = false
                continue
            }
            if b == comma {
                field += 1
                atFieldStart = true
                i += 1
            } else {
                let c = character(at: i)
                if !c.isSpace { atFieldStart = false }
                i += c.length
            }
        }
    }
}
