import Foundation
import KitbagArchive
import KitbagCore
import KitbagJournal

/// Compares a source export with the export of the account it was imported into.
///
/// Target ids are translated back to source ids through the import journal, then server-owned keys
/// (timestamps, owners, visit counts, origin markers) are set aside; what remains must be equal.
/// This proves both that every entity came back and that every reference was rewritten to the right entity.
public enum KinopioRoundTrip {
    /// One difference, named by archive path and entity id.
    public struct Difference: Sendable, CustomStringConvertible, Equatable {
        public var path: String
        public var id: String
        public var detail: String
        public var description: String { "\(path) \(id): \(detail)" }
    }

    /// Keys the server sets or that describe the account rather than the content.
    public static let volatileKeys: Set<String> = Set([
        "createdAt", "updatedAt", "editedAt", "nameUpdatedAt", "editedByUserId", "nameUpdatedByUserId", "userId",
        "ownerUserId", "originSpaceId", "url", "visits", "isCreatedThroughPublicApi", "removedByUserId",
        "previewImage", "previewThumbnailImage", "user",
        // Set by the server on every card created through the API ("automatically assigned to cards created by /card POSTs").
        "shouldUpdateUrlPreview",
    ]).union(KinopioImporter.resetSpaceKeys)

    /// Files that hold account data, not importable content.
    public static let accountFiles: Set<String> = ["users", "collaborators"]

    /// Compares every space file of `source` with its counterpart in `target`. Entities the import reported
    /// as not carried (`notImported`: by kind, for one space or for all) and space users/collaborators are set aside.
    public static func compare(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported] = []
    ) throws -> [Difference] {
        var back: [String: String] = [:]
        for kind in ["space", "card", "connection", "box", "tag", "list", "mention", "line", "drawingStroke"] {
            for (s, e) in try journal.entries(kind: kind) where e.state == .created { back[e.targetID] = s }
        }
        let targetEntries = Dictionary(
            target.jsonLinesEntries().map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var diffs: [Difference] = []
        for entry in source.jsonLinesEntries() where entry.path.hasPrefix("data/spaces/") {
            let parts = entry.path.split(separator: "/").map(String.init)
            guard parts.count == 4 else { continue }
            let file = String(parts[3].dropLast(".jsonl".count))
            if accountFiles.contains(file) { continue }
            let sourceSpace = ArchivePath.decodeComponent(parts[2])
            if notImported.contains(where: { $0.kind == entry.kind && ($0.container == nil || $0.container == sourceSpace) }) {
                continue
            }
            guard let targetSpace = try journal.entry(kind: "space", sourceID: sourceSpace)?.targetID else {
                diffs.append(Difference(path: entry.path, id: sourceSpace, detail: "space was not imported"))
                continue
            }
            let targetPath = "data/spaces/\(ArchivePath.component(targetSpace))/\(parts[3])"
            var sourceValues = Array(try source.lines(at: entry.path))
            if file == "connections" {
                // Compared in the shape the import writes: item-id ends, legacy types folded in.
                let typesPath = "data/spaces/\(parts[2])/connectionTypes.jsonl"
                let types = source.jsonLinesEntries().contains { $0.path == typesPath } ? Array(try source.lines(at: typesPath)) : []
                sourceValues = sourceValues.map { KinopioSchema.currentConnection($0, types: types) }
            }
            let want = try normalizedByID(sourceValues, translate: [:])
            let got: [String: JSONValue] =
                targetEntries[targetPath] == nil
                ? [:] : try normalizedByID(Array(target.lines(at: targetPath)), translate: back)
            for id in Set(want.keys).union(got.keys).sorted() {
                switch (want[id], got[id]) {
                case (let a?, let b?) where a != b:
                    diffs.append(Difference(path: entry.path, id: id, detail: "differs: \(a) ≠ \(b)"))
                case (_?, nil): diffs.append(Difference(path: entry.path, id: id, detail: "missing after the round trip"))
                case (nil, _?): diffs.append(Difference(path: entry.path, id: id, detail: "appeared after the round trip"))
                default: break
                }
            }
        }
        return diffs
    }

    static func normalizedByID(_ values: [JSONValue], translate: [String: String]) throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (n, v) in values.enumerated() {
            let t = normalize(v, translate: translate)
            out[t["id"]?.idString ?? "#\(n)"] = t
        }
        return out
    }

    /// Drops volatile keys (top level) and translates ids; object keys are sorted so key order does not matter.
    static func normalize(_ value: JSONValue, translate: [String: String]) -> JSONValue {
        switch value {
        case .object(let o):
            var out = JSONObject()
            for k in o.keys.sorted() where !volatileKeys.contains(k) {
                out[k] = normalize(o[k]!, translate: translate)
            }
            return .object(out)
        case .array(let a): return .array(a.map { normalize($0, translate: translate) })
        case .string(let s): return .string(translate[s] ?? s)
        default: return value
        }
    }
}
