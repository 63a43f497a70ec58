import Foundation
import KitbagCore

/// Maps a Kinopio space onto the connector-neutral readable model the renderers consume.
enum KinopioReadable {
    /// A space as the renderers see it: cards as items (grouped by the box they sit in), boxes as groups,
    /// connections as links labelled and coloured by their connection type; lists, lines, drawing strokes and
    /// connection paths go to the drawing (only the HTML rendering reads them).
    static func container(
        space meta: JSONValue, cards: [JSONValue], removedCards: [JSONValue], boxes: [JSONValue],
        connections: [JSONValue], connectionTypes: [JSONValue], tags: [JSONValue], webBase: String?,
        lists: [JSONValue] = [], lines: [JSONValue] = [], drawingStrokes: [JSONValue] = []
    ) -> ReadableContainer {
        let id = meta["id"]?.idString ?? ""
        let groups: [ReadableGroup] = boxes.compactMap { box in
            guard let bid = box["id"]?.idString else { return nil }
            return ReadableGroup(
                id: bid, kind: "box", title: box["name"]?.stringValue ?? "",
                frame: frame(box, width: box["resizeWidth"], height: box["resizeHeight"], color: box["color"]),
                color: box["color"]?.stringValue)
        }
        var tagsByCard: [String: [String]] = [:]
        var legend: [String: String?] = [:]
        for t in tags {
            guard let name = t["name"]?.stringValue else { continue }
            if let card = t["cardId"]?.idString { tagsByCard[card, default: []].append(name) }
            if legend[name] == nil { legend[name] = t["color"]?.stringValue }
        }
        func item(_ card: JSONValue, removed: Bool) -> ReadableItem? {
            guard let cid = card["id"]?.idString else { return nil }
            let name = card["name"]?.stringValue ?? ""
            let f = frame(
                card, width: card["width"] ?? card["resizeWidth"], height: card["height"], color: card["backgroundColor"])
            let (title, body) = split(name)
            return ReadableItem(
                id: cid, title: title, body: body,
                createdAt: date(card["createdAt"]), updatedAt: date(card["updatedAt"]),
                labels: (tagsByCard[cid] ?? []).sorted(), groupID: f.flatMap { box(containing: $0, in: groups) },
                frame: f, url: webBase.map { "\($0)/\(id)/\(cid)" },
                linkedContainerID: card["linkToSpaceId"]?.idString, isRemoved: removed, preview: preview(card))
        }
        let typeByID = Dictionary(
            connectionTypes.compactMap { t in t["id"]?.idString.map { ($0, t) } }, uniquingKeysWith: { a, _ in a })
        let links: [ReadableLink] = connections.compactMap { c in
            let ends = KinopioSchema.connectionEnds(c)
            guard let lid = c["id"]?.idString, let from = ends.start, let to = ends.end else { return nil }
            let type = c["connectionTypeId"]?.idString.flatMap { typeByID[$0] }
            return ReadableLink(
                id: lid, from: from, to: to,
                label: c["name"]?.stringValue ?? type?["name"]?.stringValue,
                color: c["color"]?.stringValue ?? type?["color"]?.stringValue,
                directed: c["directionIsVisible"]?.boolValue ?? false)
        }
        // A list holds the cards whose listId names it, in listPositionIndex order (then by id).
        var listed: [String: [(String, String)]] = [:]
        for card in cards {
            guard let cid = card["id"]?.idString, let list = card["listId"]?.idString else { continue }
            listed[list, default: []].append((card["listPositionIndex"]?.stringValue ?? "", cid))
        }
        let drawing = ReadableDrawing(
            lists: lists.compactMap { l in
                guard let lid = l["id"]?.idString else { return nil }
                return ReadableList(
                    id: lid, title: l["name"]?.stringValue ?? "",
                    frame: frame(l, width: l["resizeWidth"] ?? l["width"], height: l["height"], color: l["color"]),
                    color: l["color"]?.stringValue,
                    itemIDs: (listed[lid] ?? []).sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.1))
            },
            guides: lines.compactMap { l in
                guard let lid = l["id"]?.idString, let y = l["y"]?.doubleValue else { return nil }
                return ReadableGuide(id: lid, title: l["name"]?.stringValue ?? "", y: y, color: l["color"]?.stringValue)
            },
            strokes: drawingStrokes.compactMap { stroke in
                let points = (stroke.arrayValue ?? []).compactMap { p -> ReadablePoint? in
                    guard let x = p["x"]?.doubleValue, let y = p["y"]?.doubleValue else { return nil }
                    return ReadablePoint(x: x, y: y)
                }
                guard let first = stroke.arrayValue?.first, !points.isEmpty else { return nil }
                return ReadableStroke(points: points, color: first["color"]?.stringValue, diameter: first["diameter"]?.doubleValue)
            },
            linkPaths: Dictionary(
                connections.compactMap { c in
                    guard let lid = c["id"]?.idString, let path = c["path"]?.stringValue else { return nil }
                    return (lid, path)
                }, uniquingKeysWith: { a, _ in a }))
        return ReadableContainer(
            id: id, kind: "space", title: meta["name"]?.stringValue ?? id,
            url: webBase.map { "\($0)/\(id)" },
            createdAt: date(meta["createdAt"]), updatedAt: date(meta["updatedAt"]),
            groups: groups,
            items: cards.compactMap { item($0, removed: false) } + removedCards.compactMap { item($0, removed: true) },
            links: links,
            tags: legend.keys.sorted().map { ReadableTag(name: $0, color: legend[$0] ?? nil) }, drawing: drawing)
    }

    /// The card's URL preview as Kinopio stores it (`urlPreview…`), or nil when it has none.
    static func preview(_ card: JSONValue) -> ReadablePreview? {
        func text(_ key: String) -> String? { card[key]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
        let p = ReadablePreview(
            url: text("urlPreviewUrl"), title: text("urlPreviewTitle"), description: text("urlPreviewDescription"),
            image: text("urlPreviewImage"), embedHTML: text("urlPreviewEmbedHtml"), iframeURL: text("urlPreviewIframeUrl"))
        return p.isEmpty ? nil : p
    }

    /// A card name as title (its first line) and body (the rest); a first line too long for a title is
    /// shortened there and kept whole in the body, so no text is lost.
    static func split(_ name: String) -> (title: String, body: String) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = trimmed.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let first = parts.first.map(String.init) ?? ""
        let rest = parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        if first.count > 120 { return (String(first.prefix(119)) + "…", trimmed) }
        return (first, rest)
    }

    static func frame(_ v: JSONValue, width: JSONValue?, height: JSONValue?, color: JSONValue?) -> ReadableFrame? {
        guard let x = v["x"]?.doubleValue, let y = v["y"]?.doubleValue else { return nil }
        return ReadableFrame(
            x: x, y: y, width: width?.doubleValue, height: height?.doubleValue, z: v["z"]?.doubleValue,
            color: color?.stringValue)
    }

    /// The box whose rectangle holds a card's top-left corner (the innermost, i.e. smallest, if several).
    static func box(containing f: ReadableFrame, in groups: [ReadableGroup]) -> String? {
        groups.compactMap { g -> (String, Double)? in
            guard let b = g.frame, let w = b.width, let h = b.height,
                f.x >= b.x, f.y >= b.y, f.x <= b.x + w, f.y <= b.y + h
            else { return nil }
            return (g.id, w * h)
        }.min { $0.1 < $1.1 }?.0
    }

    static func date(_ v: JSONValue?) -> Date? {
        v?.stringValue.flatMap(Timestamp.parse)
    }
}
