import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

@main
struct Wangge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wangge",
        abstract: tr("Grid management (网格化管理) for a county's social-governance centre.").rendered,
        discussion: tr("Loads grid polygons (county → town → village → grid) into a SpatiaLite file, assigns households, cameras and incidents to their grid by GEOS point-in-polygon, and answers queries. Every subcommand takes --db PATH (default from Config/wangge.yaml).").rendered,
        subcommands: [
            Import.self, Export.self, Locate.self, Grids.self, Households.self, Household.self, Stats.self, Summary.self,
            Incident.self, Incidents.self, Plan.self, Map.self, Serve.self, Token.self, Config.self, Sample.self, Bench.self, Backup.self, Restore.self, Audit.self, Version.self,
        ])

    static func main() async {
        let arguments = CommandLineRewriter.rewrite(Array(CommandLine.arguments.dropFirst()))
        // Before parsing, so that help and parse errors are in the reader's language too;
        // a configuration that does not load is reported by the command itself.
        let configPath = CommandLineRewriter.configPath(in: arguments)
        let configured = try? WanggeConfig.load(explicitPath: configPath)
        if let configured { StartupConfig.keep(configured, explicitPath: configPath) }
        ProcessLanguage.current = WanggeConfig.outputLanguage(configured: configured?.language)
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard let known = WanggeError.from(error) else { exitAsArgumentParser(error) }
            printError(tr("Error: \(Self.message(known))").rendered)
            Foundation.exit(Self.exitCode(known))
        }
    }

    /// ArgumentParser's own ending (a help page, a mistyped command line) in
    /// the reader's language (see `ParseErrorWording`); anything else as it gives it.
    static func exitAsArgumentParser(_ error: any Error) -> Never {
        let code = exitCode(for: error), full = fullMessage(for: error)
        if code == .success && !full.isEmpty {
            print(ParseErrorWording.helpWorded(full))
            Foundation.exit(0)
        }
        if code != .success && full.hasPrefix("Error: ") {
            printError(ParseErrorWording.worded(full))
            Foundation.exit(code.rawValue)
        }
        exit(withError: error)
    }

    /// The application's error as the command line says it: a field becomes its option (`--town: …`);
    /// an id is every command's argument, never an option.
    static func message(_ error: WanggeError) -> String {
        let message = error.text.rendered
        guard let field = error.field, field != "id", field.allSatisfy({ $0.isLetter || $0 == "_" }) else { return message }
        let option = "--" + field.replacingOccurrences(of: "_", with: "-")
        if message.hasPrefix(field + ":") { return option + message.dropFirst(field.count) }
        if message.hasPrefix(field + "：") { return option + "：" + message.dropFirst(field.count + 1) }
        return message.hasPrefix(option) ? message : tr("\(option): \(message)").rendered
    }

    /// 75 (EX_TEMPFAIL) when trying again later may work; 1 for everything else the user can fix.
    static func exitCode(_ error: WanggeError) -> Int32 {
        error.kind == .unavailable ? 75 : 1
    }
}

/// Makes two spellings users type work with ArgumentParser:
/// `wangge --db x.sqlite import grids …` (the store options before the
/// subcommand: moved after it) and `wangge locate -80.5 35.2` (a negative
/// coordinate would read as an option: the coordinates go after `--`).
enum CommandLineRewriter {
    static let globalOptions: Set<String> = ["--db", "--config"]
    static let locateOptionsWithValues: Set<String> = ["--db", "--config", "--crs", "--input"]

    /// The value of --config, wherever it stands.
    static func configPath(in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return nil
    }

    static func rewrite(_ arguments: [String]) -> [String] {
        // `wangge --version [--db PATH]` is `wangge version [--db PATH]`.
        if arguments.first == "--version" { return ["version"] + arguments.dropFirst() }
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if globalOptions.contains(first), rest.count >= 2 {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if globalOptions.contains(where: { first.hasPrefix($0 + "=") }) {
                leading.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        var result = Array(rest)
        if let terminator = result.firstIndex(of: "--") {
            result.insert(contentsOf: leading, at: terminator)
        } else {
            result += leading
        }
        return result.first == "locate" ? separatingCoordinates(result) : result
    }

    /// For `locate`: when a coordinate is negative, every bare number goes after `--`, in order.
    static func separatingCoordinates(_ arguments: [String]) -> [String] {
        guard !arguments.contains("--") else { return arguments }
        func isNumber(_ s: String) -> Bool { Double(s) != nil }
        var options: [String] = []
        var numbers: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if locateOptionsWithValues.contains(a), i + 1 < arguments.count {
                options += [a, arguments[i + 1]]
                i += 2
                continue
            }
            if isNumber(a) { numbers.append(a) } else { options.append(a) }
            i += 1
        }
        guard numbers.contains(where: { $0.hasPrefix("-") }) else { return arguments }
        return options + ["--"] + numbers
    }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Whether standard error is a terminal (progress lines go there).
var standardErrorIsTerminal: Bool { isatty(2) == 1 }
/// The configuration `main` reads before parsing, kept for the command:
/// reading and decoding the YAML again cost a tenth of a one-row
/// `locate --input`.
enum StartupConfig {
    /// Written by `main` before the command runs (and by tests), behind a lock.
    private final class Box: @unchecked Sendable {
        let lock = NSLock()
        var kept: (explicitPath: String?, config: WanggeConfig)?
    }
    private static let box = Box()

    static func keep(_ config: WanggeConfig, explicitPath: String?) {
        box.lock.withLock { box.kept = (explicitPath, config) }
    }

    /// The kept configuration if it was read for this --config (nil: none given).
    static func kept(explicitPath: String?) -> WanggeConfig? {
        box.lock.withLock { box.kept.flatMap { $0.explicitPath == explicitPath ? $0.config : nil } }
    }

    static func forget() { box.lock.withLock { box.kept = nil } }
}

/// Options every subcommand that touches the database shares.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(tr("The database: a SpatiaLite file, or postgresql://USER@HOST:PORT/DBNAME for PostGIS (default: `database` in the config file).").rendered))
    var db: String?

    @Option(help: ArgumentHelp(tr("The configuration file (default: $WANGGE_CONFIG, else Config/wangge.yaml if present).").rendered))
    var config: String?

    /// The configuration `main` read for the language when it came from the
    /// same --config, else the file read now.
    func loadConfig() throws -> WanggeConfig {
        try StartupConfig.kept(explicitPath: config) ?? WanggeConfig.load(explicitPath: config)
    }

    func databasePath(_ config: WanggeConfig) -> String { db ?? config.database }
}

extension StoreOptions {
    /// Opens the store named by --db or the configuration. Only commands that
    /// import or create (`creating`) make a new database; others refuse a path without one.
    /// `serving`: for `wangge serve`, which reads from a hot standby (its `--read-db`, else `read_database` in the
    /// configuration) and bounds each PostgreSQL statement by `server.database_timeout_s`.
    func openStore(creating: Bool = false, readDatabase: String? = nil, serving: Bool = false) throws -> (any Repositories, WanggeConfig) {
        let config = try loadConfig()
        return (try GridService.open(path: databasePath(config), readPath: standby(readDatabase, serving: serving, config), config: config,
                                     creating: creating, serving: serving), config)
    }

    /// The hot standby a server reads from: --read-db, else `read_database`; none for other commands.
    func standby(_ readDatabase: String?, serving: Bool, _ config: WanggeConfig) -> String? {
        serving ? readDatabase ?? config.readDatabase : nil
    }

    /// The application over the store named by --db or the configuration, with the rules in
    /// force there (the configuration stored in the database overrides the file's).
    func openService(creating: Bool = false, readDatabase: String? = nil, serving: Bool = false) throws -> GridService {
        let config = try loadConfig()
        let (service, stored) = try GridService.opening(path: databasePath(config), readPath: standby(readDatabase, serving: serving, config),
                                                        config: config, creating: creating, serving: serving)
        if case .refused(let version, let reason) = stored {
            printError(tr("warning: the configuration stored in the database (version \(version)) does not load, so the file's rules apply: \(reason)").rendered)
        }
        return service
    }
}
