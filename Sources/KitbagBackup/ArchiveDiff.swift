import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// What changed between two archives, entity by entity (`kitbag diff A B`).
public struct ArchiveDiff: Sendable, Codable, Equatable {
    public enum Change: String, Sendable, Codable { case added, removed, changed }

    /// One entity that differs, named by kind, container folder and id.
    public struct Entry: Sendable, Codable, Equatable {
        public var kind: String
        public var container: String
        public var id: String
        public var change: Change
        /// The entity's name or title as the newer archive has it (the older one for a removed entity).
        public var title: String?
    }

    /// Per kind: how many entities were added, removed, changed, and left alone.
    public struct Tally: Sendable, Codable, Equatable {
        public var added = 0
        public var removed = 0
        public var changed = 0
        public var unchanged = 0
    }

    public var from: String
    public var to: String
    public var kinds: [String: Tally]
    public var entries: [Entry]

    public var isEmpty: Bool { entries.isEmpty }

    /// An entity's identity inside its file: `id`, else a Kintone record's `$id`, else its position.
    static func identity(_ value: JSONValue, position: Int) -> String {
        if let id = value["id"]?.idString { return id }
        if let id = value["$id"]?["value"]?.idString { return id }
        if let id = value["number"]?.idString { return "#\(id)" }
        return "line \(position + 1)"
    }

    /// A one-line name for an entity (`ArchiveDiffTitle`, shared with `kitbag diff --live`).
    static func title(_ value: JSONValue) -> String? { ArchiveDiffTitle.title(value) }

    /// Compares the JSON Lines of two verified archives (renderings and timestamps of the archive itself aside).
    /// Memory holds one file's entities at a time.
    public static func compare(_ a: SnapshotReader, _ b: SnapshotReader) throws -> ArchiveDiff {
        var kinds: [String: Tally] = [:]
        var entries: [Entry] = []
        let left = Dictionary(a.jsonLinesEntries().map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        let right = Dictionary(b.jsonLinesEntries().map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        for path in Set(left.keys).union(right.keys).sorted() {
            let kind = right[path]?.kind ?? left[path]?.kind ?? "entity"
            let container = (path as NSString).deletingLastPathComponent
            func load(_ reader: SnapshotReader, _ present: Bool) throws -> [(String, (bytes: [UInt8], title: String?))] {
                guard present else { return [] }
                return try reader.values(at: path).enumerated().map {
                    (identity($1, position: $0), ($1.serialized(), title($1)))
                }
            }
            // Identical bytes mean identical entities: skip the parse when the digests agree.
            if let l = left[path], let r = right[path], l.sha256 == r.sha256 {
                kinds[kind, default: Tally()].unchanged += r.count ?? 0
                continue
            }
            let before = Dictionary(try load(a, left[path] != nil), uniquingKeysWith: { x, _ in x })
            var seen: Set<String> = []
            for (id, new) in try load(b, right[path] != nil) {
                seen.insert(id)
                if let old = before[id] {
                    if old.bytes == new.bytes {
                        kinds[kind, default: Tally()].unchanged += 1
                    } else {
                        kinds[kind, default: Tally()].changed += 1
                        entries.append(Entry(kind: kind, container: container, id: id, change: .changed, title: new.title))
                    }
                } else {
                    kinds[kind, default: Tally()].added += 1
                    entries.append(Entry(kind: kind, container: container, id: id, change: .added, title: new.title))
                }
            }
            for id in before.keys.sorted() where !seen.contains(id) {
                kinds[kind, default: Tally()].removed += 1
                entries.append(Entry(kind: kind, container: container, id: id, change: .removed, title: before[id]?.title))
            }
        }
        return ArchiveDiff(
            from: a.archiveURL.lastPathComponent, to: b.archiveURL.lastPathComponent, kinds: kinds, entries: entries)
    }
}
