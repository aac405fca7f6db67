import Foundation
import Testing
import TestSupport
import GeoKit
import GridCore
import GridStore
import Localization
@testable import wangge
@testable import GridApplication

/// `locate --input` reads bytes in parallel chunks: the rows, numbers,
/// distances and errors must come out exactly as a plain row-by-row reading
/// with `strtod` and `String(format:)` gives them.
@Suite struct BatchLocateTests {
    static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { RowParser.parseDouble($0, 0, $0.count) }
    }

    static func strtodReference(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: " "))
        guard !trimmed.isEmpty, trimmed.utf8.count < 64 else { return nil }
        return trimmed.withCString { start -> Double? in
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(start, &end)
            guard let end, end == UnsafeMutablePointer(mutating: start) + trimmed.utf8.count, value.isFinite else { return nil }
            return value
        }
    }

    @Test func numbersReadAsStrtodReadsThem() {
        var random = SeededRandom(seed: 14)
        var texts = ["112.5", " 28.9 ", "-80.5", "+3", "0", "-0.0", "112.", ".5", "1e3", "1.5E-2", "inf", "nan", "0x10",
                     "112.x", "", " ", "-", ".", "1.2.3", "12345678901234567890", "0.1234567890123456789",
                     "9007199254740993", "112.34567890123", "\t112.5", "1,5", "5-"]
        for _ in 0..<50_000 {
            let digits = Int(random.next() % 16) + 1
            let point = Int(random.next() % UInt64(digits + 1))
            var text = random.chance(0.3) ? "-" : ""
            for k in 0..<digits {
                if k == point && k > 0 { text += "." }
                text += String(random.next() % 10)
            }
            texts.append(text)
        }
        for _ in 0..<20_000 {
            texts.append(String(112 + random.unit()))
            texts.append(String(format: "%.7f", 28 + random.unit()))
        }
        for text in texts {
            let got = Self.parse(text), want = Self.strtodReference(text)
            #expect(got?.bitPattern == want?.bitPattern, "\"\(text)\": \(String(describing: got)) vs strtod \(String(describing: want))")
        }
    }

    @Test func centimetresAsPrintfWritesThem() {
        var values: [Double] = [0, 0.005, 0.015, 0.125, 0.375, 1.005, 2.675, 1e12 + 0.005, 49.995, 0.004999999, 123.455, -1.5, 1e14, .infinity]
        var random = SeededRandom(seed: 15)
        for _ in 0..<200_000 {
            let scale = [1.0, 50, 1_000, 60_000, 1e7][Int(random.next() % 5)]
            values.append(Double(Float(random.unit() * scale)))
            values.append(Double(Int(random.next() % 1_000_000)) / 200)
        }
        for value in values {
            let out = OutputBuffer(capacity: 64)
            OutputTable.appendCentimetres(value, to: out)
            let got = String(decoding: out.bytes, as: UTF8.self)
            #expect(got == String(format: "%.2f", value), "\(value)")
        }
    }

    /// A chunk's lines go into room reserved for all of them at once. A
    /// distance that `String(format:)` writes (one too large for the fast
    /// digits) grows the buffer by its own length, so the lines after it
    /// still have their room.
    @Test func aLongDistanceLeavesRoomForTheLinesAfterIt() {
        let table = OutputTable(codes: ["A", "B"])
        let far = PointAssignment(grid: -1, method: .none, distanceMeters: 3e38, nearestGrid: 0)
        let rows = Array(repeating: far, count: 100)
            + [PointAssignment(grid: 0, method: .inside),
               PointAssignment(grid: 1, method: .nearest, distanceMeters: 12.5, runnerUp: 0, runnerUpDistanceMeters: 20)]
        let out = OutputBuffer(capacity: rows.count * (2 + table.lineRoomBeyondId))
        let ids = Array(String(repeating: "id", count: rows.count).utf8)
        ids.withUnsafeBufferPointer { id in
            for (k, row) in rows.enumerated() { table.append(row: row, id: id.baseAddress! + 2 * k, idLength: 2, to: out) }
        }
        let huge = String(format: "%.2f", far.distanceMeters!)
        let farLine = "id,,none,\(huge),\n"
        // The lines overrun the room reserved for them, but only after the
        // last long distance: growing just when a text does not fit would
        // leave the last lines no room (the buffer's appends assert it in debug builds).
        let written = String(decoding: out.bytes, as: UTF8.self)
        #expect(written.utf8.count > rows.count * (2 + table.lineRoomBeyondId))
        #expect(written.utf8.count - ",\nid,A,inside,,\nid,B,nearest,12.50,A\n".count <= rows.count * (2 + table.lineRoomBeyondId))
        #expect(written == String(repeating: farLine, count: 100) + "id,A,inside,,\nid,B,nearest,12.50,A\n")
    }

    /// The reference: row by row, `String(format:)`, through `assign`.
    static func referenceOutput(ids: [String], points: [LonLat], assigner: GridAssigner) throws -> String {
        var out = BatchLocate.header
        for (id, a) in zip(ids, try assigner.assign(points)) {
            let grid = a.grid >= 0 ? assigner.codes[Int(a.grid)] : ""
            let runnerUp = a.runnerUp >= 0 ? assigner.codes[Int(a.runnerUp)] : ""
            out += "\(id),\(grid),\(a.method.rawValue),\(a.distanceMeters.map { String(format: "%.2f", $0) } ?? ""),\(runnerUp)\n"
        }
        return out
    }

    static func run(_ text: String, assigner: GridAssigner, chunkBytes: Int, crs: CoordinateSystem = .wgs84) throws -> String {
        let bytes = Array(text.utf8)
        let chunks = try bytes.withUnsafeBufferPointer {
            try BatchLocate.locate($0, path: "points.csv", crs: crs, assigner: assigner, chunkBytes: chunkBytes)
        }
        return chunks.map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
    }

    /// 5,000 rows around the sample county: columns in another order, a
    /// BOM, CRLF, quoted ids, blank lines, an extra column.
    static func mixedFile(around assigner: GridAssigner) -> (text: String, ids: [String], points: [LonLat]) {
        var random = SeededRandom(seed: 16)
        let region = assigner.index.envelope.expanded(by: 0.3)
        var ids: [String] = [], points: [LonLat] = []
        var text = "\u{FEFF}ID, lat ,Lon,note\r\n"
        for i in 0..<5_000 {
            let p = random.point(in: region)
            let id = i % 7 == 0 ? "house \(i)" : "H\(i)"
            let lat = String(format: "%.7f", p.lat)
            ids.append(id)
            points.append(LonLat(p.lon, Double(lat)!))
            let quotedId = i % 7 == 0 ? "\"\(id)\"" : id
            text += "\(quotedId),\(lat),\(p.lon),x" + (i % 3 == 0 ? "\r\n" : "\n")
            if i % 500 == 0 { text += "\n" }
        }
        return (text, ids, points)
    }

    @Test func chunkedOutputEqualsRowByRow() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.sampleGrids))
        let (text, ids, points) = Self.mixedFile(around: assigner)
        let expected = try Self.referenceOutput(ids: ids, points: points, assigner: assigner)
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for chunkBytes in [1, 100, 4096, 1 << 20] {
            let lines = try Self.run(text, assigner: assigner, chunkBytes: chunkBytes).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == expectedLines.count, "chunks of \(chunkBytes) bytes")
            let differing = zip(lines, expectedLines).filter { $0 != $1 }
            #expect(differing.isEmpty, "chunks of \(chunkBytes) bytes: \(differing.count) lines differ, first \(differing.prefix(3).map { "\($0.0) ≠ \($0.1)" })")
            if !differing.isEmpty { break }
        }
        // No line feed after the last row; a header alone.
        #expect(try Self.run("id,lon,lat\nA,112.5,28.9", assigner: assigner, chunkBytes: 4)
                == (try Self.referenceOutput(ids: ["A"], points: [LonLat(112.5, 28.9)], assigner: assigner)))
        #expect(try Self.run("id,lon,lat", assigner: assigner, chunkBytes: 4) == BatchLocate.header)
    }

    @Test func theFirstBadRowIsReportedWithItsLine() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.sampleGrids))
        var text = "id,lon,lat\n"
        for i in 0..<3_000 { text += "H\(i),112.5,28.9\n" }
        text += "bad,112.x,28.9\n"          // line 3002
        for i in 0..<3_000 { text += "K\(i),112.5,28.9\n" }
        text += "short,112.5\n"             // line 6003
        for chunkBytes in [64, 1 << 20] {
            #expect { _ = try Self.run(text, assigner: assigner, chunkBytes: chunkBytes) } throws: { error in
                "\(error)" == "points.csv: line 3002: field lon: \"112.x\" is not a number"
            }
        }
        let short = text.replacingOccurrences(of: "bad,112.x,28.9\n", with: "")
        #expect { _ = try Self.run(short, assigner: assigner, chunkBytes: 64) } throws: { error in
            "\(error)" == "points.csv: line 6002: 2 fields, expected id,lon,lat"
        }
        #expect { _ = try Self.run("id,lon,lat\nA,200,28.9\n", assigner: assigner, chunkBytes: 64) } throws: { error in
            "\(error)".hasPrefix("points.csv: line 2: ")
        }
        #expect { _ = try Self.run("name,x\nA,1\n", assigner: assigner, chunkBytes: 64) } throws: { error in
            "\(error)" == "points.csv: line 1: no \"id\" column (header: name,x)"
        }
        #expect { _ = try Self.run("", assigner: assigner, chunkBytes: 64) } throws: { error in
            "\(error)" == "points.csv: empty file, expected the header id,lon,lat"
        }
    }

    /// A header names its columns as an import's would: 编号,经度,纬度 as Excel on a
    /// county's desk writes them (in UTF-8 or GBK), or the configuration's own names.
    @Test func headersAsAnImportTakesThem() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.sampleGrids))
        let rows = "A1,112.3597,28.841\nA2,112.62,28.95\nA3,113.4,28.9\n"
        let expected = try Self.run("id,lon,lat\n" + rows, assigner: assigner, chunkBytes: 64)
        #expect(expected.split(separator: "\n").count == 4)
        let input = Fixtures.temporaryPath("headers.csv"), output = Fixtures.temporaryPath("headers-located.csv")
        defer { for path in [input, output] { try? FileManager.default.removeItem(atPath: path) } }
        var names = PointColumnNames()
        try names.add(["序号"], for: "id", section: "point_columns")
        try names.add(["东经"], for: "lon", section: "point_columns")
        try names.add(["北纬"], for: "lat", section: "point_columns")
        // 编号,经度,纬度 in GBK, as Excel on Chinese Windows saves "CSV（逗号分隔）".
        let gbkHeader: [UInt8] = [0xB1, 0xE0, 0xBA, 0xC5, 0x2C, 0xBE, 0xAD, 0xB6, 0xC8, 0x2C, 0xCE, 0xB3, 0xB6, 0xC8, 0x0A]
        for header in [Array("编号,经度,纬度\n".utf8), gbkHeader, Array("\u{FEFF}序号 , 东经,北纬\r\n".utf8)] {
            try Data(header + Array(rows.utf8)).write(to: URL(fileURLWithPath: input))
            let descriptor = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            try #require(descriptor >= 0)
            try BatchLocate(crs: .wgs84, columnNames: names) { assigner }.run(path: input, to: descriptor)
            close(descriptor)
            #expect(try String(contentsOfFile: output, encoding: .utf8) == expected, "\(header.prefix(6))")
        }
        // Without the configuration's names, 序号 names no column.
        try Data(Array("序号,东经,北纬\n".utf8) + Array(rows.utf8)).write(to: URL(fileURLWithPath: input))
        #expect { try BatchLocate(crs: .wgs84) { assigner }.run(path: input, to: -1) } throws: { error in
            "\(error)".contains("no \"id\" column (header: 序号,东经,北纬)")
        }
    }

    /// The sample households as Excel writes them, a workbook, GBK and UTF-8 with a BOM
    /// (Chinese column names, CRLF), and as GeoJSON: the same lines. An id that needs
    /// quotes keeps them in the output; a bad cell is named by its sheet and row.
    @Test func workbooksGeoJSONAndQuotedIds() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.sampleGrids))
        let output = Fixtures.temporaryPath("workbook-located.csv")
        defer { try? FileManager.default.removeItem(atPath: output) }
        func located(_ path: String) throws -> String {
            let descriptor = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            try #require(descriptor >= 0)
            defer { close(descriptor) }
            try BatchLocate(crs: .wgs84) { assigner }.run(path: path, to: descriptor)
            return try String(contentsOfFile: output, encoding: .utf8)
        }
        let points = "Tests/Fixtures/points/"
        let fromCSV = try located(Fixtures.path(points + "households_utf8_bom.csv"))
        #expect(fromCSV.split(separator: "\n").count == 5 && fromCSV.contains("HH001,430981-"))
        #expect(try located(Fixtures.path(points + "households_gbk.csv")) == fromCSV)
        #expect(try located(Fixtures.path(points + "households.xlsx")) == fromCSV)
        #expect { _ = try located(Fixtures.path(points + "households_bad.xlsx")) } throws: { error in
            "\(error)".hasSuffix("households_bad.xlsx: sheet 户籍, row 4: field lat: \"北纬28.77\" is not a number")
        }
        let geoJSON = Fixtures.temporaryPath("points.geojson"), quoted = Fixtures.temporaryPath("quoted.csv")
        defer { for path in [geoJSON, quoted] { try? FileManager.default.removeItem(atPath: path) } }
        try """
            {"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"id":"E,2"},"geometry":{"type":"Point","coordinates":[113.4,28.9]}},
            {"type":"Feature","properties":{"id":"Q\\"x"},"geometry":{"type":"Point","coordinates":[112.3597,28.841]}}]}
            """.write(toFile: geoJSON, atomically: true, encoding: .utf8)
        try "id,lon,lat\n\"E,2\",113.4,28.9\n\"Q\"\"x\",112.3597,28.841\n".write(toFile: quoted, atomically: true, encoding: .utf8)
        let lines = try located(quoted).split(separator: "\n")
        #expect(lines.count == 3 && lines[1].hasPrefix("\"E,2\",,none,") && lines[2].hasPrefix("\"Q\"\"x\",430981-"), "\(lines)")
        #expect(try located(geoJSON) == lines.joined(separator: "\n") + "\n")
        // A line break in an id cannot go through a row-a-line CSV: said, with the feature.
        try """
            {"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"id":"E1"},"geometry":{"type":"Point","coordinates":[113.4,28.9]}},
            {"type":"Feature","properties":{"id":"two\\nlines"},"geometry":{"type":"Point","coordinates":[112.3597,28.841]}}]}
            """.write(toFile: geoJSON, atomically: true, encoding: .utf8)
        #expect { _ = try located(geoJSON) } throws: { "\($0)".hasSuffix("points.geojson: feature 2: field id: a line break in the cell (one row, one line)") }
    }

    /// The rows parsed while the index is being built are kept and located
    /// afterwards: chunk by chunk, the same lines as parsing and locating at once.
    @Test func rowsParsedBeforeTheIndexGiveTheSameLines() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.sampleGrids))
        let (text, ids, points) = Self.mixedFile(around: assigner)
        let expected = try Self.referenceOutput(ids: ids, points: points, assigner: assigner)
        let bytes = Array(text.utf8)
        for chunkBytes in [1, 100, 1 << 20] {
            let got = try bytes.withUnsafeBufferPointer { bytes -> String in
                let (columns, bodyStart) = try BatchLocate.readHeader(bytes, path: "points.csv")
                let boundaries = BatchLocate.chunkBoundaries(bytes, from: bodyStart, chunkBytes: chunkBytes)
                var parser = try RowParser(columns: columns, crs: .wgs84)
                let parsed = try zip(boundaries, boundaries.dropFirst()).map { start, end in
                    var rows = ParsedRows()
                    try rows.parse(bytes, start..<end, parser: &parser)
                    return rows
                }
                var located = ChunkLocator(assigner)
                var text = ""
                // Last chunk first, as kept chunks may come.
                for rows in parsed.reversed() {
                    text = String(decoding: try located.locate(rows, in: bytes).bytes, as: UTF8.self) + text
                }
                return text
            }
            #expect(BatchLocate.header + got == expected, "chunks of \(chunkBytes) bytes")
        }
    }

    /// Into a file, the lines go out as chunks are done; a bad row late in
    /// the input cuts the file back to what it held before. Into a pipe,
    /// nothing is written before every row is known to be good.
    @Test func aBadRowLeavesTheOutputAsItWas() throws {
        let assigner = try GridAssigner(shapes: try Fixtures.shapes(Fixtures.sampleGrids))
        let (good, ids, points) = Self.mixedFile(around: assigner)
        let expected = try Self.referenceOutput(ids: ids, points: points, assigner: assigner)
        let input = Fixtures.temporaryPath("rows.csv"), output = Fixtures.temporaryPath("located.csv")
        defer { for path in [input, output] { try? FileManager.default.removeItem(atPath: path) } }
        let locate = BatchLocate(crs: .wgs84) { assigner }
        func run(_ text: String, flags: Int32) throws {
            try text.write(toFile: input, atomically: true, encoding: .utf8)
            let descriptor = open(output, O_WRONLY | flags)
            try #require(descriptor >= 0)
            defer { close(descriptor) }
            try locate.run(path: input, to: descriptor, chunkBytes: 256)
        }
        func outputText() throws -> String { try String(contentsOfFile: output, encoding: .utf8) }
        let bad = good + "late,28.9,112.x,x\n"
        for flags in [O_APPEND, O_TRUNC] {
            try "kept\n".write(toFile: output, atomically: true, encoding: .utf8)
            #expect { try run(bad, flags: flags) } throws: { error in "\(error)".contains("line 5012: field lon") }
            #expect(try outputText() == (flags == O_APPEND ? "kept\n" : ""), "flags \(flags)")
            try run(good, flags: flags)
            #expect(try outputText() == (flags == O_APPEND ? "kept\n" : "") + expected, "flags \(flags)")
        }
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]) }
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        try bad.write(toFile: input, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try locate.run(path: input, to: ends[1], chunkBytes: 256) }
        close(ends[1])
        var byte: UInt8 = 0
        #expect(read(ends[0], &byte, 1) == 0, "nothing written into the pipe")
    }

    /// Into a regular file, each chunk goes out as soon as the chunks before it
    /// have, in input order, before the run ends; into a pipe, only at the end.
    @Test func linesGoOutAsTheChunksBeforeThemAreDone() throws {
        func buffer(_ text: String) -> OutputBuffer {
            let made = OutputBuffer(capacity: 0)
            made.append(text)
            return made
        }
        let path = Fixtures.temporaryPath("streamed.csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(file >= 0)
        defer { close(file) }
        func written() throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
        let output = OrderedOutput(descriptor: file)
        output.begin(chunks: 3, header: buffer("h\n"))
        #expect(try written() == "h\n")
        output.set(1, buffer("b\n"))
        #expect(try written() == "h\n", "chunk 1 waits for chunk 0")
        output.set(0, buffer("a\n"))
        #expect(try written() == "h\na\nb\n", "chunks 0 and 1 out before the last is done")
        output.set(2, buffer("c\n"))
        try output.finish()
        #expect(try written() == "h\na\nb\nc\n")

        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]) }
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        let piped = OrderedOutput(descriptor: ends[1])
        piped.begin(chunks: 1, header: buffer("h\n"))
        piped.set(0, buffer("a\n"))
        var byte: UInt8 = 0
        #expect(read(ends[0], &byte, 1) == -1, "nothing in the pipe before the end")
        try piped.finish()
        close(ends[1])
        var bytes = [UInt8](repeating: 0, count: 16)
        #expect(String(decoding: bytes[0..<max(0, read(ends[0], &bytes, 16))], as: UTF8.self) == "h\na\n")
    }

    /// The index is built while the rows are read: when the grids cannot be
    /// loaded, that is the error, not a bad row found meanwhile.
    @Test func gridsThatCannotBeLoadedComeBeforeBadRows() throws {
        let text = "id,lon,lat\nA,112.5,28.9\nbad,112.x,28.9\n"
        let bytes = Array(text.utf8)
        for chunkBytes in [4, 1 << 20] {
            #expect {
                _ = try bytes.withUnsafeBufferPointer {
                    try BatchLocate.locate($0, path: "points.csv", crs: .wgs84,
                                           assigner: PendingAssigner { throw WanggeError.invalid(.verbatim("no active generation")) },
                                           chunkBytes: chunkBytes)
                }
            } throws: { error in
                "\(error)" == "\(WanggeError.invalid(.verbatim("no active generation")))"
            }
        }
    }
}
