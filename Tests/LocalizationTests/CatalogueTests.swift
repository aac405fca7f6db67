import Foundation
@testable import Localization
import Testing
import Localization

/// Reads every `tr("…")` template out of the sources, the way the compiler builds
/// it: literal text unescaped, each `\(…)` a numbered place.
struct TemplateScanner {
    struct Found { let template: String; let place: String }
    enum ScanError: Error, CustomStringConvertible {
        case notALiteral(String)
        var description: String {
            switch self { case .notALiteral(let place): "\(place): tr( must take one single-line string literal" }
        }
    }

    static let sourcesRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    static func swiftFiles() throws -> [URL] {
        let enumerator = FileManager.default.enumerator(at: sourcesRoot, includingPropertiesForKeys: nil)
        return (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
    }

    /// The web map's scripts: their `t("…")` calls are templates too.
    static func scriptFiles() -> [URL] {
        let enumerator = FileManager.default.enumerator(at: sourcesRoot, includingPropertiesForKeys: nil)
        return (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "js" }.sorted { $0.path < $1.path }
    }

    static func templates() throws -> [Found] {
        var found: [Found] = []
        for file in scriptFiles() {
            for template in ScriptTexts.templates(in: try String(contentsOf: file, encoding: .utf8)) {
                found.append(Found(template: template, place: file.lastPathComponent))
            }
        }
        for file in try swiftFiles() {
            let text = Array(try String(contentsOf: file, encoding: .utf8).unicodeScalars)
            var i = 0
            var line = 1
            while i < text.count {
                if text[i] == "\n" { line += 1 }
                // Comments show templates as examples; they are not uses.
                if text[i] == "/", i + 1 < text.count, text[i + 1] == "/" {
                    while i < text.count, text[i] != "\n" { i += 1 }
                    continue
                }
                if text[i] == "t", i + 2 < text.count, text[i + 1] == "r", text[i + 2] == "(",
                   i == 0 || !(text[i - 1].properties.isAlphabetic || text[i - 1] == "_" || text[i - 1] == "." || ("0"..."9").contains(text[i - 1])) {
                    let place = "\(file.lastPathComponent):\(line)"
                    // `func tr(` is the definition, not a use.
                    let before = String(String.UnicodeScalarView(text[max(0, i - 5)..<i]))
                    if before.hasSuffix("func ") { i += 3; continue }
                    guard i + 3 < text.count, text[i + 3] == "\"", !(i + 5 < text.count && text[i + 4] == "\"" && text[i + 5] == "\"") else {
                        throw ScanError.notALiteral(place)
                    }
                    var position = i + 3
                    guard let template = literal(text, &position) else { throw ScanError.notALiteral(place) }
                    found.append(Found(template: template, place: place))
                    i = position
                    continue
                }
                i += 1
            }
        }
        return found
    }

    /// The template of the literal starting at `position` (its opening quote); `position` ends after the closing quote.
    static func literal(_ text: [Unicode.Scalar], _ position: inout Int) -> String? {
        var template = ""
        var places = 0
        var i = position + 1
        while i < text.count {
            let c = text[i]
            if c == "\n" { return nil }
            if c == "\"" { position = i + 1; return template }
            if c == "\\" {
                guard i + 1 < text.count else { return nil }
                let next = text[i + 1]
                switch next {
                case "(":
                    var depth = 1
                    var j = i + 2
                    while j < text.count, depth > 0 {
                        if text[j] == "\"" {
                            guard literal(text, &j) != nil else { return nil }
                            continue
                        }
                        if text[j] == "(" { depth += 1 } else if text[j] == ")" { depth -= 1 }
                        j += 1
                    }
                    places += 1
                    template += "{\(places)}"
                    i = j
                    continue
                case "n": template += "\n"
                case "t": template += "\t"
                case "r": template += "\r"
                case "0": template += "\0"
                case "u":
                    guard let close = text[(i + 2)...].firstIndex(of: "}"),
                          let value = UInt32(String(String.UnicodeScalarView(text[(i + 3)..<close])), radix: 16),
                          let scalar = Unicode.Scalar(value) else { return nil }
                    template.unicodeScalars.append(scalar)
                    i = close + 1
                    continue
                default: template.unicodeScalars.append(next)
                }
                i += 2
                continue
            }
            template.unicodeScalars.append(c)
            i += 1
        }
        return nil
    }

    static func placeholders(_ text: String) -> Set<String> {
        var result = Set<String>()
        var rest = text[...]
        while let open = rest.firstIndex(of: "{") {
            let digits = rest[rest.index(after: open)...].prefix { $0.isASCII && $0.isNumber }
            if !digits.isEmpty, digits.endIndex < rest.endIndex, rest[digits.endIndex] == "}" { result.insert("{\(digits)}") }
            rest = rest[rest.index(after: open)...]
        }
        return result
    }
}

@Suite struct CatalogueTests {
    @Test func scannerReadsTemplatesAsTheCompilerBuildsThem() throws {
        let name = "村"
        let count = Int.random(in: 2...3)
        let made = tr("grid \(name) has \(count) \"problem\(count == 1 ? "" : "s")\"\tthen\n\u{7F51}")
        let source = Array(#"tr("grid \(name) has \(count) \"problem\(count == 1 ? "" : "s")\"\tthen\n\u{7F51}")"#.unicodeScalars)
        var position = 3
        let scanned = TemplateScanner.literal(source, &position)
        #expect(scanned == made.template)
        #expect(position == source.count - 1)
    }

    @Test func everyTemplateIsInEveryLanguageAndNothingElse() throws {
        let found = try TemplateScanner.templates()
        #expect(found.count > 100, "the scan found only \(found.count) templates: is it reading the sources?")
        let used = Set(found.map(\.template))
        for (language, table) in Catalogue.tables {
            let missing = found.filter { table[$0.template] == nil }
            var seen = Set<String>()
            let missingLines = missing.filter { seen.insert($0.template).inserted }.map { found in
                "    \(swiftLiteral(found.template)): \"\",  // \(found.place)"
            }
            #expect(missing.isEmpty, "\(language): \(seen.count) templates have no translation:\n\(missingLines.joined(separator: "\n"))")
            let unused = table.keys.filter { !used.contains($0) }.sorted()
            #expect(unused.isEmpty, "\(language): translations of templates no source uses:\n\(unused.joined(separator: "\n"))")
            for (template, translation) in table {
                let extra = TemplateScanner.placeholders(translation).subtracting(TemplateScanner.placeholders(template))
                #expect(extra.isEmpty, "\(language): \(translation) has places \(extra.sorted()) that \(template) has not")
                #expect(!translation.isEmpty, "\(language): empty translation of \(template)")
            }
        }
    }

    /// The server reads the script's templates as they stand, so they must be
    /// plain literals: no escapes, and no `t(` of anything but a literal.
    @Test func scriptTextsArePlainLiterals() throws {
        let scripts = TemplateScanner.scriptFiles()
        #expect(scripts.contains { $0.lastPathComponent == "app.js" })
        for file in scripts {
            let text = try String(contentsOf: file, encoding: .utf8)
            for template in ScriptTexts.templates(in: text) {
                #expect(!template.contains("\\"), "\(file.lastPathComponent): t(\"\(template)\") has a backslash")
            }
            let calls = text.components(separatedBy: "t(").dropFirst().enumerated().filter { index, after in
                let before = text.components(separatedBy: "t(")[index].last
                let isCall = !(before.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "$" || $0 == "." } ?? false)
                return isCall && !after.hasPrefix("\"") && !after.hasPrefix("template")
            }
            #expect(calls.isEmpty, "\(file.lastPathComponent): t( of something other than a string literal: \(calls.map { String($0.1.prefix(30)) })")
        }
    }

    @Test func scriptTemplatesAreFound() {
        let script = #"const a = t("Log in"); split("x"); x.t("no"); alert(t("{1} grids", n));"#
        #expect(ScriptTexts.templates(in: script) == ["Log in", "{1} grids"])
    }

    @Test func noTemplateIsInTwoPartsOfTheChineseCatalogue() {
        let parts = Catalogue.chineseParts
        for (index, part) in parts.enumerated() {
            for later in parts[(index + 1)...] {
                let both = Set(part.keys).intersection(later.keys)
                #expect(both.isEmpty, "in two parts of the Chinese catalogue: \(both.sorted())")
            }
        }
    }

    /// What the command line prints, the help it gives and the map it draws go
    /// through `tr` too: a literal with words in one of these places bypasses the catalogue.
    @Test func noUserFacingLiteralBypassesTheCatalogue() throws {
        let places = try NSRegularExpression(pattern: #"(print\(|printError\(|ValidationError\(|abstract: |discussion: |help: |title: |message = |status = )"((?:[^"\\]|\\.)*)""#)
        let interpolation = try NSRegularExpression(pattern: #"\\\((?:[^()]|\([^()]*\))*\)"#)
        let words = try NSRegularExpression(pattern: "[A-Za-z]{2,}")
        var bypassing: [String] = []
        for file in try TemplateScanner.swiftFiles() where ["wangge", "GridMap", "GridServer"].contains(file.deletingLastPathComponent().lastPathComponent) {
            for (number, line) in try String(contentsOf: file, encoding: .utf8).components(separatedBy: "\n").enumerated()
            where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                let range = NSRange(line.startIndex..., in: line)
                for match in places.matches(in: line, range: range) {
                    let body = (line as NSString).substring(with: match.range(at: 2))
                    let plain = interpolation.stringByReplacingMatches(in: body, range: NSRange(body.startIndex..., in: body), withTemplate: "")
                    if words.firstMatch(in: plain, range: NSRange(plain.startIndex..., in: plain)) != nil {
                        bypassing.append("\(file.lastPathComponent):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
                    }
                }
            }
        }
        #expect(bypassing.isEmpty, "user-facing literals outside tr(\"…\"):\n\(bypassing.joined(separator: "\n"))")
    }

    @Test func chineseIsChinese() {
        // A translation left in English is a missing translation; templates with
        // no words (`{1}: {2}`) may stay as they are.
        for (template, translation) in Catalogue.tables[.zh] ?? [:] where TemplateScanner.placeholders(template).reduce(template, { $0.replacingOccurrences(of: $1, with: "") }).contains(where: { $0.isASCII && $0.isLetter }) {
            let hasHan = translation.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) }
            #expect(hasHan || Self.untranslatable.contains(template), "zh: \(template) → \(translation) has no Chinese")
        }
    }

    /// Templates whose words are codes or names that stay as written in both languages.
    static let untranslatable: Set<String> = ["{1} (WGS84)"]

    @Test func placesMoveWithTheLanguage() {
        let text = Localized(.template("{1}: {2}", [.verbatim("a.csv"), .verbatim("line 3")]))
        #expect(text.rendered(in: .en) == "a.csv: line 3")
        #expect(text.rendered(in: .zh) == "a.csv：line 3")
        #expect(Localized.fill("{2} before {1}, {x} and {9} stay", with: ["one", "two"]) == "two before one, {x} and {9} stay")
    }

    @Test func acceptLanguageChoosesTheMostWantedLanguageWeSpeak() {
        #expect(Language.preferred(acceptLanguage: "zh-CN,zh;q=0.9,en;q=0.8", fallback: .en) == .zh)
        #expect(Language.preferred(acceptLanguage: "en-US,en;q=0.9", fallback: .zh) == .en)
        #expect(Language.preferred(acceptLanguage: "fr-FR, en;q=0.5, zh;q=0.7", fallback: .en) == .zh)
        #expect(Language.preferred(acceptLanguage: "fr, de", fallback: .zh) == nil)
        #expect(Language.preferred(acceptLanguage: "*", fallback: .zh) == .zh)
        #expect(Language.preferred(acceptLanguage: "zh;q=0, en", fallback: .zh) == .en)
        #expect(Language.preferred(acceptLanguage: "zh;q=abc, en;q=0.1", fallback: .zh) == .en)
        #expect(Language.preferred(acceptLanguage: "", fallback: .zh) == nil)
    }

    @Test func localeNamesTheLanguage() {
        #expect(Language.fromLocale(environment: ["LANG": "zh_CN.UTF-8"]) == .zh)
        #expect(Language.fromLocale(environment: ["LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"]) == .en)
        #expect(Language.fromLocale(environment: ["LANG": "C.UTF-8"]) == nil)
        #expect(Language.fromLocale(environment: [:]) == nil)
    }
}

private func swiftLiteral(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}
