import ArgumentParser
import Foundation
import GeoKit
import GridCore

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
            //ALL
            Sample.self,
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
