import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The encodings a point file arrives in: UTF-8, or GBK/GB18030 as Excel on
/// Chinese Windows saves a CSV ("CSV（逗号分隔）").
public enum TextDecoding {
    /// The text of bytes that are UTF-8, else GB18030 (a GBK file's header), else UTF-8 with
    /// replacement characters.
    public static func string(utf8OrGB18030 bytes: UnsafeBufferPointer<UInt8>) -> String {
        if isUTF8(bytes) { return String(decoding: bytes, as: UTF8.self) }
        return utf8(fromGB18030: bytes).map { String(decoding: $0, as: UTF8.self) } ?? String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `bytes` are well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
    static func isUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = bytes.count
        var i = 0
        while i < n {
            // Eight ASCII bytes at a time: most of a CSV is digits and commas.
            if i + 8 <= n, UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
                continue
            }
            let lead = bytes[i]
            if lead < 0x80 { i += 1; continue }
            let length: Int, second: ClosedRange<UInt8>
            switch lead {
            case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
            case 0xE0: (length, second) = (3, 0xA0...0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
            case 0xED: (length, second) = (3, 0x80...0x9F)
            case 0xF0: (length, second) = (4, 0x90...0xBF)
            case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
            case 0xF4: (length, second) = (4, 0x80...0x8F)
            default: return false
            }
            guard i + length <= n, second.contains(bytes[i + 1]) else { return false }
            for k in 2..<max(2, length) where !(0x80...0xBF).contains(bytes[i + k]) { return false }
            i += length
        }
        return true
    }

    /// GB18030 (which holds GBK and GB2312) as UTF-8 through the C library's
    /// iconv; nil when the bytes are not GB18030 either.
    static func utf8(fromGB18030 bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let converter = iconv_open("UTF-8", "GB18030")
        guard let converter, converter != iconv_t(bitPattern: -1) else { return nil }
        defer { iconv_close(converter) }
        // A GB18030 character of n bytes is at most n + 1 bytes of UTF-8 (2 → 3; 1 and 4 stay).
        var output = [UInt8](repeating: 0, count: bytes.count * 3 / 2 + 16)
        let written: Int? = output.withUnsafeMutableBufferPointer { out in
            var input = UnsafeMutablePointer(mutating: bytes.baseAddress).map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: CChar.self) }
            var inputLeft = bytes.count
            var cursor = UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self) as UnsafeMutablePointer<CChar>?
            var outputLeft = out.count
            guard bytes.count == 0 || iconv(converter, &input, &inputLeft, &cursor, &outputLeft) != -1 else { return nil }
            return out.count - outputLeft
        }
        guard let written else { return nil }
        output.removeSubrange(written...)
        return output
    }
}
