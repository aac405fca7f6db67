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
            print(labelledLines(try LibraryVersions.report(database: db).map { ($0.name, $0.value.rendered) }))
        }
    }
}
