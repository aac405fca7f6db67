import Foundation
import Localization

/// The incident side's errors, each a `WanggeError` with the incident's words.
extension WanggeError {
    public static func incidentNotFound(_ id: String) -> WanggeError {
        .notFound(tr("no incident \(TextLimits.shown(id))"))
    }

    /// An action the incident's status does not allow (HTTP 409).
    public static func illegal(_ transition: IllegalTransition) -> WanggeError {
        WanggeError(.conflict, transition.text, field: "action", value: transition.action.rawValue)
    }

    /// Someone else changed it first: the caller's version is stale.
    public static func staleVersion(id: String, expected: Int, actual: Int) -> WanggeError {
        WanggeError(.conflict, tr("incident \(id) was changed by someone else: you have version \(expected), it is now \(actual); reload and try again"),
                    field: "version", value: String(expected))
    }

    /// A category, channel or severity that is not in the configuration's vocabulary.
    public static func vocabulary(_ field: VocabularyField, value: String, allowed: [String]) -> WanggeError {
        let key = switch field {
        case .category: "categories"
        case .channel: "channels"
        case .severity: "severity_levels"
        }
        return WanggeError(.invalid, tr("\(field.rawValue): \"\(value)\" is not one of \(allowed.joined(separator: ", ")) (dispatch.\(key) in the configuration)"),
                           field: field.rawValue, value: value, allowed: allowed)
    }

    /// A ticket a channel sent before (a hotline resending it): the incident it already is.
    public static func duplicateTicket(_ ticket: String, channel: String, incident: String) -> WanggeError {
        WanggeError(.conflict, tr("external_id: ticket \(TextLimits.shown(ticket)) of channel \(channel) is already incident \(incident)"),
                    field: "external_id", value: ticket)
    }

    /// An occurrence time after the report was received, or in the future.
    public static func occurredAfter(_ occurred: String, _ what: String) -> WanggeError {
        WanggeError(.invalid, tr("occurred_at: \(occurred) is after \(what): an incident is received after it happens"), field: "occurred_at", value: occurred)
    }

    /// A report or a move that cannot be routed: outside every grid, with the nearest one.
    public static func outsideEveryGrid(nearestGrid: String?, distanceMeters: Double?) -> WanggeError {
        guard let nearestGrid, let distanceMeters else { return WanggeError(.refused, tr("the point is outside every grid"), field: "lon") }
        return WanggeError(.refused, tr("the point is outside every grid: the nearest is \(nearestGrid), \(String(format: "%.0f", distanceMeters)) m away"),
                           field: "lon")
    }
}
