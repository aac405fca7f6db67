import Foundation
import Testing
import GridCore
@testable import GridStore

/// A CSV is parsed on a thread of its own and handed on in batches (`BatchHandoff`):
/// the importer still sees every record once, in file order, the last batch marked,
/// and an error where the file has it; an importer that stops ends the parsing.
@Suite struct PointFileBatchTests {
    static func file(rows: Int, badLine: Int? = nil) throws -> String {
        var lines = ["id,lon,lat,address"]
        for row in stride(from: 1, through: rows, by: 1) {
            // File line row + 1: the header is line 1.
            lines.append(row + 1 == badLine ? "P\(row),112.3,28.8,\"never closed" : "P\(row),112.3,28.8,地址\(row)")
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("batches-\(UUID().uuidString).csv").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func batches(_ path: String, size: Int, stopAfter: Int = .max) throws -> [(ids: [String], isLast: Bool)] {
        var seen: [(ids: [String], isLast: Bool)] = []
        var notes: [String] = []
        struct Enough: Error {}
        do {
            try PointFile.forEachBatch(path: path, size: size, notes: &notes) { records, isLast in
                seen.append((records.map { $0.id ?? "" }, isLast))
                if seen.count == stopAfter { throw Enough() }
            }
        } catch is Enough {}
        return seen
    }

    @Test(arguments: [(rows: 10, size: 3), (rows: 9, size: 3), (rows: 2, size: 5), (rows: 0, size: 4)])
    func everyRecordOnceInFileOrderTheLastBatchMarked(_ shape: (rows: Int, size: Int)) throws {
        let path = try Self.file(rows: shape.rows)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let seen = try Self.batches(path, size: shape.size)
        #expect(seen.flatMap(\.ids) == (0..<shape.rows).map { "P\($0 + 1)" })
        #expect(seen.map(\.isLast) == Array(repeating: false, count: seen.count - 1) + [true])
        #expect(seen.dropLast().allSatisfy { $0.ids.count == shape.size })
        // A file whose rows fill the batches exactly ends with an empty last batch, as before.
        #expect(seen.count == shape.rows / shape.size + 1)
    }

    /// The first batch is `firstBatchSize` records, the others the size asked for.
    @Test func theFirstBatchIsSmallerSoThatWritingStartsSooner() throws {
        let rows = PointFile.firstBatchSize + 2 * 6_000 + 5
        let path = try Self.file(rows: rows)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let seen = try Self.batches(path, size: 6_000)
        #expect(seen.map(\.ids.count) == [PointFile.firstBatchSize, 6_000, 6_000, 5])
        #expect(seen.flatMap(\.ids) == (1...rows).map { "P\($0)" })
    }

    @Test func aBadLineComesAfterTheBatchesBeforeIt() throws {
        let path = try Self.file(rows: 20, badLine: 14)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var delivered: [[String]] = []
        var notes: [String] = []
        #expect {
            try PointFile.forEachBatch(path: path, size: 4, notes: &notes) { records, _ in delivered.append(records.map { $0.id ?? "" }) }
        } throws: { error in
            "\(error)".contains("line 14") && "\(error)".contains("field address")
        }
        // Lines 2-13 hold P1-P12: three full batches went on before the error.
        #expect(delivered == [["P1", "P2", "P3", "P4"], ["P5", "P6", "P7", "P8"], ["P9", "P10", "P11", "P12"]])
    }

    @Test(.timeLimit(.minutes(1))) func anImporterThatStopsEndsTheParsing() throws {
        let path = try Self.file(rows: 50_000)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Returns (the parser thread stopped and was waited for) with only the batches asked for.
        let seen = try Self.batches(path, size: 100, stopAfter: 2)
        #expect(seen.map(\.ids.count) == [100, 100])
        #expect(seen.flatMap(\.ids).last == "P200")
    }
}
