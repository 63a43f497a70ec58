import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kitemaker in migrations: a Kitemaker archive read into the common model, and common model containers written
/// into existing Kitemaker spaces (the API creates neither spaces nor statuses) — work items with their status,
/// labels and comments.
public enum KitemakerMigration {
    /// Reads every space of a Kitemaker archive through the readable mapping the renderings use; titles lose the
    /// `KEY-N` prefix the pages show, since the target numbers items itself.
    public static let source = MigrationSource(service: .kitemaker) { archive in
        let present = Set(archive.jsonLinesEntries().map(\.path))
        var out: [MigrationContainer] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "space" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            func values(_ file: String) throws -> [JSONValue] {
                let path = "\(folder)/\(file).jsonl"
                return present.contains(path) ? try archive.values(at: path) : []
            }
            for space in try archive.values(at: entry.path) {
                let workItems = try values("workItems")
                var readable = KitemakerReadable.container(
                    space: space, statuses: try values("statuses"), labels: try values("labels"),
                    workItems: workItems, comments: try values("comments"))
                let titles = Dictionary(
                    workItems.compactMap { w in w["id"]?.idString.map { ($0, w["title"]?.stringValue ?? "") } },
                    uniquingKeysWith: { a, _ in a })
                for i in readable.items.indices { readable.items[i].title = titles[readable.items[i].id] ?? "" }
                func nonEmpty(_ v: JSONValue?) -> Bool { !(v?.arrayValue ?? []).isEmpty }
                let people = workItems.filter { nonEmpty($0["members"]) || nonEmpty($0["watchers"]) }.count
                var losses: [MigrationLoss] = []
                if people > 0 {
                    losses.append(
                        MigrationLoss(
                            attribute: "members and watchers", items: people,
                            reason: "they are users of the source organization, which another service cannot name"))
                }
                var container = MigrationContainer(readable: readable, losses: losses)
                container.statusOrder = readable.groups.filter { $0.kind == "status" }.map(\.title)
                out.append(container)
            }
        }
        return out.sorted { $0.readable.id < $1.readable.id }
    }

    /// A work item's description: the body, then its fields as a list.
    static func description(_ item: ReadableItem) -> String {
        let fields = MigrationPlanner.fieldLines(item).map { "- \($0)" }
        return ([item.body] + (fields.isEmpty ? [] : [fields.joined(separator: "\n")]))
            .filter { !$0.isEmpty }.joined(separator: "\n\n")
    }

    struct TargetSpace {
        var id: String
        var key: String
        var name: String
        var statuses: [(name: String, isDefault: Bool)]
    }
}

extension KitemakerConnection: MigrationTarget {
    public func migrationPlan(_ containers: [MigrationContainer], source: ServiceName, mapping: MappingConfig) async throws
        -> MigrationPlan
    {
        let data = try await graphQL("organization", KitemakerSchema.organizationQuery)
        let spaces = (data["organization"]?["spaces"]?.arrayValue ?? []).compactMap { s -> KitemakerMigration.TargetSpace? in
            guard let id = s["id"]?.idString, let key = s["key"]?.stringValue else { return nil }
            return KitemakerMigration.TargetSpace(
                id: id, key: key, name: s["name"]?.stringValue ?? key,
                statuses: (s["statuses"]?.arrayValue ?? []).compactMap { st in
                    st["name"]?.stringValue.map { ($0, st["default"]?.boolValue ?? false) }
                })
        }
        let file = mapping.fileName ?? "mapping.toml"
        let list = spaces.map { "\($0.key) “\($0.name)”" }.joined(separator: ", ")
        var plans: [ContainerPlan] = []
        var missing: [String] = []
        for c in containers {
            let r = c.readable
            let wanted = mapping.container(id: r.id, title: r.title)?.target
            let found: KitemakerMigration.TargetSpace?
            if let wanted {
                found = spaces.first { $0.key.lowercased() == wanted.lowercased() || $0.id == wanted }
                    ?? spaces.first { $0.name.lowercased() == wanted.lowercased() }
                if found == nil {
                    throw UserError(
                        "\(file): containers.\"\(r.id)\".target = \"\(wanted)\" is not a space of the target organization (spaces: \(list))",
                        exitStatus: .usage)
                }
            } else {
                found = spaces.first { $0.name.lowercased() == r.title.lowercased() }
            }
            guard let space = found else {
                throw UserError(
                    "kitemaker: \(r.kind) \(r.id) (“\(r.title)”) has no space to go into, and the Kitemaker API cannot create spaces; map it in \(file): [containers.\"\(r.id)\"] target = \"KEY\" (spaces: \(list)), or skip = true")
            }
            let rules = mapping.rules(id: r.id, title: r.title)
            func status(_ name: String) -> String? {
                space.statuses.first { $0.name == name }?.name
                    ?? space.statuses.first { $0.name.lowercased() == name.lowercased() }?.name
            }
            var statuses = MigrationPlanner.statuses(c) { status(c.renamed($0)) ?? "" }
            for s in statuses where s.to.isEmpty {
                missing.append("“\(c.renamed(s.from))” (\(r.kind) \(r.id) “\(r.title)” → space \(space.key))")
            }
            let unset = r.items.filter { !$0.isRemoved && $0.status == nil }.count
            if unset > 0 {
                let fallback = rules.defaultStatus.map { status($0) } ?? (space.statuses.first { $0.isDefault } ?? space.statuses.first)?.name
                guard let fallback else {
                    let asked = rules.defaultStatus.map { "default_status = \"\($0)\" is not a status of space \(space.key)" }
                        ?? "space \(space.key) has no statuses"
                    throw UserError("kitemaker: \(unset) items of \(r.kind) \(r.id) have no status and \(asked) (statuses: \(space.statuses.map(\.name).joined(separator: ", ")))", exitStatus: .usage)
                }
                statuses.append(AttributeMapping(from: "(none)", to: fallback, items: unset))
            }
            plans.append(
                MigrationPlanner.plan(
                    c, targetKind: "space", target: space.key, targetExists: true, titleTo: "work item title",
                    statuses: statuses
                ) { attribute in
                    switch attribute {
                    case .body: return .carried(to: "description")
                    case .author: return .lost("Kitemaker makes the token's user the creator of every work item")
                    case .createdAt, .updatedAt: return .lost("Kitemaker sets a work item's times itself when it is created")
                    case .labels: return .carried(to: "labels")
                    case .status: return .carried(to: "status")
                    case .field(let n): return .carried(to: "description (“- \(n): …” line)")
                    case .comments: return .carried(to: "comments")
                    case .commentAuthor: return .lost("Kitemaker makes the token's user the author of every comment")
                    case .commentDate: return .lost("Kitemaker sets a comment's time itself when it is created")
                    case .attachments: return .lost("the Kitemaker API has no route that uploads a file")
                    case .links: return .lost("the Kitemaker API has no route that links two work items")
                    case .removedItems: return .lost("items in the source's trash are not migrated")
                    case .description: return .lost("the space exists already; its description is not changed")
                    case .linkedContainer: return .lost("the link points at a container of the source service")
                    case .position: return .lost("Kitemaker boards have columns, not canvas positions")
                    }
                })
        }
        if !missing.isEmpty {
            let what = missing.count == 1 ? "status \(missing[0]) is" : "statuses \(missing.joined(separator: ", ")) are"
            throw UserError(
                "kitemaker: \(what) not in the target space and the Kitemaker API cannot create statuses; map \(missing.count == 1 ? "it" : "them") in \(file) under [statuses] (\"SOURCE\" = \"TARGET\"), or add \(missing.count == 1 ? "it" : "them") in Kitemaker",
                exitStatus: .usage)
        }
        return MigrationPlan(source: source, target: .kitemaker, containers: plans)
    }

    public func writeMigrationSnapshot(
        _ containers: [MigrationContainer], plan: MigrationPlan, source: SnapshotReader, into writer: SnapshotWriter
    ) throws {
        let id = MigrationPlanner.derivedID
        for c in containers {
            guard let p = plan.container(c.readable.id) else { continue }
            let cid = c.readable.id
            let container = KitemakerSchema.container(space: id(cid))
            try writer.writeJSONLines(
                container: container, file: "space", kind: "space",
                values: [["id": .string(id(cid)), "key": .string(p.target), "name": .string(p.target)]])
            let target = Dictionary(p.statuses.map { ($0.from, $0.to) }, uniquingKeysWith: { a, _ in a })
            var statusNames: [String] = []
            for s in p.statuses where !statusNames.contains(s.to) { statusNames.append(s.to) }
            try writer.writeJSONLines(
                container: container, file: "statuses", kind: "status",
                values: statusNames.map { ["id": .string(id(cid, "status", $0)), "name": .string($0)] })
            let live = c.readable.items.filter { !$0.isRemoved }
            let colors = Dictionary(c.readable.tags.map { ($0.name, $0.color) }, uniquingKeysWith: { a, _ in a })
            var labelNames: [String] = []
            for item in live { for l in item.labels where !labelNames.contains(l) { labelNames.append(l) } }
            try writer.writeJSONLines(
                container: container, file: "labels", kind: "label",
                values: labelNames.map { name in
                    var o = JSONObject([("id", .string(id(cid, "label", name))), ("name", .string(name))])
                    if let color = colors[name] ?? nil { o["color"] = .string(String(color.drop { $0 == "#" })) }
                    return .object(o)
                })
            var workItems: [JSONValue] = []
            var comments: [JSONValue] = []
            for (n, item) in live.enumerated() {
                let wid = id(cid, item.id)
                let status = target[item.status ?? "(none)"] ?? ""
                workItems.append(
                    .object(
                        JSONObject([
                            ("id", .string(wid)), ("title", .string(item.title)),
                            ("description", .string(KitemakerMigration.description(item))),
                            ("sort", .string(String(format: "%08d", n))),
                            ("status", ["id": .string(id(cid, "status", status)), "name": .string(status)]),
                            ("labels", .array(item.labels.map { ["id": .string(id(cid, "label", $0)), "name": .string($0)] })),
                        ])))
                for (k, comment) in item.comments.enumerated() {
                    let commentID = id(cid, item.id, "comment", String(k))
                    comments.append(
                        .object(
                            JSONObject([
                                ("id", .string(commentID)), ("threadId", .string(commentID)),
                                ("entity", ["id": .string(wid)]), ("body", .string(comment.body)),
                            ])))
                }
            }
            try writer.writeJSONLines(container: container, file: "workItems", kind: "workItem", values: workItems)
            try writer.writeJSONLines(container: container, file: "comments", kind: "comment", values: comments)
        }
    }
}
