import Foundation
import GRDB
import GeoKit
import GridCore

/// A validated point record ready to store.
struct PointRecord {
    /// Where the record is in its file ("line 12", "feature 3").
    let location: String
    let id: String
    let source: (x: Double, y: Double)
    let position: LonLat
    let values: [DatabaseValueConvertible?]
}

extension PointLayer {
    /// The layer's attribute columns, in table order.
    var attributeColumns: [String] {
        switch self {
        case .households: ["address", "head", "phone", "id_number", "members", "tags"]
        case .cameras: ["type", "name", "heading_deg", "fov_deg", "range_m", "status"]
        case .incidents: ["category", "channel", "severity", "status", "reported_at", "description", "reporter", "satisfaction",
                           "closed_at"]
        }
    }
}

enum FieldCheck {
    /// A finite number written in decimal (112.36, -5, 3.1e5). `Double(_:)` alone
    /// would also take hexadecimal floats (0x1.c1p6), nan and inf.
    static func decimal(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
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
        guard mantissa > 0 else { return nil }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            sign()
            guard digits() > 0 else { return nil }
        }
        guard i == bytes.count, let value = Double(text), value.isFinite else { return nil }
        return value
    }

    static func number(_ fields: [String: String], _ name: String, range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        guard let value = decimal(text) else { throw WanggeError.invalid("field \(name): \(TextLimits.shown(text)) is not a number (write it in decimal, e.g. 12.5)") }
        if let range, !range.contains(value) {
            throw WanggeError.invalid("field \(name): \(text) is outside \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    static func integer(_ fields: [String: String], _ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        guard let value = Int(text) else { throw WanggeError.invalid("field \(name): \"\(text)\" is not a whole number") }
        guard range.contains(value) else { throw WanggeError.invalid("field \(name): \(value) is outside \(range.lowerBound)…\(range.upperBound)") }
        return value
    }

    static func oneOf(_ fields: [String: String], _ name: String, _ allowed: [String]) throws -> String? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        guard allowed.contains(text) else { throw WanggeError.invalid("field \(name): \"\(text)\" is not one of \(allowed.joined(separator: ", "))") }
        return text
    }

    /// A text field of at most `limit` characters (see `TextLimits`); nil when empty.
    static func text(_ fields: [String: String], _ name: String, limit: Int = TextLimits.name, multiline: Bool = false) throws -> String? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        if let problem = TextLimits.problem(text, limit: limit, multiline: multiline) {
            throw WanggeError.invalid("field \(name): \(TextLimits.shown(text)) \(problem)")
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
    public func importPoints(_ layer: PointLayer, path: String, crs: CoordinateSystem = .wgs84, dispatch: DispatchRules = DispatchRules(),
                             progress: (@Sendable (String) -> Void)? = nil) throws -> ImportReport {
        let start = Date()
        let generation = try activeGeneration()
        let inputs = try PointFile.read(path: path)
        progress?("read \(inputs.count) \(layer.table) from \(path)")
        let records = try Self.validate(inputs, layer: layer, crs: crs, source: path, dispatch: dispatch)
        let shapes = try gridShapes(generation: generation)
        let assigner = try GridAssigner(shapes: shapes, rules: rules)
        let assignments = try assigner.assign(records.map(\.position))
        progress?("assigned \(records.count) \(layer.table); writing")
        let columns = ["id"] + layer.attributeColumns + ["source_crs", "source_x", "source_y", "geom"]
        let placeholders = Array(repeating: "?", count: columns.count - 1).joined(separator: ", ") + ", MakePoint(?, ?, 4326)"
        try database.pool.write { db in
            // The assignments were computed for this generation: refuse if another became active meanwhile.
            guard try Self.activeGeneration(db) == generation else {
                throw WanggeError.invalid("\(path): the active generation changed during the import (a plan was activated); nothing was imported, run it again")
            }
            if layer == .incidents { try Self.refuseStoredIncidents(db, records, source: path) }
            // An UPDATE, not INSERT OR REPLACE: REPLACE's hidden delete skips SpatiaLite's
            // index triggers and leaves the old point in the spatial index.
            let updates = columns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            let insert = try db.makeStatement(sql: """
                INSERT INTO \(layer.table) (\(columns.joined(separator: ", "))) VALUES (\(placeholders))
                ON CONFLICT (id) DO UPDATE SET \(updates)
                """)
            for record in records {
                var arguments: [DatabaseValueConvertible?] = [record.id]
                arguments += record.values
                arguments += [crs.description, record.source.x, record.source.y, record.position.lon, record.position.lat]
                try insert.execute(arguments: StatementArguments(arguments))
            }
            let stored = records.map { StoredPoint(layer: layer, id: $0.id, position: $0.position) }
            try Self.writeAssignments(db, generation: generation, codes: assigner.codes, points: stored, assignments: assignments)
            if layer == .incidents {
                try Self.routeImportedIncidents(db, ids: records.map(\.id), generation: generation, rules: dispatch, source: path)
            }
        }
        var report = ImportReport(file: path, imported: records.count)
        report.generation = generation
        report.seconds = Date().timeIntervalSince(start)
        tally(assignments, into: &report)
        return report
    }

    /// Refuses incidents already stored: their status, version and history are the workflow's, not a file's to reset.
    static func refuseStoredIncidents(_ db: Database, _ records: [PointRecord], source: String) throws {
        let stored = try db.makeStatement(sql: "SELECT version, status FROM incidents WHERE id = ?")
        var problems = ProblemList(source: source)
        for record in records {
            guard let row = try Row.fetchOne(stored, arguments: [record.id]) else { continue }
            problems.add("\(record.location) (id \(record.id)): incident \(record.id) is already stored (\(row["status"] as String), version \(row["version"] as Int)); "
                         + "its workflow is kept, not imported again: change it with `wangge incident …`")
        }
        try problems.throwIfAny()
    }

    /// Reads and checks a point file as `importPoints` does before it writes,
    /// touching no database: the number of records it holds, or the error an
    /// import would give. (The fuzz harness feeds it hostile files.)
    public static func checkPointFile(_ layer: PointLayer, path: String, crs: CoordinateSystem = .wgs84,
                                      dispatch: DispatchRules = DispatchRules()) throws -> Int {
        try validate(try PointFile.read(path: path), layer: layer, crs: crs, source: path, dispatch: dispatch).count
    }

    static func validate(_ inputs: [PointInput], layer: PointLayer, crs: CoordinateSystem, source: String, dispatch: DispatchRules) throws -> [PointRecord] {
        let proj = try PROJContext()
        let converter: WGS84Converter
        do {
            converter = try WGS84Converter(from: crs, context: proj)
        } catch let error as GeoError {
            throw WanggeError.invalid("\(source): crs \(crs): \(error.message)")
        }
        var problems = ProblemList(source: source)
        var firstLocationOfID: [String: String] = [:]
        var records: [PointRecord] = []
        records.reserveCapacity(inputs.count)
        for input in inputs {
            guard let id = input.id?.trimmingCharacters(in: .whitespaces), !id.isEmpty else {
                problems.add("\(input.location): field id: missing")
                continue
            }
            if let problem = TextLimits.problem(id, limit: TextLimits.code) {
                problems.add("\(input.location): field id: \(TextLimits.shown(id)) \(problem)")
                continue
            }
            if let first = firstLocationOfID[id] {
                problems.add("\(input.location): field id: duplicate id \(id), also at \(first)")
                continue
            }
            firstLocationOfID[id] = input.location
            guard let xText = input.x, !xText.isEmpty, let yText = input.y, !yText.isEmpty else {
                problems.add("\(input.location) (id \(id)): missing coordinate")
                continue
            }
            guard let x = FieldCheck.decimal(xText) else {
                problems.add("\(input.location) (id \(id)): field lon/x: \(TextLimits.shown(xText)) is not a number (write it in decimal, e.g. 112.36)")
                continue
            }
            guard let y = FieldCheck.decimal(yText) else {
                problems.add("\(input.location) (id \(id)): field lat/y: \(TextLimits.shown(yText)) is not a number (write it in decimal, e.g. 28.84)")
                continue
            }
            do {
                let p = try converter.toWGS84(x: x, y: y)
                let values = try attributes(layer, input.fields, dispatch: dispatch)
                records.append(PointRecord(location: input.location, id: id, source: (x, y), position: LonLat(p.lon, p.lat), values: values))
            } catch let error as GeoError {
                problems.add("\(input.location) (id \(id)): \(error.message)")
            } catch let error as WanggeError {
                problems.add("\(input.location) (id \(id)): \(error.message)")
            }
        }
        if inputs.isEmpty { problems.add("no records") }
        try problems.throwIfAny()
        return records
    }

    static func attributes(_ layer: PointLayer, _ f: [String: String], dispatch: DispatchRules) throws -> [DatabaseValueConvertible?] {
        switch layer {
        case .households:
            let tags = (try FieldCheck.text(f, "tags", limit: TextLimits.text) ?? "").split(whereSeparator: { $0 == ";" || $0 == "|" || $0 == "；" })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return [try FieldCheck.text(f, "address", limit: TextLimits.text, multiline: true), try FieldCheck.text(f, "head"),
                    try FieldCheck.text(f, "phone", limit: TextLimits.code), try FieldCheck.text(f, "id_number", limit: TextLimits.code),
                    try FieldCheck.integer(f, "members", range: 0...100) ?? 1, tags.joined(separator: ";")]
        case .cameras:
            return [try FieldCheck.text(f, "type"), try FieldCheck.text(f, "name"),
                    try FieldCheck.number(f, "heading_deg", range: 0...360), try FieldCheck.number(f, "fov_deg", range: 0...360),
                    try FieldCheck.number(f, "range_m", range: 0...10_000),
                    try FieldCheck.oneOf(f, "status", Self.cameraStatuses) ?? "online"]
        case .incidents:
            // Times are stored in one form (UTC) so that they compare as text.
            func time(_ name: String) throws -> String? {
                guard let text = try FieldCheck.text(f, name) else { return nil }
                guard let date = Self.timePolicy.date(iso8601: text) else {
                    throw WanggeError.invalid("field \(name): \"\(text)\" is not an ISO 8601 time such as 2026-05-01T08:30:00+08:00")
                }
                return Self.time(date)
            }
            let reportedAt = try time("reported_at"), closedAt = try time("closed_at")
            // Both in the stored form (UTC): they compare as text.
            if let reportedAt, let closedAt, closedAt < reportedAt {
                throw WanggeError.invalid("field closed_at: \(f["closed_at"] ?? closedAt) is before reported_at \(f["reported_at"] ?? reportedAt)")
            }
            // The same words as a report: anything else would route with the defaults.
            func word(_ field: VocabularyField) throws -> String? {
                guard let text = try FieldCheck.text(f, field.rawValue) else { return nil }
                do {
                    try dispatch.check(field, text)
                } catch let error as WanggeError {
                    throw WanggeError.invalid("field \(error)")
                }
                return text
            }
            return [try word(.category), try word(.channel), try word(.severity),
                    try FieldCheck.oneOf(f, "status", Self.incidentStatuses) ?? "reported", reportedAt,
                    try FieldCheck.text(f, "description", limit: TextLimits.text, multiline: true), try FieldCheck.text(f, "reporter"),
                    try FieldCheck.integer(f, "satisfaction", range: 1...5), closedAt]
        }
    }
}
