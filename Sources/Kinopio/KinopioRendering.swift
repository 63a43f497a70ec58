import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kinopio for `kitbag render`: each archived space read back into the model its exporter renders.
public enum KinopioRendering {
    public static let source = RenderingSource(service: .kinopio) { archive in
        let present = Set(archive.jsonLinesEntries().map(\.path))
        let webBase: String? = URL(string: archive.info.source.baseURL)?.host == "api.kinopio.club" ? "https://kinopio.club" : nil
        var out: [ReadableContainer] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "space" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            func values(_ file: String) throws -> [JSONValue] {
                let path = "\(folder)/\(file).jsonl"
                return present.contains(path) ? try archive.values(at: path) : []
            }
            for meta in try archive.values(at: entry.path) {
                out.append(
                    KinopioReadable.container(
                        space: meta, cards: try values("cards"), removedCards: try values("removedCards"),
                        boxes: try values("boxes"), connections: try values("connections"),
                        connectionTypes: try values("connectionTypes"), tags: try values("tags"), webBase: webBase,
                        lists: try values("lists"), lines: try values("lines"), drawingStrokes: try values("drawingStrokes")))
            }
        }
        return out
    }
}
