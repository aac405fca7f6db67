import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// The command line and the HTTP API are two doors to the same use cases:
/// for the same question they give the same answer (the same JSON).
@Suite struct ParityTests {
    @Test func theCommandLineAndTheAPIAnswerAlike() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let db = Fixtures.temporaryPath("parity.sqlite"), points = Fixtures.temporaryPath("parity.csv")
        defer {
            Fixtures.removeDatabase(db)
            try? FileManager.default.removeItem(atPath: points)
        }
        func wangge(_ arguments: String...) throws -> String { try Fixtures.run(binary, arguments + ["--db", db]) }
        _ = try wangge("import", "grids", Fixtures.sampleGrids)
        try "id,lon,lat,type,heading_deg,fov_deg,range_m,status\nk1,112.3550,28.8420,天网,90,90,100,online\nk2,112.40,28.85,雪亮,0,60,80,online\n"
            .write(toFile: points, atomically: true, encoding: .utf8)
        _ = try wangge("import", "cameras", points)
        try "id,lon,lat,members\nh1,112.3551,28.8421,3\nh2,112.41,28.86,2\n".write(toFile: points, atomically: true, encoding: .utf8)
        _ = try wangge("import", "households", points)
        let admin = try wangge("token", "create", "--role", "admin", "--name", "parity").trimmingCharacters(in: .whitespacesAndNewlines)

        let (listener, port) = try listeningSocket()
        close(listener)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: binary)
        server.arguments = ["serve", "--db", db, "--port", String(port)]
        server.environment = ProcessInfo.processInfo.environment.merging(["WANGGE_LANGUAGE": "en"]) { $1 }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        func get(_ path: String, method: String = "GET") -> (status: String, body: String) {
            let answer = (try? RawConnection(port: port, readTimeoutSeconds: 60).request(method, path, headers: ["Authorization": "Bearer \(admin)"])) ?? ""
            let parts = answer.components(separatedBy: "\r\n\r\n")
            return (parts.first?.components(separatedBy: "\r\n").first ?? "", parts.dropFirst().joined(separator: "\r\n\r\n"))
        }
        var up = false
        for _ in 0..<300 where !up {
            up = get("/healthz").status.hasPrefix("HTTP/1.1 200")
            if !up { usleep(200_000) }
        }
        try #require(up, "wangge serve did not start")
        func json(_ text: String) throws -> NSObject {
            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSObject, "not JSON: \(text.prefix(200))")
        }
        let town = try #require((try json(try wangge("grids", "--json")) as? [[String: Any]])?.first?["town_code"] as? String)
        let questions: [(cli: [String], path: String)] = [
            (["locate", "112.3551", "28.8421", "--json"], "/v1/locate?lon=112.3551&lat=28.8421"),
            (["locate", "112.3551", "28.8421", "--crs", "gcj02", "--json"], "/v1/locate?lon=112.3551&lat=28.8421&crs=gcj02"),
            (["locate", "100", "20", "--json"], "/v1/locate?lon=100&lat=20"),
            (["grids", "--town", town, "--json"], "/v1/grids?town=\(town)"),
            (["stats", "--by", "village", "--json"], "/v1/stats?by=village"),
            (["stats", "workload", "--town", town, "--json"], "/v1/stats/workload?town=\(town)"),
            (["stats", "coverage", "--town", town, "--by", "grid", "--json"], "/v1/stats/coverage?town=\(town)&by=grid"),
            (["stats", "incidents", "--by", "town", "--json"], "/v1/stats/incidents?by=town"),
        ]
        for (cli, path) in questions {
            let fromCLI = try json(try Fixtures.run(binary, cli + ["--db", db]))
            let (status, body) = get(path)
            #expect(status.hasPrefix("HTTP/1.1 200"), "\(path): \(status) \(body.prefix(300))")
            #expect(try json(body) == fromCLI, "\(cli.joined(separator: " ")) and GET \(path) differ")
        }
        // An unknown town: the same words through both doors (the CLI names its option).
        let (status, body) = get("/v1/stats/workload?town=nowhere")
        #expect(status.hasPrefix("HTTP/1.1 400"))
        let detail = try #require((try json(body) as? [String: Any])?["detail"] as? String)
        #expect { _ = try wangge("stats", "workload", "--town", "nowhere") } throws: { "\($0)".contains("--" + detail) }
    }
}
