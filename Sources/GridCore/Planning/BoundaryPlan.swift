import GeoKit
import Localization

/// A grid of a generation as a planner edits it: its place in the hierarchy,
/// its worker, and its polygon (MultiPolygon WKB, WGS84 lon/lat).
public struct PlanGrid: Sendable, Equatable {
    public var info: GridInfo
    public var wkb: [UInt8]

    public init(info: GridInfo, wkb: [UInt8]) {
        self.info = info
        self.wkb = wkb
    }
}

/// A village or town of a generation: the union of its grids.
public struct PlanArea: Sendable, Equatable {
    public var code: String
    public var name: String
    /// The town a village belongs to; a town's own code for a town.
    public var townCode: String
    public var wkb: [UInt8]

    public init(code: String, name: String, townCode: String, wkb: [UInt8]) {
        self.code = code
        self.name = name
        self.townCode = townCode
        self.wkb = wkb
    }
}

/// One generation's grids, villages and towns in memory, with the county
/// boundary the grids must tile and every code ever used (new codes avoid them).
public struct BoundaryPlan: Sendable {
    /// Sorted by code.
    public private(set) var grids: [PlanGrid]
    public var villages: [String: PlanArea]
    public var towns: [String: PlanArea]
    /// The county's polygon (MultiPolygon WKB): the grids must cover it exactly.
    public var county: [UInt8]
    public var usedCodes: Set<String>

    public init(grids: [PlanGrid], villages: [PlanArea], towns: [PlanArea], county: [UInt8], usedCodes: Set<String>) {
        self.grids = grids.sorted { $0.info.code < $1.info.code }
        self.villages = Dictionary(villages.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        self.towns = Dictionary(towns.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        self.county = county
        self.usedCodes = usedCodes.union(grids.map(\.info.code))
    }

    public func grid(_ code: String) -> PlanGrid? {
        grids.first { $0.info.code == code }
    }

    /// The plan with the grids of `edit` removed and replaced, and the
    /// villages and towns those grids belong to (before or after) recomputed
    /// as unions of their grids; villages and towns left without grids go.
    public func applying(_ edit: PlanEdit, context: GEOSContext) throws -> BoundaryPlan {
        var result = self
        let replaced = Set(edit.removed).union(edit.changed.map(\.info.code))
        let before = grids.filter { replaced.contains($0.info.code) }
        result.grids = (grids.filter { !replaced.contains($0.info.code) } + edit.changed).sorted { $0.info.code < $1.info.code }
        result.usedCodes.formUnion(edit.changed.map(\.info.code))
        let touchedTowns = Set((before + edit.changed).map(\.info.townCode))
        let members = try result.grids.filter { touchedTowns.contains($0.info.townCode) }
            .map { (info: $0.info, geometry: try Geometry(wkb: $0.wkb, context: context)) }
        let areas = try Hierarchy.areas(of: members, context: context)
        if let problem = areas.problems.first { throw GeoError(problem) }
        for (code, village) in villages where touchedTowns.contains(village.townCode) { result.villages[code] = nil }
        for code in touchedTowns { result.towns[code] = nil }
        for village in areas.villages { result.villages[village.code] = village }
        for town in areas.towns { result.towns[town.code] = town }
        return result
    }
}

/// What one edit does to a draft: grids removed and grids added or reshaped.
public struct PlanEdit: Sendable {
    public var removed: [String]
    /// New or reshaped grids, whole.
    public var changed: [PlanGrid]
    /// The area the edit touched (the grids' shapes before and after, WKB):
    /// the coverage check looks there for gaps it may have opened.
    public var region: [UInt8]
    /// One line for the user, e.g. "split A into B and C".
    public var summary: String
    /// What else the user should know (area taken from neighbours, …).
    public var notes: [String]

    public init(removed: [String], changed: [PlanGrid], region: [UInt8], summary: String, notes: [String] = []) {
        self.removed = removed
        self.changed = changed
        self.region = region
        self.summary = summary
        self.notes = notes
    }
}

/// Villages and towns are the unions of their grids.
public enum Hierarchy {
    /// The villages and towns of `grids`, in code order, with a problem for
    /// each village whose grids name different towns.
    public static func areas(of grids: [(info: GridInfo, geometry: Geometry)], context: GEOSContext) throws
        -> (villages: [PlanArea], towns: [PlanArea], problems: [Localized]) {
        var problems: [Localized] = []
        var villageTown: [String: (town: String, grid: String)] = [:]
        for grid in grids {
            if let first = villageTown[grid.info.villageCode], first.town != grid.info.townCode {
                problems.append(tr("grid \(grid.info.code): village \(grid.info.villageCode) is in town \(first.town) for grid \(first.grid), but in \(grid.info.townCode) here"))
            } else {
                villageTown[grid.info.villageCode] = (grid.info.townCode, grid.info.code)
            }
        }
        func unions(_ key: (GridInfo) -> String, _ name: (GridInfo) -> String, _ town: (GridInfo) -> String) throws -> [PlanArea] {
            let groups = Dictionary(grouping: grids, by: { key($0.info) })
            return try groups.keys.sorted().map { code in
                let members = groups[code]!
                let union = try Geometry.collection(.geometryCollection, members.map(\.geometry), context: context).unaryUnion().asMultiPolygon()
                return PlanArea(code: code, name: name(members[0].info), townCode: town(members[0].info), wkb: try union.wkb())
            }
        }
        return (try unions(\.villageCode, \.villageName, \.townCode), try unions(\.townCode, \.townName, \.townCode), problems)
    }
}
