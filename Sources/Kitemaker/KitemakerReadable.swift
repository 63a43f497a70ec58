import Foundation
import KitbagCore

/// Maps a Kitemaker space onto the connector-neutral readable model: the space is the container, its statuses
/// are groups (columns, in board order), work items are items (column by column, top to bottom), labels are tags,
/// and comments are listed under their work item, replies after the comment that opened their thread.
enum KitemakerReadable {
    static func container(
        space: JSONValue, statuses: [JSONValue], labels: [JSONValue], workItems: [JSONValue], comments: [JSONValue]
    ) -> ReadableContainer {
        let id = space["id"]?.idString ?? ""
        let key = space["key"]?.stringValue
        let groups = statuses.compactMap { s -> ReadableGroup? in
            guard let sid = s["id"]?.idString else { return nil }
            return ReadableGroup(id: sid, kind: "status", title: s["name"]?.stringValue ?? sid)
        }
        let column = Dictionary(groups.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        var commentsByItem: [String: [JSONValue]] = [:]
        for c in comments {
            if let item = c["entity"]?["id"]?.idString { commentsByItem[item, default: []].append(c) }
        }
        let ordered = workItems.sorted { a, b in
            let ca = a["status"]?["id"]?.idString.flatMap { column[$0] } ?? Int.max
            let cb = b["status"]?["id"]?.idString.flatMap { column[$0] } ?? Int.max
            if ca != cb { return ca < cb }
            return (a["sort"]?.stringValue ?? "") < (b["sort"]?.stringValue ?? "")
        }
        let items = ordered.compactMap { w -> ReadableItem? in
            guard let wid = w["id"]?.idString else { return nil }
            let number = w["number"]?.idString
            var title = w["title"]?.stringValue ?? ""
            if let key, let number { title = "\(key)-\(number) \(title)" }
            return ReadableItem(
                id: wid, title: title, body: w["description"]?.stringValue ?? "", author: author(w["actor"]),
                createdAt: date(w["createdAt"]), updatedAt: date(w["updatedAt"]),
                labels: (w["labels"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue },
                status: w["status"]?["name"]?.stringValue, groupID: w["status"]?["id"]?.idString,
                fields: sizes(w),
                comments: threaded(commentsByItem[wid] ?? []).map { c in
                    ReadableComment(author: author(c["actor"]), createdAt: date(c["createdAt"]), body: c["body"]?.stringValue ?? "")
                })
        }
        return ReadableContainer(
            id: id, kind: "space", title: space["name"]?.stringValue ?? id, summary: key.map { "Space key \($0)" },
            createdAt: date(space["createdAt"]), updatedAt: date(space["updatedAt"]), groups: groups, items: items,
            tags: labels.compactMap { l in
                l["name"]?.stringValue.map { ReadableTag(name: $0, color: l["color"]?.stringValue.map { "#" + $0 }) }
            })
    }

    /// Effort and impact as item fields, when set.
    static func sizes(_ w: JSONValue) -> [ReadableFieldValue] {
        ["effort", "impact"].compactMap { key in
            w[key]?.stringValue.map { ReadableFieldValue(name: key.capitalized, value: .text($0.capitalized)) }
        }
    }

    /// Comments grouped by thread (threads in order of their first comment), each thread in its own order.
    static func threaded(_ comments: [JSONValue]) -> [JSONValue] {
        var order: [String] = []
        var byThread: [String: [JSONValue]] = [:]
        for c in comments {
            let thread = c["threadId"]?.idString ?? c["id"]?.idString ?? ""
            if byThread[thread] == nil { order.append(thread) }
            byThread[thread, default: []].append(c)
        }
        return order.flatMap { byThread[$0] ?? [] }
    }

    /// Who an actor is, whichever member of the `Actor` union it is: a user's username, an application's name, an
    /// integration user's name in the connected service, an integration's kind; for a member this kitbag does not
    /// know, its type name (all the server gives for it).
    static func author(_ actor: JSONValue?) -> String? {
        guard let actor else { return nil }
        if let name = actor["username"]?.stringValue ?? actor["name"]?.stringValue { return name }
        if let external = actor["externalName"]?.stringValue {
            return actor["type"]?.stringValue.map { "\(external) (\(integrationName($0)))" } ?? external
        }
        if let type = actor["type"]?.stringValue, actor["__typename"]?.stringValue == "Integration" {
            return "\(integrationName(type)) integration"
        }
        return actor["__typename"]?.stringValue
    }

    /// `GITHUB` → `Github`: an `IntegrationType` as a word.
    static func integrationName(_ type: String) -> String { type.prefix(1) + type.dropFirst().lowercased() }

    static func date(_ v: JSONValue?) -> Date? {
        v?.stringValue.flatMap(Timestamp.parse)
    }
}
