import Foundation
import GeoKit
import Localization

/// The PostgreSQL + PostGIS server the tests run against: `$WANGGE_TEST_POSTGRES`
/// (a URL of a database whose user may create databases), else a throwaway
/// cluster that `scripts/postgres.sh` starts in `.build/test-postgres` (installing
/// the Debian packages when missing). Each test gets a database of its own.
public enum PostgresTestCluster {
    /// The server's URL (its `wangge` database), started once per test process.
    public static func url() throws -> String {
        try started.get()
    }

    private static let started: Result<String, any Error> = Result {
        if let given = ProcessInfo.processInfo.environment["WANGGE_TEST_POSTGRES"], !given.isEmpty { return given }
        let url = try script(["start", Fixtures.path(".build/test-postgres")]).trimmingCharacters(in: .whitespacesAndNewlines)
        // Databases left by earlier runs of the tests: those of test processes that are gone
        // (a database's name holds its process's id; others may be running on this cluster now).
        let old = try psql(url, "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE 'wangge\\_test\\_%'")
        for name in old.split(separator: " ") {
            let parts = name.split(separator: "_")
            if parts.count > 2, let owner = pid_t(parts[2]), kill(owner, 0) == 0 || errno == EPERM { continue }
            _ = try psql(url, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
        return url
    }

    /// A hot standby of the throwaway cluster (`scripts/postgres.sh standby`, in `.build/test-postgres-standby`),
    /// started once per test process, replaying (a pause left by an earlier run is lifted); its `wangge` database's URL.
    public static func standbyURL() throws -> String { try standby.get() }

    private static let standby: Result<String, any Error> = Result {
        let primary = try url()
        if let given = ProcessInfo.processInfo.environment["WANGGE_TEST_POSTGRES"], !given.isEmpty, given == primary {
            throw GeoError(.verbatim("a standby needs the throwaway cluster: unset WANGGE_TEST_POSTGRES"))
        }
        let standby = try script(["standby", Fixtures.path(".build/test-postgres"), Fixtures.path(".build/test-postgres-standby")])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try psql(standby, "SELECT pg_wal_replay_resume()")
        return standby
    }

    /// The standby's URL for one of the primary's databases (`freshDatabase()`'s URL).
    public static func standby(of database: String) throws -> String {
        replacingDatabase(of: try standbyURL(), with: URLComponents(string: database)?.path.split(separator: "/").last.map(String.init) ?? "wangge")
    }

    /// Waits (up to a minute) until the standby has replayed all the primary has written so far.
    public static func waitForReplay() throws {
        let position = try psql(try url(), "SELECT pg_current_wal_lsn()")
        let standby = try standbyURL()
        for _ in 0..<600 {
            if try psql(standby, "SELECT pg_last_wal_replay_lsn() >= '\(position)'::pg_lsn") == "t" { return }
            usleep(100_000)
        }
        throw GeoError(.verbatim("the standby has not replayed \(position) within a minute"))
    }

    /// A new, empty database on the test server; its URL.
    public static func freshDatabase() throws -> String {
        let base = try url()
        let name = "wangge_test_\(getpid())_\(UUID().uuidString.prefix(8).lowercased())"
        _ = try psql(base, "CREATE DATABASE \(name)")
        return replacingDatabase(of: base, with: name)
    }

    /// The URL with another database name.
    public static func replacingDatabase(of url: String, with name: String) -> String {
        guard var parts = URLComponents(string: url) else { return url }
        parts.path = "/" + name
        return parts.string ?? url
    }

    /// Runs `scripts/postgres.sh` with `arguments`; its standard output.
    @discardableResult
    public static func script(_ arguments: [String]) throws -> String {
        try run(Fixtures.path("scripts/postgres.sh"), arguments)
    }

    /// One SQL statement through `psql`; its unaligned output.
    @discardableResult
    public static func psql(_ url: String, _ sql: String) throws -> String {
        try run("/usr/bin/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a program with its output in a file, waited for with `waitpid`. Foundation's
    /// `Process.waitUntilExit` never returned for a script that starts a server in the
    /// background (pg_ctl), though the script had exited.
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        let output = Fixtures.temporaryPath("command-output.txt"), errors = output + ".err"
        defer { for file in [output, errors] { try? FileManager.default.removeItem(atPath: file) } }
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, nil, argv, environ)
        guard spawned == 0 else { throw GeoError(.verbatim("\(program): cannot start it (\(String(cString: strerror(spawned))))")) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        // Exited normally with status 0: the low 7 bits (signal) and the exit code both zero.
        guard status == 0 else {
            let reason = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            throw GeoError(.verbatim("\(program) \(arguments.joined(separator: " ")) failed (wait status \(status)): \(reason)"))
        }
        return text
    }
}
