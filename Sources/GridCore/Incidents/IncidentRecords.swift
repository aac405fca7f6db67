import Foundation
import GeoKit
import Localization

/// Who acts in an incident's history when no person does. An event is the
/// system's only when its actor is one of these names *and* its reason is
/// one this actor gives: no person's action carries a reason, so a person
/// who calls themselves "scheduler" (`--by scheduler`, a token's name) is
/// still shown, and masked, as a person.
public enum SystemActor: String, Sendable, CaseIterable {
    /// The deadline check: the server's periodic job, or `wangge incident escalate-overdue`.
    case scheduler
    /// The loading of incidents from a file.
    case importer = "import"

    /// Whether this actor gives `reason`.
    public func gives(_ reason: LifecycleReason) -> Bool {
        switch (self, reason) {
        case (.scheduler, .overdue), (.importer, .imported): true
        default: false
        }
    }
}

/// One entry of an incident's history.
public struct IncidentEvent: Sendable, Encodable, Equatable {
    /// Its place in the history; 0 for an event the lifecycle returns and the store has not written yet.
    public var seq: Int64
    public var at: String
    public var actor: String
    public var action: IncidentAction
    public var fromStatus: IncidentStatus?
    public var toStatus: IncidentStatus
    public var level: HandlingLevel?
    public var unit: String?
    public var grid: String?
    /// A person's words, as written.
    public var note: String?
    /// Particulars of the action (attempt and result, old and new grid, satisfaction…).
    public var detail: [String: String]?
    /// Why the system itself acted (an escalation by the ladder or the deadline, an import, a boundary redraw); nil for a person's action.
    public var reason: LifecycleReason?

    /// The system, when it and not a person acted (see `SystemActor`).
    public var systemActor: SystemActor? {
        guard let reason, let system = SystemActor(rawValue: actor), system.gives(reason) else { return nil }
        return system
    }

    /// The actor as the reader reads it: the system's part worded, a person's name as stored (or as masked).
    public var actorText: Localized { systemActor?.text ?? .verbatim(actor) }

    public init(seq: Int64, at: String, actor: String, action: IncidentAction, fromStatus: IncidentStatus?, toStatus: IncidentStatus,
                level: HandlingLevel?, unit: String?, grid: String?, note: String?, detail: [String: String]?, reason: LifecycleReason? = nil) {
        self.seq = seq
        self.at = at
        self.actor = actor
        self.action = action
        self.fromStatus = fromStatus
        self.toStatus = toStatus
        self.level = level
        self.unit = unit
        self.grid = grid
        self.note = note
        self.detail = detail
        self.reason = reason
    }

    private enum CodingKeys: String, CodingKey {
        case seq, at, actor, actorText, action, fromStatus, toStatus, level, unit, grid, note, detail, detailText, reason, reasonText
    }

    /// In the API the reason is its code, its fields join the detail, and `reason_text` and `detail_text` word them in the reader's language.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(at, forKey: .at)
        try container.encode(actor, forKey: .actor)
        try container.encode(actorText, forKey: .actorText)
        try container.encode(action, forKey: .action)
        try container.encodeIfPresent(fromStatus, forKey: .fromStatus)
        try container.encode(toStatus, forKey: .toStatus)
        try container.encodeIfPresent(level, forKey: .level)
        try container.encodeIfPresent(unit, forKey: .unit)
        try container.encodeIfPresent(grid, forKey: .grid)
        try container.encodeIfPresent(note, forKey: .note)
        let fields = (detail ?? [:]).merging(reason?.fields ?? [:]) { own, _ in own }
        try container.encodeIfPresent(fields.isEmpty ? nil : fields, forKey: .detail)
        try container.encodeIfPresent(particulars, forKey: .detailText)
        try container.encodeIfPresent(reason?.code, forKey: .reason)
        try container.encodeIfPresent(reason?.text, forKey: .reasonText)
    }
}

/// A message for a unit that an incident now waits on.
public struct IncidentNotification: Sendable, Encodable, Equatable {
    public var id: Int64
    public var incidentID: String
    public var at: String
    public var level: HandlingLevel
    public var unit: String
    public var reason: LifecycleReason

    public init(id: Int64, incidentID: String, at: String, level: HandlingLevel, unit: String, reason: LifecycleReason) {
        self.id = id
        self.incidentID = incidentID
        self.at = at
        self.level = level
        self.unit = unit
        self.reason = reason
    }

    private enum CodingKeys: String, CodingKey {
        case id, incidentID, at, level, unit, reason, detail, reasonText
    }

    /// In the API the reason is its code, with its fields as `detail` and `reason_text` wording it in the reader's language.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(incidentID, forKey: .incidentID)
        try container.encode(at, forKey: .at)
        try container.encode(level, forKey: .level)
        try container.encode(unit, forKey: .unit)
        try container.encode(reason.code, forKey: .reason)
        try container.encodeIfPresent(reason.fields.isEmpty ? nil : reason.fields, forKey: .detail)
        try container.encode(reason.text, forKey: .reasonText)
    }
}

/// An incident as the API and the CLI show it. Times are text in the store's form.
public struct IncidentRecord: Sendable, Encodable, Equatable {
    public var id: String
    public var category: String?
    public var channel: String?
    public var severity: String?
    public var status: IncidentStatus
    public var reportedAt: String?
    public var description: String?
    public var reporter: String?
    public var satisfaction: Int?
    public var lon: Double
    public var lat: Double
    public var grid: String?
    public var village: String?
    public var town: String?
    public var level: HandlingLevel?
    public var unit: String?
    public var department: String?
    public var deadline: String?
    public var overdue: Bool
    public var version: Int
    public var attempts: Int
    public var escalations: Int
    public var reopenings: Int
    public var closedAt: String?
    public var duplicateOf: String?
    /// When it happened, as the reporter says (`reportedAt` is when it was received).
    public var occurredAt: String?
    /// The ticket number of the channel it came by (the 12345 hotline's, say).
    public var externalID: String?
    public var history: [IncidentEvent]?
    public var notifications: [IncidentNotification]?
    /// What the reader may do to it now (its status and their role allow), when one incident is shown to a caller.
    public var allowedActions: [IncidentAction]?

    public init(id: String, category: String?, channel: String?, severity: String?, status: IncidentStatus, reportedAt: String?,
                description: String?, reporter: String?, satisfaction: Int?, lon: Double, lat: Double,
                grid: String?, village: String?, town: String?, level: HandlingLevel?, unit: String?, department: String?,
                deadline: String?, overdue: Bool, version: Int, attempts: Int, escalations: Int, reopenings: Int,
                closedAt: String?, duplicateOf: String?, occurredAt: String? = nil, externalID: String? = nil,
                history: [IncidentEvent]? = nil, notifications: [IncidentNotification]? = nil) {
        self.id = id
        self.category = category
        self.channel = channel
        self.severity = severity
        self.status = status
        self.reportedAt = reportedAt
        self.description = description
        self.reporter = reporter
        self.satisfaction = satisfaction
        self.lon = lon
        self.lat = lat
        self.grid = grid
        self.village = village
        self.town = town
        self.level = level
        self.unit = unit
        self.department = department
        self.deadline = deadline
        self.overdue = overdue
        self.version = version
        self.attempts = attempts
        self.escalations = escalations
        self.reopenings = reopenings
        self.closedAt = closedAt
        self.duplicateOf = duplicateOf
        self.occurredAt = occurredAt
        self.externalID = externalID
        self.history = history
        self.notifications = notifications
    }
}

/// A change asked of an incident. Only the fields its action needs are read.
public struct IncidentChange: Sendable {
    public var action: IncidentAction
    public var actor: String
    public var note: String?
    /// The version the caller saw; nil takes whatever is current.
    public var expectedVersion: Int?
    /// `close`: the reporter's satisfaction, 1–5.
    public var satisfaction: Int?
    /// `mediate`: whether this attempt settled the matter.
    public var settled: Bool?
    /// `move`: the corrected place, in WGS84 and as given.
    public var position: LonLat?
    public var source: (x: Double, y: Double, crs: CoordinateSystem)?
    /// `recategorize`: the corrected category.
    public var category: String?
    /// `reroute`: the grid and/or level to send it to.
    public var grid: String?
    public var level: HandlingLevel?
    /// A change the system makes rather than a person (an escalation when the deadline passed, a regrid): why.
    public var reason: LifecycleReason?

    public init(_ action: IncidentAction, actor: String, note: String? = nil, expectedVersion: Int? = nil) {
        self.action = action
        self.actor = actor
        self.note = note
        self.expectedVersion = expectedVersion
    }
}
