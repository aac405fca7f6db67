import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// A report as a front end receives it: the place in any CRS and what happened.
public struct IncidentInput: Sendable {
    public var x: Double, y: Double
    public var crs: CoordinateSystem
    public var category: String
    public var channel: String
    public var severity: String?
    public var description: String?
    public var reporter: String?
    public var reportedAt: Date
    /// When it happened, if the reporter says (not after `reportedAt`).
    public var occurredAt: Date?
    /// The channel's ticket number (the 12345 hotline's): the same ticket twice is refused.
    public var externalID: String?

    public init(x: Double, y: Double, crs: CoordinateSystem, category: String, channel: String, severity: String? = nil,
                description: String? = nil, reporter: String? = nil, reportedAt: Date = Date(), occurredAt: Date? = nil, externalID: String? = nil) {
        self.x = x
        self.y = y
        self.crs = crs
        self.category = category
        self.channel = channel
        self.severity = severity
        self.description = description
        self.reporter = reporter
        self.reportedAt = reportedAt
        self.occurredAt = occurredAt
        self.externalID = externalID
    }
}

/// Where a new incident went: its id and its routing.
public struct ReportedIncident: Sendable, Encodable {
    public let id: String
    public let routing: Routing
}

/// A page of incidents; `nextOffset` is set when more follow.
public struct IncidentPage: Sendable, Encodable {
    public let items: [IncidentRecord]
    public let nextOffset: Int?
}

extension GridService {
    /// Who may report: everyone but planners and viewers. The command line (no caller) may.
    public static func mayReport(_ caller: Caller?) -> Bool {
        caller.map { [.admin, .dispatcher, .gridWorker].contains($0.role) } ?? true
    }

    /// Which actions a role may take. Grid workers act only on incidents of their own grids.
    public static func mayTake(_ action: IncidentAction, _ role: Role) -> Bool {
        switch role {
        case .admin, .dispatcher: true
        case .gridWorker: [.accept, .start, .mediate, .resolve, .escalate, .return].contains(action)
        case .planner, .viewer: false
        }
    }

    /// Reports an incident: located in the active generation, routed by the dispatch rules, stored.
    /// The reporter defaults to the caller's name.
    public func reportIncident(_ input: IncidentInput, by caller: Caller? = nil) throws -> ReportedIncident {
        if let caller, !Self.mayReport(caller) {
            throw WanggeError.unauthorized(tr("reporting incidents is for dispatchers and grid workers; you are \(caller.role.rawValue)"))
        }
        let p = try Self.wgs84(x: input.x, y: input.y, crs: input.crs)
        let report = IncidentReport(position: p, source: (input.x, input.y, input.crs), category: input.category, channel: input.channel,
                                    severity: input.severity, description: input.description, reporter: input.reporter ?? caller?.name,
                                    reportedAt: input.reportedAt, occurredAt: input.occurredAt, externalID: input.externalID)
        return try translatingErrors {
            let result = try store.report(report, rules: dispatchRules, placement: try active().placement)
            return ReportedIncident(id: result.id, routing: result.routing)
        }
    }

    /// One incident with its history, as the caller may see it; a read that reveals who someone is is audited as `action`.
    public func incident(id: String, for caller: Caller? = nil, action: String = "incident") throws -> IncidentRecord {
        let record = try translatingErrors { try store.incident(id: id, now: Date()) }
        var shown = try shown(record, to: caller, action: action)
        if let caller { shown.allowedActions = Self.allowedActions(on: record, by: caller) }
        return shown
    }

    /// The lifecycle steps `caller` may take on `record` now: allowed from its
    /// status, to their role, and for a grid worker only in their own grids.
    /// Corrections (move, recategorize) and the system's own steps are left out.
    public static func allowedActions(on record: IncidentRecord, by caller: Caller) -> [IncidentAction] {
        if caller.role == .gridWorker, !(record.grid.map(caller.grids.contains) ?? false) { return [] }
        return IncidentAction.allCases.filter { action in
            ![.report, .move, .recategorize, .regrid].contains(action) && mayTake(action, caller.role)
                && IncidentTransitions.target(of: action, from: record.status) != nil
        }
    }

    /// Incidents matching the filter (its grid, village and town by code or name), newest first;
    /// a page of `limit` with the offset of the next.
    public func incidents(_ query: IncidentFilter, for caller: Caller? = nil, action: String = "incidents") throws -> IncidentPage {
        var filter = query
        filter.grid = try areaCode(.grid, query.grid)
        filter.village = try areaCode(.village, query.village)
        filter.town = try areaCode(.town, query.town)
        // A filter outside the vocabulary would answer "none" for a typo: say so instead.
        if let category = query.category { try dispatchRules.check(.category, category) }
        if let channel = query.channel { try dispatchRules.check(.channel, channel) }
        filter.limit = query.limit.map { $0 + 1 }
        let found = try translatingErrors { try store.incidents(filter, now: Date()) }
        let limit = query.limit ?? found.count
        var items = Array(found.prefix(limit))
        if let caller {
            var unmasked = 0
            items = items.map { record in
                let (shown, revealsIdentity) = visible(record, to: caller)
                if revealsIdentity { unmasked += 1 }
                return shown
            }
            if unmasked > 0 { try translatingErrors { try store.audit(caller, action: action, grid: filter.grid, records: unmasked) } }
        }
        return IncidentPage(items: items, nextOffset: found.count > limit ? query.offset + limit : nil)
    }

    /// One lifecycle step on an incident, checked against the caller's role and grids; the answer as the caller may see it.
    public func act(on id: String, _ change: IncidentChange, at now: Date = Date(), by caller: Caller? = nil,
                    action: String = "incident action") throws -> IncidentRecord {
        if let caller {
            guard Self.mayTake(change.action, caller.role) else {
                throw WanggeError.unauthorized(tr("\(caller.role.rawValue) may not \(change.action.rawValue) incidents"))
            }
            if caller.role == .gridWorker {
                let current = try translatingErrors { try store.incident(id: id, now: Date()) }
                guard let grid = current.grid, caller.grids.contains(grid) else {
                    throw WanggeError.unauthorized(tr("incident \(id) is not in your grids"))
                }
            }
        }
        let record = try translatingErrors {
            try store.apply(change, to: id, at: now, rules: dispatchRules, placement: try active().placement)
        }
        return try shown(record, to: caller, action: action)
    }

    /// What units must be told; a grid worker sees only their grids', and roles without notifications none.
    public func notifications(unit: String? = nil, limit: Int = 100, for caller: Caller? = nil) throws -> [IncidentNotification] {
        var grids: Set<String>?
        if let caller {
            switch privacy.role(caller.role).notifications {
            case .all: grids = nil
            case .own: grids = caller.grids
            case .none:
                throw WanggeError.unauthorized(tr("notifications are for the units that handle incidents; the \(caller.role.rawValue) role reads none (privacy.\(caller.role.rawValue).notifications); incident statistics give the counts"))
            }
        }
        return try translatingErrors { try store.notifications(unit: unit, limit: limit, forGrids: grids) }
    }

    /// Escalates every incident past its deadline one level up (the scheduler's round).
    public func escalateOverdue(at now: Date = Date()) throws -> [(id: String, level: HandlingLevel)] {
        try translatingErrors { try store.escalateOverdue(at: now, rules: dispatchRules) }
    }

    /// Incident counts, closure and satisfaction by area, category or channel.
    public func incidentStatistics(by grouping: IncidentGrouping, since: Date? = nil, until: Date? = nil,
                                   now: Date = Date()) throws -> [IncidentStatistics] {
        try translatingErrors { try store.incidentStatistics(by: grouping, since: since, until: until, now: now) }
    }

    /// The incident trend per month in China Standard Time, optionally for a
    /// town or village (code or name) and a category; months with nothing are zeros.
    public func monthlyIncidentStatistics(town: String? = nil, village: String? = nil, category: String? = nil, since: Date? = nil,
                                          until: Date? = nil, now: Date = Date()) throws -> [MonthlyIncidentStatistics] {
        if let category { try dispatchRules.check(.category, category) }
        let filter = IncidentTrendFilter(town: try areaCode(.town, town), village: try areaCode(.village, village), category: category,
                                         since: since, until: until)
        return try translatingErrors { try store.monthlyIncidentStatistics(filter, now: now) }
    }

    /// The record as the caller may see it; an unmasked read is audited.
    private func shown(_ record: IncidentRecord, to caller: Caller?, action: String) throws -> IncidentRecord {
        guard let caller else { return record }
        let (shown, revealsIdentity) = visible(record, to: caller)
        if revealsIdentity { try translatingErrors { try store.audit(caller, action: action, grid: record.grid, records: 1) } }
        return shown
    }
}
