import ArgumentParser
import Foundation
import GeoKit
import GridApplication
import GridCore
import GridStore
import Localization

extension Wangge {
    struct Household: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "household",
            abstract: tr("Keep one household up to date (入户走访): add, edit, move, remove; show it and its history.").rendered,
            discussion: tr("Each change checks the version (--version, from `household show`), bumps it and is kept in the history.").rendered,
            subcommands: [Show.self, History.self, Add.self, Edit.self, Move.self, Remove.self])

        /// The fields a change sets; an empty value ("") clears one.
        struct Fields: ParsableArguments {
            @Option(help: ArgumentHelp(tr("Address (地址).").rendered)) var address: String?
            @Option(help: ArgumentHelp(tr("Head of household (户主).").rendered)) var head: String?
            @Option(help: ArgumentHelp(tr("Phone: 11 digits for a mobile, or area code and number.").rendered)) var phone: String?
            @Option(name: .customLong("id-number"), help: ArgumentHelp(tr("Resident ID number (18 characters, the check character verified).").rendered)) var idNumber: String?
            @Option(help: ArgumentHelp(tr("Residents (人口数), 0–100.").rendered)) var members: Int?
            @Option(help: ArgumentHelp(tr("Tags separated by ; (e.g. 独居老人;低保户); \"\" clears them.").rendered)) var tags: String?

            var values: [HouseholdField: String?] {
                var fields: [HouseholdField: String?] = [:]
                for (field, value) in [(HouseholdField.address, address), (.head, head), (.phone, phone), (.idNumber, idNumber),
                                       (.members, members.map(String.init)), (.tags, tags)] {
                    if let value { fields[field] = .some(value.isEmpty ? nil : value) }
                }
                return fields
            }
        }

        struct Place: ParsableArguments {
            @Option(help: ArgumentHelp(tr("Longitude (or x).").rendered)) var lon: Double
            @Option(help: ArgumentHelp(tr("Latitude (or y).").rendered)) var lat: Double
            @Option(help: ArgumentHelp(tr("CRS of the place: EPSG:<code>, gcj02 (WeChat, AMap) or bd09 (Baidu).").rendered)) var crs: CoordinateSystem = .wgs84
        }

        static func print(_ household: HouseholdView, json: Bool) throws {
            if json { return Swift.print(try jsonText(household)) }
            Swift.print(labelledLines([
                (tr("household id"), household.id), (tr("grid"), household.grid ?? "-"), (tr("version"), household.version.map(String.init) ?? "-"),
                (tr("lon, lat"), "\(household.lon), \(household.lat)"), (tr("head of household"), household.head ?? ""), (tr("phone"), household.phone ?? ""),
                (tr("ID number"), household.idNumber ?? ""), (tr("members"), String(household.members)), (tr("tags"), household.tags.joined(separator: ";")),
                (tr("address"), household.address ?? ""),
            ]))
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "show", abstract: tr("One household with its grid and version.").rendered)
            @OptionGroup var store: StoreOptions
            @Argument(help: ArgumentHelp(tr("The household's id.").rendered)) var id: String
            @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

            func run() throws { try Household.print(try store.openService().household(id: id), json: json) }
        }

        struct History: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "history", abstract: tr("Who changed a household, when, and each field before and after.").rendered)
            @OptionGroup var store: StoreOptions
            @Argument(help: ArgumentHelp(tr("The household's id.").rendered)) var id: String
            @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

            func run() throws {
                let history = try store.openService().householdHistory(id: id)
                if json { return Swift.print(try jsonText(history)) }
                Swift.print(table([.verbatim("#"), tr("at"), tr("by"), tr("action"), tr("version"), tr("grid"), tr("changes")], history.events.map { event in
                    let grids = event.fromGrid == event.toGrid ? event.toGrid ?? "-" : "\(event.fromGrid ?? "-") → \(event.toGrid ?? "-")"
                    let changes = event.changes.keys.sorted().map { key in
                        "\(key): \(event.changes[key]?.before ?? "·") → \(event.changes[key]?.after ?? "·")"
                    }.joined(separator: "; ")
                    return [String(event.seq), event.at, event.actor, event.action.rawValue, String(event.version), grids, changes]
                }))
            }
        }

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "add",
                abstract: tr("Add a household at a place: assigned to its grid as imports assign.").rendered,
                discussion: tr("Refused when the id exists, the place is outside China or outside every grid, or a field is malformed.").rendered)
            @OptionGroup var store: StoreOptions
            @Argument(help: ArgumentHelp(tr("The new household's id.").rendered)) var id: String
            @OptionGroup var place: Place
            @OptionGroup var fields: Fields
            @Option(help: ArgumentHelp(tr("Who made the change, for the history (default: $USER).").rendered)) var by: String?
            @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

            func run() throws {
                let input = HouseholdInput(fields: fields.values, x: place.lon, y: place.lat, crs: place.crs)
                try Household.print(try store.openService().addHousehold(id: id, input, actorName: by), json: json)
            }
        }

        struct Edit: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "edit", abstract: tr("Change a household's fields (\"\" clears one).").rendered)
            @OptionGroup var store: StoreOptions
            @Argument(help: ArgumentHelp(tr("The household's id.").rendered)) var id: String
            @Option(help: ArgumentHelp(tr("The version you read (`household show`): refused if it changed since.").rendered)) var version: Int
            @OptionGroup var fields: Fields
            @Option(help: ArgumentHelp(tr("Who made the change, for the history (default: $USER).").rendered)) var by: String?
            @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

            func run() throws {
                let input = HouseholdInput(fields: fields.values, version: version)
                try Household.print(try store.openService().changeHousehold(id: id, input, actorName: by), json: json)
            }
        }

        struct Move: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "move",
                abstract: tr("Move a household to a new place: re-assigned to its grid as imports assign (the history names both grids).").rendered)
            @OptionGroup var store: StoreOptions
            @Argument(help: ArgumentHelp(tr("The household's id.").rendered)) var id: String
            @Option(help: ArgumentHelp(tr("The version you read (`household show`): refused if it changed since.").rendered)) var version: Int
            @OptionGroup var place: Place
            @OptionGroup var fields: Fields
            @Option(help: ArgumentHelp(tr("Who made the change, for the history (default: $USER).").rendered)) var by: String?
            @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

            func run() throws {
                let input = HouseholdInput(fields: fields.values, x: place.lon, y: place.lat, crs: place.crs, version: version)
                try Household.print(try store.openService().changeHousehold(id: id, input, actorName: by), json: json)
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "remove", abstract: tr("Remove a household (its history stays).").rendered)
            @OptionGroup var store: StoreOptions
            @Argument(help: ArgumentHelp(tr("The household's id.").rendered)) var id: String
            @Option(help: ArgumentHelp(tr("The version you read (`household show`): refused if it changed since.").rendered)) var version: Int
            @Option(help: ArgumentHelp(tr("Who made the change, for the history (default: $USER).").rendered)) var by: String?

            func run() throws {
                try store.openService().removeHousehold(id: id, version: version, actorName: by)
                Swift.print(tr("household \(id) removed").rendered)
            }
        }
    }
}
