import CSpatiaLite
import Foundation
import GRDB

/// Rows written through SQLite's C API, many rows to a statement
/// (`INSERT … VALUES (…), (…), …`). GRDB's `StatementArguments` box every value
/// of every row, and every run of a statement has a cost of its own: for a
/// county's 216,000 households both cost more than SQLite's B-tree work.
/// SQLite copies each bound value (SQLITE_TRANSIENT).
struct BulkInsert {
    private let db: Database
    private let head: String, row: String, tail: String
    private let rowsPerStatement: Int

    /// `head` is the statement up to VALUES (`INSERT INTO t (a, b)`), `row` one row's
    /// placeholders (`(?, ?)`), `tail` what follows the rows (`ON CONFLICT …`).
    init(_ db: Database, head: String, row: String, tail: String = "", rowsPerStatement: Int = 64) {
        self.db = db
        (self.head, self.row, self.tail) = (head, row, tail)
        self.rowsPerStatement = rowsPerStatement
    }

    /// Writes every element of `rows`, each bound by `bind` in placeholder order.
    func insert<Rows: Swift.Collection>(_ rows: Rows, _ bind: (inout Binder, Rows.Element) -> Void) throws {
        var full: Statement?
        var start = rows.startIndex
        while start != rows.endIndex {
            let end = rows.index(start, offsetBy: rowsPerStatement, limitedBy: rows.endIndex) ?? rows.endIndex
            let chunk = rows[start..<end]
            // Full chunks share one statement; the last, shorter one gets its own.
            let statement: Statement
            if chunk.count == rowsPerStatement, let prepared = full {
                statement = prepared
            } else {
                statement = try prepare(rows: chunk.count)
                if chunk.count == rowsPerStatement { full = statement }
            }
            var binder = Binder(handle: statement.sqliteStatement)
            for element in chunk { bind(&binder, element) }
            try run(statement, binder)
            start = end
        }
    }

    private func prepare(rows count: Int) throws -> Statement {
        try db.makeStatement(sql: "\(head) VALUES \(Array(repeating: row, count: count).joined(separator: ", ")) \(tail)")
    }

    private func run(_ statement: Statement, _ binder: Binder) throws {
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        guard binder.status == SQLITE_OK else { throw error(binder.status, statement) }
        let step = sqlite3_step(handle)
        guard step == SQLITE_DONE || step == SQLITE_ROW else { throw error(step, statement) }
    }

    private func error(_ code: Int32, _ statement: Statement) -> DatabaseError {
        let message = db.sqliteConnection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }

    /// The values of one statement, bound in placeholder order.
    struct Binder {
        fileprivate let handle: OpaquePointer
        fileprivate var index: Int32 = 1
        fileprivate var status = SQLITE_OK

        mutating func bind(_ value: String?) {
            guard var value else { return bindNull() }
            let status = value.withUTF8 { text in
                // An empty buffer may have no address, which SQLite would take for NULL.
                text.count == 0 ? sqlite3_bind_text(handle, index, "", 0, transient)
                    : text.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(handle, index, $0.baseAddress, Int32(text.count), transient) }
            }
            advance(status)
        }

        mutating func bind(_ value: Double?) {
            guard let value else { return bindNull() }
            advance(sqlite3_bind_double(handle, index, value))
        }

        mutating func bind(_ value: Int64?) {
            guard let value else { return bindNull() }
            advance(sqlite3_bind_int64(handle, index, value))
        }

        mutating func bind(_ value: DatabaseValue) {
            switch value.storage {
            case .null: bindNull()
            case .int64(let number): bind(number)
            case .double(let number): bind(number)
            case .string(let text): bind(text)
            case .blob(let data):
                let status = data.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), transient) }
                advance(status)
            }
        }

        mutating func bind(_ value: Data) { bind(value.databaseValue) }

        private mutating func bindNull() { advance(sqlite3_bind_null(handle, index)) }

        private mutating func advance(_ result: Int32) {
            if status == SQLITE_OK { status = result }
            index += 1
        }
    }
}

/// SQLite copies a value bound with this destructor before the bind returns.
private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
