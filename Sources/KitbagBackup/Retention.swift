import Foundation

/// Which backups to keep: restic's `forget` policy (`--keep-last/-hourly/-daily/-weekly/-monthly/-yearly`).
///
/// Backups are walked newest first. `last` keeps the N newest; each calendar policy keeps the newest backup of
/// each of its N most recent periods that hold one (hour, day, ISO week, month, year, in UTC — the time in the
/// archive name). As restic does, a policy that still has periods left also keeps the oldest backup. A count of
/// -1 keeps every period. A backup is kept when any policy keeps it.
public struct RetentionPolicy: Sendable, Equatable, Codable {
    public var last = 0
    public var hourly = 0
    public var daily = 0
    public var weekly = 0
    public var monthly = 0
    public var yearly = 0

    public init(last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, yearly: Int = 0) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
    }

    /// True when no rule is set: such a policy would remove everything, so callers refuse it.
    public var isEmpty: Bool { [last, hourly, daily, weekly, monthly, yearly].allSatisfy { $0 == 0 } }

    /// One decision: the backup and, when kept, the rules that kept it ("daily", "oldest weekly", …).
    public struct Decision<Item: Sendable>: Sendable {
        public var item: Item
        public var time: Date
        public var keep: Bool
        public var reasons: [String]
    }

    /// Decides for every item, newest first. Ties in time keep their given order.
    public func apply<Item: Sendable>(to items: [(item: Item, time: Date)]) -> [Decision<Item>] {
        let sorted = items.enumerated().sorted { a, b in
            a.element.time != b.element.time ? a.element.time > b.element.time : a.offset < b.offset
        }.map(\.element)
        var buckets: [(count: Int, reason: String, key: (Date, Int) -> Int, last: Int?)] = [
            (last, "last", { _, nr in nr }, nil),
            (hourly, "hourly", { t, _ in Self.calendarKey(t, .hour) }, nil),
            (daily, "daily", { t, _ in Self.calendarKey(t, .day) }, nil),
            (weekly, "weekly", { t, _ in Self.calendarKey(t, .weekOfYear) }, nil),
            (monthly, "monthly", { t, _ in Self.calendarKey(t, .month) }, nil),
            (yearly, "yearly", { t, _ in Self.calendarKey(t, .year) }, nil),
        ]
        var out: [Decision<Item>] = []
        for (nr, current) in sorted.enumerated() {
            var reasons: [String] = []
            for i in buckets.indices where buckets[i].count > 0 || buckets[i].count == -1 {
                let value = buckets[i].key(current.time, nr)
                let isOldest = nr == sorted.count - 1
                if value != buckets[i].last || isOldest {
                    reasons.append(value == buckets[i].last ? "oldest \(buckets[i].reason)" : buckets[i].reason)
                    buckets[i].last = value
                    if buckets[i].count > 0 { buckets[i].count -= 1 }
                }
            }
            out.append(Decision(item: current.item, time: current.time, keep: !reasons.isEmpty, reasons: reasons))
        }
        return out
    }

    private static let utc: Calendar = {
        var c = Calendar(identifier: .iso8601)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    /// A number that is equal for two times exactly when they fall in the same period (restic's ymdh/ymd/yw/ym/y).
    static func calendarKey(_ time: Date, _ unit: Calendar.Component) -> Int {
        let c = utc.dateComponents([.year, .month, .day, .hour, .weekOfYear, .yearForWeekOfYear], from: time)
        let y = c.year!, m = c.month!, d = c.day!, h = c.hour!
        switch unit {
        case .hour: return ((y * 100 + m) * 100 + d) * 100 + h
        case .day: return (y * 100 + m) * 100 + d
        case .weekOfYear: return c.yearForWeekOfYear! * 100 + c.weekOfYear!
        case .month: return y * 100 + m
        default: return y
        }
    }
}
