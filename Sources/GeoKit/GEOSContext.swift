import CGEOS
import Localization

/// An error reported by GEOS or PROJ, or a geometry that cannot be used.
public struct GeoError: Error, CustomStringConvertible, LocalizedConvertible, Equatable, Sendable {
    public let text: Localized
    public init(_ text: Localized) { self.text = text }
    /// In English: logs and tests.
    public var message: String { text.rendered(in: .en) }
    public var description: String { message }
}

/// Collects the messages GEOS reports through its error handler, so that a
/// failed call can throw with GEOS's own words.
final class GEOSMessageBox {
    var lastError: String?
    var lastNotice: String?
}

/// One GEOS context: owns `GEOS_init_r` / `GEOS_finish_r`. GEOS contexts must
/// not be shared between threads, so this type is deliberately not `Sendable`:
/// each thread or task creates its own.
public final class GEOSContext {
    let handle: GEOSContextHandle_t
    private let messages: GEOSMessageBox
    private let messagesPointer: UnsafeMutableRawPointer

    public init() throws {
        guard let handle = GEOS_init_r() else { throw GeoError(tr("GEOS_init_r failed")) }
        self.handle = handle
        messages = GEOSMessageBox()
        messagesPointer = Unmanaged.passUnretained(messages).toOpaque()
        GEOSContext_setErrorMessageHandler_r(handle, { message, userData in
            guard let message, let userData else { return }
            Unmanaged<GEOSMessageBox>.fromOpaque(userData).takeUnretainedValue().lastError = String(cString: message)
        }, messagesPointer)
        GEOSContext_setNoticeMessageHandler_r(handle, { message, userData in
            guard let message, let userData else { return }
            Unmanaged<GEOSMessageBox>.fromOpaque(userData).takeUnretainedValue().lastNotice = String(cString: message)
        }, messagesPointer)
    }

    deinit {
        GEOS_finish_r(handle)
    }

    /// The error GEOS reported for the call that just failed, cleared on read.
    func takeError(_ operation: String) -> GeoError {
        defer { messages.lastError = nil }
        if let message = messages.lastError { return GeoError(tr("\(operation): \(message)")) }
        return GeoError(tr("\(operation) failed"))
    }

    /// Wraps a GEOS call returning a new geometry that the caller owns.
    func owned(_ operation: String, _ pointer: OpaquePointer?) throws -> Geometry {
        guard let pointer else { throw takeError(operation) }
        return Geometry(owning: pointer, context: self)
    }

    /// Checks a GEOS predicate result: 0 false, 1 true, 2 exception.
    func predicate(_ operation: String, _ result: CChar) throws -> Bool {
        switch result {
        case 0: return false
        case 1: return true
        default: throw takeError(operation)
        }
    }

    /// Checks the int status of a GEOS getter: 0 is the documented failure.
    func status(_ operation: String, _ result: Int32) throws {
        if result == 0 { throw takeError(operation) }
    }

    /// Copies a GEOS-allocated C string and frees it with `GEOSFree_r`.
    func takeString(_ operation: String, _ pointer: UnsafeMutablePointer<CChar>?) throws -> String {
        guard let pointer else { throw takeError(operation) }
        defer { GEOSFree_r(handle, pointer) }
        return String(cString: pointer)
    }

    public static var version: String { String(cString: GEOSversion()) }
}
