import ArgumentParser
import Foundation
import GeoKit
import GridApplication
import GridCore
import GridStore

extension Wangge {
    struct Household: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep one household up to date (入户走访): add, edit, move, remove; show it and its history.",
            discussion: "Each change checks the version (--version, from `household show`), bumps it and is kept in the history.",
            subcommands: [Show.self, History.self, Add.self, Edit.self, Move.self, Remove.self])

        /// The fields a change sets; an empty value ("") clears one.
        struct Fields: ParsableArguments {
            @Option(help: "Address (地址).") var address: String?
            @Option(help: "Head of household (户主).") var head: String?
            @Option(help: "Phone: 11 digits for a mobile, or area code and number.") var phone: String?
            @Option(name: .customLong("id-number"), help: "Resident ID number (18 characters, the check character verified).") var idNumber: String?
            @Option(help: "Residents (人口数), 0–100.") var members: Int?
            @Option(help: "Tags separated by ; (e.g. 独居老人;低保户); \"\" clears them.") var tags: String?

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
            @Option(help: "Longitude (or x).") var lon: Double
            @Option(help: "Latitude (or y).") var lat: Double
            @Option(help: "CRS of the place: EPSG:<code>, gcj02 (WeChat, AMap) or bd09 (Baidu).") var crs: CoordinateSystem = .wgs84
        }

        static func print(_ household: HouseholdView, json: Bool) throws {
            if json { return Swift.print(try jsonText(household)) }
            Swift.print(table(["field", "value"], [
                ["id", household.id], ["grid", household.grid ?? "-"], ["version", household.version.map(String.init) ?? "-"],
                ["lon, lat", "\(household.lon), \(household.lat)"], ["head", household.head ?? ""], ["phone", household.phone ?? ""],
                ["id_number", household.idNumber ?? ""], ["members", String(household.members)], ["tags", household.tags.joined(separator: ";")],
                ["address", household.address ?? ""],
            ]))
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "One household with its grid and version.")
            @OptionGroup var store: StoreOptions
            @Argument(help: "The household's id.") var id: String
            @Flag(help: "Print JSON.") var json = false

            func run() throws { try Household.print(try store.openService().household(id: id), json: json) }
        }

        struct History: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Who changed a household, when, and each field before and after.")
            @OptionGroup var store: StoreOptions
            @Argument(help: "The household's id.") var id: String
            @Flag(help: "Print JSON.") var json = false

            func run() throws {
                let history = try store.openService().householdHistory(id: id)
                if json { return Swift.print(try jsonText(history)) }
                Swift.print(table(["#", "at", "by", "action", "version", "grid", "changes"], history.events.map { event in
                    let grids = event.fromGrid == event.toGrid ? event.toGrid ?? "-" : "\(event.fromGrid ?? "-") → \(event.toGrid ?? "-")"
                    let changes = event.changes.keys.sorted().map { key in
                        "\(key): \(event.changes[key]?.before ?? "·") → \(event.changes[key]?.after ?? "·")"
                    }.joined(separator: "; ")
                    return [String(event.seq), event.at, event.actor, event.action.rawValue, String(event.version), grids, changes]
                }))
            }
        }

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a household at a place: assigned to its grid as imports assign.",
                discussion: "Refused when the id exists, the place is outside China or outside every grid, or a field is malformed.")
            @OptionGroup var store: StoreOptions
            @Argument(help: "The new household's id.") var id: String
            @OptionGroup var place: Place
            @OptionGroup var fields: Fields
            @Option(help: "Who made the change, for the history (default: $USER).") var by: String?
            @Flag(help: "Print JSON.") var json = false

            func run() throws {
                let input = HouseholdInput(fields: fields.values, x: place.lon, y: place.lat, crs: place.crs)
                try Household.print(try store.openService().addHousehold(id: id, input, actorName: by), json: json)
            }
        }

        struct Edit: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Change a household's fields (\"\" clears one).")
            @OptionGroup var store: StoreOptions
            @Argument(help: "The household's id.") var id: String
            @Option(help: "The version you read (`household show`): refused if it changed since.") var version: Int
            @OptionGroup var fields: Fields
            @Option(help: "Who made the change, for the history (default: $USER).") var by: String?
            @Flag(help: "Print JSON.") var json = false

            func run() throws {
                let input = HouseholdInput(fields: fields.values, version: version)
                try Household.print(try store.openService().changeHousehold(id: id, input, actorName: by), json: json)
            }
        }

        struct Move: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Move a household to a new place: re-assigned to its grid as imports assign (the history names both grids).")
            @OptionGroup var store: StoreOptions
            @Argument(help: "The household's id.") var id: String
            @Option(help: "The version you read (`household show`): refused if it changed since.") var version: Int
            @OptionGroup var place: Place
            @OptionGroup var fields: Fields
            @Option(help: "Who made the change, for the history (default: $USER).") var by: String?
            @Flag(help: "Print JSON.") var json = false

            func run() throws {
                let input = HouseholdInput(fields: fields.values, x: place.lon, y: place.lat, crs: place.crs, version: version)
                try Household.print(try store.openService().changeHousehold(id: id, input, actorName: by), json: json)
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a household (its history stays).")
            @OptionGroup var store: StoreOptions
            @Argument(help: "The household's id.") var id: String
            @Option(help: "The version you read (`household show`): refused if it changed since.") var version: Int
            @Option(help: "Who made the change, for the history (default: $USER).") var by: String?

            func run() throws {
                try store.openService().removeHousehold(id: id, version: version, actorName: by)
                Swift.print("household \(id) removed")
            }
        }
    }
}
