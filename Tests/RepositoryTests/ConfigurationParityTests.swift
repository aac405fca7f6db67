import Foundation
import Testing
import TestSupport
import GridCore
@testable import GridApplication
@testable import GridStore

/// The configuration stored in the database (`wangge config push|show|clear`) on both stores.
@Suite(.serialized) struct ConfigurationParityTests {
    /// A configuration that shows dispatchers phone numbers in full (the default masks them).
    static let phonesInFull = """
        database: var/elsewhere.sqlite
        privacy:
          dispatcher:
            fields:
              phone: full
        dispatch:
          time_limits_hours:
            village: 48

        """

    static func file(_ text: String) throws -> String {
        let path = Fixtures.temporaryPath("pushed.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// What one store went through: every change's version and text, and what `show` then read.
    static func transcript(_ backend: Backend) throws -> [String] {
        let service = try GridService(store: try backend.emptyStore())
        var lines: [String] = []
        func shown() throws { lines.append(try service.storedConfiguration().map { "show \($0.version) \($0.text ?? "(cleared)")" } ?? "show none") }
        try shown()
        lines.append("clear \(try service.clearConfiguration().map { String($0.version) } ?? "nothing")")
        let first = try service.pushConfiguration(explicitPath: try file(phonesInFull))
        lines.append("push \(first.version)")
        try shown()
        lines.append("push \(try service.pushConfiguration(explicitPath: try file("language: zh\n")).version)")
        try shown()
        lines.append("clear \(try service.clearConfiguration().map { String($0.version) } ?? "nothing")")
        try shown()
        lines.append("clear \(try service.clearConfiguration().map { String($0.version) } ?? "nothing")")
        lines.append("push \(try service.pushConfiguration(explicitPath: try file(phonesInFull)).version)")
        try shown()
        return lines
    }

    @Test func pushShowAndClearGoAlike() throws {
        let expected = [
            "show none", "clear nothing", "push 1", "show 1 \(Self.phonesInFull)", "push 2", "show 2 language: zh\n",
            "clear 3", "show 3 (cleared)", "clear nothing", "push 4", "show 4 \(Self.phonesInFull)",
        ]
        #expect(try Self.transcript(.spatialite) == expected)
        #expect(try Self.transcript(.postgis) == expected)
    }

    /// A file with an error is refused with the same message `WanggeConfig.load` gives
    /// (file, line or field), and what was stored stays as it was.
    @Test(arguments: Backend.allCases) func aBadFileIsRefusedAndStoresNothing(_ backend: Backend) throws {
        let service = try GridService(store: try backend.emptyStore())
        let stored = try service.pushConfiguration(explicitPath: try Self.file(Self.phonesInFull))
        let bad: [(yaml: String, says: [String])] = [
            ("privacy:\n  dispatcher:\n    fields:\n      phone: [full\n", ["line"]),
            ("privacy:\n  dispatcher:\n    fields:\n      phone: visible\n", ["privacy.dispatcher.fields.phone", "visible"]),
            ("dispatch:\n  time_limits_hours:\n    village: -1\n", ["dispatch.time_limits_hours.village"]),
            ("database: postgresql://wangge:secret@db.intranet/wangge\n", ["database", "password"]),
            ("read_database: postgresql://wangge@standby.intranet/wangge?password=secret\n", ["read_database", "password"]),
        ]
        for (yaml, says) in bad {
            let path = try Self.file(yaml)
            let loaded = (try? WanggeConfig.load(explicitPath: path)) == nil
            let error = try #require(throws: WanggeError.self) { try service.pushConfiguration(explicitPath: path) }
            let message = error.description
            #expect(message.hasPrefix(path + ":"), "\(message)")
            for word in says { #expect(message.contains(word), "\(message) should name \(word)") }
            if loaded {
                // The same error as every command reading the file gets.
                let direct = try #require(throws: WanggeError.self) { try WanggeConfig.load(explicitPath: path) }
                #expect(direct.description == message)
            }
            #expect(try service.storedConfiguration() == stored)
        }
        #expect(throws: WanggeError.self) { try service.pushConfiguration(explicitPath: Fixtures.temporaryPath("missing.yaml")) }
        #expect(try service.storedConfiguration() == stored)
    }

    /// A process puts the stored configuration in force over its file's, keeps its own database,
    /// goes back to the file when it is cleared, and keeps the rules in force when a stored one
    /// does not load (written by a newer release, say), without parsing it again.
    @Test(arguments: Backend.allCases) func theStoredConfigurationOverridesTheFile(_ backend: Backend) throws {
        var fromFile = WanggeConfig()
        fromFile.database = "the-one-opened"
        let service = try GridService(store: try backend.emptyStore(), config: fromFile)
        let other = try GridService(store: service.store)
        #expect(try service.reloadStoredConfiguration() == .unchanged)
        #expect(service.privacy.role(.dispatcher).fields.access[.phone] == .masked)

        let pushed = try other.pushConfiguration(explicitPath: try Self.file(Self.phonesInFull))
        #expect(try service.reloadStoredConfiguration() == .applied(version: pushed.version))
        #expect(try service.reloadStoredConfiguration() == .unchanged)
        #expect(service.privacy.role(.dispatcher).fields.access[.phone] == .full)
        #expect(service.dispatchRules.timeLimitHours[.village] == 48)
        #expect(service.config.database == "the-one-opened" && service.storedConfigurationVersion == pushed.version)
        // A change of the file is kept for later; the stored configuration stays in force.
        var edited = fromFile
        edited.dispatch.timeLimitHours[.village] = 12
        service.config = edited
        #expect(service.dispatchRules.timeLimitHours[.village] == 48)

        let broken = try service.store.storeConfiguration("privacy: {dispatcher: {fields: {phone: someday}}}\n", at: Date())
        guard case .refused(let version, let reason) = try service.reloadStoredConfiguration() else {
            Issue.record("a stored configuration that does not load was not refused")
            return
        }
        #expect(version == broken.version && reason.contains("version \(broken.version)") && reason.contains("privacy.dispatcher.fields.phone"))
        #expect(service.privacy.role(.dispatcher).fields.access[.phone] == .full && service.storedConfigurationVersion == pushed.version)
        #expect(try service.reloadStoredConfiguration() == .unchanged)

        let cleared = try #require(try other.clearConfiguration())
        #expect(try service.reloadStoredConfiguration() == .cleared(version: cleared.version))
        #expect(service.privacy.role(.dispatcher).fields.access[.phone] == .masked)
        #expect(service.dispatchRules.timeLimitHours[.village] == 12 && service.storedConfigurationVersion == nil)
    }

    /// The store assigns with the distances it was opened with: a process opening a database
    /// whose stored configuration has other `assignment` distances than its file opens it with those.
    @Test func aProcessOpensTheDatabaseWithTheStoredAssignmentDistances() throws {
        let path = Fixtures.temporaryPath("opening.sqlite")
        defer { Fixtures.removeDatabase(path) }
        let first = try GridService.opening(path: path, config: WanggeConfig(), creating: true)
        #expect(first.stored == .unchanged && first.service.store.rules == AssignmentRules())
        let pushed = try first.service.pushConfiguration(explicitPath: try Self.file("assignment:\n  nearest_tolerance_m: 10\n"))
        let (second, stored) = try GridService.opening(path: path, config: WanggeConfig())
        #expect(stored == .applied(version: pushed.version))
        #expect(second.store.rules.nearestToleranceMeters == 10 && second.config.rules == second.store.rules)
        #expect(second.storedConfigurationVersion == pushed.version)
    }

    /// Two servers on one PostgreSQL database: a push through one is announced to the other
    /// (`configured <version>`), which puts it in force; so is a clear.
    @Test func aPushIsAnnouncedToTheOtherServers() throws {
        let url = try PostgresTestCluster.freshDatabase()
        let pushing = try GridService(store: try PostGISStore(url: url))
        let listening = try PostGISStore(url: url)
        let server = try GridService(store: listening)
        #expect(try listening.waitForChanges(timeout: 0.01) == [.listening])

        func heard() throws -> [StoreChange] {
            var changes: [StoreChange] = []
            for _ in 0..<100 where changes.isEmpty { changes = try listening.waitForChanges(timeout: 0.1) }
            return changes
        }
        let pushed = try pushing.pushConfiguration(explicitPath: try Self.file(Self.phonesInFull))
        let changes = try heard()
        #expect(changes == [.configured(pushed.version)])
        #expect(try server.apply(changes) == .applied(version: pushed.version))
        #expect(server.privacy.role(.dispatcher).fields.access[.phone] == .full)

        let cleared = try #require(try pushing.clearConfiguration())
        let clearing = try heard()
        #expect(clearing == [.configured(cleared.version)])
        #expect(try server.apply(clearing) == .cleared(version: cleared.version))
        #expect(server.privacy.role(.dispatcher).fields.access[.phone] == .masked)
        #expect(StoreChange(payload: "configured 12") == .configured(12))

        // A server that was not listening when it was pushed (starting: `listening`; its connection
        // lost: `reconnected`) looks when it listens.
        let missed = try pushing.pushConfiguration(explicitPath: try Self.file(Self.phonesInFull))
        let late = try PostGISStore(url: url)
        let lateServer = try GridService(store: late)
        #expect(try lateServer.apply(try late.waitForChanges(timeout: 0.01)) == .applied(version: missed.version))
        #expect(lateServer.privacy.role(.dispatcher).fields.access[.phone] == .full)
    }

    /// A server's first listening connection keeps the tokens it has just read (forgetting them raced its
    /// first requests: a locate then waited for the database); a connection opened again forgets them all,
    /// as announcements may have been lost meanwhile, and so does a revocation.
    @Test func theFirstListeningKeepsCachedTokensAndAReconnectionForgetsThem() throws {
        let url = try PostgresTestCluster.freshDatabase()
        let store = try PostGISStore(url: url)
        _ = try store.importGrids(path: Fixtures.sampleGrids, GridFileOptions(), generationName: nil, dispatch: DispatchRules(),
                                  thresholds: PlanThresholds(), force: false, progress: nil)
        let server = try GridService(store: store)
        let token = Tokens.generate()
        _ = try store.createToken(name: "viewer", role: .viewer, grids: [], villages: [], towns: [], expiresAt: nil, hash: Tokens.hash(token))
        let caller = try #require(try server.tokens.caller(for: token))
        #expect(try store.waitForChanges(timeout: 0.01) == [.listening])
        _ = try server.apply([.listening])
        #expect(server.tokens.cached(token) == .valid(caller))
        _ = try server.apply([.reconnected])
        #expect(server.tokens.cached(token) == .unknown)
        _ = try server.tokens.caller(for: token)
        _ = try server.apply([.tokenRevoked(1)])
        #expect(server.tokens.cached(token) == .unknown)
    }
}
