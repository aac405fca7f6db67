import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

// The incident workflow on PostgreSQL: intake, the lifecycle's changes, notifications and figures.
// SpatiaLite's code (IncidentStore, IncidentPersistence, IncidentStatistics) is the reference: the SQL-free
// parts are its static helpers, read from GRDB `Row`s made of PostgreSQL's rows; here is only the SQL.
// Versions are optimistic as there: `UPDATE … WHERE id = $n AND version = $m` under READ COMMITTED waits
// for a concurrent writer (another server) and then finds the version moved on, a stale-version conflict.
extension PostGISStore {
    /// `GridStore.incidentColumns` in PostGIS's function names.
    static let incidentColumns = GridStore.incidentColumns.replacingOccurrences(of: "X(geom)", with: "ST_X(geom)")
        .replacingOccurrences(of: "Y(geom)", with: "ST_Y(geom)")

    /// Grids of a generation with their hierarchy, on a connection (inside a transaction, or not).
    static func gridInfos(_ connection: PostgresConnection, generation: Int64, code: String? = nil) throws -> [GridInfo] {
        try connection.query("""
            SELECT \(GridStore.gridInfoColumns)
            FROM grids g
            JOIN villages v ON v.generation_id = g.generation_id AND v.code = g.village_code
            JOIN towns t ON t.generation_id = g.generation_id AND t.code = g.town_code
            WHERE g.generation_id = $1 \(code == nil ? "" : "AND g.code = $2") ORDER BY g.code
            """, [.integer(generation)] + (code.map { [.text($0)] } ?? [])).grdbRows().map(GridStore.gridInfo)
    }

    /// A text array parameter (`= ANY($n::text[])`), each element quoted.
    static func textArray(_ values: [String]) -> PostgresValue {
        .text("{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}")
    }

    // MARK: Intake

    /// As `GridStore.nearbyIncidents`: the box through the GiST index, the distance geodesic.
    func nearbyIncidents(category: String, around position: LonLat, radiusMeters: Double)
        throws -> [(id: String, distanceMeters: Double, reportedAt: Date)] {
        let dLat = radiusMeters / 110_000 * 1.05, dLon = radiusMeters / (111_000 * cos(position.lat * .pi / 180)) * 1.05
        // On the primary: a report another server took a moment ago is a duplicate too, even if the standby has not replayed it yet.
        let rows = try database.read { connection in
            try connection.query("""
                SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat, reported_at FROM incidents
                WHERE category = $1 AND reported_at IS NOT NULL AND geom && ST_MakeEnvelope($2, $3, $4, $5, 4326)
                """, [.text(category), .double(position.lon - dLon), .double(position.lat - dLat), .double(position.lon + dLon),
                      .double(position.lat + dLat)])
        }
        return (0..<rows.count).compactMap { r in
            guard let at = GridStore.storedDate(rows.text(r, "reported_at")) else { return nil }
            return (rows.text(r, "id"), Geodesic.distance(lon1: position.lon, lat1: position.lat, lon2: rows.double(r, "lon") ?? .nan,
                                                          lat2: rows.double(r, "lat") ?? .nan), at)
        }
    }

    /// As `GridStore.report`: checked alike, located, routed and stored in one transaction.
    public func report(_ report: IncidentReport, rules: DispatchRules, placement: Placement?) throws -> (id: String, routing: Routing) {
        try GridStore.check(report, rules: rules)
        return try GridStore.locatingAgain(from: try placement ?? self.placement(), newest: self.placement, otherwise: GridStore.generationKeptChanging) {
            try locateAndStore(report, rules: rules, placement: $0)
        }
    }

    private func locateAndStore(_ report: IncidentReport, rules: DispatchRules, placement: Placement) throws -> (id: String, routing: Routing) {
        let generation = placement.generation
        let assignment = try placement.locate(report.position)
        let grids = Dictionary(uniqueKeysWithValues: try self.grids(generation: generation).map { ($0.code, $0) })
        let earlier = try nearbyIncidents(category: report.category, around: report.position, radiusMeters: rules.duplicateRadiusMeters)
        let routing = try Dispatcher.route(assignment: assignment, codes: placement.codes, grids: grids, category: report.category,
                                           severity: report.severity, reportedAt: report.reportedAt, earlier: earlier, rules: rules)
        let id = try database.write { connection -> String in
            // An activation (another server's too) waits for this report, or this report for it.
            try connection.execute("SELECT pg_advisory_xact_lock_shared(\(PostGISDatabase.AdvisoryLock.activation))")
            guard try Self.activeGeneration(connection) == generation else { throw GenerationChanged() }
            if let ticket = report.externalID, let existing = try Self.incident(connection, channel: report.channel, ticket: ticket) {
                throw WanggeError.duplicateTicket(ticket, channel: report.channel, incident: existing)
            }
            // The counter's row is locked until the commit: reports from several servers number one after the other.
            let next = try connection.query("""
                INSERT INTO meta (key, value) VALUES ('incident_sequence', '1')
                ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text RETURNING value
                """).int(0, "value") ?? 1
            let id = String(format: "R%07d", next)
            try connection.query("""
                INSERT INTO incidents (id, category, channel, severity, status, reported_at, description, reporter,
                    source_crs, source_x, source_y, level, unit, department, deadline, duplicate_of,
                    grid_code, village_code, town_code, updated_at, occurred_at, external_id, geom)
                VALUES ($1, $2, $3, $4, 'reported', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
                        ST_SetSRID(ST_MakePoint($22, $23), 4326))
                """, [.text(id), .text(report.category), .text(report.channel), .optional(report.severity), .text(GridStore.time(report.reportedAt)),
                      .optional(report.description), .optional(report.reporter), .text(report.source.crs.description), .double(report.source.x),
                      .double(report.source.y), .text(routing.level.rawValue), .optional(routing.unit), .optional(routing.department),
                      .text(GridStore.time(routing.deadline)), .optional(routing.duplicateOf), .optional(routing.grid), .optional(routing.village),
                      .optional(routing.town), .text(GridStore.time(report.reportedAt)), .optional(report.occurredAt.map(GridStore.time)),
                      .optional(report.externalID), .double(report.position.lon), .double(report.position.lat)])
            try Self.writeAssignments(connection, generation: generation, codes: placement.codes,
                                      points: [GridStore.StoredPoint(layer: .incidents, id: id, position: report.position)], assignments: [assignment])
            try Self.recordEvent(connection, incident: id, at: report.reportedAt, actor: report.reporter ?? report.channel, action: .report,
                                 from: nil, to: .reported, level: routing.level, unit: routing.unit, grid: routing.grid,
                                 note: report.description, detail: GridStore.reportDetail(report, routing))
            return id
        }
        return (id, routing)
    }

    /// The incident a channel's ticket already is, if any.
    static func incident(_ connection: PostgresConnection, channel: String, ticket: String) throws -> String? {
        try connection.query("SELECT id FROM incidents WHERE channel = $1 AND external_id = $2", [.text(channel), .text(ticket)]).string(0, "id")
    }

    // MARK: Importing incidents (inside `importPoints`' transaction)

    /// As `GridStore.refuseStoredIncidents`, one query a batch.
    static func refuseStoredIncidents(_ connection: PostgresConnection, _ records: [PointRecord], source: String) throws {
        let rows = try connection.query("SELECT id, status, version FROM incidents WHERE id = ANY($1::text[])", [textArray(records.map(\.id))])
        let stored = Dictionary(uniqueKeysWithValues: (0..<rows.count).map { r in (rows.text(r, "id"), (status: rows.text(r, "status"), version: rows.int(r, "version") ?? 0)) })
        try GridStore.refuseStoredIncidents(records, source: source) { stored[$0] }
    }

    /// As `GridStore.refuseRepeatedTickets`.
    static func refuseRepeatedTickets(_ connection: PostgresConnection, _ records: [PointRecord], seen: inout [String: RecordLocation], source: String) throws {
        try GridStore.refuseRepeatedTickets(records, seen: &seen, source: source) { try incident(connection, channel: $0, ticket: $1) }
    }

    /// As `GridStore.routeImportedIncidents`, for incidents already written: in `ids`' order, so that their
    /// first events are numbered as SpatiaLite numbers them.
    static func routeImportedIncidents(_ connection: PostgresConnection, ids: [String], generation: Int64, rules: DispatchRules, source: String) throws {
        let grids = Dictionary(uniqueKeysWithValues: try gridInfos(connection, generation: generation).map { ($0.code, $0) })
        let rows = try connection.query("""
            SELECT i.id, i.category, i.severity, i.status, i.reported_at, a.grid_code FROM incidents i
            LEFT JOIN assignments a ON a.generation_id = $1 AND a.layer = 'incident' AND a.feature_id = i.id WHERE i.id = ANY($2::text[])
            """, [.integer(generation), textArray(ids)]).grdbRows()
        let byID = Dictionary(uniqueKeysWithValues: rows.map { (($0["id"] as String?) ?? "", $0) })
        for id in ids {
            guard let row = byID[id] else { continue }
            let r = GridStore.importedRouting(row, grids: grids, rules: rules)
            try connection.query("""
                UPDATE incidents SET grid_code = $1, village_code = $2, town_code = $3, level = $4, unit = $5, department = $6, deadline = $7
                WHERE id = $8
                """, [.optional(r.grid?.code), .optional(r.grid?.villageCode), .optional(r.grid?.townCode), .text(r.level.rawValue),
                      .optional(r.unit), .text(r.department), .optional(r.deadline), .text(id)])
            try recordEvent(connection, incident: id, at: r.reportedAt ?? Date(), actor: SystemActor.importer.rawValue, action: .report, from: nil, to: r.status,
                            level: r.level, unit: r.unit, grid: r.grid?.code, note: nil,
                            reason: .imported(file: source))
        }
    }

    // MARK: History and notifications

    /// As `GridStore.recordEvent`; returns the event's sequence number.
    @discardableResult
    static func recordEvent(_ connection: PostgresConnection, incident: String, at: Date, actor: String, action: IncidentAction,
                            from: IncidentStatus?, to: IncidentStatus, level: HandlingLevel?, unit: String?, grid: String?,
                            note: String?, detail: [String: String]? = nil, reason: LifecycleReason? = nil) throws -> Int64 {
        let detailJSON = try GridStore.storedEventDetail(detail, reason)
        return try connection.query("""
            INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status, level, unit, grid_code, note, detail)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq
            """, [.text(incident), .text(GridStore.time(at)), .text(actor), .text(action.rawValue), .optional(from?.rawValue), .text(to.rawValue),
                  .optional(level?.rawValue), .optional(unit), .optional(grid), .optional(note), .optional(detailJSON)]).int64(0, "seq") ?? 0
    }

    /// As `GridStore.notify`.
    static func notify(_ connection: PostgresConnection, about incident: IncidentRecord, event: Int64?, at: Date, level: HandlingLevel,
                       unit: String, reason: LifecycleReason) throws {
        try connection.query("""
            INSERT INTO notifications (incident_id, event_seq, at, level, unit, reason, detail, grid_code, village_code, town_code)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """, [.text(incident.id), event.map { .integer($0) } ?? .null, .text(GridStore.time(at)), .text(level.rawValue), .text(unit),
                  .text(reason.code), .optional(try GridStore.storedFields(reason.fields)), .optional(incident.grid), .optional(incident.village),
                  .optional(incident.town)])
    }

    public func incident(id: String, now: Date) throws -> IncidentRecord {
        try read { try Self.incident($0, id: id, now: now) }
    }

    /// One incident with its history and notifications, times in the display zone.
    static func incident(_ connection: PostgresConnection, id: String, now: Date) throws -> IncidentRecord {
        guard let row = try connection.query("SELECT \(incidentColumns) FROM incidents WHERE id = $1", [.text(id)]).grdbRows().first else {
            throw WanggeError.incidentNotFound(id)
        }
        var record = GridStore.incidentRecord(row, now: GridStore.time(now))
        record.history = try connection.query("""
            SELECT seq, at, actor, action, from_status, to_status, level, unit, grid_code, note, detail
            FROM incident_events WHERE incident_id = $1 ORDER BY seq
            """, [.text(id)]).grdbRows().map(GridStore.incidentEvent)
        record.notifications = try connection.query("""
            SELECT \(GridStore.notificationColumns) FROM notifications WHERE incident_id = $1 ORDER BY id
            """, [.text(id)]).grdbRows().map(GridStore.notification)
        return record.displayed()
    }

    /// As `GridStore.notifications`.
    public func notifications(unit: String?, limit: Int, forGrids grids: Set<String>?) throws -> [IncidentNotification] {
        var conditions: [String] = []
        var arguments: [PostgresValue] = []
        func bind(_ value: PostgresValue) -> String {
            arguments.append(value)
            return "$\(arguments.count)"
        }
        if let unit { conditions.append("unit = \(bind(.text(unit)))") }
        if let grids {
            let codes = bind(Self.textArray(grids.sorted()))
            let own = "SELECT %@ FROM grids WHERE generation_id = (SELECT id FROM generations WHERE status = 'active') AND code = ANY(\(codes)::text[])"
            conditions.append("""
                ((level = 'grid' AND grid_code = ANY(\(codes)::text[]))
                 OR (level = 'village' AND village_code IN (\(own.replacingOccurrences(of: "%@", with: "village_code"))))
                 OR (level = 'town' AND town_code IN (\(own.replacingOccurrences(of: "%@", with: "town_code")))))
                """)
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limit = bind(.integer(Int64(limit)))
        return try read { connection in
            try connection.query("SELECT \(GridStore.notificationColumns) FROM notifications \(whereClause) ORDER BY id DESC LIMIT \(limit)",
                                 arguments).grdbRows().map { GridStore.notification($0).displayed() }
        }
    }

    /// As `GridStore.incidents`: newest first (an incident without a time last, as SQLite sorts NULL lowest).
    public func incidents(_ filter: IncidentFilter, now: Date) throws -> [IncidentRecord] {
        let nowText = GridStore.time(now)
        var conditions: [String] = []
        var arguments: [PostgresValue] = []
        func bind(_ value: PostgresValue) -> String {
            arguments.append(value)
            return "$\(arguments.count)"
        }
        if let grid = filter.grid { conditions.append("grid_code = \(bind(.text(grid)))") }
        if let village = filter.village { conditions.append("village_code = \(bind(.text(village)))") }
        if let town = filter.town { conditions.append("town_code = \(bind(.text(town)))") }
        if !filter.statuses.isEmpty { conditions.append("status = ANY(\(bind(Self.textArray(filter.statuses.map(\.rawValue))))::text[])") }
        if filter.overdueOnly { conditions.append("status NOT IN ('resolved', 'closed') AND deadline < \(bind(.text(nowText)))") }
        if let since = filter.since { conditions.append("reported_at >= \(bind(.text(GridStore.time(since))))") }
        if let until = filter.until { conditions.append("reported_at < \(bind(.text(GridStore.time(until))))") }
        if let category = filter.category { conditions.append("category = \(bind(.text(category)))") }
        if let channel = filter.channel { conditions.append("channel = \(bind(.text(channel)))") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // SQLite's LIMIT -1 (and any negative limit) is no limit; PostgreSQL's is LIMIT NULL.
        let limit = bind(filter.limit.flatMap { $0 < 0 ? nil : PostgresValue.integer(Int64($0)) } ?? .null)
        let offset = bind(.integer(Int64(filter.offset)))
        return try read { connection in
            try connection.query("""
                SELECT \(Self.incidentColumns) FROM incidents \(whereClause)
                ORDER BY reported_at DESC NULLS LAST, id DESC LIMIT \(limit)::bigint OFFSET \(offset)
                """, arguments).grdbRows().map { GridStore.incidentRecord($0, now: nowText).displayed() }
        }
    }

    // MARK: The lifecycle

    /// As `GridStore.apply`: one change in one transaction, the version checked before and at the write.
    public func apply(_ change: IncidentChange, to id: String, at now: Date, rules: DispatchRules, placement: Placement?) throws -> IncidentRecord {
        try GridStore.check(change)
        return try GridStore.locatingAgain(from: placement, newest: self.placement, otherwise: GridStore.generationKeptChanging(moving: id)) { placement in
            let located = try GridStore.locate(change, with: placement, newest: self.placement)
            return try database.write { connection in
                try connection.execute("SELECT pg_advisory_xact_lock_shared(\(PostGISDatabase.AdvisoryLock.activation))")
                let active = try Self.activeGeneration(connection)
                if let located, located.generation != active { throw GenerationChanged() }
                guard let row = try connection.query("SELECT \(Self.incidentColumns) FROM incidents WHERE id = $1", [.text(id)]).grdbRows().first else {
                    throw WanggeError.incidentNotFound(id)
                }
                let before = try GridStore.checkVersion(GridStore.incidentRecord(row, now: GridStore.time(now)), change)
                try Self.changeIncident(connection, before, by: change, at: now, rules: rules, generation: active, located: located)
                return try Self.incident(connection, id: id, now: now)
            }
        }
    }

    /// As `GridStore.escalateOverdue`.
    public func escalateOverdue(at now: Date, rules: DispatchRules) throws -> [(id: String, level: HandlingLevel)] {
        let nowText = GridStore.time(now)
        return try database.write { connection in
            let rows = try connection.query("""
                SELECT \(Self.incidentColumns) FROM incidents
                WHERE status NOT IN ('resolved', 'closed', 'returned') AND deadline < $1 AND level IS NOT NULL ORDER BY deadline, id
                """, [.text(nowText)]).grdbRows()
            var touched: [(id: String, level: HandlingLevel)] = []
            let generation = try Self.activeGeneration(connection)
            for row in rows {
                let record = GridStore.incidentRecord(row, now: nowText)
                guard let level = record.level else { continue }
                if IncidentTransitions.levelAbove(level) != nil {
                    let change = GridStore.overdueEscalation(record)
                    let outcome = try Self.changeIncident(connection, record, by: change, at: now, rules: rules, generation: generation)
                    touched.append((record.id, outcome.record.level ?? level))
                } else {
                    let alreadyTold = try connection.query("""
                        SELECT 1 FROM notifications WHERE incident_id = $1 AND reason = 'overdue_at_county' AND at >= $2 LIMIT 1
                        """, [.text(record.id), .optional(record.deadline)]).count > 0
                    guard !alreadyTold else { continue }
                    try Self.notify(connection, about: record, event: nil, at: now, level: .county, unit: rules.defaultDepartment,
                                    reason: GridStore.overdueAtCounty(record))
                    touched.append((record.id, level))
                }
            }
            return touched
        }
    }

    /// Inside an activation's transaction: open incidents whose grid changed, re-routed (see `GridStore.regridOpenIncidents`). Returns how many.
    static func regridOpenIncidents(_ connection: PostgresConnection, generation: Int64, at now: Date, actor: String, rules: DispatchRules) throws -> Int {
        let nowText = GridStore.time(now)
        let rows = try connection.query("""
            SELECT \(incidentColumns) FROM incidents WHERE id IN (
                SELECT i.id FROM incidents i
                JOIN assignments a ON a.generation_id = $1 AND a.layer = 'incident' AND a.feature_id = i.id
                WHERE i.status NOT IN ('resolved', 'closed') AND a.grid_code IS NOT NULL AND a.grid_code IS DISTINCT FROM i.grid_code)
            ORDER BY id
            """, [.integer(generation)]).grdbRows()
        for row in rows {
            let change = GridStore.regridChange(actor: actor, version: row["version"])
            try changeIncident(connection, GridStore.incidentRecord(row, now: nowText), by: change, at: now, rules: rules, generation: generation)
        }
        return rows.count
    }

    /// As `GridStore.changeIncident`: the lifecycle's outcome for the change, stored.
    @discardableResult
    static func changeIncident(_ connection: PostgresConnection, _ record: IncidentRecord, by change: IncidentChange, at now: Date,
                               rules: DispatchRules, generation: Int64, located: GridStore.LocatedPlace? = nil) throws -> IncidentOutcome {
        let regridInto = change.action == .regrid ? try connection.query("""
            SELECT grid_code FROM assignments WHERE generation_id = $1 AND layer = 'incident' AND feature_id = $2
            """, [.integer(generation), .text(record.id)]).string(0, "grid_code") : nil
        let outcome = try GridStore.lifecycleOutcome(record, by: change, at: now, rules: rules, generation: generation, located: located,
                                                     regridInto: regridInto) { try gridInfos(connection, generation: generation, code: $0).first }
        try save(connection, outcome, before: record, change: change, at: now, located: located)
        return outcome
    }

    /// As `GridStore.save`: the incident written back only if its version is still the one read.
    private static func save(_ connection: PostgresConnection, _ outcome: IncidentOutcome, before: IncidentRecord, change: IncidentChange,
                             at now: Date, located: GridStore.LocatedPlace?) throws {
        let record = outcome.record
        let updated = try connection.query("""
            UPDATE incidents SET status = $1, category = $2, satisfaction = $3, grid_code = $4, village_code = $5, town_code = $6,
                level = $7, unit = $8, department = $9, deadline = $10, attempts = $11, escalations = $12, reopenings = $13,
                closed_at = $14, updated_at = $15, version = version + 1
            WHERE id = $16 AND version = $17 RETURNING id
            """, [.text(record.status.rawValue), .optional(record.category), .optional(record.satisfaction), .optional(record.grid),
                  .optional(record.village), .optional(record.town), .optional(record.level?.rawValue), .optional(record.unit),
                  .optional(record.department), .optional(record.deadline), .optional(record.attempts), .optional(record.escalations),
                  .optional(record.reopenings), .optional(record.closedAt), .text(GridStore.time(now)), .text(record.id),
                  .optional(before.version)])
        guard updated.count == 1 else {
            let actual = try connection.query("SELECT version FROM incidents WHERE id = $1", [.text(record.id)]).int(0, "version") ?? -1
            throw WanggeError.staleVersion(id: record.id, expected: before.version, actual: actual)
        }
        if change.action == .move, let located, let position = change.position, let source = change.source {
            try connection.query("""
                UPDATE incidents SET geom = ST_SetSRID(ST_MakePoint($1, $2), 4326), source_crs = $3, source_x = $4, source_y = $5 WHERE id = $6
                """, [.double(position.lon), .double(position.lat), .text(source.crs.description), .double(source.x), .double(source.y),
                      .text(record.id)])
            try writeAssignments(connection, generation: located.generation, codes: located.codes,
                                 points: [GridStore.StoredPoint(layer: .incidents, id: record.id, position: position)],
                                 assignments: [located.assignment])
        }
        let seqs = try outcome.events.map { event in
            try recordEvent(connection, incident: record.id, at: now, actor: event.actor, action: event.action, from: event.fromStatus,
                            to: event.toStatus, level: event.level, unit: event.unit, grid: event.grid, note: event.note, detail: event.detail,
                            reason: event.reason)
        }
        for notice in outcome.notifications {
            try notify(connection, about: record, event: seqs[notice.event], at: now, level: notice.level, unit: notice.unit, reason: notice.reason)
        }
    }

    // MARK: Figures

    /// As `GridStore.incidentStatistics`: the same rows read, grouped and counted by the same code.
    public func incidentStatistics(by grouping: IncidentGrouping, since: Date?, until: Date?, now: Date) throws -> [IncidentStatistics] {
        let rows = try read { connection in
            try connection.query("""
                SELECT \(GridStore.incidentStatisticsColumns) FROM incidents
                WHERE ($1::text IS NULL OR reported_at >= $1) AND ($2::text IS NULL OR reported_at < $2)
                """, [.optional(since.map(GridStore.time)), .optional(until.map(GridStore.time))]).grdbRows()
        }
        return GridStore.incidentStatistics(rows, by: grouping, names: GridStore.areaNames(grouping, grids: try grids()), now: now)
    }

    /// As `GridStore.monthlyIncidentStatistics`.
    public func monthlyIncidentStatistics(_ filter: IncidentTrendFilter, now: Date) throws -> [MonthlyIncidentStatistics] {
        var conditions = ["true"]
        var arguments: [PostgresValue] = []
        for (column, value) in [("town_code", filter.town), ("village_code", filter.village), ("category", filter.category)] {
            guard let value else { continue }
            arguments.append(.text(value))
            conditions.append("i.\(column) = $\(arguments.count)")
        }
        let whereClause = conditions.joined(separator: " AND ")
        let (rows, escalations) = try read { connection in
            (try connection.query("SELECT status, reported_at, closed_at, deadline FROM incidents i WHERE \(whereClause)", arguments).grdbRows(),
             try connection.query("""
                SELECT DISTINCT e.incident_id, e.at FROM incident_events e JOIN incidents i ON i.id = e.incident_id
                WHERE e.action = 'escalate' AND \(whereClause)
                """, arguments).grdbRows())
        }
        return try GridStore.monthlyIncidentStatistics(rows, escalations: escalations, filter, now: now)
    }
}
