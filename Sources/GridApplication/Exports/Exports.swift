import Foundation
import GeoFiles
import GeoKit
import GridCore
import GridStore
import Localization

/// What can be exported: a collection, the per-grid statistics, or a generation's grids (a draft plan).
public enum ExportDataset: Sendable, Equatable {
    case collection(Collection)
    /// The counts of `wangge stats --by grid`, with each grid's outline.
    case statistics
    /// The grids of a generation: a draft plan (or any other generation).
    case draft(Int64)

    /// The names users give, for messages.
    public static let names = Collection.allCases.map(\.rawValue) + ["stats", "draft N"]

    /// `grids`, `villages`, `towns`, `households`, `cameras`, `incidents`, `stats`, or `draft` with `generation`.
    public init(name: String, generation: String? = nil) throws {
        let key = name.lowercased()
        if key == "draft" {
            guard let text = generation, let id = Int64(text), id > 0 else {
                throw ExportError.draftNeedsGeneration(generation)
            }
            self = .draft(id)
            return
        }
        if generation != nil { throw ExportError.unexpectedGeneration(name) }
        if key == "stats" || key == "statistics" {
            self = .statistics
        } else if let collection = Collection(rawValue: key) {
            self = .collection(collection)
        } else {
            throw ExportError.unknownDataset(name)
        }
    }

    /// The dataset's name in file names and layer names: `grids`, `stats`, `draft-3`.
    public var name: String {
        switch self {
        case .collection(let collection): collection.rawValue
        case .statistics: "stats"
        case .draft(let id): "draft-\(id)"
        }
    }
}

/// The CRS an export is written in.
public enum ExportCRS: Sendable, Equatable {
    case epsg(Int)
    /// The county's metric CRS (the CGCS2000 Gauss-Krüger zone of its grids), as areas and distances use.
    case countyMetric

    /// `EPSG:4547`, `4547`, `wgs84`, `cgcs2000`, or `metric` (also `county`) for the county's metric CRS.
    public init(parsing text: String) throws {
        let key = text.trimmingCharacters(in: .whitespaces).lowercased()
        if key == "metric" || key == "county" {
            self = .countyMetric
            return
        }
        let parsed: CoordinateSystem
        do { parsed = try CoordinateSystem(parsing: text) } catch { throw ExportError.unknownCRS(text) }
        guard case .epsg(let code) = parsed else { throw ExportError.unknownCRS(text) }
        self = .epsg(code)
    }
}

/// Why an export was refused: user-facing texts, each naming the option or parameter at fault.
public enum ExportError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownDataset(String)
    case draftNeedsGeneration(String?)
    case unexpectedGeneration(String)
    case unknownFormat(String)
    case formatUnknownFromOutput(String)
    case formatDisagreesWithOutput(format: String, output: String)
    case noFormat
    case binaryToStandardOutput(String)
    case unknownCRS(String)
    case crsRefused(reason: Localized)
    case kmlIsWGS84(String)

    /// The option or parameter at fault (CLI `--NAME`, HTTP query parameter).
    public var field: String {
        switch self {
        case .unknownDataset, .draftNeedsGeneration, .unexpectedGeneration: "dataset"
        case .unknownFormat, .formatDisagreesWithOutput, .noFormat: "format"
        case .formatUnknownFromOutput, .binaryToStandardOutput: "output"
        case .unknownCRS, .crsRefused, .kmlIsWGS84: "crs"
        }
    }

    static let formats = VectorFormat.allCases.map(\.rawValue).joined(separator: ", ")

    /// What is wrong, without the option's name.
    public var reason: Localized {
        switch self {
        case .unknownDataset(let name):
            tr("unknown \(TextLimits.shown(name)): the datasets are \(ExportDataset.names.joined(separator: ", "))")
        case .draftNeedsGeneration(let text):
            text.map { tr("draft needs the draft's generation number (see `wangge plan list`), e.g. draft 2; \(TextLimits.shown($0)) is not one") }
                ?? tr("draft needs the draft's generation number (see `wangge plan list`), e.g. draft 2")
        case .unexpectedGeneration(let name):
            tr("only draft takes a generation number, not \(TextLimits.shown(name))")
        case .unknownFormat(let text):
            tr("unknown \(TextLimits.shown(text)): the formats are \(Self.formats)")
        case .formatUnknownFromOutput(let path):
            tr("\(TextLimits.shown(path)) does not end in a format's extension (.geojson, .csv, .xlsx, .gpkg, .shp, .zip, .kml): give --format")
        case .formatDisagreesWithOutput(let format, let output):
            tr("\(format) does not match the output file \(TextLimits.shown(output))")
        case .noFormat:
            tr("give --format (\(Self.formats)) or an --output file whose extension names one")
        case .binaryToStandardOutput(let format):
            tr("\(format) is not text: give --output FILE")
        case .unknownCRS(let text):
            tr("\(TextLimits.shown(text)) is not a CRS an export can be written in: give EPSG:<code> (e.g. EPSG:4490, EPSG:4547) or metric (the county's Gauss-Krüger zone)")
        case .crsRefused(let reason):
            reason
        case .kmlIsWGS84(let text):
            tr("KML is always WGS84 longitude and latitude (EPSG:4326), not \(TextLimits.shown(text))")
        }
    }

    public var text: Localized { tr("\(field): \(reason)") }

    public var description: String { text.description }

    /// As the application's error, blamed on its option.
    public var asWanggeError: WanggeError {
        let kind: WanggeError.Kind = if case .unknownDataset = self { .notFound } else { .invalid }
        return WanggeError(kind, text, field: field)
    }
}

/// An export as asked for.
public struct ExportRequest: Sendable {
    public var dataset: ExportDataset
    public var scope: AreaScope
    public var format: VectorFormat
    public var crs: ExportCRS
    /// The CRS as the user wrote it, for messages.
    public var crsText: String

    public init(dataset: ExportDataset, scope: AreaScope = AreaScope(), format: VectorFormat, crs: String? = nil) throws {
        self.dataset = dataset
        self.scope = scope
        self.format = format
        crsText = crs ?? "EPSG:4326"
        self.crs = try crs.map(ExportCRS.init(parsing:)) ?? .epsg(4326)
        if format == .kml, self.crs != .epsg(4326) { throw ExportError.kmlIsWGS84(crsText) }
    }

    /// The name a file of this export is offered under: the dataset, the area asked for, the day (a
    /// Shapefile zipped), and the same with ASCII only (no area named in other letters) for old clients.
    public func fileName(day: String) -> (file: String, ascii: String) {
        // Letters (Chinese too), digits, - and _ only: nothing that could leave a directory or end a quoted name.
        let areas = [scope.town, scope.village, scope.grid].compactMap { $0 }.map { area in
            String(area.prefix(40).map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        }
        let ext = format == .shp ? "shp.zip" : format.fileExtension
        let file = ([dataset.name] + areas + [day]).joined(separator: "-") + "." + ext
        let ascii = ([dataset.name] + areas.filter { $0.allSatisfy { $0.isASCII } } + [day]).joined(separator: "-") + "." + ext
        return (file, ascii)
    }

    /// The format `--format` names, or else the one `--output`'s extension names; they must agree.
    public static func format(_ text: String?, output: String?) throws -> VectorFormat {
        let given = try text.map { text in
            guard let format = VectorFormat(rawValue: text.lowercased()) else { throw ExportError.unknownFormat(text) }
            return format
        }
        let implied = output.flatMap { VectorFormat(fileName: $0) }
        if let output, implied == nil, given == nil { throw ExportError.formatUnknownFromOutput(output) }
        if let given, let implied, let output, given != implied { throw ExportError.formatDisagreesWithOutput(format: given.rawValue, output: output) }
        guard let format = given ?? implied else { throw ExportError.noFormat }
        return format
    }
}

/// What an export wrote.
public struct ExportResult: Sendable {
    /// The file written (a Shapefile's .shp, beside its .shx, .dbf, .prj and .cpg, or its .shp.zip).
    public let path: String
    public let records: Int
    /// The EPSG code of the file's CRS.
    public let epsg: Int
}

/// A directory of an export's own for its files, removed with everything in it when this object goes
/// (after the answer is sent, or when the client went away).
public final class ExportDirectory: Sendable {
    public let path: String

    /// A new directory in `parent` (default: the system's temporary directory).
    public init(in parent: String? = nil) throws {
        let base = parent ?? NSTemporaryDirectory()
        path = (base as NSString).appendingPathComponent(".wangge-export-\(UUID().uuidString.prefix(12))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of a file named `name` inside it.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

extension GridService {
    /// Writes the dataset to `path` (a new file) as the request says: for a caller, with
    /// the privacy policy's masking (household records only for roles that may read
    /// them) and every export that shows names, phones or ID numbers in full audited as
    /// `action`; for the operator at the command line (no caller), everything.
    public func export(_ request: ExportRequest, to path: String, for caller: Caller? = nil, action: String = "export") throws -> ExportResult {
        let (epsg, geographic) = try exportCRS(request)
        let table = try exportTable(request, caller: caller, geographic: geographic)
        var revealing = 0
        let writer = try translatingErrors {
            try VectorWriter(path: path, format: request.format, layerName: request.dataset.name, geometry: table.geometry,
                             epsg: epsg, fields: table.fields, placemarkName: table.placemarkName)
        }
        try translatingErrors {
            try table.rows { values, geoJSON, revealsIdentity in
                try writer.add(values, geoJSON: geoJSON)
                if revealsIdentity { revealing += 1 }
            }
            try writer.finish()
        }
        if let caller, revealing > 0 {
            let grid = try areaCode(.grid, request.scope.grid)
            try translatingErrors { try store.audit(caller, action: action, grid: grid, records: revealing) }
        }
        return ExportResult(path: path, records: writer.count, epsg: epsg)
    }

    /// The EPSG code the request's CRS names, checked to be one GDAL can write in, and whether it is geographic.
    func exportCRS(_ request: ExportRequest) throws -> (epsg: Int, geographic: Bool) {
        let code: Int
        switch request.crs {
        case .epsg(let given): code = given
        case .countyMetric:
            let name = try active().assigner.index.metricCRS
            guard let parsed = Int(name.replacingOccurrences(of: "EPSG:", with: "")) else { throw ExportError.unknownCRS(name).asWanggeError }
            code = parsed
        }
        do {
            return (code, try VectorWriter.isGeographic(epsg: code))
        } catch let error as GeoError {
            throw ExportError.crsRefused(reason: error.text).asWanggeError
        }
    }

    /// The layer of an export: its fields, how it holds places, and its rows (read as they are written).
    struct ExportTable {
        let fields: [FieldDefinition]
        let geometry: LayerGeometry
        let placemarkName: String?
        /// Hands each row to the body: its values, its WGS84 GeoJSON geometry, and whether it shows who someone is.
        let rows: ((_ values: [FieldValue?], _ geoJSON: String?, _ revealsIdentity: Bool) throws -> Void) throws -> Void
    }

    /// Numeric properties of the collections (all others are text).
    static let exportKinds: [String: FieldDefinition.Kind] = [
        "members": .integer, "satisfaction": .integer,
        "area_m2": .real, "heading_deg": .real, "fov_deg": .real, "range_m": .real,
    ]

    func exportTable(_ request: ExportRequest, caller: Caller?, geographic: Bool) throws -> ExportTable {
        let projected = !geographic
        switch request.dataset {
        case .collection(let collection):
            return try collectionTable(collection, scope: request.scope, generation: nil, caller: caller, projected: projected)
        case .draft(let id):
            let generation = try checkedGeneration(id, field: "dataset")
            return try collectionTable(.grids, scope: request.scope, generation: generation, caller: caller, projected: projected)
        case .statistics:
            return try statisticsTable(scope: request.scope)
        }
    }

    /// A generation that exists, or not found blamed on `field`.
    func checkedGeneration(_ id: Int64, field: String) throws -> Int64 {
        do { return try checkedGeneration(id) ?? id } catch let error as WanggeError {
            throw WanggeError(error.kind, tr("draft \(id): \(error.text)"), field: field)
        }
    }

    /// The codes the scope keeps of a collection's areas (its own codes for grids, villages and towns;
    /// the grids of points), nil for the whole county.
    func exportAreas(_ collection: Collection, scope: AreaScope, generation: Int64?) throws -> [String]? {
        guard scope.town != nil || scope.village != nil || scope.grid != nil else { return nil }
        let grids = try self.grids(in: scope, generation: generation)
        let codes: [String] = switch collection {
        case .villages: grids.map(\.villageCode)
        case .towns: grids.map(\.townCode)
        default: grids.map(\.code)
        }
        return Array(Set(codes)).sorted()
    }

    func collectionTable(_ collection: Collection, scope: AreaScope, generation: Int64?, caller: Caller?, projected: Bool) throws -> ExportTable {
        if let caller, collection == .households { try requireHouseholdRecords(caller) }
        let areas = try exportAreas(collection, scope: scope, generation: generation)
        let names = GridStore.featureProperties(collection)
        // A polygon's id is its code (what `import grids` looks for); a point's, its id, and its grid follows.
        let idName = collection.isPolygon ? "code" : "id"
        var fields = [FieldDefinition(idName, .text)] + names.map { FieldDefinition($0, Self.exportKinds[$0] ?? .text) }
        if !collection.isPolygon { fields.append(FieldDefinition("grid", .text)) }
        let placemark = names.contains("name") ? "name" : idName
        let geometry: LayerGeometry = collection.isPolygon ? .polygon : .point(columns: projected ? ("x", "y") : ("lon", "lat"))
        let store = self.store
        return ExportTable(fields: fields, geometry: geometry, placemarkName: placemark) { body in
            try store.eachFeature(collection, areas: areas, generation: generation) { record in
                var properties = Dictionary(record.properties.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
                var geoJSON = record.geometryJSON
                var reveals = false
                if let caller {
                    (properties, reveals) = self.visibleProperties(record, collection: collection, caller: caller)
                    geoJSON = self.visibleGeometry(record, collection: collection, caller: caller)
                }
                var values: [FieldValue?] = [.text(record.id)]
                values += names.map { Self.fieldValue(properties[$0] ?? .null, Self.exportKinds[$0] ?? .text) }
                if !collection.isPolygon { values.append(record.grid.map(FieldValue.text)) }
                try body(values, geoJSON, reveals)
            }
        }
    }

    /// The counts of `wangge stats --by grid` in the scope, each row with its grid's outline.
    func statisticsTable(scope: AreaScope) throws -> ExportTable {
        var byGrid = scope
        byGrid.groupBy = .grid
        let statistics = try self.statistics(in: byGrid)
        var outlines: [String: String] = [:]
        try translatingErrors {
            try store.eachFeature(.grids, areas: statistics.map(\.code), generation: nil) { outlines[$0.id] = $0.geometryJSON }
        }
        let counts: [(String, KeyPath<AreaStatistics, Int>)] = [
            ("households", \.households), ("residents", \.residents), ("cameras", \.cameras), ("cameras_online", \.camerasOnline),
            ("incidents", \.incidents), ("open_incidents", \.openIncidents), ("near_boundary", \.nearBoundary), ("nearest", \.nearest),
        ]
        let fields = [FieldDefinition("code", .text), FieldDefinition("name", .text)] + counts.map { FieldDefinition($0.0, .integer) }
        return ExportTable(fields: fields, geometry: .polygon, placemarkName: "name") { body in
            for row in statistics {
                let values: [FieldValue?] = [.text(row.code), .text(row.name)] + counts.map { .integer(Int64(row[keyPath: $0.1])) }
                try body(values, outlines[row.code], false)
            }
        }
    }

    /// A property as a field of `kind` holds it.
    static func fieldValue(_ value: PropertyValue, _ kind: FieldDefinition.Kind) -> FieldValue? {
        switch (value, kind) {
        case (.null, _): nil
        case (.number(let n), .integer) where n.rounded() == n && abs(n) < 9e15: .integer(Int64(n))
        case (.number(let n), .real), (.number(let n), .integer): .real(n)
        case (.string(let s), .integer): Int64(s).map(FieldValue.integer) ?? .text(s)
        case (.string(let s), .real): Double(s).map(FieldValue.real) ?? .text(s)
        default: value.text.map(FieldValue.text)
        }
    }
}
