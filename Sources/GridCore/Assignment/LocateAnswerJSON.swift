import Foundation

extension LocateAnswer {
    /// The answer exactly as `WanggeJSON.encode` writes it (keys sorted, every
    /// key present, nulls included), written straight to bytes: JSONEncoder's
    /// key conversion and sorting cost more than locating the point, and the
    /// server answers GET /v1/locate with this. Tests compare the two byte for byte.
    public func json() throws -> [UInt8] {
        // JSONEncoder refuses infinities and NaN: its error, not a different answer.
        guard input.x.isFinite, input.y.isFinite, wgs84.allSatisfy(\.isFinite), distanceM?.isFinite ?? true,
              runnerUpDistanceM?.isFinite ?? true else { return Array(try WanggeJSON.encode(self)) }
        var out = JSONBytes()
        out.key("{\"distance_m\":"); out.number(distanceM.map(Self.rounded))
        out.key(",\"grid\":"); out.string(grid)
        out.key(",\"grid_name\":"); out.string(gridName)
        out.key(",\"input\":{\"crs\":"); out.string(input.crs)
        out.key(",\"x\":"); out.number(input.x)
        out.key(",\"y\":"); out.number(input.y)
        out.key("},\"method\":"); out.string(method.rawValue)
        out.key(",\"nearest_grid\":"); out.string(nearestGrid)
        out.key(",\"runner_up\":"); out.string(runnerUp)
        out.key(",\"runner_up_distance_m\":"); out.number(runnerUpDistanceM.map(Self.rounded))
        out.key(",\"town\":"); out.string(town)
        out.key(",\"town_name\":"); out.string(townName)
        out.key(",\"village\":"); out.string(village)
        out.key(",\"village_name\":"); out.string(villageName)
        out.key(",\"wgs84\":[")
        for (i, value) in wgs84.enumerated() {
            if i > 0 { out.key(",") }
            out.number(value)
        }
        out.key("],\"worker\":")
        if let worker {
            // The synthesized encoding leaves out a missing name or phone.
            out.key("{")
            if let name = worker.name { out.key("\"name\":"); out.string(name) }
            if let phone = worker.phone { out.key(worker.name == nil ? "\"phone\":" : ",\"phone\":"); out.string(phone) }
            out.key("}")
        } else {
            out.key("null")
        }
        out.key("}")
        return out.bytes
    }
}

extension LocateAnswer {
    /// `{"results":[{"id":…,"result":…},…]}` (a missing id left out) as `WanggeJSON.encode`
    /// writes a batch of located points: POST /v1/locate's body. Through JSONEncoder, the
    /// key conversion and sorting took nine tenths of a 10,000-point request.
    public static func batchJSON(_ located: [(id: String?, answer: LocateAnswer)]) throws -> [UInt8] {
        var out = JSONBytes()
        out.bytes.reserveCapacity(located.count * 480 + 16)
        out.key("{\"results\":[")
        for (i, point) in located.enumerated() {
            out.key(i == 0 ? "{" : ",{")
            if let id = point.id {
                out.key("\"id\":")
                out.string(id)
                out.key(",")
            }
            out.key("\"result\":")
            out.bytes.append(contentsOf: try point.answer.json())
            out.key("}")
        }
        out.key("]}")
        return out.bytes
    }
}

/// JSON text as bytes, in JSONEncoder's spelling: numbers as `description`
/// without a trailing ".0", strings with `"`, `\` and control characters
/// escaped (\b \t \n \f \r by name, the rest as \u00XX) and nothing else.
struct JSONBytes {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(640) }

    /// Text known to need no escaping: keys and punctuation.
    mutating func key(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func number(_ value: Double?) {
        guard let value else { return key("null") }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    mutating func string(_ value: String?) {
        guard let value else { return key("null") }
        bytes.append(UInt8(ascii: "\""))
        // Names and codes rarely need escaping: then they go in whole.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes.append(contentsOf: value.utf8)
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0x08: key("\\b")
            case 0x09: key("\\t")
            case 0x0A: key("\\n")
            case 0x0C: key("\\f")
            case 0x0D: key("\\r")
            case 0..<0x20:
                key("\\u00")
                bytes.append(lowercaseHexDigits[Int(byte >> 4)])
                bytes.append(lowercaseHexDigits[Int(byte & 0x0F)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
