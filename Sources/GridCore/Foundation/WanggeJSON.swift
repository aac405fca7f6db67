import Foundation

/// The one JSON form every front end writes: keys sorted and in snake_case,
/// slashes and CJK left as they are, dates in ISO 8601. The command line's
/// `--json` and the HTTP API give byte-identical answers for the same question.
public enum WanggeJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(value)
    }

    public static func text<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }
}
