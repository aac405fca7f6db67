import GridApplication
import Foundation
import GeoKit
import GridCore
import GridStore

/// `wangge locate --input`: reads id,lon,lat rows, assigns them in bulk on
/// every core, and writes id,grid,method,distance_m,runner_up in input order.
/// The reader works on raw bytes: a general CSV library parses ten million
/// rows an order of magnitude slower than the assignment itself.
struct BatchLocate {
    let store: GridStore
    let crs: CoordinateSystem
    /// nil: the active generation.
    var generation: Int64? = nil

    struct Rows {
        var ids: [String] = []
        var points: [LonLat] = []
    }

    func run(path: String) throws {
        let rows = try Self.read(path: path, crs: crs)
        let assigner = try GridAssigner(shapes: try store.gridShapes(generation: generation), rules: store.rules)
        let assignments = try assigner.assign(rows.points)
        try Self.write(ids: rows.ids, assignments: assignments, codes: assigner.codes)
    }

    static func read(path: String, crs: CoordinateSystem) throws -> Rows {
        guard let data = FileManager.default.contents(atPath: path) else { throw UserError("\(path): cannot read file") }
        let converter = try WGS84Converter(from: crs, context: try PROJContext())
        var rows = Rows()
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var lineNumber = 0
            var start = 0
            var columns: (id: Int, x: Int, y: Int) = (-1, -1, -1)
            while start < bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                lineNumber += 1
                var lineEnd = end
                if lineEnd > start && bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                defer { start = end + 1 }
                if lineEnd == start { continue }
                let fields = splitFields(bytes, start, lineEnd)
                if lineNumber == 1 {
                    let names = fields.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0.0..<$0.1]), as: UTF8.self)
                        .replacingOccurrences(of: "\u{FEFF}", with: "").trimmingCharacters(in: .whitespaces).lowercased() }
                    guard let id = names.firstIndex(of: "id"),
                          let x = names.firstIndex(where: { ["lon", "lng", "longitude", "x"].contains($0) }),
                          let y = names.firstIndex(where: { ["lat", "latitude", "y"].contains($0) }) else {
                        throw UserError("\(path): line 1: expected the columns id,lon,lat (found \(names.joined(separator: ",")))")
                    }
                    columns = (id, x, y)
                    continue
                }
                guard fields.count > max(columns.id, columns.x, columns.y) else {
                    throw UserError("\(path): line \(lineNumber): \(fields.count) fields, expected id,lon,lat")
                }
                func text(_ i: Int) -> String {
                    String(decoding: UnsafeBufferPointer(rebasing: bytes[fields[i].0..<fields[i].1]), as: UTF8.self)
                }
                guard let x = parseDouble(bytes, fields[columns.x]) else {
                    throw UserError("\(path): line \(lineNumber): field lon: \"\(text(columns.x))\" is not a number")
                }
                guard let y = parseDouble(bytes, fields[columns.y]) else {
                    throw UserError("\(path): line \(lineNumber): field lat: \"\(text(columns.y))\" is not a number")
                }
                let p: (lon: Double, lat: Double)
                do {
                    p = try converter.toWGS84(x: x, y: y)
                } catch let error as GeoError {
                    throw UserError("\(path): line \(lineNumber): \(error.message)")
                }
                rows.ids.append(text(columns.id))
                rows.points.append(LonLat(p.lon, p.lat))
            }
            if lineNumber == 0 { throw UserError("\(path): empty file, expected the header id,lon,lat") }
        }
        return rows
    }

    /// Field ranges of one line; a field in double quotes loses its quotes
    /// (ids with embedded quotes or commas are not expected in this format).
    static func splitFields(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> [(Int, Int)] {
        var fields: [(Int, Int)] = []
        var i = start
        while i <= end {
            if i < end && bytes[i] == 0x22 {
                var j = i + 1
                while j < end && bytes[j] != 0x22 { j += 1 }
                fields.append((i + 1, j))
                i = j + 1
                while i < end && bytes[i] != 0x2C { i += 1 }
                i += 1
            } else {
                var j = i
                while j < end && bytes[j] != 0x2C { j += 1 }
                fields.append((i, j))
                i = j + 1
            }
        }
        return fields
    }

    static func parseDouble(_ bytes: UnsafeBufferPointer<UInt8>, _ field: (Int, Int)) -> Double? {
        var (s, e) = field
        while s < e && bytes[s] == 0x20 { s += 1 }
        while e > s && bytes[e - 1] == 0x20 { e -= 1 }
        guard s < e, e - s < 64 else { return nil }
        var buffer = [CChar](repeating: 0, count: e - s + 1)
        for k in s..<e { buffer[k - s] = CChar(bitPattern: bytes[k]) }
        return buffer.withUnsafeMutableBufferPointer { b -> Double? in
            var endPointer: UnsafeMutablePointer<CChar>?
            let value = strtod(b.baseAddress!, &endPointer)
            guard let endPointer, endPointer == b.baseAddress! + (e - s), value.isFinite else { return nil }
            return value
        }
    }

    static func write(ids: [String], assignments: [PointAssignment], codes: [String]) throws {
        var out = [UInt8]()
        out.reserveCapacity(1 << 22)
        out.append(contentsOf: "id,grid,method,distance_m,runner_up\n".utf8)
        let handle = FileHandle.standardOutput
        for (id, a) in zip(ids, assignments) {
            out.append(contentsOf: id.utf8)
            out.append(0x2C)
            if a.grid >= 0 { out.append(contentsOf: codes[Int(a.grid)].utf8) }
            out.append(0x2C)
            out.append(contentsOf: a.method.rawValue.utf8)
            out.append(0x2C)
            if let d = a.distanceMeters { out.append(contentsOf: String(format: "%.2f", d).utf8) }
            out.append(0x2C)
            if a.runnerUp >= 0 { out.append(contentsOf: codes[Int(a.runnerUp)].utf8) }
            out.append(0x0A)
            if out.count > (1 << 22) {
                handle.write(Data(out))
                out.removeAll(keepingCapacity: true)
            }
        }
        handle.write(Data(out))
    }
}
