import GRDB
import GridCore
import Localization

/// The schema, every change in the order it was made, in one place. A
/// migration's identifier and SQL never change once released: databases
/// made by earlier releases record the identifiers they ran and get only
/// the ones after. A schema change is a new migration at the end.
extension SpatiaLiteDatabase {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("spatial-metadata") { db in
            // The 0 form: the migration's own transaction covers it.
            try requireOne(db, "SELECT InitSpatialMetadata(0)", what: "InitSpatialMetadata")
        }
        migrator.registerMigration("hierarchy-and-points") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE generations (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('draft', 'active', 'retired')),
                    source TEXT,
                    created_at TEXT NOT NULL,
                    activated_at TEXT);
                CREATE UNIQUE INDEX generations_one_active ON generations(status) WHERE status = 'active';
                CREATE TABLE towns (
                    id INTEGER PRIMARY KEY,
                    generation_id INTEGER NOT NULL REFERENCES generations(id),
                    code TEXT NOT NULL, name TEXT NOT NULL,
                    UNIQUE (generation_id, code));
                CREATE TABLE villages (
                    id INTEGER PRIMARY KEY,
                    generation_id INTEGER NOT NULL REFERENCES generations(id),
                    code TEXT NOT NULL, name TEXT NOT NULL, town_code TEXT NOT NULL,
                    UNIQUE (generation_id, code));
                CREATE TABLE grids (
                    id INTEGER PRIMARY KEY,
                    generation_id INTEGER NOT NULL REFERENCES generations(id),
                    code TEXT NOT NULL, name TEXT NOT NULL,
                    village_code TEXT NOT NULL, town_code TEXT NOT NULL,
                    worker_name TEXT, worker_phone TEXT,
                    area_m2 REAL NOT NULL,
                    UNIQUE (generation_id, code));
                CREATE TABLE households (
                    id TEXT PRIMARY KEY,
                    address TEXT, head TEXT, phone TEXT, id_number TEXT,
                    members INTEGER NOT NULL DEFAULT 1 CHECK (members >= 0),
                    tags TEXT NOT NULL DEFAULT '',
                    source_crs TEXT NOT NULL, source_x REAL NOT NULL, source_y REAL NOT NULL);
                CREATE TABLE cameras (
                    id TEXT PRIMARY KEY,
                    type TEXT, name TEXT,
                    heading_deg REAL, fov_deg REAL, range_m REAL,
                    status TEXT NOT NULL DEFAULT 'online',
                    source_crs TEXT NOT NULL, source_x REAL NOT NULL, source_y REAL NOT NULL);
                CREATE TABLE incidents (
                    id TEXT PRIMARY KEY,
                    category TEXT, channel TEXT, severity TEXT,
                    status TEXT NOT NULL DEFAULT 'reported',
                    reported_at TEXT, description TEXT, reporter TEXT, satisfaction INTEGER,
                    source_crs TEXT NOT NULL, source_x REAL NOT NULL, source_y REAL NOT NULL);
                -- One row per point and generation: history survives a redraw.
                CREATE TABLE assignments (
                    generation_id INTEGER NOT NULL REFERENCES generations(id),
                    layer TEXT NOT NULL CHECK (layer IN ('household', 'camera', 'incident')),
                    feature_id TEXT NOT NULL,
                    grid_code TEXT,
                    method TEXT NOT NULL CHECK (method IN ('inside', 'boundary', 'nearest', 'none')),
                    distance_m REAL,
                    runner_up TEXT,
                    runner_up_distance_m REAL,
                    nearest_grid TEXT,
                    PRIMARY KEY (generation_id, layer, feature_id)) WITHOUT ROWID;
                CREATE INDEX assignments_by_grid ON assignments(generation_id, grid_code, layer);
                """)
            for table in ["towns", "villages", "grids"] {
                try requireOne(db, "SELECT AddGeometryColumn('\(table)', 'geom', 4326, 'MULTIPOLYGON', 'XY', 1)", what: "AddGeometryColumn(\(table))")
                try requireOne(db, "SELECT CreateSpatialIndex('\(table)', 'geom')", what: "CreateSpatialIndex(\(table))")
            }
            for table in ["households", "cameras", "incidents"] {
                try requireOne(db, "SELECT AddGeometryColumn('\(table)', 'geom', 4326, 'POINT', 'XY', 1)", what: "AddGeometryColumn(\(table))")
                try requireOne(db, "SELECT CreateSpatialIndex('\(table)', 'geom')", what: "CreateSpatialIndex(\(table))")
            }
        }
        migrator.registerMigration("tokens-and-audit") { db in
            try db.execute(sql: """
                CREATE TABLE tokens (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL CHECK (role IN ('admin', 'planner', 'dispatcher', 'grid_worker', 'viewer')),
                    grids TEXT NOT NULL DEFAULT '',
                    -- SHA-256 of the token, hex: the token itself is never stored.
                    hash TEXT NOT NULL UNIQUE,
                    created_at TEXT NOT NULL,
                    revoked_at TEXT);
                -- Every read of unmasked personal data: who, what, when.
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    token_id INTEGER NOT NULL REFERENCES tokens(id),
                    caller TEXT NOT NULL,
                    role TEXT NOT NULL,
                    action TEXT NOT NULL,
                    grid_code TEXT,
                    records INTEGER NOT NULL);
                CREATE INDEX audit_log_by_time ON audit_log(at);
                """)
        }
        migrator.registerMigration("incident-routing") { db in
            try db.execute(sql: """
                ALTER TABLE incidents ADD COLUMN level TEXT;
                ALTER TABLE incidents ADD COLUMN unit TEXT;
                ALTER TABLE incidents ADD COLUMN department TEXT;
                ALTER TABLE incidents ADD COLUMN deadline TEXT;
                ALTER TABLE incidents ADD COLUMN duplicate_of TEXT;
                CREATE INDEX incidents_by_category_time ON incidents(category, reported_at);
                """)
        }
        migrator.registerMigration("incident-lifecycle") { db in
            try db.execute(sql: """
                -- The grid, village and town responsible now (routing, re-routing, redraws).
                ALTER TABLE incidents ADD COLUMN grid_code TEXT;
                ALTER TABLE incidents ADD COLUMN village_code TEXT;
                ALTER TABLE incidents ADD COLUMN town_code TEXT;
                -- Optimistic concurrency: every change checks and bumps it.
                ALTER TABLE incidents ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
                -- Failed mediation attempts at the current level (the 2+1+N ladder).
                ALTER TABLE incidents ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE incidents ADD COLUMN escalations INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE incidents ADD COLUMN reopenings INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE incidents ADD COLUMN updated_at TEXT;
                ALTER TABLE incidents ADD COLUMN closed_at TEXT;
                CREATE INDEX incidents_by_grid ON incidents(grid_code, status);
                CREATE INDEX incidents_by_deadline ON incidents(deadline) WHERE status NOT IN ('resolved', 'closed');
                -- Every change: who, when, from what status to what, and why.
                CREATE TABLE incident_events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    incident_id TEXT NOT NULL REFERENCES incidents(id),
                    at TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    from_status TEXT,
                    to_status TEXT NOT NULL,
                    level TEXT, unit TEXT, grid_code TEXT,
                    note TEXT,
                    detail TEXT);
                CREATE INDEX incident_events_by_incident ON incident_events(incident_id, seq);
                -- What a unit must be told: an incident escalated or sent to it, or overdue.
                CREATE TABLE notifications (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    incident_id TEXT NOT NULL REFERENCES incidents(id),
                    event_seq INTEGER REFERENCES incident_events(seq),
                    at TEXT NOT NULL,
                    level TEXT NOT NULL,
                    unit TEXT NOT NULL,
                    reason TEXT NOT NULL);
                CREATE INDEX notifications_by_unit ON notifications(unit, at);
                UPDATE incidents SET (grid_code, village_code, town_code) = (
                    SELECT g.code, g.village_code, g.town_code FROM assignments a
                    JOIN generations n ON n.id = a.generation_id AND n.status = 'active'
                    JOIN grids g ON g.generation_id = a.generation_id AND g.code = a.grid_code
                    WHERE a.layer = 'incident' AND a.feature_id = incidents.id);
                """)
        }
        migrator.registerMigration("generation-planning") { db in
            try db.execute(sql: """
                -- When a generation stopped being active (rollback takes the latest).
                ALTER TABLE generations ADD COLUMN retired_at TEXT;
                -- The generation a draft was copied from.
                ALTER TABLE generations ADD COLUMN parent_id INTEGER REFERENCES generations(id);
                -- Bumped by every edit of a draft, so an activation notices an edit made meanwhile.
                ALTER TABLE generations ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
                -- The county the grids must tile (MultiPolygon WKB, WGS84), kept with each generation.
                ALTER TABLE generations ADD COLUMN county BLOB;
                -- The assignment rule's distances the generation's assignments were made with.
                ALTER TABLE generations ADD COLUMN nearest_tolerance_m REAL;
                ALTER TABLE generations ADD COLUMN near_boundary_m REAL;
                """)
        }
        migrator.registerMigration("token-scopes-expiry-and-notification-areas") { db in
            try db.execute(sql: """
                -- A grid worker's villages and towns: every grid under them in the active generation.
                ALTER TABLE tokens ADD COLUMN villages TEXT NOT NULL DEFAULT '';
                ALTER TABLE tokens ADD COLUMN towns TEXT NOT NULL DEFAULT '';
                -- ISO 8601 (UTC); the token is refused from then on. NULL: never.
                ALTER TABLE tokens ADD COLUMN expires_at TEXT;
                -- The grid, village and town a notification concerns, so that a grid worker reads only its own units'.
                ALTER TABLE notifications ADD COLUMN grid_code TEXT;
                ALTER TABLE notifications ADD COLUMN village_code TEXT;
                ALTER TABLE notifications ADD COLUMN town_code TEXT;
                UPDATE notifications SET
                    grid_code = coalesce((SELECT e.grid_code FROM incident_events e WHERE e.seq = notifications.event_seq),
                                         (SELECT i.grid_code FROM incidents i WHERE i.id = notifications.incident_id)),
                    village_code = (SELECT i.village_code FROM incidents i WHERE i.id = notifications.incident_id),
                    town_code = (SELECT i.town_code FROM incidents i WHERE i.id = notifications.incident_id);
                """)
        }
        // Incident times were written in China Standard Time (+08:00) while
        // tokens, the audit log and generations were in UTC: all UTC now (see
        // `TimePolicy`), one form that compares as text in SQL. Text that is
        // no time SQLite reads is left as it was rather than lost.
        migrator.registerMigration("incident-times-in-utc") { db in
            let columns = [("incidents", "reported_at"), ("incidents", "deadline"), ("incidents", "updated_at"), ("incidents", "closed_at"),
                           ("incident_events", "at"), ("notifications", "at")]
            for (table, column) in columns {
                try db.execute(sql: """
                    UPDATE \(table) SET \(column) = strftime('%Y-%m-%dT%H:%M:%SZ', \(column))
                    WHERE \(column) GLOB '*[+-][0-9][0-9]:[0-9][0-9]' AND strftime('%Y-%m-%dT%H:%M:%SZ', \(column)) IS NOT NULL
                    """)
            }
        }
        migrator.registerMigration("household-upkeep") { db in
            try db.execute(sql: """
                -- Optimistic concurrency for edits by grid workers: every change checks and bumps it.
                ALTER TABLE households ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
                ALTER TABLE households ADD COLUMN updated_at TEXT;
                -- Every add, edit, move and removal: who, when, each field before and after (JSON),
                -- and the grids it left and entered. No foreign key: a removed household's history stays.
                CREATE TABLE household_events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    household_id TEXT NOT NULL,
                    at TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL CHECK (action IN ('add', 'edit', 'move', 'remove')),
                    version INTEGER NOT NULL,
                    from_grid TEXT,
                    to_grid TEXT,
                    changes TEXT NOT NULL);
                CREATE INDEX household_events_by_household ON household_events(household_id, seq);
                """)
        }
        migrator.registerMigration("incident-occurrence-and-ticket") { db in
            try db.execute(sql: """
                -- When it happened, as the reporter says (reported_at is when the centre received it).
                ALTER TABLE incidents ADD COLUMN occurred_at TEXT;
                -- The ticket number of the channel it came by (the 12345 hotline's, say): one incident per ticket.
                ALTER TABLE incidents ADD COLUMN external_id TEXT;
                CREATE UNIQUE INDEX incidents_by_ticket ON incidents(channel, external_id) WHERE external_id IS NOT NULL;
                """)
        }
        migrator.registerMigration("stored-configuration") { db in
            try db.execute(sql: """
                -- The configuration every process on this database follows instead of its file's (`wangge config push`):
                -- only the latest change is kept; text NULL means it was cleared. AUTOINCREMENT: a version is never reused.
                CREATE TABLE stored_configuration (
                    version INTEGER PRIMARY KEY AUTOINCREMENT,
                    stored_at TEXT NOT NULL,
                    text TEXT);
                """)
        }
        migrator.registerMigration("lifecycle-reasons-as-codes") { db in
            try db.execute(sql: """
                -- The lifecycle's own reasons become a code and fields (LifecycleReason), worded when shown; they were
                -- English sentences. A notification's fields go in its new detail column, an event's in its detail,
                -- the code under "reason"; an event's note is left to a person's words.
                ALTER TABLE notifications ADD COLUMN detail TEXT;
                """)
            try db.execute(sql: lifecycleReasonsAsCodes)
        }
        return migrator
    }

    /// The English sentences the lifecycle stored before `lifecycle-reasons-as-codes`, as codes and fields
    /// (rows already in codes are left alone; PostGISDatabase has the same in its dialect).
    static let lifecycleReasonsAsCodes = """
        UPDATE notifications SET reason = 'escalated', detail = json_object('from_unit', substr(reason, 16))
            WHERE substr(reason, 1, 15) = 'escalated from ';
        UPDATE notifications SET reason = 'moved_in' WHERE reason = 'moved into this grid';
        UPDATE notifications SET reason = 'boundary_redraw' WHERE reason = 'boundary redraw';
        UPDATE notifications SET reason = 'overdue_at_county', detail = json_object(
                'overdue_unit', substr(reason, 24, instr(reason, '): overdue: the deadline ') - 24),
                'missed_deadline', substr(reason, instr(reason, '): overdue: the deadline ') + 25,
                                          length(reason) - instr(reason, '): overdue: the deadline ') - 31))
            WHERE substr(reason, 1, 23) = 'overdue at the county (' AND instr(reason, '): overdue: the deadline ') > 0
              AND substr(reason, -7) = ' passed';
        UPDATE incident_events SET note = NULL, detail = json_set(coalesce(detail, '{}'), '$.reason', 'ladder_used_up',
                '$.attempts', substr(note, 8, instr(note, ' failed attempt(s) at ') - 8),
                '$.from_level', substr(note, instr(note, ' failed attempt(s) at ') + 22, length(note) - instr(note, ' failed attempt(s) at ') - 27))
            WHERE action = 'escalate' AND substr(note, 1, 7) = '2+1+N: ' AND instr(note, ' failed attempt(s) at ') > 0
              AND substr(note, -6) = ' level';
        UPDATE incident_events SET note = NULL, detail = json_set(coalesce(detail, '{}'), '$.reason', 'overdue',
                '$.missed_deadline', substr(note, 23, length(note) - 29))
            WHERE action = 'escalate' AND substr(note, 1, 22) = 'overdue: the deadline ' AND substr(note, -7) = ' passed';
        UPDATE incident_events SET note = NULL, detail = json_set(coalesce(detail, '{}'), '$.reason', 'imported', '$.file', substr(note, 15))
            WHERE action = 'report' AND substr(note, 1, 14) = 'imported from ';
        UPDATE incident_events SET note = NULL, detail = json_set(coalesce(detail, '{}'), '$.reason', 'boundary_redraw')
            WHERE action = 'regrid' AND substr(note, 1, 28) = 'boundary redraw: generation ';
        """

    /// SpatiaLite's administrative functions report failure as 0, not as an SQL error.
    static func requireOne(_ db: Database, _ sql: String, what: String) throws {
        let result = try Int.fetchOne(db, sql: sql)
        guard result == 1 else { throw WanggeError.invalid(tr("\(what) failed (returned \(result.map(String.init) ?? "NULL"))")) }
    }
}
