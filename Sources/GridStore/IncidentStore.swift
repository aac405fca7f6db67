import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

/// A generation's grids ready to locate places: its id, the grid codes in
/// the order assignments refer to them, and the rule's answer for a point.
public struct Placement {
    public let generation: Int64
    public let codes: [String]
    public let locate: (LonLat) throws -> PointAssignment

    public init(generation: Int64, codes: [String], locate: @escaping (LonLat) throws -> PointAssignment) {
        self.generation = generation
        self.codes = codes
        self.locate = locate
    }
}

/// Thrown inside a write when another generation became active after the
/// place was located (a report, a move): the caller locates again and retries.
struct GenerationChanged: Error {}

/// A new report from a citizen, a grid worker or a hotline.
public struct IncidentReport: Sendable {
    public var position: LonLat
    public var source: (x: Double, y: Double, crs: CoordinateSystem)
    public var category: String
    public var channel: String
    public var severity: String?
    public var description: String?
    public var reporter: String?
    public var reportedAt: Date
    /// When it happened (not after `reportedAt`); nil when the reporter did not say.
    public var occurredAt: Date?
    /// The channel's ticket number: one incident per ticket and channel.
    public var externalID: String?

    public init(position: LonLat, source: (x: Double, y: Double, crs: CoordinateSystem), category: String, channel: String,
                severity: String?, description: String?, reporter: String?, reportedAt: Date, occurredAt: Date? = nil, externalID: String? = nil) {
        self.position = position
        self.source = source
        self.category = category
        self.channel = channel
        self.severity = severity
        self.description = description
        self.reporter = reporter
        self.reportedAt = reportedAt
        self.occurredAt = occurredAt
        self.externalID = externalID
    }
}

extension GridStore {
    /// How the store writes, reads and shows times (UTC stored, China Standard Time shown).
    public static let timePolicy = TimePolicy.standard

    /// A time as stored (see `TimePolicy`): UTC, one form, so that times compare as text.
    static func time(_ date: Date) -> String { timePolicy.stored(date) }

    static func storedDate(_ text: String) -> Date? { timePolicy.date(iso8601: text) }

    /// Incidents of a category in the box around `position` that holds every
    /// point within `radiusMeters` (through the spatial index), with their
    /// geodesic distances and times; `Dispatcher` decides which are duplicates.
    public func nearbyIncidents(category: String, around position: LonLat, radiusMeters: Double)
        throws -> [(id: String, distanceMeters: Double, reportedAt: Date)] {
        let dLat = radiusMeters / 110_000 * 1.05, dLon = radiusMeters / (111_000 * cos(position.lat * .pi / 180)) * 1.05
        return try database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, X(geom) AS lon, Y(geom) AS lat, reported_at FROM incidents
                WHERE category = ? AND reported_at IS NOT NULL AND ROWID IN (
                    SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'incidents' AND search_frame = BuildMbr(?, ?, ?, ?, 4326))
                """, arguments: [category, position.lon - dLon, position.lat - dLat, position.lon + dLon, position.lat + dLat])
                .compactMap { row -> (id: String, distanceMeters: Double, reportedAt: Date)? in
                    guard let at = Self.storedDate(row["reported_at"]) else { return nil }
                    return (row["id"], Geodesic.distance(lon1: position.lon, lat1: position.lat, lon2: row["lon"], lat2: row["lat"]), at)
                }
        }
    }

    /// The active generation's grids, ready to locate a place. A command builds
    /// a `GridLocator`; the server passes the index it already holds.
    public func placement() throws -> Placement {
        let generation = try activeGeneration()
        return try Self.placement(generation: generation, shapes: try gridShapes(generation: generation), rules: rules)
    }

    /// A placement (of either store) locating with a generation's grids.
    static func placement(generation: Int64, shapes: [GridShape], rules: AssignmentRules) throws -> Placement {
        let locator = try GridLocator(shapes: shapes, rules: rules)
        return Placement(generation: generation, codes: locator.codes) { try locator.locate(lon: $0.lon, lat: $0.lat) }
    }

    /// Locates, routes and stores a report in one transaction; returns its id and routing.
    /// A category, channel or severity outside the rules' vocabulary is refused (`VocabularyError`),
    /// a description or reporter longer than `TextLimits` too (`IncidentError.invalid`).
    public func report(_ report: IncidentReport, rules: DispatchRules, placement: Placement? = nil) throws -> (id: String, routing: Routing) {
        try Self.check(report, rules: rules)
        // The placement (the server's index) may belong to a generation retired
        // since it was built: the write checks, and a report that lost the race
        // is located again with the grids now active, never stored under old ones.
        return try Self.locatingAgain(from: try placement ?? self.placement(), newest: self.placement, otherwise: Self.generationKeptChanging) {
            try locateAndStore(report, rules: rules, placement: $0)
        }
    }

    static var generationKeptChanging: WanggeError { WanggeError.invalid(tr("the active generation kept changing while the report was stored; send it again")) }

    /// A report's words, texts and times, checked before it is located (both stores).
    static func check(_ report: IncidentReport, rules: DispatchRules) throws {
        try rules.checkReport(category: report.category, channel: report.channel, severity: report.severity)
        if let problem = TextLimits.firstProblem([("description", report.description, TextLimits.text), ("reporter", report.reporter, TextLimits.name),
                                                  ("external_id", report.externalID, TextLimits.code)]) {
            throw WanggeError.invalid(problem)
        }
        if report.externalID?.isEmpty == true { throw WanggeError.invalid(tr("external_id: empty (leave it out when there is no ticket)"), field: "external_id") }
        if let occurred = report.occurredAt, occurred > report.reportedAt {
            throw WanggeError.occurredAfter(Self.timePolicy.displayed(occurred), "the time it was received, \(Self.timePolicy.displayed(report.reportedAt))")
        }
    }

    private func locateAndStore(_ report: IncidentReport, rules: DispatchRules, placement: Placement) throws -> (id: String, routing: Routing) {
        let generation = placement.generation
        let assignment = try placement.locate(report.position)
        let grids = Dictionary(uniqueKeysWithValues: try self.grids(generation: generation).map { ($0.code, $0) })
        let earlier = try nearbyIncidents(category: report.category, around: report.position, radiusMeters: rules.duplicateRadiusMeters)
        let routing = try Dispatcher.route(assignment: assignment, codes: placement.codes, grids: grids, category: report.category,
                                           severity: report.severity, reportedAt: report.reportedAt, earlier: earlier, rules: rules)
        let id = try database.pool.write { db -> String in
            guard try Self.activeGeneration(db) == generation else { throw GenerationChanged() }
            if let ticket = report.externalID, let existing = try Self.incident(db, channel: report.channel, ticket: ticket) {
                throw WanggeError.duplicateTicket(ticket, channel: report.channel, incident: existing)
            }
            let next = (try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'incident_sequence'") ?? 0) + 1
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('incident_sequence', ?)", arguments: [String(next)])
            let id = String(format: "R%07d", next)
            try db.execute(sql: """
                INSERT INTO incidents (id, category, channel, severity, status, reported_at, description, reporter,
                    source_crs, source_x, source_y, level, unit, department, deadline, duplicate_of,
                    grid_code, village_code, town_code, updated_at, occurred_at, external_id, geom)
                VALUES (?, ?, ?, ?, 'reported', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, MakePoint(?, ?, 4326))
                """, arguments: [id, report.category, report.channel, report.severity, Self.time(report.reportedAt),
                                 report.description, report.reporter, report.source.crs.description, report.source.x, report.source.y,
                                 routing.level.rawValue, routing.unit, routing.department, Self.time(routing.deadline),
                                 routing.duplicateOf, routing.grid, routing.village, routing.town, Self.time(report.reportedAt),
                                 report.occurredAt.map(Self.time), report.externalID, report.position.lon, report.position.lat])
            try Self.writeAssignments(db, generation: generation, codes: placement.codes,
                                      points: [StoredPoint(layer: .incidents, id: id, position: report.position)], assignments: [assignment])
            try Self.recordEvent(db, incident: id, at: report.reportedAt, actor: report.reporter ?? report.channel, action: .report,
                                 from: nil, to: .reported, level: routing.level, unit: routing.unit, grid: routing.grid,
                                 note: report.description, detail: Self.reportDetail(report, routing))
            return id
        }
        return (id, routing)
    }
}

extension GridStore {
    /// What a report's first event records besides its columns.
    static func reportDetail(_ report: IncidentReport, _ routing: Routing) -> [String: String] {
        var detail = ["channel": report.channel, "method": routing.method.rawValue]
        if let other = routing.confirmWithGrid { detail["confirm_with_grid"] = other }
        if let earlier = routing.duplicateOf { detail["duplicate_of"] = earlier }
        if let ticket = report.externalID { detail["external_id"] = ticket }
        return detail
    }

    /// The incident a channel's ticket already is, if any.
    static func incident(_ db: Database, channel: String, ticket: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT id FROM incidents WHERE channel = ? AND external_id = ?", arguments: [channel, ticket])
    }

    /// Routes incidents just imported (in the import's transaction): each in a
    /// grid gets its grid, village, town, level, unit, department and
    /// deadline by the rules, and a first event naming the file.
    static func routeImportedIncidents(_ db: Database, ids: [String], generation: Int64, rules: DispatchRules, source: String) throws {
        let grids = Dictionary(uniqueKeysWithValues: try gridInfos(db, generation: generation).map { ($0.code, $0) })
        let read = try db.makeStatement(sql: """
            SELECT i.category, i.severity, i.status, i.reported_at, a.grid_code FROM incidents i
            LEFT JOIN assignments a ON a.generation_id = ? AND a.layer = 'incident' AND a.feature_id = i.id WHERE i.id = ?
            """)
        let update = try db.makeStatement(sql: """
            UPDATE incidents SET grid_code = ?, village_code = ?, town_code = ?, level = ?, unit = ?, department = ?, deadline = ?
            WHERE id = ?
            """)
        for id in ids {
            guard let row = try Row.fetchOne(read, arguments: [generation, id]) else { continue }
            let r = importedRouting(row, grids: grids, rules: rules)
            try update.execute(arguments: [r.grid?.code, r.grid?.villageCode, r.grid?.townCode, r.level.rawValue, r.unit, r.department,
                                           r.deadline, id])
            try recordEvent(db, incident: id, at: r.reportedAt ?? Date(), actor: SystemActor.importer.rawValue, action: .report, from: nil, to: r.status,
                            level: r.level, unit: r.unit, grid: r.grid?.code, note: nil,
                            reason: .imported(file: source))
        }
    }

    /// How an imported incident is routed, from its row (`category, severity, status, reported_at` and its assignment's
    /// `grid_code`): both stores write this back, with a first event.
    static func importedRouting(_ row: Row, grids: [String: GridInfo], rules: DispatchRules)
        -> (grid: GridInfo?, level: HandlingLevel, unit: String?, department: String, deadline: String?, status: IncidentStatus, reportedAt: Date?) {
        let category: String = row["category"] ?? ""
        let level = rules.level(for: row["severity"])
        let department = rules.department(for: category)
        let reportedAt = (row["reported_at"] as String?).flatMap(storedDate)
        let grid = (row["grid_code"] as String?).flatMap { grids[$0] }
        let unit = grid.map { Dispatcher.unit(at: level, grid: $0, department: department) } ?? (level == .county ? department : nil)
        return (grid, level, unit, department, reportedAt.map { time(rules.deadline(from: $0, at: level)) },
                IncidentStatus(rawValue: row["status"]) ?? .reported, reportedAt)
    }
}
