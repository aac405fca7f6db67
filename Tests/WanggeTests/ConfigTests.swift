import GridApplication
import Foundation
import Testing
import TestSupport
import GridCore
import GridStore
import Localization
@testable import wangge

@Suite struct ConfigTests {
    /// Run from another folder (no Config/wangge.yaml), `wangge` uses its built-in
    /// defaults: they must be what the shipped file says, key by key.
    @Test func builtInDefaultsEqualTheShippedConfiguration() throws {
        let shipped = try WanggeConfig.load(explicitPath: Fixtures.path("Config/wangge.yaml"))
        let builtIn = WanggeConfig()
        #expect(shipped.database == builtIn.database)
        // The one deliberate difference: the shipped file says Chinese; without a file the locale decides.
        #expect(shipped.language == .zh && builtIn.language == nil)
        #expect(shipped.rules == builtIn.rules)
        #expect(shipped.gridFields == builtIn.gridFields)
        #expect(shipped.coverage == builtIn.coverage)
        #expect(shipped.workload == builtIn.workload)
        #expect(shipped.planning == builtIn.planning)
        let (file, code) = (shipped.dispatch, builtIn.dispatch)
        #expect(file.severityLevels == code.severityLevels)
        #expect(file.defaultLevel == code.defaultLevel)
        #expect(file.timeLimitHours == code.timeLimitHours)
        #expect(file.departments == code.departments)
        #expect(file.defaultDepartment == code.defaultDepartment)
        #expect(file.categories == code.categories)
        #expect(file.channels == code.channels)
        #expect(file.duplicateRadiusMeters == code.duplicateRadiusMeters)
        #expect(file.duplicateWindowHours == code.duplicateWindowHours)
        #expect(file.ladder == code.ladder)
        #expect(file.escalationScanSeconds == code.escalationScanSeconds)
        #expect(file == code, "a dispatch field the checks above do not name differs")
        #expect(code.department(for: "矛盾纠纷") == "司法局", "the built-in map routes categories to their departments")
    }

    @Test func vocabulariesMustBeConsistent() throws {
        let path = Fixtures.temporaryPath("vocabulary.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "dispatch:\n  categories: [环境卫生]\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect { _ = try WanggeConfig.load(explicitPath: path) } throws: {
            "\($0)" == "\(path): dispatch.departments.劳资纠纷: \"劳资纠纷\" is not in dispatch.categories"
        }
        try "dispatch:\n  channels: []\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect { _ = try WanggeConfig.load(explicitPath: path) } throws: { "\($0)".contains("dispatch.channels must list at least one word") }
        try "dispatch:\n  departments: { 环境卫生: 城管局 }\n  categories: [环境卫生, 其他]\n  channels: [\"12345\"]\n".write(toFile: path, atomically: true, encoding: .utf8)
        let rules = try WanggeConfig.load(explicitPath: path).dispatch
        #expect(rules.categories == ["环境卫生", "其他"] && rules.channels == ["12345"])
    }
}
