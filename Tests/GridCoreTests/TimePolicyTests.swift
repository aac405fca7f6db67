import Foundation
import Testing
import GridCore

/// One policy for times: stored in UTC, read with any offset, shown in the display zone.
@Suite struct TimePolicyTests {
    let policy = TimePolicy.standard
    /// 2026-11-26T13:00:00Z, 21:00 in Beijing.
    let instant = Date(timeIntervalSince1970: 1_795_698_000)

    @Test func storedInUTCAndShownInChinaStandardTime() {
        #expect(policy.stored(instant) == "2026-11-26T13:00:00Z")
        #expect(policy.displayed(instant) == "2026-11-26T21:00:00+08:00")
        #expect(policy.displayed(stored: "2026-11-26T13:00:00Z") == "2026-11-26T21:00:00+08:00")
        // A stored time just before midnight UTC is the next day in Beijing.
        #expect(policy.displayed(stored: "2026-11-26T16:30:00Z") == "2026-11-27T00:30:00+08:00")
        #expect(policy.displayed(stored: "not a time") == "not a time", "text that is no time is shown as it is")
    }

    @Test func anotherDisplayZone() throws {
        let berlin = TimePolicy(displayZone: try #require(TimeZone(identifier: "Europe/Berlin")))
        #expect(berlin.displayed(instant) == "2026-11-26T14:00:00+01:00")
        #expect(berlin.stored(instant) == "2026-11-26T13:00:00Z", "the stored form does not depend on the display zone")
        #expect(berlin.parse("2026-11-26") == policy.parse("2026-11-26T00:00:00+01:00"))
    }

    @Test func readsAnyOffset() {
        for text in ["2026-11-26T13:00:00Z", "2026-11-26T21:00:00+08:00", "2026-11-26T21:00:00+0800", "2026-11-26T08:00:00-05:00",
                     "2026-11-26T13:00:00.000Z"] {
            #expect(policy.parse(text) == instant, "\(text)")
            #expect(policy.date(iso8601: text) == instant, "\(text)")
        }
    }

    @Test func readsADayOrAMinuteInTheDisplayZone() {
        #expect(policy.parse("2026-11-27").map(policy.stored) == "2026-11-26T16:00:00Z", "a day is its midnight in Beijing")
        #expect(policy.parse("2026-11-26 21:00") == instant)
        #expect(policy.parse(" 2026-11-26 21:00 ") == instant)
        #expect(policy.date(iso8601: "2026-11-26") == nil, "a day is no ISO 8601 date and time")
    }

    @Test func refusesWhatIsNoTime() {
        for text in ["", "2026-02-30", "2026-13-01", "2026-1-01", "+202-01-01", "2026-11-26 24:00", "2026-11-26 21:60", "2026-11-26 9:00",
                     "2026-11-26T21:00:00", "2026-11-26 21:00:00 extra", "yesterday", "２０２６-11-26"] {
            #expect(policy.parse(text) == nil, "\(text)")
        }
    }

    @Test func storedTimesCompareAsTextInTimeOrder() {
        // The reason for one stored form: SQL compares deadlines as text.
        let times = (0..<48).map { instant.addingTimeInterval(Double($0) * 1800 - 12 * 3600) }
        let stored = times.map(policy.stored)
        #expect(stored == stored.sorted())
    }
}
