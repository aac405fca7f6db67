import ArgumentParser
import GridApplication
import GridCore
import GridStore
import Localization

extension Wangge {
    /// `wangge config push|show|clear`: the configuration kept in the database, which every
    /// process on it follows instead of its own file (servers on several hosts, one database).
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "config",
            abstract: tr("Store a configuration in the database for every server on it, show it or clear it.").rendered,
            discussion: tr("A configuration stored in the database overrides every section of each process's own file but `database` and `read_database` (each keeps the database it opened). PostGIS servers apply a change within a second (NOTIFY), SpatiaLite servers within 5 s; without one, each follows its file.").rendered,
            subcommands: [Push.self, Show.self, Clear.self])

        struct Push: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "push",
                abstract: tr("Check the configuration file (--config) as every command reads it and store it in the database as the next version; a file with an error stores nothing.").rendered)
            @OptionGroup var store: StoreOptions

            func run() throws {
                let stored = try store.openService().pushConfiguration(explicitPath: store.config)
                print(tr("configuration version \(stored.version) stored (\(TimePolicy.standard.displayed(stored: stored.storedAt))): every server on this database follows it instead of its own file").rendered)
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "show", abstract: tr("Print the configuration stored in the database, with its version and time, or say that none is.").rendered)
            @OptionGroup var store: StoreOptions

            func run() throws {
                guard let stored = try store.openService().storedConfiguration(), let text = stored.text else {
                    print(tr("no configuration is stored in this database: every process follows its own file").rendered)
                    return
                }
                // A YAML comment first: the output is itself a configuration file.
                print(tr("# configuration version \(stored.version), stored \(TimePolicy.standard.displayed(stored: stored.storedAt))").rendered)
                print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            }
        }

        struct Clear: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "clear", abstract: tr("Remove the configuration stored in the database: every server follows its own file again.").rendered)
            @OptionGroup var store: StoreOptions

            func run() throws {
                guard let cleared = try store.openService().clearConfiguration() else {
                    print(tr("no configuration is stored in this database; nothing to clear").rendered)
                    return
                }
                print(tr("configuration cleared (version \(cleared.version)): every server on this database follows its own file again").rendered)
            }
        }
    }
}
