import Foundation
import KitbagArchive
import KitbagCore
import KitbagJournal

/// Compares a source export with the export of the organization it was imported into.
///
/// Target ids (spaces, statuses, labels, work items, comments, threads, initiatives, feedback) are translated
/// back to source ids through the journal; server-owned keys (timestamps, actors, numbers) and user references
/// (members, watchers, people's ids) are set aside; a work item's `sort` string is replaced by its position in
/// its status column, and a comment gets its position in its thread. What remains must be equal.
public enum KitemakerRoundTrip {
    /// One difference, named by archive path and entity id.
    public struct Difference: Sendable, CustomStringConvertible, Equatable {
        public var path: String
        public var id: String
        public var detail: String
        public var description: String { "\(path) \(id): \(detail)" }
    }

    /// Keys the server sets, or that point at users of one organization; dropped at any depth.
    /// `closedAt`/`archivedAt` are set by the server when an item enters a done/archived status; `activities` are
    /// the server's history of the target, `owners` users like members.
    public static let volatileKeys: Set<String> = [
        "createdAt", "updatedAt", "actor", "number", "members", "watchers", "processedAt", "closedAt", "archivedAt",
        "activities", "owners",
    ]

    static let journalKinds = [
        "space", "status", "label", "workItem", "comment", "thread", "initiative", "roadmapColumn", "company", "person",
        "feedback",
    ]
    static let spaceFiles: Set<String> = ["space", "statuses", "labels", "workItems", "comments"]
    static let accountFiles: Set<String> = ["initiatives", "feedback"]

    public static func compare(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported] = []
    ) throws -> [Difference] {
        var back: [String: String] = [:]
        for kind in journalKinds {
            for (s, e) in try journal.entries(kind: kind) where e.state == .created && !e.targetID.isEmpty {
                back[e.targetID] = s
            }
        }
        let targetPaths = Set(target.jsonLinesEntries().map(\.path))
        // Initiatives are placed only on columns the target has (a roadmap cannot be created): the others are left
        // out of the comparison (the import reported them).
        var placeable: Set<String> = []
        for (s, e) in try journal.entries(kind: "roadmapColumn") where e.state == .created {
            placeable.formUnion([s, e.targetID])
        }
        let dropInitiativeItems = notImported.contains { $0.kind == "initiative.workItems" }
        let keepInsights: (String) -> Bool = { id in !notImported.contains { $0.kind == "insight" && $0.container == id } }
        var diffs: [Difference] = []
        for entry in source.jsonLinesEntries() {
            let parts = entry.path.split(separator: "/").map(String.init)
            let file = String(parts.last!.dropLast(".jsonl".count))
            let targetPath: String
            if parts.count == 4, parts[1] == KitemakerSchema.spacesFolder, spaceFiles.contains(file) {
                let sourceSpace = ArchivePath.decodeComponent(parts[2])
                if notImported.contains(where: { $0.kind == entry.kind && $0.container == sourceSpace }) { continue }
                guard let targetSpace = try journal.entry(kind: "space", sourceID: sourceSpace)?.targetID else {
                    diffs.append(Difference(path: entry.path, id: sourceSpace, detail: "space was not imported"))
                    continue
                }
                targetPath = "data/\(parts[1])/\(ArchivePath.component(targetSpace))/\(parts[3])"
            } else if parts.count == 3, parts[1] == "account", accountFiles.contains(file) {
                targetPath = entry.path
            } else {
                continue
            }
            let prepare: ([JSONValue]) -> [JSONValue] = { values in
                var out = positioned(values, file: file)
                if file == "initiatives" && dropInitiativeItems { out = out.map { dropping("workItems", from: $0) } }
                if file == "initiatives" {
                    out = out.map { i in
                        guard let columns = i["roadmapColumns"]?.arrayValue else { return i }
                        var i = i
                        i["roadmapColumns"] = .array(columns.filter { placeable.contains($0["id"]?.idString ?? "") })
                        return i
                    }
                }
                // What the import reported it could not carry, per item (`feedback.processed` for feedback F) or
                // for every item (`initiative.comments`), is left out of the comparison.
                let prefix = file == "initiatives" ? "initiative." : file == "feedback" ? "feedback." : nil
                if let prefix {
                    out = out.map { item in
                        var item = item
                        let id = item["id"]?.idString ?? ""
                        for n in notImported where n.kind.hasPrefix(prefix) {
                            if n.container == nil || n.container == (back[id] ?? id) {
                                item[String(n.kind.dropFirst(prefix.count))] = nil
                            }
                        }
                        return item
                    }
                }
                if file == "feedback" {
                    out = out.map { f in
                        var f = f
                        if let id = f["id"]?.idString, !keepInsights(back[id] ?? id) { f = dropping("insights", from: f) }
                        if let email = f["person"]?["email"] { f["person"] = ["email": email] }
                        if let insights = f["insights"]?.arrayValue {
                            f["insights"] = .array(insights.map { dropping("id", from: $0) })
                        }
                        return f
                    }
                }
                return out
            }
            let want = byID(prepare(try source.values(at: entry.path)), translate: [:])
            let got = targetPaths.contains(targetPath)
                ? byID(prepare(try target.values(at: targetPath)), translate: back) : [:]
            for id in Set(want.keys).union(got.keys).sorted() {
                switch (want[id], got[id]) {
                case (let a?, let b?) where a != b:
                    diffs.append(Difference(path: entry.path, id: id, detail: "differs: \(a.serializedString) ≠ \(b.serializedString)"))
                case (_?, nil): diffs.append(Difference(path: entry.path, id: id, detail: "missing after the round trip"))
                case (nil, _?): diffs.append(Difference(path: entry.path, id: id, detail: "appeared after the round trip"))
                default: break
                }
            }
        }
        return diffs
    }

    static func dropping(_ key: String, from value: JSONValue) -> JSONValue {
        var v = value
        v[key] = nil
        return v
    }

    /// Work items: `sort` becomes the position in the status column. Comments: `position` in their thread.
    static func positioned(_ values: [JSONValue], file: String) -> [JSONValue] {
        switch file {
        case "workItems":
            var columns: [String: [(Int, String)]] = [:]
            for (n, v) in values.enumerated() {
                columns[v["status"]?["id"]?.idString ?? "", default: []].append((n, v["sort"]?.stringValue ?? ""))
            }
            var position: [Int: Int] = [:]
            for (_, column) in columns {
                for (rank, item) in column.sorted(by: { $0.1 == $1.1 ? $0.0 < $1.0 : $0.1 < $1.1 }).enumerated() {
                    position[item.0] = rank
                }
            }
            return values.enumerated().map { n, v in
                var v = v
                v["sort"] = nil
                v["position"] = .int(position[n] ?? 0)
                return v
            }
        case "comments":
            var seen: [String: Int] = [:]
            return values.map { v in
                var v = v
                let thread = v["threadId"]?.idString ?? ""
                v["position"] = .int(seen[thread, default: 0])
                seen[thread, default: 0] += 1
                return v
            }
        default:
            return values
        }
    }

    static func byID(_ values: [JSONValue], translate: [String: String]) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (n, v) in values.enumerated() {
            let t = normalize(v, translate: translate)
            out[t["id"]?.idString ?? "#\(n)"] = t
        }
        return out
    }

    /// Drops volatile keys (any depth) and translates ids; object keys are sorted so key order does not matter.
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

extension JSONValue {
    var serializedString: String { String(decoding: serialized(), as: UTF8.self) }
}
