import ArgumentParser
import GridApplication
import GridMap
import Localization

extension Wangge {
    /// `wangge version` (also `wangge --version`): what a support call asks first.
    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "version",
            abstract: tr("The versions of wangge, GEOS, PROJ, GDAL, SQLite and SpatiaLite, the schema it writes, and a database's (also: wangge --version).").rendered)

        @Option(help: ArgumentHelp(tr("A database whose schema to compare (read only: it is not migrated).").rendered))
        var db: String?

        func run() throws {
            let lines = try LibraryVersions.report(database: db).map { ($0.name.rendered, $0.value.rendered) }
            // Aligned by the terminal's columns: a Chinese name takes two a character.
            let width = lines.map { displayWidth($0.0) }.max() ?? 0
            for (name, value) in lines { print(name + String(repeating: " ", count: width + 2 - displayWidth(name)) + value) }
        }
    }
}
