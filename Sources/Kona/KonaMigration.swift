import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kona in migrations: a Kona archive read into the common model. Each space is a container; its conversations,
/// tasks and calendar events are items (tasks with their status), each with its comments and participants.
public enum KonaMigration {
    public static let source = MigrationSource(service: .kona) { archive in
        let present = Set(archive.jsonLinesEntries().map(\.path))
        func values(_ path: String) throws -> [JSONValue] { present.contains(path) ? try archive.values(at: path) : [] }
        var names: [String: String] = [:]
        for file in ["users", "currentUser"] {
            for u in try values(ArchivePath.jsonLines(container: .account, file: file)) {
                if let id = u["id"]?.idString { names[id] = u["name"]?.stringValue ?? u["email"]?.stringValue }
            }
        }
        var out: [MigrationContainer] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "space" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            for space in try values(entry.path) {
                var items: [String: [JSONValue]] = [:]
                for kind in KonaSchema.itemKinds { items[kind.file] = try values("\(folder)/\(kind.file).jsonl") }
                var readable = KonaReadable.container(
                    space: space, conversations: items[KonaSchema.conversations.file] ?? [],
                    tasks: items[KonaSchema.tasks.file] ?? [], events: items[KonaSchema.calendarEvents.file] ?? [],
                    comments: try values("\(folder)/comments.jsonl"), names: names)
                // The kind of each item (conversation, task, calendar event) travels as a field.
                let kinds = Dictionary(readable.groups.map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
                for i in readable.items.indices {
                    if let kind = readable.items[i].groupID.flatMap({ kinds[$0] }) {
                        readable.items[i].fields.insert(ReadableFieldValue(name: "Kind", value: .text(kind)), at: 0)
                    }
                }
                // Items of different kinds may share an id: make them unique per container.
                for i in readable.items.indices {
                    readable.items[i].id = "\(readable.items[i].groupID ?? "item")/\(readable.items[i].id)"
                }
                var container = MigrationContainer(readable: readable)
                let used = Set(readable.items.compactMap(\.status))
                container.statusOrder = KonaReadable.statusNames.keys.sorted().compactMap { KonaReadable.statusNames[$0] }
                    .filter { used.contains($0) }
                out.append(container)
            }
        }
        return out.sorted { KonaSchema.idOrder($0.readable.id, $1.readable.id) }
    }
}
