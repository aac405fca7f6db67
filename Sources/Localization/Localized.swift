/// A text a user reads, kept as its English template and arguments until it is
/// shown, so that each front end renders it in its reader's language: the
/// command line in the configured one, the API in the one `Accept-Language` asks for.
///
/// Templates are English with numbered places (`grid {1} does not exist`): the
/// English text is the catalogue's key, as in gettext, and `tr("…")` is the only
/// way to make one, so a test can find every template in the sources and check
/// that each language's catalogue has it.
public struct Localized: Sendable, Hashable, CustomStringConvertible {
    indirect enum Form: Sendable, Hashable {
        case template(String, [Localized])
        /// Words from outside (a file name, a code, GEOS's or SQLite's own message): never translated.
        case verbatim(String)
        case joined([Localized], separator: String)
        /// Items of a list, separated as the reader's language separates them.
        case list([Localized])
    }

    let form: Form

    init(_ form: Form) { self.form = form }

    /// Text that is shown as it is: a value, or a lower layer's own words.
    public static func verbatim(_ text: String) -> Localized { Localized(.verbatim(text)) }

    /// Several texts shown one after the other.
    public static func joined(_ parts: [Localized], separator: String) -> Localized {
        Localized(.joined(parts, separator: separator))
    }

    /// The items of a list: "2 added, 1 removed" in English, "新增 2 个，撤销 1 个" in Chinese.
    public static func list(_ items: [Localized]) -> Localized {
        Localized(.list(items))
    }

    /// The English template, for a text made by `tr`; nil for verbatim and joined texts.
    public var template: String? {
        if case .template(let template, _) = form { return template }
        return nil
    }

    public func rendered(in language: Language) -> String {
        switch form {
        case .verbatim(let text):
            return text
        case .joined(let parts, let separator):
            return parts.map { $0.rendered(in: language) }.joined(separator: separator)
        case .list(let items):
            return items.map { $0.rendered(in: language) }.joined(separator: language == .zh ? "，" : ", ")
        case .template(let template, let arguments):
            let translated = Catalogue.translation(of: template, in: language) ?? template
            return Self.fill(translated, with: arguments.map { $0.rendered(in: language) })
        }
    }

    /// Two texts are equal when they read the same (in English): however each was put together.
    public static func == (a: Localized, b: Localized) -> Bool { a.description == b.description }
    public func hash(into hasher: inout Hasher) { hasher.combine(description) }

    /// The current reader's language (`Language.current`), for everything shown rather than logged.
    public var rendered: String { rendered(in: .current) }

    /// English: logs, tests, and `"\(error)"`.
    public var description: String { rendered(in: .en) }

    /// Replaces each `{n}` with the n-th argument (1-based); braces around anything else stay as they are.
    static func fill(_ template: String, with arguments: [String]) -> String {
        guard !arguments.isEmpty, template.contains("{") else { return template }
        var result = ""
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            let afterOpen = rest.index(after: open)
            let digits = rest[afterOpen...].prefix { $0.isASCII && $0.isNumber }
            let close = digits.endIndex
            if !digits.isEmpty, close < rest.endIndex, rest[close] == "}", let n = Int(digits), (1...arguments.count).contains(n) {
                result += arguments[n - 1]
                rest = rest[rest.index(after: close)...]
            } else {
                result.append("{")
                rest = rest[afterOpen...]
            }
        }
        return result + rest
    }
}

/// A value with words of its own for the user, e.g. an error or a place in a file.
public protocol LocalizedConvertible {
    var text: Localized { get }
}

/// In JSON a text is a string in the current reader's language.
extension Localized: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rendered)
    }
}

/// The English template of a user-facing text, written as an ordinary string
/// literal: each interpolation becomes a numbered place and an argument.
public struct LocalizableTemplate: ExpressibleByStringInterpolation, Sendable {
    var template = ""
    var arguments: [Localized] = []

    public init(stringLiteral value: String) { template = value }

    public init(stringInterpolation: Interpolation) {
        template = stringInterpolation.template
        arguments = stringInterpolation.arguments
    }

    public struct Interpolation: StringInterpolationProtocol {
        var template = ""
        var arguments: [Localized] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            template.reserveCapacity(literalCapacity + 4 * interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) { template += literal }

        /// A text inside a text is rendered in the same language.
        public mutating func appendInterpolation(_ text: Localized) {
            arguments.append(text)
            template += "{\(arguments.count)}"
        }

        /// A value that has its own words (an error, a place in a file) shows them in the same language.
        public mutating func appendInterpolation(_ value: some LocalizedConvertible) {
            appendInterpolation(value.text)
        }

        public mutating func appendInterpolation<T>(_ value: T) {
            appendInterpolation(Localized.verbatim(String(describing: value)))
        }
    }
}

/// A user-facing text: `tr("grid \(code) does not exist")`. The template must be
/// one single-line string literal, so that the catalogue test can read it from the source.
public func tr(_ template: LocalizableTemplate) -> Localized {
    Localized(.template(template.template, template.arguments))
}
