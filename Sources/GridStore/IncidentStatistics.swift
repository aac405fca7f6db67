import Foundation
import GRDB
import GridCore
import Localization

/// How incidents are grouped for statistics.
public enum IncidentGrouping: String, Sendable, CaseIterable, Codable {
    case county, town, village, grid, category, channel
    /// The month received, in China Standard Time (`monthlyIncidentStatistics` gives the trend's own figures).
    case month
}

/// One month of the incident trend, in China Standard Time (the month an
/// incident was received, closed or escalated in is its month there).
public struct MonthlyIncidentStatistics: Sendable, Encodable, Equatable {
    /// "2026-11".
    public var month: String
    /// Received (reported) in the month.
    public var received: Int
    /// Closed (办结) in the month.
    public var closed: Int
    /// Whose deadline fell in the month and was missed (超期): still open after it, or closed after it.
    public var overdue: Int
    /// Escalated (上报) in the month, each incident once.
    public var escalated: Int
    /// The median hours from report to closure of those closed in the month.
    public var medianHoursToClose: Double?
}

/// Which incidents a trend counts: codes of a town or village, a category, and the period.
public struct IncidentTrendFilter: Sendable {
    public var town: String?
    public var village: String?
    public var category: String?
    public var since: Date?
    public var until: Date?

    public init(town: String? = nil, village: String? = nil, category: String? = nil, since: Date? = nil, until: Date? = nil) {
        self.town = town
        self.village = village
        self.category = category
        self.since = since
        self.until = until
    }
}

/// The centre's figures for one group of incidents over a period.
/// Rates are nil when nothing was closed (or received) to divide by.
public struct IncidentStatistics: Sendable, Encodable, Equatable {
    public var key: String
    public var name: String?
    /// Reported within the period.
    public var received: Int
    /// Not yet resolved or closed.
    public var open: Int
    /// Open and past the deadline.
    public var overdue: Int
    public var closed: Int
    /// 结案率: closed / received.
    public var closureRate: Double?
    /// 一次性化解率: closed without ever being escalated or reopened / closed.
    public var oneTimeResolutionRate: Double?
    /// 满意率: closed with satisfaction 4 or 5 / closed with a satisfaction given.
    public var satisfactionRate: Double?
    /// 小事不出村: closed while handled at grid or village level / closed.
    public var villageLevelShare: Double?
    /// Mean hours from report to closure, over closed incidents with both times.
    public var meanHoursToClose: Double?
}

extension GridStore {
    /// Statistics per group for the incidents reported in [since, until);
    /// `now` decides which open incidents are overdue.
    public func incidentStatistics(by grouping: IncidentGrouping, since: Date? = nil, until: Date? = nil,
                                   now: Date = Date()) throws -> [IncidentStatistics] {
        let rows = try database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.incidentStatisticsColumns) FROM incidents WHERE (? IS NULL OR reported_at >= ?) AND (? IS NULL OR reported_at < ?)
                """, arguments: [since.map(Self.time), since.map(Self.time), until.map(Self.time), until.map(Self.time)])
        }
        return Self.incidentStatistics(rows, by: grouping, names: Self.areaNames(grouping, grids: try grids()), now: now)
    }

    /// What the figures are made of, per incident.
    static let incidentStatisticsColumns = """
        grid_code, village_code, town_code, category, channel, status, deadline, level, satisfaction, reported_at, closed_at, escalations, reopenings
        """

    /// The figures per group from rows of the columns `incidentStatistics` reads (both stores read the same).
    static func incidentStatistics(_ rows: [Row], by grouping: IncidentGrouping, names: [String: String], now: Date) -> [IncidentStatistics] {
        let nowText = Self.time(now)
        var groups: [String: [Row]] = [:]
        for row in rows {
            let key: String? = switch grouping {
            case .county: "county"
            case .grid: row["grid_code"]
            case .village: row["village_code"]
            case .town: row["town_code"]
            case .category: row["category"]
            case .channel: row["channel"]
            case .month: (row["reported_at"] as String?).flatMap(Self.storedDate).map(Self.month)
            }
            groups[key ?? "(none)", default: []].append(row)
        }
        return groups.keys.sorted().map { key in
            let rows = groups[key]!
            let statuses = rows.map { IncidentStatus(rawValue: $0["status"]) ?? .reported }
            let closed = rows.indices.filter { statuses[$0] == .closed }
            let open = rows.indices.filter { statuses[$0].isOpen }
            let overdue = open.filter { (rows[$0]["deadline"] as String?).map { $0 < nowText } == true }
            let oneTime = closed.filter { (rows[$0]["escalations"] as Int) == 0 && (rows[$0]["reopenings"] as Int) == 0 }
            let rated = closed.compactMap { rows[$0]["satisfaction"] as Int? }
            let villageLevel = closed.filter { ["grid", "village"].contains(rows[$0]["level"] as String? ?? "") }
            let hours = closed.compactMap { i -> Double? in
                guard let from = (rows[i]["reported_at"] as String?).flatMap(Self.storedDate),
                      let to = (rows[i]["closed_at"] as String?).flatMap(Self.storedDate) else { return nil }
                return to.timeIntervalSince(from) / 3600
            }
            func rate(_ part: Int, _ whole: Int) -> Double? { whole > 0 ? Double(part) / Double(whole) : nil }
            return IncidentStatistics(
                key: key, name: names[key], received: rows.count, open: open.count, overdue: overdue.count, closed: closed.count,
                closureRate: rate(closed.count, rows.count), oneTimeResolutionRate: rate(oneTime.count, closed.count),
                satisfactionRate: rate(rated.filter { $0 >= 4 }.count, rated.count),
                villageLevelShare: rate(villageLevel.count, closed.count),
                meanHoursToClose: hours.isEmpty ? nil : hours.reduce(0, +) / Double(hours.count))
        }
    }

    /// Names of the towns, villages or grids (the active generation's), by code.
    static func areaNames(_ grouping: IncidentGrouping, grids: [GridInfo]) -> [String: String] {
        let pairs: [(String, String)] = switch grouping {
        case .town: grids.map { ($0.townCode, $0.townName) }
        case .village: grids.map { ($0.villageCode, $0.villageName) }
        case .grid: grids.map { ($0.code, $0.name) }
        case .county, .category, .channel, .month: []
        }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    /// "2026-11": the month of a time in China Standard Time.
    static func month(_ date: Date) -> String { String(timePolicy.day(date).prefix(7)) }

    /// The longest trend asked for at once: 50 years of months.
    public static let maximumTrendMonths = 600

    /// Incident figures per month from the month of `since` (default: the first
    /// incident's) to the month of `until` (exclusive; default: now's), every
    /// month listed, those with nothing as zeros. `now` decides which missed deadlines are past.
    public func monthlyIncidentStatistics(_ filter: IncidentTrendFilter, now: Date = Date()) throws -> [MonthlyIncidentStatistics] {
        var conditions = ["1"]
        var arguments: [DatabaseValueConvertible?] = []
        for (column, value) in [("town_code", filter.town), ("village_code", filter.village), ("category", filter.category)] {
            guard let value else { continue }
            conditions.append("i.\(column) = ?")
            arguments.append(value)
        }
        let whereClause = conditions.joined(separator: " AND ")
        let (rows, escalations) = try database.pool.read { db in
            (try Row.fetchAll(db, sql: "SELECT status, reported_at, closed_at, deadline FROM incidents i WHERE \(whereClause)",
                              arguments: StatementArguments(arguments)),
             try Row.fetchAll(db, sql: """
                SELECT DISTINCT e.incident_id, e.at FROM incident_events e JOIN incidents i ON i.id = e.incident_id
                WHERE e.action = 'escalate' AND \(whereClause)
                """, arguments: StatementArguments(arguments)))
        }
        return try Self.monthlyIncidentStatistics(rows, escalations: escalations, filter, now: now)
    }

    /// The trend from rows of `status, reported_at, closed_at, deadline` and the escalations' `incident_id, at`
    /// (both stores read the same).
    static func monthlyIncidentStatistics(_ rows: [Row], escalations: [Row], _ filter: IncidentTrendFilter, now: Date) throws -> [MonthlyIncidentStatistics] {
        let (since, until) = (filter.since.map(Self.time), filter.until.map(Self.time))
        // A time counts in its month when it is in [since, until).
        func monthOf(_ stored: String?) -> String? {
            guard let stored, since.map({ stored >= $0 }) ?? true, until.map({ stored < $0 }) ?? true,
                  let date = Self.storedDate(stored) else { return nil }
            return Self.month(date)
        }
        var months: [String: MonthlyIncidentStatistics] = [:]
        func add(_ month: String?, _ change: (inout MonthlyIncidentStatistics) -> Void) {
            guard let month else { return }
            change(&months[month, default: MonthlyIncidentStatistics(month: month, received: 0, closed: 0, overdue: 0, escalated: 0)])
        }
        let nowText = Self.time(now)
        var hours: [String: [Double]] = [:]
        for row in rows {
            let status = IncidentStatus(rawValue: row["status"]) ?? .reported
            let reported: String? = row["reported_at"], closed: String? = row["closed_at"], deadline: String? = row["deadline"]
            add(monthOf(reported)) { $0.received += 1 }
            if status == .closed, let month = monthOf(closed) {
                add(month) { $0.closed += 1 }
                if let from = reported.flatMap(Self.storedDate), let to = closed.flatMap(Self.storedDate) {
                    hours[month, default: []].append(to.timeIntervalSince(from) / 3600)
                }
            }
            if let deadline, deadline < nowText, status.isOpen || (closed.map { $0 > deadline } ?? false) {
                add(monthOf(deadline)) { $0.overdue += 1 }
            }
        }
        var escalatedIn: [String: Set<String>] = [:]
        for row in escalations {
            if let month = monthOf(row["at"]) { escalatedIn[month, default: []].insert(row["incident_id"]) }
        }
        for (month, ids) in escalatedIn { add(month) { $0.escalated = ids.count } }
        for (month, values) in hours { add(month) { $0.medianHoursToClose = Self.median(values) } }
        // Every month of the period, the empty ones too.
        guard let first = filter.since.map(Self.month) ?? months.keys.min() else { return [] }
        let last = filter.until.map { Self.month($0.addingTimeInterval(-1)) } ?? max(Self.month(now), months.keys.max() ?? first)
        var result: [MonthlyIncidentStatistics] = []
        var month = first
        while month <= last {
            guard result.count < Self.maximumTrendMonths else {
                throw WanggeError.invalid(tr("since: the period from \(first) to \(last) is over \(Self.maximumTrendMonths) months; give a later since"),
                                          field: "since")
            }
            result.append(months[month] ?? MonthlyIncidentStatistics(month: month, received: 0, closed: 0, overdue: 0, escalated: 0))
            month = Self.month(after: month)
        }
        return result
    }

    /// The month after "2026-11" ("2026-12"; after "2026-12", "2027-01").
    static func month(after month: String) -> String {
        let year = Int(month.prefix(4)) ?? 0, number = Int(month.suffix(2)) ?? 0
        return number == 12 ? String(format: "%04d-01", year + 1) : String(format: "%04d-%02d", year, number + 1)
    }

    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
