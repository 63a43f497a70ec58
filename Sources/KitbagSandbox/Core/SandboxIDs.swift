import Foundation
import KitbagCore

/// Deterministic, random-looking identifiers in nanoid style (21 characters of `A-Za-z0-9_-`).
package struct SandboxIDGenerator: Sendable {
    private static let alphabet = Array("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    private var random: SplitMix64

    package init(seed: UInt64) { random = SplitMix64(seed: seed) }

    package mutating func next(length: Int = 21) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        var bits = random.next()
        var left = 10
        for _ in 0..<length {
            if left == 0 { bits = random.next(); left = 10 }
            bytes.append(Self.alphabet[Int(bits & 63)])
            bits >>= 6
            left -= 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A UUID-shaped string (for API keys of extra users).
    package mutating func uuid() -> String {
        let a = random.next(), b = random.next()
        let hex = String(format: "%016llx%016llx", a, b)
        let c = Array(hex)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-\(String(c[16..<20]))-\(String(c[20..<32]))"
    }
}

/// ISO-8601 timestamps with milliseconds in UTC, as Kinopio writes them (`2024-03-01T09:00:00.000Z`).
package enum SandboxTime {
    /// Milliseconds since 1970 for a civil UTC date and time.
    package static func millis(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) -> Int64 {
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = Int64(era * 146_097 + doe - 719_468)
        return ((days * 24 + Int64(hour)) * 60 + Int64(minute)) * 60_000 + Int64(second) * 1000
    }

    package static func iso8601(millis: Int64) -> String {
        let ms = Int(((millis % 1000) + 1000) % 1000)
        let totalSeconds = (millis - Int64(ms)) / 1000
        let t = Timestamp.civil(secondsSince1970: totalSeconds)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(t.year, 4))-\(pad(t.month, 2))-\(pad(t.day, 2))T\(pad(t.hour, 2)):\(pad(t.minute, 2)):\(pad(t.second, 2)).\(pad(ms, 3))Z"
    }

    /// The current time as an ISO-8601 string.
    package static func now() -> String {
        iso8601(millis: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
