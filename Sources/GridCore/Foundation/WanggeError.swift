import Foundation
import Localization

/// The one error the application reports to its users, whichever door they
/// came in by. Its message names the field, the value and what is allowed,
/// in words that fit the command line and the HTTP API alike; each front end
/// maps `kind` once (to an RFC 9457 status, to an exit code).
public struct WanggeError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// What was asked for does not exist: a grid, an incident, a draft.
        case notFound = "not_found"
        /// The input is malformed or out of range.
        case invalid
        /// The input is well formed but the state forbids it: a stale version, an illegal transition.
        case conflict
        /// A rule of the domain says no: outside every grid, a draft that does not validate.
        case refused
        /// The caller may not do this.
        case unauthorized
        /// Try again later: the database is busy with another writer.
        case unavailable
    }

    public let kind: Kind
    /// What went wrong, in words each front end renders in its reader's language.
    public let text: Localized
    /// The field, parameter or option at fault, when one is.
    public let field: String?
    public let value: String?
    public let allowed: [String]?
    /// The lower layer's own words for what happened (e.g. SQLite's "database is locked"), for logs, not users.
    public let cause: String?

    public init(_ kind: Kind, _ text: Localized, field: String? = nil, value: String? = nil, allowed: [String]? = nil, cause: String? = nil) {
        self.kind = kind
        self.text = text
        self.field = field
        self.value = value
        self.allowed = allowed
        self.cause = cause
    }

    /// In English: logs and tests.
    public var message: String { text.rendered(in: .en) }

    public func message(in language: Language) -> String { text.rendered(in: language) }

    public var description: String { message }

    public static func invalid(_ text: Localized, field: String? = nil, value: String? = nil, allowed: [String]? = nil) -> WanggeError {
        WanggeError(.invalid, text, field: field, value: value, allowed: allowed)
    }

    public static func notFound(_ text: Localized, field: String? = nil, value: String? = nil) -> WanggeError {
        WanggeError(.notFound, text, field: field, value: value)
    }

    public static func refused(_ text: Localized, field: String? = nil) -> WanggeError {
        WanggeError(.refused, text, field: field)
    }

    public static func unauthorized(_ text: Localized) -> WanggeError {
        WanggeError(.unauthorized, text)
    }

    /// The same error with its message prefixed by where it happened (a file, an option).
    public func prefixed(_ context: String) -> WanggeError {
        WanggeError(kind, tr("\(context): \(text)"), field: field, value: value, allowed: allowed, cause: cause)
    }

    /// The same error blamed on another field (the option or parameter that carried the value).
    public func blaming(_ field: String) -> WanggeError {
        WanggeError(kind, text, field: field, value: value, allowed: allowed, cause: cause)
    }
}
