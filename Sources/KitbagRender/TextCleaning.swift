import Foundation

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
    static func oneLine(_ text: String) -> String {
        let flat = withoutControls(normalizeNewlines(text))
            .replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "\t", with: " ")
        return flat.trimmingCharacters(in: .whitespaces)
    }

    /// `2024-05-01 12:00:00 UTC`, for Markdown.
    static func humanDate(_ date: Date) -> String {
        format(date, "yyyy-MM-dd HH:mm:ss 'UTC'")
    }

    /// RFC 822 as RSS 2.0 wants it: `Wed, 01 May 2024 12:00:00 +0000`.
    static func rfc822(_ date: Date) -> String {
        format(date, "EEE, dd MMM yyyy HH:mm:ss '+0000'")
    }

    static func format(_ date: Date, _ pattern: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.calendar = Calendar(identifier: .gregorian)
        f.dateFormat = pattern
        return f.string(from: date)
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
