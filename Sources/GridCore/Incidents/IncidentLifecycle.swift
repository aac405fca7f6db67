import Foundation
import Localization

/// Where an incident stands. `resolved` waits for the reporter's verdict;
/// `closed` carries it. `escalated` and `returned` wait for the next unit or
/// the dispatcher.
public enum IncidentStatus: String, Sendable, Codable, CaseIterable {
    case reported, accepted
    case inProgress = "in_progress"
    case resolved, closed, escalated, reopened, returned

    /// Still someone's work: counts as open and can run late.
    public var isOpen: Bool { self != .resolved && self != .closed }
}

extension IncidentStatus: LocalizedConvertible {
    /// The status as the centre says it; `rawValue` stays the code in JSON, CSV and options.
    public var text: Localized {
        switch self {
        case .reported: tr("reported, awaiting acceptance")
        case .accepted: tr("accepted")
        case .inProgress: tr("in progress")
        case .resolved: tr("resolved, awaiting the reporter")
        case .closed: tr("closed")
        case .escalated: tr("escalated")
        case .reopened: tr("reopened")
        case .returned: tr("returned")
        }
    }
}

/// What a unit, a dispatcher or the scheduler does to an incident.
public enum IncidentAction: String, Sendable, Codable, CaseIterable {
    case report
    case accept, start, mediate, resolve, close, reopen, escalate
    /// "Not ours": the unit hands it back to the dispatcher with a reason.
    case `return`
    /// The dispatcher sends a returned (or just reported) incident to another grid or level.
    case reroute
    /// The location or the category was corrected: routed again, status kept.
    case move, recategorize
    /// A boundary redraw moved the incident's place into another grid.
    case regrid
}

/// An action that the incident's status does not allow (HTTP 409).
public struct IllegalTransition: Sendable, Equatable, CustomStringConvertible, LocalizedConvertible {
    public let action: IncidentAction
    public let status: IncidentStatus
    public init(action: IncidentAction, status: IncidentStatus) {
        self.action = action
        self.status = status
    }
    public var text: Localized {
        let allowed = IncidentStatus.allCases.filter { IncidentTransitions.target(of: action, from: $0) != nil }
        return allowed.isEmpty ? tr("cannot \(action.rawValue) an incident that is \(status.rawValue)")
            : tr("cannot \(action.rawValue) an incident that is \(status.rawValue) (only when \(allowed.map(\.rawValue).joined(separator: ", ")))")
    }

    public var description: String { text.description }
}

/// The lifecycle: which action is allowed from which status, and where it leads.
public enum IncidentTransitions {
    /// The status after `action`, or nil when it is not allowed. `mediate`
    /// stays `in_progress` here; a settled or exhausted mediation is turned
    /// into `resolve` or `escalate` by the ladder.
    public static func target(of action: IncidentAction, from status: IncidentStatus) -> IncidentStatus? {
        switch (action, status) {
        case (.report, _): nil
        case (.accept, .reported), (.accept, .escalated), (.accept, .reopened): .accepted
        case (.start, .accepted): .inProgress
        case (.mediate, .accepted), (.mediate, .inProgress): .inProgress
        case (.resolve, .accepted), (.resolve, .inProgress): .resolved
        case (.close, .resolved): .closed
        case (.reopen, .resolved), (.reopen, .closed): .reopened
        case (.escalate, .reported), (.escalate, .accepted), (.escalate, .inProgress),
             (.escalate, .reopened), (.escalate, .escalated): .escalated
        case (.return, .reported), (.return, .accepted), (.return, .escalated), (.return, .reopened): .returned
        case (.reroute, .returned), (.reroute, .reported): .reported
        case (.move, _), (.recategorize, _), (.regrid, _): status.isOpen ? status : nil
        default: nil
        }
    }

    public static func transition(_ action: IncidentAction, from status: IncidentStatus) throws -> IncidentStatus {
        guard let next = target(of: action, from: status) else { throw WanggeError.illegal(IllegalTransition(action: action, status: status)) }
        return next
    }

    /// The level above, or nil at the county (nothing above it).
    public static func levelAbove(_ level: HandlingLevel) -> HandlingLevel? {
        let all = HandlingLevel.allCases
        let index = all.firstIndex(of: level)!
        return index + 1 < all.count ? all[index + 1] : nil
    }
}

/// The "2+1+N" mediation ladder: failed attempts a level makes before the
/// dispatch moves up (village twice, then the area or town once, then the
/// town's mediation committee or the county as often as it takes).
public struct MediationLadder: Sendable, Equatable {
    /// Attempts per level; a level without an entry mediates without limit.
    public var attempts: [HandlingLevel: Int]

    public init(attempts: [HandlingLevel: Int] = [.grid: 1, .village: 2, .town: 1]) {
        self.attempts = attempts
    }

    /// What a failed attempt (the `attempt`-th at `level`) leads to.
    public func afterFailure(attempt: Int, at level: HandlingLevel) -> HandlingLevel? {
        guard let limit = attempts[level], attempt >= limit else { return nil }
        return IncidentTransitions.levelAbove(level)
    }
}

/// The grids a change may send an incident to, read by the caller before the
/// lifecycle runs (the lifecycle itself reads nothing).
public struct IncidentGrids {
    /// The generation the grids belong to (the active one).
    public var generation: Int64
    /// A grid of `generation` by code, with its village and town; nil when there is none.
    public var grid: (String) -> GridInfo?
    /// `move`: where the corrected place was located (`assignment` indexes `codes`).
    public var located: (codes: [String], assignment: PointAssignment)?
    /// `regrid`: the grid of `generation` the incident's place lies in now.
    public var regridInto: String?

    public init(generation: Int64, grid: @escaping (String) -> GridInfo?,
                located: (codes: [String], assignment: PointAssignment)? = nil, regridInto: String? = nil) {
        self.generation = generation
        self.grid = grid
        self.located = located
        self.regridInto = regridInto
    }
}

/// What one change did: the incident as it is now, the entries it adds to the
/// history, and the units to tell. The caller stores all of it, or none.
public struct IncidentOutcome: Sendable, Equatable {
    public var record: IncidentRecord
    /// Oldest first; their `seq` is 0 until stored.
    public var events: [IncidentEvent]
    public var notifications: [Notice]

    /// A unit to tell about the incident, on account of `events[event]`.
    public struct Notice: Sendable, Equatable {
        public var event: Int
        public var level: HandlingLevel
        public var unit: String
        public var reason: LifecycleReason
    }
}

/// The lifecycle's side effects as one pure function: the transition, the
/// 2+1+N ladder, deadlines, routing to another grid or level, the history
/// and the notifications. No database: `IncidentGrids` brings what it needs.
public enum IncidentLifecycle {
    /// Applies `change` to `record` at `now`. `time` writes a time as the
    /// record and its history hold it (the store's form). The version is
    /// neither checked nor bumped here: that is the store's write.
    public static func apply(_ change: IncidentChange, to record: IncidentRecord, rules: DispatchRules, now: Date,
                             grids: IncidentGrids, time: @escaping (Date) -> String) throws -> IncidentOutcome {
        var step = LifecycleStep(record: record, change: change, rules: rules, now: now, grids: grids, time: time)
        try step.perform()
        return IncidentOutcome(record: step.record, events: step.events, notifications: step.notifications)
    }
}

/// One change being worked out: the record as it becomes, and what it adds.
private struct LifecycleStep {
    var record: IncidentRecord
    let change: IncidentChange
    let rules: DispatchRules
    let now: Date
    let grids: IncidentGrids
    let time: (Date) -> String
    var events: [IncidentEvent] = []
    var notifications: [IncidentOutcome.Notice] = []

    private func requireNote(_ what: String) throws -> String {
        guard let note = change.note?.trimmingCharacters(in: .whitespacesAndNewlines), !note.isEmpty else {
            throw WanggeError.invalid(tr("\(change.action.rawValue): a note is required (\(what))"))
        }
        return note
    }

    private var currentLevel: HandlingLevel { record.level ?? rules.level(for: record.severity) }

    private func grid(_ code: String?) -> GridInfo? { code.flatMap(grids.grid) }

    /// Hands the incident to a grid (and its village and town) at a level.
    private mutating func route(to grid: GridInfo?, level: HandlingLevel) {
        if let grid {
            record.grid = grid.code
            record.village = grid.villageCode
            record.town = grid.townCode
        }
        record.level = level
        let department = record.department ?? rules.department(for: record.category ?? "")
        record.department = department
        if let grid {
            record.unit = Dispatcher.unit(at: level, grid: grid, department: department)
        } else if level == .county {
            record.unit = department
        }
    }

    /// Adds an entry to the history (where the incident stands now); returns its index in `events`.
    private mutating func recordEvent(_ action: IncidentAction, from: IncidentStatus, to: IncidentStatus, level: HandlingLevel?,
                                      note: String?, detail: [String: String]?, reason: LifecycleReason? = nil) -> Int {
        events.append(IncidentEvent(seq: 0, at: time(now), actor: change.actor, action: action, fromStatus: from, toStatus: to,
                                    level: level, unit: record.unit, grid: record.grid, note: note, detail: detail, reason: reason))
        return events.count - 1
    }

    mutating func perform() throws {
        let action = change.action
        let from = record.status
        var to: IncidentStatus
        to = try IncidentTransitions.transition(action, from: from)
        var detail: [String: String] = [:]
        var notifyReason: LifecycleReason?
        var note = change.note
        switch action {
        case .report:
            break
        case .accept, .start:
            break
        case .resolve:
            note = try requireNote("how it was settled")
        case .close:
            guard let satisfaction = change.satisfaction, (1...5).contains(satisfaction) else {
                throw WanggeError.invalid(tr("close: the reporter's satisfaction (1–5) is required"))
            }
            record.satisfaction = satisfaction
            record.closedAt = time(now)
            detail["satisfaction"] = String(satisfaction)
        case .reopen:
            note = try requireNote("why the reporter is not satisfied")
            record.reopenings += 1
            record.closedAt = nil
            record.satisfaction = nil
            record.attempts = 0
            record.deadline = time(rules.deadline(from: now, at: currentLevel))
            notifyReason = .reopened
        case .mediate:
            guard let settled = change.settled else { throw WanggeError.invalid(tr("mediate: the result (settled or failed) is required")) }
            let attempt = record.attempts + 1
            detail = ["attempt": String(attempt), "result": settled ? "settled" : "failed", "level": currentLevel.rawValue]
            if settled {
                to = .resolved
                record.attempts = attempt
            } else if let above = rules.ladder.afterFailure(attempt: attempt, at: currentLevel) {
                // The ladder is used up at this level: record the attempt, then escalate.
                record.attempts = attempt
                _ = recordEvent(.mediate, from: from, to: .inProgress, level: currentLevel, note: note, detail: detail)
                let limit = rules.ladder.attempts[currentLevel] ?? attempt
                escalate(to: above, from: .inProgress, note: nil, reason: .ladderUsedUp(attempts: limit, level: currentLevel))
                return
            } else {
                record.attempts = attempt
            }
        case .escalate:
            guard let above = IncidentTransitions.levelAbove(currentLevel) else {
                throw WanggeError.illegal(IllegalTransition(action: .escalate, status: from))
            }
            escalate(to: above, from: from, note: note, reason: change.reason)
            return
        case .return:
            note = try requireNote("why it is not this unit's")
            detail["returned_by"] = record.unit ?? "?"
            notifyReason = .returned
        case .reroute:
            note = try requireNote("why it goes elsewhere")
            guard change.grid != nil || change.level != nil else {
                throw WanggeError.invalid(tr("reroute: give the grid and/or the level to send it to"))
            }
            let target = grid(change.grid ?? record.grid)
            if let code = change.grid, target == nil { throw WanggeError.invalid(tr("reroute: no grid \(code) in the active generation")) }
            let level = change.level ?? currentLevel
            detail = ["from_grid": record.grid ?? "", "to_grid": target?.code ?? record.grid ?? "",
                      "from_unit": record.unit ?? "", "from_level": currentLevel.rawValue]
            route(to: target, level: level)
            record.attempts = 0
            record.deadline = time(rules.deadline(from: now, at: level))
            notifyReason = .rerouted
        case .move:
            guard let located = grids.located, let position = change.position else { throw WanggeError.invalid(tr("move: the new place is missing")) }
            let a = located.assignment
            guard a.grid >= 0, let target = grid(located.codes[Int(a.grid)]) else {
                throw WanggeError.outsideEveryGrid(nearestGrid: a.nearestGrid >= 0 ? located.codes[Int(a.nearestGrid)] : nil, distanceMeters: a.distanceMeters).prefixed("move")
            }
            detail = ["from_grid": record.grid ?? "", "to_grid": target.code,
                      "from_place": String(format: "%.6f,%.6f", record.lon, record.lat),
                      "to_place": String(format: "%.6f,%.6f", position.lon, position.lat)]
            if target.code != record.grid { notifyReason = .movedIn }
            route(to: target, level: currentLevel)
            record.lon = position.lon
            record.lat = position.lat
        case .recategorize:
            guard let category = change.category?.trimmingCharacters(in: .whitespaces), !category.isEmpty else {
                throw WanggeError.invalid(tr("recategorize: the new category is missing"))
            }
            do {
                try rules.check(.category, category)
            } catch let error as WanggeError {
                throw error.prefixed("recategorize")
            }
            detail = ["from_category": record.category ?? "", "to_category": category,
                      "from_department": record.department ?? "", "to_department": rules.department(for: category)]
            record.category = category
            record.department = rules.department(for: category)
            route(to: grid(record.grid), level: currentLevel)
            if detail["from_department"] != detail["to_department"], currentLevel == .county { notifyReason = .recategorized }
        case .regrid:
            guard let target = grid(grids.regridInto) else {
                throw WanggeError.invalid(tr("regrid: \(record.id) is in no grid of generation \(grids.generation)"))
            }
            detail = ["from_grid": record.grid ?? "", "to_grid": target.code, "generation": String(grids.generation)]
            route(to: target, level: currentLevel)
            notifyReason = .boundaryRedraw
        }
        record.status = to
        let event = recordEvent(action, from: from, to: to, level: record.level, note: note, detail: detail.isEmpty ? nil : detail,
                                reason: change.reason)
        if let notifyReason, let level = record.level, let unit = record.unit {
            // A returned incident goes back to the dispatcher: the county centre is told, not the unit that returned it.
            let (level, unit) = action == .return ? (HandlingLevel.county, rules.defaultDepartment) : (level, unit)
            notifications.append(.init(event: event, level: level, unit: unit, reason: notifyReason))
        }
    }

    private mutating func escalate(to level: HandlingLevel, from: IncidentStatus, note: String?, reason: LifecycleReason?) {
        let fromUnit = record.unit ?? ""
        route(to: grid(record.grid), level: level)
        record.status = .escalated
        record.attempts = 0
        record.escalations += 1
        record.deadline = time(rules.deadline(from: now, at: level))
        let event = recordEvent(.escalate, from: from, to: .escalated, level: level, note: note,
                                detail: ["from_unit": fromUnit, "deadline": record.deadline ?? ""], reason: reason)
        notifications.append(.init(event: event, level: level, unit: record.unit ?? fromUnit, reason: .escalated(fromUnit: fromUnit)))
    }
}
