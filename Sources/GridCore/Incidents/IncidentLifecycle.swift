import Foundation

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
public struct IllegalTransition: Error, Sendable, Equatable, CustomStringConvertible {
    public let action: IncidentAction
    public let status: IncidentStatus
    public init(action: IncidentAction, status: IncidentStatus) {
        self.action = action
        self.status = status
    }
    public var description: String {
        let allowed = IncidentStatus.allCases.filter { IncidentTransitions.target(of: action, from: $0) != nil }
        return "cannot \(action.rawValue) an incident that is \(status.rawValue)"
            + (allowed.isEmpty ? "" : " (only when \(allowed.map(\.rawValue).joined(separator: ", ")))")
    }
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
        guard let next = target(of: action, from: status) else { throw IllegalTransition(action: action, status: status) }
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
