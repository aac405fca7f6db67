import Foundation
import GRDB
import GeoFiles
import GeoKit
import GridCore
import Localization
import Synchronization

/// The grid store over PostgreSQL + PostGIS: the same records and answers as
/// `GridStore` (SpatiaLite), for a city or province centre whose server
/// processes share one database. Assignment stays in this process (GEOS and
/// the fast index built from the grids read here); PostGIS keeps the
/// geometries, their GiST indexes and the box queries.
public final class PostGISStore: Sendable {
    public let database: PostGISDatabase
    public let rules: AssignmentRules
    /// The connection that LISTENs for other processes' announcements (`waitForChanges`).
    let listener = Mutex<(connection: PostgresConnection?, hasListened: Bool)>((nil, false))

    /// A hot standby that reads go to when it has replayed this process's last write (nil: none).
    public let standby: PostGISDatabase?
    /// When a read last found the standby unavailable (down, stalled, unreachable).
    private let standbyFailure = Mutex<Date?>(nil)
    /// After the standby failed a read, how long reads go to the primary before the standby is tried again.
    public static let standbyRetry: TimeInterval = 30

    /// `readURL`: a hot standby (streaming replication) of `url`, for reads. `statementTimeout`: a server's bound on
    /// each statement and on each wait for the database's answer (a stalled server is then a 503, not a hang);
    /// nil for the command line, whose imports of a province's rows must not be cut off.
    public init(url: String, readURL: String? = nil, rules: AssignmentRules = AssignmentRules(), statementTimeout: TimeInterval? = nil) throws {
        database = try PostGISDatabase(url: try PostgresURL(url), tracksCommits: readURL != nil, statementTimeout: statementTimeout)
        standby = try readURL.map { try PostGISDatabase(url: try PostgresURL($0), migrating: false, statementTimeout: statementTimeout) }
        self.rules = rules
    }

    public var location: String { database.url.description + (standby.map { " (reads: \($0.url.description))" } ?? "") }

    /// Runs a read on the standby if there is one and it has replayed this process's last
    /// commit (so a caller reads its own writes), else on the primary. A standby that
    /// cannot answer (down, stalled past the statement bound) hands the read to the
    /// primary, and the reads of the next `standbyRetry` seconds go there directly.
    func read<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard let standby = availableStandby else { return try database.read(body) }
        let needed = database.lastCommit
        var value: T?
        try onStandby {
            try standby.read { connection in
                if let needed {
                    let caughtUp = try connection.query("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok", [.text(needed)]).bool(0, "ok")
                    guard caughtUp == true else { return }
                }
                value = try body(connection)
            }
        }
        if let value { return value }
        return try database.read(body)
    }

    /// The standby, unless there is none or it failed a read less than `standbyRetry` ago.
    private var availableStandby: PostGISDatabase? {
        guard let standby else { return nil }
        let failed = standbyFailure.withLock { $0 }
        return failed.map { Date().timeIntervalSince($0) < Self.standbyRetry } == true ? nil : standby
    }

    /// Runs `body` on the standby; when the standby cannot answer, notes it (reads go to the primary
    /// for a while) and returns, leaving what `body` would have set unset.
    private func onStandby(_ body: () throws -> Void) throws {
        do {
            try body()
            standbyFailure.withLock { $0 = nil }
        } catch let error as WanggeError where error.kind == .unavailable {
            standbyFailure.withLock { $0 = Date() }
        }
    }

    /// Whether there is a standby and reads go to the primary because it failed one lately.
    public var isStandbyUnavailable: Bool { standby != nil && availableStandby == nil }

    /// How far the standby is behind the primary in seconds (0 when it has replayed all it received);
    /// nil without a standby, or while it is unavailable (`isStandbyUnavailable`).
    public func standbyLag() throws -> Double? {
        guard let standby = availableStandby else { return nil }
        var lag: Double?
        try onStandby {
            lag = try standby.read { connection in
                try connection.query("""
                    SELECT CASE WHEN NOT pg_is_in_recovery() THEN -1
                                WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                                ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END AS lag
                    """).double(0, "lag")
            }
        }
        return lag
    }

    public func engine() throws -> String {
        let versions = try read { try $0.versions() }
        return "PostgreSQL \(versions.server), PostGIS \(versions.postgis ?? "?")"
    }

    // MARK: Generations and areas

    public func activeGeneration() throws -> Int64 {
        try read { try Self.activeGeneration($0) }
    }

    static func activeGeneration(_ connection: PostgresConnection) throws -> Int64 {
        let rows = try connection.query("SELECT id FROM generations WHERE status = 'active'")
        guard let id = rows.count == 1 ? rows.int64(0, "id") : nil else {
            throw WanggeError.notFound(tr("no grids yet: import a grid file first"))
        }
        return id
    }

    public func generations() throws -> [GenerationSummary] {
        try read { try Self.generationSummaries($0, id: nil) }
    }

    public func generation(_ id: Int64) throws -> GenerationSummary {
        guard let found = try read({ try Self.generationSummaries($0, id: id).first }) else {
            throw WanggeError.notFound(tr("no generation \(id)"))
        }
        return found
    }

    static func generationSummaries(_ connection: PostgresConnection, id: Int64?) throws -> [GenerationSummary] {
        let rows = try connection.query("""
            SELECT n.id, n.name, n.status, n.source, n.parent_id, n.created_at, n.activated_at, n.retired_at, n.revision,
                   (SELECT count(*) FROM grids g WHERE g.generation_id = n.id) AS grids, n.nearest_tolerance_m, n.near_boundary_m
            FROM generations n \(id == nil ? "" : "WHERE n.id = $1") ORDER BY n.id
            """, id.map { [.integer($0)] } ?? [])
        return (0..<rows.count).map { r in
            let tolerance = rows.double(r, "nearest_tolerance_m"), band = rows.double(r, "near_boundary_m")
            return GenerationSummary(
                id: rows.int64(r, "id") ?? 0, name: rows.text(r, "name"), status: GenerationStatus(rawValue: rows.text(r, "status")) ?? .retired,
                source: rows.string(r, "source"), parent: rows.int64(r, "parent_id"), createdAt: rows.text(r, "created_at"),
                activatedAt: rows.string(r, "activated_at"), retiredAt: rows.string(r, "retired_at"), revision: rows.int(r, "revision") ?? 0,
                grids: rows.int(r, "grids") ?? 0,
                rules: tolerance.flatMap { t in band.map { AssignmentRules(nearestToleranceMeters: t, nearBoundaryMeters: $0) } })
        }
    }

    public func grids(generation: Int64? = nil) throws -> [GridInfo] {
        try grids(generation: generation, code: nil)
    }

    public func grid(code: String, generation: Int64? = nil) throws -> GridInfo? {
        try grids(generation: generation, code: code).first
    }

    private func grids(generation: Int64?, code: String?) throws -> [GridInfo] {
        try read { connection in try Self.gridInfos(connection, generation: try generation ?? Self.activeGeneration(connection), code: code) }
    }

    public func gridShapes(generation: Int64? = nil) throws -> [GridShape] {
        try areaShapes(.grid, generation: generation).map { GridShape(code: $0.code, wkb: $0.wkb) }
    }

    public func areaShapes(_ level: AreaLevel, generation: Int64? = nil) throws -> [(code: String, name: String, wkb: [UInt8])] {
        try read { connection in
            let generation = try generation ?? Self.activeGeneration(connection)
            let rows = try connection.query(
                "SELECT code, name, ST_AsBinary(geom) AS wkb FROM \(Self.table(level)) WHERE generation_id = $1 ORDER BY code", [.integer(generation)])
            return (0..<rows.count).map { r in (rows.text(r, "code"), rows.text(r, "name"), rows.bytes(r, "wkb") ?? []) }
        }
    }

    static func table(_ level: AreaLevel) -> String {
        switch level {
        case .town: "towns"
        case .village: "villages"
        case .grid: "grids"
        }
    }

    public func areas(_ level: AreaLevel, town: String? = nil) throws -> [(code: String, name: String, town: String?, grids: Int)] {
        if level == .grid { return try grids().map { ($0.code, $0.name, $0.townCode, 1) } }
        return try read { connection in
            let generation = try Self.activeGeneration(connection)
            let rows: PostgresRows
            if level == .town {
                rows = try connection.query("""
                    SELECT t.code, t.name, NULL AS town_code,
                           (SELECT count(*) FROM grids g WHERE g.generation_id = t.generation_id AND g.town_code = t.code) AS grids
                    FROM towns t WHERE t.generation_id = $1 ORDER BY t.code
                    """, [.integer(generation)])
            } else {
                rows = try connection.query("""
                    SELECT v.code, v.name, v.town_code,
                        (SELECT count(*) FROM grids g WHERE g.generation_id = v.generation_id AND g.village_code = v.code) AS grids
                    FROM villages v JOIN towns t ON t.generation_id = v.generation_id AND t.code = v.town_code
                    WHERE v.generation_id = $1 \(town == nil ? "" : "AND (v.town_code = $2 OR t.name = $2)") ORDER BY v.code
                    """, [.integer(generation)] + (town.map { [.text($0)] } ?? []))
            }
            return (0..<rows.count).map { r in (rows.text(r, "code"), rows.text(r, "name"), rows.string(r, "town_code"), rows.int(r, "grids") ?? 0) }
        }
    }

    public func areaCode(_ level: AreaLevel, named value: String, generation: Int64? = nil) throws -> String {
        try GridStore.areaCode(level, named: value, among: try grids(generation: generation), generation: generation)
    }

    /// The bounding box of the active generation's towns and every stored point.
    public func extent() throws -> Envelope {
        try read { connection in
            let generation = try Self.activeGeneration(connection)
            // ST_EstimatedExtent would be cheaper but is only an estimate; ST_Extent reads the index-sized boxes.
            let rows = try connection.query("""
                SELECT ST_XMin(e) AS min_x, ST_YMin(e) AS min_y, ST_XMax(e) AS max_x, ST_YMax(e) AS max_y FROM (
                    SELECT ST_Extent(geom) AS e FROM (
                        SELECT geom FROM towns WHERE generation_id = $1
                        UNION ALL SELECT geom FROM households UNION ALL SELECT geom FROM cameras UNION ALL SELECT geom FROM incidents) g) x
                """, [.integer(generation)])
            guard let minX = rows.double(0, "min_x") else { return Envelope(minX: -180, minY: -90, maxX: 180, maxY: 90) }
            return Envelope(minX: minX, minY: rows.double(0, "min_y") ?? minX, maxX: rows.double(0, "max_x") ?? minX, maxY: rows.double(0, "max_y") ?? minX)
        }
    }

    // MARK: Importing grids

    /// As `GridStore.importGrids`: the file read and validated alike, then one
    /// transaction (under the activation lock, so that two servers never
    /// activate at once) writes the generation, its areas and the assignments.
    public func importGrids(path: String, _ file: GridFileOptions = GridFileOptions(), generationName: String? = nil,
                            dispatch: DispatchRules = DispatchRules(), thresholds: PlanThresholds = PlanThresholds(), force: Bool = false,
                            progress: (@Sendable (String) -> Void)? = nil) throws -> ImportReport {
        let start = Date()
        let (features, hierarchy, shapes, county, read) = try GridStore.readValidGrids(path: path, file, thresholds: thresholds, progress: progress)
        var report = read
        let assigner = try GridAssigner(shapes: shapes, rules: rules)
        let rules = rules
        try createHouseholdPartitions(towns: hierarchy.towns.map(\.code))
        let (generation, assignments) = try database.write { connection -> (Int64, [PointAssignment]) in
            // Servers on one database activate one at a time.
            try connection.execute("SELECT pg_advisory_xact_lock(\(PostGISDatabase.AdvisoryLock.activation))")
            let points = try Self.storedPoints(connection)
            progress?(tr("assigning \(points.count) stored points to the new grids").rendered)
            let assignments = try assigner.assign(points.map(\.position))
            if !force { try GridStore.refuseMostlyUnassigned(assignments, source: path) }
            let active = try connection.query("SELECT id FROM generations WHERE status = 'active'").int64(0, "id")
            let generation = try Self.insertGeneration(connection, name: generationName ?? "import \((path as NSString).lastPathComponent)", source: path,
                                                       parent: active, county: county)
            try Self.insertAreas(connection, generation: generation, towns: hierarchy.towns, villages: hierarchy.villages,
                                 grids: zip(features, shapes).map { PlanGrid(info: $0.info, wkb: $1.wkb) })
            report.tokens = try Self.activate(connection, generation: generation, assigner: assigner, points: points, assignments: assignments,
                                              rules: rules, actor: "import grids", dispatch: dispatch, at: Date()).tokens
            return (generation, assignments)
        }
        report.imported = features.count
        report.generation = generation
        report.seconds = Date().timeIntervalSince(start)
        GridStore.tally(assignments, into: &report)
        return report
    }

    /// Inside a write transaction holding the activation lock: retires the active generation, activates
    /// `generation` with its assignments, re-routes open incidents and carries grid workers' tokens
    /// over, then tells every server on this database (NOTIFY, delivered at the commit).
    static func activate(_ connection: PostgresConnection, generation: Int64, assigner: GridAssigner, points: [GridStore.StoredPoint],
                         assignments: [PointAssignment], rules: AssignmentRules, actor: String, dispatch: DispatchRules, at now: Date)
        throws -> (retired: Int64?, rerouted: Int, tokens: [TokenScopeChange]) {
        let time = GridStore.timestamp(now)
        let retired = try connection.query("SELECT id FROM generations WHERE status = 'active'").int64(0, "id")
        try connection.query("UPDATE generations SET status = 'retired', retired_at = $1 WHERE status = 'active'", [.text(time)])
        try connection.query("""
            UPDATE generations SET status = 'active', activated_at = $1, retired_at = NULL, nearest_tolerance_m = $2, near_boundary_m = $3 WHERE id = $4
            """, [.text(time), .double(rules.nearestToleranceMeters), .double(rules.nearBoundaryMeters), .integer(generation)])
        // A re-activated generation gets today's assignments, not those of its first time.
        try connection.query("DELETE FROM assignments WHERE generation_id = $1", [.integer(generation)])
        try writeAssignments(connection, generation: generation, codes: assigner.codes, points: points, assignments: assignments)
        // Households whose new grid lies in another county move to its partition (created beforehand, see createHouseholdPartitions).
        try connection.query("""
            UPDATE households h SET county = n.county
            FROM (SELECT a.feature_id, coalesce(wangge_county(g.town_code), '') AS county FROM assignments a
                  LEFT JOIN grids g ON g.generation_id = a.generation_id AND g.code = a.grid_code
                  WHERE a.generation_id = $1 AND a.layer = 'household') n
            WHERE h.id = n.feature_id AND h.county <> n.county
            """, [.integer(generation)])
        let rerouted = try regridOpenIncidents(connection, generation: generation, at: now, actor: actor, rules: dispatch)
        let tokens = try rescopeTokens(connection, from: retired, to: generation)
        try connection.query("SELECT pg_notify('wangge', $1)", [.text("activated \(generation)")])
        GridStore.pauseForCrashTest()
        return (retired, rerouted, tokens)
    }

    /// Every stored household, camera and incident, by layer and id (as SpatiaLite orders them).
    static func storedPoints(_ connection: PostgresConnection) throws -> [GridStore.StoredPoint] {
        var points: [GridStore.StoredPoint] = []
        for layer in PointLayer.allCases {
            let rows = try connection.query("SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM \(layer.table) ORDER BY id")
            for r in 0..<rows.count {
                points.append(GridStore.StoredPoint(layer: layer, id: rows.text(r, "id"),
                                                    position: LonLat(rows.double(r, "lon") ?? .nan, rows.double(r, "lat") ?? .nan)))
            }
        }
        return points
    }

    /// Copies assignments in (binary COPY into a staging table), replacing a point's earlier row of the same generation.
    static func writeAssignments(_ connection: PostgresConnection, generation: Int64, codes: [String],
                                 points: [GridStore.StoredPoint], assignments: [PointAssignment]) throws {
        func code(_ index: Int32) -> String? { index >= 0 ? codes[Int(index)] : nil }
        try connection.execute("CREATE TEMP TABLE IF NOT EXISTS staged_assignments (LIKE assignments) ON COMMIT DELETE ROWS")
        try connection.copy("COPY staged_assignments FROM STDIN (FORMAT binary)") { copy in
            for (point, a) in zip(points, assignments) {
                copy.row(fields: 9)
                copy.int64(generation)
                copy.text(point.layer.rawValue)
                copy.text(point.id)
                copy.text(code(a.grid))
                copy.text(a.method.rawValue)
                copy.double(a.distanceMeters)
                copy.text(code(a.runnerUp))
                copy.double(a.runnerUpDistanceMeters)
                copy.text(code(a.nearestGrid))
            }
        }
        try connection.execute("""
            INSERT INTO assignments SELECT * FROM staged_assignments
            ON CONFLICT (generation_id, layer, feature_id) DO UPDATE SET grid_code = excluded.grid_code, method = excluded.method,
                distance_m = excluded.distance_m, runner_up = excluded.runner_up, runner_up_distance_m = excluded.runner_up_distance_m,
                nearest_grid = excluded.nearest_grid;
            TRUNCATE staged_assignments
            """)
    }

    // MARK: Importing points

    /// As `GridStore.importPoints`: the same reader and checks, batches assigned in this
    /// process and copied in (binary COPY), all in one transaction. Incidents already
    /// stored or repeating a ticket are refused alike, and the new ones routed as there.
    public func importPoints(_ layer: PointLayer, path: String, crs: CoordinateSystem = .wgs84, encoding: TextEncoding? = nil,
                             dispatch: DispatchRules = DispatchRules(), columnNames: PointColumnNames = PointColumnNames(),
                             progress: (@Sendable (String) -> Void)? = nil) throws -> ImportReport {
        let start = Date()
        let generation = try activeGeneration()
        let assigner = try GridAssigner(shapes: try gridShapes(generation: generation), rules: rules)
        var validator = try PointValidator(layer: layer, crs: crs, source: path, dispatch: dispatch)
        var report = ImportReport(file: path, imported: 0)
        report.generation = generation
        let attributes = layer.attributeColumns
        let source = crs.description
        if layer == .households { try createHouseholdPartitions(generation: generation) }
        try database.write { connection in
            try connection.execute("SELECT pg_advisory_xact_lock_shared(\(PostGISDatabase.AdvisoryLock.activation))")
            guard try Self.activeGeneration(connection) == generation else {
                throw WanggeError.invalid(tr("\(path): the active generation changed during the import (a plan was activated); nothing was imported, run it again"))
            }
            // Typed as the table's columns, so that each value is copied in its binary form.
            let types = try Self.columnTypes(connection, table: layer.table)
            let staging = "staged_\(layer.table)"
            try connection.execute("CREATE TEMP TABLE IF NOT EXISTS \(staging) (LIKE \(layer.table) INCLUDING DEFAULTS) ON COMMIT DROP")
            // Households carry their grid's county: the partition they are filed in.
            let counties = layer == .households ? try Self.gridCounties(connection, generation: generation) : [:]
            let columns = ["id"] + attributes + ["source_crs", "source_x", "source_y", "geom"] + (layer == .households ? ["county"] : [])
            var notes: [String] = []
            var tickets: [String: RecordLocation] = [:]
            var incidents: [String] = []
            try GridStore.forEachCheckedBatch(path: path, size: GridStore.importBatch, encoding: encoding, columnNames: columnNames, notes: &notes,
                                              validator: &validator, assigner: assigner) { records, assignments in
                if layer == .incidents {
                    try Self.refuseStoredIncidents(connection, records, source: path)
                    try Self.refuseRepeatedTickets(connection, records, seen: &tickets, source: path)
                    incidents += records.map(\.id)
                }
                try connection.copy("COPY \(staging) (\(columns.joined(separator: ", "))) FROM STDIN (FORMAT binary)") { copy in
                    for (record, assignment) in zip(records, assignments) {
                        copy.row(fields: columns.count)
                        copy.text(record.id)
                        for (column, value) in zip(attributes, record.values) { try Self.copyValue(value, as: types[column] ?? "text", into: &copy) }
                        copy.text(source)
                        copy.double(record.source.x)
                        copy.double(record.source.y)
                        copy.point(record.position)
                        if layer == .households { copy.text(assignment.grid >= 0 ? counties[assigner.codes[Int(assignment.grid)]] ?? "" : "") }
                    }
                }
                let stored = records.map { GridStore.StoredPoint(layer: layer, id: $0.id, position: $0.position) }
                try Self.writeAssignments(connection, generation: generation, codes: assigner.codes, points: stored, assignments: assignments)
                report.imported += records.count
                GridStore.tally(assignments, into: &report)
                progress?(tr("\(report.imported) \(layer.table) read, checked, assigned and written").rendered)
            }
            report.notes = notes
            try validator.finish()
            // A household imported over one bumps its version: an edit begun before the import is then stale.
            let updates = columns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
                + (layer == .households ? ", version = \(layer.table).version + 1" : "")
            if layer == .households {
                // Ids are unique across counties, which the key (county, id) does not see: writers of new ids take turns
                // (from here to the commit only), and a household imported again into another county's grid moves there.
                try connection.execute("""
                    SELECT pg_advisory_xact_lock(\(PostGISDatabase.AdvisoryLock.householdIDs));
                    UPDATE households h SET county = s.county FROM \(staging) s WHERE h.id = s.id AND h.county <> s.county
                    """)
            }
            try connection.execute("""
                INSERT INTO \(layer.table) (\(columns.joined(separator: ", "))) SELECT \(columns.joined(separator: ", ")) FROM \(staging)
                ON CONFLICT (\(layer == .households ? "county, id" : "id")) DO UPDATE SET \(updates)
                """)
            if layer == .incidents {
                try Self.routeImportedIncidents(connection, ids: incidents, generation: generation, rules: dispatch, source: path)
            }
        }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Each column's type name as `format_type` gives it (integer, double precision, text, geometry(Point,4326)).
    static func columnTypes(_ connection: PostgresConnection, table: String) throws -> [String: String] {
        let rows = try connection.query("""
            SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type FROM pg_attribute a
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
            """, [.text(table)])
        return Dictionary(uniqueKeysWithValues: (0..<rows.count).map { (rows.text($0, "name"), rows.text($0, "type")) })
    }

    /// A checked value (as the SpatiaLite path binds it) in a column's binary form.
    static func copyValue(_ value: DatabaseValue, as type: String, into copy: inout PostgresCopyWriter) throws {
        switch (value.storage, type) {
        case (.null, _): copy.null()
        case (.int64(let i), "integer"): copy.int32(Int32(clamping: i))
        case (.int64(let i), "bigint"): copy.int64(i)
        case (.int64(let i), "double precision"): copy.double(Double(i))
        case (.double(let d), "double precision"): copy.double(d)
        case (.string(let s), "text"): copy.text(s)
        // A checked value of another type than its column's: a fault of this program, not of the file.
        default: throw PostgresError(state: "", message: "internal: a \(value.storage) value for a \(type) column")
        }
    }

    // MARK: Counts and statistics

    public func pointCounts() throws -> [PointLayer: Int] {
        try read { connection in
            var counts: [PointLayer: Int] = [:]
            for layer in PointLayer.allCases { counts[layer] = try connection.query("SELECT count(*) AS n FROM \(layer.table)").int(0, "n") ?? 0 }
            return counts
        }
    }

    public func unassignedCounts(generation: Int64? = nil) throws -> [PointLayer: Int] {
        try read { connection in
            let generation = try generation ?? Self.activeGeneration(connection)
            var counts: [PointLayer: Int] = [:]
            for layer in PointLayer.allCases {
                counts[layer] = try connection.query("SELECT count(*) AS n FROM assignments WHERE generation_id = $1 AND layer = $2 AND method = 'none'",
                                                     [.integer(generation), .text(layer.rawValue)]).int(0, "n") ?? 0
            }
            return counts
        }
    }

    /// As `GridStore.statistics`, in PostgreSQL's words (FILTER for SQLite's summed booleans).
    public func statistics(by level: AreaLevel, generation: Int64? = nil, grid: String? = nil) throws -> [AreaStatistics] {
        let (codeColumn, nameJoin, nameColumn): (String, String, String) = switch level {
        case .grid: ("g.code", "", "g.name")
        case .village: ("g.village_code", "JOIN villages n ON n.generation_id = g.generation_id AND n.code = g.village_code", "n.name")
        case .town: ("g.town_code", "JOIN towns n ON n.generation_id = g.generation_id AND n.code = g.town_code", "n.name")
        }
        return try read { connection in
            let generation = try generation ?? Self.activeGeneration(connection)
            let rows = try connection.query("""
                WITH a AS (
                    SELECT grid_code, layer, feature_id, runner_up, method FROM assignments
                    WHERE generation_id = $1 AND \(grid == nil ? "grid_code IS NOT NULL" : "grid_code = $2")),
                h AS (SELECT a.grid_code, count(*) AS n, sum(x.members) AS residents
                      FROM a JOIN households x ON x.id = a.feature_id WHERE a.layer = 'household' GROUP BY a.grid_code),
                c AS (SELECT a.grid_code, count(*) AS n, count(*) FILTER (WHERE x.status = 'online') AS online
                      FROM a JOIN cameras x ON x.id = a.feature_id WHERE a.layer = 'camera' GROUP BY a.grid_code),
                i AS (SELECT a.grid_code, count(*) AS n, count(*) FILTER (WHERE x.status NOT IN ('resolved', 'closed')) AS open
                      FROM a JOIN incidents x ON x.id = a.feature_id WHERE a.layer = 'incident' GROUP BY a.grid_code),
                e AS (SELECT grid_code, count(*) FILTER (WHERE runner_up IS NOT NULL) AS near, count(*) FILTER (WHERE method = 'nearest') AS nearest
                      FROM a GROUP BY grid_code)
                SELECT \(codeColumn) AS code, min(\(nameColumn)) AS name, count(*) AS grids,
                       sum(coalesce(h.n, 0)) AS households, sum(coalesce(h.residents, 0)) AS residents,
                       sum(coalesce(c.n, 0)) AS cameras, sum(coalesce(c.online, 0)) AS cameras_online,
                       sum(coalesce(i.n, 0)) AS incidents, sum(coalesce(i.open, 0)) AS open_incidents,
                       sum(coalesce(e.near, 0)) AS near_boundary, sum(coalesce(e.nearest, 0)) AS nearest
                FROM grids g \(nameJoin)
                LEFT JOIN h ON h.grid_code = g.code LEFT JOIN c ON c.grid_code = g.code
                LEFT JOIN i ON i.grid_code = g.code LEFT JOIN e ON e.grid_code = g.code
                WHERE g.generation_id = $1 \(grid == nil ? "" : "AND g.code = $2")
                GROUP BY \(codeColumn) ORDER BY \(codeColumn)
                """, [.integer(generation)] + (grid.map { [.text($0)] } ?? []))
            return (0..<rows.count).map { r in
                AreaStatistics(code: rows.text(r, "code"), name: rows.text(r, "name"), grids: rows.int(r, "grids") ?? 0,
                               households: rows.int(r, "households") ?? 0, residents: rows.int(r, "residents") ?? 0,
                               cameras: rows.int(r, "cameras") ?? 0, camerasOnline: rows.int(r, "cameras_online") ?? 0,
                               incidents: rows.int(r, "incidents") ?? 0, openIncidents: rows.int(r, "open_incidents") ?? 0,
                               nearBoundary: rows.int(r, "near_boundary") ?? 0, nearest: rows.int(r, "nearest") ?? 0)
            }
        }
    }

    // MARK: Points

    /// `GridStore.householdColumns` in PostGIS's function names.
    static let householdColumns = GridStore.householdColumns.replacingOccurrences(of: "X(h.geom)", with: "ST_X(h.geom)")
        .replacingOccurrences(of: "Y(h.geom)", with: "ST_Y(h.geom)")

    static func householdRecord(_ rows: PostgresRows, _ r: Int) -> HouseholdRecord {
        HouseholdRecord(id: rows.text(r, "id"), lon: rows.double(r, "lon") ?? .nan, lat: rows.double(r, "lat") ?? .nan, address: rows.string(r, "address"),
                        head: rows.string(r, "head"), phone: rows.string(r, "phone"), idNumber: rows.string(r, "id_number"),
                        members: rows.int(r, "members") ?? 0, tags: rows.text(r, "tags").split(separator: ";").map(String.init),
                        grid: rows.string(r, "grid_code"), method: rows.string(r, "method").flatMap(AssignmentMethod.init(rawValue:)),
                        version: rows.int(r, "version") ?? 1)
    }

    public func households(grid: String, tag: String? = nil, generation: Int64? = nil) throws -> [HouseholdRecord] {
        try householdPage(grid: grid, tag: tag, query: nil, searchNames: false, limit: nil, after: nil, generation: generation)
    }

    public func householdPage(grid: String?, tag: String?, query: String?, searchNames: Bool, searchAddresses: Bool = true, limit: Int?,
                              after cursor: String?, generation: Int64? = nil) throws -> [HouseholdRecord] {
        try read { connection in
            let generation = try generation ?? Self.activeGeneration(connection)
            var sql = """
                SELECT \(Self.householdColumns)
                FROM assignments a JOIN households h ON h.id = a.feature_id
                WHERE a.generation_id = $1 AND a.layer = 'household'
                """
            var arguments: [PostgresValue] = [.integer(generation)]
            func bind(_ value: PostgresValue) -> String {
                arguments.append(value)
                return "$\(arguments.count)"
            }
            if let grid { sql += " AND a.grid_code = \(bind(.text(grid)))" }
            if let tag { sql += " AND strpos(';' || h.tags || ';', ';' || \(bind(.text(tag))) || ';') > 0" }
            if let query, !query.isEmpty {
                let columns: [String] = (searchAddresses ? ["h.address"] : []) + (searchNames ? ["h.head"] : [])
                let parameter = columns.isEmpty ? "" : bind(.text(query))
                sql += columns.isEmpty ? " AND false" : " AND (" + columns.map { "strpos(\($0), \(parameter)) > 0" }.joined(separator: " OR ") + ")"
            }
            if let cursor { sql += " AND h.id > \(bind(.text(cursor)))" }
            sql += " ORDER BY h.id"
            if let limit { sql += " LIMIT \(bind(.integer(Int64(limit))))" }
            let rows = try connection.query(sql, arguments)
            return (0..<rows.count).map { Self.householdRecord(rows, $0) }
        }
    }

    public func household(id: String) throws -> HouseholdRecord {
        let found = try read { try Self.household($0, id: id) }
        guard let found else { throw WanggeError.householdNotFound(id) }
        return found
    }

    public func householdGrids(generation: Int64? = nil) throws -> [(position: LonLat, grid: String?)] {
        try read { connection in
            let generation = try generation ?? Self.activeGeneration(connection)
            let rows = try connection.query("""
                SELECT ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, a.grid_code FROM households h
                LEFT JOIN assignments a ON a.generation_id = $1 AND a.layer = 'household' AND a.feature_id = h.id
                """, [.integer(generation)])
            return (0..<rows.count).map { r in (LonLat(rows.double(r, "lon") ?? .nan, rows.double(r, "lat") ?? .nan), rows.string(r, "grid_code")) }
        }
    }

    public func positions(_ layer: PointLayer) throws -> [LonLat] {
        try read { connection in
            let rows = try connection.query("SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM \(layer.table)")
            return (0..<rows.count).map { r in LonLat(rows.double(r, "lon") ?? .nan, rows.double(r, "lat") ?? .nan) }
        }
    }

    public func cameraViews() throws -> [CameraView] {
        try read { connection in
            let rows = try connection.query("""
                SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat, coalesce(type, '') AS type, heading_deg, fov_deg, range_m, status FROM cameras ORDER BY id
                """)
            return (0..<rows.count).map { r in
                CameraView(id: rows.text(r, "id"), position: LonLat(rows.double(r, "lon") ?? .nan, rows.double(r, "lat") ?? .nan),
                           type: rows.text(r, "type"), headingDegrees: rows.double(r, "heading_deg"), fieldOfViewDegrees: rows.double(r, "fov_deg"),
                           rangeMeters: rows.double(r, "range_m"), online: rows.text(r, "status") == "online")
            }
        }
    }

    public func history(_ layer: PointLayer, id: String) throws -> [(generation: GenerationSummary, grid: String?, method: AssignmentMethod?)] {
        try read { connection in
            guard try connection.query("SELECT 1 FROM \(layer.table) WHERE id = $1", [.text(id)]).count == 1 else {
                throw WanggeError.notFound(tr("no \(layer.rawValue) \(id)"))
            }
            let rows = try connection.query("SELECT generation_id, grid_code, method FROM assignments WHERE layer = $1 AND feature_id = $2",
                                            [.text(layer.rawValue), .text(id)])
            var found: [Int64: (String?, AssignmentMethod?)] = [:]
            for r in 0..<rows.count {
                found[rows.int64(r, "generation_id") ?? 0] = (rows.string(r, "grid_code"), rows.string(r, "method").flatMap(AssignmentMethod.init(rawValue:)))
            }
            return try Self.generationSummaries(connection, id: nil).filter { $0.status != .draft }.compactMap { generation in
                found[generation.id].map { (generation, $0.0, $0.1) }
            }
        }
    }

    // MARK: OGC features

    /// As `GridStore.features`: the same properties (the same SQL expressions), the box through the GiST index.
    public func features(_ collection: Collection, bbox: BoundingBox? = nil, grid: String? = nil, id: String? = nil,
                         limit: Int, offset: Int, generation: Int64? = nil,
                         countLimit: Int = GridStore.matchCountLimit) throws -> (matched: Int?, features: [FeatureRecord]) {
        let spec = Self.featureSpec(collection)
        let names = spec.properties.map(\.0)
        return try read { connection in
            let generation = try generation ?? Self.activeGeneration(connection)
            // $1 is the generation in every statement, used or not: cast so that its type is known either way.
            var conditions = ["$1::bigint IS NOT NULL"]
            var arguments: [PostgresValue] = [.integer(generation)]
            func bind(_ value: PostgresValue) -> String {
                arguments.append(value)
                return "$\(arguments.count)"
            }
            if collection.isPolygon { conditions.append("t.generation_id = $1") }
            if let bbox {
                let (minLon, minLat) = (bind(.double(bbox.minLon)), bind(.double(bbox.minLat)))
                let (maxLon, maxLat) = (bind(.double(bbox.maxLon)), bind(.double(bbox.maxLat)))
                let box = "ST_MakeEnvelope(\(minLon), \(minLat), \(maxLon), \(maxLat), 4326)"
                // The index's boxes are rounded outwards: the geometry must really touch the box.
                conditions.append(collection.isPolygon ? "t.geom && \(box) AND ST_Intersects(t.geom, \(box))"
                                  : "t.geom && \(box) AND ST_X(t.geom) BETWEEN \(minLon) AND \(maxLon) AND ST_Y(t.geom) BETWEEN \(minLat) AND \(maxLat)")
            }
            if let grid { conditions.append("\(spec.grid) = \(bind(.text(grid)))") }
            if let id { conditions.append("\(spec.id) = \(bind(.text(id)))") }
            let whereClause = "WHERE " + conditions.joined(separator: " AND ")
            let (limitArgument, offsetArgument) = (bind(.integer(Int64(limit))), bind(.integer(Int64(offset))))
            // Up to countLimit matches, one statement finds them in id order, counts them and reads the page
            // from them (ids are unique within a generation's collection); past the limit the page is read apart.
            let matchedAndPage = try connection.query("""
                WITH matches AS (SELECT \(spec.id) AS match_id FROM \(spec.from) \(whereClause) ORDER BY \(spec.id) LIMIT \(countLimit + 1)),
                     page AS (SELECT match_id FROM matches ORDER BY match_id LIMIT \(limitArgument) OFFSET \(offsetArgument))
                SELECT (SELECT count(*) FROM matches) AS matched_count, \(spec.select)
                FROM (SELECT 1) AS always_one_row LEFT JOIN (
                    page JOIN \(collection.isPolygon ? spec.from : "(\(spec.from))") ON \(spec.id) = page.match_id\(collection.isPolygon ? " AND t.generation_id = $1" : "")) ON true
                ORDER BY \(spec.id)
                """, arguments)
            let counted = matchedAndPage.int(0, "matched_count") ?? 0
            if counted <= countLimit {
                let found = (0..<matchedAndPage.count).filter { matchedAndPage.string($0, "feature_id") != nil }
                return (counted, found.map { Self.featureRecord(matchedAndPage, $0, names: names) })
            }
            let rows = try connection.query("""
                SELECT \(spec.select) FROM \(spec.from) \(whereClause)
                ORDER BY \(spec.id) LIMIT \(limitArgument) OFFSET \(offsetArgument)
                """, arguments)
            return (nil, (0..<rows.count).map { Self.featureRecord(rows, $0, names: names) })
        }
    }

    /// `GridStore.featureSpec` with PostGIS's GeoJSON and `$1` for the generation.
    static func featureSpec(_ collection: Collection) -> GridStore.FeatureSpec {
        let spec = GridStore.featureSpec(collection)
        return GridStore.FeatureSpec(from: spec.from.replacingOccurrences(of: "?1", with: "$1"), grid: spec.grid, id: spec.id,
                                     properties: spec.properties, geoJSON: "ST_AsGeoJSON(t.geom, 7)")
    }

    static func featureRecord(_ rows: PostgresRows, _ r: Int, names: [String]) -> FeatureRecord {
        let properties = names.map { name -> (key: String, value: PropertyValue) in
            let value = rows.databaseValue(r, name)
            return (name, GridStore.timeProperties.contains(name) ? GridStore.displayedTime(value) : GridStore.propertyValue(value))
        }
        return FeatureRecord(id: rows.text(r, "feature_id"), geometryJSON: rows.string(r, "feature_geometry") ?? "null",
                             properties: properties, grid: rows.string(r, "feature_grid"))
    }

    public func eachFeature(_ collection: Collection, areas: [String]?, generation: Int64? = nil, _ body: (FeatureRecord) throws -> Void) throws {
        let spec = Self.featureSpec(collection)
        let names = spec.properties.map(\.0)
        try read { connection in
            let generation = try generation ?? Self.activeGeneration(connection)
            var conditions = ["$1::bigint IS NOT NULL"]
            var arguments: [PostgresValue] = [.integer(generation)]
            if collection.isPolygon { conditions.append("t.generation_id = $1") }
            if let areas {
                conditions.append("\(collection.isPolygon ? spec.id : spec.grid) = ANY($2::text[])")
                arguments.append(Self.textArray(areas))
            }
            // Through a cursor, a few thousand rows at a time: an export of a province never holds every row.
            try connection.transaction {
                try connection.query("""
                    DECLARE features NO SCROLL CURSOR FOR
                    SELECT \(spec.select) FROM \(spec.from) WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(spec.id)
                    """, arguments)
                while true {
                    let rows = try connection.query("FETCH 5000 FROM features")
                    guard rows.count > 0 else { break }
                    for r in 0..<rows.count { try body(Self.featureRecord(rows, r, names: names)) }
                }
            }
        }
    }
}
