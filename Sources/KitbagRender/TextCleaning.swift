import Foundation
import KitbagCore

/// Text clean-up shared by the renderers.
enum TextCleaning {
    /// True for scalars XML 1.0 allows in a document (`Char` production).
    static func isXMLChar(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x9, 0xA, 0xD: return true
        case 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }

    /// Removes every scalar XML 1.0 cannot carry (C0 controls except tab/LF/CR, U+FFFE, U+FFFF).
    static func xmlSafe(_ text: String) -> String {
        if text.unicodeScalars.allSatisfy(isXMLChar) { return text }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars where isXMLChar(s) { out.append(s) }
        return String(out)
    }

    /// Line breaks of every spelling (CRLF, CR, NEL, U+2028, U+2029) become `\n`.
    static func normalizeNewlines(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var lastWasCR = false
        for s in text.unicodeScalars {
            switch s.value {
            case 0x0D:
                out.append("\n")
                lastWasCR = true
                continue
            case 0x0A:
                if !lastWasCR { out.append("\n") }
            case 0x85, 0x2028, 0x2029:
                out.append("\n")
            default:
                out.append(s)
            }
            lastWasCR = false
        }
        return String(out)
    }

    /// Drops C0/C1 controls (keeping `\n` and `\t`), DEL, U+FFFE and U+FFFF.
    static func withoutControls(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            switch s.value {
            case 0x09, 0x0A: out.append(s)
            case 0x00...0x1F, 0x7F...0x9F, 0xFFFE, 0xFFFF: continue
            default: out.append(s)
            }
        }
        return String(out)
    }

    /// One line of plain text: newlines and tabs become spaces, controls are dropped, ends are trimmed.
    static func oneLine(_ text: String) -> String { OneLine.flatten(text) }

    /// `2024-05-01 12:00:00 UTC`, for Markdown.
    static func humanDate(_ date: Date) -> String {
        let t = utc(date)
        return "\(pad(t.year, 4))-\(pad(t.month, 2))-\(pad(t.day, 2)) \(pad(t.hour, 2)):\(pad(t.minute, 2)):\(pad(t.second, 2)) UTC"
    }

    /// RFC 822 as RSS 2.0 wants it: `Wed, 01 May 2024 12:00:00 +0000` (English names, UTC).
    static func rfc822(_ date: Date) -> String {
        let t = utc(date)
        return "\(weekdays[t.weekday]), \(pad(t.day, 2)) \(months[t.month - 1]) \(pad(t.year, 4)) "
            + "\(pad(t.hour, 2)):\(pad(t.minute, 2)):\(pad(t.second, 2)) +0000"
    }

    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Civil UTC fields of `date` (seconds truncated toward the past), without locale or formatter state.
    static func utc(_ date: Date) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekday: Int) {
        let interval = date.timeIntervalSince1970
        let seconds = interval.isFinite ? Int64(max(min(interval.rounded(.down), 2.6e11), -6.2e10)) : 0
        let t = Timestamp.civil(secondsSince1970: seconds)
        return (t.year, t.month, t.day, t.hour, t.minute, t.second, t.weekday)
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// An http(s) URL made safe for a Markdown link destination or an XML text, or nil for other schemes.
    static func webURL(_ raw: String) -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let lower = trimmed.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else { return nil }
        var out = ""
        for b in trimmed.utf8 {
            switch b {
            case 0x21, 0x23...0x27, 0x2A...0x3B, 0x3D, 0x3F...0x5B, 0x5D, 0x5F, 0x61...0x7A, 0x7E:
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}
