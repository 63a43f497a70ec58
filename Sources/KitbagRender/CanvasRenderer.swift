import Foundation
import KitbagCore

/// Renders a container as a JSON Canvas 1.0 document (`.canvas`, opens in Obsidian and Kinopio).
///
/// - Groups become `group` nodes (with `label`), drawn first so they sit behind items; then items as
///   `text` nodes whose text is the title, a blank line and the Markdown body. Each set is in ascending `z`.
/// - Sizes come from the frame, else 260×140; coordinates are rounded to integers.
/// - Things without frames get a deterministic layout below everything framed: frameless groups as
///   columns holding their frameless items, then remaining frameless items in a 4-wide grid.
/// - Links become edges (`toEnd` `arrow` when directed, else `none`); links to missing or removed items are dropped.
/// - Colors: `#rgb`/`#rrggbb`/`#rrggbbaa`/`rgb()` become `#rrggbb`, presets `1`–`6` pass, CSS basic names map to hex,
///   anything else is dropped. Removed items are left out. Node and edge ids are the service ids; an id already
///   used (items first, then groups, then links) gets the prefix `item-`/`group-`/`link-` until unique.
public enum CanvasRenderer {
    public static let defaultWidth = 260
    public static let defaultHeight = 140
    static let padding = 20
    static let labelRoom = 60
    static let gap = 40

    /// The canvas of `container` as deterministic bytes.
    public static func canvas(_ container: ReadableContainer) -> Data {
        document(container).serialized()
    }

    /// The canvas of `container` as a typed document.
    public static func document(_ container: ReadableContainer) -> CanvasDocument {
        let items = container.items.filter { !$0.isRemoved }
        var rects: [String: Rect] = [:]  // keyed "g:<id>" / "i:<id>"

        for g in container.groups { if let f = g.frame { rects["g:" + g.id] = Rect(f) } }
        for i in items { if let f = i.frame { rects["i:" + i.id] = Rect(f) } }
        let framed = Array(rects.values)
        let left = framed.map(\.x).min() ?? 0
        var cursorY = framed.map { $0.y + $0.height }.max().map { $0 + 200 } ?? 0

        // Frameless groups as columns, holding their frameless items.
        let frameless = container.groups.filter { $0.frame == nil }
        var placedInColumn = Set<String>()
        var columnsBottom = cursorY
        let columnWidth = defaultWidth + 2 * padding
        var framelessByGroup: [String: [ReadableItem]] = [:]
        for i in items where i.frame == nil { if let g = i.groupID { framelessByGroup[g, default: []].append(i) } }
        for (col, g) in frameless.enumerated() {
            let x = left + col * (columnWidth + gap)
            var y = cursorY + labelRoom
            for i in framelessByGroup.removeValue(forKey: g.id) ?? [] {
                rects["i:" + i.id] = Rect(x: x + padding, y: y, width: defaultWidth, height: defaultHeight)
                placedInColumn.insert(i.id)
                y += defaultHeight + padding
            }
            let height = max(y - cursorY + padding, 200)
            rects["g:" + g.id] = Rect(x: x, y: cursorY, width: columnWidth, height: height)
            columnsBottom = max(columnsBottom, cursorY + height)
        }
        if !frameless.isEmpty { cursorY = columnsBottom + 200 }

        // Remaining frameless items in a grid.
        var n = 0
        for i in items where i.frame == nil && !placedInColumn.contains(i.id) {
            let col = n % 4
            let row = n / 4
            rects["i:" + i.id] = Rect(
                x: left + col * (defaultWidth + gap), y: cursorY + row * (defaultHeight + gap),
                width: defaultWidth, height: defaultHeight)
            n += 1
        }

        var used = Set<String>()
        func uniqueID(_ id: String, prefix: String) -> String {
            var candidate = id
            while used.contains(candidate) { candidate = prefix + candidate }
            used.insert(candidate)
            return candidate
        }

        var doc = CanvasDocument()
        var itemNodes: [(z: Double, index: Int, node: CanvasNode)] = []
        for (index, i) in items.enumerated() {
            guard let r = rects["i:" + i.id] else { continue }
            let id = uniqueID(i.id, prefix: "item-")
            itemNodes.append(
                (i.frame?.z ?? 0, index,
                 CanvasNode(
                    id: id, kind: .text(text(i)), x: r.x, y: r.y, width: r.width, height: r.height,
                    color: i.frame?.color.flatMap(canvasColor))))
        }
        var groupNodes: [(z: Double, index: Int, node: CanvasNode)] = []
        for (index, g) in container.groups.enumerated() {
            guard let r = rects["g:" + g.id] else { continue }
            let label = TextCleaning.oneLine(g.title)
            groupNodes.append(
                (g.frame?.z ?? 0, index,
                 CanvasNode(
                    id: uniqueID(g.id, prefix: "group-"),
                    kind: .group(label: label.isEmpty ? nil : label, background: nil, backgroundStyle: nil),
                    x: r.x, y: r.y, width: r.width, height: r.height,
                    color: (g.color ?? g.frame?.color).flatMap(canvasColor))))
        }
        let byZ: ((z: Double, index: Int, node: CanvasNode), (z: Double, index: Int, node: CanvasNode)) -> Bool = {
            $0.z != $1.z ? $0.z < $1.z : $0.index < $1.index
        }
        doc.nodes = groupNodes.sorted(by: byZ).map(\.node) + itemNodes.sorted(by: byZ).map(\.node)

        // Item ids map to node ids (they differ only when an id repeated).
        var nodeForItem: [String: String] = [:]
        for (i, entry) in zip(items.filter { rects["i:" + $0.id] != nil }, itemNodes) where nodeForItem[i.id] == nil {
            nodeForItem[i.id] = entry.node.id
        }
        for l in container.links {
            guard let from = nodeForItem[l.from], let to = nodeForItem[l.to] else { continue }
            let label = l.label.map(TextCleaning.oneLine).flatMap { $0.isEmpty ? nil : $0 }
            doc.edges.append(
                CanvasEdge(
                    id: uniqueID(l.id, prefix: "link-"), fromNode: from, toNode: to, fromEnd: .none,
                    toEnd: l.directed ? .arrow : .none, color: l.color.flatMap(canvasColor), label: label))
        }
        return doc
    }

    /// Title, a blank line, then the Markdown body (controls removed, line breaks normalised).
    static func text(_ item: ReadableItem) -> String {
        let title = TextCleaning.oneLine(item.title)
        let body = TextCleaning.withoutControls(TextCleaning.normalizeNewlines(item.body))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if body.isEmpty { return title }
        if title.isEmpty { return body }
        return title + "\n\n" + body
    }

    /// A JSON Canvas color (`#rrggbb` or `"1"`…`"6"`) for a service color, or nil when it has no meaning.
    public static func canvasColor(_ raw: String) -> String? {
        let s = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        if ["1", "2", "3", "4", "5", "6"].contains(s) { return s }
        if s.hasPrefix("#") {
            let hex = s.dropFirst()
            guard hex.allSatisfy(\.isHexDigit), hex.allSatisfy(\.isASCII) else { return nil }
            switch hex.count {
            case 3: return "#" + hex.map { "\($0)\($0)" }.joined()
            case 6: return "#" + hex
            case 8: return "#" + hex.prefix(6)
            default: return nil
            }
        }
        if s.hasPrefix("rgb(") || s.hasPrefix("rgba("), s.hasSuffix(")"),
            let open = s.firstIndex(of: "(")
        {
            let parts = s[s.index(after: open)..<s.index(before: s.endIndex)]
                .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count >= 3 else { return nil }
            var hex = "#"
            for p in parts.prefix(3) {
                guard let v = Double(p), v.isFinite, v >= 0, v <= 255 else { return nil }
                let byte = String(Int(v.rounded()), radix: 16)
                hex += byte.count == 1 ? "0" + byte : byte
            }
            return hex
        }
        return namedColors[s]
    }

    static let namedColors: [String: String] = [
        "black": "#000000", "white": "#ffffff", "gray": "#808080", "grey": "#808080", "red": "#ff0000",
        "orange": "#ffa500", "yellow": "#ffff00", "green": "#008000", "blue": "#0000ff", "purple": "#800080",
        "pink": "#ffc0cb", "cyan": "#00ffff", "brown": "#a52a2a",
    ]

    struct Rect {
        var x, y, width, height: Int
        init(x: Int, y: Int, width: Int, height: Int) {
            self.x = x
            self.y = y
            self.width = width
            self.height = height
        }
        init(_ f: ReadableFrame) {
            x = Rect.int(f.x, or: 0)
            y = Rect.int(f.y, or: 0)
            width = max(0, Rect.int(f.width ?? Double(CanvasRenderer.defaultWidth), or: CanvasRenderer.defaultWidth))
            height = max(0, Rect.int(f.height ?? Double(CanvasRenderer.defaultHeight), or: CanvasRenderer.defaultHeight))
        }
        static func int(_ d: Double, or fallback: Int) -> Int {
            guard d.isFinite else { return fallback }
            return Int(min(max(d, -Double(1 << 40)), Double(1 << 40)).rounded())
        }
    }
}
