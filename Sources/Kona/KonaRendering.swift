import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kona for `kitbag render`: each archived space read back into the model its exporter renders.
public enum KonaRendering {
    public static let source = RenderingSource(service: .kona) { archive in
        let present = Set(archive.jsonLinesEntries().map(\.path))
        func values(_ path: String) throws -> [JSONValue] { present.contains(path) ? try archive.values(at: path) : [] }
        var names: [String: String] = [:]
        for file in ["users", "currentUser"] {
            for u in try values(ArchivePath.jsonLines(container: .account, file: file)) {
                if let id = u["id"]?.idString, names[id] == nil { names[id] = u["name"]?.stringValue ?? u["email"]?.stringValue }
            }
        }
        var out: [ReadableContainer] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "space" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            for space in try values(entry.path) {
                var items: [String: [JSONValue]] = [:]
                for kind in KonaSchema.itemKinds { items[kind.file] = try values("\(folder)/\(kind.file).jsonl") }
                out.append(
                    KonaReadable.container(
                        space: space, conversations: items[KonaSchema.conversations.file] ?? [],
                        tasks: items[KonaSchema.tasks.file] ?? [], events: items[KonaSchema.calendarEvents.file] ?? [],
                        comments: try values("\(folder)/comments.jsonl"), names: names))
            }
        }
        return out
    }
}
