import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore

@main
struct Wangge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wangge",
        abstract: "Grid management (网格化管理) for a county's social-governance centre.",
        discussion: """
            Loads grid polygons (county → town → village → grid) into a SpatiaLite file, assigns \
            households, cameras and incidents to their grid by GEOS point-in-polygon, and answers \
            queries. Every subcommand takes --db PATH (default from Config/wangge.yaml).
            """,
        subcommands: [
            Import.self, Locate.self, Grids.self, Households.self, Stats.self, Summary.self,
            Incident.self, Incidents.self, Plan.self, Map.self, Serve.self, Token.self, Sample.self, Bench.self,
        ])

    static func main() async {
        await main(CommandLineRewriter.rewrite(Array(CommandLine.arguments.dropFirst())))
    }
}

/// Makes two spellings users type work with ArgumentParser:
/// `wangge --db x.sqlite import grids …` (the store options before the
/// subcommand: moved after it) and `wangge locate -80.5 35.2` (a negative
/// coordinate would read as an option: the coordinates go after `--`).
enum CommandLineRewriter {
    static let globalOptions: Set<String> = ["--db", "--config"]
    static let locateOptionsWithValues: Set<String> = ["--db", "--config", "--crs", "--input"]

    static func rewrite(_ arguments: [String]) -> [String] {
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
/// Options every subcommand that touches the database shares.
struct StoreOptions: ParsableArguments {
    @Option(help: "The SpatiaLite database file (default: `database` in the config file).")
    var db: String?

    @Option(help: "The configuration file (default: $WANGGE_CONFIG, else Config/wangge.yaml if present).")
    var config: String?

    func loadConfig() throws -> WanggeConfig {
        try WanggeConfig.load(explicitPath: config)
    }

    func databasePath(_ config: WanggeConfig) -> String { db ?? config.database }
}

extension StoreOptions {
    /// Opens the store named by --db or the configuration. Only commands that
    /// import or create (`creating`) make a new database; others refuse a path without one.
    func openStore(creating: Bool = false) throws -> (GridStore, WanggeConfig) {
        let config = try loadConfig()
        do {
            return (try GridStore(path: databasePath(config), rules: config.rules, create: creating), config)
        } catch let error as StoreError {
            throw UserError(error.message)
        }
    }
}

extension GridStore {
    /// The code an area option (--grid, --village, --town) names, nil without
    /// one; an unknown value is an error naming the option and the closest match.
    func optionAreaCode(_ level: AreaLevel, _ value: String?, generation: Int64? = nil) throws -> String? {
        guard let value else { return nil }
        do {
            return try areaCode(level, named: value, generation: generation)
        } catch let error as UnknownAreaError {
            throw UserError("--\(level.rawValue): \(error)")
        }
    }
}
