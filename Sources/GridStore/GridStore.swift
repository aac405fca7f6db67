import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

/// The grid store over one SpatiaLite file: imports, assignment, queries.
public final class GridStore: Sendable {
    public let database: SpatiaLiteDatabase
    public let rules: AssignmentRules

    /// Without `create`, a path with no database is an error (`WanggeError`), not a new file.
    /// `busyTimeout`: how long a write waits for another process's write (an import) before failing as busy.
    public init(path: String, rules: AssignmentRules = AssignmentRules(), create: Bool = true, busyTimeout: TimeInterval = 10) throws {
        database = try SpatiaLiteDatabase(path: path, create: create, busyTimeout: busyTimeout)
        self.rules = rules
    }

    /// A stored point, for (re-)assignment.
    struct StoredPoint: Equatable {
        let layer: PointLayer
        let id: String
        let position: LonLat
    }

    /// Every stored household, camera and incident, by layer and id.
    static func storedPoints(_ db: Database) throws -> [StoredPoint] {
        var points: [StoredPoint] = []
        for layer in PointLayer.allCases {
            let rows = try Row.fetchCursor(db, sql: "SELECT id, X(geom) AS lon, Y(geom) AS lat FROM \(layer.table) ORDER BY id")
            while let row = try rows.next() {
                points.append(StoredPoint(layer: layer, id: row["id"], position: LonLat(row["lon"], row["lat"])))
            }
        }
        return points
    }

    static func writeAssignments(_ db: Database, generation: Int64, codes: [String], points: [StoredPoint], assignments: [PointAssignment]) throws {
        func code(_ index: Int32) -> String? { index >= 0 ? codes[Int(index)] : nil }
        // In key order: the table is its primary key's B-tree, and appending is far cheaper than inserting at random.
        let order = points.indices.sorted { (points[$0].layer.rawValue, points[$0].id) < (points[$1].layer.rawValue, points[$1].id) }
        let columns = "generation_id, layer, feature_id, grid_code, method, distance_m, runner_up, runner_up_distance_m, nearest_grid"
        // Many rows go through a temporary table and one statement: SQLite keeps an undo copy of
        // every page a statement first touches, and 64-row statements into the (generation, grid)
        // index touch dozens of pages each, so one statement copies each page once instead.
        let staged = points.count >= stagedAssignmentRows
        if staged {
            try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS staged_assignments AS SELECT \(columns) FROM assignments WHERE 0")
        }
        try BulkInsert(db, head: staged ? "INSERT INTO temp.staged_assignments (\(columns))" : "INSERT OR REPLACE INTO assignments (\(columns))",
                       row: "(?, ?, ?, ?, ?, ?, ?, ?, ?)").insert(order) { row, index in
            let (point, a) = (points[index], assignments[index])
            row.bind(generation)
            row.bind(point.layer.rawValue)
            row.bind(point.id)
            row.bind(code(a.grid))
            row.bind(a.method.rawValue)
            row.bind(a.distanceMeters)
            row.bind(code(a.runnerUp))
            row.bind(a.runnerUpDistanceMeters)
            row.bind(code(a.nearestGrid))
        }
        if staged {
            try db.execute(sql: """
                INSERT OR REPLACE INTO assignments (\(columns)) SELECT \(columns) FROM temp.staged_assignments ORDER BY rowid;
                DELETE FROM temp.staged_assignments
                """)
        }
    }

    /// From how many rows `writeAssignments` stages them; a household added or moved by hand goes straight in.
    static let stagedAssignmentRows = 1_000

    /// Runs a large write with a page cache of 128 MB instead of SQLite's 2 MB,
    /// so that a county's rows and indexes stay in memory until the commit
    /// instead of spilling half-built pages to the write-ahead log.
    static func withBulkWriteCache<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        let cacheSize = try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? -2000
        try db.execute(sql: "PRAGMA cache_size = -131072")
        defer { try? db.execute(sql: "PRAGMA cache_size = \(cacheSize)") }
        return try body()
    }

    static func tally(_ assignments: [PointAssignment], into report: inout ImportReport) {
        for a in assignments {
            report.methods[a.method, default: 0] += 1
            if a.runnerUp >= 0 { report.nearBoundary += 1 }
        }
    }

    /// The active generation's id, or an error telling the user to import grids.
    public func activeGeneration() throws -> Int64 {
        do {
            return try database.pool.read(Self.activeGeneration)
        } catch let error as WanggeError {
            throw error.prefixed(database.path)
        }
    }

    /// The active generation's grid polygons, sorted by code, for an assigner or locator.
    public func gridShapes(generation: Int64? = nil) throws -> [GridShape] {
        let generation = try generation ?? activeGeneration()
        return try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT code, AsBinary(geom) AS wkb FROM grids WHERE generation_id = ? ORDER BY code", arguments: [generation])
                .map { row in
                    let data: Data = row["wkb"]
                    return GridShape(code: row["code"], wkb: [UInt8](data))
                }
        }
    }

    /// Code, name and polygon (WKB) of every town, village or grid of a generation, in code order.
    public func areaShapes(_ level: AreaLevel, generation: Int64? = nil) throws -> [(code: String, name: String, wkb: [UInt8])] {
        let generation = try generation ?? activeGeneration()
        let table = switch level {
        case .town: "towns"
        case .village: "villages"
        case .grid: "grids"
        }
        return try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT code, name, AsBinary(geom) AS wkb FROM \(table) WHERE generation_id = ? ORDER BY code", arguments: [generation])
                .map { row in (row["code"], row["name"], [UInt8](row["wkb"] as Data)) }
        }
    }

    /// Every camera with what coverage needs.
    public func cameraViews() throws -> [CameraView] {
        try database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, X(geom) AS lon, Y(geom) AS lat, coalesce(type, '') AS type, heading_deg, fov_deg, range_m, status FROM cameras ORDER BY id
                """)
                .map { row in
                    CameraView(id: row["id"], position: LonLat(row["lon"], row["lat"]), type: row["type"], headingDegrees: row["heading_deg"],
                               fieldOfViewDegrees: row["fov_deg"], rangeMeters: row["range_m"], online: (row["status"] as String) == "online")
                }
        }
    }

    /// Each household's position and the grid it is assigned to (nil for none).
    public func householdGrids(generation: Int64? = nil) throws -> [(position: LonLat, grid: String?)] {
        let generation = try generation ?? activeGeneration()
        return try database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT X(h.geom) AS lon, Y(h.geom) AS lat, a.grid_code FROM households h
                LEFT JOIN assignments a ON a.generation_id = ? AND a.layer = 'household' AND a.feature_id = h.id
                """, arguments: [generation]).map { (LonLat($0["lon"], $0["lat"]), $0["grid_code"]) }
        }
    }

    /// Positions of every stored point of a layer.
    public func positions(_ layer: PointLayer) throws -> [LonLat] {
        try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT X(geom) AS lon, Y(geom) AS lat FROM \(layer.table)").map { LonLat($0["lon"], $0["lat"]) }
        }
    }

    /// Every grid of the active generation with its hierarchy and worker.
    public func grids(generation: Int64? = nil) throws -> [GridInfo] {
        try grids(generation: generation, code: nil)
    }

    /// One grid by code, read alone.
    public func grid(code: String, generation: Int64? = nil) throws -> GridInfo? {
        try grids(generation: generation, code: code).first
    }

    func grids(generation: Int64?, code: String?) throws -> [GridInfo] {
        let generation = try generation ?? activeGeneration()
        return try database.pool.read { db in try Self.gridInfos(db, generation: generation, code: code) }
    }

    /// A grid's columns with its village's and town's names, over `grids g` joined to `villages v` and `towns t`.
    static let gridInfoColumns = """
        g.code, g.name, g.village_code, v.name AS village_name, g.town_code, t.name AS town_name, g.worker_name, g.worker_phone, g.area_m2
        """

    /// A grid from a row of `gridInfoColumns`.
    static func gridInfo(_ row: Row) -> GridInfo {
        GridInfo(code: row["code"], name: row["name"], villageCode: row["village_code"], villageName: row["village_name"],
                 townCode: row["town_code"], townName: row["town_name"], workerName: row["worker_name"], workerPhone: row["worker_phone"],
                 areaSquareMetres: row["area_m2"])
    }

    /// Households assigned to a grid in the active generation, optionally with a tag.
    public func households(grid: String, tag: String? = nil, generation: Int64? = nil) throws -> [HouseholdRecord] {
        try householdPage(grid: grid, tag: tag, query: nil, searchNames: false, limit: nil, after: nil, generation: generation)
    }

    /// Counts per town, village or grid of the active generation, in code order.
    /// With `grid`, only that grid's row (cheap: the aggregates read only its assignments).
    public func statistics(by level: AreaLevel, generation: Int64? = nil, grid: String? = nil) throws -> [AreaStatistics] {
        let generation = try generation ?? activeGeneration()
        let (codeColumn, nameJoin, nameColumn): (String, String, String) = switch level {
        case .grid: ("g.code", "", "g.name")
        case .village: ("g.village_code", "JOIN villages n ON n.generation_id = g.generation_id AND n.code = g.village_code", "n.name")
        case .town: ("g.town_code", "JOIN towns n ON n.generation_id = g.generation_id AND n.code = g.town_code", "n.name")
        }
        return try database.pool.read { db in
            // One aggregate pass per layer, joined to the grids: correlated
            // subqueries per grid took seconds on the sample county.
            let rows = try Row.fetchAll(db, sql: """
                WITH a AS (
                    SELECT grid_code, layer, feature_id, runner_up, method FROM assignments
                    WHERE generation_id = ?1 AND \(grid == nil ? "grid_code IS NOT NULL" : "grid_code = ?2")),
                h AS (SELECT a.grid_code, count(*) AS n, sum(x.members) AS residents
                      FROM a JOIN households x ON x.id = a.feature_id WHERE a.layer = 'household' GROUP BY a.grid_code),
                c AS (SELECT a.grid_code, count(*) AS n, sum(x.status = 'online') AS online
                      FROM a JOIN cameras x ON x.id = a.feature_id WHERE a.layer = 'camera' GROUP BY a.grid_code),
                i AS (SELECT a.grid_code, count(*) AS n, sum(x.status NOT IN ('resolved', 'closed')) AS open
                      FROM a JOIN incidents x ON x.id = a.feature_id WHERE a.layer = 'incident' GROUP BY a.grid_code),
                e AS (SELECT grid_code, sum(runner_up IS NOT NULL) AS near, sum(method = 'nearest') AS nearest
                      FROM a GROUP BY grid_code)
                SELECT \(codeColumn) AS code, \(nameColumn) AS name, count(*) AS grids,
                       sum(coalesce(h.n, 0)) AS households, sum(coalesce(h.residents, 0)) AS residents,
                       sum(coalesce(c.n, 0)) AS cameras, sum(coalesce(c.online, 0)) AS cameras_online,
                       sum(coalesce(i.n, 0)) AS incidents, sum(coalesce(i.open, 0)) AS open_incidents,
                       sum(coalesce(e.near, 0)) AS near_boundary, sum(coalesce(e.nearest, 0)) AS nearest
                FROM grids g \(nameJoin)
                LEFT JOIN h ON h.grid_code = g.code LEFT JOIN c ON c.grid_code = g.code
                LEFT JOIN i ON i.grid_code = g.code LEFT JOIN e ON e.grid_code = g.code
                WHERE g.generation_id = ?1 \(grid == nil ? "" : "AND g.code = ?2")
                GROUP BY \(codeColumn) ORDER BY \(codeColumn)
                """, arguments: grid == nil ? [generation] : [generation, grid])
            return rows.map { row in
                AreaStatistics(code: row["code"], name: row["name"], grids: row["grids"], households: row["households"],
                               residents: row["residents"], cameras: row["cameras"], camerasOnline: row["cameras_online"],
                               incidents: row["incidents"], openIncidents: row["open_incidents"], nearBoundary: row["near_boundary"],
                               nearest: row["nearest"])
            }
        }
    }

    /// Points of the active generation that no grid took, per layer.
    public func unassignedCounts(generation: Int64? = nil) throws -> [PointLayer: Int] {
        let generation = try generation ?? activeGeneration()
        return try database.pool.read { db in
            var counts: [PointLayer: Int] = [:]
            for layer in PointLayer.allCases {
                counts[layer] = try Int.fetchOne(db, sql: "SELECT count(*) FROM assignments WHERE generation_id = ? AND layer = ? AND method = 'none'",
                                                 arguments: [generation, layer.rawValue]) ?? 0
            }
            return counts
        }
    }

    /// How many records each layer holds.
    public func pointCounts() throws -> [PointLayer: Int] {
        try database.pool.read { db in
            var counts: [PointLayer: Int] = [:]
            for layer in PointLayer.allCases {
                counts[layer] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(layer.table)") ?? 0
            }
            return counts
        }
    }
}

extension GridStore {
    /// The code of the grid (by code), village or town (by code or name) of a
    /// generation (default: the active one) that `value` names, for a filter: a
    /// mistyped one is a not-found error naming the level, with the closest match, not an empty answer.
    public func areaCode(_ level: AreaLevel, named value: String, generation: Int64? = nil) throws -> String {
        try Self.areaCode(level, named: value, among: try grids(generation: generation), generation: generation)
    }

    /// `areaCode` over a generation's grids, whichever database they came from.
    static func areaCode(_ level: AreaLevel, named value: String, among grids: [GridInfo], generation: Int64?) throws -> String {
        let candidates: [(code: String, name: String?)] = switch level {
        case .grid: grids.map { ($0.code, nil) }
        case .village: grids.map { ($0.villageCode, $0.villageName) }
        case .town: grids.map { ($0.townCode, $0.townName) }
        }
        if let match = candidates.first(where: { $0.code == value || $0.name == value }) { return match.code }
        let words = Set(candidates.flatMap { [$0.code] + ($0.name.map { [$0] } ?? []) })
        // Edit distance is quadratic: only for values as short as a code.
        let closest = value.count > TextLimits.code ? nil
            : words.map { (word: $0, distance: Self.editDistance($0, value)) }.min { ($0.distance, $0.word) < ($1.distance, $1.word) }
        let suggestion = closest.flatMap { $0.distance <= max(2, value.count / 3) ? $0.word : nil }
        let levelWord = switch level {
        case .grid: tr("grid")
        case .village: tr("village")
        case .town: tr("town")
        }
        throw WanggeError(.notFound,
            suggestion.map { tr("no \(levelWord) \(TextLimits.shown(value)) in \(Self.generationWords(generation)) (did you mean \"\($0)\"?)") }
                ?? tr("no \(levelWord) \(TextLimits.shown(value)) in \(Self.generationWords(generation))"),
            field: level.rawValue, value: value, allowed: suggestion.map { [$0] })
    }

    static func generationWords(_ generation: Int64?) -> Localized {
        generation.map { tr("generation \($0)") } ?? tr("the active generation")
    }

    /// Levenshtein distance in characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
