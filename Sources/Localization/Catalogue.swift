/// Each language's messages, keyed by the English template. English needs no
/// table: its templates are the keys, written where each text is used.
public enum Catalogue {
    static func translation(of template: String, in language: Language) -> String? {
        switch language {
        case .en: return nil
        case .zh: return chinese[template]
        }
    }

    /// Every language's table, for the catalogue test.
    public static var tables: [Language: [String: String]] { [.zh: chinese] }
}
