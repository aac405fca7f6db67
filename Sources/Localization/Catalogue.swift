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
    static let chineseParts = [chinese, chineseCommandLine, chineseRecords]
    private static let chineseTable = chineseParts.reduce(into: [String: String]()) { table, part in
        table.merge(part) { first, _ in first }
    }

    /// Every language's table, for the catalogue test.
    public static var tables: [Language: [String: String]] { [.zh: chineseTable] }
}
