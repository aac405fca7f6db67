import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// `wangge serve` as deployed, under an open-file limit (systemd's default is
/// 1,024; 256 here keeps the test small): more idle connections than the
/// limit allows must not lock a valid client out.
@Suite struct ServeCommandTests {
    @Test func aValidRequestGetsPastMoreIdleConnectionsThanTheOpenFileLimit() throws {
        let binary = try #require(Fixtures.executable("wangge"))
        let db = Fixtures.temporaryPath("serve.sqlite"), config = Fixtures.temporaryPath("serve.yaml")
        defer {
            Fixtures.removeDatabase(db)
            try? FileManager.default.removeItem(atPath: config)
        }
        _ = try Fixtures.run(binary, ["import", "grids", "--db", db, Fixtures.sampleGrids])
        try "server:\n  idle_timeout_s: 1\n".write(toFile: config, atomically: true, encoding: .utf8)
        let (listener, port) = try listeningSocket()
        close(listener) // free for the server
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/bin/sh")
        server.arguments = ["-c", "ulimit -n 256 && exec \"$0\" serve --db \"$1\" --port \"$2\" --config \"$3\"", binary, db, String(port), config]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        // Up within 60 s.
        var up = false
        for _ in 0..<300 where !up {
            up = (try? RawConnection(port: port, readTimeoutSeconds: 5).request("GET", "/healthz").hasPrefix("HTTP/1.1 200")) ?? false
            if !up { usleep(200_000) }
        }
        try #require(up, "wangge serve did not start")
        // 300 idle connections, held open on this side, then a valid request (60 s at most).
        let held = try (0..<300).map { _ in try RawConnection(port: port) }
        let answer = try RawConnection(port: port).request("GET", "/healthz")
        withExtendedLifetime(held) {}
        #expect(answer.hasPrefix("HTTP/1.1 200"), "no answer while idle connections are held: \(answer)")
    }
}
