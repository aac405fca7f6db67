import ArgumentParser
import GridApplication
import Localization

extension Wangge {
    /// `wangge version` (also `wangge --version`): what a support call asks first.
    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "version",
            abstract: tr("The versions of wangge, GEOS, PROJ, GDAL, SQLite and SpatiaLite, the schema it writes, and a database's (also: wangge --version).").rendered)

        @Option(help: ArgumentHelp(tr("A database whose schema to compare (read only: it is not migrated).").rendered))
        var db: String?

        func run() throws {
            let lines = try LibraryVersions.report(database: db)
            let width = lines.map(\.name.count).max() ?? 0
            for line in lines { print(line.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + line.value) }
        }
    }
}
