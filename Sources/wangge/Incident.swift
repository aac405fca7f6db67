import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

extension Wangge {
    struct Incident: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "incident",
            abstract: tr("Incidents: report and route them, then take them through their lifecycle.").rendered,
            subcommands: [Report.self, Show.self, Accept.self, Start.self, Mediate.self, Resolve.self, Close.self, Reopen.self,
                          Escalate.self, Return.self, Reroute.self, Move.self, Recategorize.self, EscalateOverdue.self,
                          Notifications.self])

        struct Report: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "report",
                abstract: tr("Report an incident at a place: it is located, routed by the rules in Config/ and stored.").rendered,
                discussion: tr("Refused (exit 1) when the place is outside every grid, with the nearest grid and its distance.").rendered)

            @OptionGroup var store: StoreOptions
            @Option(help: ArgumentHelp(tr("Longitude (or x).").rendered)) var lon: Double
            @Option(help: ArgumentHelp(tr("Latitude (or y).").rendered)) var lat: Double
            @Option(help: ArgumentHelp(tr("CRS of the place: EPSG:<code>, gcj02 (WeChat, AMap) or bd09 (Baidu).").rendered)) var crs: CoordinateSystem = .wgs84
            @Option(help: ArgumentHelp(tr("Category, e.g. 矛盾纠纷, 环境卫生, 安全隐患.").rendered)) var category: String
            @Option(help: ArgumentHelp(tr("Channel: 网格员上报, 12345, 码上办, 来访, …").rendered)) var channel: String
            @Option(help: ArgumentHelp(tr("Severity: 简单, 一般 or 疑难.").rendered)) var severity: String?
            @Option(help: ArgumentHelp(tr("What happened.").rendered)) var description: String?
            @Option(help: ArgumentHelp(tr("Who reported it.").rendered)) var reporter: String?
            @Option(help: ArgumentHelp(tr("When it happened (2026-11-01 08:30, China time, or ISO 8601); not after now.").rendered)) var occurredAt: String?
            @Option(name: .customLong("external-id"), help: ArgumentHelp(tr("The channel's ticket number (the 12345 hotline's): the same ticket twice is refused.").rendered)) var externalID: String?
            @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

            func run() throws {
                let occurred = try occurredAt.map { text in
                    guard let date = GridStore.parseTime(text) else {
                        throw WanggeError.invalid(tr("\"\(text)\" is not a day (2026-11-01), a minute (2026-11-01 08:30) or an ISO 8601 time"), field: "occurred_at")
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
                let deadline = TimePolicy.standard.minute(r.deadline)
                print(tr("incident  \(result.id)  \(category) via \(channel)").rendered)
                print(tr("grid      \(r.grid)  \(r.gridName)  (\(r.villageName), \(r.townName))").rendered)
                print(tr("worker    \(r.worker ?? "-")  \(r.workerPhone ?? "")").rendered)
                print(tr("handled   \(levelText(r.level)): \(r.unit)   department: \(r.department)").rendered)
                print(tr("deadline  \(deadline)").rendered)
                if let other = r.confirmWithGrid { print(tr("confirm   near the edge of \(other): the dispatcher confirms the grid").rendered) }
                if let earlier = r.duplicateOf { print(tr("duplicate likely: \(earlier) (same category nearby and recent)").rendered) }
            }
        }
    }
}
