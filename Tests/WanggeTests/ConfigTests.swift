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
        #expect(shipped.pointColumns == builtIn.pointColumns)
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

    /// `main` reads the configuration once, for the language, before the
    /// arguments are parsed; the command takes that one rather than read and
    /// decode the file again. Another --config is read from its file.
    @Test func theCommandUsesTheConfigurationReadAtStart() throws {
        let path = Fixtures.temporaryPath("startup.yaml"), other = Fixtures.temporaryPath("startup-other.yaml")
        defer {
            StartupConfig.forget()
            for file in [path, other] { try? FileManager.default.removeItem(atPath: file) }
        }
        try "database: read-at-start.sqlite\n".write(toFile: path, atomically: true, encoding: .utf8)
        StartupConfig.keep(try WanggeConfig.load(explicitPath: path), explicitPath: path)
        // Were the command to read the file again, it would see this.
        try "database: read-again.sqlite\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try StoreOptions.parse(["--config", path]).loadConfig().database == "read-at-start.sqlite")
        try "database: other.sqlite\n".write(toFile: other, atomically: true, encoding: .utf8)
        #expect(try StoreOptions.parse(["--config", other]).loadConfig().database == "other.sqlite")
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

    /// A county whose registers say 东经, 北纬 and 户主名 imports them once
    /// `point_columns:` names them; the built-in names still work beside them.
    @Test func pointColumnNamesFromTheConfiguration() throws {
        let path = Fixtures.temporaryPath("columns.yaml")
        let database = Fixtures.temporaryPath("columns.sqlite"), csv = Fixtures.temporaryPath("h.csv")
        defer {
            for file in [path, csv] { try? FileManager.default.removeItem(atPath: file) }
            Fixtures.removeDatabase(database)
        }
        try "point_columns:\n  lon: 东经\n  lat: [北纬, Y坐标]\n  head: [户主名, 家长]\n".write(toFile: path, atomically: true, encoding: .utf8)
        let config = try WanggeConfig.load(explicitPath: path)
        let store = try GridStore(path: database)
        _ = try store.importGrids(path: Fixtures.sampleGrids)
        try "编号,东经,北纬,家长,电话\nH1,112.355,28.842,周大,13900001111\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let report = try GridService(store: store, config: config).importPoints(.households, path: csv)
        #expect(report.imported == 1 && report.notes.contains { $0.contains("东经 → lon") && $0.contains("家长 → head") && $0.contains("电话 → phone") })
        #expect(try store.household(id: "H1").head == "周大")
        for (yaml, message) in [("point_columns:\n  householder: 户主名\n", "point_columns: unknown column \"householder\""),
                                ("point_columns:\n  head: 姓名\n  reporter: 姓名\n", "\"姓名\" is given for both head and reporter")] {
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            #expect { _ = try WanggeConfig.load(explicitPath: path) } throws: { "\($0)".contains(message) }
        }
    }

    /// A value of the wrong kind is named by its keys and line, in the reader's language.
    @Test func aValueOfTheWrongKindIsNamedWithItsLine() throws {
        for (yaml, english, chinese) in [
            ("server:\n  max_connections: abc\n", "server.max_connections (line 2): expected a whole number, found \"abc\"",
             "server.max_connections（第 2 行）：应为整数，实为“abc”"),
            ("coverage:\n  camera_defaults:\n    dome: {fov_deg: 90}\n", "coverage.camera_defaults.dome (line 3): missing key range_m",
             "coverage.camera_defaults.dome（第 3 行）：缺少键 range_m"),
            ("assignment: 5\n", "assignment (line 1): expected keys and values (key: value)", "assignment（第 1 行）：应为键和值（键: 值）"),
            ("workload:\n  urban_markers: 社区\n", "workload.urban_markers (line 2): expected a list", "workload.urban_markers（第 2 行）：应为列表"),
            ("server:\n  locates_on_event_loop: maybe\n", "server.locates_on_event_loop (line 2): expected true or false, found \"maybe\"",
             "server.locates_on_event_loop（第 2 行）：应为布尔值（true 或 false），实为“maybe”"),
            ("- a\n- b\n", "the configuration (line 1): expected keys and values (key: value)", "配置（第 1 行）：应为键和值（键: 值）"),
        ] {
            #expect { _ = try WanggeConfig.decode(yaml: yaml, source: "c.yaml") } throws: { error in
                guard let error = error as? WanggeError else { return false }
                return error.message(in: .en) == "c.yaml: \(english)" && error.message(in: .zh) == "c.yaml：\(chinese)"
            }
        }
        // A null value is an absent one; an alias is its anchor's value.
        let config = try WanggeConfig.decode(yaml: "server:\n  idle_timeout_s: &t 30\n  request_timeout_s: *t\n  max_connections: ~\n", source: "c.yaml")
        #expect(config.server.requestTimeout == .seconds(30) && config.server.maxConnections == WanggeConfig().server.maxConnections)
        // A merge key brings its mapping's keys in; the mapping's own keys count over them.
        #expect { _ = try WanggeConfig.decode(yaml: "base: &b\n  max_connections: 0\nserver:\n  <<: *b\n", source: "c.yaml") } throws: {
            "\($0)" == "c.yaml: server.max_connections must be at least 1"
        }
        let merged = try WanggeConfig.decode(yaml: "base: &b\n  max_connections: 0\n  idle_timeout_s: 7\nserver:\n  <<: *b\n  max_connections: 5\n",
                                             source: "c.yaml")
        #expect(merged.server.maxConnections == 5 && merged.server.idleTimeout == .seconds(7))
    }
}
