import Foundation
import Testing
import TestSupport
import GeoKit
@testable import GridCore

/// `LocateAnswer.json()` (the server's GET /v1/locate body) must be
/// `WanggeJSON.encode`'s output byte for byte, for every kind of answer.
@Suite struct LocateAnswerJSONTests {
    static func expectSame(_ answers: [LocateAnswer], _ label: String) throws {
        var differences: [String] = []
        for answer in answers {
            let expected = String(decoding: try WanggeJSON.encode(answer), as: UTF8.self)
            let written = String(decoding: try answer.json(), as: UTF8.self)
            if written != expected { differences.append("expected \(expected)\n     got \(written)") }
        }
        #expect(differences.isEmpty, "\(label): \(differences.count) of \(answers.count) differ, first: \(differences.first ?? "")")
    }

    /// Doubles whose spelling is easy to get wrong: integers, exponents both
    /// ways, negative zero, the extremes, and centimetre rounding's edges.
    static let oddDoubles: [Double] = [0, -0.0, 1, -1, 112.355, 28.842, 0.1, 1e-5, 1e-7, 2.5e-7, 0.0001, 1e15, 1e16, 1e17, 1.5e300,
                                       -1e-300, 123456789012345680, 12345678.9, 0.005, 0.015, 2.675, 99.995, 1234.565,
                                       .leastNonzeroMagnitude, .greatestFiniteMagnitude, .ulpOfOne, 3_500_000.25, 39_517.123]

    /// Names with quotes, backslashes, slashes, every control character, CJK,
    /// emoji, U+2028 and DEL: what a grid file may carry.
    static let oddNames: [String] = {
        var names = ["沅江市琼湖街道", "网格\"一\"", "a\\b", "a/b</script>", "", " ", "😀 emoji", "\u{2028}\u{2029}\u{7F}", "é composed e\u{301}"]
        names += (0..<0x20).map { "控制\(Character(Unicode.Scalar($0)!))字符" }
        return names
    }()

    static func info(_ code: String, _ k: Int) -> GridInfo {
        let name = oddNames[k % oddNames.count]
        let worker: (String?, String?) = [(nil, nil), ("李华", nil), (nil, "13800138000"), ("王\"五\"", "138\n0013")][k % 4]
        return GridInfo(code: code, name: name, villageCode: code + "-v", villageName: oddNames[(k + 3) % oddNames.count],
                        townCode: code + "-t", townName: oddNames[(k + 7) % oddNames.count], workerName: worker.0, workerPhone: worker.1)
    }

    @Test func everyKindOfAnswerIsWrittenAsJSONEncoderWritesIt() throws {
        let codes = (0..<40).map { String(format: "430981-%03d-%03d-%03d", $0 / 12, $0 % 12, $0) }
        let infos = Dictionary(uniqueKeysWithValues: codes.enumerated().map { ($1, Self.info($1, $0)) })
        var random = SeededRandom(seed: 14)
        var answers: [LocateAnswer] = []
        func double(_ k: Int) -> Double {
            k % 3 == 0 ? Self.oddDoubles[k % Self.oddDoubles.count] : random.uniform(-1e6...1e6) * pow(10, Double(random.int(-12...12)))
        }
        for k in 0..<4_000 {
            let grid = Int32(k % codes.count), other = Int32((k + 1) % codes.count)
            let assignment = switch k % 6 {
            case 0: PointAssignment(grid: grid, method: .inside)
            case 1: PointAssignment(grid: grid, method: .inside, distanceMeters: abs(double(k)), runnerUp: other,
                                    runnerUpDistanceMeters: abs(double(k + 1)))
            case 2: PointAssignment(grid: grid, method: .boundary, distanceMeters: 0, runnerUp: other, runnerUpDistanceMeters: 0)
            case 3: PointAssignment(grid: grid, method: .nearest, distanceMeters: abs(double(k)), runnerUp: other,
                                    runnerUpDistanceMeters: abs(double(k + 2)))
            case 4: PointAssignment(grid: -1, method: .none, distanceMeters: abs(double(k)), nearestGrid: other)
            default: PointAssignment(grid: -1, method: .none)
            }
            let crs = ["EPSG:4326", "gcj02", "bd09", "EPSG:4549"][k % 4]
            answers.append(LocateAnswer(input: .init(x: double(k + 5), y: double(k + 7), crs: crs), wgs84: LonLat(double(k + 11), double(k + 13)),
                                        assignment: assignment, codes: codes, info: { infos[$0] }))
        }
        try Self.expectSame(answers, "made-up answers")
        // A grid code the answer's lookup does not know: every grid field null.
        try Self.expectSame([LocateAnswer(input: .init(x: 1, y: 2, crs: "EPSG:4326"), wgs84: LonLat(1, 2),
                                          assignment: PointAssignment(grid: 0, method: .inside), codes: codes, info: { _ in nil })], "unknown grid")
    }

    /// Real answers from the sample county: inside, on and near edges, outside
    /// within the tolerance and far beyond it (30–40 km out).
    @Test func theSampleCountysAnswersAreWrittenAsJSONEncoderWritesThem() throws {
        let shapes = try Fixtures.shapes(Fixtures.sampleGrids)
        let assigner = try GridAssigner(shapes: shapes)
        let infos = Dictionary(uniqueKeysWithValues: assigner.codes.enumerated().map { ($1, Self.info($1, $0)) })
        var random = SeededRandom(seed: 2026)
        var points = (0..<3_000).map { _ in LonLat(random.uniform(112.20...112.98), random.uniform(28.68...29.22)) }
        points += (0..<500).map { _ in LonLat(112.94 + random.uniform(30...40) / 97, random.uniform(28.71...29.19)) }
        points += try FastPathTests.edgeProbes(shapes, stride: 40)
        let assignments = try assigner.assign(points)
        let answers = zip(points, assignments).map { p, a in
            LocateAnswer(input: .init(x: p.lon, y: p.lat, crs: "EPSG:4326"), wgs84: p, assignment: a, codes: assigner.codes, info: { infos[$0] })
        }
        for method in AssignmentMethod.allCases {
            #expect(answers.contains { $0.method == method }, "no \(method) answer among the sample points")
        }
        #expect(answers.contains { $0.runnerUp != nil } && answers.contains { $0.nearestGrid != nil })
        try Self.expectSame(answers, "sample county")
        // POST /v1/locate's batch body, ids with and without escapes, and missing.
        struct Located: Encodable { let id: String?; let result: LocateAnswer }
        let ids: [String?] = answers.indices.map { $0 % 5 == 4 ? nil : Self.oddNames[$0 % Self.oddNames.count] + "\($0)" }
        let expected = String(decoding: try WanggeJSON.encode(["results": zip(ids, answers).map { Located(id: $0, result: $1) }]), as: UTF8.self)
        #expect(String(decoding: try LocateAnswer.batchJSON(Array(zip(ids, answers))), as: UTF8.self) == expected)
        #expect(String(decoding: try LocateAnswer.batchJSON([]), as: UTF8.self) == String(decoding: try WanggeJSON.encode(["results": [Located]()]), as: UTF8.self))
    }

    @Test func anAnswerJSONEncoderRefusesIsRefused() throws {
        let answer = LocateAnswer(input: .init(x: .infinity, y: 2, crs: "EPSG:4326"), wgs84: LonLat(1, 2),
                                  assignment: PointAssignment(grid: -1, method: .none), codes: [], info: { _ in nil })
        #expect(throws: EncodingError.self) { try answer.json() }
    }
}
