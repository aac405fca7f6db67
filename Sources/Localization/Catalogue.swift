/// Each language's messages, keyed by the English template. English needs no
/// table: its templates are the keys, written where each text is used.
public enum Catalogue {
    static func translation(of template: String, in language: Language) -> String? {
        switch language {
        case .en: return nil
        case .zh: return chineseTable[template]
        }
    }

    /// The Chinese messages: the errors and reports of every layer, and the command line's help and tables.
    static let chineseParts = [chinese, chineseCommandLine, chineseRecords, chineseWebMap, chinesePostGIS]
    private static let chineseTable = chineseParts.reduce(into: [String: String]()) { table, part in
        table.merge(part) { first, _ in first }
    }

    /// The translations of `templates` into `language` (those it has), for texts
    /// rendered elsewhere: the web map's script asks for its own in one answer.
    public static func translations(of templates: some Sequence<String>, in language: Language) -> [String: String] {
        var found: [String: String] = [:]
        for template in templates { found[template] = translation(of: template, in: language) }
        return found
    }

    /// Every language's table, for the catalogue test.
    public static var tables: [Language: [String: String]] { [.zh: chineseTable] }
}

/// Texts of a browser script: each `t("…")` call's literal is a catalogue
/// template, written without backslashes (the catalogue test refuses them),
/// so the literal is the template as it stands.
public enum ScriptTexts {
    public static func templates(in script: String) -> [String] {
        var found: [String] = []
        var rest = Substring(script)
        while let call = rest.range(of: "t(\"") {
            // `t(` must be the whole name: not the end of `split(` or `post(`.
            let before = rest[..<call.lowerBound].last
            rest = rest[call.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { break }
            if !(before.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "$" || $0 == "." } ?? false) {
                found.append(String(rest[..<end]))
            }
            rest = rest[rest.index(after: end)...]
        }
        return found
    }
}
