import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// A time on the command line: a day (2026-11-01, midnight in China) or an
/// ISO 8601 time (2026-11-01T08:30:00+08:00).
struct TimeArgument: ExpressibleByArgument, Sendable {
    let date: Date

    init?(argument: String) {
        guard let date = GridStore.parseTime(argument) else { return nil }
        self.date = date
    }
}

extension IncidentStatus: ExpressibleByArgument {}
extension HandlingLevel: ExpressibleByArgument {}
extension IncidentGrouping: ExpressibleByArgument {}

/// A time as the centre reads it: the display zone, to the minute.
func localTime(_ text: String?) -> String {
    text.map(TimePolicy.standard.minute(iso8601:)) ?? "-"
}

/// A handling level as the reader reads it.
func levelText(_ level: HandlingLevel?) -> String {
    level?.text.rendered ?? "-"
}

/// An action on an incident as the reader reads it.
func actionText(_ action: IncidentAction) -> String {
    let text: Localized = switch action {
    case .report: tr("report")
    case .accept: tr("accept")
    case .start: tr("start")
    case .mediate: tr("mediate")
    case .resolve: tr("resolve")
    case .close: tr("close")
    case .reopen: tr("reopen")
    case .escalate: tr("escalate")
    case .return: tr("return to dispatcher")
    case .reroute: tr("reroute")
    case .move: tr("move")
    case .recategorize: tr("recategorize")
    case .regrid: tr("regrid")
    }
    return text.rendered
}

/// An incident with its history, for the terminal.
func incidentText(_ r: IncidentRecord) -> String {
    let place = String(format: "%.6f, %.6f", r.lon, r.lat)
    var rows: [(label: Localized, value: String)] = [
        (tr("incident"), tr("\(r.id)  \(r.category ?? "-") via \(r.channel ?? "-")  severity \(r.severity ?? "-")").rendered),
        (tr("status"), tr("\(r.status.rawValue) (\(r.status.text))  (version \(r.version))").rendered),
        (tr("place"), tr("\(place)  grid \(r.grid ?? "-")  village \(r.village ?? "-")  town \(r.town ?? "-")").rendered),
        (tr("handled"), tr("\(levelText(r.level)): \(r.unit ?? "-")   department: \(r.department ?? "-")").rendered),
        (tr("deadline"), r.overdue ? tr("\(localTime(r.deadline))  OVERDUE").rendered : localTime(r.deadline)),
        (tr("ladder"), tr("\(r.attempts) failed attempt(s) at this level · \(r.escalations) escalation(s) · \(r.reopenings) reopening(s)").rendered),
    ]
    if let occurred = r.occurredAt { rows.append((tr("occurred"), localTime(occurred))) }
    if let ticket = r.externalID { rows.append((tr("ticket"), ticket)) }
    if let s = r.satisfaction { rows.append((tr("closed"), tr("\(localTime(r.closedAt))  satisfaction \(s)/5").rendered)) }
    if let d = r.duplicateOf { rows.append((tr("duplicate"), tr("likely of \(d)").rendered)) }
    var lines = [labelledLines(rows)]
    if let history = r.history, !history.isEmpty {
        lines.append(tr("history").rendered)
        lines.append(table([.verbatim("#"), tr("at"), tr("by"), tr("action"), tr("from → to"), tr("level: unit"), tr("grid"), tr("note")], history.map { e in
            return [String(e.seq), localTime(e.at), e.actorText.rendered, actionText(e.action), "\(e.fromStatus?.text.rendered ?? "·") → \(e.toStatus.text.rendered)",
                    tr("\(levelText(e.level)): \(e.unit ?? "-")").rendered, e.grid ?? "-",
                    [e.reason?.text.rendered, e.note, e.particulars.map { "[\($0.rendered)]" }].compactMap { $0 }.joined(separator: " ")]
        }).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    }
    if let notes = r.notifications, !notes.isEmpty {
        lines.append(tr("notified").rendered)
        lines += notes.map { "  \(localTime($0.at))  " + tr("\(levelText($0.level)): \($0.unit)").rendered + " — \($0.reason.text.rendered)" }
    }
    return lines.joined(separator: "\n")
}

/// The options every change to an incident takes.
struct ChangeOptions: ParsableArguments {
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp(tr("The incident id, e.g. R0000012.").rendered)) var id: String
    @Option(help: ArgumentHelp(tr("Who makes the change (default: $USER).").rendered)) var by: String?
    @Option(help: ArgumentHelp(tr("Why, or what was done.").rendered)) var note: String?
    @Option(help: ArgumentHelp(tr("The version you saw (from `incident show`): refused if someone changed it since.").rendered)) var version: Int?
    @Option(help: ArgumentHelp(tr("When it was done (default: now).").rendered)) var at: TimeArgument?
    @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

    /// Applies the action, with `configure` filling in what it needs, and prints the result.
    func apply(_ action: IncidentAction, _ configure: (inout IncidentChange) throws -> Void = { _ in }) throws {
        var change = IncidentChange(action, actor: by ?? ProcessInfo.processInfo.environment["USER"] ?? "cli", note: note,
                                    expectedVersion: version)
        try configure(&change)
        do {
            let record = try store.openService().act(on: id, change, at: at?.date ?? Date())
            print(json ? try jsonText(record) : incidentText(record))
        } catch let error as WanggeError {
            throw error.prefixed(id)
        }
    }
}

extension Wangge.Incident {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: tr("An incident with its history and notifications.").rendered)
        @OptionGroup var store: StoreOptions
        @Argument(help: ArgumentHelp(tr("The incident id.").rendered)) var id: String
        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

        func run() throws {
            let record = try store.openService().incident(id: id)
            print(json ? try jsonText(record) : incidentText(record))
        }
    }

    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "accept", abstract: tr("The unit takes the incident on (reported, escalated or reopened → accepted).").rendered)
        @OptionGroup var options: ChangeOptions
        func run() throws { try options.apply(.accept) }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "start", abstract: tr("Work begins (accepted → in_progress).").rendered)
        @OptionGroup var options: ChangeOptions
        func run() throws { try options.apply(.start) }
    }

    struct Mediate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "mediate",
            abstract: tr("Record a mediation attempt and its result (the 2+1+N ladder).").rendered,
            discussion: tr("A settled attempt resolves the incident. A failed one counts against the level's attempts (dispatch.mediation_attempts); when they are used up the incident escalates a level.").rendered)
        @OptionGroup var options: ChangeOptions
        @Flag(help: ArgumentHelp(tr("Whether the attempt settled the matter.").rendered)) var result: MediationResult
        func run() throws { try options.apply(.mediate) { $0.settled = result == .settled } }
    }

    enum MediationResult: String, EnumerableFlag { case settled, failed }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resolve", abstract: tr("The unit has settled it (--note says how); the reporter then closes or reopens.").rendered)
        @OptionGroup var options: ChangeOptions
        func run() throws { try options.apply(.resolve) }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "close", abstract: tr("Close a resolved incident with the reporter's satisfaction.").rendered)
        @OptionGroup var options: ChangeOptions
        @Option(help: ArgumentHelp(tr("The reporter's satisfaction, 1 (very unhappy) to 5 (very satisfied).").rendered)) var satisfaction: Int
        func run() throws { try options.apply(.close) { $0.satisfaction = satisfaction } }
    }

    struct Reopen: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reopen", abstract: tr("The reporter is not satisfied: back to the unit with a fresh deadline.").rendered)
        @OptionGroup var options: ChangeOptions
        func run() throws { try options.apply(.reopen) }
    }

    struct Escalate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "escalate", abstract: tr("Send it one level up (grid → village → town → county department).").rendered)
        @OptionGroup var options: ChangeOptions
        func run() throws { try options.apply(.escalate) }
    }

    struct Return: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "return", abstract: tr("Not this unit's: hand it back to the dispatcher with the reason (--note).").rendered)
        @OptionGroup var options: ChangeOptions
        func run() throws { try options.apply(.return) }
    }

    struct Reroute: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reroute", abstract: tr("The dispatcher sends a returned or new incident to another grid and/or level.").rendered)
        @OptionGroup var options: ChangeOptions
        @Option(help: ArgumentHelp(tr("The grid to send it to.").rendered)) var grid: String?
        @Option(help: ArgumentHelp(tr("The level to send it to: grid, village, town or county.").rendered)) var level: HandlingLevel?
        func run() throws {
            try options.apply(.reroute) {
                $0.grid = grid
                $0.level = level
            }
        }
    }

    struct Move: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "move", abstract: tr("Correct the incident's place: it is located and routed again, its old grid kept in the history.").rendered)
        @OptionGroup var options: ChangeOptions
        @Option(help: ArgumentHelp(tr("Longitude (or x).").rendered)) var lon: Double
        @Option(help: ArgumentHelp(tr("Latitude (or y).").rendered)) var lat: Double
        @Option(help: ArgumentHelp(tr("CRS of the place: EPSG:<code>, gcj02 or bd09.").rendered)) var crs: CoordinateSystem = .wgs84
        func run() throws {
            let p = try GridService.wgs84(x: lon, y: lat, crs: crs)
            try options.apply(.move) {
                $0.position = p
                $0.source = (lon, lat, crs)
            }
        }
    }

    struct Recategorize: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "recategorize", abstract: tr("Correct the category: the department (and a county-level unit) follow it.").rendered)
        @OptionGroup var options: ChangeOptions
        @Option(help: ArgumentHelp(tr("The new category.").rendered)) var category: String
        func run() throws { try options.apply(.recategorize) { $0.category = category } }
    }

    struct EscalateOverdue: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "escalate-overdue",
            abstract: tr("Escalate every open incident past its deadline one level (for cron; `wangge serve` does it too).").rendered)
        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp(tr("The time to check deadlines against (default: now).").rendered)) var at: TimeArgument?

        func run() throws {
            let touched = try store.openService().escalateOverdue(at: at?.date ?? Date())
            for (id, level) in touched { print("\(id)\t→ \(levelText(level))") }
            print(tr("\(touched.count) overdue incident(s) escalated or reported to the county").rendered)
        }
    }

    struct Notifications: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "notifications", abstract: tr("Notifications for units: incidents escalated, sent, returned or overdue.").rendered)
        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp(tr("Only this unit, e.g. 司法局 or 琼湖街道.").rendered)) var unit: String?
        @Option(help: ArgumentHelp(tr("How many, newest first.").rendered)) var limit = 50
        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false

        func run() throws {
            let notes = try store.openService().notifications(unit: unit, limit: limit)
            if json {
                print(try jsonText(notes))
                return
            }
            print(table([tr("at"), tr("incident"), tr("level"), tr("unit"), tr("reason")], notes.map {
                [localTime($0.at), $0.incidentID, levelText($0.level), $0.unit, $0.reason.text.rendered]
            }))
        }
    }
}

extension Wangge {
    struct Incidents: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "incidents", abstract: tr("List incidents by area, status, time and lateness, newest first.").rendered)
        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp(tr("Only this grid (code).").rendered)) var grid: String?
        @Option(help: ArgumentHelp(tr("Only this village (code or name).").rendered)) var village: String?
        @Option(help: ArgumentHelp(tr("Only this town (code or name).").rendered)) var town: String?
        @Option(parsing: .upToNextOption, help: ArgumentHelp(tr("Only these statuses.").rendered)) var status: [IncidentStatus] = []
        @Flag(help: ArgumentHelp(tr("Only open incidents past their deadline.").rendered)) var overdue = false
        @Option(help: ArgumentHelp(tr("Reported at or after (2026-11-01 or an ISO 8601 time).").rendered)) var since: TimeArgument?
        @Option(help: ArgumentHelp(tr("Reported before.").rendered)) var until: TimeArgument?
        @Option(help: ArgumentHelp(tr("Only this category.").rendered)) var category: String?
        @Option(help: ArgumentHelp(tr("Only this channel.").rendered)) var channel: String?
        @Option(help: ArgumentHelp(tr("At most this many.").rendered)) var limit = 100
        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false
        @Flag(help: ArgumentHelp(tr("Print CSV.").rendered)) var csv = false

        func validate() throws {
            if json && csv { throw ValidationError(tr("give --json or --csv, not both").rendered) }
            if [grid, village, town].compactMap({ $0 }).count > 1 { throw ValidationError(tr("give at most one of --grid, --village, --town").rendered) }
        }

        func run() throws {
            var query = IncidentFilter()
            query.grid = grid
            query.village = village
            query.town = town
            query.statuses = status
            query.overdueOnly = overdue
            query.since = since?.date
            query.until = until?.date
            query.category = category
            query.channel = channel
            query.limit = limit
            let records = try store.openService().incidents(query).items
            if json {
                print(try jsonText(records))
                return
            }
            let header: [Localized] = [tr("id"), tr("reported"), tr("category"), tr("channel"), tr("status"), tr("level"), tr("unit"), tr("grid"), tr("deadline"), tr("overdue")]
            let rows = records.map { r in
                [r.id, localTime(r.reportedAt), r.category ?? "", r.channel ?? "", r.status.text.rendered, levelText(r.level),
                 r.unit ?? "", r.grid ?? "", localTime(r.deadline), r.overdue ? tr("yes").rendered : ""]
            }
            if csv {
                try printCSV(header.map(\.description), rows)
                return
            }
            print(table(header, rows))
            print((records.count == limit ? tr("\(records.count) incident(s) (the first \(limit); --limit shows more)") : tr("\(records.count) incident(s)")).rendered)
        }
    }
}

extension Wangge.Stats {
    struct Incidents: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "incidents",
            abstract: tr("Incident figures per area, category or channel: received, open, overdue, closure, one-time resolution, satisfaction.").rendered,
            discussion: tr("closure = closed / received (结案率); one-time = closed without escalation or reopening / closed (一次性化解率); satisfied = satisfaction 4–5 / closed with a satisfaction (满意率); village = closed at grid or village level / closed (小事不出村); hours = mean time from report to closure.").rendered)
        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp(tr("Group by county, town, village, grid, category or channel; month gives the trend (received, closed, overdue, escalated, median hours to close per month, China time).").rendered))
        var by: IncidentGrouping = .town
        @Option(help: ArgumentHelp(tr("With --by month: only this town (code or name).").rendered)) var town: String?
        @Option(help: ArgumentHelp(tr("With --by month: only this village (code or name).").rendered)) var village: String?
        @Option(help: ArgumentHelp(tr("With --by month: only this category.").rendered)) var category: String?
        @Option(help: ArgumentHelp(tr("Reported at or after (2026-11-01 or an ISO 8601 time).").rendered)) var since: TimeArgument?
        @Option(help: ArgumentHelp(tr("Reported before.").rendered)) var until: TimeArgument?
        @Option(help: ArgumentHelp(tr("The time that decides what is overdue (default: now).").rendered)) var at: TimeArgument?
        @Flag(help: ArgumentHelp(tr("Print JSON.").rendered)) var json = false
        @Flag(help: ArgumentHelp(tr("Print CSV.").rendered)) var csv = false

        func validate() throws {
            if json && csv { throw ValidationError(tr("give --json or --csv, not both").rendered) }
            if by != .month, town != nil || village != nil || category != nil {
                throw ValidationError(tr("--town, --village and --category filter the trend: use them with --by month").rendered)
            }
        }

        func run() throws {
            if by == .month { return try printTrend() }
            let stats = try store.openService().incidentStatistics(by: by, since: since?.date, until: until?.date, now: at?.date ?? Date())
            if json {
                print(try jsonText(stats))
                return
            }
            func percent(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
            let header: [Localized] = [groupingHeader(by.rawValue), tr("name"), tr("received"), tr("open"), tr("overdue"), tr("closed"), tr("closure"), tr("one-time"), tr("satisfied"), tr("village"), tr("hours")]
            let rows = stats.map { s in
                [s.key, s.name ?? "", String(s.received), String(s.open), String(s.overdue), String(s.closed), percent(s.closureRate),
                 percent(s.oneTimeResolutionRate), percent(s.satisfactionRate), percent(s.villageLevelShare),
                 s.meanHoursToClose.map { String(format: "%.1f", $0) } ?? "-"]
            }
            if csv {
                try printCSV(header.map(\.description), stats.map { s in
                    [s.key, s.name ?? "", String(s.received), String(s.open), String(s.overdue), String(s.closed)]
                        + [s.closureRate, s.oneTimeResolutionRate, s.satisfactionRate, s.villageLevelShare, s.meanHoursToClose]
                        .map { $0.map { String(format: "%.4f", $0) } ?? "" }
                })
                return
            }
            print(table(header, rows, rightAligned: Set(2..<header.count)))
        }

        func printTrend() throws {
            let months = try store.openService().monthlyIncidentStatistics(town: town, village: village, category: category, since: since?.date,
                                                                          until: until?.date, now: at?.date ?? Date())
            if json { return print(try jsonText(months)) }
            let header: [Localized] = [tr("month"), tr("received"), tr("closed"), tr("overdue"), tr("escalated"), tr("median hours")]
            let rows = months.map { m in
                [m.month, String(m.received), String(m.closed), String(m.overdue), String(m.escalated),
                 m.medianHoursToClose.map { String(format: csv ? "%.4f" : "%.1f", $0) } ?? (csv ? "" : "-")]
            }
            if csv { return try printCSV(header.map(\.description), rows) }
            print(table(header, rows, rightAligned: Set(1..<header.count)))
        }
    }
}
