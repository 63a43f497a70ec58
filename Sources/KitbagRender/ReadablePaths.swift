import Foundation
import KitbagCore

/// Where renderings live inside an archive. Every path is ASCII, built only from `[a-z0-9._/-]` plus
/// the id's own `[A-Za-z0-9_-]`, so it is safe on every file system and in Markdown links.
public enum ReadablePaths {
    /// The archive's front page.
    public static let index = "index.md"

    /// `pages/<kind>s/<slug>.md`, the Markdown page of a container.
    public static func page(_ container: ReadableContainer) -> String {
        "pages/\(folder(container.kind))/\(slug(title: container.title, id: container.id, kind: container.kind)).md"
    }

    /// `feeds/<kind>s/<slug>.xml`, the RSS 2.0 feed of a container.
    public static func feed(_ container: ReadableContainer) -> String {
        "feeds/\(folder(container.kind))/\(slug(title: container.title, id: container.id, kind: container.kind)).xml"
    }

    /// `canvas/<slug>.canvas`, the JSON Canvas of a container.
    public static func canvas(_ container: ReadableContainer) -> String {
        "canvas/\(slug(title: container.title, id: container.id, kind: container.kind)).canvas"
    }

    /// The HTML front page, `html/index.html`.
    public static let htmlIndex = "html/index.html"

    /// `html/<kind>s/<slug>.html`, the self-contained HTML page of a container.
    public static func html(_ container: ReadableContainer) -> String {
        "html/\(folder(container.kind))/\(slug(title: container.title, id: container.id, kind: container.kind)).html"
    }

    /// The path of `container`'s rendering in `format`.
    public static func path(_ format: ReadableFormat, of container: ReadableContainer) -> String {
        switch format {
        case .markdown: return page(container)
        case .rss: return feed(container)
        case .canvas: return canvas(container)
        case .html: return html(container)
        }
    }

    /// A deterministic, unique, file-system-safe name: `garden-plans_HzVOgAct`.
    ///
    /// The title part (ASCII letters/digits and `-`, at most 40 characters, accents folded, never a `_`)
    /// is for people; the part after the first `_` is the id, so two ids never share a slug.
    /// Ids with characters outside `[A-Za-z0-9_-]` (or longer than 48) become a cleaned prefix plus
    /// a 64-bit FNV-1a hash of the id. Ids differing only in case give slugs differing only in case.
    public static func slug(title: String, id: String, kind: String = "container") -> String {
        var head = asciiWords(title, limit: 40)
        if head.isEmpty { head = asciiWords(kind, limit: 20) }
        if head.isEmpty { head = "untitled" }
        return "\(head)_\(idPart(id))"
    }

    /// Folder for a container kind: `space` → `spaces`.
    static func folder(_ kind: String) -> String {
        let k = asciiWords(kind, limit: 40)
        return (k.isEmpty ? "container" : k) + "s"
    }

    static func idPart(_ id: String) -> String {
        let safe = id.utf8.allSatisfy { isIDByte($0) }
        if safe && !id.isEmpty && id.utf8.count <= 48 { return id }
        var cleaned = ""
        for b in id.utf8.prefix(24) {
            cleaned.unicodeScalars.append(isIDByte(b) ? Unicode.Scalar(b) : "-")
        }
        return (cleaned.isEmpty ? "" : cleaned + "-") + fnv1a64Hex(id)
    }

    static func isIDByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default: return false
        }
    }

    /// Lowercase ASCII words joined by `-`: accents are folded (NFD), everything else separates words.
    static func asciiWords(_ text: String, limit: Int) -> String {
        var out = ""
        var pendingDash = false
        for scalar in text.decomposedStringWithCanonicalMapping.unicodeScalars {
            let v = scalar.value
            let isAlnum = (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
            if isAlnum {
                if pendingDash && !out.isEmpty {
                    if out.count + 1 >= limit { break }
                    out.append("-")
                }
                pendingDash = false
                if out.count >= limit { break }
                out.unicodeScalars.append(v >= 0x41 && v <= 0x5A ? Unicode.Scalar(v + 32)! : scalar)
            } else if scalar.properties.generalCategory == .nonspacingMark {
                continue  // a combining accent folded off its letter
            } else {
                pendingDash = true
            }
        }
        return out
    }

    static func fnv1a64Hex(_ text: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The relative path from the file at `from` to the file at `to` (both archive paths).
    public static func relative(from: String, to: String) -> String {
        let fromDirs = from.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        let toParts = to.split(separator: "/", omittingEmptySubsequences: true)
        var common = 0
        while common < fromDirs.count, common < toParts.count - 1,
            fromDirs[fromDirs.startIndex + common] == toParts[common]
        {
            common += 1
        }
        let ups = Array(repeating: "..", count: fromDirs.count - common)
        return (ups + toParts[common...].map(String.init)).joined(separator: "/")
    }

    /// `relative(from:to:)` percent-encoded for a Markdown link destination (spaces → `%20`, `%` → `%25`).
    public static func markdownLink(from: String, to: String) -> String {
        percentEncodePath(relative(from: from, to: to))
    }

    static func percentEncodePath(_ path: String) -> String {
        var out = ""
        for b in path.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}
