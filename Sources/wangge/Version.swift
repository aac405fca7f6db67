import ArgumentParser
import GridApplication

extension Wangge {
    /// `wangge version` (also `wangge --version`): what a support call asks first.
    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The versions of wangge, GEOS, PROJ, GDAL, SQLite and SpatiaLite, the schema it writes, and a database's (also: wangge --version).")

        @Option(help: "A database whose schema to compare (read only: it is not migrated).")
        var db: String?

        func run() throws {
            let lines = try LibraryVersions.report(database: db)
            let width = lines.map(\.name.count).max() ?? 0
            for line in lines { print(line.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + line.value) }
        }
    }
}
