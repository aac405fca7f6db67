import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

/// Which incidents a listing wants. The store takes area codes; `GridService.incidents` also takes names.
public struct IncidentFilter: Sendable {
    public var grid: String?
    public var village: String?
    public var town: String?
    public var statuses: [IncidentStatus] = []
    public var overdueOnly = false
    public var since: Date?
    public var until: Date?
    public var category: String?
    public var channel: String?
    public var limit: Int?
    public var offset = 0

    public init() {}
}

extension GridStore {
    /// A time as people type it: ISO 8601 with any offset, or a day (2026-11-01, midnight)
    /// or a minute (2026-11-01 08:30) in the display zone (see `TimePolicy.parse`).
    public static func parseTime(_ text: String) -> Date? { timePolicy.parse(text) }

    static let incidentColumns = """
        id, category, channel, severity, status, reported_at, description, reporter, satisfaction, X(geom) AS lon, Y(geom) AS lat,
        grid_code, village_code, town_code, level, unit, department, deadline, version, attempts, escalations, reopenings,
        closed_at, duplicate_of, occurred_at, external_id
        """

    /// An incident from a row of `incidentColumns`, times in the stored form (see `time`; a query
    /// shows them with `displayed()`); `now` is a stored-form time, formatted once by the caller rather than once a row.
    static func incidentRecord(_ row: Row, now: String) -> IncidentRecord {
        let status = IncidentStatus(rawValue: row["status"]) ?? .reported
        let deadline: String? = row["deadline"]
        return IncidentRecord(
            id: row["id"], category: row["category"], channel: row["channel"], severity: row["severity"], status: status,
            reportedAt: row["reported_at"], description: row["description"], reporter: row["reporter"], satisfaction: row["satisfaction"],
            lon: row["lon"], lat: row["lat"], grid: row["grid_code"], village: row["village_code"], town: row["town_code"],
            level: (row["level"] as String?).flatMap(HandlingLevel.init(rawValue:)),
            unit: row["unit"], department: row["department"], deadline: deadline,
            overdue: status.isOpen && deadline.map { $0 < now } == true,
            version: row["version"], attempts: row["attempts"], escalations: row["escalations"], reopenings: row["reopenings"],
            closedAt: row["closed_at"], duplicateOf: row["duplicate_of"], occurredAt: row["occurred_at"], externalID: row["external_id"])
    }

    /// Grids of a generation with their hierarchy, inside a transaction already open.
    static func gridInfos(_ db: Database, generation: Int64, code: String? = nil) throws -> [GridInfo] {
        try Row.fetchAll(db, sql: """
            SELECT \(gridInfoColumns)
            FROM grids g
            JOIN villages v ON v.generation_id = g.generation_id AND v.code = g.village_code
            JOIN towns t ON t.generation_id = g.generation_id AND t.code = g.town_code
            WHERE g.generation_id = ? \(code == nil ? "" : "AND g.code = ?") ORDER BY g.code
            """, arguments: code.map { [generation, $0] } ?? [generation]).map(Self.gridInfo)
    }

    /// Appends an event to an incident's history; returns its sequence number.
    @discardableResult
    static func recordEvent(_ db: Database, incident: String, at: Date, actor: String, action: IncidentAction,
                            from: IncidentStatus?, to: IncidentStatus, level: HandlingLevel?, unit: String?, grid: String?,
                            note: String?, detail: [String: String]? = nil, reason: LifecycleReason? = nil) throws -> Int64 {
        let detailJSON = try storedEventDetail(detail, reason)
        try db.execute(sql: """
            INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status, level, unit, grid_code, note, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [incident, time(at), actor, action.rawValue, from?.rawValue, to.rawValue, level?.rawValue, unit, grid,
                             note, detailJSON])
        return db.lastInsertedRowID
    }

    /// Tells a unit about an incident; the incident's grid, village and town go with it, to scope who reads it.
    static func notify(_ db: Database, about incident: IncidentRecord, event: Int64?, at: Date, level: HandlingLevel, unit: String,
                       reason: LifecycleReason) throws {
        try db.execute(sql: """
            INSERT INTO notifications (incident_id, event_seq, at, level, unit, reason, detail, grid_code, village_code, town_code)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [incident.id, event, time(at), level.rawValue, unit, reason.code, try storedFields(reason.fields),
                             incident.grid, incident.village, incident.town])
    }

    // A lifecycle reason is stored as its code and fields: an event's in its
    // detail (the code under "reason"), a notification's in its reason and
    // detail columns. Never as words, which are the reader's to choose.

    /// An event's detail column: its particulars and its reason's code and fields.
    static func storedEventDetail(_ detail: [String: String]?, _ reason: LifecycleReason?) throws -> String? {
        var stored = detail ?? [:]
        if let reason {
            stored.merge(reason.fields) { $1 }
            stored["reason"] = reason.code
        }
        return try storedFields(stored)
    }

    static func storedFields(_ fields: [String: String]) throws -> String? {
        fields.isEmpty ? nil : try WanggeJSON.text(fields)
    }

    static func fields(_ text: String?) -> [String: String] {
        text.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
    }

    /// One incident with its history and notifications, times in the display zone.
    public func incident(id: String, now: Date = Date()) throws -> IncidentRecord {
        try database.pool.read { db in try Self.incident(db, id: id, now: now) }
    }

    static func incident(_ db: Database, id: String, now: Date) throws -> IncidentRecord {
        guard let row = try Row.fetchOne(db, sql: "SELECT \(incidentColumns) FROM incidents WHERE id = ?", arguments: [id]) else {
            throw WanggeError.incidentNotFound(id)
        }
        var record = incidentRecord(row, now: time(now))
        record.history = try Row.fetchAll(db, sql: """
            SELECT seq, at, actor, action, from_status, to_status, level, unit, grid_code, note, detail
            FROM incident_events WHERE incident_id = ? ORDER BY seq
            """, arguments: [id]).map(Self.incidentEvent)
        record.notifications = try Row.fetchAll(db, sql: """
            SELECT \(notificationColumns) FROM notifications WHERE incident_id = ? ORDER BY id
            """, arguments: [id]).map(Self.notification)
        return record.displayed()
    }

    /// An event from a row of `seq, at, actor, action, from_status, to_status, level, unit, grid_code, note, detail`, its time in the stored form.
    static func incidentEvent(_ row: Row) -> IncidentEvent {
        var detail = fields(row["detail"])
        let reason = detail.removeValue(forKey: "reason").map { LifecycleReason(code: $0, fields: detail) }
        if let reason { for key in reason.fields.keys { detail.removeValue(forKey: key) } }
        return IncidentEvent(seq: row["seq"], at: row["at"], actor: row["actor"], action: IncidentAction(rawValue: row["action"]) ?? .report,
                             fromStatus: (row["from_status"] as String?).flatMap(IncidentStatus.init(rawValue:)),
                             toStatus: IncidentStatus(rawValue: row["to_status"]) ?? .reported,
                             level: (row["level"] as String?).flatMap(HandlingLevel.init(rawValue:)), unit: row["unit"],
                             grid: row["grid_code"], note: row["note"], detail: detail.isEmpty ? nil : detail, reason: reason)
    }

    static let notificationColumns = "id, incident_id, at, level, unit, reason, detail"

    /// A notification from a row of `notificationColumns`, its time in the stored form.
    static func notification(_ row: Row) -> IncidentNotification {
        IncidentNotification(id: row["id"], incidentID: row["incident_id"], at: row["at"],
                             level: HandlingLevel(rawValue: row["level"]) ?? .county, unit: row["unit"],
                             reason: LifecycleReason(code: row["reason"], fields: fields(row["detail"])))
    }

    /// Notifications for a unit (or all), newest first. With `grids`, only
    /// those for the units of these grids: the grids themselves, and their
    /// villages and towns in the active generation.
    public func notifications(unit: String? = nil, limit: Int = 100, forGrids grids: Set<String>? = nil) throws -> [IncidentNotification] {
        var conditions: [String] = []
        var arguments: [DatabaseValueConvertible?] = []
        if let unit {
            conditions.append("unit = ?")
            arguments.append(unit)
        }
        if let grids {
            let codes = grids.sorted()
            let marks = codes.isEmpty ? "NULL" : codes.map { _ in "?" }.joined(separator: ", ")
            let own = "SELECT %@ FROM grids WHERE generation_id = (SELECT id FROM generations WHERE status = 'active') AND code IN (\(marks))"
            conditions.append("""
                ((level = 'grid' AND grid_code IN (\(marks)))
                 OR (level = 'village' AND village_code IN (\(own.replacingOccurrences(of: "%@", with: "village_code"))))
                 OR (level = 'town' AND town_code IN (\(own.replacingOccurrences(of: "%@", with: "town_code")))))
                """)
            arguments += (codes + codes + codes).map { $0 }
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.notificationColumns) FROM notifications \(whereClause) ORDER BY id DESC LIMIT ?
                """, arguments: StatementArguments(arguments + [limit])).map { Self.notification($0).displayed() }
        }
    }

    /// Incidents matching a filter, newest first, times in the display zone.
    public func incidents(_ filter: IncidentFilter, now: Date = Date()) throws -> [IncidentRecord] {
        let nowText = Self.time(now)
        var conditions: [String] = []
        var arguments: [DatabaseValueConvertible?] = []
        func add(_ condition: String, _ values: DatabaseValueConvertible?...) {
            conditions.append(condition)
            arguments += values
        }
        if let grid = filter.grid { add("grid_code = ?", grid) }
        if let village = filter.village { add("village_code = ?", village) }
        if let town = filter.town { add("town_code = ?", town) }
        if !filter.statuses.isEmpty {
            conditions.append("status IN (\(filter.statuses.map { _ in "?" }.joined(separator: ", ")))")
            arguments += filter.statuses.map(\.rawValue)
        }
        if filter.overdueOnly { add("status NOT IN ('resolved', 'closed') AND deadline < ?", nowText) }
        if let since = filter.since { add("reported_at >= ?", Self.time(since)) }
        if let until = filter.until { add("reported_at < ?", Self.time(until)) }
        if let category = filter.category { add("category = ?", category) }
        if let channel = filter.channel { add("channel = ?", channel) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [filter.limit ?? -1, filter.offset]
        return try database.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.incidentColumns) FROM incidents \(whereClause) ORDER BY reported_at DESC, id DESC LIMIT ? OFFSET ?
                """, arguments: StatementArguments(arguments)).map { Self.incidentRecord($0, now: nowText).displayed() }
        }
    }

    /// Applies one change in one transaction: checks the version and the
    /// lifecycle, updates the incident, and appends the event(s) and any
    /// notification. Returns the incident as it now is, with its history.
    @discardableResult
    public func apply(_ change: IncidentChange, to id: String, at now: Date = Date(), rules: DispatchRules,
                      placement: Placement? = nil) throws -> IncidentRecord {
        try Self.check(change)
        return try Self.locatingAgain(from: placement, newest: self.placement, otherwise: Self.generationKeptChanging(moving: id)) { placement in
            let located = try Self.locate(change, with: placement, newest: self.placement)
            return try database.pool.write { db in
                let active = try Self.activeGeneration(db)
                if let located, located.generation != active { throw GenerationChanged() }
                guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.incidentColumns) FROM incidents WHERE id = ?", arguments: [id]) else {
                    throw WanggeError.incidentNotFound(id)
                }
                let before = try Self.checkVersion(Self.incidentRecord(row, now: Self.time(now)), change)
                try Self.changeIncident(db, before, by: change, at: now, rules: rules, generation: active, located: located)
                return try Self.incident(db, id: id, now: now)
            }
        }
    }

    /// Runs `attempt` with `placement`; when the active generation changed before its write
    /// (`GenerationChanged`), again with the `newest`, up to three times in all (both stores).
    static func locatingAgain<P, T>(from placement: P, newest: () throws -> P, otherwise failure: @autoclosure () -> WanggeError,
                                    _ attempt: (P) throws -> T) throws -> T {
        var placement = placement
        for _ in 1...3 {
            do {
                return try attempt(placement)
            } catch is GenerationChanged {
                placement = try newest()
            }
        }
        throw failure()
    }

    /// A move's new place, located before the write lock is taken, with a placement
    /// that may be older than the active generation: the write checks. Nil for other changes.
    static func locate(_ change: IncidentChange, with placement: Placement?, newest: () throws -> Placement) throws -> LocatedPlace? {
        guard change.action == .move else { return nil }
        guard let position = change.position else { throw WanggeError.invalid(tr("move: the new place (lon, lat) is missing")) }
        let current = try placement ?? newest()
        return (current.generation, current.codes, try current.locate(position))
    }

    /// The incident as read, if the change expects its version (or no version): else a stale-version conflict.
    static func checkVersion(_ before: IncidentRecord, _ change: IncidentChange) throws -> IncidentRecord {
        if let expected = change.expectedVersion, expected != before.version {
            throw WanggeError.staleVersion(id: before.id, expected: expected, actual: before.version)
        }
        return before
    }

    static func generationKeptChanging(moving id: String) -> WanggeError {
        WanggeError.invalid(tr("the active generation kept changing while incident \(id) was moved; try again"))
    }

    /// A change's texts, checked before anything is read (both stores).
    static func check(_ change: IncidentChange) throws {
        if let problem = TextLimits.firstProblem([("note", change.note, TextLimits.text), ("actor", change.actor, TextLimits.name),
                                                  ("grid", change.grid, TextLimits.code), ("category", change.category, TextLimits.name)]) {
            throw WanggeError.invalid(tr("\(change.action.rawValue): \(problem)"))
        }
    }

    /// The escalation of an incident whose deadline passed below the county.
    static func overdueEscalation(_ record: IncidentRecord) -> IncidentChange {
        var change = IncidentChange(.escalate, actor: SystemActor.scheduler.rawValue, expectedVersion: record.version)
        change.reason = .overdue(deadline: record.deadline ?? "")
        return change
    }

    /// What the county centre is told when an incident's deadline passes at the county, where nothing is above.
    static func overdueAtCounty(_ record: IncidentRecord) -> LifecycleReason {
        .overdueAtCounty(unit: record.unit ?? "?", deadline: record.deadline ?? "")
    }

    static func activeGeneration(_ db: Database) throws -> Int64 {
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM generations WHERE status = 'active'") else {
            throw WanggeError.notFound(tr("no grids yet: import a grid file first"))
        }
        return id
    }

    /// Escalates every open incident past its deadline one level (the new
    /// unit gets a notification and a fresh deadline). At the county, where
    /// there is no level above, the county centre is notified once per deadline.
    /// Returns the incidents touched, with the level each went to.
    @discardableResult
    public func escalateOverdue(at now: Date = Date(), rules: DispatchRules)
        throws -> [(id: String, level: HandlingLevel)] {
        try database.pool.write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(Self.incidentColumns) FROM incidents
                WHERE status NOT IN ('resolved', 'closed', 'returned') AND deadline < ? AND level IS NOT NULL ORDER BY deadline, id
                """, arguments: [Self.time(now)])
            var touched: [(id: String, level: HandlingLevel)] = []
            let nowText = Self.time(now)
            let generation = try Self.activeGeneration(db)
            for row in rows {
                let record = Self.incidentRecord(row, now: nowText)
                guard let level = record.level else { continue }
                if IncidentTransitions.levelAbove(level) != nil {
                    let change = Self.overdueEscalation(record)
                    let outcome = try Self.changeIncident(db, record, by: change, at: now, rules: rules, generation: generation)
                    touched.append((record.id, outcome.record.level ?? level))
                } else {
                    let alreadyTold = try Bool.fetchOne(db, sql: """
                        SELECT EXISTS (SELECT 1 FROM notifications WHERE incident_id = ? AND reason = 'overdue_at_county' AND at >= ?)
                        """, arguments: [record.id, record.deadline]) ?? false
                    guard !alreadyTold else { continue }
                    try Self.notify(db, about: record, event: nil, at: now, level: .county, unit: rules.defaultDepartment,
                                    reason: Self.overdueAtCounty(record))
                    touched.append((record.id, level))
                }
            }
            return touched
        }
    }

    /// After a redraw: every open incident whose place now lies in another
    /// grid of `generation` is handed to that grid (and its village and town),
    /// with the move in its history and a notification for the new unit.
    /// Runs inside the caller's transaction (activation). Returns how many moved.
    @discardableResult
    public static func regridOpenIncidents(_ db: Database, generation: Int64, at now: Date, actor: String, rules: DispatchRules) throws -> Int {
        let nowText = time(now)
        let rows = try Row.fetchAll(db, sql: """
            SELECT \(incidentColumns) FROM incidents WHERE id IN (
                SELECT i.id FROM incidents i
                JOIN assignments a ON a.generation_id = ? AND a.layer = 'incident' AND a.feature_id = i.id
                WHERE i.status NOT IN ('resolved', 'closed') AND a.grid_code IS NOT NULL AND a.grid_code IS NOT i.grid_code)
            ORDER BY id
            """, arguments: [generation])
        for row in rows {
            let change = regridChange(actor: actor, version: row["version"])
            try changeIncident(db, incidentRecord(row, now: nowText), by: change, at: now, rules: rules, generation: generation)
        }
        return rows.count
    }

    /// The system's hand-over of an incident to the grid a redraw puts it in (the generation is in the event's detail).
    static func regridChange(actor: String, version: Int) -> IncidentChange {
        var change = IncidentChange(.regrid, actor: actor, expectedVersion: version)
        change.reason = .boundaryRedraw
        return change
    }
}

extension GridStore {
    /// A place located for a `move`, with the generation whose grids located it.
    typealias LocatedPlace = (generation: Int64, codes: [String], assignment: PointAssignment)

    /// One change to an incident inside the caller's write transaction: reads
    /// what the lifecycle needs (the grids it may route to), runs it, and
    /// stores what it returns. Returns the outcome.
    @discardableResult
    static func changeIncident(_ db: Database, _ record: IncidentRecord, by change: IncidentChange, at now: Date, rules: DispatchRules,
                               generation: Int64, located: LocatedPlace? = nil) throws -> IncidentOutcome {
        let regridInto = change.action == .regrid ? try String.fetchOne(db, sql: """
            SELECT grid_code FROM assignments WHERE generation_id = ? AND layer = 'incident' AND feature_id = ?
            """, arguments: [generation, record.id]) : nil
        let outcome = try lifecycleOutcome(record, by: change, at: now, rules: rules, generation: generation, located: located,
                                           regridInto: regridInto) { try gridInfos(db, generation: generation, code: $0).first }
        try save(db, outcome, before: record, change: change, at: now, located: located)
        return outcome
    }

    /// What the lifecycle makes of a change (both stores): `grid` reads a grid of `generation` that the change may route to.
    static func lifecycleOutcome(_ record: IncidentRecord, by change: IncidentChange, at now: Date, rules: DispatchRules, generation: Int64,
                                 located: LocatedPlace?, regridInto: String?, grid: (String) throws -> GridInfo?) throws -> IncidentOutcome {
        let movedInto = located.flatMap { $0.assignment.grid >= 0 ? $0.codes[Int($0.assignment.grid)] : nil }
        var grids: [String: GridInfo] = [:]
        for code in Set([record.grid, change.grid, movedInto, regridInto].compactMap { $0 }) { grids[code] = try grid(code) }
        return try IncidentLifecycle.apply(
            change, to: record, rules: rules, now: now,
            grids: IncidentGrids(generation: generation, grid: { grids[$0] }, located: located.map { ($0.codes, $0.assignment) },
                                 regridInto: regridInto),
            time: time)
    }

    /// Writes the incident back, bumping its version only if nobody else did
    /// meanwhile, then its new events and the notifications that go with them.
    private static func save(_ db: Database, _ outcome: IncidentOutcome, before: IncidentRecord, change: IncidentChange, at now: Date,
                             located: LocatedPlace?) throws {
        let record = outcome.record
        try db.execute(sql: """
            UPDATE incidents SET status = ?, category = ?, satisfaction = ?, grid_code = ?, village_code = ?, town_code = ?,
                level = ?, unit = ?, department = ?, deadline = ?, attempts = ?, escalations = ?, reopenings = ?,
                closed_at = ?, updated_at = ?, version = version + 1
            WHERE id = ? AND version = ?
            """, arguments: [record.status.rawValue, record.category, record.satisfaction, record.grid, record.village, record.town,
                             record.level?.rawValue, record.unit, record.department, record.deadline, record.attempts,
                             record.escalations, record.reopenings, record.closedAt, time(now), record.id, before.version])
        guard db.changesCount == 1 else {
            let actual = try Int.fetchOne(db, sql: "SELECT version FROM incidents WHERE id = ?", arguments: [record.id]) ?? -1
            throw WanggeError.staleVersion(id: record.id, expected: before.version, actual: actual)
        }
        if change.action == .move, let located, let position = change.position, let source = change.source {
            try db.execute(sql: "UPDATE incidents SET geom = MakePoint(?, ?, 4326), source_crs = ?, source_x = ?, source_y = ? WHERE id = ?",
                           arguments: [position.lon, position.lat, source.crs.description, source.x, source.y, record.id])
            try writeAssignments(db, generation: located.generation, codes: located.codes,
                                 points: [StoredPoint(layer: .incidents, id: record.id, position: position)],
                                 assignments: [located.assignment])
        }
        let seqs = try outcome.events.map { event in
            try recordEvent(db, incident: record.id, at: now, actor: event.actor, action: event.action, from: event.fromStatus,
                            to: event.toStatus, level: event.level, unit: event.unit, grid: event.grid, note: event.note,
                            detail: event.detail, reason: event.reason)
        }
        for notice in outcome.notifications {
            try notify(db, about: record, event: seqs[notice.event], at: now, level: notice.level, unit: notice.unit, reason: notice.reason)
        }
    }
}

