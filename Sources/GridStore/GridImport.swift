import Foundation
import GRDB
import GeoFiles
import GeoKit
import GridCore
import Localization

/// Which fields of a grid file hold a grid's code, name, parents and worker.
/// A role left at its built-in name also takes the common Chinese column
/// names (`chineseNames`); a name set in the config or on the command line is
/// the only one looked for. A Shapefile keeps 10 bytes of a field name, so a
/// name also matches its cut form (village_code as village_co; 网格编码 in a
/// UTF-8 .dbf as 网格编).
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

    /// The parts of a grid a field can give, named as in `grid_fields`.
    public enum Role: String, CaseIterable, Sendable {
        case code, name, villageCode = "village_code", villageName = "village_name", townCode = "town_code"
        case townName = "town_name", workerName = "worker_name", workerPhone = "worker_phone"
    }

    /// Column names Chinese bureaus and surveyors use, in the order they are looked for.
    public static let chineseNames: [Role: [String]] = [
        .code: ["网格编码", "网格代码", "网格编号"],
        .name: ["网格名称", "网格名"],
        .villageCode: ["村编码", "社区编码", "村社区编码", "村代码"],
        .villageName: ["村名称", "社区名称", "村(社区)", "村（社区）", "村社区", "村名"],
        .townCode: ["乡镇编码", "街道编码", "乡镇代码"],
        .townName: ["乡镇名称", "街道名称", "乡镇(街道)", "乡镇（街道）", "乡镇"],
        .workerName: ["网格员", "网格员姓名"],
        .workerPhone: ["联系电话", "网格员电话", "手机号码", "电话"],
    ]

    public subscript(role: Role) -> String {
        get {
            switch role {
            case .code: code
            case .name: name
            case .villageCode: villageCode
            case .villageName: villageName
            case .townCode: townCode
            case .townName: townName
            case .workerName: workerName
            case .workerPhone: workerPhone
            }
        }
        set {
            switch role {
            case .code: code = newValue
            case .name: name = newValue
            case .villageCode: villageCode = newValue
            case .villageName: villageName = newValue
            case .townCode: townCode = newValue
            case .townName: townName = newValue
            case .workerName: workerName = newValue
            case .workerPhone: workerPhone = newValue
            }
        }
    }

    /// The names looked for, in order.
    public func candidates(for role: Role) -> [String] {
        let configured = self[role]
        return configured == GridFieldMapping()[role] ? [configured] + (Self.chineseNames[role] ?? []) : [configured]
    }

    /// Which of `fields` gives each role: for each candidate in order, the field
    /// of that name, else one differing only in letter case, else (with a
    /// `byteLimit`) the name cut to that many bytes in GBK or UTF-8.
    public func resolve(fields: [String], byteLimit: Int?) -> [Role: String] {
        var resolved: [Role: String] = [:]
        for role in Role.allCases {
            for wanted in candidates(for: role) {
                let cut = byteLimit.map { limit in [Self.cut(wanted, bytes: limit) { $0.isASCII ? 1 : 2 }, Self.cut(wanted, bytes: limit) { $0.utf8.count }] } ?? []
                if let field = fields.first(where: { $0 == wanted })
                    ?? fields.first(where: { $0.lowercased() == wanted.lowercased() })
                    ?? fields.first(where: { field in cut.contains { $0 != wanted && $0.lowercased() == field.lowercased() } }) {
                    resolved[role] = field
                    break
                }
            }
        }
        return resolved
    }

    /// The longest prefix of `name` whose encoding takes at most `bytes` bytes.
    static func cut(_ name: String, bytes: Int, cost: (Character) -> Int) -> String {
        var used = 0
        return String(name.prefix { character in
            used += cost(character)
            return used <= bytes
        })
    }
}

/// How a grid file is read: its CRS (nil: the file's own), the field mapping,
/// repairs, the layer (nil: the only polygon layer) and a Shapefile's text encoding (nil: its .cpg, else detected).
public struct GridFileOptions: Sendable {
    public var mapping: GridFieldMapping
    public var crs: CoordinateSystem?
    public var makeValid: Bool
    public var layer: String?
    public var encoding: TextEncoding?

    public init(mapping: GridFieldMapping = GridFieldMapping(), crs: CoordinateSystem? = nil, makeValid: Bool = false,
                layer: String? = nil, encoding: TextEncoding? = nil) {
        self.mapping = mapping
        self.crs = crs
        self.makeValid = makeValid
        self.layer = layer
        self.encoding = encoding
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
    /// How the file was read: layer, format, encoding, CRS, which field gave what.
    public var notes: [String] = []
    public var repaired: [String] = []
    public var methods: [AssignmentMethod: Int] = [:]
    public var nearBoundary = 0
    public var generation: Int64?
    /// Grids import: grid workers' tokens whose grids the redraw changed.
    public var tokens: [TokenScopeChange] = []
    public var seconds = 0.0

    public var description: String {
        var lines: [String] = []
        let took = String(format: "%.1f", seconds)
        let into = generation.map { tr(" into generation \($0)") } ?? .verbatim("")
        lines.append((AssignmentMethod.counts(methods).map {
            tr("\(file): imported \(imported)\(into); assigned: \($0); near a boundary: \(nearBoundary) (\(took) s)")
        } ?? tr("\(file): imported \(imported)\(into) (\(took) s)")).rendered)
        lines.append(contentsOf: notes.map { "  \($0)" })
        lines.append(contentsOf: repaired.map { tr("  repaired: \($0)").rendered })
        return lines.joined(separator: "\n") + TokenScopeChange.report(tokens)
    }
}

/// Collects bad-input messages, so one failed import lists its first problems together.
struct ProblemList {
    let source: String
    private(set) var messages: [Localized] = []
    private(set) var total = 0
    static let shown = 20

    mutating func add(_ message: Localized) {
        total += 1
        if messages.count < Self.shown { messages.append(message) }
    }

    func throwIfAny() throws {
        guard total > 0 else { return }
        var lines = messages.map { tr("\(source): \($0)") }
        if total > messages.count { lines.append(tr("… and \(total - messages.count) more problems")) }
        lines.append(tr("nothing was imported"))
        throw WanggeError.invalid(.joined(lines, separator: "\n"))
    }
}

extension GridStore {
    /// Imports a file of Polygon/MultiPolygon grids (any format `GridFileReader` reads) as a new active
    /// generation (the previous one is retired, its assignments kept), assigns
    /// every stored point to the new grids and re-routes open incidents whose
    /// grid changes (`dispatch` decides the new unit). All or nothing.
    /// Refused when the grids fail the coverage check of `wangge plan validate`
    /// (overlaps above `thresholds`, hierarchy, codes), and, unless `force`,
    /// when they would leave most stored points outside every grid.
    public func importGrids(path: String, _ file: GridFileOptions = GridFileOptions(), generationName: String? = nil, dispatch: DispatchRules = DispatchRules(),
                            thresholds: PlanThresholds = PlanThresholds(), force: Bool = false,
                            progress: (@Sendable (String) -> Void)? = nil) throws -> ImportReport {
        let start = Date()
        let (features, hierarchy, shapes, county, read) = try Self.readValidGrids(path: path, file, thresholds: thresholds, progress: progress)
        var report = read
        let assigner = try GridAssigner(shapes: shapes, rules: rules)
        var points = try database.pool.read(Self.storedPoints)
        progress?(tr("assigning \(points.count) stored points to the new grids").rendered)
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
        Self.tally(assignments, into: &report)
        return report
    }

    /// A grid file read and refused unless its grids pass the coverage check of
    /// `wangge plan validate`; with their county, the union of the grids.
    static func readValidGrids(path: String, _ file: GridFileOptions, thresholds: PlanThresholds, progress: (@Sendable (String) -> Void)?) throws
        -> (features: [GridFeature], hierarchy: (villages: [PlanArea], towns: [PlanArea]), shapes: [GridShape], county: [UInt8], report: ImportReport) {
        let (features, hierarchy, shapes, report) = try readGridFile(path: path, file, progress: progress)
        // The generation's county is the union of its grids, as `plan validate` sees it.
        let county = try union(shapes.map(\.wkb))
        let plan = BoundaryPlan(grids: zip(features, shapes).map { PlanGrid(info: $0.info, wkb: $1.wkb) },
                                villages: hierarchy.villages, towns: hierarchy.towns, county: county, usedCodes: [])
        var problems = ProblemList(source: path)
        for error in try PlanValidator(thresholds: thresholds).problems(in: plan).errors { problems.add(error.text) }
        try problems.throwIfAny()
        return (features, hierarchy, shapes, county, report)
    }

    /// Refuses grids that would leave more than half of the stored points in no
    /// grid (a file of one grid replacing a county's hundreds, say).
    static func refuseMostlyUnassigned(_ assignments: [PointAssignment], source: String) throws {
        let unassigned = assignments.count { $0.method == .none }
        guard unassigned * 2 > assignments.count else { return }
        throw WanggeError.invalid(tr("\(source): the new grids would leave \(unassigned) of the \(assignments.count) stored households, cameras and incidents (\(unassigned * 100 / assignments.count)%) outside every grid; nothing was imported (force the import if that is intended)"))
    }

    /// Reads and validates a grid file: the grids (sorted by code), their
    /// villages and towns, their shapes as WKB, and the repairs made.
    static func readGridFile(path: String, _ file: GridFileOptions, progress: (@Sendable (String) -> Void)? = nil) throws
        -> (features: [GridFeature], hierarchy: (villages: [PlanArea], towns: [PlanArea]), shapes: [GridShape], report: ImportReport) {
        var report = ImportReport(file: path, imported: 0)
        let source = try GridFileSource(path: path, file, report: &report)
        progress?(tr("read \(source.features.count) features from \(source.label)").rendered)
        let features = try Self.readGridFeatures(source, makeValid: file.makeValid, report: &report)
        let hierarchy = try Self.buildHierarchy(features, source: source.label)
        progress?(tr("validated \(features.count) grids in \(hierarchy.villages.count) villages and \(hierarchy.towns.count) towns").rendered)
        let shapes = try features.map { GridShape(code: $0.info.code, wkb: try $0.geometry.wkb()) }
        return (features, hierarchy, shapes, report)
    }

    static func readGridFeatures(_ source: GridFileSource, makeValid: Bool, report: inout ImportReport) throws -> [GridFeature] {
        let geos = try GEOSContext()
        let proj = try PROJContext()
        let crs = source.crs
        let converter: WGS84Converter
        do {
            converter = try WGS84Converter(from: crs, context: proj)
        } catch let error as GeoError {
            throw WanggeError.invalid(tr("\(source.label): CRS \(crs): \(error.text)"))
        }
        let fields = source.fields
        var problems = ProblemList(source: source.label)
        var features: [GridFeature] = []
        var firstFeatureOfCode: [String: Int] = [:]
        for feature in source.features {
            let number = feature.number
            guard let code = feature.values[fields.code]?.trimmingCharacters(in: .whitespaces), !code.isEmpty else {
                problems.add(tr("feature \(number): no grid code in field \"\(fields.code)\" (choose the field with --code-field)"))
                continue
            }
            if let problem = TextLimits.codeProblem(code) {
                problems.add(tr("feature \(number): field \(fields.code): grid code \(TextLimits.shown(code)) \(problem)"))
                continue
            }
            let label = tr("feature \(number) (grid \(code))")
            if let first = firstFeatureOfCode[code] {
                problems.add(tr("\(label): duplicate grid code \(code), also feature \(first)"))
                continue
            }
            firstFeatureOfCode[code] = number
            guard let wkb = feature.wkb else {
                problems.add(tr("\(label): no geometry (the feature's geometry is null or empty)"))
                continue
            }
            var geometry: Geometry
            do {
                geometry = try Geometry(wkb: wkb, context: geos)
                let type = try geometry.type
                guard type == .polygon || type == .multiPolygon else {
                    problems.add(tr("\(label): geometry is a \(type.name), expected Polygon or MultiPolygon"))
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
                        let extent = String(format: "%.3f, %.3f – %.3f, %.3f", e.minX, e.minY, e.maxX, e.maxY)
                        problems.add(tr("\(label): coordinates outside longitude -180…180 / latitude -90…90 (extent \(extent)); give the file's CRS with --crs"))
                        continue
                    }
                }
            } catch let error as GeoError {
                problems.add(tr("\(label): \(error.text)"))
                continue
            }
            let validity = try geometry.validity()
            if !validity.isValid {
                let place = validity.location.map { String(format: " at lon %.7f, lat %.7f", $0.x, $0.y) } ?? ""
                let reason = "\(validity.reason ?? "invalid")\(place)"
                if makeValid {
                    let repaired = try geometry.makeValid().asMultiPolygon()
                    guard try !repaired.isEmpty else {
                        problems.add(tr("\(label): invalid polygon (\(reason)) and repair left nothing"))
                        continue
                    }
                    report.repaired.append("\(label): \(reason)")
                    geometry = repaired
                } else {
                    problems.add(tr("\(label): invalid polygon: \(reason) (make-valid repairs it)"))
                    continue
                }
            }
            geometry = try geometry.asMultiPolygon()
            let parents = GridCodes.parents(of: code)
            var fieldProblems: [Localized] = []
            /// A field's text, its length (and for a code its form) checked.
            func text(_ role: GridFieldMapping.Role, code: Bool = false, limit: Int = TextLimits.name) -> String? {
                guard let key = fields.resolved[role], let value = feature.values[key], !value.isEmpty else { return nil }
                if let problem = code ? TextLimits.codeProblem(value) : TextLimits.problem(value, limit: limit) {
                    fieldProblems.append(tr("\(label): field \(key): \(TextLimits.shown(value)) \(problem)"))
                }
                return value
            }
            let info = GridInfo(
                code: code, name: text(.name) ?? code,
                villageCode: text(.villageCode, code: true) ?? parents.village,
                villageName: text(.villageName) ?? text(.villageCode) ?? parents.village,
                townCode: text(.townCode, code: true) ?? parents.town,
                townName: text(.townName) ?? text(.townCode) ?? parents.town,
                workerName: text(.workerName), workerPhone: text(.workerPhone, limit: TextLimits.code),
                areaSquareMetres: try Geodesic.area(of: geometry))
            guard fieldProblems.isEmpty else {
                for problem in Set(fieldProblems).sorted(by: { $0.description < $1.description }) { problems.add(problem) }
                continue
            }
            features.append(GridFeature(info: info, geometry: geometry))
        }
        if source.features.isEmpty { problems.add(tr("no features")) }
        try problems.throwIfAny()
        return features.sorted { $0.info.code < $1.info.code }
    }

    /// Villages and towns as unions of whole grids; a village must lie in one town.
    static func buildHierarchy(_ features: [GridFeature], source: String) throws -> (villages: [PlanArea], towns: [PlanArea]) {
        guard let context = features.first?.geometry.context else { return ([], []) }
        let areas = try Hierarchy.areas(of: features.map { ($0.info, $0.geometry) }, context: context)
        var problems = ProblemList(source: source)
        for problem in areas.problems { problems.add(problem) }
        try problems.throwIfAny()
        return (areas.villages, areas.towns)
    }
}

/// A grid file opened with GDAL: the chosen layer's features, its CRS (the
/// file's unless one is given) and which fields give the grid's parts.
struct GridFileSource {
    /// "FILE, layer NAME": where messages say the problem is.
    let label: String
    let crs: CoordinateSystem
    let fields: (code: String, resolved: [GridFieldMapping.Role: String])
    let features: [VectorFeature]

    init(path: String, _ file: GridFileOptions, report: inout ImportReport) throws {
        do {
            let dataset: VectorDataset
            do {
                dataset = try VectorDataset(path: path, encoding: file.encoding)
            } catch let error as GeoError where ["geojson", "json"].contains((path as NSString).pathExtension.lowercased()) {
                // GDAL says only "Failed to read GeoJSON data"; the GeoJSON parser says where and what.
                _ = try GeoJSONDocument(contentsOf: path)
                throw error
            }
            let layer = try dataset.polygonLayer(named: file.layer)
            let layerCount = try dataset.layers().count
            label = layer.label
            if !layer.mayHoldPolygons {
                throw GeoError(layerCount > 1 ? tr("\(label): the layer holds \(layer.geometryTypeName) geometries, not polygons")
                               : tr("\(label): the layer holds \(layer.geometryTypeName) geometries, not polygons (a grid file holds Polygon or MultiPolygon features)"))
            }
            if let given = file.crs {
                crs = given
            } else if let stated = try layer.coordinateSystem() {
                crs = stated
            } else {
                let prjMissing = VectorDataset.isShapefile(path) ? tr(" (its .prj is missing)") : .verbatim("")
                throw GeoError(tr("\(path): the file states no CRS\(prjMissing); give it with --crs, e.g. --crs EPSG:4490 (CGCS2000) or EPSG:4546 (CGCS2000 / 3-degree Gauss-Krüger CM 111E)"))
            }
            let resolved = file.mapping.resolve(fields: layer.fieldNames, byteLimit: dataset.driver == "ESRI Shapefile" ? 10 : nil)
            guard let code = resolved[.code] else {
                throw GeoError(tr("\(label): no grid-code field: looked for \(file.mapping.candidates(for: .code).joined(separator: ", ")); the fields are: \(layer.fieldNames.isEmpty ? "none" : layer.fieldNames.joined(separator: ", ")) (choose one with --code-field or grid_fields.code)"))
            }
            fields = (code, resolved)
            features = try layer.features(closedLinesArePolygons: dataset.driver == "DXF")
            var read = (layerCount > 1 ? tr("read layer \(layer.name) of \(dataset.driver)") : tr("read \(dataset.driver)")).rendered
            if let note = dataset.encodingNote { read += tr(", text \(note)").rendered }
            read += tr(", CRS \(crs)").rendered + (file.crs == nil ? tr(" (the file's)").rendered : tr(" (as given)").rendered)
            report.notes.append(read)
            let used = GridFieldMapping.Role.allCases.compactMap { role in resolved[role].flatMap { $0 == role.rawValue ? nil : "\($0) → \(role.rawValue)" } }
            if !used.isEmpty { report.notes.append(tr("fields: ").rendered + used.joined(separator: ", ")) }
        } catch let error as GeoError {
            throw WanggeError.invalid(tr("\(error.text); nothing was imported"))
        }
    }
}
