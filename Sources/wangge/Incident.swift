import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore

extension Wangge {
    struct Incident: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Incidents: report and route them, then take them through their lifecycle.",
            subcommands: [Report.self, Show.self, Accept.self, Start.self, Mediate.self, Resolve.self, Close.self, Reopen.self,
                          Escalate.self, Return.self, Reroute.self, Move.self, Recategorize.self, EscalateOverdue.self,
                          Notifications.self])

        struct Report: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Report an incident at a place: it is located, routed by the rules in Config/ and stored.",
                discussion: "Refused (exit 1) when the place is outside every grid, with the nearest grid and its distance.")

            @OptionGroup var store: StoreOptions
            @Option(help: "Longitude (or x).") var lon: Double
            @Option(help: "Latitude (or y).") var lat: Double
            @Option(help: "CRS of the place: EPSG:<code>, gcj02 (WeChat, AMap) or bd09 (Baidu).") var crs: CoordinateSystem = .wgs84
            @Option(help: "Category, e.g. 矛盾纠纷, 环境卫生, 安全隐患.") var category: String
            @Option(help: "Channel: 网格员上报, 12345, 码上办, 来访, …") var channel: String
            @Option(help: "Severity: 简单, 一般 or 疑难.") var severity: String?
            @Option(help: "What happened.") var description: String?
            @Option(help: "Who reported it.") var reporter: String?
            @Option(help: "When it happened (2026-11-01 08:30, China time, or ISO 8601); not after now.") var occurredAt: String?
            @Option(name: .customLong("external-id"), help: "The channel's ticket number (the 12345 hotline's): the same ticket twice is refused.") var externalID: String?
            @Flag(help: "Print JSON.") var json = false

            func run() throws {
                let occurred = try occurredAt.map { text in
                    guard let date = GridStore.parseTime(text) else {
                        throw WanggeError.invalid("\"\(text)\" is not a day (2026-11-01), a minute (2026-11-01 08:30) or an ISO 8601 time", field: "occurred_at")
                    }
                    return date
                }
                let input = IncidentInput(x: lon, y: lat, crs: crs, category: category, channel: channel, severity: severity,
                                          description: description, reporter: reporter, occurredAt: occurred, externalID: externalID)
                let result = try store.openService().reportIncident(input)
                let r = result.routing
                if json {
                    print(try jsonText(result))
                    return
                }
                let deadline = TimePolicy.standard.displayed(r.deadline)
                print("incident  \(result.id)  \(category) via \(channel)")
                print("grid      \(r.grid)  \(r.gridName)  (\(r.villageName), \(r.townName))")
                print("worker    \(r.worker ?? "-")  \(r.workerPhone ?? "")")
                print("handled   \(r.level.rawValue): \(r.unit)   department: \(r.department)")
                print("deadline  \(deadline)")
                if let other = r.confirmWithGrid { print("confirm   near the edge of \(other): the dispatcher confirms the grid") }
                if let earlier = r.duplicateOf { print("duplicate likely: \(earlier) (same category nearby and recent)") }
            }
        }
    }
}
