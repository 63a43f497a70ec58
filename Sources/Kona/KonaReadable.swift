import Foundation
import KitbagCore

/// Maps a Kona space onto the connector-neutral readable model: the space is the container; conversations, tasks
/// and calendar events are its items (grouped by kind), each with its comments.
enum KonaReadable {
    static let groups = [
        ReadableGroup(id: "conversations", kind: "kind", title: "Conversations"),
        ReadableGroup(id: "tasks", kind: "kind", title: "Tasks"),
        ReadableGroup(id: "calendar-events", kind: "kind", title: "Calendar events"),
    ]

    static let statusNames = [0: "pending", 1: "in progress", 2: "complete", 3: "group closed", 4: "group reopened"]

    static func container(
        space: JSONValue, conversations: [JSONValue], tasks: [JSONValue], events: [JSONValue], comments: [JSONValue],
        names: [String: String]
    ) -> ReadableContainer {
        let id = space["id"]?.idString ?? ""
        var commentsByItem: [String: [ReadableComment]] = [:]
        for c in comments {
            guard let type = c["resource_type"]?.stringValue, let rid = c["resource_id"]?.idString else { continue }
            let author = c["creator_id"]?.idString.flatMap { names[$0] }
            commentsByItem["\(type)/\(rid)", default: []].append(
                ReadableComment(author: author, createdAt: date(c["created_at"]), body: markdown(c["content"]?.stringValue ?? "")))
        }
        func people(_ item: JSONValue) -> [String] {
            (item["participants"]?.arrayValue ?? []).compactMap { p in
                p["user_id"]?.idString.map { names[$0] ?? "user \($0)" }
            }
        }
        func item(_ v: JSONValue, type: String, group: String, fields: [ReadableFieldValue], status: String?) -> ReadableItem? {
            guard let iid = v["id"]?.idString else { return nil }
            var fields = fields
            if let location = v["location"]?.stringValue, !location.isEmpty { fields.append(.init(name: "Location", value: .text(location))) }
            let who = people(v)
            if !who.isEmpty { fields.append(.init(name: "Participants", value: .list(who))) }
            if let ext = v["external_object"], let name = ext["name"]?.stringValue {
                fields.append(.init(name: "Linked", value: .text(ext["url"]?.stringValue.map { "[\(name)](\($0))" } ?? name)))
            }
            return ReadableItem(
                id: iid, title: v["name"]?.stringValue ?? "", body: markdown(v["details"]?.stringValue ?? ""),
                author: v["creator_id"]?.idString.flatMap { names[$0] }, createdAt: date(v["created_at"]),
                updatedAt: date(v["updated_at"]), labels: (v["tags"]?.arrayValue ?? []).compactMap(\.stringValue),
                status: status, groupID: group, fields: fields, comments: commentsByItem["\(type)/\(iid)"] ?? [])
        }
        var items: [ReadableItem] = []
        items += conversations.compactMap { item($0, type: "conversation", group: "conversations", fields: [], status: nil) }
        items += tasks.compactMap { t in
            var fields: [ReadableFieldValue] = []
            if let due = text(t["end_at"]) { fields.append(.init(name: "Due", value: .text(due))) }
            if let done = text(t["completed_at"]) { fields.append(.init(name: "Completed", value: .text(done))) }
            return item(t, type: "task", group: "tasks", fields: fields, status: t["status"]?.intValue.flatMap { statusNames[$0] })
        }
        items += events.compactMap { e in
            var fields: [ReadableFieldValue] = []
            let allDay = e["all_day"]?.boolValue ?? false
            if let start = text(e["start_at"], dateOnly: allDay) { fields.append(.init(name: "Starts", value: .text(start))) }
            if let end = text(e["end_at"], dateOnly: allDay) { fields.append(.init(name: "Ends", value: .text(end))) }
            if allDay { fields.append(.init(name: "All day", value: .text("yes"))) }
            return item(e, type: "calendar_event", group: "calendar-events", fields: fields, status: nil)
        }
        return ReadableContainer(
            id: id, kind: "space", title: space["name"]?.stringValue ?? id,
            summary: [space["details"]?.stringValue, space["welcome_message"]?.stringValue].compactMap { $0 }
                .filter { !$0.isEmpty }.joined(separator: "\n\n").nilIfEmpty,
            updatedAt: date(space["updated_at"]), groups: groups, items: items)
    }

    /// Kona marks line breaks in comments and details with `<br>`.
    static func markdown(_ text: String) -> String {
        text.replacingOccurrences(of: "<br>", with: "\n").replacingOccurrences(of: "<br/>", with: "\n")
    }

    /// Unix milliseconds as a date.
    static func date(_ v: JSONValue?) -> Date? {
        guard let ms = v?.doubleValue, v?.isNull == false else { return nil }
        return Date(timeIntervalSince1970: ms / 1000)
    }

    /// `2024-03-15 17:00 UTC`, or `2024-03-15` for all-day dates.
    static func text(_ v: JSONValue?, dateOnly: Bool = false) -> String? {
        guard let ms = v?.doubleValue, v?.isNull == false else { return nil }
        let t = Timestamp.civil(secondsSince1970: Int64((ms / 1000).rounded(.down)))
        func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let day = "\(t.year)-\(pad(t.month))-\(pad(t.day))"
        return dateOnly ? day : "\(day) \(pad(t.hour)):\(pad(t.minute)) UTC"
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
