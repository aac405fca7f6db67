import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore

@main
struct Wangge: ParsableCommand {
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
            Sample.self, Bench.self,
        ])
}

/// Errors for the user: printed as they are, exit status 1.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
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
    /// Opens the store named by --db or the configuration.
    func openStore() throws -> (GridStore, WanggeConfig) {
        let config = try loadConfig()
        do {
            return (try GridStore(path: databasePath(config), rules: config.rules), config)
        } catch let error as StoreError {
            throw UserError(error.message)
        }
    }
}
