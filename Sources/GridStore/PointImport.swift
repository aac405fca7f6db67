import Foundation
import GRDB
import GeoFiles
import GeoKit
import GridCore
import Localization

/// A validated point record ready to store.
struct PointRecord: Sendable {
    let location: RecordLocation
    let id: String
    let source: (x: Double, y: Double)
    let position: LonLat
    let values: [DatabaseValue]
}

extension PointLayer {
    /// The layer's attribute columns, in table order.
    var attributeColumns: [String] {
        switch self {
        case .households: ["address", "head", "phone", "id_number", "members", "tags"]
        case .cameras: ["type", "name", "heading_deg", "fov_deg", "range_m", "status"]
        case .incidents: ["category", "channel", "severity", "status", "reported_at", "description", "reporter", "satisfaction",
                           "closed_at", "occurred_at", "external_id"]
        }
    }
}

enum FieldCheck {
    /// A finite number written in decimal (112.36, -5, 3.1e5). `Double(_:)` alone
    /// would also take hexadecimal floats (0x1.c1p6), nan and inf.
    static func decimal(_ text: String) -> Double? {
        var text = text
        guard text.withUTF8(isDecimal), let value = Double(text), value.isFinite else { return nil }
        return value
    }

    private static func isDecimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        func digits() -> Int {
            let start = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            return i - start
        }
        func sign() { if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 } }
        sign()
        var mantissa = digits()
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            mantissa += digits()
        }
        guard mantissa > 0 else { return false }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            sign()
            guard digits() > 0 else { return false }
        }
        return i == bytes.count
    }

    static func number(_ fields: PointFields, _ name: String, range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        guard let value = decimal(text) else { throw WanggeError.invalid(tr("field \(name): \(TextLimits.shown(text)) is not a number (write it in decimal, e.g. 12.5)")) }
        if let range, !range.contains(value) {
            throw WanggeError.invalid(tr("field \(name): \(text) is outside \(range.lowerBound)…\(range.upperBound)"))
        }
        return value
    }

    static func integer(_ fields: PointFields, _ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        guard let value = Int(text) else { throw WanggeError.invalid(tr("field \(name): \"\(text)\" is not a whole number")) }
        guard range.contains(value) else { throw WanggeError.invalid(tr("field \(name): \(value) is outside \(range.lowerBound)…\(range.upperBound)")) }
        return value
    }

    static func oneOf(_ fields: PointFields, _ name: String, _ allowed: [String]) throws -> String? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        guard allowed.contains(text) else { throw WanggeError.invalid(tr("field \(name): \"\(text)\" is not one of \(allowed.joined(separator: ", "))")) }
        return text
    }

    /// A text field of at most `limit` characters (see `TextLimits`); nil when empty.
    static func text(_ fields: PointFields, _ name: String, limit: Int = TextLimits.name, multiline: Bool = false) throws -> String? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        if let problem = TextLimits.problem(text, limit: limit, multiline: multiline) {
            throw WanggeError.invalid(tr("field \(name): \(TextLimits.shown(text)) \(problem)"))
        }
        return text
    }
}

extension GridStore {
    public static let cameraStatuses = ["online", "offline", "fault"]
    public static let incidentStatuses = IncidentStatus.allCases.map(\.rawValue)

    /// Imports households, cameras or incidents from CSV or GeoJSON, converts
    /// them to WGS84, assigns them to the active generation's grids and stores
    /// both in one transaction. Households and cameras with an id already stored
    /// are updated in place; incidents already stored are refused (their status,
    /// version and history belong to the workflow, not to a file).
    /// Any bad record fails the whole import and nothing changes.
    /// A CSV is read as UTF-8, or as GBK (GB18030) when it is not UTF-8 or `encoding` says so.
    /// `columnNames` are the configuration's names for columns (`point_columns:`), besides the built-in ones.
    public func importPoints(_ layer: PointLayer, path: String, crs: CoordinateSystem = .wgs84, encoding: TextEncoding? = nil,
                             dispatch: DispatchRules = DispatchRules(), columnNames: PointColumnNames = PointColumnNames(),
                             progress: (@Sendable (String) -> Void)? = nil) throws -> ImportReport {
        try importPoints(layer, path: path, crs: crs, encoding: encoding, dispatch: dispatch, columnNames: columnNames,
                         bulkLoadFrom: Self.bulkLoadRecords, batchSize: Self.importBatch, progress: progress)
    }

    /// From how many records an import suspends SpatiaLite's per-row triggers and packs the
    /// spatial index afresh (`SuspendedSpatialTriggers`): below it the triggers cost less than the rebuild.
    static let bulkLoadRecords = 5_000

    /// Records read, checked, assigned and written at a time: the file is streamed,
    /// so memory does not grow with it (695,000 households stay under 500 MB).
    static let importBatch = 32_768

    func importPoints(_ layer: PointLayer, path: String, crs: CoordinateSystem, encoding: TextEncoding? = nil, dispatch: DispatchRules,
                      columnNames: PointColumnNames = PointColumnNames(), bulkLoadFrom: Int, batchSize: Int,
                      progress: (@Sendable (String) -> Void)?) throws -> ImportReport {
        let start = Date()
        let generation = try activeGeneration()
        let assigner = try GridAssigner(shapes: try gridShapes(generation: generation), rules: rules)
        var validator = try PointValidator(layer: layer, crs: crs, source: path, dispatch: dispatch)
        var report = ImportReport(file: path, imported: 0)
        report.generation = generation
        let columns = ["id"] + layer.attributeColumns + ["source_crs", "source_x", "source_y", "geom"]
        let placeholders = Array(repeating: "?", count: columns.count - 1).joined(separator: ", ") + ", MakePoint(?, ?, 4326)"
        // An UPDATE, not INSERT OR REPLACE: REPLACE's hidden delete skips SpatiaLite's
        // index triggers and leaves the old point in the spatial index.
        // A household imported over one bumps its version: an edit begun before the import is then stale.
        let updates = columns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            + (layer == .households ? ", version = version + 1" : "")
        let source = crs.description
        try database.pool.write { db in try Self.withBulkWriteCache(db) {
            // The assignments are computed for this generation: refuse if another became active meanwhile.
            guard try Self.activeGeneration(db) == generation else {
                throw WanggeError.invalid(tr("\(path): the active generation changed during the import (a plan was activated); nothing was imported, run it again"))
            }
            var suspendedTriggers: SuspendedSpatialTriggers?
            var tickets: [String: RecordLocation] = [:]
            var notes: [String] = []
            try Self.forEachCheckedBatch(path: path, size: batchSize, encoding: encoding, columnNames: columnNames, notes: &notes,
                                         validator: &validator, assigner: assigner) { count, isLast in
                // More batches to come means far more records than the triggers are worth.
                if (isLast ? count : .max) >= bulkLoadFrom { suspendedTriggers = try SuspendedSpatialTriggers(db, table: layer.table) }
            } write: { records, assignments in
                if layer == .incidents {
                    try Self.refuseStoredIncidents(db, records, source: path)
                    try Self.refuseRepeatedTickets(db, records, seen: &tickets, source: path)
                }
                try BulkInsert(db, head: "INSERT INTO \(layer.table) (\(columns.joined(separator: ", ")))", row: "(\(placeholders))",
                               tail: "ON CONFLICT (id) DO UPDATE SET \(updates)").insert(records) { row, record in
                    row.bind(record.id)
                    for value in record.values { row.bind(value) }
                    row.bind(source)
                    row.bind(record.source.x)
                    row.bind(record.source.y)
                    row.bind(record.position.lon)
                    row.bind(record.position.lat)
                }
                let stored = records.map { StoredPoint(layer: layer, id: $0.id, position: $0.position) }
                try Self.writeAssignments(db, generation: generation, codes: assigner.codes, points: stored, assignments: assignments)
                if layer == .incidents {
                    try Self.routeImportedIncidents(db, ids: records.map(\.id), generation: generation, rules: dispatch, source: path)
                }
                report.imported += records.count
                Self.tally(assignments, into: &report)
                progress?(tr("\(report.imported) \(layer.table) read, checked, assigned and written").rendered)
            }
            report.notes = notes
            try validator.finish()
            try suspendedTriggers?.restore()
        } }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// A point file's good records and their assignments, a batch at a time, for `write`.
    /// Both stores write on one connection, so on one core: each batch is checked and
    /// assigned on another thread while `write` writes the one before it (and the one after
    /// is parsed), 216,000 households 1.75 → 1.5 s into SpatiaLite. A batch's write still
    /// comes before the next batch's problems, and an error stops both. After a bad record
    /// nothing more is written: the rest is only read for its problems (`validator.finish()`).
    /// `first` hears the first batch's size, and whether it is the last, before any write.
    static func forEachCheckedBatch(path: String, size: Int, encoding: TextEncoding?, columnNames: PointColumnNames, notes: inout [String],
                                    validator: inout PointValidator, assigner: GridAssigner,
                                    first: (_ count: Int, _ isLast: Bool) throws -> Void = { _, _ in },
                                    write: (_ records: [PointRecord], _ assignments: [PointAssignment]) throws -> Void) throws {
        // A copy the checking thread can hold (an escaping closure cannot hold an inout), given back at the end.
        var checker = validator
        defer { validator = checker }
        func check(_ inputs: [PointFileRecord]) throws -> (records: [PointRecord], assignments: [PointAssignment])? {
            let records = try checker.validate(inputs)
            guard checker.isClean, !records.isEmpty else { return nil }
            return (records, try assigner.assign(records.map(\.position)))
        }
        var decided = false
        var checked: (records: [PointRecord], assignments: [PointAssignment])?
        try PointFile.forEachBatch(path: path, size: size, encoding: encoding, columnNames: columnNames, notes: &notes) { inputs, isLast in
            if !decided {
                decided = true
                try first(inputs.count, isLast)
            }
            let checking = BackgroundWork { try check(inputs) }
            do {
                if let (records, assignments) = checked { try write(records, assignments) }
            } catch {
                _ = try? checking.join()
                throw error
            }
            BackgroundRelease.release(checked.take())
            checked = try checking.join()
        }
        if let (records, assignments) = checked { try write(records, assignments) }
    }

    /// SpatiaLite's per-row triggers on a point table's geometry, dropped for a
    /// bulk write inside the caller's transaction. Per row they check the geometry's
    /// type and SRID, stamp the time and insert into the R*Tree: about 30 µs, 7 s
    /// of a county's 216,000 households. Meanwhile only points made by
    /// MakePoint(x, y, 4326) from finite numbers are written, which the type check
    /// would always pass. `restore` packs the spatial index from the whole table,
    /// stamps the layer's last change once and puts the triggers back as they were;
    /// an error before it rolls the transaction back, triggers and all.
    struct SuspendedSpatialTriggers {
        private let db: Database
        private let table: String
        private let triggers: [(name: String, sql: String)]

        init(_ db: Database, table: String) throws {
            self.db = db
            self.table = table
            let perRow = ["ggi", "ggu", "tmi", "tmu", "gii", "giu"].map { "\($0)_\(table)_geom" }
            triggers = try Row.fetchAll(db, sql: """
                SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name IN (\(databaseQuestionMarks(count: perRow.count)))
                """, arguments: StatementArguments([table] + perRow)).map { ($0["name"], $0["sql"]) }
            for trigger in triggers { try db.execute(sql: "DROP TRIGGER \"\(trigger.name)\"") }
        }

        func restore() throws {
            try PackedSpatialIndex.rebuild(db, table: table)
            try db.execute(sql: """
                UPDATE geometry_columns_time SET last_insert = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), last_update = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE lower(f_table_name) = lower(?) AND lower(f_geometry_column) = 'geom'
                """, arguments: [table])
            for trigger in triggers { try db.execute(sql: trigger.sql) }
        }
    }

    /// Refuses incidents already stored: their status, version and history are the workflow's, not a file's to reset.
    static func refuseStoredIncidents(_ db: Database, _ records: [PointRecord], source: String) throws {
        let stored = try db.makeStatement(sql: "SELECT version, status FROM incidents WHERE id = ?")
        try refuseStoredIncidents(records, source: source) { id in
            try Row.fetchOne(stored, arguments: [id]).map { ($0["status"], $0["version"]) }
        }
    }

    /// As above, with `stored` giving an incident's status and version if it is stored (both stores).
    static func refuseStoredIncidents(_ records: [PointRecord], source: String, stored: (String) throws -> (status: String, version: Int)?) throws {
        var problems = ProblemList(source: source)
        for record in records {
            guard let (status, version) = try stored(record.id) else { continue }
            problems.add(tr("\(record.location) (id \(record.id)): incident \(record.id) is already stored (\(status), version \(version)); its workflow is kept, not imported again: change it with `wangge incident …`"))
        }
        try problems.throwIfAny()
    }

    /// Refuses a ticket number (external_id) that its channel sent before, in
    /// this file (`seen`, by channel and ticket) or stored: a hotline that resends a ticket makes no second incident.
    static func refuseRepeatedTickets(_ db: Database, _ records: [PointRecord], seen: inout [String: RecordLocation], source: String) throws {
        try refuseRepeatedTickets(records, seen: &seen, source: source) { try incident(db, channel: $0, ticket: $1) }
    }

    /// As above, with `stored` giving the incident a channel's ticket already is, if any (both stores).
    static func refuseRepeatedTickets(_ records: [PointRecord], seen: inout [String: RecordLocation], source: String,
                                      stored: (_ channel: String, _ ticket: String) throws -> String?) throws {
        let columns = PointLayer.incidents.attributeColumns
        guard let channelIndex = columns.firstIndex(of: "channel"), let ticketIndex = columns.firstIndex(of: "external_id") else { return }
        var problems = ProblemList(source: source)
        for record in records {
            guard let ticket = String.fromDatabaseValue(record.values[ticketIndex]) else { continue }
            let channel = String.fromDatabaseValue(record.values[channelIndex]) ?? ""
            let key = channel + "\u{0}" + ticket
            if let first = seen[key] {
                problems.add(tr("\(record.location) (id \(record.id)): field external_id: ticket \(ticket) of channel \(channel) is also at \(first)"))
            } else if let existing = try stored(channel, ticket) {
                problems.add(tr("\(record.location) (id \(record.id)): field external_id: ticket \(ticket) of channel \(channel) is already incident \(existing)"))
            } else {
                seen[key] = record.location
            }
        }
        try problems.throwIfAny()
    }

    /// Reads and checks a point file as `importPoints` does before it writes,
    /// touching no database: the number of records it holds, or the error an
    /// import would give. (The fuzz harness feeds it hostile files.)
    public static func checkPointFile(_ layer: PointLayer, path: String, crs: CoordinateSystem = .wgs84,
                                      dispatch: DispatchRules = DispatchRules()) throws -> Int {
        var validator = try PointValidator(layer: layer, crs: crs, source: path, dispatch: dispatch)
        var count = 0
        var notes: [String] = []
        try PointFile.forEachBatch(path: path, size: importBatch, notes: &notes) { inputs, _ in count += try validator.validate(inputs).count }
        try validator.finish()
        return count
    }

    private static func stored(_ values: [(any DatabaseValueConvertible)?]) -> [DatabaseValue] {
        values.map { $0?.databaseValue ?? .null }
    }

    static func attributes(_ layer: PointLayer, _ f: PointFields, dispatch: DispatchRules) throws -> [DatabaseValue] {
        switch layer {
        case .households:
            let tags = (try FieldCheck.text(f, "tags", limit: TextLimits.text) ?? "").split(whereSeparator: { $0 == ";" || $0 == "|" || $0 == "；" })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return stored([try FieldCheck.text(f, "address", limit: TextLimits.text, multiline: true), try FieldCheck.text(f, "head"),
                    try FieldCheck.text(f, "phone", limit: TextLimits.code), try FieldCheck.text(f, "id_number", limit: TextLimits.code),
                    try FieldCheck.integer(f, "members", range: 0...100) ?? 1, tags.joined(separator: ";")])
        case .cameras:
            return stored([try FieldCheck.text(f, "type"), try FieldCheck.text(f, "name"),
                    try FieldCheck.number(f, "heading_deg", range: 0...360), try FieldCheck.number(f, "fov_deg", range: 0...360),
                    try FieldCheck.number(f, "range_m", range: 0...10_000),
                    try FieldCheck.oneOf(f, "status", Self.cameraStatuses) ?? "online"])
        case .incidents:
            // Times are stored in one form (UTC) so that they compare as text.
            func time(_ name: String) throws -> String? {
                guard let text = try FieldCheck.text(f, name) else { return nil }
                guard let date = Self.timePolicy.date(iso8601: text) else {
                    throw WanggeError.invalid(tr("field \(name): \"\(text)\" is not an ISO 8601 time such as 2026-05-01T08:30:00+08:00"))
                }
                return Self.time(date)
            }
            let reportedAt = try time("reported_at"), closedAt = try time("closed_at"), occurredAt = try time("occurred_at")
            // Both in the stored form (UTC): they compare as text.
            if let reportedAt, let closedAt, closedAt < reportedAt {
                throw WanggeError.invalid(tr("field closed_at: \(f["closed_at"] ?? closedAt) is before reported_at \(f["reported_at"] ?? reportedAt)"))
            }
            if let occurredAt {
                if let reportedAt, reportedAt < occurredAt {
                    throw WanggeError.occurredAfter(f["occurred_at"] ?? occurredAt, "reported_at \(f["reported_at"] ?? reportedAt)")
                }
                if occurredAt > Self.time(Date()) { throw WanggeError.occurredAfter(f["occurred_at"] ?? occurredAt, "now") }
            }
            // The same words as a report: anything else would route with the defaults.
            func word(_ field: VocabularyField) throws -> String? {
                guard let text = try FieldCheck.text(f, field.rawValue) else { return nil }
                do {
                    try dispatch.check(field, text)
                } catch let error as WanggeError {
                    throw WanggeError.invalid(tr("field \(error.text)"))
                }
                return text
            }
            return stored([try word(.category), try word(.channel), try word(.severity),
                    try FieldCheck.oneOf(f, "status", Self.incidentStatuses) ?? "reported", reportedAt,
                    try FieldCheck.text(f, "description", limit: TextLimits.text, multiline: true), try FieldCheck.text(f, "reporter"),
                    try FieldCheck.integer(f, "satisfaction", range: 1...5), closedAt, occurredAt,
                    try FieldCheck.text(f, "external_id", limit: TextLimits.code)])
        }
    }
}
