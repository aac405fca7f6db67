import Foundation
import Localization

/// Why the incident lifecycle itself acted, or told a unit: a code and its
/// fields, stored so and worded in the reader's language only when shown
/// (the CLI, the API's `reason_text`). A person's note is kept apart, as
/// written, so neither is ever taken for the other.
public enum LifecycleReason: Sendable, Equatable {
    /// The 2+1+N ladder used up: `attempts` failed mediations at `level` (an escalation's cause).
    case ladderUsedUp(attempts: Int, level: HandlingLevel)
    /// The deadline (stored form) passed with the incident still open (an escalation's cause).
    case overdue(deadline: String)
    /// Escalated to this unit from `fromUnit`.
    case escalated(fromUnit: String)
    /// Overdue at the county, where nothing is above: the centre is told which unit let `deadline` pass.
    case overdueAtCounty(unit: String, deadline: String)
    /// Reported by an import of `file` (a report's cause).
    case imported(file: String)
    /// What a unit is told (`boundaryRedraw` is also a regrid's cause).
    case reopened, returned, rerouted, movedIn, recategorized, boundaryRedraw
    /// A code this version does not know: a newer version's, in a database they share.
    case unrecognized(code: String)

    /// The stored and API code.
    public var code: String {
        switch self {
        case .ladderUsedUp: "ladder_used_up"
        case .overdue: "overdue"
        case .escalated: "escalated"
        case .overdueAtCounty: "overdue_at_county"
        case .imported: "imported"
        case .reopened: "reopened"
        case .returned: "returned"
        case .rerouted: "rerouted"
        case .movedIn: "moved_in"
        case .recategorized: "recategorized"
        case .boundaryRedraw: "boundary_redraw"
        case .unrecognized(let code): code
        }
    }

    /// Every code, for the API's schema and the tests.
    public static let codes = ["ladder_used_up", "overdue", "escalated", "overdue_at_county", "imported", "reopened", "returned", "rerouted",
                               "moved_in", "recategorized", "boundary_redraw"]

    /// The fields beside the code (times in the form the holder keeps: stored, or displayed; see `mappingTimes`).
    public var fields: [String: String] {
        switch self {
        case .ladderUsedUp(let attempts, let level): ["attempts": String(attempts), "from_level": level.rawValue]
        case .overdue(let deadline): ["missed_deadline": deadline]
        case .escalated(let fromUnit): ["from_unit": fromUnit]
        case .overdueAtCounty(let unit, let deadline): ["overdue_unit": unit, "missed_deadline": deadline]
        case .imported(let file): ["file": file]
        case .reopened, .returned, .rerouted, .movedIn, .recategorized, .boundaryRedraw, .unrecognized: [:]
        }
    }

    /// The reason a code and its fields name (`unrecognized` for a code or fields this version cannot read).
    public init(code: String, fields: [String: String]) {
        self = Self.known(code: code, fields: fields) ?? .unrecognized(code: code)
    }

    private static func known(code: String, fields: [String: String]) -> LifecycleReason? {
        switch code {
        case "ladder_used_up":
            guard let attempts = fields["attempts"].flatMap(Int.init), let level = fields["from_level"].flatMap(HandlingLevel.init) else { return nil }
            return .ladderUsedUp(attempts: attempts, level: level)
        case "overdue":
            return fields["missed_deadline"].map { .overdue(deadline: $0) }
        case "escalated":
            return fields["from_unit"].map { .escalated(fromUnit: $0) }
        case "overdue_at_county":
            guard let unit = fields["overdue_unit"], let deadline = fields["missed_deadline"] else { return nil }
            return .overdueAtCounty(unit: unit, deadline: deadline)
        case "imported":
            return fields["file"].map { .imported(file: $0) }
        case "reopened": return .reopened
        case "returned": return .returned
        case "rerouted": return .rerouted
        case "moved_in": return .movedIn
        case "recategorized": return .recategorized
        case "boundary_redraw": return .boundaryRedraw
        default: return nil
        }
    }

    /// The reason with its times changed (stored form to display form, say).
    public func mappingTimes(_ transform: (String) -> String) -> LifecycleReason {
        switch self {
        case .overdue(let deadline): .overdue(deadline: transform(deadline))
        case .overdueAtCounty(let unit, let deadline): .overdueAtCounty(unit: unit, deadline: transform(deadline))
        default: self
        }
    }
}

extension LifecycleReason: LocalizedConvertible {
    /// In the reader's language, times to the minute in the display zone.
    public var text: Localized {
        let minute = TimePolicy.standard.minute(iso8601:)
        return switch self {
        case .ladderUsedUp(let attempts, let level): tr("2+1+N: \(attempts) failed attempt(s) at \(level) level")
        case .overdue(let deadline): tr("overdue: the deadline \(minute(deadline)) passed")
        case .escalated(let fromUnit): tr("escalated from \(fromUnit)")
        case .overdueAtCounty(let unit, let deadline): tr("overdue at the county (\(unit)): the deadline \(minute(deadline)) passed")
        case .imported(let file): tr("imported from \(file)")
        case .reopened: tr("reopened")
        case .returned: tr("returned")
        case .rerouted: tr("rerouted")
        case .movedIn: tr("moved into this grid")
        case .recategorized: tr("recategorized")
        case .boundaryRedraw: tr("boundary redraw")
        case .unrecognized(let code): .verbatim(code)
        }
    }
}
