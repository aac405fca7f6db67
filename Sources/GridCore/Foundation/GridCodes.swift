/// The code scheme `county-town-village-grid` (e.g. 430981-003-012-004) and
/// the names that go with it.
public enum GridCodes {
    /// Parents by the code scheme; codes outside it go to one placeholder village and town.
    public static func parents(of code: String) -> (village: String, town: String) {
        let parts = code.split(separator: "-")
        if parts.count == 4 {
            return (parts[0...2].joined(separator: "-"), parts[0...1].joined(separator: "-"))
        }
        return ("-", "-")
    }

    /// Whether a village code follows the scheme (`county-town-village`).
    public static func isSchemeVillage(_ code: String) -> Bool {
        let parts = code.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    /// The town part of a scheme village code (`county-town`).
    public static func town(ofVillage code: String) -> String {
        code.split(separator: "-").prefix(2).joined(separator: "-")
    }

    /// The next grid code for a village that no generation has used: one above
    /// the highest grid number used under the village (codes are never reissued,
    /// so history stays unambiguous). Outside the scheme: `base-N`.
    public static func nextCode(village: String, base: String, used: Set<String>) -> String {
        if isSchemeVillage(village) {
            let prefix = village + "-"
            let highest = used.compactMap { $0.hasPrefix(prefix) ? Int($0.dropFirst(prefix.count)) : nil }.max() ?? 0
            return prefix + String(format: "%03d", highest + 1)
        }
        var n = 1
        while used.contains("\(base)-\(n)") { n += 1 }
        return "\(base)-\(n)"
    }

    /// The grid's number within its village (the last part of a scheme code).
    public static func number(of code: String) -> Int? {
        let parts = code.split(separator: "-")
        return parts.count == 4 ? Int(parts[3]) : nil
    }

    /// The usual grid name: 和桥社区第二网格.
    public static func gridName(villageName: String, number: Int) -> String {
        number >= 1 && number < 100 ? "\(villageName)第\(chineseNumber(number))网格" : "\(villageName)第\(number)网格"
    }

    static let chineseDigits = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]

    /// 一 … 九十九, for grid names such as 第十二网格.
    public static func chineseNumber(_ n: Int) -> String {
        precondition(n >= 1 && n < 100)
        if n <= 10 { return chineseDigits[n - 1] }
        let tens = n / 10, units = n % 10
        return (tens == 1 ? "" : chineseDigits[tens - 1]) + "十" + (units == 0 ? "" : chineseDigits[units - 1])
    }
}
