import GridApplication
import Foundation
import GridServer
import Testing
import TestSupport
@testable import wangge

@Suite struct ServerConfigTests {
    @Test func theServerSectionIsReadAndBadValuesAreNamed() throws {
        let path = Fixtures.temporaryPath("wangge.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "server:\n  public_url: https://wangge.example.gov.cn\n  idle_timeout_s: 5\n  request_timeout_s: 12.5\n  max_connections: 200\n  database_timeout_s: 12\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let server = try WanggeConfig.load(explicitPath: path).server
        #expect(server.publicURL == "https://wangge.example.gov.cn")
        #expect(server.idleTimeout == .seconds(5) && server.requestTimeout == .milliseconds(12_500) && server.maxConnections == 200)
        #expect(server.databaseTimeout == .seconds(12))
        for (line, message) in [
            ("public_url: evil.example", "server.public_url: \"evil.example\" is not an http:// or https:// URL"),
            ("public_url: ftp://files.example", "server.public_url: \"ftp://files.example\" is not an http:// or https:// URL"),
            ("idle_timeout_s: 0", "server.idle_timeout_s must be a number of seconds above 0"),
            ("request_timeout_s: -1", "server.request_timeout_s must be a number of seconds above 0"),
            ("request_timeout_s: 1e30", "server.request_timeout_s must be a number of seconds above 0 and at most 86400"),
            ("max_connections: 0", "server.max_connections must be at least 1"),
            ("database_timeout_s: 0", "server.database_timeout_s must be a number of seconds above 0"),
        ] {
            try "server:\n  \(line)\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect { _ = try WanggeConfig.load(explicitPath: path) } throws: { "\($0)".hasPrefix("\(path): \(message)") }
        }
        // The documented defaults are the shipped file's.
        let shipped = try WanggeConfig.load(explicitPath: Fixtures.path("Config/wangge.yaml")).server
        let defaults = ServerSettings()
        #expect(shipped.publicURL == nil && shipped.idleTimeout == defaults.idleTimeout && shipped.requestTimeout == defaults.requestTimeout)
        #expect(shipped.maxConnections == 1_000)
        #expect(shipped.databaseTimeout == defaults.databaseTimeout && defaults.databaseTimeout == .seconds(30))
    }

    @Test func theWebMapSectionIsReadAndBadValuesAreNamed() throws {
        let path = Fixtures.temporaryPath("web.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "web_map:\n  leaflet_directory: /opt/leaflet\n  base_tiles: http://tiles.intranet:8080/{z}/{x}/{y}.png\n  base_tiles_attribution: 天地图\n  refresh_s: 5\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let web = try WanggeConfig.load(explicitPath: path).webMap
        #expect(web.leafletDirectory == "/opt/leaflet" && web.baseTiles == "http://tiles.intranet:8080/{z}/{x}/{y}.png")
        #expect(web.baseTilesAttribution == "天地图" && web.refresh == .seconds(5))
        for (line, message) in [
            ("base_tiles: tiles.intranet/{z}/{x}/{y}.png", "web_map.base_tiles: \"tiles.intranet/{z}/{x}/{y}.png\" is not an http:// or https:// tile URL"),
            ("base_tiles: http://tiles.intranet/{z}/{x}.png", "web_map.base_tiles: \"http://tiles.intranet/{z}/{x}.png\" is not an http:// or https:// tile URL"),
            ("refresh_s: 0", "web_map.refresh_s must be a number of seconds above 0"),
        ] {
            try "web_map:\n  \(line)\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect { _ = try WanggeConfig.load(explicitPath: path) } throws: { "\($0)".hasPrefix("\(path): \(message)") }
        }
        // The shipped file: Debian's Leaflet, no base tiles (an intranet has no internet), 3 s.
        let shipped = try WanggeConfig.load(explicitPath: Fixtures.path("Config/wangge.yaml")).webMap
        #expect(shipped.leafletDirectory == WebMapSettings().leafletDirectory && shipped.baseTiles == nil && shipped.refresh == .seconds(3))
    }
}
