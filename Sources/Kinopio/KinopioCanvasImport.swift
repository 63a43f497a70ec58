import Foundation
import KitbagArchive
import KitbagCore

/// `kitbag import FILE.canvas --to kinopio`: a JSON Canvas becomes one Kinopio space.
///
/// The canvas is turned into a small kitbag archive (text, file and link nodes → cards, group nodes → boxes,
/// edges → connections), which then goes through the ordinary journaled import, so a canvas import is resumable
/// and never duplicates either. It follows Kinopio's own canvas import (kinopio-client src/utils.js
/// `convertFromJsonCanvas`, commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7): positions are shifted so none is
/// negative, and nudged by 150 when a node sits at 150 or less; every edge is kept (one that touches a group ends
/// at its box); an edge's label is its connection's name; connections are straight (`q00,00`) and share one colour.
/// Unlike Kinopio's, groups stay boxes rather than becoming cards.
public enum KinopioCanvasImport {
    /// Obsidian's preset canvas colours "1"…"6".
    static let presetColors = ["1": "#fb464c", "2": "#e9973f", "3": "#e0de71", "4": "#44cf6e", "5": "#53dfdd", "6": "#a882ff"]
    /// Kinopio's `minPositionValue` in `convertFromJsonCanvas`.
    static let nudge = 150
    /// The one colour of every canvas connection without a colour of its own (Kinopio picks one light colour at random).
    static let edgeColor = "#9b9b9b"

    /// Reads and validates `canvasURL` and writes it as a sealed kitbag archive (a folder) at `folder`.
    public static func snapshot(of canvasURL: URL, into folder: URL, now: Date = Date()) throws -> URL {
        let data: Data
        do {
            data = try Data(contentsOf: canvasURL)
        } catch {
            throw UserError("\(canvasURL.path): cannot read the canvas file; check the path")
        }
        let document = try CanvasReader.read(data)
        let name = canvasURL.deletingPathExtension().lastPathComponent
        let spaceID = "canvas"
        let info = ArchiveInfo(
            service: .kinopio,
            source: .init(
                baseURL: canvasURL.standardizedFileURL.absoluteString,
                account: .init(id: "canvas:\(canvasURL.standardizedFileURL.path)", name: name)),
            startedAt: now)
        let out = folder.appendingPathComponent("canvas-snapshot")
        let writer = try SnapshotWriter(destination: .folder(out), format: .folder, info: info, snapshotTime: now)
        let container = KinopioSchema.container(space: spaceID)
        do {
            try writer.writeJSONLines(
                container: container, file: "space", kind: "space",
                values: [["id": .string(spaceID), "name": .string(name), "privacy": "private"]])

            var cards: [JSONValue] = []
            var boxes: [JSONValue] = []
            var itemIDs = Set<String>()
            let shiftX = -min(0, document.nodes.map(\.x).min() ?? 0)
            let shiftY = -min(0, document.nodes.map(\.y).min() ?? 0)
            let nudgeX = document.nodes.contains { $0.x + shiftX <= nudge } ? nudge : 0
            let nudgeY = document.nodes.contains { $0.y + shiftY <= nudge } ? nudge : 0
            for (z, node) in document.nodes.enumerated() {
                var o = JSONObject()
                o["id"] = .string(node.id)
                itemIDs.insert(node.id)
                let x = node.x + shiftX + nudgeX, y = node.y + shiftY + nudgeY
                switch node.kind {
                case .group(let label, _, _):
                    o["name"] = .string(label ?? "")
                    o["x"] = .int(x)
                    o["y"] = .int(y)
                    o["resizeWidth"] = .int(node.width)
                    o["resizeHeight"] = .int(node.height)
                    if let c = node.color.flatMap(color) { o["color"] = .string(c) }
                    boxes.append(.object(o))
                    continue
                case .text(let text): o["name"] = .string(text)
                case .file(let path, let subpath): o["name"] = .string(path + (subpath ?? ""))
                case .link(let url):
                    o["name"] = .string(url)
                    o["shouldUpdateUrlPreview"] = true
                }
                o["x"] = .int(x)
                o["y"] = .int(y)
                o["z"] = .int(z)
                o["resizeWidth"] = .int(node.width)
                o["width"] = .int(node.width)
                o["height"] = .int(node.height)
                if let c = node.color.flatMap(color) { o["backgroundColor"] = .string(c) }
                cards.append(.object(o))
            }
            var connections: [JSONValue] = []
            var notExported: [NotExported] = []
            for edge in document.edges {
                guard itemIDs.contains(edge.fromNode), itemIDs.contains(edge.toNode) else {
                    notExported.append(
                        NotExported(
                            kind: "connection", container: spaceID,
                            reason: "edge \(edge.id) ends at a node that is not in the canvas"))
                    continue
                }
                var o = JSONObject()
                o["id"] = .string(edge.id)
                o["startItemId"] = .string(edge.fromNode)
                o["endItemId"] = .string(edge.toNode)
                o["controlPoint"] = "q00,00"
                o["directionIsVisible"] = .bool(edge.toEnd == .arrow || edge.fromEnd == .arrow)
                o["labelIsVisible"] = .bool(!(edge.label ?? "").isEmpty)
                if let label = edge.label, !label.isEmpty { o["name"] = .string(label) }
                o["color"] = .string(edge.color.flatMap(color) ?? edgeColor)
                connections.append(.object(o))
            }
            try writer.writeJSONLines(container: container, file: "cards", kind: "card", values: cards)
            try writer.writeJSONLines(container: container, file: "boxes", kind: "box", values: boxes)
            try writer.writeJSONLines(
                container: container, file: "connections", kind: "connection", values: connections)
            _ = try writer.seal(notExported: notExported, finishedAt: now)
        } catch {
            writer.abandon()
            throw error
        }
        return out
    }

    static func color(_ raw: String) -> String? {
        presetColors[raw] ?? (raw.hasPrefix("#") ? raw : nil)
    }
}
