import Foundation

/// kitbag's own version, written into every archive's `kitbag.json`.
public enum Kitbag {
    public static let version = "0.1.0"
}

/// A service kitbag talks to, by the name its archives record (`kinopio`): lower-case ASCII letters and digits,
/// starting with a letter. Format v1 names the four below; a new connector names its own in its folder
/// (`extension ServiceName { static let x = ServiceName(rawValue: "x")! }`) and registers in the CLI's list.
public struct ServiceName: RawRepresentable, Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Nil for anything that is not a service name.
    public init?(rawValue: String) {
        guard let first = rawValue.utf8.first, (0x61...0x7A).contains(first), rawValue.utf8.count <= 32,
            rawValue.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) })
        else { return nil }
        self.rawValue = rawValue
    }

    public static let kinopio = ServiceName(rawValue: "kinopio")!
    public static let kintone = ServiceName(rawValue: "kintone")!
    public static let kitemaker = ServiceName(rawValue: "kitemaker")!
    public static let kona = ServiceName(rawValue: "kona")!

    public var description: String { rawValue }

    public static func < (a: ServiceName, b: ServiceName) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let name = ServiceName(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\"\(text)\" is not a service name"))
        }
        self = name
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The services this process knows: the four of archive format v1, and every one registered (the CLI registers
    /// each connector of its list). Backup folders and config files recognise only these.
    public static var known: Set<ServiceName> { registry.names }

    /// Makes `name` known (see `known`).
    public static func register(_ name: ServiceName) { registry.insert(name) }

    private static let registry = Registry()

    /// `@unchecked`: `names` is read and written only under `lock`.
    private final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var set: Set<ServiceName> = [.kinopio, .kintone, .kitemaker, .kona]
        var names: Set<ServiceName> { lock.withLock { set } }
        func insert(_ name: ServiceName) { _ = lock.withLock { set.insert(name) } }
    }
}

/// Where an entity lives inside an archive: a container (a Kinopio space, a Kintone app, …)
/// or the account itself.
public struct ContainerRef: Sendable, Hashable, Codable {
    /// Plural folder name of the container kind, e.g. `spaces`, `apps`; `account` for account-level data.
    public var kind: String
    /// The container's id as the service gives it; `nil` for the account.
    public var id: String?

    public init(kind: String, id: String?) {
        self.kind = kind
        self.id = id
    }

    public static let account = ContainerRef(kind: "account", id: nil)

    /// The folder of this container inside an archive, e.g. `data/spaces/abc123`.
    public var archiveFolder: String {
        if let id { return "data/\(ArchivePath.component(kind))/\(ArchivePath.component(id))" }
        return "data/\(ArchivePath.component(kind))"
    }
}

/// Archive path rules shared by writers, readers and connectors.
public enum ArchivePath {
    public static let info = "kitbag.json"
    public static let manifest = "manifest.json"
    public static let attachmentsRoot = "attachments/sha256"

    /// Makes one path component from a service-supplied id or name: bytes outside
    /// `[A-Za-z0-9._-]` are percent-encoded, and `.`/`..`/empty become safe spellings,
    /// so that no id can climb out of its folder or collide with another.
    public static func component(_ raw: String) -> String {
        if raw.isEmpty { return "%" }
        var out = ""
        for b in raw.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        if out == "." { return "%2E" }
        if out == ".." { return "%2E%2E" }
        return out
    }

    /// A readable file-name part for an account name: ASCII letters folded to lower case without accents, digits,
    /// and single dashes for everything else (`"Ada's Team Ü"` → `ada-s-team-u`), at most 48 characters.
    /// A name with nothing slug-able in it (all CJK, say) keeps the escaped form of `component(_:)`.
    public static func slug(_ raw: String) -> String {
        let folded = raw.folding(options: [.diacriticInsensitive, .caseInsensitive, .widthInsensitive], locale: nil)
        var out = ""
        for scalar in folded.unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else if !out.isEmpty, out.last != "-" {
                out += "-"
            }
        }
        while out.last == "-" { out.removeLast() }
        if out.count > 48 {
            out = String(out.prefix(48))
            while out.last == "-" { out.removeLast() }
        }
        return out.isEmpty ? component(raw) : out
    }

    /// Inverse of `component(_:)`.
    public static func decodeComponent(_ component: String) -> String {
        if component == "%" { return "" }
        return component.removingPercentEncoding ?? component
    }

    /// Content-addressed path of an attachment with the given lowercase hex SHA-256.
    public static func attachment(sha256 hex: String) -> String {
        "\(attachmentsRoot)/\(hex.prefix(2))/\(hex)"
    }

    /// JSON Lines file for one entity kind in a container, e.g. `data/spaces/abc/cards.jsonl`.
    public static func jsonLines(container: ContainerRef, file: String) -> String {
        "\(container.archiveFolder)/\(component(file)).jsonl"
    }
}

/// Formats an instant as ISO 8601 with milliseconds in UTC, the form every kitbag record uses.
public enum Timestamp {
    /// A formatter is costly to make (~150 µs: ICU loads its symbols) and journals write a timestamp per entity,
    /// so one is kept and used under a lock. (Its output is what every archive and journal so far holds, so it is
    /// not swapped for `Date.ISO8601FormatStyle`, which rounds milliseconds differently.)
    private final class Formatter: @unchecked Sendable {
        let lock = NSLock()
        let iso = ISO8601DateFormatter()

        init() {
            iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            iso.timeZone = TimeZone(identifier: "UTC")
        }
    }

    private static let formatter = Formatter()

    public static func string(_ date: Date) -> String {
        let f = formatter
        return f.lock.withLock { f.iso.string(from: date) }
    }

    /// Parsed with Foundation's Swift ISO 8601 parser (under a microsecond; `ISO8601DateFormatter` clones an ICU
    /// formatter per call, which made parsing a quarter of a Kinopio export with renderings).
    public static func parse(_ text: String) -> Date? {
        if let date = try? fractionalStyle.parse(text) { return date }
        return try? wholeStyle.parse(text)
    }

    private static let fractionalStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let wholeStyle = Date.ISO8601FormatStyle()

    /// Calendar fields of a UTC instant, computed without locale or formatter state.
    public struct CivilTime: Sendable, Equatable {
        public var year, month, day, hour, minute, second: Int
        /// 0 = Sunday … 6 = Saturday.
        public var weekday: Int
    }

    /// The UTC calendar fields of whole seconds since 1970 (Howard Hinnant's civil_from_days).
    public static func civil(secondsSince1970 seconds: Int64) -> CivilTime {
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4)
        return CivilTime(
            year: Int(year), month: Int(month), day: Int(day), hour: Int(rest / 3_600), minute: Int(rest % 3_600 / 60),
            second: Int(rest % 60), weekday: weekday)
    }

    /// Compact UTC stamp for file names: `20261122T221500Z`.
    public static func compact(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: date)
    }

    /// Reads a compact stamp (`20261122T221500Z`) back; nil for anything else.
    public static func parseCompact(_ text: String) -> Date? {
        guard text.count == 16, text.utf8.enumerated().allSatisfy({ i, c in
            i == 8 ? c == UInt8(ascii: "T") : i == 15 ? c == UInt8(ascii: "Z") : (48...57).contains(c)
        }) else { return nil }
        let digits = Array(text.utf8).map { Int($0) - 48 }
        func number(_ from: Int, _ count: Int) -> Int { digits[from..<(from + count)].reduce(0) { $0 * 10 + $1 } }
        let (y, mo, d, h, mi, se) = (number(0, 4), number(4, 2), number(6, 2), number(9, 2), number(11, 2), number(13, 2))
        guard (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, se < 60 else { return nil }
        // Days from civil (Howard Hinnant), the inverse of `civil(secondsSince1970:)`.
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = Int64(days) * 86_400 + Int64(h * 3_600 + mi * 60 + se)
        // Reject dates that do not exist (20260230…): they would not come back the same.
        let back = civil(secondsSince1970: seconds)
        guard back.year == y, back.month == mo, back.day == d else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}
