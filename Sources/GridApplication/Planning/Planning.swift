import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// One edit of a draft, as a planner asks for it.
public enum PlanEditRequest: Sendable {
    /// Cut a grid in two along a line (WKB in WGS84) crossing it from edge to edge.
    case split(grid: String, line: [UInt8])
    /// Join bordering grids of one village.
    case merge(grids: [String])
    /// Give a grid a new shape (WKB in WGS84), taking area from its neighbours.
    case reshape(grid: String, polygon: [UInt8])
    /// Move a grid to another village.
    case move(grid: String, village: String)
    /// Set a grid's worker.
    case worker(grid: String, name: String?, phone: String?)
}

/// What activating a draft would move, in the form both front ends print.
public struct PlanImpactSummary: Sendable, Encodable {
    public let draft: Int64
    public let against: Int64
    public let moves: [PlanImpact.Move]
    public let grids: [PlanImpact.ChangedGrid]
    public let workers: [PlanImpact.WorkerLoad]

    public init(_ r: PlanImpactReport) {
        draft = r.draft
        against = r.base
        moves = r.impact.moves
        grids = r.impact.grids
        workers = r.impact.workers
    }
}

/// A planning edit's outcome: the summary line and notes of each edit, and warnings.
public struct PlanEditOutcome: Sendable, Encodable {
    public struct Edit: Sendable, Encodable {
        public let summary: String
        public let notes: [String]
        public let removed: [String]
        public let changed: [String]
    }
    public let draft: Int64
    public let edits: [Edit]
    public let warnings: [PlanProblem]

    public init(_ report: PlanEditReport) {
        draft = report.generation
        edits = report.edits.map { Edit(summary: $0.summary, notes: $0.notes, removed: $0.removed, changed: $0.changed.map(\.info.code)) }
        warnings = report.warnings
    }
}

/// An activation's or a rollback's outcome.
public struct ActivationOutcome: Sendable, Encodable {
    public let generation: Int64
    public let name: String
    public let retired: Int64?
    public let assigned: [String: Int]
    public let rerouted: Int
    public let tokensChanged: [Int64]
    public let seconds: Double

    public init(_ report: ActivationReport) {
        generation = report.generation
        name = report.name
        retired = report.retired
        assigned = Dictionary(uniqueKeysWithValues: report.assigned.map { ($0.key.rawValue, $0.value) })
        rerouted = report.rerouted
        tokensChanged = report.tokens.map(\.id)
        seconds = report.seconds
    }
}

/// A suggested split: the new draft, the grids over the limit, and the edits made.
public struct SuggestionOutcome: Sendable, Encodable {
    public struct Overloaded: Sendable, Encodable {
        public let code: String, households: Int
        public init(code: String, households: Int) {
            self.code = code
            self.households = households
        }
    }
    public let draft: Int64
    public let overloaded: [Overloaded]
    public let edits: PlanEditOutcome

    public init(draft: Int64, overloaded: [Overloaded], edits: PlanEditOutcome) {
        self.draft = draft
        self.overloaded = overloaded
        self.edits = edits
    }
}

extension GridService {
    /// Every generation: drafts, the active one and the retired ones.
    public func generations() throws -> [GenerationSummary] {
        try translatingErrors { try store.generations() }
    }

    /// One generation, or not found.
    public func generation(_ id: Int64) throws -> GenerationSummary {
        try translatingErrors { try store.generation(id) }
    }

    /// The draft to work on: `id`, or the only draft there is.
    public func draft(_ id: Int64?) throws -> Int64 {
        try translatingErrors { try store.draft(id, for: tr("edited")) }
    }

    /// `active` or a generation id, checked to exist.
    public func sourceGeneration(_ text: String) throws -> Int64 {
        if text == "active" { return try translatingErrors { try store.activeGeneration() } }
        guard let id = Int64(text) else {
            throw WanggeError.invalid(tr("from: \"\(TextLimits.shown(text))\" is not active or a generation id"), field: "from", value: text)
        }
        // The body names a generation that is not there: the request's content is at fault (422), not its path.
        do { return try generation(id).id } catch let error as WanggeError where error.kind == .notFound {
            throw WanggeError.invalid(tr("from: \(error.text)"), field: "from", value: text)
        }
    }

    /// Starts a draft: a copy of a generation's grids, villages and towns.
    public func createDraft(from source: Int64, name: String) throws -> GenerationSummary {
        let name = name.trimmingCharacters(in: .whitespaces)
        if name.isEmpty { throw WanggeError.invalid(tr("name: a draft needs a name"), field: "name") }
        if let problem = TextLimits.firstProblem([("name", name, TextLimits.name)]) {
            throw WanggeError.invalid(problem, field: "name", value: name)
        }
        return try translatingErrors { try store.generation(try store.createDraft(from: source, name: name)) }
    }

    /// Checks a generation's coverage: validity, overlaps, gaps, hierarchy, codes.
    public func validate(_ generation: Int64) throws -> [PlanProblem] {
        try translatingErrors { try store.validate(generation, thresholds: config.planning) }
    }

    /// One edit of a draft; refused, with nothing changed, when it would break the coverage.
    public func edit(draft: Int64?, _ request: PlanEditRequest) throws -> PlanEditReport {
        try translatingErrors {
            try store.editDraft(draft, thresholds: config.planning) { editor in
                switch request {
                case .split(let grid, let line): [try editor.applied(try editor.split(grid, along: line))]
                case .merge(let grids): [try editor.applied(try editor.merge(grids))]
                case .reshape(let grid, let polygon): [try editor.applied(try editor.reshape(grid, to: polygon))]
                case .move(let grid, let village): [try editor.applied(try editor.move(grid, toVillage: village))]
                case .worker(let grid, let name, let phone): [try editor.applied(try editor.setWorker(grid, name: name, phone: phone))]
                }
            }
        }
    }

    /// What activating a draft would move; nothing is written.
    public func impact(of draft: Int64?) throws -> PlanImpactReport {
        try translatingErrors { try store.impact(of: try store.draft(draft, for: tr("compared")), against: nil) }
    }

    /// Makes a draft the active generation in one transaction.
    public func activate(_ draft: Int64) throws -> ActivationReport {
        let report = try translatingErrors { try store.activate(draft, thresholds: config.planning, dispatch: dispatchRules, at: Date()) }
        try refreshIfNeeded()
        return report
    }

    /// Re-activates the most recently retired generation.
    public func rollback() throws -> ActivationReport {
        let report = try translatingErrors { try store.rollback(dispatch: dispatchRules, at: Date()) }
        try refreshIfNeeded()
        return report
    }

    /// A new draft splitting every grid over `maxHouseholds` into compact parts.
    public func suggest(from source: Int64, maxHouseholds: Int, name: String?) throws
        -> (draft: Int64, report: PlanEditReport, overloaded: [(code: String, households: Int)]) {
        guard maxHouseholds >= 1 else {
            throw WanggeError.invalid(tr("max_households: \(maxHouseholds) is below 1"), field: "max_households", value: String(maxHouseholds))
        }
        if let problem = TextLimits.firstProblem([("name", name, TextLimits.name)]) {
            throw WanggeError.invalid(problem, field: "name", value: name)
        }
        return try translatingErrors {
            try store.suggestDraft(from: source, maxHouseholds: maxHouseholds, name: name ?? "suggested split at \(maxHouseholds) households",
                                   thresholds: config.planning)
        }
    }

    /// The grid a household, camera or incident had in each generation.
    public func history(_ layer: PointLayer, id: String) throws -> [(generation: GenerationSummary, grid: String?, method: AssignmentMethod?)] {
        try translatingErrors { try store.history(layer, id: id) }
    }

    /// Discards a draft.
    public func deleteDraft(_ id: Int64) throws {
        try translatingErrors { try store.deleteDraft(id) }
    }

    /// For a map of a generation: the counts a draft would hold (assigned in
    /// memory), and with `highlightChanged` the grids that differ from the
    /// active generation (for the active one: from the generation it replaced).
    public func generationView(_ generation: Int64?, highlightChanged: Bool) throws -> (statistics: [AreaStatistics]?, changed: Set<String>) {
        try translatingErrors {
            let active = try store.activeGeneration()
            let shown = generation ?? active
            let summary = try store.generation(shown)
            var statistics: [AreaStatistics]?
            var changes: [String: GridChangeKind] = [:]
            if summary.status == .draft {
                let report = try store.impact(of: shown, against: nil)
                statistics = report.impact.statisticsAfter
                changes = report.changes
            } else if highlightChanged {
                let previous = try store.generations().last { $0.status == .retired }?.id
                let base = shown == active ? summary.parent ?? previous : active
                if let base { changes = try store.gridChanges(from: base, to: shown) }
            }
            return (statistics, highlightChanged ? Set(changes.filter { $0.value != .removed }.keys) : [])
        }
    }
}

extension PlanImpact {
    /// What each grid of the draft would hold, as the map's statistics.
    public var statisticsAfter: [AreaStatistics] {
        after.map { code, c in
            AreaStatistics(code: code, name: code, grids: 1, households: c.households, residents: c.residents, cameras: c.cameras,
                           openIncidents: c.openIncidents)
        }
    }
}
