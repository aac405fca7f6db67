import Foundation
import GeoFiles
import GeoKit
import GridCore
import Localization

/// Where a record is in its file, as the user finds it: "line 12" (CSV),
/// "feature 3" (GeoJSON) or "sheet 户籍, row 5" (Excel).
struct RecordLocation: CustomStringConvertible, LocalizedConvertible, Sendable {
    enum Unit: String, Sendable { case line, feature, row }
    let unit: Unit
    let number: Int
    var sheet: String?

    init(unit: Unit, number: Int, sheet: String? = nil) {
        (self.unit, self.number, self.sheet) = (unit, number, sheet)
    }

    var text: Localized {
        let place = switch unit {
        case .line: tr("line \(number)")
        case .feature: tr("feature \(number)")
        case .row: tr("row \(number)")
        }
        return sheet.map { tr("sheet \($0), \(place)") } ?? place
    }

    var description: String { text.description }
}

/// Column names a county's files use, beyond the built-in English and
/// Chinese ones: the `point_columns:` section of the configuration, each
/// name taken for the layer column it fills.
public struct PointColumnNames: Sendable, Equatable {
    /// By name as it appears in a file: the column it fills.
    public private(set) var columns: [String: String] = [:]

    public init() {}

    /// The columns a name can fill: id, coordinates, and every layer's attributes.
    public static var known: [String] {
        ["id", "lon", "lat"] + PointLayer.allCases.flatMap(\.attributeColumns).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    }

    /// Adds names for a column; `section` names where they came from in messages ("point_columns").
    public mutating func add(_ names: [String], for column: String, section: String) throws {
        guard Self.known.contains(column) else {
            throw WanggeError.invalid(tr("\(section): unknown column \"\(column)\" (one of \(Self.known.joined(separator: ", ")))"), field: section)
        }
        for name in names {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { throw WanggeError.invalid(tr("\(section).\(column): an empty name"), field: section) }
            if let other = columns[trimmed], other != column {
                throw WanggeError.invalid(tr("\(section): \"\(trimmed)\" is given for both \(other) and \(column)"), field: section)
            }
            columns[trimmed] = column
        }
    }

    /// The column a file's header name fills, if the configuration names it (as written, or in lower case).
    func column(for name: String) -> String? { columns[name] ?? columns[name.lowercased()] }
}

/// A file's column names as the import (and `locate --input`) uses them, and where id and coordinates are.
public struct PointColumns {
    let names: [String]
    let index: [String: Int]
    public let id: Int, x: Int, y: Int
    /// The Chinese names taken for layer columns ("经度 → lon").
    let renamed: [String]

    /// `place` says where the names are in the file ("line 1", "sheet 户籍, row 1");
    /// `configured` names come before the built-in Chinese ones.
    public init(_ given: [String], path: String, place: String, configured: PointColumnNames = PointColumnNames()) throws {
        var renamed: [String] = []
        names = given.map { name in
            guard let column = configured.column(for: name) ?? PointFile.chineseColumns[name] else { return name.lowercased() }
            renamed.append("\(name) → \(column)")
            return column
        }
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() {
            if let first = index[name] {
                let named = given[first].lowercased() == given[position].lowercased() ? "column \"\(name)\""
                    : "columns \"\(given[first])\" and \"\(given[position])\" both give \(name), so it"
                throw WanggeError.invalid(tr("\(path): \(place): \(named) appears twice (columns \(first + 1) and \(position + 1))"))
            }
            index[name] = position
        }
        guard let id = index["id"] else {
            throw WanggeError.invalid(tr("\(path): \(place): no \"id\" column (header: \(given.joined(separator: ",")))"))
        }
        guard let x = PointFile.xColumns.lazy.compactMap({ index[$0] }).first, let y = PointFile.yColumns.lazy.compactMap({ index[$0] }).first else {
            throw WanggeError.invalid(tr("\(path): \(place): no coordinate columns: expected lon,lat (or x,y)"))
        }
        (self.index, self.id, self.x, self.y, self.renamed) = (index, id, x, y, renamed)
    }

    func record(_ values: [String], at location: RecordLocation) -> PointFileRecord {
        PointFileRecord(location: location, id: values[id], x: values[x], y: values[y], fields: PointFields(columns: index, values: values))
    }
}

/// A record's values by column name; the records of one file share its column index.
struct PointFields: Sendable {
    let columns: [String: Int]
    let values: [String]

    subscript(name: String) -> String? { columns[name].map { values[$0] } }
}

/// One point record read from a CSV or GeoJSON file, before validation.
struct PointFileRecord: Sendable {
    let location: RecordLocation
    let id: String?
    let x: String?
    let y: String?
    let fields: PointFields
}

/// Reads point files: CSV with a header row (coordinates in `lon`/`lat`,
/// `longitude`/`latitude` or `x`/`y`) or GeoJSON Point features.
public enum PointFile {
    static let xColumns = ["lon", "lng", "longitude", "x"]
    static let yColumns = ["lat", "latitude", "y"]

    /// Column names as county centres write them, and the layer column each fills.
    static let chineseColumns: [String: String] = [
        "编号": "id", "编码": "id", "户编号": "id", "户号": "id", "设备编号": "id", "事件编号": "id",
        "经度": "lon", "纬度": "lat",
        "地址": "address", "住址": "address", "家庭住址": "address", "户主": "head", "户主姓名": "head",
        "电话": "phone", "联系电话": "phone", "手机号": "phone", "身份证号": "id_number", "身份证号码": "id_number",
        "人口数": "members", "人数": "members", "家庭人口": "members", "常住人口": "members", "标签": "tags",
        "类型": "type", "设备类型": "type", "名称": "name", "设备名称": "name", "朝向": "heading_deg", "视角": "fov_deg",
        "视距": "range_m", "距离": "range_m", "状态": "status",
        "类别": "category", "事件类别": "category", "渠道": "channel", "来源": "channel", "等级": "severity", "紧急程度": "severity",
        "上报时间": "reported_at", "受理时间": "reported_at", "发生时间": "occurred_at", "工单号": "external_id", "工单编号": "external_id", "描述": "description", "事件描述": "description",
        "上报人": "reporter", "满意度": "satisfaction", "办结时间": "closed_at",
    ]

    /// Calls `body` with the file's records in file order, at most `size` at a time;
    /// `isLast` is set on the last call (which may have no records). `notes` gets
    /// how the file was read: a CSV's encoding, a workbook's sheet, renamed columns.
    static func forEachBatch(path: String, size: Int, encoding: TextEncoding? = nil, columnNames: PointColumnNames = PointColumnNames(),
                             notes: inout [String], _ body: (_ records: [PointFileRecord], _ isLast: Bool) throws -> Void) throws {
        let lower = path.lowercased()
        if lower.hasSuffix(".geojson") || lower.hasSuffix(".json") {
            return try inBatches(try readGeoJSON(path: path), size: size, body)
        }
        if lower.hasSuffix(".xlsx") {
            return try inBatches(try readWorkbook(path: path, columnNames: columnNames, notes: &notes), size: size, body)
        }
        guard lower.hasSuffix(".csv") || lower.hasSuffix(".txt") else {
            throw WanggeError.invalid(tr("\(path): unknown file type: use .csv, .xlsx or .geojson"))
        }
        try readCSV(path: path, batchSize: size, encoding: encoding, columnNames: columnNames, notes: &notes, body)
    }

    /// The points of a workbook (.xlsx) or a GeoJSON file as the CSV `locate --input`
    /// reads (`id,x,y`, fields quoted where they need it), with each row's place in the
    /// file ("sheet 户籍, row 5") for its messages; nil for a CSV, which is read as it is.
    public static func locatableCSV(path: String, columnNames: PointColumnNames) throws -> (bytes: [UInt8], places: [String])? {
        let lower = path.lowercased()
        let records: [PointFileRecord]
        if lower.hasSuffix(".xlsx") {
            var notes: [String] = []
            records = try readWorkbook(path: path, columnNames: columnNames, notes: &notes)
        } else if lower.hasSuffix(".geojson") || lower.hasSuffix(".json") {
            records = try readGeoJSON(path: path)
        } else {
            return nil
        }
        // `locate --input` reads and writes a row a line: a line break in a cell cannot go through.
        func field(_ text: String?, _ name: String, _ record: PointFileRecord) throws -> String {
            guard let text else { return "" }
            guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
            if text.contains(where: \.isNewline) {
                throw WanggeError.invalid(tr("\(path): \(record.location): field \(name): a line break in the cell (one row, one line)"))
            }
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var csv = "id,x,y\n"
        for record in records {
            csv += try field(record.id, "id", record) + "," + field(record.x, "x", record) + "," + field(record.y, "y", record) + "\n"
        }
        return (Array(csv.utf8), records.map { $0.location.text.rendered })
    }

    /// Records read whole (GeoJSON, a workbook) handed on as `forEachBatch` does.
    private static func inBatches(_ records: [PointFileRecord], size: Int, _ body: ([PointFileRecord], Bool) throws -> Void) throws {
        for start in stride(from: 0, to: records.count, by: size) {
            let end = min(start + size, records.count)
            try body(Array(records[start..<end]), end == records.count)
        }
        if records.isEmpty { try body([], true) }
    }

    /// The CSV is mapped, not read: only a batch of records is in memory at a time.
    private static func readCSV(path: String, batchSize: Int, encoding: TextEncoding?, columnNames: PointColumnNames, notes: inout [String],
                                _ body: ([PointFileRecord], Bool) throws -> Void) throws {
        var data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw WanggeError.invalid(tr("\(path): cannot read file"))
        }
        // UTF-8 unless it is not (or --encoding says GBK): then GB18030, which holds GBK.
        let isUTF8 = encoding == .utf8 || (encoding == nil && data.withUnsafeBytes { TextDecoding.isUTF8($0.bindMemory(to: UInt8.self)) })
        if !isUTF8 {
            guard let decoded = data.withUnsafeBytes({ TextDecoding.utf8(fromGB18030: $0.bindMemory(to: UInt8.self)) }) else {
                throw WanggeError.invalid(tr("\(path): neither UTF-8 nor GBK text: save the CSV from Excel as \"CSV UTF-8（逗号分隔）\" or give --encoding"))
            }
            data = Data(decoded)
            notes.append(tr("encoding: GBK (GB18030)").rendered + (encoding == nil ? tr(", as the file is not UTF-8").rendered : tr(", as given").rendered))
        }
        // The bytes are parsed on a thread of their own while `body` checks and writes the
        // batch before: parsing is a tenth of an import, and the writing runs on one core.
        let handoff = BatchHandoff()
        let mapped = data
        let parser = try JoinedThread {
            parseCSV(mapped, path: path, batchSize: batchSize, columnNames: columnNames, into: handoff)
        }
        defer {
            handoff.stop()
            parser.join()
        }
        while true {
            switch handoff.take() {
            case .batch(let records):
                try body(records, false)
                // Freed on another thread, not by the writer (see `BackgroundRelease`).
                BackgroundRelease.release(consume records)
            case .last(let records, let renamed):
                if !renamed.isEmpty { notes.append(tr("columns: ").rendered + renamed.joined(separator: ", ")) }
                try body(records, true)
                return
            case .failure(let error):
                throw error
            }
        }
    }

    /// Records in a CSV's first batch (or `batchSize`, if smaller): the importer starts checking
    /// and writing at once instead of waiting for a whole batch to be parsed.
    static let firstBatchSize = 4_096

    /// The parsing half of `readCSV`: batches of records, then the last one, or the first error.
    private static func parseCSV(_ data: Data, path: String, batchSize: Int, columnNames: PointColumnNames, into handoff: BatchHandoff) {
        struct Stopped: Error {}
        var columns: PointColumns?
        var batch: [PointFileRecord] = []
        var limit = min(batchSize, firstBatchSize)
        do {
            do {
                try data.withUnsafeBytes { raw in
                    try CSVRecords.parse(bytes: raw.bindMemory(to: UInt8.self)) { line, fields in
                        guard let header = columns else {
                            columns = try PointColumns(fields, path: path, place: tr("line \(1)").rendered, configured: columnNames)
                            return
                        }
                        if fields.count == 1 && fields[0].isEmpty { return } // blank line
                        guard fields.count == header.names.count else {
                            throw WanggeError.invalid(tr("\(path): line \(line.number): \(fields.count) fields, but the header has \(header.names.count)"))
                        }
                        batch.append(header.record(fields, at: RecordLocation(unit: .line, number: line.number)))
                        if batch.count == limit {
                            guard handoff.put(.batch(batch)) else { throw Stopped() }
                            limit = batchSize
                            batch = []
                            batch.reserveCapacity(batchSize)
                        }
                    }
                }
            } catch let problem as CSVRecords.Problem {
                let names = columns?.names ?? []
                let field = problem.record > 0 && problem.field < names.count ? "field \(names[problem.field])" : "column \(problem.field + 1)"
                throw WanggeError.invalid(tr("\(path): line \(problem.line): \(field): \(problem.message); nothing was imported"))
            }
            guard let columns else { throw WanggeError.invalid(tr("\(path): empty file, expected a header row")) }
            _ = handoff.put(.last(batch, renamed: columns.renamed))
        } catch is Stopped {
            return
        } catch {
            _ = handoff.put(.failure(error))
        }
    }

    /// An Excel workbook: the first sheet with rows (GDAL's XLSX driver, read only),
    /// its first row the column names; rows are named by the sheet's own numbers.
    private static func readWorkbook(path: String, columnNames: PointColumnNames, notes: inout [String]) throws -> [PointFileRecord] {
        do {
            let workbook = try VectorDataset(spreadsheet: path)
            let sheets = try workbook.layers()
            guard let sheet = sheets.first(where: { ($0.featureCount ?? 1) > 0 }) ?? sheets.first else {
                throw WanggeError.invalid(tr("\(path): the workbook has no sheets"))
            }
            let columns = try PointColumns(sheet.fieldNames, path: path, place: "sheet \(sheet.name), row 1", configured: columnNames)
            notes.append(tr("sheet: \(sheet.name)").rendered + (sheets.count > 1 ? tr(" (the first with rows of \(sheets.count))").rendered : ""))
            if !columns.renamed.isEmpty { notes.append(tr("columns: ").rendered + columns.renamed.joined(separator: ", ")) }
            return try sheet.features().compactMap { feature in
                let values = sheet.fieldNames.map { feature.values[$0] ?? "" }
                if values.allSatisfy(\.isEmpty) { return nil } // an empty row
                return columns.record(values.map { $0.trimmingCharacters(in: .whitespaces) },
                                      at: RecordLocation(unit: .row, number: Int(feature.fid), sheet: sheet.name))
            }
        } catch let error as GeoError {
            throw WanggeError.invalid(error.text)
        }
    }

    static func readGeoJSON(path: String) throws -> [PointFileRecord] {
        let document: GeoJSONDocument
        do {
            document = try GeoJSONDocument(contentsOf: path)
        } catch let error as GeoError {
            throw WanggeError.invalid(error.text)
        }
        return try document.features.map { feature in
            let location = RecordLocation(unit: .feature, number: feature.index + 1)
            var columns: [String: Int] = [:]
            var values: [String] = []
            for (key, value) in feature.properties {
                guard let text = value.text else { continue }
                if let index = columns[key.lowercased()] {
                    values[index] = text
                } else {
                    columns[key.lowercased()] = values.count
                    values.append(text)
                }
            }
            let fields = PointFields(columns: columns, values: values)
            guard let json = feature.geometryJSONOrNil,
                  let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
                throw WanggeError.invalid(tr("\(path): \(location): no geometry"))
            }
            guard object["type"] as? String == "Point" else {
                throw WanggeError.invalid(tr("\(path): \(location): geometry is \(object["type"] ?? "?"), expected Point"))
            }
            guard let coordinates = object["coordinates"] as? [Any], coordinates.count >= 2 else {
                throw WanggeError.invalid(tr("\(path): \(location): Point without two coordinates"))
            }
            let id = (fields["id"] ?? feature.id)?.trimmingCharacters(in: .whitespaces)
            // A JSON number, not a string or a boolean (which would read as 1 or 0).
            func number(_ index: Int) throws -> String {
                let value = PropertyValue(json: coordinates[index])
                guard case .number(let n) = value else {
                    let shown = if case .string(let text) = value { "the string \"\(text)\"" } else { value.text ?? "null" }
                    throw WanggeError.invalid(tr("\(path): \(location)\(id.map { " (id \($0))" } ?? ""): field coordinates[\(index)]: \(shown) is not a number"))
                }
                return String(n)
            }
            return PointFileRecord(location: location, id: id, x: try number(0), y: try number(1), fields: fields)
        }
    }
}

/// Batches handed from the thread that parses a CSV to the one that imports them.
/// At most one batch waits, so memory holds three at most: the one being written,
/// the one waiting and the one being parsed.
final class BatchHandoff: @unchecked Sendable {
    enum Item: Sendable {
        case batch([PointFileRecord])
        /// The last records (perhaps none), and the header's renamed columns.
        case last([PointFileRecord], renamed: [String])
        case failure(any Error)
    }

    private let condition = NSCondition()
    private var waiting: Item?
    private var stopped = false

    /// Waits while an item waits; false once the importer has stopped (the parser then stops too).
    func put(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while waiting != nil && !stopped { condition.wait() }
        guard !stopped else { return false }
        waiting = item
        condition.broadcast()
        return true
    }

    /// The next item, waited for.
    func take() -> Item {
        condition.lock()
        defer { condition.unlock() }
        while waiting == nil { condition.wait() }
        let item = waiting!
        waiting = nil
        condition.broadcast()
        return item
    }

    /// No more items are wanted: an import that failed, or that has the last batch.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
