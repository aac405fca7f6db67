import Foundation

/// The languages Wangge speaks: Simplified Chinese for the people who use it,
/// English for everyone else (and for logs and tests).
public enum Language: String, Sendable, CaseIterable {
    case zh, en

    /// The language a configuration value names: `zh`, `zh-CN`, `zh_CN.UTF-8`, `en`, `en-US` …; nil for any other.
    public init?(tag: String) {
        let primary = tag.trimmingCharacters(in: .whitespaces)
            .prefix { $0.isLetter }
            .lowercased()
        switch primary {
        case "zh": self = .zh
        case "en": self = .en
        default: return nil
        }
    }

    /// The supported language an `Accept-Language` header (RFC 9110 §12.5.4) prefers
    /// most: the highest quality wins, ties go to the one listed first; `*` means any,
    /// which is `fallback`. Nil when the header names no language Wangge speaks.
    public static func preferred(acceptLanguage header: String, fallback: Language) -> Language? {
        var best: (language: Language, quality: Double)?
        for range in header.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = parts.first, !tag.isEmpty else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() where parameter.lowercased().hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            guard quality > 0, quality <= 1 else { continue }
            guard let language = tag == "*" ? fallback : Language(tag: tag) else { continue }
            if best == nil || quality > best!.quality { best = (language, quality) }
        }
        return best?.language
    }

    /// The language of the POSIX locale in the environment (LC_ALL, then LC_MESSAGES,
    /// then LANG, as setlocale reads them); nil when none is set or it is `C`/`POSIX`.
    public static func fromLocale(environment: [String: String]) -> Language? {
        for name in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            guard let value = environment[name], !value.isEmpty else { continue }
            return Language(tag: value)
        }
        return nil
    }
}

/// The language of this process's own output (the command line's tables, progress
/// lines and errors): set once at start from the configuration or the locale.
public enum ProcessLanguage {
    private static let storage = LockedLanguage()

    public static var current: Language {
        get { storage.value }
        set { storage.value = newValue }
    }
}

private final class LockedLanguage: @unchecked Sendable {
    private let lock = NSLock()
    private var language = Language.en
    var value: Language {
        get { lock.withLock { language } }
        set { lock.withLock { language = newValue } }
    }
}

extension Language {
    /// The reader of the work this task does (an API request's `Accept-Language`), when it is not the process's.
    @TaskLocal public static var ofTask: Language?

    /// Whom texts are rendered for right now: this task's reader, else the process's language.
    public static var current: Language { ofTask ?? ProcessLanguage.current }
}
