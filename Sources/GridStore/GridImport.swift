import Foundation
import GRDB
import GeoKit
import GridCore

/// Which GeoJSON properties hold a grid's code, name, parents and worker.
public struct GridFieldMapping: Sendable, Equatable, Codable {
    public var code = "code"
    public var name = "name"
    public var villageCode = "village_code"
    public var villageName = "village_name"
    public var townCode = "town_code"
    public var townName = "town_name"
    public var workerName = "worker_name"
    public var workerPhone = "worker_phone"

    public init() {}

    enum CodingKeys: String, CodingKey {
        case code, name, villageCode = "village_code", villageName = "village_name", townCode = "town_code"
        case townName = "town_name", workerName = "worker_name", workerPhone = "worker_phone"
    }
}

/// A grid read from a file, validated and in WGS84.
struct GridFeature {
    var info: GridInfo
    var geometry: Geometry
}

/// What an import did, for the user.
public struct ImportReport: Sendable, CustomStringConvertible {
    public var file: String
    public var imported: Int
    public var repaired: [String] = []
    public var methods: [AssignmentMethod: Int] = [:]
    public var nearBoundary = 0
    public var generation: Int64?
    /// Grids import: grid workers' tokens whose grids the redraw changed.
    public var tokens: [TokenScopeChange] = []
    public var seconds = 0.0

    public var description: String {
        var lines: [String] = []
        let methodText = AssignmentMethod.allCases.compactMap { m in methods[m].map { "\(m.rawValue) \($0)" } }.joined(separator: ", ")
        lines.append("\(file): imported \(imported)" + (generation.map { " into generation \($0)" } ?? "")
                     + (methodText.isEmpty ? "" : "; assigned: \(methodText); near a boundary: \(nearBoundary)")
                     + String(format: " (%.1f s)", seconds))
        lines.append(contentsOf: repaired.map { "  repaired: \($0)" })
        return lines.joined(separator: "\n") + TokenScopeChange.report(tokens)
    }
}

/// Collects bad-input messages, so one failed import lists its first problems together.
struct ProblemList {
    let source: String
    private(set) var messages: [String] = []
    private(set) var total = 0
    static let shown = 20

    mutating func add(_ message: String) {
        total += 1
        if messages.count < Self.shown { messages.append(message) }
    }

    func throwIfAny() throws {
        guard total > 0 else { return }
        var text = messages.map { "\(source): \($0)" }.joined(separator: "\n")
        if total > messages.count { text += "\n… and \(total - messages.count) more problems" }
        text += "\nnothing was imported"
        throw WanggeError.invalid(text)
    }
}

extension GridStore {
    /// Imports a GeoJSON file of Polygon/MultiPolygon grids as a new active
    /// generation (the previous one is retired, its assignments kept), assigns
    /// every stored point to the new grids and re-routes open incidents whose
    /// grid changes (`dispatch` decides the new unit). All or nothing.
    /// Refused when the grids fail the coverage check of `wangge plan validate`
    /// (overlaps above `thresholds`, hierarchy, codes), and, unless `force`,
    /// when they would leave most stored points outside every grid.
    public func importGrids(path: String, mapping: GridFieldMapping = GridFieldMapping(), crs: CoordinateSystem = .wgs84,
                            makeValid: Bool = false, generationName: String? = nil, dispatch: DispatchRules = DispatchRules(),
                            thresholds: PlanThresholds = PlanThresholds(), force: Bool = false,
                            progress: (@Sendable (String) -> Void)? = nil) throws -> ImportReport {
        let start = Date()
        let (features, hierarchy, shapes, read) = try readGridFile(path: path, mapping: mapping, crs: crs, makeValid: makeValid, progress: progress)
        var report = read
        // The generation's county is the union of its grids, as `plan validate` sees it.
        let county = try Self.union(shapes.map(\.wkb))
        let plan = BoundaryPlan(grids: zip(features, shapes).map { PlanGrid(info: $0.info, wkb: $1.wkb) },
                                villages: hierarchy.villages, towns: hierarchy.towns, county: county, usedCodes: [])
        var problems = ProblemList(source: path)
        for error in try PlanValidator(thresholds: thresholds).problems(in: plan).errors { problems.add(error.description) }
        try problems.throwIfAny()
        let assigner = try GridAssigner(shapes: shapes, rules: rules)
        var points = try database.pool.read(Self.storedPoints)
        progress?("assigning \(points.count) stored points to the new grids")
        var assignments = try assigner.assign(points.map(\.position))
        if !force { try Self.refuseMostlyUnassigned(assignments, source: path) }
        let (generation, tokens) = try database.pool.write { db -> (Int64, [TokenScopeChange]) in
            let current = try Self.storedPoints(db)
            if current != points {
                // Points were imported meanwhile: assign them all again, inside the transaction.
                points = current
                assignments = try assigner.assign(points.map(\.position))
                if !force { try Self.refuseMostlyUnassigned(assignments, source: path) }
            }
            let active = try Int64.fetchOne(db, sql: "SELECT id FROM generations WHERE status = 'active'")
            let generation = try Self.insertGeneration(db, name: generationName ?? "import \((path as NSString).lastPathComponent)", status: .draft,
                                                       source: path, parent: active, county: county)
            try Self.insertAreas(db, generation: generation, hierarchy: hierarchy, features: features, shapes: shapes)
            let activation = try Self.activate(db, generation: generation, assigner: assigner, points: points, assignments: assignments,
                                               rules: rules, actor: "import grids", dispatch: dispatch, at: Date())
            return (generation, activation.tokens)
        }
        report.tokens = tokens
        report.imported = features.count
        report.generation = generation
        report.seconds = Date().timeIntervalSince(start)
        tally(assignments, into: &report)
        return report
    }

    /// Refuses grids that would leave more than half of the stored points in no
    /// grid (a file of one grid replacing a county's hundreds, say).
    static func refuseMostlyUnassigned(_ assignments: [PointAssignment], source: String) throws {
        let unassigned = assignments.count { $0.method == .none }
        guard unassigned * 2 > assignments.count else { return }
        throw WanggeError.invalid("\(source): the new grids would leave \(unassigned) of the \(assignments.count) stored households, cameras and incidents "
                         + "(\(unassigned * 100 / assignments.count)%) outside every grid; nothing was imported (force the import if that is intended)")
    }

    /// Reads and validates a grid file: the grids (sorted by code), their
    /// villages and towns, their shapes as WKB, and the repairs made.
    func readGridFile(path: String, mapping: GridFieldMapping, crs: CoordinateSystem, makeValid: Bool,
                      progress: (@Sendable (String) -> Void)? = nil) throws
        -> (features: [GridFeature], hierarchy: (villages: [PlanArea], towns: [PlanArea]), shapes: [GridShape], report: ImportReport) {
        let document: GeoJSONDocument
        do {
            document = try GeoJSONDocument(contentsOf: path)
        } catch let error as GeoError {
            throw WanggeError.invalid(error.message)
        }
        progress?("read \(document.features.count) features")
        var report = ImportReport(file: path, imported: 0)
        let features = try readGridFeatures(document, mapping: mapping, crs: crs, makeValid: makeValid, report: &report)
        let hierarchy = try buildHierarchy(features, source: path)
        progress?("validated \(features.count) grids in \(hierarchy.villages.count) villages and \(hierarchy.towns.count) towns")
        let shapes = try features.map { GridShape(code: $0.info.code, wkb: try $0.geometry.wkb()) }
        return (features, hierarchy, shapes, report)
    }

    func readGridFeatures(_ document: GeoJSONDocument, mapping: GridFieldMapping, crs: CoordinateSystem, makeValid: Bool,
                          report: inout ImportReport) throws -> [GridFeature] {
        let geos = try GEOSContext()
        let proj = try PROJContext()
        let converter = try WGS84Converter(from: crs, context: proj)
        var problems = ProblemList(source: document.source)
        var features: [GridFeature] = []
        var firstFeatureOfCode: [String: Int] = [:]
        for feature in document.features {
            let number = feature.index + 1
            guard let code = feature.properties[mapping.code]?.text?.trimmingCharacters(in: .whitespaces), !code.isEmpty else {
                problems.add("feature \(number): no grid code in property \"\(mapping.code)\" (choose it with --code-field)")
                continue
            }
            if let problem = TextLimits.codeProblem(code) {
                problems.add("feature \(number): field \(mapping.code): grid code \(TextLimits.shown(code)) \(problem)")
                continue
            }
            let label = "feature \(number) (grid \(code))"
            if let first = firstFeatureOfCode[code] {
                problems.add("\(label): duplicate grid code \(code), also feature \(first)")
                continue
            }
            firstFeatureOfCode[code] = number
            guard let json = feature.geometryJSONOrNil else {
                problems.add("\(label): no geometry")
                continue
            }
            var geometry: Geometry
            do {
                geometry = try Geometry(geoJSON: json, context: geos)
                let type = try geometry.type
                guard type == .polygon || type == .multiPolygon else {
                    problems.add("\(label): geometry is a \(type.name), expected Polygon or MultiPolygon")
                    continue
                }
                if crs != .wgs84 {
                    geometry = try geometry.mapCoordinates { xy in
                        for i in stride(from: 0, to: xy.count, by: 2) {
                            let p = try converter.toWGS84(x: xy[i], y: xy[i + 1])
                            xy[i] = p.lon
                            xy[i + 1] = p.lat
                        }
                    }
                } else {
                    let e = try geometry.envelope
                    if e.minX < -180 || e.maxX > 180 || e.minY < -90 || e.maxY > 90 {
                        problems.add(String(format: "\(label): coordinates outside longitude -180…180 / latitude -90…90 (extent %.3f, %.3f – %.3f, %.3f); give the file's CRS with --crs", e.minX, e.minY, e.maxX, e.maxY))
                        continue
                    }
                }
            } catch let error as GeoError {
                problems.add("\(label): \(error.message)")
                continue
            }
            let validity = try geometry.validity()
            if !validity.isValid {
                let place = validity.location.map { String(format: " at lon %.7f, lat %.7f", $0.x, $0.y) } ?? ""
                let reason = "\(validity.reason ?? "invalid")\(place)"
                if makeValid {
                    let repaired = try geometry.makeValid().asMultiPolygon()
                    guard try !repaired.isEmpty else {
                        problems.add("\(label): invalid polygon (\(reason)) and repair left nothing")
                        continue
                    }
                    report.repaired.append("\(label): \(reason)")
                    geometry = repaired
                } else {
                    problems.add("\(label): invalid polygon: \(reason) (make-valid repairs it)")
                    continue
                }
            }
            geometry = try geometry.asMultiPolygon()
            let parents = GridCodes.parents(of: code)
            var fieldProblems: [String] = []
            /// A property's text, its length (and for a code its form) checked.
            func text(_ key: String, code: Bool = false, limit: Int = TextLimits.name) -> String? {
                guard let value = feature.properties[key]?.text, !value.isEmpty else { return nil }
                if let problem = code ? TextLimits.codeProblem(value) : TextLimits.problem(value, limit: limit) {
                    fieldProblems.append("\(label): field \(key): \(TextLimits.shown(value)) \(problem)")
                }
                return value
            }
            let info = GridInfo(
                code: code, name: text(mapping.name) ?? code,
                villageCode: text(mapping.villageCode, code: true) ?? parents.village,
                villageName: text(mapping.villageName) ?? text(mapping.villageCode) ?? parents.village,
                townCode: text(mapping.townCode, code: true) ?? parents.town,
                townName: text(mapping.townName) ?? text(mapping.townCode) ?? parents.town,
                workerName: text(mapping.workerName), workerPhone: text(mapping.workerPhone, limit: TextLimits.code),
                areaSquareMetres: try Geodesic.area(of: geometry))
            guard fieldProblems.isEmpty else {
                for problem in Set(fieldProblems).sorted() { problems.add(problem) }
                continue
            }
            features.append(GridFeature(info: info, geometry: geometry))
        }
        if document.features.isEmpty { problems.add("no features") }
        try problems.throwIfAny()
        return features.sorted { $0.info.code < $1.info.code }
    }

    /// Villages and towns as unions of whole grids; a village must lie in one town.
    func buildHierarchy(_ features: [GridFeature], source: String) throws -> (villages: [PlanArea], towns: [PlanArea]) {
        guard let context = features.first?.geometry.context else { return ([], []) }
        let areas = try Hierarchy.areas(of: features.map { ($0.info, $0.geometry) }, context: context)
        var problems = ProblemList(source: source)
        for problem in areas.problems { problems.add(problem) }
        try problems.throwIfAny()
        return (areas.villages, areas.towns)
    }
}
