import Dispatch
import Foundation
import GridCore
import Localization
import Synchronization

/// A PostgreSQL + PostGIS database: a pool of libpq connections and the
/// schema, migrated on open. Connections are opened as needed, up to
/// `maxConnections`; one broken by a server restart is dropped, and the
/// next call opens a new one.
public final class PostGISDatabase: Sendable {
    public let url: PostgresURL
    private let idle = Mutex<[PostgresConnection]>([])
    private let slots: DispatchSemaphore
    /// How long a caller waits for a free connection before the store reports itself busy.
    private let checkoutTimeout: TimeInterval

    /// Whether a write notes where the primary's WAL stood at its commit (`lastCommit`), for a standby's readers.
    private let tracksCommits: Bool
    private let lastCommitPosition = Mutex<String?>(nil)

    /// The longest a statement may run, and (with `PostgresConnection.answerSlack`) wait for the server's
    /// answer, on this pool's connections: a server's, for its requests. nil (the command line's imports): no limit.
    public let statementTimeout: TimeInterval?

    /// `migrating`: false for a standby, which is read-only and gets the schema from its primary.
    public init(url: PostgresURL, maxConnections: Int = 16, checkoutTimeout: TimeInterval = 10, migrating: Bool = true,
                tracksCommits: Bool = false, statementTimeout: TimeInterval? = nil) throws {
        self.url = url
        slots = DispatchSemaphore(value: maxConnections)
        self.checkoutTimeout = checkoutTimeout
        self.tracksCommits = tracksCommits
        self.statementTimeout = statementTimeout
        if migrating {
            try write { connection in try connection.unbounded { try Self.migrate(connection) } }
        } else {
            try read { connection in
                let missing = try Self.migrations.map(\.identifier).filter {
                    try connection.query("SELECT 1 FROM wangge_migrations WHERE identifier = $1", [.text($0)]).count == 0
                }
                guard missing.isEmpty else {
                    throw WanggeError.invalid(tr("\(url.description): the database lacks schema steps \(missing.joined(separator: ", ")); open its primary once with this version first"))
                }
            }
        }
    }

    /// The primary's WAL position after this process's latest commit (pg_lsn text), when `tracksCommits`.
    public var lastCommit: String? { lastCommitPosition.withLock { $0 } }

    /// Reads from now on must see the primary as it stands (another process announced a change),
    /// so a standby that has not replayed that far is passed over. Asks the primary on `connection`.
    func mustSeePrimary(_ connection: PostgresConnection) throws {
        guard tracksCommits, let position = try connection.query("SELECT pg_current_wal_lsn()::text AS lsn").string(0, "lsn") else { return }
        lastCommitPosition.withLock { $0 = position }
    }

    /// Runs `body` on a connection of its own (no transaction: each statement commits).
    public func read<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection(body)
    }

    /// Runs `body` in one transaction: all of it or nothing.
    public func write<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { connection in
            let value = try connection.transaction { try body(connection) }
            if tracksCommits, let position = try connection.query("SELECT pg_current_wal_lsn()::text AS lsn").string(0, "lsn") {
                lastCommitPosition.withLock { $0 = position }
            }
            return value
        }
    }

    /// A new connection to this database, with the pool's statement timeout (e.g. for LISTEN).
    public func connect() throws -> PostgresConnection {
        try PostgresConnection(url: url, statementTimeout: statementTimeout)
    }

    private func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard slots.wait(timeout: .now() + checkoutTimeout) == .success else {
            throw WanggeError(.unavailable, tr("\(url.description): every database connection is busy; try again in a few seconds"), cause: "all connections in use")
        }
        defer { slots.signal() }
        let connection = try idle.withLock { $0.popLast() } ?? connect()
        do {
            let value = try body(connection)
            if connection.isHealthy { idle.withLock { $0.append(connection) } }
            return value
        } catch let error as PostgresError {
            if connection.isHealthy {
                idle.withLock { $0.append(connection) }
            } else {
                // The server went away (a restart, a failover): the idle connections are as dead as this one.
                idle.withLock { $0.removeAll() }
            }
            if error.timedOut {
                throw WanggeError(.unavailable, tr("\(url.description): the database did not answer in time; try again in a few seconds"),
                                  cause: error.description)
            }
            throw error.isConnectionLost
                ? WanggeError(.unavailable, tr("\(url.description): the database connection was lost; try again in a few seconds"), cause: error.description)
                : error
        } catch {
            if connection.isHealthy { idle.withLock { $0.append(connection) } }
            throw error
        }
    }

    /// The schema steps this build knows, oldest first. As with SpatiaLite's,
    /// a step's identifier and SQL never change once released.
    static let migrations: [(identifier: String, sql: String)] = [
        ("postgis-schema", """
            CREATE EXTENSION IF NOT EXISTS postgis;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            -- Codes and ids sort byte by byte ("C"), as SQLite does, whatever the database's locale.
            CREATE TABLE generations (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                name TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('draft', 'active', 'retired')),
                source TEXT,
                created_at TEXT NOT NULL,
                activated_at TEXT,
                retired_at TEXT,
                parent_id BIGINT REFERENCES generations(id),
                revision INTEGER NOT NULL DEFAULT 0,
                county BYTEA,
                nearest_tolerance_m DOUBLE PRECISION,
                near_boundary_m DOUBLE PRECISION);
            CREATE UNIQUE INDEX generations_one_active ON generations(status) WHERE status = 'active';
            CREATE TABLE towns (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                generation_id BIGINT NOT NULL REFERENCES generations(id),
                code TEXT COLLATE "C" NOT NULL, name TEXT NOT NULL,
                geom geometry(MultiPolygon, 4326) NOT NULL,
                UNIQUE (generation_id, code));
            CREATE TABLE villages (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                generation_id BIGINT NOT NULL REFERENCES generations(id),
                code TEXT COLLATE "C" NOT NULL, name TEXT NOT NULL, town_code TEXT COLLATE "C" NOT NULL,
                geom geometry(MultiPolygon, 4326) NOT NULL,
                UNIQUE (generation_id, code));
            CREATE TABLE grids (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                generation_id BIGINT NOT NULL REFERENCES generations(id),
                code TEXT COLLATE "C" NOT NULL, name TEXT NOT NULL,
                village_code TEXT COLLATE "C" NOT NULL, town_code TEXT COLLATE "C" NOT NULL,
                worker_name TEXT, worker_phone TEXT,
                area_m2 DOUBLE PRECISION NOT NULL,
                geom geometry(MultiPolygon, 4326) NOT NULL,
                UNIQUE (generation_id, code));
            -- The county (行政区划代码, 6 digits) of a town code: the national codes of towns begin with their
            -- county's. Other codes ('T001', a sample's) have none: ''.
            CREATE FUNCTION wangge_county(town_code TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE
                RETURN CASE WHEN town_code ~ '^[0-9]{6}' THEN left(town_code, 6) ELSE '' END;
            -- Households are partitioned by the county of their grid's town (households_c<county>, created as
            -- counties arrive; households_none for ''), so that one county's import or deletion leaves the others'
            -- rows and indexes alone. Ids stay unique across counties: writers that add ids take an advisory lock.
            CREATE TABLE households (
                county TEXT COLLATE "C" NOT NULL DEFAULT '',
                id TEXT COLLATE "C" NOT NULL,
                address TEXT, head TEXT, phone TEXT, id_number TEXT,
                members INTEGER NOT NULL DEFAULT 1 CHECK (members >= 0),
                tags TEXT NOT NULL DEFAULT '',
                source_crs TEXT NOT NULL, source_x DOUBLE PRECISION NOT NULL, source_y DOUBLE PRECISION NOT NULL,
                version INTEGER NOT NULL DEFAULT 1,
                updated_at TEXT,
                geom geometry(Point, 4326) NOT NULL,
                PRIMARY KEY (county, id)) PARTITION BY LIST (county);
            CREATE TABLE households_none PARTITION OF households FOR VALUES IN ('');
            CREATE INDEX households_by_id ON households(id);
            CREATE TABLE cameras (
                id TEXT COLLATE "C" PRIMARY KEY,
                type TEXT, name TEXT,
                heading_deg DOUBLE PRECISION, fov_deg DOUBLE PRECISION, range_m DOUBLE PRECISION,
                status TEXT NOT NULL DEFAULT 'online',
                source_crs TEXT NOT NULL, source_x DOUBLE PRECISION NOT NULL, source_y DOUBLE PRECISION NOT NULL,
                geom geometry(Point, 4326) NOT NULL);
            CREATE TABLE incidents (
                id TEXT COLLATE "C" PRIMARY KEY,
                category TEXT, channel TEXT, severity TEXT,
                status TEXT NOT NULL DEFAULT 'reported',
                reported_at TEXT, description TEXT, reporter TEXT, satisfaction INTEGER,
                source_crs TEXT NOT NULL, source_x DOUBLE PRECISION NOT NULL, source_y DOUBLE PRECISION NOT NULL,
                level TEXT, unit TEXT, department TEXT, deadline TEXT, duplicate_of TEXT,
                grid_code TEXT COLLATE "C", village_code TEXT COLLATE "C", town_code TEXT COLLATE "C",
                version INTEGER NOT NULL DEFAULT 1,
                attempts INTEGER NOT NULL DEFAULT 0,
                escalations INTEGER NOT NULL DEFAULT 0,
                reopenings INTEGER NOT NULL DEFAULT 0,
                updated_at TEXT, closed_at TEXT, occurred_at TEXT, external_id TEXT,
                geom geometry(Point, 4326) NOT NULL);
            CREATE INDEX incidents_by_category_time ON incidents(category, reported_at);
            CREATE INDEX incidents_by_grid ON incidents(grid_code, status);
            CREATE INDEX incidents_by_deadline ON incidents(deadline) WHERE status NOT IN ('resolved', 'closed');
            CREATE UNIQUE INDEX incidents_by_ticket ON incidents(channel, external_id) WHERE external_id IS NOT NULL;
            -- One row per point and generation: history survives a redraw.
            CREATE TABLE assignments (
                generation_id BIGINT NOT NULL REFERENCES generations(id),
                layer TEXT NOT NULL CHECK (layer IN ('household', 'camera', 'incident')),
                feature_id TEXT COLLATE "C" NOT NULL,
                grid_code TEXT COLLATE "C",
                method TEXT NOT NULL CHECK (method IN ('inside', 'boundary', 'nearest', 'none')),
                distance_m DOUBLE PRECISION,
                runner_up TEXT COLLATE "C",
                runner_up_distance_m DOUBLE PRECISION,
                nearest_grid TEXT COLLATE "C",
                PRIMARY KEY (generation_id, layer, feature_id));
            CREATE INDEX assignments_by_grid ON assignments(generation_id, grid_code, layer);
            CREATE TABLE tokens (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('admin', 'planner', 'dispatcher', 'grid_worker', 'viewer')),
                grids TEXT NOT NULL DEFAULT '',
                villages TEXT NOT NULL DEFAULT '',
                towns TEXT NOT NULL DEFAULT '',
                -- SHA-256 of the token, hex: the token itself is never stored.
                hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL,
                expires_at TEXT,
                revoked_at TEXT);
            CREATE TABLE audit_log (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                at TEXT NOT NULL,
                token_id BIGINT NOT NULL REFERENCES tokens(id),
                caller TEXT NOT NULL,
                role TEXT NOT NULL,
                action TEXT NOT NULL,
                grid_code TEXT,
                records INTEGER NOT NULL);
            CREATE INDEX audit_log_by_time ON audit_log(at);
            CREATE TABLE incident_events (
                seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                incident_id TEXT NOT NULL REFERENCES incidents(id),
                at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                from_status TEXT, to_status TEXT NOT NULL,
                level TEXT, unit TEXT, grid_code TEXT, note TEXT, detail TEXT);
            CREATE INDEX incident_events_by_incident ON incident_events(incident_id, seq);
            CREATE TABLE notifications (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                incident_id TEXT NOT NULL REFERENCES incidents(id),
                event_seq BIGINT REFERENCES incident_events(seq),
                at TEXT NOT NULL, level TEXT NOT NULL, unit TEXT NOT NULL, reason TEXT NOT NULL,
                grid_code TEXT, village_code TEXT, town_code TEXT);
            CREATE INDEX notifications_by_unit ON notifications(unit, at);
            CREATE TABLE household_events (
                seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                household_id TEXT NOT NULL,
                at TEXT NOT NULL, actor TEXT NOT NULL,
                action TEXT NOT NULL CHECK (action IN ('add', 'edit', 'move', 'remove')),
                version INTEGER NOT NULL, from_grid TEXT, to_grid TEXT, changes TEXT NOT NULL);
            CREATE INDEX household_events_by_household ON household_events(household_id, seq);
            """),
        ("postgis-spatial-indexes", """
            CREATE INDEX towns_geom ON towns USING gist (geom);
            CREATE INDEX villages_geom ON villages USING gist (geom);
            CREATE INDEX grids_geom ON grids USING gist (geom);
            CREATE INDEX households_geom ON households USING gist (geom);
            CREATE INDEX cameras_geom ON cameras USING gist (geom);
            CREATE INDEX incidents_geom ON incidents USING gist (geom);
            """),
        // Incident times compare and sort as text, and the area codes of events and notifications are matched
        // with the grids' (COLLATE "C"): byte by byte, as in SQLite, whatever the database's locale.
        ("postgis-incident-times-bytewise", """
            ALTER TABLE incidents ALTER COLUMN reported_at TYPE TEXT COLLATE "C", ALTER COLUMN deadline TYPE TEXT COLLATE "C",
                ALTER COLUMN closed_at TYPE TEXT COLLATE "C", ALTER COLUMN occurred_at TYPE TEXT COLLATE "C",
                ALTER COLUMN updated_at TYPE TEXT COLLATE "C";
            ALTER TABLE incident_events ALTER COLUMN at TYPE TEXT COLLATE "C", ALTER COLUMN grid_code TYPE TEXT COLLATE "C";
            ALTER TABLE notifications ALTER COLUMN at TYPE TEXT COLLATE "C", ALTER COLUMN grid_code TYPE TEXT COLLATE "C",
                ALTER COLUMN village_code TYPE TEXT COLLATE "C", ALTER COLUMN town_code TYPE TEXT COLLATE "C";
            """),
        // The configuration every server on this database follows instead of its file's (`wangge config push`),
        // as SpatiaLite's `stored-configuration`: the latest change only; text NULL means it was cleared.
        ("postgis-stored-configuration", """
            CREATE TABLE stored_configuration (
                version BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                stored_at TEXT NOT NULL,
                text TEXT);
            """),
        // As SpatiaLite's `lifecycle-reasons-as-codes`: the lifecycle's own reasons become a code and fields.
        ("postgis-lifecycle-reasons-as-codes", "ALTER TABLE notifications ADD COLUMN detail TEXT;\n" + lifecycleReasonsAsCodes),
    ]

    /// As `SpatiaLiteDatabase.lifecycleReasonsAsCodes`, in PostgreSQL's dialect.
    static let lifecycleReasonsAsCodes = """
        UPDATE notifications SET reason = 'escalated', detail = jsonb_build_object('from_unit', substr(reason, 16))::text
            WHERE substr(reason, 1, 15) = 'escalated from ';
        UPDATE notifications SET reason = 'moved_in' WHERE reason = 'moved into this grid';
        UPDATE notifications SET reason = 'boundary_redraw' WHERE reason = 'boundary redraw';
        UPDATE notifications SET reason = 'overdue_at_county', detail = jsonb_build_object(
                'overdue_unit', substr(reason, 24, strpos(reason, '): overdue: the deadline ') - 24),
                'missed_deadline', substr(reason, strpos(reason, '): overdue: the deadline ') + 25,
                                          length(reason) - strpos(reason, '): overdue: the deadline ') - 31))::text
            WHERE substr(reason, 1, 23) = 'overdue at the county (' AND strpos(reason, '): overdue: the deadline ') > 0
              AND right(reason, 7) = ' passed';
        UPDATE incident_events SET note = NULL, detail = (coalesce(detail, '{}')::jsonb || jsonb_build_object('reason', 'ladder_used_up',
                'attempts', substr(note, 8, strpos(note, ' failed attempt(s) at ') - 8),
                'from_level', substr(note, strpos(note, ' failed attempt(s) at ') + 22, length(note) - strpos(note, ' failed attempt(s) at ') - 27)))::text
            WHERE action = 'escalate' AND substr(note, 1, 7) = '2+1+N: ' AND strpos(note, ' failed attempt(s) at ') > 0
              AND right(note, 6) = ' level';
        UPDATE incident_events SET note = NULL, detail = (coalesce(detail, '{}')::jsonb || jsonb_build_object('reason', 'overdue',
                'missed_deadline', substr(note, 23, length(note) - 29)))::text
            WHERE action = 'escalate' AND substr(note, 1, 22) = 'overdue: the deadline ' AND right(note, 7) = ' passed';
        UPDATE incident_events SET note = NULL, detail = (coalesce(detail, '{}')::jsonb || jsonb_build_object('reason', 'imported', 'file', substr(note, 15)))::text
            WHERE action = 'report' AND substr(note, 1, 14) = 'imported from ';
        UPDATE incident_events SET note = NULL, detail = (coalesce(detail, '{}')::jsonb || jsonb_build_object('reason', 'boundary_redraw'))::text
            WHERE action = 'regrid' AND substr(note, 1, 28) = 'boundary redraw: generation ';
        """

    /// Runs the steps not yet run, inside the caller's transaction. An advisory
    /// lock makes servers that start together migrate one after the other.
    static func migrate(_ connection: PostgresConnection) throws {
        try connection.execute("SELECT pg_advisory_xact_lock(\(AdvisoryLock.migration))")
        try connection.execute("CREATE TABLE IF NOT EXISTS wangge_migrations (identifier TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        let applied = try connection.query("SELECT identifier FROM wangge_migrations")
        let done = Set((0..<applied.count).map { applied.text($0, "identifier") })
        for step in migrations where !done.contains(step.identifier) {
            try connection.execute(step.sql)
            try connection.query("INSERT INTO wangge_migrations (identifier) VALUES ($1)", [.text(step.identifier)])
        }
    }

    /// Keys of the advisory locks Wangge takes (one number space per database).
    enum AdvisoryLock {
        static let migration: Int64 = 0x5767_0001
        static let activation: Int64 = 0x5767_0002
        /// Held by writers that add household ids (imports, additions), which the primary key
        /// (county, id) alone would let two counties share.
        static let householdIDs: Int64 = 0x5767_0003
        /// Held while household partitions are created.
        static let partitions: Int64 = 0x5767_0004
    }
}
