import GeoKit
import Localization

/// How much overlap and gap a plan tolerates (m²). Pieces at or below these
/// are reported as slivers (warnings); larger ones are errors.
public struct PlanThresholds: Sendable, Equatable {
    public var maxOverlapSquareMetres: Double
    public var maxGapSquareMetres: Double
    /// Pieces smaller than this are floating-point noise from noding, not slivers.
    public static let noiseSquareMetres = 0.01

    public init(maxOverlapSquareMetres: Double = 1, maxGapSquareMetres: Double = 1) {
        self.maxOverlapSquareMetres = maxOverlapSquareMetres
        self.maxGapSquareMetres = maxGapSquareMetres
    }
}

/// One thing wrong with a plan, with where (a point inside the piece, lon/lat)
/// and how big (m², `LocalArea`: what GEOS sees, in metres).
public struct PlanProblem: Sendable, Equatable, Encodable, CustomStringConvertible, LocalizedConvertible {
    public enum Severity: String, Sendable, Encodable { case error, warning }
    public enum Kind: String, Sendable, Encodable {
        case invalid, empty, code, hierarchy, overlap, gap
        case outsideCounty = "outside_county", outsideVillage = "outside_village", outsideTown = "outside_town"
        case sliver, parts
    }

    public var severity: Severity
    public var kind: Kind
    public var grids: [String]
    public var message: Localized
    public var location: LonLat?
    public var areaSquareMetres: Double?

    public init(_ severity: Severity, _ kind: Kind, grids: [String], _ message: Localized, location: LonLat? = nil, area: Double? = nil) {
        self.severity = severity
        self.kind = kind
        self.grids = grids
        self.message = message
        self.location = location
        areaSquareMetres = area
    }

    /// The problem as one line: severity, what, how large and where.
    public var text: Localized {
        let area = Localized.verbatim(areaSquareMetres.map(Self.areaText) ?? "")
        let place = location.map { tr(" at lon \(Self.degrees($0.lon)), lat \(Self.degrees($0.lat))") } ?? .verbatim("")
        return severity == .error ? tr("error: \(message)\(area)\(place)") : tr("warning: \(message)\(area)\(place)")
    }

    public var description: String { text.description }

    static func areaText(_ m2: Double) -> String {
        m2 >= 100 ? " (\(Int(m2.rounded())) m²)" : " (\((m2 * 100).rounded() / 100) m²)"
    }

    static func degrees(_ value: Double) -> String {
        let scaled = (value * 1e7).rounded() / 1e7
        return "\(scaled)"
    }

    enum CodingKeys: String, CodingKey { case severity, kind, grids, message, lon, lat, areaSquareMetres = "area_m2" }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(severity, forKey: .severity)
        try c.encode(kind, forKey: .kind)
        try c.encode(grids, forKey: .grids)
        try c.encode(message, forKey: .message)
        try c.encode(location?.lon, forKey: .lon)
        try c.encode(location?.lat, forKey: .lat)
        try c.encode(areaSquareMetres, forKey: .areaSquareMetres)
    }
}

/// Checks that a plan's grids are a clean coverage of the county: each grid
/// valid and non-empty, codes unique and in their village's scheme, no
/// overlaps and no gaps above the thresholds, every grid inside the county,
/// its village and its town. Owns its GEOS context: one thread.
public final class PlanValidator {
    public let thresholds: PlanThresholds
    let geos: GEOSContext

    public init(thresholds: PlanThresholds) throws {
        self.thresholds = thresholds
        geos = try GEOSContext()
    }

    /// Every problem of the plan; with `focus`, only those that involve the
    /// given grids or lie in `region` (what an edit could have caused).
    public func problems(in plan: BoundaryPlan, focus: (grids: Set<String>, region: [UInt8])? = nil) throws -> [PlanProblem] {
        var problems: [PlanProblem] = []
        let grids = plan.grids
        let geometries = try grids.map { try Geometry(wkb: $0.wkb, context: geos) }
        let county = try Geometry(wkb: plan.county, context: geos)
        let preparedCounty = try PreparedGeometry(county)
        func inFocus(_ code: String) -> Bool { focus?.grids.contains(code) ?? true }

        // Codes and the hierarchy.
        for (a, b) in zip(grids, grids.dropFirst()) where a.info.code == b.info.code && inFocus(a.info.code) {
            problems.append(PlanProblem(.error, .code, grids: [a.info.code], tr("grid code \(a.info.code) is used twice")))
        }
        for grid in grids where inFocus(grid.info.code) {
            let info = grid.info
            let parents = GridCodes.parents(of: info.code)
            if GridCodes.isSchemeVillage(info.villageCode), parents.village != info.villageCode {
                problems.append(PlanProblem(.error, .code, grids: [info.code], tr("grid \(info.code) is in village \(info.villageCode) but its code is not under it")))
            }
            if GridCodes.isSchemeVillage(info.villageCode), GridCodes.town(ofVillage: info.villageCode) != info.townCode {
                problems.append(PlanProblem(.error, .hierarchy, grids: [info.code], tr("village \(info.villageCode) of grid \(info.code) is not under its town \(info.townCode)")))
            }
            if plan.villages[info.villageCode] == nil {
                problems.append(PlanProblem(.error, .hierarchy, grids: [info.code], tr("grid \(info.code): village \(info.villageCode) has no polygon")))
            } else if plan.villages[info.villageCode]?.townCode != info.townCode {
                problems.append(PlanProblem(.error, .hierarchy, grids: [info.code], tr("grid \(info.code) is in town \(info.townCode), its village \(info.villageCode) in \(plan.villages[info.villageCode]!.townCode)")))
            }
        }

        // Each grid: valid, not empty, one piece, inside the county, its village and its town.
        let villageShapes = try Dictionary(uniqueKeysWithValues: plan.villages.map { ($0.key, try PreparedGeometry(try Geometry(wkb: $0.value.wkb, context: geos))) })
        let townShapes = try Dictionary(uniqueKeysWithValues: plan.towns.map { ($0.key, try PreparedGeometry(try Geometry(wkb: $0.value.wkb, context: geos))) })
        for (grid, geometry) in zip(grids, geometries) where inFocus(grid.info.code) {
            let code = grid.info.code
            let validity = try geometry.validity()
            if !validity.isValid {
                problems.append(PlanProblem(.error, .invalid, grids: [code], tr("grid \(code) is not a valid polygon: \(validity.reason ?? "invalid")"),
                                            location: validity.location.map { LonLat($0.x, $0.y) }))
                continue
            }
            if try geometry.isEmpty || LocalArea.squareMetres(of: geometry) < PlanThresholds.noiseSquareMetres {
                problems.append(PlanProblem(.error, .empty, grids: [code], tr("grid \(code) has no area")))
                continue
            }
            let parts = try geometry.polygons().count
            if parts > 1 {
                problems.append(PlanProblem(.warning, .parts, grids: [code], tr("grid \(code) is in \(parts) separate parts"), location: try point(in: geometry)))
            }
            try outside(geometry, of: preparedCounty, kind: .outsideCounty, tr("grid \(code) extends beyond the county boundary"), grids: [code], threshold: thresholds.maxGapSquareMetres, into: &problems)
            if let village = villageShapes[grid.info.villageCode] {
                try outside(geometry, of: village, kind: .outsideVillage, tr("grid \(code) extends beyond its village \(grid.info.villageCode)"), grids: [code], threshold: thresholds.maxGapSquareMetres, into: &problems)
            }
            if let town = townShapes[grid.info.townCode] {
                try outside(geometry, of: town, kind: .outsideTown, tr("grid \(code) extends beyond its town \(grid.info.townCode)"), grids: [code], threshold: thresholds.maxGapSquareMetres, into: &problems)
            }
        }
        let focusVillages = Set(grids.filter { inFocus($0.info.code) }.map(\.info.villageCode))
        for (code, village) in plan.villages.sorted(by: { $0.key < $1.key }) where focus == nil || focusVillages.contains(code) {
            let shape = try Geometry(wkb: village.wkb, context: geos)
            let parts = try shape.polygons().count
            if parts > 1 {
                let members = grids.filter { $0.info.villageCode == code }.map(\.info.code)
                problems.append(PlanProblem(.warning, .parts, grids: members, tr("village \(code) \(village.name) is in \(parts) separate parts"), location: try point(in: shape)))
            }
        }

        // Overlaps: pairs whose interiors share an area.
        let tree = try STRtree(envelopes: try geometries.map { try $0.envelope }, context: geos)
        for i in geometries.indices {
            for j in tree.query(geometries[i]) where j > i && (inFocus(grids[i].info.code) || inFocus(grids[j].info.code)) {
                guard try geometries[i].relate(geometries[j], pattern: "2********") else { continue }
                let shared = try geometries[i].intersection(geometries[j])
                for piece in try shared.polygons() {
                    let area = try LocalArea.squareMetres(of: piece)
                    guard area >= PlanThresholds.noiseSquareMetres else { continue }
                    let codes = [grids[i].info.code, grids[j].info.code]
                    let large = area > thresholds.maxOverlapSquareMetres
                    problems.append(PlanProblem(large ? .error : .warning, large ? .overlap : .sliver, grids: codes,
                                                tr("grids \(codes[0]) and \(codes[1]) overlap"), location: try point(in: piece), area: area))
                }
            }
        }

        // Gaps: county area no grid covers (within the focus region when given).
        var area = county
        var nearby = geometries.indices.map { $0 }
        if let focus {
            let region = try Geometry(wkb: focus.region, context: geos)
            area = try county.intersection(region)
            nearby = tree.query(region)
        }
        let covered = try Geometry.collection(.geometryCollection, nearby.map { geometries[$0] }, context: geos).unaryUnion()
        for piece in try area.difference(covered).polygons() {
            let size = try LocalArea.squareMetres(of: piece)
            guard size >= PlanThresholds.noiseSquareMetres else { continue }
            let large = size > thresholds.maxGapSquareMetres
            let around = try nearby.filter { try geometries[$0].intersects(piece) }.map { grids[$0].info.code }
            problems.append(PlanProblem(large ? .error : .warning, large ? .gap : .sliver, grids: around,
                                        around.isEmpty ? tr("no grid covers this part of the county") : tr("no grid covers this part of the county (between \(around.joined(separator: ", ")))"),
                                        location: try point(in: piece), area: size))
        }
        return problems.sorted {
            ($0.severity == .error ? 0 : 1, $0.kind.rawValue, $0.grids.joined(separator: ",")) < ($1.severity == .error ? 0 : 1, $1.kind.rawValue, $1.grids.joined(separator: ","))
        }
    }

    /// Reports the part of `geometry` outside `container`: an error above the threshold, a sliver below.
    private func outside(_ geometry: Geometry, of container: PreparedGeometry, kind: PlanProblem.Kind, _ message: Localized, grids: [String],
                         threshold: Double, into problems: inout [PlanProblem]) throws {
        guard try !container.covers(geometry) else { return }
        for piece in try geometry.difference(container.base).polygons() {
            let area = try LocalArea.squareMetres(of: piece)
            guard area >= PlanThresholds.noiseSquareMetres else { continue }
            let large = area > threshold
            problems.append(PlanProblem(large ? .error : .warning, large ? kind : .sliver, grids: grids, message, location: try point(in: piece), area: area))
        }
    }

    private func point(in geometry: Geometry) throws -> LonLat {
        let p = try geometry.pointOnSurface().pointCoordinates
        return LonLat(p.x, p.y)
    }
}

extension Array where Element == PlanProblem {
    public var errors: [PlanProblem] { filter { $0.severity == .error } }
}
