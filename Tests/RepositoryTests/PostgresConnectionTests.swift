import Foundation
import Testing
import TestSupport
import GridCore
@testable import GridStore

/// The libpq wrapper: parameters, binary COPY, transactions, notifications and failures, on a real server.
@Suite struct PostgresConnectionTests {
    @Test func aPasswordNeverShowsInTheURLOrInErrors() throws {
        let url = try PostgresURL("postgresql://wangge:s3cret@127.0.0.1:1/wangge")
        #expect(url.description == "postgresql://wangge:***@127.0.0.1:1/wangge")
        // Port 1: nothing listens; the error names the URL, without the password.
        let error = #expect(throws: WanggeError.self) { try PostgresConnection(url: url) }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("postgresql://wangge:***@127.0.0.1:1/wangge") == true)
        #expect(error?.message.contains("s3cret") == false)
        let bad = #expect(throws: WanggeError.self) { try PostgresURL("postgresql://:pw@/x") }
        #expect(bad?.message.contains("pw") == false)
        #expect(!PostgresURL.isPostgres("var/wangge.sqlite") && PostgresURL.isPostgres("postgres://h/d"))
    }

    @Test func parametersAndBinaryCopyKeepEveryValueExactly() throws {
        let connection = try PostgresConnection(url: try PostgresURL(try PostgresTestCluster.freshDatabase()))
        try connection.execute("CREATE EXTENSION IF NOT EXISTS postgis; CREATE TABLE t (i INTEGER, b BIGINT, d DOUBLE PRECISION, s TEXT, g geometry(Point, 4326))")
        let texts = ["", "网格\t员\n第二行", "quote ' and \" and \\ backslash", String(repeating: "长", count: 3000), "\u{1F600}"]
        let doubles = [0.0, -0.0, 1e-300, 112.35396901234567, -.greatestFiniteMagnitude, .ulpOfOne]
        let copied = try connection.copy("COPY t FROM STDIN (FORMAT binary)") { copy in
            for (n, text) in texts.enumerated() {
                copy.row(fields: 5)
                copy.int32(Int32(n))
                copy.int64(n == 0 ? nil : Int64.max - Int64(n))
                copy.double(doubles[n])
                copy.text(n == 4 ? nil : text)
                copy.point(LonLat(doubles[n + 1], 28.8410123456789))
            }
        }
        #expect(copied == texts.count)
        let rows = try connection.query("SELECT i, b, d, s, ST_X(g) AS x, ST_Y(g) AS y FROM t ORDER BY i")
        #expect(rows.count == texts.count)
        for n in 0..<rows.count {
            #expect(rows.int(n, "i") == n)
            #expect(rows.int64(n, "b") == (n == 0 ? nil : Int64.max - Int64(n)))
            #expect(rows.double(n, "d")?.bitPattern == doubles[n].bitPattern)
            #expect(rows.string(n, "s") == (n == 4 ? nil : texts[n]))
            #expect(rows.double(n, "x")?.bitPattern == doubles[n + 1].bitPattern)
            #expect(rows.double(n, "y") == 28.8410123456789)
        }
        // Parameters: the same values back, text and bytes alike.
        let echo = try connection.query("SELECT $1::text AS s, $2::float8 AS d, $3::bigint AS b, $4::bytea AS y, $5::text AS n",
                                        [.text(texts[1]), .double(1e-300), .integer(.min), .bytes([0, 1, 254, 255]), .null])
        #expect(echo.string(0, "s") == texts[1] && echo.double(0, "d") == 1e-300 && echo.int64(0, "b") == .min)
        #expect(echo.bytes(0, "y") == [0, 1, 254, 255] && echo.string(0, "n") == nil && echo.isNull(0, "n"))
        // Past the last row: nil, not libpq's complaint.
        #expect(echo.string(1, "s") == nil)
    }

    @Test func aFailedTransactionOrCopyLeavesNothing() throws {
        let connection = try PostgresConnection(url: try PostgresURL(try PostgresTestCluster.freshDatabase()))
        try connection.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
        #expect(throws: PostgresError.self) {
            try connection.transaction {
                try connection.query("INSERT INTO t VALUES ($1)", [.text("a")])
                try connection.query("INSERT INTO t VALUES ($1)", [.text("a")])
            }
        }
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try connection.transaction {
                try connection.copy("COPY t FROM STDIN (FORMAT binary)") { copy in
                    copy.row(fields: 1)
                    copy.text("b")
                    throw Stop()
                }
            }
        }
        let duplicate = #expect(throws: PostgresError.self) {
            try connection.copy("COPY t FROM STDIN (FORMAT binary)") { copy in
                for _ in 0..<2 {
                    copy.row(fields: 1)
                    copy.text("c")
                }
            }
        }
        #expect(duplicate?.isConstraintViolation == true)
        #expect(try connection.query("SELECT count(*) AS n FROM t").int(0, "n") == 0)
        // The connection is still usable.
        #expect(try connection.query("SELECT 1 AS one").int(0, "one") == 1)
    }

    @Test func notificationsReachAListeningConnection() throws {
        let url = try PostgresURL(try PostgresTestCluster.freshDatabase())
        let listener = try PostgresConnection(url: url), speaker = try PostgresConnection(url: url)
        try listener.execute("LISTEN wangge")
        #expect(try listener.notifications(waiting: 0.05).isEmpty)
        try speaker.query("SELECT pg_notify('wangge', $1)", [.text("revoked 7")])
        var heard: [(channel: String, payload: String)] = []
        for _ in 0..<50 where heard.isEmpty { heard = try listener.notifications(waiting: 0.1) }
        #expect(heard.map(\.payload) == ["revoked 7"])
        #expect(StoreChange(payload: "revoked 7") == .tokenRevoked(7) && StoreChange(payload: "activated 3") == .activated(3))
        #expect(StoreChange(payload: "something else") == nil)
    }
}
