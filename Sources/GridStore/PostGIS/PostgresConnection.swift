import CLibPQ
import Foundation
import GRDB
import GridCore
import Localization

/// A `postgresql://` URL, shown everywhere without its password.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// As given, password included: only libpq sees it.
    let full: String
    /// As shown in messages and logs.
    public let description: String

    /// Whether a `--db` value names a PostgreSQL database rather than a SpatiaLite file.
    public static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgresql://") || location.hasPrefix("postgres://")
    }

    public init(_ text: String) throws {
        guard Self.isPostgres(text), var parts = URLComponents(string: text), parts.host?.isEmpty == false else {
            throw WanggeError.invalid(tr("\(Self.redacted(text)): not a PostgreSQL URL (postgresql://USER@HOST:PORT/DBNAME)"), field: "db")
        }
        full = text
        if parts.password != nil { parts.password = "***" }
        description = parts.string ?? Self.redacted(text)
    }

    /// The text with anything between "://" and "@" that holds a ':' (a password) starred out.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else { return text }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}

/// A value bound to a `$n` parameter. Text travels as text; bytes (WKB) as binary.
public enum PostgresValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case double(Double)
    case bytes([UInt8])
    case null

    static func optional(_ value: String?) -> PostgresValue { value.map(PostgresValue.text) ?? .null }
    static func optional(_ value: Double?) -> PostgresValue { value.map(PostgresValue.double) ?? .null }
    static func optional(_ value: Int?) -> PostgresValue { value.map { .integer(Int64($0)) } ?? .null }
}

/// A failure PostgreSQL reported, with its SQLSTATE (e.g. 40001, 23505).
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public let state: String
    public let message: String
    /// The server did not answer in time: its statement timeout (57014), or no answer at all
    /// within this process's wait (a stalled server; the connection was given up).
    public let timedOut: Bool
    public var description: String { state.isEmpty ? message : "\(message) (SQLSTATE \(state))" }

    public init(state: String, message: String, timedOut: Bool = false) {
        self.state = state
        self.message = message
        self.timedOut = timedOut || state == "57014"
    }

    /// The connection or server went away: retrying later, on a new connection, can succeed.
    public var isConnectionLost: Bool { state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03" }
    /// A unique, foreign-key or check constraint refused the row.
    public var isConstraintViolation: Bool { state.hasPrefix("23") }
}

/// The rows of one statement, in text form (PostgreSQL's own text output of
/// float8 round-trips exactly). Owns its `PGresult`, cleared once.
public final class PostgresRows {
    private let result: OpaquePointer
    public let count: Int
    private let columns: [String: Int32]

    init(_ result: OpaquePointer) {
        self.result = result
        count = Int(PQntuples(result))
        var columns: [String: Int32] = [:]
        for c in 0..<PQnfields(result) { columns[String(cString: PQfname(result, c))] = c }
        self.columns = columns
    }

    deinit { PQclear(result) }

    private func column(_ name: String) -> Int32 {
        guard let c = columns[name] else { preconditionFailure("no column \(name) in the result") }
        return c
    }

    public func isNull(_ row: Int, _ name: String) -> Bool { row >= count || PQgetisnull(result, Int32(row), column(name)) == 1 }

    public func string(_ row: Int, _ name: String) -> String? {
        let c = column(name)
        guard row < count, PQgetisnull(result, Int32(row), c) == 0 else { return nil }
        return String(cString: PQgetvalue(result, Int32(row), c))
    }

    public func text(_ row: Int, _ name: String) -> String { string(row, name) ?? "" }

    public func int(_ row: Int, _ name: String) -> Int? { string(row, name).flatMap { Int($0) } }

    public func int64(_ row: Int, _ name: String) -> Int64? { string(row, name).flatMap { Int64($0) } }

    public func double(_ row: Int, _ name: String) -> Double? {
        string(row, name).flatMap { text in
            switch text {
            case "Infinity": .infinity
            case "-Infinity": -.infinity
            case "NaN": .nan
            default: Double(text)
            }
        }
    }

    /// bytea's text output: "\\x" and two hex digits a byte.
    static func decodeBytea(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x") else { return [] }
        func nibble(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c &- UInt8(ascii: "0") : (c | 0x20) &- UInt8(ascii: "a") &+ 10 }
        var bytes = [UInt8](repeating: 0, count: (text.count - 2) / 2)
        for i in bytes.indices { bytes[i] = nibble(text[2 + 2 * i]) << 4 | nibble(text[3 + 2 * i]) }
        return bytes
    }

    /// A column's value typed as SQLite's would be, by the column's type (int2/4/8, float4/8, else text).
    func databaseValue(_ row: Int, _ name: String) -> DatabaseValue {
        guard let text = string(row, name) else { return .null }
        switch PQftype(result, column(name)) {
        case 20, 21, 23: return Int64(text).map { $0.databaseValue } ?? text.databaseValue
        case 700, 701: return double(row, name).map { $0.databaseValue } ?? text.databaseValue
        default: return text.databaseValue
        }
    }

    public func bool(_ row: Int, _ name: String) -> Bool? { string(row, name).map { $0 == "t" } }

    /// Every row as a GRDB `Row` (values typed as `databaseValue` types them), for code the two stores share.
    func grdbRows() -> [Row] {
        (0..<count).map { r in Row(columns.keys.reduce(into: [String: (any DatabaseValueConvertible)?]()) { $0[$1] = databaseValue(r, $1) }) }
    }

    /// A bytea column (text form `\x` + hex), e.g. `ST_AsBinary(geom)`.
    public func bytes(_ row: Int, _ name: String) -> [UInt8]? {
        let c = column(name)
        guard row < count, PQgetisnull(result, Int32(row), c) == 0, let value = PQgetvalue(result, Int32(row), c) else { return nil }
        let length = Int(PQgetlength(result, Int32(row), c))
        return value.withMemoryRebound(to: UInt8.self, capacity: length) { Self.decodeBytea(UnsafeBufferPointer(start: $0, count: length)) }
    }
}

/// One connection to PostgreSQL through libpq, used by one thread at a time
/// (the pool hands it out). Owns its `PGconn`, finished once.
public final class PostgresConnection: @unchecked Sendable {
    private let connection: OpaquePointer
    public let url: PostgresURL
    /// How long a statement may wait for the server's answer before the connection is given up (nil: for ever).
    private var answerTimeout: TimeInterval?
    /// Set when a wait for an answer ran out: the connection is in an unknown state and is never used again.
    private var abandoned = false

    /// What libpq is told beyond the URL (a setting the URL gives wins): a server that does not answer
    /// the connection is an error after 5 s; keepalives find a peer that vanished while the connection
    /// is idle, and data left unacknowledged for 30 s (a network partition) breaks the connection.
    static let connectionOptions = [("connect_timeout", "5"), ("keepalives", "1"), ("keepalives_idle", "10"),
                                    ("keepalives_interval", "5"), ("keepalives_count", "3"), ("tcp_user_timeout", "30000")]

    /// Slack added to the statement timeout before this process stops waiting: the server's own timeout
    /// normally ends the statement first (and the connection stays usable); only a stalled server runs it out.
    static let answerSlack: TimeInterval = 5

    /// `statementTimeout`: the longest a statement may run (the server's `statement_timeout`), and, with
    /// `answerSlack`, the longest this process waits for any answer; nil (command-line imports): no limit.
    public init(url: PostgresURL, statementTimeout: TimeInterval? = nil) throws {
        self.url = url
        let options = Self.connectionOptions.filter { !url.full.contains("\($0.0)=") }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        guard let connection = PQconnectdb(url.full + (url.full.contains("?") ? "&" : "?") + options) else {
            throw WanggeError(.unavailable, tr("\(url.description): cannot connect to PostgreSQL (out of memory)"))
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = Self.message(PQerrorMessage(connection))
            PQfinish(connection)
            throw WanggeError(.unavailable, tr("\(url.description): cannot connect to PostgreSQL: \(reason)"), cause: reason)
        }
        self.connection = connection
        answerTimeout = statementTimeout.map { $0 + Self.answerSlack }
        // Numbers, times and texts as this code expects them, whatever the server's defaults.
        try execute("SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'; SET extra_float_digits = 1; SET client_min_messages = warning"
                    + (statementTimeout.map { "; SET statement_timeout = \(Int(($0 * 1000).rounded(.up)))" } ?? ""))
    }

    deinit { PQfinish(connection) }

    /// Whether the connection is still usable (false after the server went away or stopped answering).
    public var isHealthy: Bool { !abandoned && PQstatus(connection) == CONNECTION_OK }

    /// Runs `body`, inside a transaction, without the statement timeout or the wait's bound: schema steps,
    /// which may rewrite a province's tables, must not be cut off by a server's timeout for requests.
    func unbounded<T>(_ body: () throws -> T) throws -> T {
        guard let saved = answerTimeout else { return try body() }
        try execute("SET LOCAL statement_timeout = 0")
        answerTimeout = nil
        defer { answerTimeout = saved }
        return try body()
    }

    /// PostgreSQL's message, its password-bearing URL never included.
    private static func message(_ text: UnsafePointer<CChar>?) -> String {
        (text.map { String(cString: $0) } ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func failure(_ result: OpaquePointer?) -> PostgresError {
        guard let result else { return PostgresError(state: "08006", message: Self.message(PQerrorMessage(connection))) }
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        let message = Self.message(PQresultErrorMessage(result))
        return PostgresError(state: state.isEmpty && !isHealthy ? "08006" : state, message: message)
    }

    /// Runs one statement with `$1…$n` parameters and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws -> PostgresRows {
        var texts: [[CChar]?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        texts.reserveCapacity(parameters.count)
        for parameter in parameters {
            switch parameter {
            case .text(let s): texts.append(Array(s.utf8CString)); lengths.append(0); formats.append(0)
            case .integer(let i): texts.append(Array(String(i).utf8CString)); lengths.append(0); formats.append(0)
            case .double(let d): texts.append(Array(Self.float8Text(d).utf8CString)); lengths.append(0); formats.append(0)
            case .bytes(let b): texts.append(b.map { CChar(bitPattern: $0) } + [0]); lengths.append(Int32(b.count)); formats.append(1)
            case .null: texts.append(nil); lengths.append(0); formats.append(0)
            }
        }
        let sent = withPointers(texts) { values in
            PQsendQueryParams(connection, sql, Int32(parameters.count), nil, values, lengths, formats, 0)
        }
        return try rows(sent)
    }

    /// Runs statements without parameters (several may be separated by semicolons).
    public func execute(_ sql: String) throws {
        _ = try rows(PQsendQuery(connection, sql))
    }

    /// The answer to the statements just sent (`sent`: libpq's return): the last result, or the first
    /// failure, as `PQexec` gives them, but never waiting longer than `answerTimeout` for the server.
    private func rows(_ sent: Int32) throws -> PostgresRows {
        guard !abandoned, sent == 1 else { throw failure(nil) }
        var last: OpaquePointer?
        var error: PostgresError?
        do {
            answer: while let result = try nextResult() {
                switch PQresultStatus(result) {
                case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                    if let last { PQclear(last) }
                    last = result
                case PGRES_COPY_IN, PGRES_COPY_OUT:
                    // Only `copy` sends COPY; here the server would wait for data for ever.
                    PQclear(result)
                    abandoned = true
                    error = PostgresError(state: "08006", message: "COPY sent as a plain statement")
                    break answer
                default:
                    if error == nil { error = failure(result) }
                    PQclear(result)
                }
            }
        } catch let lost {
            if let last { PQclear(last) }
            throw lost
        }
        if let error {
            if let last { PQclear(last) }
            throw error
        }
        guard let last else { throw failure(nil) }
        return PostgresRows(last)
    }

    /// The next result of the statements sent, nil after the last, waiting for the server at most `answerTimeout`.
    private func nextResult() throws -> OpaquePointer? {
        let deadline = answerTimeout.map { Date().addingTimeInterval($0) }
        while PQisBusy(connection) == 1 {
            let socket = PQsocket(connection)
            guard socket >= 0 else { throw failure(nil) }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let wait = deadline.map { Int32(max(0, min($0.timeIntervalSinceNow * 1000, Double(Int32.max)))) } ?? -1
            let ready = poll(&descriptor, 1, wait)
            if ready < 0 {
                guard errno == EINTR else { throw PostgresError(state: "08006", message: String(cString: strerror(errno))) }
                continue
            }
            if ready == 0, let answerTimeout {
                // A stalled server (a frozen host, a partition that drops packets silently): the connection is given up.
                abandoned = true
                shutdown(socket, Int32(SHUT_RDWR))
                throw PostgresError(state: "08006", message: "no answer from the server within \(Int(answerTimeout)) s", timedOut: true)
            }
            guard PQconsumeInput(connection) == 1 else { throw failure(nil) }
        }
        return PQgetResult(connection)
    }

    /// float8 as text that reads back to the same bits.
    static func float8Text(_ d: Double) -> String {
        d.isNaN ? "NaN" : d == .infinity ? "Infinity" : d == -.infinity ? "-Infinity" : "\(d)"
    }

    private func withPointers<T>(_ texts: [[CChar]?], _ body: ([UnsafePointer<CChar>?]) -> T) -> T {
        var pointers: [UnsafePointer<CChar>?] = []
        pointers.reserveCapacity(texts.count)
        func bind(_ index: Int) -> T {
            guard index < texts.count else { return body(pointers) }
            guard let text = texts[index] else {
                pointers.append(nil)
                return bind(index + 1)
            }
            return text.withUnsafeBufferPointer { buffer in
                pointers.append(buffer.baseAddress)
                return bind(index + 1)
            }
        }
        return bind(0)
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isHealthy { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// `COPY … FROM STDIN (FORMAT binary)`: `fill` writes the rows into the
    /// writer, which sends them in large chunks. Returns the rows copied.
    @discardableResult
    public func copy(_ sql: String, _ fill: (inout PostgresCopyWriter) throws -> Void) throws -> Int {
        try copyIn(sql)
        var writer = PostgresCopyWriter()
        var sendError: PostgresError?
        do {
            writer.send = { [connection] bytes in
                let status = bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
                }
                if status != 1 { sendError = PostgresError(state: "08006", message: Self.message(PQerrorMessage(connection))) }
            }
            try fill(&writer)
            writer.finish()
            if let sendError { throw sendError }
        } catch {
            _ = PQputCopyEnd(connection, "aborted by the client")
            while let result = try? nextResult() { PQclear(result) }
            throw error
        }
        guard PQputCopyEnd(connection, nil) == 1 else { throw failure(nil) }
        var copyError: PostgresError?
        while let result = try nextResult() {
            if PQresultStatus(result) != PGRES_COMMAND_OK, copyError == nil { copyError = failure(result) }
            PQclear(result)
        }
        if let copyError { throw copyError }
        return writer.rows
    }

    /// Sends `COPY … FROM STDIN` and waits (bounded as any statement) until the server asks for the data.
    private func copyIn(_ sql: String) throws {
        guard !abandoned, PQsendQuery(connection, sql) == 1, let result = try nextResult() else { throw failure(nil) }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COPY_IN else {
            let error = failure(result)
            while let rest = try nextResult() { PQclear(rest) }
            throw error
        }
    }

    /// Waits up to `timeout` seconds for `NOTIFY`s on channels this connection `LISTEN`s to.
    public func notifications(waiting timeout: TimeInterval) throws -> [(channel: String, payload: String)] {
        var found = drainNotifications()
        guard found.isEmpty else { return found }
        let socket = PQsocket(connection)
        guard socket >= 0 else { throw failure(nil) }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(timeout * 1000))
        guard ready >= 0 || errno == EINTR else { throw PostgresError(state: "08006", message: String(cString: strerror(errno))) }
        guard PQconsumeInput(connection) == 1 else { throw failure(nil) }
        found = drainNotifications()
        return found
    }

    private func drainNotifications() -> [(channel: String, payload: String)] {
        var found: [(channel: String, payload: String)] = []
        while let notice = PQnotifies(connection) {
            found.append((String(cString: notice.pointee.relname), String(cString: notice.pointee.extra)))
            PQfreemem(notice)
        }
        return found
    }

    /// The server's version and PostGIS's, for summaries.
    public func versions() throws -> (server: String, postgis: String?) {
        let rows = try query("SELECT current_setting('server_version') AS server, (SELECT extversion FROM pg_extension WHERE extname = 'postgis') AS postgis")
        return (rows.text(0, "server"), rows.string(0, "postgis"))
    }
}

/// Builds `COPY … (FORMAT binary)` data: the header, one tuple per `row`, the trailer.
public struct PostgresCopyWriter {
    /// The signature "PGCOPY\n\xFF\r\n\0", then flags and the header extension's length (both 0).
    private var buffer: [UInt8] = Array("PGCOPY".utf8) + [0x0A, 0xFF, 0x0D, 0x0A, 0x00] + [UInt8](repeating: 0, count: 8)
    fileprivate var send: ([UInt8]) -> Void = { _ in }
    fileprivate(set) var rows = 0
    private static let chunk = 1 << 20

    /// Starts a tuple of `fields` values.
    public mutating func row(fields: Int) {
        appendInteger(Int16(fields))
        rows += 1
        if buffer.count >= Self.chunk {
            send(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    public mutating func null() { appendInteger(Int32(-1)) }

    public mutating func text(_ value: String?) {
        guard var utf8 = value else { return null() }
        utf8.withUTF8 { bytes in
            appendInteger(Int32(bytes.count))
            buffer.append(contentsOf: bytes)
        }
    }

    public mutating func int64(_ value: Int64?) {
        guard let value else { return null() }
        appendInteger(Int32(8))
        appendInteger(value)
    }

    public mutating func int32(_ value: Int32?) {
        guard let value else { return null() }
        appendInteger(Int32(4))
        appendInteger(value)
    }

    public mutating func double(_ value: Double?) {
        guard let value else { return null() }
        appendInteger(Int32(8))
        appendInteger(value.bitPattern)
    }

    /// A geometry column's binary input is EWKB: a point with its SRID.
    public mutating func point(_ position: LonLat, srid: UInt32 = 4326) {
        appendInteger(Int32(25))
        buffer.append(1)  // little-endian
        withUnsafeBytes(of: UInt32(0x2000_0001).littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: srid.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: position.lon.bitPattern.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: position.lat.bitPattern.littleEndian) { buffer.append(contentsOf: $0) }
    }

    private mutating func appendInteger<I: FixedWidthInteger>(_ value: I) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    fileprivate mutating func finish() {
        appendInteger(Int16(-1))
        send(buffer)
        buffer.removeAll()
    }
}
