import Foundation
import GRDB
import GeoKit
import GridCore

/// One entry of an incident's history.
public struct IncidentEvent: Sendable, Encodable, Equatable {
    public var seq: Int64
    public var at: String
    public var actor: String
    public var action: IncidentAction
    public var fromStatus: IncidentStatus?
    public var toStatus: IncidentStatus
    public var level: HandlingLevel?
    public var unit: String?
    public var grid: String?
    public var note: String?
    /// Particulars of the action (attempt and result, old and new grid, satisfaction…).
    public var detail: [String: String]?
}

/// A message for a unit that an incident now waits on.
public struct IncidentNotification: Sendable, Encodable, Equatable {
    public var id: Int64
    public var incidentID: String
    public var at: String
    public var level: HandlingLevel
    public var unit: String
    public var reason: String
}

/// An incident as the API and the CLI show it.
public struct IncidentRecord: Sendable, Encodable {
    public var id: String
    public var category: String?
    public var channel: String?
    public var severity: String?
    public var status: IncidentStatus
    public var reportedAt: String?
    public var description: String?
    public var reporter: String?
    public var satisfaction: Int?
    public var lon: Double
    public var lat: Double
    public var grid: String?
    public var village: String?
    public var town: String?
    public var level: HandlingLevel?
    public var unit: String?
    public var department: String?
    public var deadline: String?
    public var overdue: Bool
    public var version: Int
    public var attempts: Int
    public var escalations: Int
    public var reopenings: Int
    public var closedAt: String?
    public var duplicateOf: String?
    public var history: [IncidentEvent]?
    public var notifications: [IncidentNotification]?
}

/// Why a change to an incident was refused.
public enum IncidentError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case illegal(IllegalTransition)
    /// Someone else changed it first: the caller's version is stale.
    case conflict(id: String, expected: Int, actual: Int)
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let id): "no incident \(id)"
        case .illegal(let t): t.description
        case .conflict(let id, let expected, let actual):
            "incident \(id) was changed by someone else: you have version \(expected), it is now \(actual); reload and try again"
        case .invalid(let message): message
        }
    }
}

/// A change asked of an incident. Only the fields its action needs are read.
public struct IncidentChange: Sendable {
    public var action: IncidentAction
    public var actor: String
    public var note: String?
    /// The version the caller saw; nil takes whatever is current.
    public var expectedVersion: Int?
    /// `close`: the reporter's satisfaction, 1–5.
    public var satisfaction: Int?
    /// `mediate`: whether this attempt settled the matter.
    public var settled: Bool?
    /// `move`: the corrected place, in WGS84 and as given.
    public var position: LonLat?
    public var source: (x: Double, y: Double, crs: CoordinateSystem)?
    /// `recategorize`: the corrected category.
    public var category: String?
    /// `reroute`: the grid and/or level to send it to.
    public var grid: String?
    public var level: HandlingLevel?

    public init(_ action: IncidentAction, actor: String, note: String? = nil, expectedVersion: Int? = nil) {
        self.action = action
        self.actor = actor
        self.note = note
        self.expectedVersion = expectedVersion
    }
}

/// Which incidents a listing wants.
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
        closed_at, duplicate_of
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
            closedAt: row["closed_at"], duplicateOf: row["duplicate_of"])
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
                            note: String?, detail: [String: String]? = nil) throws -> Int64 {
        let detailJSON = try detail.map { String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) }
        try db.execute(sql: """
            INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status, level, unit, grid_code, note, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [incident, time(at), actor, action.rawValue, from?.rawValue, to.rawValue, level?.rawValue, unit, grid,
                             note, detailJSON])
        return db.lastInsertedRowID
    }

    /// Tells a unit about an incident; the incident's grid, village and town go with it, to scope who reads it.
    static func notify(_ db: Database, about incident: IncidentRecord, event: Int64?, at: Date, level: HandlingLevel, unit: String, reason: String) throws {
        try db.execute(sql: """
            INSERT INTO notifications (incident_id, event_seq, at, level, unit, reason, grid_code, village_code, town_code)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [incident.id, event, time(at), level.rawValue, unit, reason, incident.grid, incident.village, incident.town])
    }

    /// One incident with its history and notifications, times in the display zone.
    public func incident(id: String, now: Date = Date()) throws -> IncidentRecord {
        try database.pool.read { db in try Self.incident(db, id: id, now: now) }
    }

    static func incident(_ db: Database, id: String, now: Date) throws -> IncidentRecord {
        guard let row = try Row.fetchOne(db, sql: "SELECT \(incidentColumns) FROM incidents WHERE id = ?", arguments: [id]) else {
            throw IncidentError.notFound(id)
        }
        var record = incidentRecord(row, now: time(now))
        record.history = try Row.fetchAll(db, sql: """
            SELECT seq, at, actor, action, from_status, to_status, level, unit, grid_code, note, detail
            FROM incident_events WHERE incident_id = ? ORDER BY seq
            """, arguments: [id]).map { row in
            let detail = (row["detail"] as String?).flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
            return IncidentEvent(seq: row["seq"], at: row["at"], actor: row["actor"], action: IncidentAction(rawValue: row["action"]) ?? .report,
                                 fromStatus: (row["from_status"] as String?).flatMap(IncidentStatus.init(rawValue:)),
                                 toStatus: IncidentStatus(rawValue: row["to_status"]) ?? .reported,
                                 level: (row["level"] as String?).flatMap(HandlingLevel.init(rawValue:)), unit: row["unit"],
                                 grid: row["grid_code"], note: row["note"], detail: detail)
        }
        record.notifications = try Row.fetchAll(db, sql: """
            SELECT id, incident_id, at, level, unit, reason FROM notifications WHERE incident_id = ? ORDER BY id
            """, arguments: [id]).map(Self.notification)
        return record.displayed()
    }

    /// A notification from a row of `id, incident_id, at, level, unit, reason`, its time in the stored form.
    static func notification(_ row: Row) -> IncidentNotification {
        IncidentNotification(id: row["id"], incidentID: row["incident_id"], at: row["at"],
                             level: HandlingLevel(rawValue: row["level"]) ?? .county, unit: row["unit"], reason: row["reason"])
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
                SELECT id, incident_id, at, level, unit, reason FROM notifications \(whereClause) ORDER BY id DESC LIMIT ?
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
        if let problem = TextLimits.firstProblem([("note", change.note, TextLimits.text), ("actor", change.actor, TextLimits.name),
                                                  ("grid", change.grid, TextLimits.code), ("category", change.category, TextLimits.name)]) {
            throw IncidentError.invalid("\(change.action.rawValue): \(problem)")
        }
        // A move is located before the write lock is taken, with a placement
        // that may be older than the active generation: the write checks.
        var placement = placement
        for _ in 1...3 {
            let located: (generation: Int64, codes: [String], assignment: PointAssignment)?
            if change.action == .move {
                guard let position = change.position else { throw IncidentError.invalid("move: the new place (lon, lat) is missing") }
                let current = try placement ?? self.placement()
                located = (current.generation, current.codes, try current.locate(position))
            } else {
                located = nil
            }
            do {
                return try database.pool.write { db in
                    let active = try Self.activeGeneration(db)
                    if let located, located.generation != active { throw GenerationChanged() }
                    guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.incidentColumns) FROM incidents WHERE id = ?", arguments: [id]) else {
                        throw IncidentError.notFound(id)
                    }
                    let before = Self.incidentRecord(row, now: Self.time(now))
                    if let expected = change.expectedVersion, expected != before.version {
                        throw IncidentError.conflict(id: id, expected: expected, actual: before.version)
                    }
                    var edit = IncidentEdit(record: before, now: now, rules: rules, change: change)
                    try edit.perform(db, located: located, generation: active)
                    try edit.save(db)
                    return try Self.incident(db, id: id, now: now)
                }
            } catch is GenerationChanged {
                placement = try self.placement()
            }
        }
        throw StoreError("the active generation kept changing while incident \(id) was moved; try again")
    }

    static func activeGeneration(_ db: Database) throws -> Int64 {
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM generations WHERE status = 'active'") else {
            throw StoreError("no grids yet: run `wangge import grids FILE.geojson` first")
        }
        return id
    }

    /// Escalates every open incident past its deadline one level (the new
    /// unit gets a notification and a fresh deadline). At the county, where
    /// there is no level above, the county centre is notified once per deadline.
    /// Returns the incidents touched, with the level each went to.
    @discardableResult
    public func escalateOverdue(at now: Date = Date(), rules: DispatchRules, actor: String = "scheduler")
        throws -> [(id: String, level: HandlingLevel)] {
        try database.pool.write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(Self.incidentColumns) FROM incidents
                WHERE status NOT IN ('resolved', 'closed', 'returned') AND deadline < ? AND level IS NOT NULL ORDER BY deadline
                """, arguments: [Self.time(now)])
            var touched: [(id: String, level: HandlingLevel)] = []
            let nowText = Self.time(now)
            let generation = try Self.activeGeneration(db)
            for row in rows {
                let record = Self.incidentRecord(row, now: nowText)
                guard let level = record.level else { continue }
                let note = "overdue: the deadline \(record.deadline ?? "?") passed"
                if IncidentWorkflow.levelAbove(level) != nil {
                    var change = IncidentChange(.escalate, actor: actor, note: note)
                    change.expectedVersion = record.version
                    var edit = IncidentEdit(record: record, now: now, rules: rules, change: change)
                    try edit.perform(db, located: nil, generation: generation)
                    try edit.save(db)
                    touched.append((record.id, edit.record.level ?? level))
                } else {
                    let alreadyTold = try Bool.fetchOne(db, sql: """
                        SELECT EXISTS (SELECT 1 FROM notifications WHERE incident_id = ? AND reason LIKE 'overdue%' AND at >= ?)
                        """, arguments: [record.id, record.deadline]) ?? false
                    guard !alreadyTold else { continue }
                    try Self.notify(db, about: record, event: nil, at: now, level: .county, unit: rules.defaultDepartment,
                                    reason: "overdue at the county (\(record.unit ?? "?")): \(note)")
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
            """, arguments: [generation])
        for row in rows {
            var change = IncidentChange(.regrid, actor: actor, note: "boundary redraw: generation \(generation)")
            change.expectedVersion = row["version"]
            var edit = IncidentEdit(record: incidentRecord(row, now: nowText), now: now, rules: rules, change: change)
            try edit.perform(db, located: nil, generation: generation)
            try edit.save(db)
        }
        return rows.count
    }
}

/// One change being made to an incident inside a write transaction.
struct IncidentEdit {
    var record: IncidentRecord
    let before: IncidentRecord
    let now: Date
    let rules: DispatchRules
    let change: IncidentChange
    /// The moved place, for `move`.
    var newPlace: (position: LonLat, assignment: PointAssignment, codes: [String], generation: Int64)?

    init(record: IncidentRecord, now: Date, rules: DispatchRules, change: IncidentChange) {
        self.record = record
        self.before = record
        self.now = now
        self.rules = rules
        self.change = change
    }

    private func requireNote(_ what: String) throws -> String {
        guard let note = change.note?.trimmingCharacters(in: .whitespacesAndNewlines), !note.isEmpty else {
            throw IncidentError.invalid("\(change.action.rawValue): a note is required (\(what))")
        }
        return note
    }

    private var currentLevel: HandlingLevel { record.level ?? rules.level(for: record.severity) }

    /// Hands the incident to a grid (and its village and town) at a level.
    private mutating func route(to grid: GridInfo?, level: HandlingLevel) {
        if let grid {
            record.grid = grid.code
            record.village = grid.villageCode
            record.town = grid.townCode
        }
        record.level = level
        let department = record.department ?? rules.department(for: record.category ?? "")
        record.department = department
        if let grid {
            record.unit = Dispatcher.unit(at: level, grid: grid, department: department)
        } else if level == .county {
            record.unit = department
        }
    }

    mutating func perform(_ db: Database, located: (generation: Int64, codes: [String], assignment: PointAssignment)?, generation: Int64) throws {
        let action = change.action
        let from = record.status
        var to: IncidentStatus
        do {
            to = try IncidentWorkflow.transition(action, from: from)
        } catch let illegal as IllegalTransition {
            throw IncidentError.illegal(illegal)
        }
        var detail: [String: String] = [:]
        var notifyReason: String?
        var note = change.note
        func grid(_ code: String?) throws -> GridInfo? {
            guard let code else { return nil }
            return try GridStore.gridInfos(db, generation: generation, code: code).first
        }
        switch action {
        case .report:
            break
        case .accept, .start:
            break
        case .resolve:
            note = try requireNote("how it was settled")
        case .close:
            guard let satisfaction = change.satisfaction, (1...5).contains(satisfaction) else {
                throw IncidentError.invalid("close: the reporter's satisfaction (1–5) is required")
            }
            record.satisfaction = satisfaction
            record.closedAt = GridStore.time(now)
            detail["satisfaction"] = String(satisfaction)
        case .reopen:
            note = try requireNote("why the reporter is not satisfied")
            record.reopenings += 1
            record.closedAt = nil
            record.satisfaction = nil
            record.attempts = 0
            record.deadline = GridStore.time(rules.deadline(from: now, at: currentLevel))
            notifyReason = "reopened"
        case .mediate:
            guard let settled = change.settled else { throw IncidentError.invalid("mediate: the result (settled or failed) is required") }
            let attempt = record.attempts + 1
            detail = ["attempt": String(attempt), "result": settled ? "settled" : "failed", "level": currentLevel.rawValue]
            if settled {
                to = .resolved
                record.attempts = attempt
            } else if let above = rules.ladder.afterFailure(attempt: attempt, at: currentLevel) {
                // The ladder is used up at this level: record the attempt, then escalate.
                record.attempts = attempt
                try GridStore.recordEvent(db, incident: record.id, at: now, actor: change.actor, action: .mediate, from: from,
                                          to: .inProgress, level: currentLevel, unit: record.unit, grid: record.grid, note: note, detail: detail)
                let limit = rules.ladder.attempts[currentLevel] ?? attempt
                try escalate(db, to: above, from: .inProgress, generation: generation,
                             note: "2+1+N: \(limit) failed attempt(s) at \(currentLevel.rawValue) level")
                return
            } else {
                record.attempts = attempt
            }
        case .escalate:
            guard let above = IncidentWorkflow.levelAbove(currentLevel) else {
                throw IncidentError.illegal(IllegalTransition(action: .escalate, status: from))
            }
            try escalate(db, to: above, from: from, generation: generation, note: note)
            return
        case .return:
            note = try requireNote("why it is not this unit's")
            detail["returned_by"] = record.unit ?? "?"
            notifyReason = "returned"
        case .reroute:
            note = try requireNote("why it goes elsewhere")
            guard change.grid != nil || change.level != nil else {
                throw IncidentError.invalid("reroute: give the grid and/or the level to send it to")
            }
            let target = try grid(change.grid ?? record.grid)
            if let code = change.grid, target == nil { throw IncidentError.invalid("reroute: no grid \(code) in the active generation") }
            let level = change.level ?? currentLevel
            detail = ["from_grid": record.grid ?? "", "to_grid": target?.code ?? record.grid ?? "",
                      "from_unit": record.unit ?? "", "from_level": currentLevel.rawValue]
            route(to: target, level: level)
            record.attempts = 0
            record.deadline = GridStore.time(rules.deadline(from: now, at: level))
            notifyReason = "rerouted"
        case .move:
            guard let located, let position = change.position else { throw IncidentError.invalid("move: the new place is missing") }
            let a = located.assignment
            guard a.grid >= 0, let target = try grid(located.codes[Int(a.grid)]) else {
                throw IncidentError.invalid("move: \(RoutingRefusal(nearestGrid: a.nearestGrid >= 0 ? located.codes[Int(a.nearestGrid)] : nil, distanceMeters: a.distanceMeters))")
            }
            detail = ["from_grid": record.grid ?? "", "to_grid": target.code,
                      "from_place": String(format: "%.6f,%.6f", record.lon, record.lat),
                      "to_place": String(format: "%.6f,%.6f", position.lon, position.lat)]
            if target.code != record.grid { notifyReason = "moved into this grid" }
            route(to: target, level: currentLevel)
            record.lon = position.lon
            record.lat = position.lat
            newPlace = (position, a, located.codes, located.generation)
        case .recategorize:
            guard let category = change.category?.trimmingCharacters(in: .whitespaces), !category.isEmpty else {
                throw IncidentError.invalid("recategorize: the new category is missing")
            }
            do {
                try rules.check(.category, category)
            } catch let error as VocabularyError {
                throw IncidentError.invalid("recategorize: \(error)")
            }
            detail = ["from_category": record.category ?? "", "to_category": category,
                      "from_department": record.department ?? "", "to_department": rules.department(for: category)]
            record.category = category
            record.department = rules.department(for: category)
            route(to: try grid(record.grid), level: currentLevel)
            if detail["from_department"] != detail["to_department"], currentLevel == .county { notifyReason = "recategorized" }
        case .regrid:
            let code = try String.fetchOne(db, sql: """
                SELECT grid_code FROM assignments WHERE generation_id = ? AND layer = 'incident' AND feature_id = ?
                """, arguments: [generation, record.id])
            guard let target = try grid(code) else { throw IncidentError.invalid("regrid: \(record.id) is in no grid of generation \(generation)") }
            detail = ["from_grid": record.grid ?? "", "to_grid": target.code, "generation": String(generation)]
            route(to: target, level: currentLevel)
            notifyReason = "boundary redraw"
        }
        record.status = to
        let event = try GridStore.recordEvent(db, incident: record.id, at: now, actor: change.actor, action: action, from: from, to: to,
                                              level: record.level, unit: record.unit, grid: record.grid, note: note,
                                              detail: detail.isEmpty ? nil : detail)
        if let notifyReason, let level = record.level, let unit = record.unit {
            let (level, unit) = action == .return ? (HandlingLevel.county, rules.defaultDepartment) : (level, unit)
            try GridStore.notify(db, about: record, event: event, at: now, level: level, unit: unit, reason: notifyReason)
        }
    }

    private mutating func escalate(_ db: Database, to level: HandlingLevel, from: IncidentStatus, generation: Int64, note: String?) throws {
        let fromUnit = record.unit ?? ""
        let grid = try record.grid.flatMap { try GridStore.gridInfos(db, generation: generation, code: $0).first }
        route(to: grid, level: level)
        record.status = .escalated
        record.attempts = 0
        record.escalations += 1
        record.deadline = GridStore.time(rules.deadline(from: now, at: level))
        let event = try GridStore.recordEvent(db, incident: record.id, at: now, actor: change.actor, action: .escalate, from: from,
                                              to: .escalated, level: level, unit: record.unit, grid: record.grid, note: note,
                                              detail: ["from_unit": fromUnit, "deadline": record.deadline ?? ""])
        try GridStore.notify(db, about: record, event: event, at: now, level: level, unit: record.unit ?? fromUnit,
                             reason: "escalated from \(fromUnit)")
    }

    /// Writes the incident back, bumping its version only if nobody else did meanwhile.
    func save(_ db: Database) throws {
        try db.execute(sql: """
            UPDATE incidents SET status = ?, category = ?, satisfaction = ?, grid_code = ?, village_code = ?, town_code = ?,
                level = ?, unit = ?, department = ?, deadline = ?, attempts = ?, escalations = ?, reopenings = ?,
                closed_at = ?, updated_at = ?, version = version + 1
            WHERE id = ? AND version = ?
            """, arguments: [record.status.rawValue, record.category, record.satisfaction, record.grid, record.village, record.town,
                             record.level?.rawValue, record.unit, record.department, record.deadline, record.attempts,
                             record.escalations, record.reopenings, record.closedAt, GridStore.time(now), record.id, before.version])
        guard db.changesCount == 1 else {
            let actual = try Int.fetchOne(db, sql: "SELECT version FROM incidents WHERE id = ?", arguments: [record.id]) ?? -1
            throw IncidentError.conflict(id: record.id, expected: before.version, actual: actual)
        }
        if let newPlace, let source = change.source {
            try db.execute(sql: "UPDATE incidents SET geom = MakePoint(?, ?, 4326), source_crs = ?, source_x = ?, source_y = ? WHERE id = ?",
                           arguments: [newPlace.position.lon, newPlace.position.lat, source.crs.description, source.x, source.y, record.id])
            try GridStore.writeAssignments(db, generation: newPlace.generation, codes: newPlace.codes,
                                           points: [GridStore.StoredPoint(layer: .incidents, id: record.id, position: newPlace.position)],
                                           assignments: [newPlace.assignment])
        }
    }
}

extension JSONEncoder {
    /// Keys sorted, slashes and CJK left as they are: stable, readable JSON.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
