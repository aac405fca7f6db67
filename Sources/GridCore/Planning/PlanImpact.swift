/// A stored point as the impact preview counts it.
public struct ImpactPoint: Sendable {
    public var layer: PointLayer
    public var position: LonLat
    /// Residents of a household (0 for other layers).
    public var members: Int
    /// Whether an incident is still open (false for other layers).
    public var isOpen: Bool

    public init(layer: PointLayer, position: LonLat, members: Int = 0, isOpen: Bool = false) {
        self.layer = layer
        self.position = position
        self.members = members
        self.isOpen = isOpen
    }
}

/// How a grid of the draft differs from the active generation.
public enum GridChangeKind: String, Sendable, Encodable {
    /// A code the active generation does not have.
    case added
    /// A code the draft no longer has.
    case removed
    /// The same code with another shape.
    case reshaped
    /// The same code and shape, another worker, name or village.
    case edited
    /// The same code, shape and worker, but points on its edge change grid.
    case neighbour
}

/// Households, residents, cameras and open incidents: what moves and what a grid holds.
public struct ImpactCounts: Sendable, Equatable, Encodable {
    public var households = 0
    public var residents = 0
    public var cameras = 0
    public var openIncidents = 0

    public init() {}

    mutating func add(_ point: ImpactPoint) {
        switch point.layer {
        case .households:
            households += 1
            residents += point.members
        case .cameras: cameras += 1
        case .incidents: if point.isOpen { openIncidents += 1 }
        }
    }

    public var isEmpty: Bool { households == 0 && residents == 0 && cameras == 0 && openIncidents == 0 }
}

/// What activating a draft would change: which points move between grids,
/// what each changed grid holds before and after, and each grid worker's load.
public struct PlanImpact: Sendable, Encodable {
    public struct Move: Sendable, Encodable {
        /// nil: unassigned.
        public var from: String?
        public var to: String?
        public var counts: ImpactCounts
    }

    public struct ChangedGrid: Sendable, Encodable {
        public var code: String
        public var name: String
        public var change: GridChangeKind
        public var worker: String?
        public var before: ImpactCounts
        public var after: ImpactCounts
    }

    public struct WorkerLoad: Sendable, Encodable {
        /// nil: a grid with no worker yet.
        public var worker: String?
        public var phone: String?
        public var gridsBefore: [String]
        public var gridsAfter: [String]
        public var householdsBefore: Int
        public var householdsAfter: Int
    }

    public var moves: [Move]
    public var grids: [ChangedGrid]
    /// Workers whose grids or households change.
    public var workers: [WorkerLoad]
    /// Per grid of the draft, what it would hold (for the map).
    public var after: [String: ImpactCounts]

    /// Compares two assignments of the same points: `before[i]` and `after[i]`
    /// are the grid codes point i has in the active generation and in the draft.
    public init(points: [ImpactPoint], before: [String?], after: [String?], gridsBefore: [GridInfo], gridsAfter: [GridInfo],
                changes: [String: GridChangeKind]) {
        precondition(points.count == before.count && points.count == after.count)
        var moves: [String: Move] = [:]
        var countsBefore: [String: ImpactCounts] = [:]
        var countsAfter: [String: ImpactCounts] = [:]
        for (i, point) in points.enumerated() {
            if let code = before[i] { countsBefore[code, default: ImpactCounts()].add(point) }
            if let code = after[i] { countsAfter[code, default: ImpactCounts()].add(point) }
            guard before[i] != after[i] else { continue }
            let key = "\(before[i] ?? "")→\(after[i] ?? "")"
            moves[key, default: Move(from: before[i], to: after[i], counts: ImpactCounts())].counts.add(point)
        }
        self.moves = moves.values.filter { !$0.counts.isEmpty }.sorted { ($0.from ?? "", $0.to ?? "") < ($1.from ?? "", $1.to ?? "") }
        for info in gridsAfter where countsAfter[info.code] == nil { countsAfter[info.code] = ImpactCounts() }
        self.after = countsAfter
        let infoBefore = Dictionary(gridsBefore.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        let infoAfter = Dictionary(gridsAfter.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        // Grids whose contents change count as changed too (a neighbour that gained a household on its edge).
        var changed = changes
        for move in self.moves {
            for code in [move.from, move.to].compactMap({ $0 }) where changed[code] == nil { changed[code] = .neighbour }
        }
        grids = changed.keys.sorted().map { code in
            let info = infoAfter[code] ?? infoBefore[code]
            return ChangedGrid(code: code, name: info?.name ?? code, change: changed[code]!, worker: info?.workerName,
                               before: countsBefore[code] ?? ImpactCounts(), after: countsAfter[code] ?? ImpactCounts())
        }
        // Workers by name and phone; grids without a worker each stand alone.
        struct Key: Hashable { let name: String?, phone: String?, vacantGrid: String? }
        func key(_ info: GridInfo) -> Key {
            info.workerName == nil && info.workerPhone == nil ? Key(name: nil, phone: nil, vacantGrid: info.code)
                : Key(name: info.workerName, phone: info.workerPhone, vacantGrid: nil)
        }
        var loads: [Key: WorkerLoad] = [:]
        for info in gridsBefore {
            let k = key(info)
            loads[k, default: WorkerLoad(worker: k.name, phone: k.phone, gridsBefore: [], gridsAfter: [], householdsBefore: 0, householdsAfter: 0)]
                .gridsBefore.append(info.code)
            loads[k]!.householdsBefore += countsBefore[info.code]?.households ?? 0
        }
        for info in gridsAfter {
            let k = key(info)
            loads[k, default: WorkerLoad(worker: k.name, phone: k.phone, gridsBefore: [], gridsAfter: [], householdsBefore: 0, householdsAfter: 0)]
                .gridsAfter.append(info.code)
            loads[k]!.householdsAfter += countsAfter[info.code]?.households ?? 0
        }
        workers = loads.values
            .filter { $0.householdsBefore != $0.householdsAfter || $0.gridsBefore != $0.gridsAfter }
            .sorted { ($0.worker ?? "~", $0.gridsAfter.first ?? $0.gridsBefore.first ?? "") < ($1.worker ?? "~", $1.gridsAfter.first ?? $1.gridsBefore.first ?? "") }
    }
}
