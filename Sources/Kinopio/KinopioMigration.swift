import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kinopio in migrations: a Kinopio archive read into the common model (a card's box is its status), and common
/// model containers written as Kinopio spaces — one card per item, a box per status, tags for labels and
/// connections for links.
public enum KinopioMigration {
    /// Reads every space of a Kinopio archive through the readable mapping the renderings use.
    public static let source = MigrationSource(service: .kinopio) { archive in
        let present = Set(archive.jsonLinesEntries().map(\.path))
        var out: [MigrationContainer] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "space" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            func values(_ file: String) throws -> [JSONValue] {
                let path = "\(folder)/\(file).jsonl"
                return present.contains(path) ? try archive.values(at: path) : []
            }
            for meta in try archive.values(at: entry.path) {
                var readable = KinopioReadable.container(
                    space: meta, cards: try values("cards"), removedCards: try values("removedCards"),
                    boxes: try values("boxes"), connections: try values("connections"),
                    connectionTypes: try values("connectionTypes"), tags: try values("tags"), webBase: nil)
                let boxTitles = Dictionary(readable.groups.map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
                for i in readable.items.indices {
                    readable.items[i].status = readable.items[i].groupID.flatMap { boxTitles[$0] }
                    // Tags travel as labels; the `[[tag]]` markup keeps only its word in the text.
                    readable.items[i].title = stripTagMarkup(readable.items[i].title)
                    readable.items[i].body = stripTagMarkup(readable.items[i].body)
                }
                var container = MigrationContainer(readable: readable, isRemoved: meta["isRemoved"]?.boolValue == true)
                let used = Set(readable.items.filter { !$0.isRemoved }.compactMap(\.status))
                container.statusOrder = readable.groups.map(\.title).filter { used.contains($0) }
                out.append(container)
            }
        }
        return out.sorted { $0.readable.id < $1.readable.id }
    }

    /// `Plant [[tomatoes]] soon` → `Plant tomatoes soon`.
    static func stripTagMarkup(_ text: String) -> String {
        guard text.contains("[[") else { return text }
        return text.replacingOccurrences(of: #"\[\[([^\[\]\n]+)\]\]"#, with: "$1", options: .regularExpression)
    }

    static let boxWidth = 320
    static let rowHeight = 120
    static let linkTypeColor = "#9b9b9b"

    /// A card's whole text: title, body, fields, comments and `[[tag]]`s, in that order.
    static func cardText(_ item: ReadableItem) -> String {
        var parts: [String] = [item.title]
        if !item.body.isEmpty { parts.append(item.body) }
        let fields = MigrationPlanner.fieldLines(item)
        if !fields.isEmpty { parts.append(fields.joined(separator: "\n")) }
        if !item.comments.isEmpty {
            let lines = item.comments.map { c -> String in
                let who = [c.author, c.createdAt.map { String(Timestamp.string($0).prefix(10)) }].compactMap { $0 }
                let text = c.body.replacingOccurrences(of: "\n", with: " ")
                return "- " + (who.isEmpty ? "" : who.joined(separator: ", ") + ": ") + text
            }
            parts.append((["Comments:"] + lines).joined(separator: "\n"))
        }
        let tags = item.labels.filter { !item.title.contains("[[\($0)]]") }.map { "[[\($0)]]" }
        if !tags.isEmpty { parts.append(tags.joined(separator: " ")) }
        return parts.joined(separator: "\n\n")
    }

    /// The box of each status, in order of first use; items without one go to `default_status`, if given.
    static func boxes(_ container: MigrationContainer, defaultBox: String?) -> [String] {
        var names: [String] = []
        for item in container.readable.items where !item.isRemoved {
            if let box = item.status.map(container.renamed) ?? defaultBox, !names.contains(box) { names.append(box) }
        }
        return names
    }
}

extension KinopioConnection: MigrationTarget {
    public func migrationPlan(_ containers: [MigrationContainer], source: ServiceName, mapping: MappingConfig) async throws
        -> MigrationPlan
    {
        let limit = KinopioSchema.maxCardNameLength
        let plans = containers.map { c -> ContainerPlan in
            let rules = mapping.rules(id: c.readable.id, title: c.readable.title)
            let name = mapping.container(id: c.readable.id, title: c.readable.title)?.target ?? c.readable.title
            var statuses = MigrationPlanner.statuses(c) { "box \(c.renamed($0))" }
            let unboxed = c.readable.items.filter { !$0.isRemoved && $0.status == nil }.count
            if unboxed > 0, let d = rules.defaultStatus {
                statuses.append(AttributeMapping(from: "(none)", to: "box \(d)", items: unboxed))
            }
            var plan = MigrationPlanner.plan(
                c, targetKind: "space", target: name, titleTo: "card text, first line", statuses: statuses
            ) { attribute in
                switch attribute {
                case .body: return .carried(to: "card text")
                case .author: return .lost("Kinopio makes the importing key's user the creator of every card")
                case .createdAt, .updatedAt: return .lost("Kinopio sets a card's times itself when it is created")
                case .labels: return .carried(to: "tags")
                case .status: return .carried(to: "boxes (one per status, each card inside its box)")
                case .field(let n): return .carried(to: "card text (“\(n): …” line)")
                case .comments: return .carried(to: "card text (“Comments:” list)")
                case .commentAuthor, .commentDate: return .carried(to: "card text (with each comment)")
                case .attachments: return .lost("the Kinopio API has no route that uploads a file to a card")
                case .links: return .carried(to: "connections")
                case .removedItems: return .lost("items in the source's trash are not migrated")
                case .description: return .lost("a Kinopio space has no description")
                case .linkedContainer: return .lost("the link points at a container of the source service")
                case .position: return .carried(to: "card position")
                }
            }
            let long = c.readable.items.filter { !$0.isRemoved && KinopioMigration.cardText($0).count > limit }.count
            if long > 0 {
                plan.notCarried.append(
                    MigrationLoss(
                        attribute: "card text beyond \(limit) characters", items: long,
                        reason: "Kinopio cards hold at most \(limit) characters; the rest of the text is cut"))
            }
            return plan
        }
        return MigrationPlan(source: source, target: .kinopio, containers: plans)
    }

    public func writeMigrationSnapshot(
        _ containers: [MigrationContainer], plan: MigrationPlan, source: SnapshotReader, into writer: SnapshotWriter
    ) throws {
        let id = MigrationPlanner.derivedID
        for c in containers {
            guard let p = plan.container(c.readable.id) else { continue }
            let spaceID = id(c.readable.id)
            let container = KinopioSchema.container(space: spaceID)
            try writer.writeJSONLines(
                container: container, file: "space", kind: "space",
                values: [["id": .string(spaceID), "name": .string(p.target), "privacy": "private"]])
            let boxNames = KinopioMigration.boxes(c, defaultBox: defaultBox(p))
            let live = c.readable.items.filter { !$0.isRemoved }
            let colors = Dictionary(c.readable.tags.map { ($0.name, $0.color) }, uniquingKeysWith: { a, _ in a })
            var boxes: [JSONValue] = []
            var cards: [JSONValue] = []
            var tags: [JSONValue] = []
            var column: [String: [ReadableItem]] = [:]
            for item in live { column[item.status.map(c.renamed) ?? defaultBox(p) ?? "", default: []].append(item) }
            for (n, name) in boxNames.enumerated() {
                let count = max(1, column[name]?.count ?? 0)
                boxes.append(
                    .object(
                        JSONObject([
                            ("id", .string(id(c.readable.id, "box", name))), ("name", .string(name)),
                            ("x", .int(100 + n * (KinopioMigration.boxWidth + 20))), ("y", 100),
                            ("resizeWidth", .int(KinopioMigration.boxWidth)),
                            ("resizeHeight", .int(60 + count * KinopioMigration.rowHeight)),
                        ])))
            }
            let looseX = 100 + boxNames.count * (KinopioMigration.boxWidth + 20)
            var row: [String: Int] = [:]
            for item in live {
                let box = item.status.map(c.renamed) ?? defaultBox(p)
                let n = boxNames.firstIndex(of: box ?? "")
                let r = row[box ?? "", default: 0]
                row[box ?? ""] = r + 1
                let x = n.map { 100 + $0 * (KinopioMigration.boxWidth + 20) + 20 } ?? looseX
                let y = (n == nil ? 100 : 150) + r * KinopioMigration.rowHeight
                let cardID = id(c.readable.id, item.id)
                cards.append(
                    .object(
                        JSONObject([
                            ("id", .string(cardID)), ("name", .string(String(KinopioMigration.cardText(item).prefix(KinopioSchema.maxCardNameLength)))),
                            ("x", .int(x)), ("y", .int(y)),
                        ])))
                for label in item.labels {
                    var tag = JSONObject([
                        ("id", .string(id(c.readable.id, item.id, "tag", label))), ("name", .string(label)),
                        ("cardId", .string(cardID)),
                    ])
                    if let color = colors[label] ?? nil { tag["color"] = .string(color) }
                    tags.append(.object(tag))
                }
            }
            let liveIDs = Set(live.map(\.id))
            let links = c.readable.links.filter { liveIDs.contains($0.from) && liveIDs.contains($0.to) }
            let typeID = id(c.readable.id, "link-type")
            let connections: [JSONValue] = links.map { l in
                var o = JSONObject([
                    ("id", .string(id(c.readable.id, "link", l.id))), ("startCardId", .string(id(c.readable.id, l.from))),
                    ("endCardId", .string(id(c.readable.id, l.to))), ("connectionTypeId", .string(typeID)),
                    ("directionIsVisible", .bool(l.directed)),
                ])
                if let label = l.label, !label.isEmpty {
                    o["name"] = .string(label)
                    o["labelIsVisible"] = true
                }
                if let color = l.color { o["color"] = .string(color) }
                return .object(o)
            }
            let types: [JSONValue] =
                links.isEmpty
                ? [] : [["id": .string(typeID), "name": "Link", "color": .string(KinopioMigration.linkTypeColor)]]
            try writer.writeJSONLines(container: container, file: "cards", kind: "card", values: cards)
            try writer.writeJSONLines(container: container, file: "boxes", kind: "box", values: boxes)
            try writer.writeJSONLines(container: container, file: "tags", kind: "tag", values: tags)
            try writer.writeJSONLines(container: container, file: "connectionTypes", kind: "connectionType", values: types)
            try writer.writeJSONLines(container: container, file: "connections", kind: "connection", values: connections)
        }
    }

    /// The box items without a status go to, as the plan says (`(none)` → `box NAME`).
    func defaultBox(_ plan: ContainerPlan) -> String? {
        plan.statuses.first { $0.from == "(none)" }.map { String($0.to.dropFirst("box ".count)) }
    }
}
