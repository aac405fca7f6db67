extension Sequence where Element == UInt8 {
    /// The bytes as lowercase hexadecimal, two digits each (token values and their hashes).
    public var lowercaseHex: String {
        var text: [UInt8] = []
        text.reserveCapacity(2 * underestimatedCount)
        for byte in self {
            text.append(lowercaseHexDigits[Int(byte >> 4)])
            text.append(lowercaseHexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// "0123456789abcdef" as bytes.
let lowercaseHexDigits: [UInt8] = Array("0123456789abcdef".utf8)
