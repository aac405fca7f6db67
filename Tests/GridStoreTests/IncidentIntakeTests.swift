import Foundation
import GRDB
import Testing
import TestSupport
import GeoKit
import GridCore
@testable import GridStore

/// An incident's time of occurrence and its channel's ticket number at intake
/// (reports and imports), and the monthly trend, on the sample county's grids.
@Suite struct IncidentIntakeTests {
    static let seat = LonLat(112.355, 28.842)
    static let policy = TimePolicy.standard

    func populated() throws -> TemporaryStore {
        let t = try TemporaryStore()
        _ = try t.store.importGrids(path: Fixtures.sampleGrids)
        return t
    }

    func report(_ t: TemporaryStore, ticket: String?, channel: String = "12345", occurred: Date? = nil, at: Date = Date()) throws -> String {
        try t.store.report(IncidentReport(position: Self.seat, source: (Self.seat.lon, Self.seat.lat, .wgs84), category: "噪音扰民", channel: channel,
                                          severity: nil, description: nil, reporter: nil, reportedAt: at, occurredAt: occurred, externalID: ticket),
                           rules: DispatchRules()).id
    }

    @Test func aHotlineThatResendsATicketMakesNoSecondIncident() throws {
        let t = try populated()
        let received = try #require(Self.policy.parse("2026-11-20 09:00"))
        let occurred = try #require(Self.policy.parse("2026-11-19 22:30"))
        let first = try report(t, ticket: "GD20261120001", occurred: occurred, at: received)
        let record = try t.store.incident(id: first)
        #expect(record.externalID == "GD20261120001" && record.occurredAt == "2026-11-19T22:30:00+08:00")
        #expect(record.reportedAt == "2026-11-20T09:00:00+08:00")
        #expect(record.history?.first?.detail?["external_id"] == "GD20261120001")
        let before = try t.snapshot()
        #expect { _ = try report(t, ticket: "GD20261120001") } throws: { error in
            let e = error as? WanggeError
            return e?.kind == .conflict && e?.field == "external_id" && e?.message.contains("already incident \(first)") == true
        }
        #expect(try t.snapshot() == before)
        // Another channel's ticket of the same number is another ticket.
        _ = try report(t, ticket: "GD20261120001", channel: "码上办")
        // Happened after it was received: refused, naming the field.
        #expect { _ = try report(t, ticket: nil, occurred: received.addingTimeInterval(60), at: received) } throws: {
            ($0 as? WanggeError)?.field == "occurred_at" && "\($0)".hasPrefix("occurred_at: 2026-11-20T09:01:00+08:00 is after")
        }
        #expect { _ = try report(t, ticket: "") } throws: { ($0 as? WanggeError)?.field == "external_id" }
    }

    @Test func importsReadOccurrenceAndTicketInChineseAndRefuseRepeatedTickets() throws {
        let t = try populated()
        let (lon, lat) = (Self.seat.lon, Self.seat.lat)
        let good = try t.file("e.csv", """
            事件编号,经度,纬度,类别,来源,受理时间,发生时间,工单号
            E1,\(lon),\(lat),矛盾纠纷,12345,2026-11-02T09:00:00+08:00,2026-11-01T20:00:00+08:00,T-1
            E2,\(lon),\(lat),矛盾纠纷,12345,2026-11-02T10:00:00+08:00,,T-2

            """)
        let report = try t.store.importPoints(.incidents, path: good)
        #expect(report.imported == 2 && report.notes.contains { $0.contains("发生时间 → occurred_at") && $0.contains("工单号 → external_id") })
        let e1 = try t.store.incident(id: "E1")
        #expect(e1.occurredAt == "2026-11-01T20:00:00+08:00" && e1.externalID == "T-1" && e1.reportedAt == "2026-11-02T09:00:00+08:00")
        #expect(try t.store.incident(id: "E2").occurredAt == nil)
        // Both the ticket stored and one given twice in the file, each with its line; nothing imported.
        let before = try t.snapshot()
        let repeated = try t.file("again.csv", """
            id,lon,lat,category,channel,reported_at,external_id
            E3,\(lon),\(lat),矛盾纠纷,12345,2026-11-03T09:00:00+08:00,T-1
            E4,\(lon),\(lat),矛盾纠纷,12345,2026-11-03T09:00:00+08:00,T-9
            E5,\(lon),\(lat),矛盾纠纷,12345,2026-11-03T09:00:00+08:00,T-9

            """)
        #expect { _ = try t.store.importPoints(.incidents, path: repeated) } throws: { error in
            let text = "\(error)"
            return text.contains("line 2 (id E3): field external_id: ticket T-1 of channel 12345 is already incident E1")
                && text.contains("line 4 (id E5): field external_id: ticket T-9 of channel 12345 is also at line 3")
        }
        let late = try t.file("late.csv", """
            id,lon,lat,category,channel,reported_at,occurred_at
            E6,\(lon),\(lat),矛盾纠纷,12345,2026-11-03T09:00:00+08:00,2026-11-03T10:00:00+08:00

            """)
        #expect { _ = try t.store.importPoints(.incidents, path: late) } throws: { "\($0)".contains("line 2 (id E6): occurred_at: 2026-11-03T10:00:00+08:00 is after reported_at") }
        #expect(try t.snapshot() == before)
    }

    /// Received, closed, overdue and escalated per month in China time: an
    /// incident received at 01:00 on 1 October in Beijing (17:00 UTC on 30
    /// September) is October's; months with nothing are zeros.
    @Test func theMonthlyTrendCountsEachEventInItsMonthInBeijing() throws {
        let t = try populated()
        let (lon, lat) = (Self.seat.lon, Self.seat.lat)
        let file = try t.file("trend.csv", """
            id,lon,lat,category,channel,status,reported_at,closed_at
            A,\(lon),\(lat),矛盾纠纷,12345,closed,2026-09-30T17:00:00Z,2026-10-02T01:00:00+08:00
            B,\(lon),\(lat),矛盾纠纷,12345,closed,2026-10-05T08:00:00+08:00,2026-10-06T08:00:00+08:00
            C,\(lon),\(lat),环境卫生,12345,closed,2026-10-10T08:00:00+08:00,2026-10-11T20:00:00+08:00
            D,\(lon),\(lat),矛盾纠纷,12345,reported,2026-12-20T08:00:00+08:00,

            """)
        _ = try t.store.importPoints(.incidents, path: file, dispatch: DispatchRules())
        let rules = DispatchRules()
        let escalation = try #require(Self.policy.parse("2026-12-21 09:00"))
        _ = try t.store.apply(IncidentChange(.escalate, actor: "调度员", note: "群体性", expectedVersion: 1), to: "D", at: escalation, rules: rules)
        let now = try #require(Self.policy.parse("2027-02-15 12:00"))
        let since = Self.policy.parse("2026-09-01"), until = Self.policy.parse("2027-02-01")
        let months = try t.store.monthlyIncidentStatistics(IncidentTrendFilter(since: since, until: until), now: now)
        #expect(months.map(\.month) == ["2026-09", "2026-10", "2026-11", "2026-12", "2027-01"])
        #expect(months.map(\.received) == [0, 3, 0, 1, 0])
        #expect(months.map(\.closed) == [0, 3, 0, 0, 0])
        #expect(months.map(\.escalated) == [0, 0, 0, 1, 0])
        // A took 24 h, B 24 h, C 36 h: the median is 24.
        #expect(months[1].medianHoursToClose == 24 && months[0].medianHoursToClose == nil)
        // D's deadline (reset by the escalation) has passed by now with D still open: overdue in the deadline's month.
        let deadline = try #require(t.store.incident(id: "D").deadline.flatMap(Self.policy.date(iso8601:)))
        let deadlineMonth = String(Self.policy.day(deadline).prefix(7))
        #expect(months.filter { $0.overdue > 0 }.map(\.month) == [deadlineMonth] && months.map(\.overdue).reduce(0, +) == 1)
        // Only one category: C's month loses C.
        let disputes = try t.store.monthlyIncidentStatistics(IncidentTrendFilter(category: "矛盾纠纷", since: since, until: until), now: now)
        #expect(disputes.map(\.closed) == [0, 2, 0, 0, 0] && disputes[1].medianHoursToClose == 24)
        // An absurd period is refused, naming since.
        #expect { _ = try t.store.monthlyIncidentStatistics(IncidentTrendFilter(since: Self.policy.parse("1900-01-01")), now: now) } throws: {
            ($0 as? WanggeError)?.field == "since"
        }
    }
}
