import Foundation
import KitbagCore

/// Renders containers as CommonMark pages that read well on GitHub and in Obsidian.
///
/// Escaping rules (all service text passes through them):
/// - One-line contexts (headings, list items, table cells, link texts) are flattened to one line
///   and backslash-escape `\` `` ` `` `*` `[` `]` `|` `~`, `_` unless inside a word, `#` where it could open or
///   close a heading; spell `<` as an entity where it could open a tag or autolink, `&` where it could start a
///   character reference, a leading `>`; and escape a leading `-`, `+` or `1.`/`1)`; so they can never start a
///   block or raw HTML, and plain text keeps its look.
/// - Markdown bodies (summaries, item bodies, comments) are kept as Markdown inside a blockquote:
///   every line gets `> `, so nothing in a body can close the quote or start a section outside it;
///   outside fenced code, `<` becomes `&lt;` (raw HTML stays inert) and ATX/setext headings are
///   escaped so a body cannot add to the page outline. Fenced code inside a body is kept verbatim.
///   A line followed by another non-blank line ends in two spaces (a hard break), as services show it.
public enum MarkdownRenderer {
    /// The archive's `index.md`: what the archive is and a link to every container's renderings. `service` is the
    /// service's display name ("Kinopio"); only each container's id, kind, title and dates are read.
    public static func index(
        service: String, account: String?, containers: [ReadableContainer], archiveStartedAt: Date,
        formats: Set<ReadableFormat> = [.markdown]
    ) -> Data {
        var md = MarkdownText()
        md.line("# \(inline(service)) archive")
        md.blank()
        var about = "Exported by kitbag \(Kitbag.version), started \(TextCleaning.humanDate(archiveStartedAt))."
        if let account, !TextCleaning.oneLine(account).isEmpty {
            about = "Account: \(inline(account)). " + about
        }
        md.line(about)
        md.blank()
        md.line(
            "Every entity is kept exactly as the API returned it in the JSON Lines files under `data/`; "
                + "they are the lossless source that `kitbag import` reads. The pages, feeds and canvases "
                + "linked below are readable renderings of them. `manifest.json` lists every file with its SHA-256.")
        var kinds: [String] = []
        var byKind: [String: [ReadableContainer]] = [:]
        for c in containers {
            let k = ReadablePaths.folder(c.kind)
            if byKind[k] == nil { kinds.append(k) }
            byKind[k, default: []].append(c)
        }
        if containers.isEmpty {
            md.blank()
            md.line("This archive holds no containers.")
        }
        for k in kinds {
            md.blank()
            md.line("## \(inline(k.prefix(1).uppercased() + k.dropFirst()))")
            md.blank()
            for c in byKind[k] ?? [] {
                var parts: [String] = []
                let title = displayTitle(c.title)
                if formats.contains(.markdown) {
                    parts.append("[\(title)](\(ReadablePaths.markdownLink(from: ReadablePaths.index, to: ReadablePaths.page(c))))")
                } else {
                    parts.append(title)
                }
                if formats.contains(.rss) {
                    parts.append("[RSS](\(ReadablePaths.markdownLink(from: ReadablePaths.index, to: ReadablePaths.feed(c))))")
                }
                if formats.contains(.canvas) {
                    parts.append("[Canvas](\(ReadablePaths.markdownLink(from: ReadablePaths.index, to: ReadablePaths.canvas(c))))")
                }
                // The lossless files sit in folders named by id (stable across renames); the index names them.
                parts.append("data `\(ContainerRef(kind: k, id: c.id).archiveFolder)/`")
                var line = "- " + parts.joined(separator: " · ")
                if let date = c.updatedAt ?? c.createdAt { line += " — updated \(TextCleaning.humanDate(date))" }
                md.line(line)
            }
        }
        return md.data
    }

    /// The page of one container: metadata, field table, items by group, removed items, links.
    /// `allContainers` resolves `linkedContainerID`s to relative links; `formats` adds links to the feed/canvas.
    public static func page(
        _ container: ReadableContainer, allContainers: [ReadableContainer] = [],
        formats: Set<ReadableFormat> = [.markdown]
    ) -> Data {
        let here = ReadablePaths.page(container)
        var md = MarkdownText()
        md.line("# \(displayTitle(container.title))")
        md.blank()
        if let summary = container.summary, !summary.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            md.block(quoted(summary))
            md.blank()
        }
        var meta: [String] = []
        meta.append("- \(inline(capitalized(container.kind))) id: \(inline(container.id))")
        if let url = container.url.flatMap(TextCleaning.webURL) { meta.append("- On the service: [\(inline(url))](\(url))") }
        if let d = container.createdAt { meta.append("- Created: \(TextCleaning.humanDate(d))") }
        if let d = container.updatedAt { meta.append("- Updated: \(TextCleaning.humanDate(d))") }
        meta.append("- Items: \(container.items.filter { !$0.isRemoved }.count)")
        var also = ["[Index](\(ReadablePaths.markdownLink(from: here, to: ReadablePaths.index)))"]
        if formats.contains(.rss) {
            also.append("[RSS](\(ReadablePaths.markdownLink(from: here, to: ReadablePaths.feed(container))))")
        }
        if formats.contains(.canvas) {
            also.append("[Canvas](\(ReadablePaths.markdownLink(from: here, to: ReadablePaths.canvas(container))))")
        }
        meta.append("- See also: " + also.joined(separator: " · "))
        for m in meta { md.line(m) }

        if !container.fields.isEmpty {
            md.blank()
            md.line("## Fields")
            md.blank()
            md.line("| Code | Label | Type |")
            md.line("| --- | --- | --- |")
            for f in container.fields {
                md.line("| \(inline(f.code)) | \(inline(f.label)) | \(inline(f.type)) |")
            }
        }
        if !container.tags.isEmpty {
            md.blank()
            md.line("## Tags")
            md.blank()
            for t in container.tags {
                var line = "- \(inline(t.name))"
                if let color = t.color, !TextCleaning.oneLine(color).isEmpty { line += " (\(inline(color)))" }
                md.line(line)
            }
        }

        let links = LinkTargets(all: allContainers, from: here)
        let titles = Dictionary(container.items.map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
        let live = readingOrder(container.items.filter { !$0.isRemoved })
        let groupIDs = Set(container.groups.map(\.id))
        var byGroup: [String: [ReadableItem]] = [:]
        for item in live { if let g = item.groupID { byGroup[g, default: []].append(item) } }
        var renderedGroups = Set<String>()
        for g in container.groups {
            md.blank()
            md.line("## \(inline(capitalized(g.kind))): \(displayTitle(g.title))")
            let members = renderedGroups.insert(g.id).inserted ? byGroup[g.id] ?? [] : []
            if members.isEmpty {
                md.blank()
                md.line("*(empty)*")
            }
            for item in members { renderItem(item, into: &md, page: here, links: links) }
        }
        let loose = live.filter { $0.groupID.map { !groupIDs.contains($0) } ?? true }
        if !loose.isEmpty || container.groups.isEmpty {
            md.blank()
            md.line(container.groups.isEmpty ? "## Items" : "## Not in a group")
            if loose.isEmpty {
                md.blank()
                md.line("*(none)*")
            }
            for item in loose { renderItem(item, into: &md, page: here, links: links) }
        }
        let removed = readingOrder(container.items.filter(\.isRemoved))
        if !removed.isEmpty {
            md.blank()
            md.line("## Removed items")
            for item in removed { renderItem(item, into: &md, page: here, links: links) }
        }
        if !container.links.isEmpty {
            md.blank()
            md.line("## Connections")
            md.blank()
            for l in container.links {
                let from = displayTitle(titles[l.from] ?? l.from)
                let to = displayTitle(titles[l.to] ?? l.to)
                var line = "- \(from) \(l.directed ? "→" : "—") \(to)"
                if let label = l.label, !TextCleaning.oneLine(label).isEmpty { line += " (\(inline(label)))" }
                md.line(line)
            }
        }
        return md.data
    }

    // MARK: - Items

    /// Items as a person reads them: top to bottom, then left to right where they have a position (a Kinopio
    /// space), then oldest first; ties keep the archive's order.
    static func readingOrder(_ items: [ReadableItem]) -> [ReadableItem] {
        items.enumerated().sorted { a, b in
            let (fa, fb) = (a.element.frame, b.element.frame)
            if (fa == nil) != (fb == nil) { return fa != nil }
            if let fa, let fb {
                if fa.y != fb.y { return fa.y < fb.y }
                if fa.x != fb.x { return fa.x < fb.x }
            }
            let (ca, cb) = (a.element.createdAt ?? .distantFuture, b.element.createdAt ?? .distantFuture)
            if ca != cb { return ca < cb }
            return a.offset < b.offset
        }.map(\.element)
    }

    static func renderItem(_ item: ReadableItem, into md: inout MarkdownText, page: String, links: LinkTargets) {
        md.blank()
        md.line("### \(displayTitle(item.title))")
        md.blank()
        var meta: [String] = []
        if !item.labels.isEmpty { meta.append("- Labels: " + item.labels.map { inline($0) }.joined(separator: ", ")) }
        if let s = item.status, !TextCleaning.oneLine(s).isEmpty { meta.append("- Status: \(inline(s))") }
        if let a = item.author, !TextCleaning.oneLine(a).isEmpty { meta.append("- By: \(inline(a))") }
        if let d = item.createdAt { meta.append("- Created: \(TextCleaning.humanDate(d))") }
        if let d = item.updatedAt { meta.append("- Updated: \(TextCleaning.humanDate(d))") }
        if let target = item.linkedContainerID {
            if let (title, path) = links.target(target) {
                meta.append("- Links to: [\(title)](\(path))")
            } else {
                meta.append("- Links to: \(inline(target)) (not in this archive)")
            }
        }
        if let url = item.url.flatMap(TextCleaning.webURL) { meta.append("- On the service: [\(inline(url))](\(url))") }
        if item.isRemoved { meta.append("- Removed (in the service's trash)") }
        meta.append("- Id: \(inline(item.id))")
        for m in meta { md.line(m) }

        if !item.body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            md.blank()
            md.block(quoted(item.body))
        }
        let simple = item.fields.filter { if case .table = $0.value { return false } else { return true } }
        if !simple.isEmpty {
            md.blank()
            md.line("| Field | Value |")
            md.line("| --- | --- |")
            for f in simple {
                let value: String
                switch f.value {
                case .text(let t): value = inline(t)
                case .list(let l): value = l.map { inline($0) }.joined(separator: ", ")
                case .table: value = ""
                }
                md.line("| \(inline(f.name)) | \(value) |")
            }
        }
        for f in item.fields {
            guard case .table(let columns, let rows) = f.value else { continue }
            md.blank()
            md.line("**\(inline(f.name))**")
            md.blank()
            if columns.isEmpty {
                md.line("*(empty table)*")
                continue
            }
            md.line("| " + columns.map { inline($0) }.joined(separator: " | ") + " |")
            md.line("|" + String(repeating: " --- |", count: columns.count))
            for row in rows {
                let cells = (0..<columns.count).map { $0 < row.count ? inline(row[$0]) : "" }
                md.line("| " + cells.joined(separator: " | ") + " |")
            }
        }
        if !item.attachments.isEmpty {
            md.blank()
            md.line("**Attachments**")
            md.blank()
            for a in item.attachments {
                var line = "- [\(displayTitle(a.name))](\(ReadablePaths.markdownLink(from: page, to: a.archivePath)))"
                var details: [String] = []
                if let size = a.size { details.append(byteCount(size)) }
                if let t = a.contentType, !TextCleaning.oneLine(t).isEmpty { details.append(inline(t)) }
                if !details.isEmpty { line += " — " + details.joined(separator: ", ") }
                md.line(line)
            }
        }
        if !item.comments.isEmpty {
            md.blank()
            md.line("**Comments**")
            for c in item.comments {
                md.blank()
                var head: [String] = []
                head.append(c.author.map { "**\(displayTitle($0))**" } ?? "**(unknown)**")
                if let d = c.createdAt { head.append(TextCleaning.humanDate(d)) }
                md.line("- " + head.joined(separator: " · "))
                if !c.body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    md.blank()
                    md.block(quoted(c.body), indent: "  ")
                }
            }
        }
    }

    /// Resolves container ids to (escaped title, relative link) from one page.
    struct LinkTargets {
        var byID: [String: ReadableContainer] = [:]
        let from: String
        init(all: [ReadableContainer], from: String) {
            self.from = from
            for c in all where byID[c.id] == nil { byID[c.id] = c }
        }
        func target(_ id: String) -> (String, String)? {
            guard let c = byID[id] else { return nil }
            return (displayTitle(c.title), ReadablePaths.markdownLink(from: from, to: ReadablePaths.page(c)))
        }
    }

    // MARK: - Escaping

    /// Escapes one line of service text so it cannot start a block, a table cell, a link or raw HTML.
    public static func inline(_ text: String) -> String {
        let scalars = Array(TextCleaning.oneLine(text).unicodeScalars)
        var out = ""
        out.reserveCapacity(scalars.count + 8)
        func isWordChar(_ c: Unicode.Scalar?) -> Bool { c.map { $0.properties.isAlphabetic || ("0"..."9").contains($0) } ?? false }
        for (i, ch) in scalars.enumerated() {
            let prev = i > 0 ? scalars[i - 1] : nil
            let next = i + 1 < scalars.count ? scalars[i + 1] : nil
            switch ch {
            case "\\", "`", "*", "[", "]", "|", "~":
                out.append("\\")
                out.unicodeScalars.append(ch)
            case "_" where !(isWordChar(prev) && isWordChar(next)):
                // Inside a word (snake_case) an underscore cannot emphasise: it stays as it is.
                out += "\\_"
            case "#" where i == 0 || (prev == " " && scalars[i...].allSatisfy { $0 == "#" || $0 == " " }):
                // Only where it could open a heading or close one (a trailing ` ##`); `C#` and `#42` stay.
                out += "\\#"
            case "<" where next.map { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || "/!?".unicodeScalars.contains($0) } ?? false:
                // Only where it could start raw HTML or an autolink; `a < b` and `<3` stay.
                out += "&lt;"
            case ">" where i == 0:
                out += "&gt;"
            case "&" where Self.startsEntity(scalars[(i + 1)...]):
                out += "&amp;"
            default:
                out.unicodeScalars.append(ch)
            }
        }
        if out.hasPrefix("-") || out.hasPrefix("+") || out.hasPrefix("=") {
            out = "\\" + out
        } else if let firstNonDigit = out.firstIndex(where: { !$0.isASCII || !$0.isNumber }),
            firstNonDigit != out.startIndex, out[firstNonDigit] == "." || out[firstNonDigit] == ")"
        {
            out.insert("\\", at: firstNonDigit)
        }
        return out
    }

    /// Whether the text after an `&` would read as a character reference (`&amp;`, `&#38;`, `&#x26;`).
    static func startsEntity(_ rest: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let first = rest.first else { return false }
        if first == "#" { return true }
        for c in rest.prefix(33) {
            if c == ";" { return true }
            guard c.isASCII, c.properties.isAlphabetic || ("0"..."9").contains(c) else { return false }
        }
        return false
    }

    /// `inline(_:)`, or `(untitled)` when nothing is left.
    static func displayTitle(_ text: String) -> String {
        let s = inline(text)
        return s.isEmpty ? "(untitled)" : s
    }

    /// A Markdown body as blockquote lines (see the type's documentation for the rules).
    public static func quoted(_ body: String) -> [String] {
        let text = TextCleaning.withoutControls(TextCleaning.normalizeNewlines(body))
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        while let first = lines.first, first.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeFirst() }
        var out: [String] = []
        var fence: (char: Character, count: Int)?
        for (n, raw) in lines.enumerated() {
            let line = raw.replacingOccurrences(of: "\t", with: "    ")
            let indent = line.prefix(while: { $0 == " " }).count
            let rest = line.dropFirst(indent)
            if let open = fence {
                let run = rest.prefix(while: { $0 == open.char }).count
                if indent <= 3, run >= open.count, rest.dropFirst(run).allSatisfy({ $0 == " " }) { fence = nil }
                out.append("> " + line)
                continue
            }
            if indent <= 3, let c = rest.first, c == "`" || c == "~" {
                let run = rest.prefix(while: { $0 == c }).count
                if run >= 3 && (c == "~" || !rest.dropFirst(run).contains("`")) {
                    fence = (c, run)
                    out.append("> " + line)
                    continue
                }
            }
            let previous = n > 0 ? lines[n - 1] : ""
            var safe = neutralised(
                line.replacingOccurrences(of: "<", with: "&lt;"),
                afterText: !previous.trimmingCharacters(in: .whitespaces).isEmpty)
            // Service text treats a newline as a line break; CommonMark needs a hard break ("  ") for that.
            let next = n + 1 < lines.count ? lines[n + 1] : ""
            if !safe.trimmingCharacters(in: .whitespaces).isEmpty, !next.trimmingCharacters(in: .whitespaces).isEmpty,
                !safe.hasSuffix("  ")
            {
                safe += "  "
            }
            out.append(safe.isEmpty ? ">" : "> " + safe)
        }
        return out
    }

    /// Escapes an ATX heading (`# x`) or, after a text line, a setext underline (`===`, `---`) that would start
    /// `line`, also when it sits inside nested blockquotes (`> > # x`) or list items (`- # x`, `1. # x`).
    static func neutralised(_ line: String, afterText: Bool) -> String {
        var chars = Array(line)
        var p = 0
        var nested = false
        func skipSpaces(max: Int) -> Int {
            var k = 0
            while p < chars.count, chars[p] == " ", k < max { p += 1; k += 1 }
            return k
        }
        if skipSpaces(max: 4) > 3 { return line }  // indented code
        while p < chars.count {
            let c = chars[p]
            if c == ">" {
                p += 1
                _ = skipSpaces(max: 1)
            } else if (c == "-" || c == "+" || c == "*"), p + 1 < chars.count, chars[p + 1] == " " {
                p += 1
                _ = skipSpaces(max: 4)
            } else if c.isASCII, c.isNumber {
                var q = p
                while q < chars.count, q - p < 9, chars[q].isASCII, chars[q].isNumber { q += 1 }
                guard q + 1 < chars.count, chars[q] == "." || chars[q] == ")", chars[q + 1] == " " else { break }
                p = q + 1
                _ = skipSpaces(max: 4)
            } else {
                break
            }
            nested = true
            if skipSpaces(max: 4) > 3 { return line }
        }
        guard p < chars.count else { return line }
        let rest = chars[p...]
        var trimmed = rest[...]
        while trimmed.last == " " { trimmed = trimmed.dropLast() }
        let isHeading = rest.first == "#"
        let isSetext =
            !trimmed.isEmpty && (trimmed.allSatisfy { $0 == "=" } || trimmed.allSatisfy { $0 == "-" })
            && (afterText || nested)
        if isHeading || isSetext { chars.insert("\\", at: p) }
        return String(chars)
    }

    // MARK: - Helpers

    static func capitalized(_ word: String) -> String {
        let w = TextCleaning.oneLine(word)
        return w.prefix(1).uppercased() + w.dropFirst()
    }

    static func byteCount(_ size: Int64) -> String {
        if size < 1024 { return "\(size) bytes" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(size) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: "%.1f", value) + " " + units[unit]
    }
}

/// A Markdown document under construction: lines joined with `\n`, ending with one newline.
struct MarkdownText {
    private var lines: [String] = []

    mutating func line(_ text: String) { lines.append(text) }

    mutating func blank() {
        if let last = lines.last, !last.isEmpty { lines.append("") }
    }

    mutating func block(_ block: [String], indent: String = "") {
        for l in block { lines.append(indent + l) }
    }

    var data: Data {
        var text = lines.joined(separator: "\n")
        while text.hasSuffix("\n") { text.removeLast() }
        return Data((text + "\n").utf8)
    }
}
