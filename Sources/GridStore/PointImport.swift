import Foundation
import GRDB
import GeoKit
import GridCore

/// A validated point record ready to store.
struct PointRecord {
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
    static func number(_ fields: [String: String], _ name: String, range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        guard let value = Double(text), value.isFinite else { throw StoreError("field \(name): \"\(text)\" is not a number") }
        if let range, !range.contains(value) {
            throw StoreError("field \(name): \(text) is outside \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    static func integer(_ fields: [String: String], _ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        guard let value = Int(text) else { throw StoreError("field \(name): \"\(text)\" is not a whole number") }
        guard range.contains(value) else { throw StoreError("field \(name): \(value) is outside \(range.lowerBound)…\(range.upperBound)") }
        return value
    }

    static func oneOf(_ fields: [String: String], _ name: String, _ allowed: [String]) throws -> String? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        guard allowed.contains(text) else { throw StoreError("field \(name): \"\(text)\" is not one of \(allowed.joined(separator: ", "))") }
        return text
    }

    static func text(_ fields: [String: String], _ name: String) -> String? {
        guard let text = fields[name], !text.isEmpty else { return nil }
        return text
    }
}

extension GridStore {
    public static let cameraStatuses = ["online", "offline", "fault"]
    public static let incidentStatuses = IncidentStatus.allCases.map(\.rawValue)

    /// Imports households, cameras or incidents from CSV or GeoJSON, converts
    /// them to WGS84, assigns them to the active generation's grids and stores
    /// both in one transaction. Records with an id already stored are replaced.
    /// Any bad record fails the whole import and nothing changes.
    public func importPoints(_ layer: PointLayer, path: String, crs: CoordinateSystem = .wgs84, dispatch: DispatchRules = DispatchRules(),
                             progress: (@Sendable (String) -> Void)? = nil) throws -> ImportReport {
        let start = Date()
        let generation = try activeGeneration()
        let inputs = try PointFile.read(path: path)
        progress?("read \(inputs.count) \(layer.table) from \(path)")
        let records = try validate(inputs, layer: layer, crs: crs, source: path)
        let shapes = try gridShapes(generation: generation)
        let assigner = try GridAssigner(shapes: shapes, rules: rules)
        let assignments = try assigner.assign(records.map(\.position))
        progress?("assigned \(records.count) \(layer.table); writing")
        let columns = ["id"] + layer.attributeColumns + ["source_crs", "source_x", "source_y", "geom"]
        let placeholders = Array(repeating: "?", count: columns.count - 1).joined(separator: ", ") + ", MakePoint(?, ?, 4326)"
        try database.pool.write { db in
            // The assignments were computed for this generation: refuse if another became active meanwhile.
            guard try Self.activeGeneration(db) == generation else {
                throw StoreError("\(path): the active generation changed during the import (a plan was activated); nothing was imported, run it again")
            }
            let insert = try db.makeStatement(sql: "INSERT OR REPLACE INTO \(layer.table) (\(columns.joined(separator: ", "))) VALUES (\(placeholders))")
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

    func validate(_ inputs: [PointInput], layer: PointLayer, crs: CoordinateSystem, source: String) throws -> [PointRecord] {
        let proj = try PROJContext()
        let converter: WGS84Converter
        do {
            converter = try WGS84Converter(from: crs, context: proj)
        } catch let error as GeoError {
            throw StoreError("\(source): --crs \(crs): \(error.message)")
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
            if let first = firstLocationOfID[id] {
                problems.add("\(input.location): field id: duplicate id \(id), also at \(first)")
                continue
            }
            firstLocationOfID[id] = input.location
            guard let xText = input.x, !xText.isEmpty, let yText = input.y, !yText.isEmpty else {
                problems.add("\(input.location) (id \(id)): missing coordinate")
                continue
            }
            guard let x = Double(xText), x.isFinite else {
                problems.add("\(input.location) (id \(id)): field lon/x: \"\(xText)\" is not a number")
                continue
            }
            guard let y = Double(yText), y.isFinite else {
                problems.add("\(input.location) (id \(id)): field lat/y: \"\(yText)\" is not a number")
                continue
            }
            do {
                let p = try converter.toWGS84(x: x, y: y)
                let values = try attributes(layer, input.fields)
                records.append(PointRecord(id: id, source: (x, y), position: LonLat(p.lon, p.lat), values: values))
            } catch let error as GeoError {
                problems.add("\(input.location) (id \(id)): \(error.message)")
            } catch let error as StoreError {
                problems.add("\(input.location) (id \(id)): \(error.message)")
            }
        }
        if inputs.isEmpty { problems.add("no records") }
        try problems.throwIfAny()
        return records
    }

    func attributes(_ layer: PointLayer, _ f: [String: String]) throws -> [DatabaseValueConvertible?] {
        switch layer {
        case .households:
            let tags = (f["tags"] ?? "").split(whereSeparator: { $0 == ";" || $0 == "|" || $0 == "；" })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return [FieldCheck.text(f, "address"), FieldCheck.text(f, "head"), FieldCheck.text(f, "phone"),
                    FieldCheck.text(f, "id_number"), try FieldCheck.integer(f, "members", range: 0...100) ?? 1, tags.joined(separator: ";")]
        case .cameras:
            return [FieldCheck.text(f, "type"), FieldCheck.text(f, "name"),
                    try FieldCheck.number(f, "heading_deg", range: 0...360), try FieldCheck.number(f, "fov_deg", range: 0...360),
                    try FieldCheck.number(f, "range_m", range: 0...10_000),
                    try FieldCheck.oneOf(f, "status", Self.cameraStatuses) ?? "online"]
        case .incidents:
            // Times are stored in one form (+08:00) so that they compare as text.
            func time(_ name: String) throws -> String? {
                guard let text = FieldCheck.text(f, name) else { return nil }
                guard let date = ISO8601DateFormatter().date(from: text) else {
                    throw StoreError("field \(name): \"\(text)\" is not an ISO 8601 time such as 2026-05-01T08:30:00+08:00")
                }
                return Self.time(date)
            }
            return [FieldCheck.text(f, "category"), FieldCheck.text(f, "channel"), FieldCheck.text(f, "severity"),
                    try FieldCheck.oneOf(f, "status", Self.incidentStatuses) ?? "reported", try time("reported_at"),
                    FieldCheck.text(f, "description"), FieldCheck.text(f, "reporter"),
                    try FieldCheck.integer(f, "satisfaction", range: 1...5), try time("closed_at")]
        }
    }
}
