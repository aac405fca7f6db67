import Foundation
import Localization

// How an incident's levels and an event's particulars read, in the reader's
// language: the stored values stay codes (see LifecycleReason for the reasons).

extension HandlingLevel: LocalizedConvertible {
    /// The level as the reader reads it (the county's is 县级: "county" alone would read as 全县).
    public var text: Localized {
        switch self {
        case .grid: tr("grid")
        case .village: tr("village")
        case .town: tr("town")
        case .county: tr("county level")
        }
    }
}

extension SystemActor: LocalizedConvertible {
    public var text: Localized {
        switch self {
        case .scheduler: tr("system (deadline check)")
        case .importer: tr("system (import)")
        }
    }
}

extension IncidentEvent {
    /// The event's particulars in the reader's language ("village attempt 2: not
    /// settled", "grid A → B", times to the minute): the known fields in a fixed
    /// order, any other as key=value; nil without any.
    public var particulars: Localized? {
        guard var left = detail, !left.isEmpty else { return nil }
        func take(_ key: String) -> String? { left.removeValue(forKey: key).flatMap { $0.isEmpty ? nil : $0 } }
        func level(_ raw: String) -> Localized { HandlingLevel(rawValue: raw)?.text ?? .verbatim(raw) }
        var parts: [Localized] = []
        func change(_ from: String, _ to: String, _ words: (String, String) -> Localized) {
            let (before, after) = (take(from), take(to))
            if before != nil || after != nil { parts.append(words(before ?? "-", after ?? "-")) }
        }
        if let attempt = take("attempt") {
            let result: Localized = switch take("result") {
            case "settled"?: tr("settled")
            case "failed"?: tr("not settled")
            case let other: .verbatim(other ?? "-")
            }
            parts.append(tr("attempt \(attempt) at \(level(take("level") ?? "-")) level: \(result)"))
        }
        if let satisfaction = take("satisfaction") { parts.append(tr("satisfaction \(satisfaction)/5")) }
        if let unit = take("returned_by") { parts.append(tr("returned by \(unit)")) }
        if let unit = take("from_unit") {
            parts.append(take("from_level").map { tr("previously with \(unit) (\(level($0)) level)") } ?? tr("previously with \(unit)"))
        }
        change("from_grid", "to_grid") { tr("grid \($0) → \($1)") }
        change("from_place", "to_place") { tr("place \($0) → \($1)") }
        change("from_category", "to_category") { tr("category \($0) → \($1)") }
        change("from_department", "to_department") { tr("department \($0) → \($1)") }
        if let generation = take("generation") { parts.append(tr("generation \(generation)")) }
        if let deadline = take("deadline") { parts.append(tr("deadline \(TimePolicy.standard.minute(iso8601: deadline))")) }
        if let channel = take("channel") { parts.append(tr("via \(channel)")) }
        if let method = take("method") { parts.append(AssignmentMethod(rawValue: method)?.text ?? .verbatim(method)) }
        if let grid = take("confirm_with_grid") { parts.append(tr("confirm with grid \(grid)")) }
        if let earlier = take("duplicate_of") { parts.append(tr("likely of \(earlier)")) }
        if let ticket = take("external_id") { parts.append(tr("ticket \(ticket)")) }
        parts += left.sorted { $0.key < $1.key }.map { .verbatim("\($0.key)=\($0.value)") }
        return parts.isEmpty ? nil : .list(parts)
    }
}
