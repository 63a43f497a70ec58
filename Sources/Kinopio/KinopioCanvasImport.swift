import Foundation
import KitbagArchive
import KitbagCore
import KitbagRender

/// `kitbag import FILE.canvas --to kinopio`: a JSON Canvas becomes one Kinopio space.
///
/// The canvas is turned into a small kitbag archive (text, file and link nodes → cards, group nodes → boxes,
/// edges → connections of one "Canvas" connection type), which then goes through the ordinary journaled
/// import, so a canvas import is resumable and never duplicates either.
public enum KinopioCanvasImport {
    /// Obsidian's preset canvas colours "1"…"6".
    static let presetColors = ["1": "#fb464c", "2": "#e9973f", "3": "#e0de71", "4": "#44cf6e", "5": "#53dfdd", "6": "#a882ff"]
    static let typeID = "canvas-connection-type"

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
            var cardIDs = Set<String>()
            for (z, node) in document.nodes.enumerated() {
                var o = JSONObject()
                o["id"] = .string(node.id)
                switch node.kind {
                case .group(let label, _, _):
                    o["name"] = .string(label ?? "")
                    o["x"] = .int(node.x)
                    o["y"] = .int(node.y)
                    o["resizeWidth"] = .int(node.width)
                    o["resizeHeight"] = .int(node.height)
                    if let c = node.color.flatMap(color) { o["color"] = .string(c) }
                    boxes.append(.object(o))
                    continue
                case .text(let text): o["name"] = .string(text)
                case .file(let path, let subpath): o["name"] = .string(path + (subpath ?? ""))
                case .link(let url): o["name"] = .string(url)
                }
                o["x"] = .int(node.x)
                o["y"] = .int(node.y)
                o["z"] = .int(z)
                o["resizeWidth"] = .int(node.width)
                if let c = node.color.flatMap(color) { o["backgroundColor"] = .string(c) }
                cards.append(.object(o))
                cardIDs.insert(node.id)
            }
            var connections: [JSONValue] = []
            var notExported: [NotExported] = []
            for edge in document.edges {
                guard cardIDs.contains(edge.fromNode), cardIDs.contains(edge.toNode) else {
                    notExported.append(
                        NotExported(
                            kind: "connection", container: spaceID,
                            reason: "edge \(edge.id) ends at a group; Kinopio connects cards only"))
                    continue
                }
                var o = JSONObject()
                o["id"] = .string(edge.id)
                o["startCardId"] = .string(edge.fromNode)
                o["endCardId"] = .string(edge.toNode)
                o["connectionTypeId"] = .string(typeID)
                o["directionIsVisible"] = .bool(edge.toEnd == .arrow || edge.fromEnd == .arrow)
                if let label = edge.label, !label.isEmpty {
                    o["name"] = .string(label)
                    o["labelIsVisible"] = true
                }
                if let c = edge.color.flatMap(color) { o["color"] = .string(c) }
                connections.append(.object(o))
            }
            let types: [JSONValue] =
                connections.isEmpty ? [] : [["id": .string(typeID), "name": "Canvas", "color": "#9b9b9b"]]
            try writer.writeJSONLines(container: container, file: "cards", kind: "card", values: cards)
            try writer.writeJSONLines(container: container, file: "boxes", kind: "box", values: boxes)
            try writer.writeJSONLines(
                container: container, file: "connectionTypes", kind: "connectionType", values: types)
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
