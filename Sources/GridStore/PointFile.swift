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
        throw StoreError("\(path): unknown file type: use .csv or .geojson")
    }

    static func readCSV(path: String) throws -> [PointInput] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError("\(path): cannot read file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw StoreError("\(path): not UTF-8 text (save the CSV as UTF-8)")
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(string: text, hasHeaderRow: true, trimFields: true)
        } catch {
            throw StoreError("\(path): malformed CSV header: \(error)")
        }
        guard let rawHeader = reader.headerRow, !rawHeader.isEmpty else { throw StoreError("\(path): empty file, expected a header row") }
        // A UTF-8 byte order mark (Excel writes one) is not part of the first name.
        let header = rawHeader.enumerated().map { $0.offset == 0 ? $0.element.replacingOccurrences(of: "\u{FEFF}", with: "") : $0.element }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard header.contains("id") else { throw StoreError("\(path): line 1: no \"id\" column (header: \(header.joined(separator: ",")))") }
        guard let xColumn = xColumns.first(where: header.contains), let yColumn = yColumns.first(where: header.contains) else {
            throw StoreError("\(path): line 1: no coordinate columns: expected lon,lat (or x,y)")
        }
        var rows: [PointInput] = []
        var line = 1
        while let row = reader.next() {
            line += 1
            if row.count == 1 && row[0].isEmpty { continue } // blank line
            guard row.count == header.count else {
                throw StoreError("\(path): line \(line): \(row.count) fields, but the header has \(header.count)")
            }
            var fields: [String: String] = [:]
            for (name, value) in zip(header, row) { fields[name] = value }
            rows.append(PointInput(location: "line \(line)", id: fields["id"], x: fields[xColumn], y: fields[yColumn], fields: fields))
        }
        if let error = reader.error { throw StoreError("\(path): line \(line + 1): malformed CSV: \(error)") }
        return rows
    }

    static func readGeoJSON(path: String) throws -> [PointInput] {
        let document: GeoJSONDocument
        do {
            document = try GeoJSONDocument(contentsOf: path)
        } catch let error as GeoError {
            throw StoreError(error.message)
        }
        return try document.features.map { feature in
            let location = "feature \(feature.index + 1)"
            var fields: [String: String] = [:]
            for (key, value) in feature.properties { if let text = value.text { fields[key.lowercased()] = text } }
            guard let json = feature.geometryJSONOrNil,
                  let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
                throw StoreError("\(path): \(location): no geometry")
            }
            guard object["type"] as? String == "Point" else {
                throw StoreError("\(path): \(location): geometry is \(object["type"] ?? "?"), expected Point")
            }
            guard let coordinates = object["coordinates"] as? [Any], coordinates.count >= 2 else {
                throw StoreError("\(path): \(location): Point without two coordinates")
            }
            let id = fields["id"] ?? feature.id
            func text(_ value: Any) -> String {
                if let number = value as? NSNumber { return String(number.doubleValue) }
                return "\(value)"
            }
            return PointInput(location: location, id: id, x: text(coordinates[0]), y: text(coordinates[1]), fields: fields)
        }
    }
}
