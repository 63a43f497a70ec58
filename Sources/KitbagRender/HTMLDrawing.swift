import Foundation
import KitbagCore

/// Lays out and draws a canvas container (a Kinopio space) as inline SVG, in the service's own coordinates.
///
/// - Cards sit at their `x`/`y`; their size is the archived width/height when there is one, else Kinopio's:
///   as wide as the text up to the wrap width (`normalCardWrapWidth` 200, at least `defaultCardWidth` 58) and as
///   tall as the wrapped text (at least 32, Kinopio's empty card). Text is wrapped by an estimate of glyph widths,
///   so the layout is the same on every machine; an archived height that is too small cuts the text with `…`.
/// - Boxes are labelled rectangles behind everything (default 224×105); lists are titled columns whose cards
///   are stacked inside them in list order (Kinopio's padding 8 and title height 34); lines cross the whole
///   drawing at their `y`; strokes are polylines `diameter` wide.
/// - Connections are drawn behind the cards along the stored Kinopio path when it parses as `m x,y q cx,cy ex,ey`
///   (numbers only, re-emitted by kitbag), else as straight lines between the two ends' borders; a visible
///   direction is an arrowhead at the middle of the path (where Kinopio animates its dot); labels sit beside it.
/// - Colours are validated to `#rrggbb` (see `HTMLRenderer.color`); anything else takes the default.
/// - The SVG is as large as what it holds plus a margin, one unit per CSS pixel: the page scrolls and zooms with
///   the browser. Removed items are not drawn.
struct HTMLDrawing {
    struct Box {
        var x, y, width, height: Double
        var maxX: Double { x + width }
        var maxY: Double { y + height }
        var centre: (Double, Double) { (x + width / 2, y + height / 2) }
    }

    static let fontSize = 13.0
    static let lineHeight = 17.0
    static let padding = 8.0
    static let wrapWidth = 200.0
    static let minCardWidth = 58.0
    static let minCardHeight = 32.0
    static let defaultBoxWidth = 224.0
    static let defaultBoxHeight = 105.0
    static let listPadding = 8.0
    static let listTitleHeight = 34.0
    static let minListWidth = 200.0
    static let margin = 40.0
    static let defaultInk = "#222222"
    static let defaultCard = "#ffffff"
    static let defaultLine = "#7a7a7a"

    struct Card {
        var item: ReadableItem
        var box: Box
        var lines: [String]
        var fill: String
    }

    var cards: [Card] = []
    var groups: [(ReadableGroup, Box, String?)] = []
    var lists: [(ReadableList, Box, String?)] = []
    var guides: [ReadableGuide] = []
    var strokes: [ReadableStroke] = []
    var links: [ReadableLink] = []
    var paths: [String: String] = [:]
    var bounds = Box(x: 0, y: 0, width: 0, height: 0)

    /// True when the container has anything with a position.
    static func applies(to c: ReadableContainer) -> Bool {
        c.items.contains { !$0.isRemoved && $0.frame != nil } || c.groups.contains { $0.frame != nil }
            || !(c.drawing?.lists.isEmpty ?? true)
    }

    init(_ c: ReadableContainer) {
        let drawing = c.drawing ?? ReadableDrawing()
        let items = c.items.filter { !$0.isRemoved }
        var byID: [String: ReadableItem] = [:]
        for i in items where byID[i.id] == nil { byID[i.id] = i }

        // Lists first: they place the cards they hold.
        var placed = Set<String>()
        for list in drawing.lists {
            guard let f = list.frame else { continue }
            let width = max(Self.positive(f.width) ?? Self.minListWidth, Self.minListWidth)
            var y = f.y + Self.listTitleHeight
            let cardWidth = width - 2 * Self.listPadding
            for id in list.itemIDs {
                guard let item = byID[id], !placed.contains(id) else { continue }
                let lines = Self.wrap(Self.cardText(item), width: cardWidth - 2 * Self.padding)
                let height = max(Self.minCardHeight, Double(lines.count) * Self.lineHeight + 2 * Self.padding)
                cards.append(
                    Card(
                        item: item, box: Box(x: f.x + Self.listPadding, y: y, width: cardWidth, height: height),
                        lines: lines, fill: item.frame?.color.flatMap(HTMLRenderer.color) ?? Self.defaultCard))
                placed.insert(id)
                y += height + Self.listPadding
            }
            let height = max(Self.positive(f.height) ?? 0, y - f.y, Self.listTitleHeight + 22)
            lists.append((list, Box(x: f.x, y: f.y, width: width, height: height), list.color.flatMap(HTMLRenderer.color)))
        }
        // Then every other card with a position, in z order (ties keep the archive's order).
        let framed = items.enumerated().filter { $0.element.frame != nil && !placed.contains($0.element.id) }
            .sorted { a, b in
                let (za, zb) = (a.element.frame?.z ?? 0, b.element.frame?.z ?? 0)
                return za != zb ? za < zb : a.offset < b.offset
            }.map(\.element)
        for item in framed {
            guard let f = item.frame else { continue }
            let text = Self.cardText(item)
            let width: Double
            var lines: [String]
            if let w = Self.positive(f.width) {
                width = max(w, Self.minCardWidth)
                lines = Self.wrap(text, width: width - 2 * Self.padding)
            } else {
                // As wide as the text wrapped at Kinopio's wrap width; the same lines fit that narrower width.
                lines = Self.wrap(text, width: Self.wrapWidth - 2 * Self.padding)
                let natural = lines.map(Self.width).max() ?? 0
                width = min(Self.wrapWidth, max(Self.minCardWidth, (natural + 2 * Self.padding).rounded(.up)))
            }
            let height: Double
            if let h = Self.positive(f.height) {
                height = max(h, Self.minCardHeight)
                let fit = max(1, Int((height - 2 * Self.padding) / Self.lineHeight))
                if lines.count > fit {
                    lines = Array(lines.prefix(fit))
                    lines[fit - 1] = Self.shortened(lines[fit - 1], width: width - 2 * Self.padding, always: true)
                }
            } else {
                height = max(Self.minCardHeight, Double(lines.count) * Self.lineHeight + 2 * Self.padding)
            }
            cards.append(
                Card(
                    item: item, box: Box(x: Self.finite(f.x), y: Self.finite(f.y), width: width, height: height),
                    lines: lines, fill: f.color.flatMap(HTMLRenderer.color) ?? Self.defaultCard))
        }
        let boxes = c.groups.enumerated().filter { $0.element.frame != nil }.sorted { a, b in
            let (za, zb) = (a.element.frame?.z ?? 0, b.element.frame?.z ?? 0)
            return za != zb ? za < zb : a.offset < b.offset
        }.map(\.element)
        for g in boxes {
            guard let f = g.frame else { continue }
            let box = Box(
                x: Self.finite(f.x), y: Self.finite(f.y), width: Self.positive(f.width) ?? Self.defaultBoxWidth,
                height: Self.positive(f.height) ?? Self.defaultBoxHeight)
            groups.append((g, box, (g.color ?? f.color).flatMap(HTMLRenderer.color)))
        }
        guides = drawing.guides.filter { $0.y.isFinite }
        strokes = drawing.strokes.filter { !$0.points.isEmpty }
        links = c.links
        paths = drawing.linkPaths

        var all = cards.map(\.box) + groups.map(\.1) + lists.map(\.1)
        for s in strokes {
            let r = (s.diameter.flatMap { $0.isFinite ? $0 : nil } ?? 4) / 2
            for p in s.points where p.x.isFinite && p.y.isFinite {
                all.append(Box(x: p.x - r, y: p.y - r, width: 2 * r, height: 2 * r))
            }
        }
        for l in links {
            guard let curve = Self.curve(paths[l.id]) else { continue }
            all.append(Box(x: curve.start.0, y: curve.start.1, width: 0, height: 0))
            all.append(Box(x: curve.end.0, y: curve.end.1, width: 0, height: 0))
        }
        if all.isEmpty { all.append(Box(x: 0, y: 0, width: 0, height: 0)) }
        let minX = all.map(\.x).min()!, minY = min(all.map(\.y).min()!, guides.map(\.y).min() ?? .infinity)
        let maxX = all.map(\.maxX).max()!, maxY = max(all.map(\.maxY).max()!, guides.map(\.y).max() ?? -.infinity)
        bounds = Box(
            x: (minX - Self.margin).rounded(.down), y: (minY - Self.margin).rounded(.down),
            width: (maxX - minX + 2 * Self.margin).rounded(.up), height: (maxY - minY + 2 * Self.margin).rounded(.up))
    }

    // MARK: - SVG

    func svg(into h: inout HTMLText, anchor: (ReadableItem) -> String) {
        let b = bounds
        h.raw("<svg class=\"drawing\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"drawing-title\" viewBox=\"")
        h.raw("\(HTMLText.format(b.x)) \(HTMLText.format(b.y)) \(HTMLText.format(b.width)) \(HTMLText.format(b.height))\" width=\"")
        h.raw("\(HTMLText.format(b.width))\" height=\"\(HTMLText.format(b.height))\" data-origin-x=\"\(HTMLText.format(b.x))\" data-origin-y=\"\(HTMLText.format(b.y))\">\n")
        h.raw("<title id=\"drawing-title\">Drawing of the space: \(cards.count) cards, \(groups.count) boxes, \(lists.count) lists, \(links.count) connections; the same content follows as text</title>\n")

        for (g, box, color) in groups {
            let fill = color ?? "#dddddd"
            h.raw("<g class=\"box\"><rect class=\"box\" x=\"\(HTMLText.format(box.x))\" y=\"\(HTMLText.format(box.y))\" width=\"\(HTMLText.format(box.width))\" height=\"\(HTMLText.format(box.height))\" rx=\"6\" fill=\"\(fill)\" fill-opacity=\"0.35\" stroke=\"\(fill)\" stroke-width=\"2\"/>")
            h.raw("<text class=\"label\" x=\"\(HTMLText.format(box.x + 8))\" y=\"\(HTMLText.format(box.y + 18))\">")
            h.text(Self.shortened(TextCleaning.oneLine(g.title), width: box.width - 16))
            h.raw("</text></g>\n")
        }
        for guide in guides {
            let color = guide.color.flatMap(HTMLRenderer.color) ?? "#d1d1d1"
            h.raw("<g class=\"line\"><line x1=\"\(HTMLText.format(b.x))\" y1=\"\(HTMLText.format(guide.y))\" x2=\"\(HTMLText.format(b.x + b.width))\" y2=\"\(HTMLText.format(guide.y))\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            let title = TextCleaning.oneLine(guide.title)
            if !title.isEmpty {
                h.raw("<text class=\"label\" x=\"\(HTMLText.format(b.x + 8))\" y=\"\(HTMLText.format(guide.y - 6))\">")
                h.text(title)
                h.raw("</text>")
            }
            h.raw("</g>\n")
        }
        for (list, box, color) in lists {
            let ink = color ?? "#cccccc"
            h.raw("<g class=\"list\"><rect class=\"list\" x=\"\(HTMLText.format(box.x))\" y=\"\(HTMLText.format(box.y))\" width=\"\(HTMLText.format(box.width))\" height=\"\(HTMLText.format(box.height))\" rx=\"6\" fill=\"\(ink)\" fill-opacity=\"0.18\" stroke=\"\(ink)\" stroke-width=\"2\"/>")
            h.raw("<text class=\"label\" x=\"\(HTMLText.format(box.x + 8))\" y=\"\(HTMLText.format(box.y + 22))\">")
            h.text(Self.shortened(TextCleaning.oneLine(list.title), width: box.width - 16))
            h.raw("</text></g>\n")
        }
        for s in strokes {
            let color = s.color.flatMap(HTMLRenderer.color) ?? "#444444"
            let width = s.diameter.flatMap { $0.isFinite && $0 > 0 ? min($0, 200) : nil } ?? 4
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite }
                .map { "\(HTMLText.format($0.x)),\(HTMLText.format($0.y))" }
            h.raw("<polyline class=\"stroke\" points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(HTMLText.format(width))\" stroke-linecap=\"round\" stroke-linejoin=\"round\"/>\n")
        }

        // Connections, behind the cards.
        var boxByID: [String: Box] = [:]
        for card in cards where boxByID[card.item.id] == nil { boxByID[card.item.id] = card.box }
        for (g, box, _) in groups where boxByID[g.id] == nil { boxByID[g.id] = box }
        for l in links {
            guard let from = boxByID[l.from], let to = boxByID[l.to] else { continue }
            let color = l.color.flatMap(HTMLRenderer.color) ?? Self.defaultLine
            let start: (Double, Double), control: (Double, Double), end: (Double, Double)
            if let curve = Self.curve(paths[l.id]), Self.near(curve.start, from), Self.near(curve.end, to) {
                (start, control, end) = (curve.start, curve.control, curve.end)
            } else {
                start = Self.border(of: from, toward: to.centre)
                end = Self.border(of: to, toward: from.centre)
                control = ((start.0 + end.0) / 2, (start.1 + end.1) / 2)
            }
            h.raw("<g class=\"connection\"><path d=\"M\(HTMLText.format(start.0)),\(HTMLText.format(start.1)) Q\(HTMLText.format(control.0)),\(HTMLText.format(control.1)) \(HTMLText.format(end.0)),\(HTMLText.format(end.1))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"5\" stroke-linecap=\"round\"/>")
            // The middle of the quadratic curve and its direction there.
            let mid = (
                0.25 * start.0 + 0.5 * control.0 + 0.25 * end.0, 0.25 * start.1 + 0.5 * control.1 + 0.25 * end.1
            )
            if l.directed {
                var (dx, dy) = (end.0 - start.0, end.1 - start.1)
                let length = (dx * dx + dy * dy).squareRoot()
                if length > 0 {
                    (dx, dy) = (dx / length, dy / length)
                    let tip = (mid.0 + dx * 9, mid.1 + dy * 9)
                    let left = (mid.0 - dx * 7 - dy * 8, mid.1 - dy * 7 + dx * 8)
                    let right = (mid.0 - dx * 7 + dy * 8, mid.1 - dy * 7 - dx * 8)
                    h.raw("<polygon class=\"arrow\" points=\"\(HTMLText.format(tip.0)),\(HTMLText.format(tip.1)) \(HTMLText.format(left.0)),\(HTMLText.format(left.1)) \(HTMLText.format(right.0)),\(HTMLText.format(right.1))\" fill=\"\(color)\" stroke=\"#222222\" stroke-width=\"1\"/>")
                }
            }
            let label = TextCleaning.oneLine(l.label ?? "")
            if !label.isEmpty {
                h.raw("<text class=\"connection-label\" x=\"\(HTMLText.format(mid.0 + 12))\" y=\"\(HTMLText.format(mid.1 - 10))\">")
                h.text(label)
                h.raw("</text>")
            }
            h.raw("</g>\n")
        }

        for card in cards {
            let box = card.box
            h.raw("<a class=\"card\" href=\"#")
            h.raw(anchor(card.item))
            h.raw("\"><g class=\"card\"><rect class=\"card\"")
            h.attribute("x", box.x)
            h.attribute("y", box.y)
            h.attribute("width", box.width)
            h.attribute("height", box.height)
            h.raw(" rx=\"6\" fill=\"")
            h.raw(card.fill)
            h.raw("\" stroke=\"#9a9a9a\" stroke-width=\"1\"/><text")
            h.attribute("x", box.x + Self.padding)
            h.attribute("y", box.y + Self.padding + Self.fontSize - 1)
            h.raw(Self.isDark(card.fill) ? " fill=\"#ffffff\">" : " fill=\"#222222\">")
            for (n, line) in card.lines.enumerated() {
                h.raw("<tspan")
                h.attribute("x", box.x + Self.padding)
                h.raw(n == 0 ? ">" : " dy=\"17\">")
                h.text(line)
                h.raw("</tspan>")
            }
            h.raw("</text></g></a>\n")
        }
        h.raw("</svg>\n")
    }

    // MARK: - Geometry

    /// A stored Kinopio path `m x,y q cx,cy ex,ey` (relative quadratic) as absolute points, or nil for anything else.
    static func curve(_ path: String?) -> (start: (Double, Double), control: (Double, Double), end: (Double, Double))? {
        guard let path, path.utf8.count <= 200 else { return nil }
        let tokens = path.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        guard tokens.count == 6, tokens[0].first == "m", tokens[2].lowercased().first == "q" else { return nil }
        let numbers = [String(tokens[0].dropFirst()), tokens[1], String(tokens[2].dropFirst()), tokens[3], tokens[4], tokens[5]]
            .map(Self.number)
        guard numbers.allSatisfy({ $0 != nil }) else { return nil }
        let n = numbers.map { $0! }
        let start = (n[0], n[1])
        if tokens[2].first == "Q" { return (start, (n[2], n[3]), (n[4], n[5])) }
        return (start, (n[0] + n[2], n[1] + n[3]), (n[0] + n[4], n[1] + n[5]))
    }

    static func number(_ s: String) -> Double? {
        guard !s.isEmpty, s.utf8.count <= 24,
            s.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }),
            let d = Double(s), d.isFinite, abs(d) < 1e9
        else { return nil }
        return d
    }

    /// True when `p` lies on or within 40 px of `box`: a stored path that ends elsewhere is stale (its card has
    /// moved since, e.g. into a list) and gives way to a straight line.
    static func near(_ p: (Double, Double), _ box: Box) -> Bool {
        p.0 >= box.x - 40 && p.0 <= box.maxX + 40 && p.1 >= box.y - 40 && p.1 <= box.maxY + 40
    }

    /// Where the line from `box`'s centre toward `point` leaves `box`.
    static func border(of box: Box, toward point: (Double, Double)) -> (Double, Double) {
        let c = box.centre
        let (dx, dy) = (point.0 - c.0, point.1 - c.1)
        if dx == 0 && dy == 0 { return c }
        let tx = dx == 0 ? Double.infinity : (box.width / 2) / abs(dx)
        let ty = dy == 0 ? Double.infinity : (box.height / 2) / abs(dy)
        let t = min(tx, ty, 1)
        return (c.0 + dx * t, c.1 + dy * t)
    }

    static func positive(_ d: Double?) -> Double? {
        guard let d, d.isFinite, d > 0 else { return nil }
        return min(d, 100_000)
    }

    static func finite(_ d: Double) -> Double {
        d.isFinite ? min(max(d, -1e9), 1e9) : 0
    }

    static func isDark(_ hex: String) -> Bool {
        guard hex.count == 7, let v = Int(hex.dropFirst(), radix: 16) else { return false }
        let (r, g, b) = (Double((v >> 16) & 0xFF), Double((v >> 8) & 0xFF), Double(v & 0xFF))
        return 0.299 * r + 0.587 * g + 0.114 * b < 128
    }

    // MARK: - Text

    /// What a card shows: its title, then its body on the next line, as the service wrote it; a title shortened
    /// for headings (ending in `…`, its whole line kept in the body) gives way to the body.
    static func cardText(_ item: ReadableItem) -> String {
        let title = TextCleaning.oneLine(item.title)
        let body = TextCleaning.withoutControls(TextCleaning.normalizeNewlines(item.body))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if body.isEmpty { return title }
        if title.isEmpty || (title.hasSuffix("…") && body.hasPrefix(String(title.dropLast()))) { return body }
        return title + "\n" + body
    }

    /// Estimated advance of one scalar at 13 px in a sans-serif font (generous, so text stays inside its card).
    static func advance(_ s: Unicode.Scalar) -> Double {
        let v = s.value
        if v < 0x80 {
            switch v {
            case 0x20: return 3.8
            // i l I . , : ; ' | ! j f t ( ) [ ]
            case 0x69, 0x6C, 0x49, 0x2E, 0x2C, 0x3A, 0x3B, 0x27, 0x7C, 0x21, 0x6A, 0x66, 0x74, 0x28, 0x29, 0x5B, 0x5D:
                return 4.2
            case 0x6D, 0x77, 0x4D, 0x57, 0x40: return 11.5  // m w M W @
            case 0x41...0x5A: return 9.0
            case 0x21...0x7E: return 7.4
            default: return 0
            }
        }
        switch v {
        case 0x300...0x36F, 0x200B...0x200D, 0xFE00...0xFE0F, 0xE0100...0xE01EF: return 0
        case 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F000...0x1FAFF, 0x20000...0x3FFFD, 0x2600...0x27BF:
            return 15
        default: return 8.2
        }
    }

    static func width(_ s: String) -> Double {
        s.unicodeScalars.reduce(0) { $0 + advance($1) }
    }

    /// Greedy word wrap to `width`; words longer than a line are broken; blank lines kept; controls dropped.
    static func wrap(_ text: String, width: Double) -> [String] {
        let limit = max(width, 20)
        var out: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String.UnicodeScalarView()
            var lineWidth = 0.0
            var word = String.UnicodeScalarView()
            var wordWidth = 0.0
            func flushWord() {
                if word.isEmpty { return }
                if lineWidth > 0 && lineWidth + advance(" ") + wordWidth > limit {
                    out.append(String(line))
                    line = String.UnicodeScalarView()
                    lineWidth = 0
                }
                if lineWidth > 0 {
                    line.append(" ")
                    lineWidth += advance(" ")
                }
                line.append(contentsOf: word)
                lineWidth += wordWidth
                word = String.UnicodeScalarView()
                wordWidth = 0
            }
            for s in paragraph.unicodeScalars {
                if s == " " || s == "\t" {
                    flushWord()
                    continue
                }
                let a = advance(s)
                if wordWidth + a > limit {
                    // A word wider than a line: break it where it no longer fits.
                    flushWord()
                    if lineWidth > 0 {
                        out.append(String(line))
                        line = String.UnicodeScalarView()
                        lineWidth = 0
                    }
                }
                word.append(s)
                wordWidth += a
            }
            flushWord()
            out.append(String(line))
        }
        while out.count > 1, out.last?.isEmpty == true { out.removeLast() }
        return out.isEmpty ? [""] : out
    }

    /// `line` as it is when it fits `width`, else cut with a final `…`; with `always`, the `…` is added regardless
    /// (a card whose text goes on beyond its last drawn line).
    static func shortened(_ line: String, width: Double, always: Bool = false) -> String {
        if !always && Self.width(line) <= width { return line }
        var out = String.UnicodeScalarView()
        var w = advance("…")
        for s in line.unicodeScalars {
            w += advance(s)
            if w > width { break }
            out.append(s)
        }
        return String(out) + "…"
    }
}
