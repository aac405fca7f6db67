import Foundation
import Localization

/// ArgumentParser's own messages for a mistyped command line (an unknown
/// option, a missing argument, a value it cannot read), said in the reader's
/// language. ArgumentParser words them in English only and keeps its error
/// types to itself, so its text is read back: each message it can give is
/// matched whole, and one not matched is passed on as it came.
enum ParseErrorWording {
    /// `fullMessage(for:)` of a parse error ("Error: …", "Help:  …", "Usage: …", "  See '…' for more information.").
    static func worded(_ full: String) -> String {
        full.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let line = String(line)
            if let rest = line.dropPrefix("Error: ") { return tr("Error: \(message(rest))").rendered }
            if let rest = line.dropPrefix("Help:  ") { return tr("Help: \(rest)").rendered }
            if let rest = line.dropPrefix("Usage: ") { return tr("Usage: \(rest)").rendered }
            if let command = line.captures(#"^  See '(.+)' for more information\.$"#)?.first {
                return "  " + tr("See '\(command)' for more information.").rendered
            }
            return line
        }.joined(separator: "\n")
    }

    /// ArgumentParser's help page with its own words (headings, defaults, the
    /// help flag's line, the pointer to subcommands' help) in the reader's
    /// language; the texts of our commands and options are already.
    static func helpWorded(_ page: String) -> String {
        let headings = ["OVERVIEW:": tr("OVERVIEW:"), "USAGE:": tr("USAGE:"), "ARGUMENTS:": tr("ARGUMENTS:"),
                        "OPTIONS:": tr("OPTIONS:"), "SUBCOMMANDS:": tr("SUBCOMMANDS:")]
        return page.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let line = String(line)
            if let heading = headings.first(where: { line == $0.key || line.hasPrefix($0.key + " ") }) {
                let worded = heading.value.rendered, rest = line.dropFirst(heading.key.count)
                // A full-width colon needs no space after it.
                return worded + (worded.hasSuffix("：") && rest.hasPrefix(" ") ? rest.dropFirst() : rest)
            }
            if let c = line.captures(#"^(.*) \(default: (.+)\)$"#) {
                return c[0] + tr(" (default: \(c[1]))").rendered
            }
            if line.hasSuffix("Show help information.") {
                return line.dropLast("Show help information.".count) + tr("Show help information.").rendered
            }
            if let command = line.captures(#"^  See '(.+)' for detailed help\.$"#)?.first {
                return "  " + tr("See '\(command)' for detailed help.").rendered
            }
            return line
        }.joined(separator: "\n")
    }

    /// One of ArgumentParser's messages (without "Error: ").
    static func message(_ text: String) -> String {
        if let c = text.captures(#"^Unknown option '(.+)'\. Did you mean '(.+)'\?$"#) {
            return tr("Unknown option '\(c[0])'. Did you mean '\(c[1])'?").rendered
        }
        if let c = text.captures(#"^Unknown option '(.+)'$"#) { return tr("Unknown option '\(c[0])'").rendered }
        if let c = text.captures(#"^Missing value for '(.+)'$"#) { return tr("Missing value for '\(c[0])'").rendered }
        if let c = text.captures(#"^Missing expected argument '(.+)'$"#) { return tr("Missing expected argument '\(c[0])'").rendered }
        if let c = text.captures(#"^Unexpected argument '(.+)'$"#) { return tr("Unexpected argument '\(c[0])'").rendered }
        if let c = text.captures(#"^(\d+) unexpected arguments: (.+)$"#) { return tr("\(c[0]) unexpected arguments: \(c[1])").rendered }
        if text == "Missing required subcommand." { return tr("Missing required subcommand.").rendered }
        // The allowed values follow the value's message, in a list or on lines of their own.
        if let c = text.captures(#"^(.*)\. Please provide one of the following:$"#) {
            return tr("\(message(c[0])). Please provide one of the following:").rendered
        }
        if let c = text.captures(#"^(.*)\. Please provide one of (.+)\.$"#) {
            let values = c[1].matches(of: #/'[^']*'/#).map { String($0.output) }
            return tr("\(message(c[0])). Please provide one of \(values.joined(separator: ", ")).").rendered
        }
        if let c = text.captures(#"^The value '(.*)' is invalid for '([^']+)'(?:: (.*))?$"#) {
            let invalid = tr("The value '\(c[0])' is invalid for '\(c[1])'").rendered
            return c[2].isEmpty ? invalid : tr("\(invalid): \(c[2])").rendered
        }
        return text
    }
}

extension String {
    fileprivate func dropPrefix(_ prefix: String) -> String? { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil }

    /// The capture groups of the first match of `pattern` (an absent group as ""), or nil without a match.
    fileprivate func captures(_ pattern: String, options: NSRegularExpression.Options = []) -> [String]? {
        guard let expression = try? NSRegularExpression(pattern: pattern, options: options),
              let match = expression.firstMatch(in: self, range: NSRange(startIndex..., in: self)) else { return nil }
        return (1..<match.numberOfRanges).map { Range(match.range(at: $0), in: self).map { String(self[$0]) } ?? "" }
    }
}
