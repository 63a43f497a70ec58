import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kona as a migration target: each source container becomes a new Kona space, its items tasks or conversations,
/// their comments Kona comments.
///
/// Items become tasks when the container has statuses (Kitemaker work items, Kintone records under process
/// management, Kinopio cards in boxes) and conversations otherwise; `item_kind = "task"` or `"conversation"` in the
/// mapping decides instead. A task's status is one of Kona's (pending, in progress, complete): a `[statuses]`
/// entry names it, else a status of that name, else the status's words decide (todo, backlog, not started… →
/// pending; done, closed, archived… → complete; doing, started, review… → in progress; anything else → pending). The source's own status name stays in the
/// details as a `Status: …` line whenever Kona's differs, and so do labels (the Kona API does not take tags) and
/// the source's fields, one `Name: value` line each.
enum KonaMigrationTarget {
    static let statuses = ["pending": 0, "in progress": 1, "complete": 2, "group closed": 3, "group reopened": 4]
    static let pendingWords = ["todo", "to do", "backlog", "inbox", "open", "new", "not started", "waiting", "on hold"]
    static let completeWords = ["done", "complete", "completed", "closed", "finished", "resolved", "archived", "shipped", "cancelled", "canceled"]
    static let progressWords = ["doing", "in progress", "started", "progress", "review", "in review", "active", "wip", "testing"]

    /// Items of a container become tasks unless the mapping or the lack of statuses says conversations.
    static func itemKind(_ c: MigrationContainer) -> String {
        if let kind = c.rules.itemKind { return kind }
        return c.readable.items.contains { !$0.isRemoved && $0.status != nil } ? "task" : "conversation"
    }

    /// The Kona status a source status (after renames) becomes.
    static func konaStatus(_ name: String) -> String {
        let lower = name.lowercased().trimmingCharacters(in: .whitespaces)
        if statuses[lower] != nil { return lower }
        if pendingWords.contains(lower) || lower.hasPrefix("not ") { return "pending" }
        if completeWords.contains(lower) || completeWords.contains(where: { lower.hasPrefix($0 + " ") }) { return "complete" }
        if progressWords.contains(lower) || progressWords.contains(where: { lower.contains($0) }) { return "in progress" }
        return "pending"
    }

    /// The details of an item: its body, then a line per source status (when Kona's differs), labels and field.
    static func details(_ item: ReadableItem, kind: String, status: String?, konaStatus: String?) -> String {
        var lines: [String] = []
        if let status, status.lowercased() != konaStatus { lines.append("Status: \(status)") }
        if !item.labels.isEmpty { lines.append("Labels: \(item.labels.joined(separator: ", "))") }
        lines += MigrationPlanner.fieldLines(item)
        let text = ([item.body] + (lines.isEmpty ? [] : [lines.joined(separator: "\n")])).filter { !$0.isEmpty }
            .joined(separator: "\n\n")
        return html(text)
    }

    /// Kona marks line breaks with `<br>`.
    static func html(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "<br>")
    }
}

extension KonaConnection: MigrationTarget {
    public func migrationPlan(_ containers: [MigrationContainer], source: ServiceName, mapping: MappingConfig) async throws
        -> MigrationPlan
    {
        let file = mapping.fileName ?? "mapping.toml"
        let names = KonaMigrationTarget.statuses.sorted { $0.value < $1.value }.map(\.key)
        let plans = try containers.map { c -> ContainerPlan in
            let r = c.readable
            let name = mapping.container(id: r.id, title: r.title)?.target ?? r.title
            let kind = KonaMigrationTarget.itemKind(c)
            // A `[statuses]` or `default_status` value must be a Kona status.
            for (from, to) in c.statusRenames.sorted(by: { $0.key < $1.key }) where kind == "task" {
                if KonaMigrationTarget.statuses[to.lowercased()] == nil {
                    throw UserError(
                        "\(file): statuses.\"\(from)\" = \"\(to)\" is not a Kona task status (\(names.joined(separator: ", ")))",
                        exitStatus: .usage)
                }
            }
            var statuses: [AttributeMapping] = []
            if kind == "task" {
                statuses = MigrationPlanner.statuses(c) { KonaMigrationTarget.konaStatus(c.renamed($0)) }
                let unset = r.items.filter { !$0.isRemoved && $0.status == nil }.count
                if unset > 0 {
                    let d = c.rules.defaultStatus ?? "pending"
                    guard KonaMigrationTarget.statuses[d.lowercased()] != nil else {
                        throw UserError(
                            "\(file): default_status = \"\(d)\" is not a Kona task status (\(names.joined(separator: ", ")))",
                            exitStatus: .usage)
                    }
                    statuses.append(AttributeMapping(from: "(none)", to: d.lowercased(), items: unset))
                }
            }
            let renamedAway = kind == "task" && MigrationPlanner.statuses(c, target: { $0 }).contains {
                KonaMigrationTarget.konaStatus(c.renamed($0.from)) != c.renamed($0.from).lowercased()
            }
            return MigrationPlanner.plan(c, targetKind: "space", target: name, titleTo: "\(kind) name", statuses: statuses) {
                attribute in
                switch attribute {
                case .body: return .carried(to: "\(kind) details")
                case .author: return .lost("Kona makes the importing user the creator of every \(kind)")
                case .createdAt, .updatedAt: return .lost("Kona sets a \(kind)'s times itself when it is created")
                case .labels: return .carried(to: "\(kind) details (“Labels: …” line); the Kona API does not set tags")
                case .status:
                    if kind == "conversation" { return .carried(to: "conversation details (“Status: …” line)") }
                    return .carried(
                        to: renamedAway
                            ? "task status, the source's name kept as a “Status: …” line in the details" : "task status")
                case .field(let n): return .carried(to: "\(kind) details (“\(n): …” line)")
                case .comments: return .carried(to: "comments")
                case .commentAuthor: return .lost("Kona makes the importing user the author of every comment")
                case .commentDate: return .lost("Kona sets a comment's time itself when it is created")
                case .attachments: return .lost("the Kona API has no route that uploads a file")
                case .links: return .lost("Kona has no links between tasks or conversations")
                case .removedItems: return .lost("items in the source's trash are not migrated")
                case .description: return .carried(to: "space details")
                case .linkedContainer: return .lost("the link points at a container of the source service")
                case .position: return .lost("Kona has no canvas positions")
                }
            }
        }
        return MigrationPlan(source: source, target: .kona, containers: plans)
    }

    public func writeMigrationSnapshot(
        _ containers: [MigrationContainer], plan: MigrationPlan, source: SnapshotReader, into writer: SnapshotWriter
    ) throws {
        let id = MigrationPlanner.derivedID
        for c in containers {
            guard let p = plan.container(c.readable.id) else { continue }
            let cid = c.readable.id
            let container = KonaSchema.container(space: id(cid))
            var space = JSONObject([("id", .string(id(cid))), ("name", .string(p.target))])
            if let summary = c.readable.summary, !summary.isEmpty { space["details"] = .string(KonaMigrationTarget.html(summary)) }
            try writer.writeJSONLines(container: container, file: "space", kind: "space", values: [.object(space)])
            let kind = KonaMigrationTarget.itemKind(c)
            let statusOf = Dictionary(p.statuses.map { ($0.from, $0.to) }, uniquingKeysWith: { a, _ in a })
            var items: [JSONValue] = []
            var comments: [JSONValue] = []
            for item in c.readable.items where !item.isRemoved {
                let itemID = id(cid, item.id)
                let source = item.status.map(c.renamed)
                var o = JSONObject([("id", .string(itemID)), ("name", .string(item.title))])
                var kona: String?
                if kind == "task" {
                    kona = statusOf[item.status ?? "(none)"] ?? "pending"
                    o["status"] = .int(KonaMigrationTarget.statuses[kona ?? "pending"] ?? 0)
                }
                let details = KonaMigrationTarget.details(item, kind: kind, status: source, konaStatus: kona)
                if !details.isEmpty { o["details"] = .string(details) }
                items.append(.object(o))
                for (k, comment) in item.comments.enumerated() {
                    comments.append(
                        [
                            "id": .string(id(cid, item.id, "comment", String(k))), "resource_type": .string(kind),
                            "resource_id": .string(itemID), "content": .string(KonaMigrationTarget.html(comment.body)),
                        ])
                }
            }
            let itemKind = kind == "task" ? KonaSchema.tasks : KonaSchema.conversations
            try writer.writeJSONLines(container: container, file: itemKind.file, kind: itemKind.kind, values: items)
            try writer.writeJSONLines(container: container, file: "comments", kind: "comment", values: comments)
        }
    }
}
