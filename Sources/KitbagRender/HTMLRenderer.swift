import Foundation
import KitbagCore

/// Renders containers as self-contained HTML pages that open from `file://` in any browser, offline, without
/// JavaScript: `html/index.html` lists every container; `html/<kind>s/<slug>.html` is one container.
///
/// - Layout by what the container holds: a drawing (inline SVG, `HTMLDrawing`) when items have positions (a
///   Kinopio space); a table of records when it has field definitions (a Kintone app); a board with a column per
///   status when items have statuses (Kitemaker, Kona); then every item as text with its fields, attachments and
///   comments, so search, screen readers and text browsers see everything the drawing shows.
/// - Safe: every service string goes through `HTMLText` escaping (text and attribute values); colours pass only
///   as `#rrggbb` (`color(_:)`); links are only http(s) URLs (percent-encoded) or relative paths kitbag built;
///   service markup such as Kinopio's `urlPreviewEmbedHtml` is shown as text. The policy
///   `HTMLRenderer.contentSecurityPolicy` forbids scripts, frames, fonts, images and every network load, so
///   even markup that slipped through could neither run nor fetch anything.
/// - Deterministic: the same container gives the same bytes (no dates of rendering, fixed number formats).
public enum HTMLRenderer {
    /// No script, frame, font, image, media, object or connection of any kind, from anywhere; only the page's
    /// own `<style>` element and `style` attributes. `base-uri` and `form-action` close the two holes
    /// `default-src` does not cover.
    public static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

    /// `html/index.html`: every container with its counts (from the manifest entries written so far) and links.
    /// `service` is the service's display name ("Kinopio").
    public static func index(
        service: String, account: String?, containers: [ReadableContainer], archiveStartedAt: Date,
        formats: Set<ReadableFormat> = [.html], entries: [Manifest.Entry] = []
    ) -> Data {
        index(
            service: service, account: account, containers: containers, archiveStartedAt: archiveStartedAt,
            formats: formats, counts: containerCounts(entries))
    }

    /// Entity counts per container folder (`data/spaces/abc` → kind → count) of JSON Lines entries.
    public static func containerCounts(_ entries: [Manifest.Entry]) -> [String: [String: Int]] {
        var counts: [String: [String: Int]] = [:]
        for e in entries {
            guard let kind = e.kind, let count = e.count else { continue }
            let parts = e.path.split(separator: "/")
            guard parts.count >= 4 else { continue }
            counts[parts[0..<3].joined(separator: "/"), default: [:]][kind, default: 0] += count
        }
        return counts
    }

    /// `html/index.html` with the counts of each container folder already summed (see `containerCounts`).
    public static func index(
        service: String, account: String?, containers: [ReadableContainer], archiveStartedAt: Date,
        formats: Set<ReadableFormat> = [.html], counts: [String: [String: Int]]
    ) -> Data {
        index(
            service: service, account: account, containers: containers, archiveStartedAt: archiveStartedAt,
            formats: formats, contents: { counts[$0].map(contents) ?? "" })
    }

    /// What a container holds as the index shows it: `2 box · 12 card` (kinds in order, none with 0).
    public static func contents(_ counts: [String: Int]) -> String {
        counts.keys.sorted().filter { counts[$0]! > 0 }.map { "\(counts[$0]!) \($0)" }.joined(separator: " · ")
    }

    /// `html/index.html`, with `contents(folder)` the contents column of the container whose JSON Lines are in
    /// `folder` (`data/spaces/abc`).
    public static func index(
        service: String, account: String?, containers: [ReadableContainer], archiveStartedAt: Date,
        formats: Set<ReadableFormat> = [.html], contents: (String) -> String
    ) -> Data {
        let here = ReadablePaths.htmlIndex
        var h = HTMLText()
        head(&h, title: "\(service) archive")
        h.raw("<header><h1>")
        h.text(service)
        h.raw(" archive</h1>\n<p class=\"meta\">")
        if let account, !TextCleaning.oneLine(account).isEmpty {
            h.raw("Account: ")
            h.line(account)
            h.raw(". ")
        }
        h.raw("Exported by kitbag \(HTMLText.escaped(Kitbag.version)), started \(TextCleaning.humanDate(archiveStartedAt)).</p>\n")
        h.raw("<p>Every entity is kept exactly as the API returned it in the JSON Lines files under <code>data/</code>, ")
        h.raw("the lossless source that <code>kitbag import</code> reads; these pages are readable renderings of them. ")
        h.raw("<code>manifest.json</code> lists every file with its SHA-256.</p></header>\n<main>\n")

        var kinds: [String] = []
        var byKind: [String: [ReadableContainer]] = [:]
        for c in containers {
            let k = ReadablePaths.folder(c.kind)
            if byKind[k] == nil { kinds.append(k) }
            byKind[k, default: []].append(c)
        }
        if containers.isEmpty { h.raw("<p>This archive holds no containers.</p>\n") }
        for k in kinds {
            h.raw("<section><h2>")
            h.text(k.prefix(1).uppercased() + k.dropFirst())
            h.raw("</h2>\n<table class=\"index\"><thead><tr><th>Title</th><th>Contents</th><th>Updated</th><th>Also as</th><th>Data</th></tr></thead><tbody>\n")
            for c in byKind[k] ?? [] {
                let folder = ContainerRef(kind: k, id: c.id).archiveFolder
                h.raw("<tr><td>")
                if formats.contains(.html) {
                    h.raw("<a href=\"\(link(from: here, to: ReadablePaths.html(c)))\">")
                    h.line(displayTitle(c.title))
                    h.raw("</a>")
                } else {
                    h.line(displayTitle(c.title))
                }
                h.raw("</td><td>")
                h.text(contents(folder))
                h.raw("</td><td>")
                if let d = c.updatedAt ?? c.createdAt { h.raw(TextCleaning.humanDate(d)) }
                h.raw("</td><td>")
                alsoAs(&h, c, formats: formats, from: here)
                h.raw("</td><td><code>")
                h.text(folder)
                h.raw("/</code></td></tr>\n")
            }
            h.raw("</tbody></table></section>\n")
        }
        h.raw("</main>\n")
        foot(&h)
        return h.data
    }

    /// The page of one container; `allContainers` resolves links to other containers of the archive.
    public static func page(
        _ container: ReadableContainer, allContainers: [ReadableContainer] = [], formats: Set<ReadableFormat> = [.html]
    ) -> Data {
        let here = ReadablePaths.html(container)
        var h = HTMLText(capacity: 4096 + container.items.count * 1000)
        head(&h, title: displayTitle(container.title))
        h.raw("<header><nav><a href=\"\(link(from: here, to: ReadablePaths.htmlIndex))\">Index</a>")
        if formats.contains(where: { $0 != .html }) {
            h.raw(" · ")
            alsoAs(&h, container, formats: formats, from: here)
        }
        h.raw("</nav>\n<h1>")
        h.line(displayTitle(container.title))
        h.raw("</h1>\n")
        if let summary = container.summary, !summary.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            h.raw("<div class=\"text summary\">")
            h.text(body(summary))
            h.raw("</div>\n")
        }
        h.raw("<dl class=\"meta\">")
        term(&h, MarkdownRenderer.capitalized(container.kind) + " id", container.id)
        if let url = container.url.flatMap(TextCleaning.webURL) {
            h.raw("<dt>On the service</dt><dd><a href=\"\(HTMLText.escaped(url))\" rel=\"noopener noreferrer\">")
            h.text(url)
            h.raw("</a></dd>")
        }
        if let d = container.createdAt { term(&h, "Created", TextCleaning.humanDate(d)) }
        if let d = container.updatedAt { term(&h, "Updated", TextCleaning.humanDate(d)) }
        term(&h, "Items", String(container.items.filter { !$0.isRemoved }.count))
        h.raw("</dl>\n")
        if !container.tags.isEmpty {
            h.raw("<p class=\"tags\">")
            for t in container.tags { chip(&h, t.name, color: t.color) }
            h.raw("</p>\n")
        }
        h.raw("</header>\n<main>\n")

        let items = MarkdownRenderer.readingOrder(container.items.filter { !$0.isRemoved })
        let anchors = Anchors(container.items)
        if HTMLDrawing.applies(to: container) {
            h.raw("<section class=\"drawing\" aria-label=\"Drawing\">\n")
            HTMLDrawing(container).svg(into: &h, anchor: anchors.id)
            h.raw("</section>\n")
        } else if !container.fields.isEmpty {
            recordTable(&h, container, items: items, anchors: anchors, page: here)
        } else if let columns = board(container, items: items) {
            h.raw("<section class=\"board\" aria-label=\"Board\">\n")
            for (title, members) in columns {
                h.raw("<section class=\"column\"><h2>")
                h.line(title)
                h.raw(" <span class=\"count\">\(members.count)</span></h2><ul>")
                for item in members {
                    h.raw("<li><a href=\"#\(anchors.id(item))\">")
                    h.line(displayTitle(item.title))
                    h.raw("</a>")
                    if !item.labels.isEmpty {
                        h.raw("<br>")
                        for l in item.labels { chip(&h, l, color: container.tags.first { $0.name == l }?.color) }
                    }
                    if !item.comments.isEmpty {
                        h.raw(" <span class=\"count\">\(item.comments.count) comment\(item.comments.count == 1 ? "" : "s")</span>")
                    }
                    h.raw("</li>")
                }
                h.raw("</ul></section>\n")
            }
            h.raw("</section>\n")
        }

        let byID = Dictionary(container.items.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var containersByID: [String: ReadableContainer] = [:]
        for c in allContainers where containersByID[c.id] == nil { containersByID[c.id] = c }
        if container.fields.isEmpty || HTMLDrawing.applies(to: container) {
            h.raw("<section class=\"items\"><h2>Items</h2>\n")
            if items.isEmpty { h.raw("<p>(none)</p>\n") }
            let groups = Dictionary(container.groups.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for item in items {
                itemArticle(
                    &h, item, group: item.groupID.flatMap { groups[$0] }, anchors: anchors, page: here,
                    containers: containersByID)
            }
            h.raw("</section>\n")
        }
        let removed = MarkdownRenderer.readingOrder(container.items.filter(\.isRemoved))
        if !removed.isEmpty {
            h.raw("<section class=\"items removed\"><h2>Removed items</h2>\n")
            for item in removed {
                itemArticle(&h, item, group: nil, anchors: anchors, page: here, containers: containersByID)
            }
            h.raw("</section>\n")
        }
        if !container.links.isEmpty {
            h.raw("<section class=\"links\"><h2>Connections</h2><ul>\n")
            for l in container.links {
                h.raw("<li>")
                if let item = byID[l.from] {
                    h.raw("<a href=\"#\(anchors.id(item))\">")
                    h.line(displayTitle(item.title))
                    h.raw("</a>")
                } else {
                    h.line(l.from)
                }
                h.raw(l.directed ? " → " : " — ")
                if let item = byID[l.to] {
                    h.raw("<a href=\"#\(anchors.id(item))\">")
                    h.line(displayTitle(item.title))
                    h.raw("</a>")
                } else {
                    h.line(l.to)
                }
                if let label = l.label, !TextCleaning.oneLine(label).isEmpty {
                    h.raw(" (")
                    h.line(label)
                    h.raw(")")
                }
                h.raw("</li>\n")
            }
            h.raw("</ul></section>\n")
        }
        if !container.fields.isEmpty {
            h.raw("<section class=\"fields\"><h2>Fields</h2><table><thead><tr><th>Code</th><th>Label</th><th>Type</th></tr></thead><tbody>")
            for f in container.fields {
                h.raw("<tr><td>")
                h.line(f.code)
                h.raw("</td><td>")
                h.line(f.label)
                h.raw("</td><td>")
                h.line(f.type)
                h.raw("</td></tr>")
            }
            h.raw("</tbody></table></section>\n")
        }
        h.raw("</main>\n")
        foot(&h)
        return h.data
    }

    // MARK: - Colours

    /// A service colour as `#rrggbb` (from `#rgb`, `#rrggbb`, `#rrggbbaa`, `rgb()`/`rgba()` or a basic CSS name),
    /// or nil: nothing else ever reaches an attribute.
    public static func color(_ raw: String) -> String? {
        guard let c = CanvasRenderer.canvasColor(raw), c.count == 7, c.hasPrefix("#"),
            c.utf8.dropFirst().allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { return nil }
        return c
    }

    // MARK: - Parts

    static let style = """
        :root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;line-height:1.45;color:#222;background:#fafafa}
        body{margin:0 auto;padding:1rem 1.5rem 3rem;max-width:none}
        header,main>section.items,main>section.links,main>section.fields{max-width:70rem}
        h1{font-size:1.6rem;margin:.4rem 0}h2{font-size:1.25rem;margin:1.6rem 0 .6rem}h3{font-size:1.05rem;margin:0 0 .3rem}
        nav{font-size:.9rem}a{color:#0b57d0}code{font-size:.9em}
        .meta{color:#555;font-size:.9rem}dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.4rem 0}
        dl.meta dt{font-weight:600}dl.meta dd{margin:0;overflow-wrap:anywhere}
        .text{white-space:pre-wrap;overflow-wrap:anywhere;border-left:3px solid #ddd;padding:.2rem .8rem;margin:.4rem 0;background:#fff}
        .chip{display:inline-block;border-radius:.7rem;padding:0 .5rem;margin:0 .25rem .2rem 0;font-size:.8rem;background:#eee;border-left:.6rem solid #bbb}
        table{border-collapse:collapse;margin:.4rem 0;background:#fff}th,td{border:1px solid #ccc;padding:.25rem .45rem;vertical-align:top;text-align:left;overflow-wrap:break-word}
        th{background:#f0f0f0}table table{margin:0;font-size:.9em}table.records td{min-width:4rem}table.records .text{border:0;padding:0;margin:0;background:none}tr.comments td{background:#fbfbf4}
        section.drawing{width:max-content;border:1px solid #ddd;background:#fff;margin:1rem 0}
        svg.drawing{display:block;font-size:13px;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
        svg .label{font-weight:600;fill:#333}svg .connection-label{fill:#333;font-size:12px;paint-order:stroke;stroke:#fff;stroke-width:3px}
        .board{display:flex;gap:1rem;overflow-x:auto;align-items:flex-start;padding-bottom:.5rem}
        .column{flex:0 0 16rem;background:#eef0f3;border-radius:6px;padding:.2rem .6rem .6rem}.column h2{font-size:1rem}
        .column ul{list-style:none;margin:0;padding:0}.column li{background:#fff;border:1px solid #d5d8dc;border-radius:4px;padding:.4rem;margin:.35rem 0}
        .count{color:#666;font-size:.8rem;font-weight:normal}
        article{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:.6rem .9rem;margin:.7rem 0}
        article:target{outline:3px solid #0b57d0}.removed article{opacity:.75}
        .comment{margin:.4rem 0 .4rem 1rem}.comment .who{font-weight:600}
        pre.markup{white-space:pre-wrap;overflow-wrap:anywhere;background:#f4f4f4;padding:.4rem;font-size:.85em}
        footer{margin-top:2rem;color:#777;font-size:.8rem}
        """

    static func head(_ h: inout HTMLText, title: String) {
        h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        h.raw("<meta http-equiv=\"Content-Security-Policy\" content=\"\(contentSecurityPolicy)\">\n")
        h.raw("<meta name=\"referrer\" content=\"no-referrer\">\n")
        h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"kitbag\">\n<title>")
        h.line(title)
        h.raw("</title>\n<style>\n\(style)\n</style>\n</head>\n<body>\n")
    }

    static func foot(_ h: inout HTMLText) {
        h.raw("<footer>Rendered by kitbag from the archive's JSON Lines; no script, no network.</footer>\n</body>\n</html>\n")
    }

    static func alsoAs(_ h: inout HTMLText, _ c: ReadableContainer, formats: Set<ReadableFormat>, from here: String) {
        var parts: [String] = []
        if formats.contains(.markdown) { parts.append("<a href=\"\(link(from: here, to: ReadablePaths.page(c)))\">Markdown</a>") }
        if formats.contains(.rss) { parts.append("<a href=\"\(link(from: here, to: ReadablePaths.feed(c)))\">RSS</a>") }
        if formats.contains(.canvas) { parts.append("<a href=\"\(link(from: here, to: ReadablePaths.canvas(c)))\">Canvas</a>") }
        h.raw(parts.joined(separator: " · "))
    }

    /// A relative link between two archive paths, percent-encoded (only `[A-Za-z0-9._~/-]` and `%XX` remain).
    static func link(from: String, to: String) -> String {
        ReadablePaths.markdownLink(from: from, to: to)
    }

    static func term(_ h: inout HTMLText, _ name: String, _ value: String) {
        h.raw("<dt>")
        h.line(name)
        h.raw("</dt><dd>")
        h.line(value)
        h.raw("</dd>")
    }

    static func chip(_ h: inout HTMLText, _ name: String, color: String?) {
        if let c = color.flatMap(Self.color) {
            h.raw("<span class=\"chip\" style=\"border-left-color:\(c)\">")
        } else {
            h.raw("<span class=\"chip\">")
        }
        h.line(name)
        h.raw("</span>")
    }

    static func displayTitle(_ text: String) -> String {
        let s = TextCleaning.oneLine(text)
        return s.isEmpty ? "(untitled)" : s
    }

    /// A body as it is written (Markdown is not interpreted), line breaks normalised, outer blank lines trimmed.
    static func body(_ text: String) -> String {
        TextCleaning.withoutControls(TextCleaning.normalizeNewlines(text)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Fragment ids for items: `item-` and the id's file-system-safe form; a repeated id gets `-2`, `-3`, ….
    struct Anchors {
        var byID: [String: String] = [:]
        init(_ items: [ReadableItem]) {
            var used = Set<String>()
            for i in items where byID[i.id] == nil {
                var candidate = "item-" + ReadablePaths.idPart(i.id)
                var n = 2
                while used.contains(candidate) {
                    candidate = "item-" + ReadablePaths.idPart(i.id) + "-\(n)"
                    n += 1
                }
                used.insert(candidate)
                byID[i.id] = candidate
            }
        }
        func id(_ item: ReadableItem) -> String { byID[item.id] ?? "item" }
    }

    /// Columns of a board: the container's status groups in order (then items of no known status), or the
    /// items' own statuses in order of appearance; nil when no item has a status.
    static func board(_ c: ReadableContainer, items: [ReadableItem]) -> [(String, [ReadableItem])]? {
        let statusGroups = c.groups.filter { $0.kind == "status" }
        if !statusGroups.isEmpty {
            var columns = statusGroups.map { ($0.title, [ReadableItem]()) }
            let index = Dictionary(statusGroups.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
            var loose: [ReadableItem] = []
            for item in c.items where !item.isRemoved {
                if let g = item.groupID, let n = index[g] { columns[n].1.append(item) } else { loose.append(item) }
            }
            if !loose.isEmpty { columns.append(("No status", loose)) }
            return columns
        }
        guard items.contains(where: { !($0.status ?? "").isEmpty }) else { return nil }
        var order: [String] = []
        var members: [String: [ReadableItem]] = [:]
        for item in c.items where !item.isRemoved {
            guard let s = item.status.map(TextCleaning.oneLine), !s.isEmpty else { continue }
            if members[s] == nil { order.append(s) }
            members[s, default: []].append(item)
        }
        return order.map { ($0, members[$0] ?? []) }
    }

    // MARK: - Items

    static func itemArticle(
        _ h: inout HTMLText, _ item: ReadableItem, group: ReadableGroup?, anchors: Anchors, page: String,
        containers: [String: ReadableContainer]
    ) {
        h.raw("<article id=\"\(anchors.id(item))\"><h3>")
        h.line(displayTitle(item.title))
        h.raw("</h3>\n<dl class=\"meta\">")
        // A status column is already named by the item's own status.
        if let group, !(group.kind == "status" && !(item.status ?? "").isEmpty) {
            term(&h, MarkdownRenderer.capitalized(group.kind), displayTitle(group.title))
        }
        if let s = item.status, !TextCleaning.oneLine(s).isEmpty { term(&h, "Status", s) }
        if let a = item.author, !TextCleaning.oneLine(a).isEmpty { term(&h, "By", a) }
        if let d = item.createdAt { term(&h, "Created", TextCleaning.humanDate(d)) }
        if let d = item.updatedAt { term(&h, "Updated", TextCleaning.humanDate(d)) }
        if let target = item.linkedContainerID {
            h.raw("<dt>Links to</dt><dd>")
            if let c = containers[target] {
                h.raw("<a href=\"\(link(from: page, to: ReadablePaths.html(c)))\">")
                h.line(displayTitle(c.title))
                h.raw("</a>")
            } else {
                h.line(target)
                h.raw(" (not in this archive)")
            }
            h.raw("</dd>")
        }
        if let url = item.url.flatMap(TextCleaning.webURL) {
            h.raw("<dt>On the service</dt><dd><a href=\"\(HTMLText.escaped(url))\" rel=\"noopener noreferrer\">")
            h.text(url)
            h.raw("</a></dd>")
        }
        if item.isRemoved { term(&h, "Removed", "in the service's trash") }
        term(&h, "Id", item.id)
        h.raw("</dl>\n")
        if !item.labels.isEmpty {
            h.raw("<p class=\"tags\">")
            for l in item.labels { chip(&h, l, color: nil) }
            h.raw("</p>\n")
        }
        let text = body(item.body)
        if !text.isEmpty {
            h.raw("<div class=\"text\">")
            h.text(text)
            h.raw("</div>\n")
        }
        if let p = item.preview, !p.isEmpty { preview(&h, p) }
        if !item.fields.isEmpty {
            h.raw("<table class=\"fields\"><tbody>")
            for f in item.fields {
                h.raw("<tr><th scope=\"row\">")
                h.line(f.name)
                h.raw("</th><td>")
                value(&h, f.value, attachments: item.attachments, page: page)
                h.raw("</td></tr>")
            }
            h.raw("</tbody></table>\n")
        }
        attachments(&h, item.attachments, page: page)
        comments(&h, item.comments)
        h.raw("</article>\n")
    }

    static func preview(_ h: inout HTMLText, _ p: ReadablePreview) {
        h.raw("<div class=\"preview\"><p><strong>URL preview</strong>")
        if let t = p.title, !t.isEmpty {
            h.raw(": ")
            h.line(t)
        }
        h.raw("</p>")
        if let u = p.url, !u.isEmpty {
            h.raw("<p>")
            if let web = TextCleaning.webURL(u) {
                h.raw("<a href=\"\(HTMLText.escaped(web))\" rel=\"noopener noreferrer\">")
                h.text(web)
                h.raw("</a>")
            } else {
                h.line(u)
            }
            h.raw("</p>")
        }
        if let d = p.description, !d.isEmpty {
            h.raw("<div class=\"text\">")
            h.text(body(d))
            h.raw("</div>")
        }
        for (name, value) in [("Image", p.image), ("Frame", p.iframeURL)] {
            guard let value, !value.isEmpty else { continue }
            h.raw("<p>\(name) (not loaded): <code>")
            h.line(value)
            h.raw("</code></p>")
        }
        if let e = p.embedHTML, !e.isEmpty {
            h.raw("<p>Embed markup (shown as text, never run):</p><pre class=\"markup\">")
            h.text(e)
            h.raw("</pre>")
        }
        h.raw("</div>\n")
    }

    static func value(_ h: inout HTMLText, _ v: ReadableValue, attachments: [ReadableAttachment], page: String) {
        switch v {
        case .text(let t):
            h.text(body(t))
        case .list(let names):
            var unused = attachments
            for (n, name) in names.enumerated() {
                if n > 0 { h.raw(", ") }
                if let k = unused.firstIndex(where: { $0.name == name }) {
                    let a = unused.remove(at: k)
                    h.raw("<a href=\"\(link(from: page, to: a.archivePath))\">")
                    h.line(displayTitle(name))
                    h.raw("</a>")
                } else {
                    h.line(name)
                }
            }
        case .table(let columns, let rows):
            h.raw("<table><thead><tr>")
            for c in columns {
                h.raw("<th>")
                h.line(c)
                h.raw("</th>")
            }
            h.raw("</tr></thead><tbody>")
            for row in rows {
                h.raw("<tr>")
                for k in 0..<columns.count {
                    h.raw("<td>")
                    if k < row.count { h.text(body(row[k])) }
                    h.raw("</td>")
                }
                h.raw("</tr>")
            }
            h.raw("</tbody></table>")
        }
    }

    static func attachments(_ h: inout HTMLText, _ list: [ReadableAttachment], page: String) {
        guard !list.isEmpty else { return }
        h.raw("<p><strong>Attachments</strong></p><ul class=\"attachments\">")
        for a in list {
            h.raw("<li><a href=\"\(link(from: page, to: a.archivePath))\">")
            h.line(displayTitle(a.name))
            h.raw("</a>")
            var details: [String] = []
            if let size = a.size { details.append(MarkdownRenderer.byteCount(size)) }
            if let t = a.contentType, !TextCleaning.oneLine(t).isEmpty { details.append(TextCleaning.oneLine(t)) }
            if !details.isEmpty {
                h.raw(" — ")
                h.text(details.joined(separator: ", "))
            }
            h.raw("</li>")
        }
        h.raw("</ul>\n")
    }

    static func comments(_ h: inout HTMLText, _ list: [ReadableComment]) {
        guard !list.isEmpty else { return }
        h.raw("<section class=\"comments\"><p><strong>Comments</strong></p>")
        for c in list {
            h.raw("<div class=\"comment\"><span class=\"who\">")
            h.line(c.author.map(displayTitle) ?? "(unknown)")
            h.raw("</span>")
            if let d = c.createdAt { h.raw(" · \(TextCleaning.humanDate(d))") }
            let text = body(c.body)
            if !text.isEmpty {
                h.raw("<div class=\"text\">")
                h.text(text)
                h.raw("</div>")
            }
            h.raw("</div>")
        }
        h.raw("</section>\n")
    }

    // MARK: - Records

    /// A Kintone app: one row per record, a column per field (labels as headers), subtables nested, file names
    /// linked to the archived files, the record's comments in a row under it.
    static func recordTable(
        _ h: inout HTMLText, _ c: ReadableContainer, items: [ReadableItem], anchors: Anchors, page: String
    ) {
        let records = c.items.filter { !$0.isRemoved }
        h.raw("<section class=\"records\"><h2>Records <span class=\"count\">\(records.count)</span></h2>\n")
        h.raw("<table class=\"records\"><thead><tr><th>Record</th>")
        for f in c.fields {
            h.raw("<th title=\"")
            h.line(f.code)
            h.raw("\">")
            h.line(displayTitle(f.label))
            h.raw("</th>")
        }
        h.raw("</tr></thead><tbody>\n")
        for item in records {
            h.raw("<tr id=\"\(anchors.id(item))\"><th scope=\"row\">")
            if let url = item.url.flatMap(TextCleaning.webURL) {
                h.raw("<a href=\"\(HTMLText.escaped(url))\" rel=\"noopener noreferrer\">")
                h.line(item.id)
                h.raw("</a>")
            } else {
                h.line(item.id)
            }
            h.raw("</th>")
            var unused = item.fields
            for f in c.fields {
                h.raw("<td>")
                if let k = unused.firstIndex(where: { $0.name == f.label }) {
                    value(&h, unused.remove(at: k).value, attachments: item.attachments, page: page)
                }
                h.raw("</td>")
            }
            h.raw("</tr>\n")
            if !item.comments.isEmpty {
                h.raw("<tr class=\"comments\"><td colspan=\"\(c.fields.count + 1)\">")
                comments(&h, item.comments)
                h.raw("</td></tr>\n")
            }
        }
        h.raw("</tbody></table></section>\n")
    }
}
