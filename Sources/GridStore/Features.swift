import Foundation
import GRDB
import GeoKit
import GridCore

/// One feature of a layer as the API serves it: geometry as GeoJSON text,
/// properties in column order, and the grid that governs access to it.
public struct FeatureRecord: Sendable {
    public var id: String
    public var geometryJSON: String
    public var properties: [(key: String, value: PropertyValue)]
    public var grid: String?
}

/// The layers the API and OGC API - Features serve.
public enum Collection: String, Sendable, CaseIterable {
    case grids, villages, towns, households, cameras, incidents

    public var title: String {
        switch self {
        case .grids: "Grids (网格)"
        case .villages: "Villages and communities (村/社区)"
        case .towns: "Towns and sub-districts (乡镇/街道)"
        case .households: "Households (户)"
        case .cameras: "Cameras (摄像头)"
        case .incidents: "Incidents (事件)"
        }
    }

    public var isPolygon: Bool { self == .grids || self == .villages || self == .towns }

    /// Properties that are personal data, shown as the privacy policy says.
    public var personalFields: [String: PersonalField] {
        switch self {
        case .households: ["head": .name, "phone": .phone, "id_number": .idNumber, "address": .address, "tags": .tags]
        case .incidents: ["reporter": .name, "description": .freeText]
        default: [:]
        }
    }

    /// Whether a feature's place is personal data (a household's or an incident's point).
    public var hasPersonalPosition: Bool { self == .households || self == .incidents }
}

/// A bounding box in WGS84 degrees: min lon, min lat, max lon, max lat.
public struct BoundingBox: Sendable, Equatable {
    public var minLon, minLat, maxLon, maxLat: Double
    public init(minLon: Double, minLat: Double, maxLon: Double, maxLat: Double) {
        self.minLon = minLon
        self.minLat = minLat
        self.maxLon = maxLon
        self.maxLat = maxLat
    }
}

extension GridStore {
    /// Rows matched are counted up to this many: a bbox over the whole county
    /// must not count every household on every page.
    public static let matchCountLimit = 10_000

    /// Rows of a collection inside an optional bbox (through the layer's R*Tree,
    /// or in id order when the box holds more than `countLimit` points), with
    /// an optional grid filter, ordered by id: one page, and the number
    /// matched (nil: more than `countLimit`).
    public func features(_ collection: Collection, bbox: BoundingBox? = nil, grid: String? = nil, id: String? = nil,
                         limit: Int, offset: Int, generation: Int64? = nil,
                         countLimit: Int = GridStore.matchCountLimit) throws -> (matched: Int?, features: [FeatureRecord]) {
        let generation = try generation ?? activeGeneration()
        let spec = Self.featureSpec(collection)
        let (from, gridColumn, idColumn, select) = (spec.from, spec.grid, spec.id, spec.select)
        let names = spec.properties.map(\.0)
        return try database.pool.read { db in
            var conditions: [String] = []
            var arguments: [DatabaseValueConvertible?] = [generation]
            if collection.isPolygon { conditions.append("t.generation_id = ?1") }
            // Over countLimit rows in the box (a box over the county): not counted.
            var manyInBox = false
            if let bbox {
                let rtree = "idx_\(collection.rawValue)_geom WHERE xmin <= ? AND xmax >= ? AND ymin <= ? AND ymax >= ?"
                let box: [DatabaseValueConvertible] = [bbox.maxLon, bbox.minLon, bbox.maxLat, bbox.minLat]
                let candidates = try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT 1 FROM \(rtree) LIMIT ?)",
                                                  arguments: StatementArguments(box + [countLimit + 1])) ?? 0
                manyInBox = candidates > countLimit
                if collection.isPolygon || !manyInBox {
                    // Few rows in the box: from the R*Tree, then sorted. Many points: read
                    // in id order instead, which stops at the page.
                    conditions.append("t.ROWID IN (SELECT pkid FROM \(rtree))")
                    arguments += box
                }
                // The R*Tree holds boxes rounded outwards: the geometry must really touch the box.
                if collection.isPolygon {
                    conditions.append("Intersects(t.geom, BuildMbr(?, ?, ?, ?, 4326))")
                    arguments += [bbox.minLon, bbox.minLat, bbox.maxLon, bbox.maxLat]
                } else {
                    conditions.append("X(t.geom) BETWEEN ? AND ? AND Y(t.geom) BETWEEN ? AND ?")
                    arguments += [bbox.minLon, bbox.maxLon, bbox.minLat, bbox.maxLat]
                }
            }
            if let grid {
                conditions.append("\(gridColumn) = ?")
                arguments.append(grid)
            }
            if let id {
                conditions.append("\(idColumn) = ?")
                arguments.append(id)
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            // ?1 is the generation in every statement, used or not.
            // Up to countLimit matches, one pass finds them all in id order: their number and the page's rows
            // (a map's box in a town holds a few thousand households; counting and paging apart read them twice).
            var matches: [Int64]? = nil
            if !manyInBox {
                let found = try Int64.fetchAll(db, sql: "SELECT t.ROWID FROM \(from) \(whereClause) ORDER BY \(idColumn) LIMIT ?",
                                               arguments: StatementArguments(arguments + [countLimit + 1]))
                if found.count <= countLimit { matches = found }
            }
            let rows: [Row]
            if let matches {
                let page = matches.dropFirst(min(offset, matches.count)).prefix(limit)
                rows = page.isEmpty ? [] : try Row.fetchAll(db, sql: """
                    SELECT \(select) FROM \(from) WHERE t.ROWID IN (\(page.map(String.init).joined(separator: ","))) ORDER BY \(idColumn)
                    """, arguments: collection.isPolygon ? [] : [generation])
            } else {
                // The page's rows are chosen first, so that only they are turned into GeoJSON.
                rows = try Row.fetchAll(db, sql: """
                    SELECT \(select) FROM \(from) WHERE t.ROWID IN (
                        SELECT t.ROWID FROM \(from) \(whereClause) ORDER BY \(idColumn) LIMIT ? OFFSET ?)
                    ORDER BY \(idColumn)
                    """, arguments: StatementArguments(arguments + [limit, offset]))
            }
            return (matches?.count, rows.map { Self.featureRecord($0, names: names) })
        }
    }

    /// How a collection's features are read: the tables, the columns of its id and its grid, its properties
    /// (each a name and an SQL expression over `t`, the table, and `a`, its assignment).
    struct FeatureSpec {
        let from: String, grid: String, id: String
        let properties: [(String, String)]
        /// The geometry as GeoJSON, in the database's own function.
        var geoJSON = "AsGeoJSON(t.geom, 7)"

        /// Each column named for how it is read: the three a feature has, then its properties by name.
        var select: String {
            (["\(id) AS feature_id", "\(geoJSON) AS feature_geometry", "\(grid) AS feature_grid"]
             + properties.map { "\($0.1) AS \"\($0.0)\"" }).joined(separator: ", ")
        }
    }

    static func featureSpec(_ collection: Collection) -> FeatureSpec {
        // Each property is (name, SQL expression over `t`, the table, and `a`, its assignment).
        let polygonal: (String, [(String, String)]) -> FeatureSpec = { table, properties in
            FeatureSpec(from: "\(table) t", grid: table == "grids" ? "t.code" : "NULL", id: "t.code", properties: properties)
        }
        let point: (PointLayer, [(String, String)]) -> FeatureSpec = { layer, properties in
            FeatureSpec(from: "\(layer.table) t LEFT JOIN assignments a ON a.generation_id = ?1 AND a.layer = '\(layer.rawValue)' AND a.feature_id = t.id",
                        grid: "a.grid_code", id: "t.id", properties: properties)
        }
        return switch collection {
        case .grids: polygonal("grids", [("name", "t.name"), ("village_code", "t.village_code"),
                                         ("village_name", "(SELECT v.name FROM villages v WHERE v.generation_id = t.generation_id AND v.code = t.village_code)"),
                                         ("town_code", "t.town_code"),
                                         ("town_name", "(SELECT w.name FROM towns w WHERE w.generation_id = t.generation_id AND w.code = t.town_code)"),
                                         ("worker_name", "t.worker_name"), ("worker_phone", "t.worker_phone"), ("area_m2", "t.area_m2")])
        case .villages: polygonal("villages", [("name", "t.name"), ("town_code", "t.town_code")])
        case .towns: polygonal("towns", [("name", "t.name")])
        case .households: point(.households, [("address", "t.address"), ("head", "t.head"), ("phone", "t.phone"), ("id_number", "t.id_number"),
                                              ("members", "t.members"), ("tags", "t.tags"), ("method", "a.method")])
        case .cameras: point(.cameras, [("type", "t.type"), ("name", "t.name"), ("heading_deg", "t.heading_deg"), ("fov_deg", "t.fov_deg"),
                                        ("range_m", "t.range_m"), ("status", "t.status")])
        case .incidents: point(.incidents, [("category", "t.category"), ("channel", "t.channel"), ("severity", "t.severity"), ("status", "t.status"),
                                            ("reported_at", "t.reported_at"), ("description", "t.description"), ("reporter", "t.reporter"),
                                            ("satisfaction", "t.satisfaction"), ("occurred_at", "t.occurred_at"), ("external_id", "t.external_id")])
        }
    }

    /// The names of a collection's properties, in the order features list them.
    public static func featureProperties(_ collection: Collection) -> [String] { featureSpec(collection).properties.map(\.0) }

    static func featureRecord(_ row: Row, names: [String]) -> FeatureRecord {
        var properties: [(key: String, value: PropertyValue)] = []
        for name in names {
            let value: DatabaseValue = row[name]
            properties.append((name, timeProperties.contains(name) ? displayedTime(value) : propertyValue(value)))
        }
        return FeatureRecord(id: row["feature_id"], geometryJSON: row["feature_geometry"] ?? "null", properties: properties, grid: row["feature_grid"])
    }

    /// Every feature of a collection in a generation, in id order, handed to `body` one at a time (read
    /// by a cursor, never all held): an export. With `areas`, only the features whose area is one of
    /// those codes: a grid's, village's or town's own code, a point's grid (so no unassigned point).
    public func eachFeature(_ collection: Collection, areas: [String]?, generation: Int64? = nil,
                            _ body: (FeatureRecord) throws -> Void) throws {
        let generation = try generation ?? activeGeneration()
        let spec = Self.featureSpec(collection)
        let names = spec.properties.map(\.0)
        var conditions: [String] = []
        var arguments: [DatabaseValueConvertible?] = [generation]
        if collection.isPolygon { conditions.append("t.generation_id = ?1") }
        if let areas {
            conditions.append("\(collection.isPolygon ? spec.id : spec.grid) IN (SELECT value FROM json_each(?))")
            arguments.append(String(decoding: try JSONEncoder().encode(areas), as: UTF8.self))
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        try database.pool.read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT \(spec.select) FROM \(spec.from) \(whereClause) ORDER BY \(spec.id)",
                                           arguments: StatementArguments(arguments))
            while let row = try rows.next() { try body(Self.featureRecord(row, names: names)) }
        }
    }

    /// Properties that are stored times, served in the display zone like every time people see.
    static let timeProperties: Set<String> = ["reported_at"]

    static func displayedTime(_ value: DatabaseValue) -> PropertyValue {
        guard case .string(let text) = value.storage else { return propertyValue(value) }
        return .string(timePolicy.displayed(stored: text))
    }

    static func propertyValue(_ value: DatabaseValue) -> PropertyValue {
        switch value.storage {
        case .null: return .null
        case .int64(let i): return .number(Double(i))
        case .double(let d): return .number(d)
        case .string(let s): return .string(s)
        case .blob: return .null
        }
    }

    /// A grid's households in id order after `cursor` (an id), at most `limit`
    /// (nil: all), with an optional tag and a search `q` on the address when
    /// `searchAddresses`, and on names when `searchNames`.
    /// `grid` nil: the households of every grid.
    public func householdPage(grid: String?, tag: String?, query: String?, searchNames: Bool, searchAddresses: Bool = true, limit: Int?,
                              after cursor: String?, generation: Int64? = nil) throws -> [HouseholdRecord] {
        let generation = try generation ?? activeGeneration()
        return try database.pool.read { db in
            var sql = """
                SELECT \(Self.householdColumns)
                FROM assignments a JOIN households h ON h.id = a.feature_id
                WHERE a.generation_id = ? AND a.layer = 'household'
                """
            var arguments: StatementArguments = [generation]
            if let grid {
                sql += " AND a.grid_code = ?"
                arguments += [grid]
            }
            if let tag {
                sql += " AND instr(';' || h.tags || ';', ';' || ? || ';') > 0"
                arguments += [tag]
            }
            if let query, !query.isEmpty {
                let columns: [String] = (searchAddresses ? ["h.address"] : []) + (searchNames ? ["h.head"] : [])
                sql += columns.isEmpty ? " AND 0" : " AND (" + columns.map { "instr(\($0), ?) > 0" }.joined(separator: " OR ") + ")"
                for _ in columns { arguments += [query] }
            }
            if let cursor {
                sql += " AND h.id > ?"
                arguments += [cursor]
            }
            sql += " ORDER BY h.id"
            if let limit {
                sql += " LIMIT ?"
                arguments += [limit]
            }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.householdRecord)
        }
    }

    /// The bounding box of the active generation's grids and every stored point (WGS84).
    public func extent() throws -> Envelope {
        let generation = try activeGeneration()
        return try database.pool.read { db in
            // The points' extents from their spatial indexes' root nodes: scanning
            // 216,000 households for it took 0.1–0.2 s of every command that locates.
            var boxes = try PointLayer.allCases.compactMap { try PackedSpatialIndex.bounds(db, table: $0.table) }
            if let row = try Row.fetchOne(db, sql: """
                SELECT min(MbrMinX(geom)) AS min_x, min(MbrMinY(geom)) AS min_y, max(MbrMaxX(geom)) AS max_x, max(MbrMaxY(geom)) AS max_y
                FROM towns WHERE generation_id = ?
                """, arguments: [generation]), let minX = row["min_x"] as Double? {
                boxes.append(Envelope(minX: minX, minY: row["min_y"], maxX: row["max_x"], maxY: row["max_y"]))
            }
            guard let first = boxes.first else { return Envelope(minX: -180, minY: -90, maxX: 180, maxY: 90) }
            return boxes.dropFirst().reduce(first) { $0.union($1) }
        }
    }

    /// Towns or villages of the active generation with their grid counts.
    public func areas(_ level: AreaLevel, town: String? = nil) throws -> [(code: String, name: String, town: String?, grids: Int)] {
        let generation = try activeGeneration()
        return try database.pool.read { db in
            switch level {
            case .town:
                return try Row.fetchAll(db, sql: """
                    SELECT t.code, t.name, (SELECT count(*) FROM grids g WHERE g.generation_id = t.generation_id AND g.town_code = t.code) AS grids
                    FROM towns t WHERE t.generation_id = ? ORDER BY t.code
                    """, arguments: [generation]).map { ($0["code"], $0["name"], nil, $0["grids"]) }
            case .village:
                var sql = """
                    SELECT v.code, v.name, v.town_code,
                        (SELECT count(*) FROM grids g WHERE g.generation_id = v.generation_id AND g.village_code = v.code) AS grids
                    FROM villages v JOIN towns t ON t.generation_id = v.generation_id AND t.code = v.town_code
                    WHERE v.generation_id = ?
                    """
                var arguments: StatementArguments = [generation]
                if let town {
                    sql += " AND (v.town_code = ? OR t.name = ?)"
                    arguments += [town, town]
                }
                return try Row.fetchAll(db, sql: sql + " ORDER BY v.code", arguments: arguments).map { ($0["code"], $0["name"], $0["town_code"], $0["grids"]) }
            case .grid:
                return try self.grids().map { ($0.code, $0.name, $0.townCode, 1) }
            }
        }
    }
}
