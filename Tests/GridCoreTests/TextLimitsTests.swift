import Foundation
import Testing
@testable import GridCore

@Suite struct TextLimitsTests {
    /// The definition the byte scan stands for: length in scalars, and the first scalar of category Cc.
    static func reference(_ value: String, limit: Int, multiline: Bool) -> String? {
        let length = value.unicodeScalars.count
        if length > limit { return "is \(length) characters long; at most \(limit) are allowed" }
        if let bad = value.unicodeScalars.first(where: { $0.properties.generalCategory == .control && !(multiline && ($0 == "\n" || $0 == "\r" || $0 == "\t")) }) {
            let hex = String(bad.value, radix: 16, uppercase: true)
            return "contains the control character U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex)"
        }
        return nil
    }

    @Test func theByteScanAgreesWithTheScalarPropertiesForEveryScalar() {
        for value in 0...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let text = "a\(scalar)中"
            for multiline in [false, true] {
                let problem = TextLimits.problem(text, limit: 3, multiline: multiline)?.description
                if problem != Self.reference(text, limit: 3, multiline: multiline) {
                    Issue.record("U+\(String(value, radix: 16)) multiline \(multiline): \(problem ?? "nil")")
                }
            }
        }
        for text in ["", "网格员", String(repeating: "网", count: 201), "a\u{85}\u{1}", "\r\n\t", "😀😀"] {
            for limit in [0, 2, 200] {
                #expect(TextLimits.problem(text, limit: limit, multiline: false)?.description == Self.reference(text, limit: limit, multiline: false))
            }
        }
    }
}

@Suite struct ParallelSlicesTests {
    @Test func resultsComeInSliceOrderAndTheFirstFailingSliceIsReported() throws {
        let sums = try mapSlicesInParallel(count: 100_003, sliceLength: 1_000) { range in range.reduce(0, +) }
        #expect(sums.count == 101)
        #expect(sums.reduce(0, +) == (0..<100_003).reduce(0, +))
        #expect(sums[0] == (0..<1_000).reduce(0, +) && sums[100] == (100_000..<100_003).reduce(0, +))
        struct Failed: Error, Equatable { let slice: Int }
        #expect(throws: Failed(slice: 7)) {
            _ = try mapSlicesInParallel(count: 100_000, sliceLength: 1_000) { range in
                if range.lowerBound >= 7_000 && range.lowerBound % 3_000 == 1_000 { throw Failed(slice: range.lowerBound / 1_000) }
                return range.count
            }
        }
        #expect(try mapSlicesInParallel(count: 0, sliceLength: 10) { $0.count }.isEmpty)
    }
}
