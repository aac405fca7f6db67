import Foundation
import GRDB
import GridCore

/// How incidents are grouped for statistics.
public enum IncidentGrouping: String, Sendable, CaseIterable, Codable {
    case county, town, village, grid, category, channel
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
                SELECT grid_code, village_code, town_code, category, channel, status, deadline, level, satisfaction,
                       reported_at, closed_at, escalations, reopenings
                FROM incidents WHERE (? IS NULL OR reported_at >= ?) AND (? IS NULL OR reported_at < ?)
                """, arguments: [since.map(Self.time), since.map(Self.time), until.map(Self.time), until.map(Self.time)])
        }
        let names = try areaNames(grouping)
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

    /// Names of the towns, villages or grids in the active generation, by code.
    func areaNames(_ grouping: IncidentGrouping) throws -> [String: String] {
        let grids = try self.grids()
        let pairs: [(String, String)] = switch grouping {
        case .town: grids.map { ($0.townCode, $0.townName) }
        case .village: grids.map { ($0.villageCode, $0.villageName) }
        case .grid: grids.map { ($0.code, $0.name) }
        case .county, .category, .channel: []
        }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }
}
