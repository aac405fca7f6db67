import Foundation
import GridApplication
import GridCore
import Localization
import Testing
import TestSupport

/// The command line speaks the language of `language:` in the configuration,
/// of $WANGGE_LANGUAGE for one run, else of the locale.
@Suite struct LanguageCommandTests {
    /// Runs `wangge` with exactly this environment; its exit status, standard output and standard error.
    func wangge(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Fixtures.executable("wangge")))
        process.arguments = arguments
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { given, _ in given }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile(), errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    func config(_ text: String) throws -> String {
        let path = Fixtures.temporaryPath("language.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func hasHan(_ text: String) -> Bool { text.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) } }

    @Test func errorsAndHelpFollowTheConfigurationTheEnvironmentAndTheLocale() throws {
        let missing = Fixtures.temporaryPath("no-such.sqlite")
        let chinese = try config("language: zh\n")
        defer { try? FileManager.default.removeItem(atPath: chinese) }

        // The configuration says zh, the locale English: Chinese.
        let zh = try wangge(["grids", "--db", missing, "--config", chinese], environment: ["LANG": "en_US.UTF-8"])
        #expect(zh.status == 1)
        #expect(zh.err.hasPrefix("错误：") && zh.err.contains(missing) && Self.hasHan(String(zh.err.dropFirst(3))), "\(zh.err)")

        // WANGGE_LANGUAGE overrides the configuration for one run.
        let en = try wangge(["grids", "--db", missing, "--config", chinese], environment: ["WANGGE_LANGUAGE": "en"])
        #expect(en.err.hasPrefix("Error: no database at \(missing)"), "\(en.err)")

        // No language in the configuration: the locale decides.
        let plain = try config("database: x.sqlite\n")
        let byLocale = try wangge(["grids", "--db", missing, "--config", plain], environment: ["LANG": "zh_CN.UTF-8"])
        #expect(byLocale.err.hasPrefix("错误："), "\(byLocale.err)")
        let cLocale = try wangge(["grids", "--db", missing, "--config", plain], environment: ["LANG": "C.UTF-8"])
        #expect(cLocale.err.hasPrefix("Error: "), "\(cLocale.err)")

        // A mistyped command line (ArgumentParser's own messages), Chinese too; English as ArgumentParser words it.
        let typo = try wangge(["map", "--colour", "x", "--config", chinese], environment: [:])
        #expect(typo.status == 64 && typo.err.hasPrefix("错误：没有选项 '--colour'。是不是要用 '--color'？\n用法：wangge map"), "\(typo.err)")
        #expect(typo.err.contains("  详见 'wangge map --help'。"), "\(typo.err)")
        let badValue = try wangge(["stats", "counts", "--by", "planet", "--config", chinese], environment: [:])
        #expect(badValue.err.hasPrefix("错误：'--by <by>' 不接受 'planet'。可用的值：'town', 'village', 'grid'。\n说明："), "\(badValue.err)")
        let english = try wangge(["map", "--colour", "x", "--config", chinese], environment: ["WANGGE_LANGUAGE": "en"])
        #expect(english.status == 64 && english.err.hasPrefix("Error: Unknown option '--colour'. Did you mean '--color'?\nUsage: wangge map"), "\(english.err)")

        // Help and a table header in Chinese.
        let help = try wangge(["grids", "--help", "--config", chinese], environment: [:])
        #expect(help.out.contains("列出") || Self.hasHan(help.out.components(separatedBy: "\n").first ?? ""), "\(help.out)")
        // ArgumentParser's own words in it too: headings, the help flag.
        #expect(help.status == 0 && help.out.contains("\n用法：wangge grids ") && help.out.contains("\n选项：\n") && help.out.contains("显示帮助信息。"), "\(help.out)")
        #expect(!help.out.contains("USAGE:") && !help.out.contains("Show help information."), "\(help.out)")
        let defaults = try wangge(["serve", "--help", "--config", chinese], environment: [:])
        #expect(defaults.out.contains("（默认：8080）") && !defaults.out.contains("(default:"), "\(defaults.out)")
        let englishHelp = try wangge(["grids", "--help", "--config", chinese], environment: ["WANGGE_LANGUAGE": "en"])
        #expect(englishHelp.out.contains("\nUSAGE: wangge grids ") && englishHelp.out.contains("  -h, --help              Show help information."), "\(englishHelp.out)")
    }

    /// The report of a grid import is Chinese throughout, the Shapefile's encoding note too.
    @Test func aShapefileImportReportsInChinese() throws {
        let db = Fixtures.temporaryPath("language-import.sqlite")
        defer { Fixtures.removeDatabase(db) }
        let shapefile = Fixtures.path("Tests/Fixtures/grids/town002_gbk.shp")
        let imported = try wangge(["import", "grids", "--db", db, shapefile], environment: ["WANGGE_LANGUAGE": "zh"])
        #expect(imported.status == 0, "\(imported.err)")
        #expect(imported.out.contains("读取 ESRI Shapefile，文本编码 GBK（无 .cpg 文件；文本不是有效的 UTF-8），坐标系 EPSG:4326（文件自带）"), "\(imported.out)")
    }

    /// A located point's method is in the reader's words, with the code that
    /// CSV and JSON carry beside them where the two differ.
    @Test func aLocatedPointsMethodIsInTheReadersWords() throws {
        let db = Fixtures.temporaryPath("language-locate.sqlite")
        defer { Fixtures.removeDatabase(db) }
        let imported = try wangge(["import", "grids", "--db", db, Fixtures.sampleGrids], environment: ["WANGGE_LANGUAGE": "en"])
        #expect(imported.status == 0, "\(imported.err)")
        func methodLine(_ lon: String, _ lat: String, _ language: String) throws -> String {
            let located = try wangge(["locate", "--db", db, lon, lat], environment: ["WANGGE_LANGUAGE": language])
            #expect(located.status == 0, "\(located.err)")
            let line = located.out.split(separator: "\n").first { $0.hasPrefix("method") || $0.hasPrefix("分配方式") }
            return line.map { $0.split(separator: " ", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? ""
        }
        #expect(try methodLine("112.3539690", "28.8439766", "zh") == "网格内（inside）")
        #expect(try methodLine("112.3539690", "28.8439766", "en") == "inside")
        #expect(try methodLine("111.9", "28.4", "zh") == "未分配（none）")
        #expect(try methodLine("111.9", "28.4", "en") == "unassigned (none)")
    }

    /// A boundary edit, its activation and an incident escalated by the
    /// 2+1+N ladder read in Chinese throughout: summaries, notes, counts,
    /// levels, actions, statuses and the lifecycle's own notes and reasons.
    @Test func planningAndTheIncidentLadderReadInChinese() throws {
        let db = Fixtures.temporaryPath("language-plan.sqlite")
        defer { Fixtures.removeDatabase(db) }
        func run(_ arguments: String...) throws -> String {
            let result = try wangge(arguments + ["--db", db], environment: ["WANGGE_LANGUAGE": "zh"])
            #expect(result.status == 0, "\(arguments): \(result.err)")
            return result.out + result.err
        }
        _ = try run("import", "grids", Fixtures.sampleGrids)
        _ = try run("plan", "new", "--from", "active", "--name", "调整")
        let split = try run("plan", "split", "430981-001-017-002", "--line", "LINESTRING(112.357361 28.836, 112.357361 28.850)")
        #expect(split.contains("拆分 430981-001-017-002 和桥社区第二网格，分为 ") && split.contains("保留网格员：") && split.contains("尚无网格员"), "\(split)")
        let merged = try run("plan", "merge", "430981-001-017-001", "430981-001-017-003")
        #expect(merged.contains("合并为 ") && merged.contains("沿用 430981-001-017-001 的网格员："), "\(merged)")
        let diff = try run("plan", "diff")
        #expect(diff.contains("新增 3 个，撤销 3 个"), "\(diff)")
        let activated = try run("plan", "activate", "2")
        #expect(activated.contains("第 2 版 调整 已生效；第 1 版已停用") && activated.contains("分配结果：") && activated.contains("改派到新网格的未办结事件："),
                "\(activated)")
        let listed = try run("plan", "list")
        #expect(listed.contains("已停用") && listed.contains("第 1 版") && !listed.contains("retired") && !listed.contains("Z "), "\(listed)")

        let reported = try run("incident", "report", "--lon", "112.3540", "--lat", "28.8440", "--category", "矛盾纠纷", "--channel", "网格员上报",
                               "--severity", "简单")
        let id = try #require(reported.firstMatch(of: /R\d{7}/).map { String($0.output) }, "\(reported)")
        #expect(reported.contains("承办      村（社区）："), "\(reported)")
        _ = try run("incident", "accept", id, "--by", "王")
        _ = try run("incident", "mediate", id, "--failed", "--note", "不同意")
        _ = try run("incident", "mediate", id, "--failed", "--note", "还是不同意")
        let shown = try run("incident", "show", id)
        #expect(shown.contains("2+1+N：村（社区）调解 2 次未成功") && shown.contains("乡镇（街道）：琼湖街道 — 由 ") && shown.contains("村（社区）第 2 次调解：未成功") && shown.contains("上报上级")
                && shown.contains("已受理 → 处置中"), "\(shown)")
        for english in ["escalated from", "failed attempt", "village level", "accept ", "in_progress", " → escalated", "attempt=", "from_unit=", "deadline="] {
            #expect(!shown.contains(english), "\(english) in \(shown)")
        }
    }

    @Test func anUnknownLanguageIsRefusedByName() throws {
        #expect {
            _ = try WanggeConfig.decode(yaml: "language: fr\n", source: "c.yaml")
        } throws: { error in
            "\(error)" == "c.yaml: language: \"fr\" is not zh or en"
        }
        #expect(try WanggeConfig.decode(yaml: "language: zh-CN\n", source: "c.yaml").language == .zh)
        #expect(WanggeConfig.outputLanguage(configured: .zh, environment: ["WANGGE_LANGUAGE": "en"]) == .en)
        #expect(WanggeConfig.outputLanguage(configured: nil, environment: ["LC_ALL": "zh_TW.UTF-8", "LANG": "en_US"]) == .zh)
        #expect(WanggeConfig.outputLanguage(configured: nil, environment: [:]) == .en)
    }
}
