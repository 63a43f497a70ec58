import Foundation
import KitbagConnector
import KitbagCore

/// What Kitemaker's round trip sets aside, for the shared oracle (`RoundTripOracle`).
///
/// Target ids (spaces, statuses, labels, work items, comments, threads, initiatives, feedback) are translated
/// back to source ids through the journal; server-owned keys (timestamps, actors, numbers) and user references
/// (members, watchers, people's ids) are set aside; a work item's `sort` string is replaced by its position in
/// its status column, and a comment gets its position in its thread. What remains must be equal.
public enum KitemakerRoundTrip {
    /// Keys the server sets, or that point at users of one organization; dropped at any depth.
    /// `closedAt`/`archivedAt` are set by the server when an item enters a done/archived status; `activities` are
    /// the server's history of the target, `owners` users like members.
    public static let volatileKeys: Set<String> = [
        "createdAt", "updatedAt", "actor", "number", "members", "watchers", "processedAt", "closedAt", "archivedAt",
        "activities", "owners",
    ]

    public static let rules = RoundTripRules(
        containerFolder: KitemakerSchema.spacesFolder, containerKind: "space",
        containerFiles: ["space", "statuses", "labels", "workItems", "comments"],
        accountFiles: ["initiatives", "feedback"],
        journalKinds: [
            "space", "status", "label", "workItem", "comment", "thread", "initiative", "roadmapColumn", "company", "person",
            "feedback",
        ]
    ) { values, side, file, ids, notImported in
        let back = ids.merged
        // Initiatives are placed only on columns the target has (a roadmap cannot be created): the others are left
        // out of the comparison (the import reported them).
        let placeable = Set((ids.created["roadmapColumn"] ?? []).flatMap { [$0.source, $0.target] })
        let dropInitiativeItems = notImported.contains { $0.kind == "initiative.workItems" }
        let keepInsights: (String) -> Bool = { id in !notImported.contains { $0.kind == "insight" && $0.container == id } }
        var out = positioned(values, file: file.name)
        if file.name == "initiatives" && dropInitiativeItems { out = out.map { dropping("workItems", from: $0) } }
        if file.name == "initiatives" {
            out = out.map { i in
                guard let columns = i["roadmapColumns"]?.arrayValue else { return i }
                var i = i
                i["roadmapColumns"] = .array(columns.filter { placeable.contains($0["id"]?.idString ?? "") })
                return i
            }
        }
        // What the import reported it could not carry, per item (`feedback.processed` for feedback F) or for every
        // item (`initiative.comments`), is left out of the comparison.
        let prefix = file.name == "initiatives" ? "initiative." : file.name == "feedback" ? "feedback." : nil
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
        if file.name == "feedback" {
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
        let translate = side == .target ? back : [:]
        return RoundTripRules.byID(out) { RoundTripRules.normalized($0, dropping: volatileKeys, translate: translate) }
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
}
