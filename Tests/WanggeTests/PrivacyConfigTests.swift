import GridApplication
import Foundation
import Testing
import TestSupport
import GridStore
@testable import wangge

/// The privacy section of the configuration and the token commands.
@Suite struct PrivacyConfigTests {
    func load(_ yaml: String) throws -> WanggeConfig {
        let path = Fixtures.temporaryPath("privacy.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return try WanggeConfig.load(explicitPath: path)
    }

    @Test func theShippedFileSaysWhatTheBuiltInDefaultsDo() throws {
        let shipped = try WanggeConfig.load(explicitPath: Fixtures.path("Config/wangge.yaml"))
        #expect(shipped.privacy == PrivacyPolicy.defaults)
        #expect(try load("{}").privacy == PrivacyPolicy.defaults)
    }

    @Test func aRoleCanBeGivenMoreOrLessAndTheRestKeepsItsDefaults() throws {
        let config = try load("privacy:\n  viewer:\n    households: records\n    fields: { address: masked }\n")
        let viewer = config.privacy.role(.viewer)
        #expect(viewer.households == .records && viewer.fields[.address] == .masked && viewer.fields[.name] == .hidden)
        #expect(config.privacy.role(.dispatcher) == PrivacyPolicy.defaults.role(.dispatcher))
    }

    @Test func mistakesNameTheKey() throws {
        for (yaml, message) in [
            ("privacy:\n  guest: { households: counts }\n", "privacy: unknown role \"guest\""),
            ("privacy:\n  viewer: { feilds: { name: full } }\n", "privacy.viewer: unknown key \"feilds\""),
            ("privacy:\n  viewer: { fields: { nmae: full } }\n", "privacy.viewer.fields: unknown field \"nmae\""),
            ("privacy:\n  viewer: { fields: { name: shown } }\n", "privacy.viewer.fields.name: \"shown\" is not one of full, masked, hidden"),
            ("privacy:\n  viewer: { fields: { tags: masked } }\n", "privacy.viewer.fields.tags: masked is not possible for tags; use full or hidden"),
            ("privacy:\n  viewer: { fields: { position: hidden } }\n", "privacy.viewer.fields.position: hidden is not possible for position"),
            ("privacy:\n  dispatcher: { own_grids: { name: full } }\n", "privacy.dispatcher.own_grids: only grid_worker has own grids"),
            ("privacy:\n  planner: { notifications: some }\n", "privacy.planner.notifications: \"some\" is not one of all, own, none"),
        ] {
            #expect { _ = try load(yaml) } throws: { "\($0)".contains(message) && "\($0)".contains("privacy.yaml") }
        }
    }
}
