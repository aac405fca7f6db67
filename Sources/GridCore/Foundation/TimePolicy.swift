import Foundation

/// How times are written, read and shown, decided in one place.
/// - Stored: ISO 8601 in UTC (`2026-11-26T13:00:00Z`), one form for every
///   table, so that times compare as text in SQL.
/// - Read from people: ISO 8601 with any offset, or a day (`2026-11-26`, its
///   midnight) or a minute (`2026-11-26 21:00`) in the display zone.
/// - Shown: in the display zone with its offset (`2026-11-26T21:00:00+08:00`).
/// The format styles are values built once and shared by every thread,
/// unlike formatters made per call.
public struct TimePolicy: Sendable {
    /// China Standard Time, where the centre works.
    public static let chinaStandardTime = TimeZone(identifier: "Asia/Shanghai")!
    /// The policy of the store and the front ends: times shown in China Standard Time.
    public static let standard = TimePolicy(displayZone: chinaStandardTime)

    public let displayZone: TimeZone
    private let storedStyle = Date.ISO8601FormatStyle()
    private let fractionalStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private let displayStyle: Date.ISO8601FormatStyle
    private let calendar: Calendar

    public init(displayZone: TimeZone) {
        self.displayZone = displayZone
        displayStyle = Date.ISO8601FormatStyle(timeZone: displayZone).timeZoneSeparator(.colon)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = displayZone
        self.calendar = calendar
    }

    /// The stored form: UTC, to the second.
    public func stored(_ date: Date) -> String { storedStyle.format(date) }

    /// The form people see: the display zone with its offset, to the second.
    public func displayed(_ date: Date) -> String { displayStyle.format(date) }

    /// To the minute in the display zone (`2026-11-26 21:00`), as tables on a terminal show times.
    public func minute(_ date: Date) -> String {
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
    }

    /// The day in the display zone (`2026-11-26`).
    public func day(_ date: Date) -> String { String(minute(date).prefix(10)) }

    /// An ISO 8601 time (stored or displayed) to the minute in the display zone; other text is left as it is.
    public func minute(iso8601 text: String) -> String { date(iso8601: text).map(minute) ?? text }

    /// A stored time as people see it; text that is no ISO 8601 time is left as it is.
    public func displayed(stored text: String) -> String { date(iso8601: text).map(displayed) ?? text }

    /// An ISO 8601 date and time with an offset (`Z`, `+08:00`, `+0800`), seconds optionally with a fraction.
    public func date(iso8601 text: String) -> Date? {
        (try? storedStyle.parse(text)) ?? (try? fractionalStyle.parse(text))
    }

    /// A time as people type it: ISO 8601 with any offset, a day (`2026-11-01`,
    /// midnight) or a minute (`2026-11-01 08:30`), the last two in the display zone.
    public func parse(_ text: String) -> Date? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let date = date(iso8601: text) { return date }
        return localDate(text)
    }

    /// `yyyy-MM-dd` or `yyyy-MM-dd HH:mm` in the display zone; nil for anything else, or a day or hour that does not exist.
    private func localDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        // Only digits, exactly so many: Int("+1") would take a sign.
        func number(_ text: Substring, digits: Int) -> Int? {
            text.count == digits && text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber) ? Int(text) : nil
        }
        let day = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard day.count == 3, let year = number(day[0], digits: 4), let month = number(day[1], digits: 2),
              let dayOfMonth = number(day[2], digits: 2) else { return nil }
        var components = DateComponents(year: year, month: month, day: dayOfMonth, hour: 0, minute: 0, second: 0)
        if parts.count == 2 {
            let clock = parts[1].split(separator: ":", omittingEmptySubsequences: false)
            guard clock.count == 2, let hour = number(clock[0], digits: 2), let minute = number(clock[1], digits: 2),
                  hour < 24, minute < 60 else { return nil }
            components.hour = hour
            components.minute = minute
        }
        // Calendar rolls 2026-02-30 over into March: only a real day is a day.
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }
}
