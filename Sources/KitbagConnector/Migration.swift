import Foundation
import KitbagArchive
import KitbagCore

// Migration: an archive of one service imported into another through the common model (`ReadableContainer`).
// The source maps its archive to the common model (the same mapping the renderings use); the target plans how
// each container lands, reports every attribute it cannot carry, and writes a native archive of its own service
// that its ordinary journaled importer replays — so a migration is resumable and never duplicates.

/// One source container in the common model, as a source connector reads it from its archive.
public struct MigrationContainer: Sendable, Equatable {
    public var readable: ReadableContainer
    /// The field (label) whose value already is every item's title (Kintone's title field), so it is not carried twice.
    public var titleField: String?
    /// What the common model leaves out of this container, found by the source (e.g. Kitemaker members).
    public var losses: [MigrationLoss]
    /// True for a container in the source's trash (a removed Kinopio space): reported as skipped.
    public var isRemoved: Bool
    /// Source status → target status or box, from the mapping; items keep their source status.
    public var statusRenames: [String: String] = [:]
    /// Every status of the source container in the source's own order (Kitemaker's columns, Kona's status codes),
    /// used or not; empty when the source has no such order (then statuses are listed in order of first use).
    public var statusOrder: [String] = []
    /// The mapping's rules in force for this container (set by `mapped(by:)`).
    public var rules = MappingConfig.Rules()

    /// The target status or box of a source status.
    public func renamed(_ status: String) -> String { statusRenames[status] ?? status }

    public init(readable: ReadableContainer, titleField: String? = nil, losses: [MigrationLoss] = [], isRemoved: Bool = false) {
        self.readable = readable
        self.titleField = titleField
        self.losses = losses
        self.isRemoved = isRemoved
    }
}

/// A source connector's mapping from its archive to the common model.
public struct MigrationSource: Sendable {
    public var service: ServiceName
    public var read: @Sendable (SnapshotReader) throws -> [MigrationContainer]

    public init(service: ServiceName, read: @escaping @Sendable (SnapshotReader) throws -> [MigrationContainer]) {
        self.service = service
        self.read = read
    }
}

/// One attribute of the source that the target does not carry, with how many items had it and why.
public struct MigrationLoss: Sendable, Codable, Equatable {
    public var attribute: String
    /// Items (or entities) that held a value for it.
    public var items: Int
    public var reason: String

    public init(attribute: String, items: Int, reason: String) {
        self.attribute = attribute
        self.items = items
        self.reason = reason
    }
}

/// Where one source attribute goes in the target.
public struct AttributeMapping: Sendable, Codable, Equatable {
    public var from: String
    public var to: String
    public var items: Int

    public init(from: String, to: String, items: Int) {
        self.from = from
        self.to = to
        self.items = items
    }
}

/// How one source container lands in the target.
public struct ContainerPlan: Sendable, Codable, Equatable {
    public var sourceID: String
    public var sourceKind: String
    public var sourceTitle: String
    public var targetKind: String
    /// Name of the new container, or the key/name of the existing one it goes into.
    public var target: String
    /// True when the target container exists already (Kitemaker spaces).
    public var targetExists: Bool
    public var items: Int
    public var carried: [AttributeMapping]
    /// Source status → target status (Kitemaker) or box (Kinopio), with item counts, in source order.
    public var statuses: [AttributeMapping]
    public var notCarried: [MigrationLoss]

    public init(
        sourceID: String, sourceKind: String, sourceTitle: String, targetKind: String, target: String,
        targetExists: Bool = false, items: Int, carried: [AttributeMapping] = [], statuses: [AttributeMapping] = [],
        notCarried: [MigrationLoss] = []
    ) {
        self.sourceID = sourceID
        self.sourceKind = sourceKind
        self.sourceTitle = sourceTitle
        self.targetKind = targetKind
        self.target = target
        self.targetExists = targetExists
        self.items = items
        self.carried = carried
        self.statuses = statuses
        self.notCarried = notCarried
    }
}

/// A source container the mapping leaves out.
public struct SkippedContainer: Sendable, Codable, Equatable {
    public var sourceID: String
    public var sourceTitle: String
    public var items: Int
    public var reason: String
}

/// The whole plan: every source container and where it goes.
public struct MigrationPlan: Sendable, Codable, Equatable {
    public var source: ServiceName
    public var target: ServiceName
    public var containers: [ContainerPlan]
    public var skipped: [SkippedContainer]

    public init(source: ServiceName, target: ServiceName, containers: [ContainerPlan], skipped: [SkippedContainer] = []) {
        self.source = source
        self.target = target
        self.containers = containers
        self.skipped = skipped
    }

    /// The plan of a source container.
    public func container(_ sourceID: String) -> ContainerPlan? {
        containers.first { $0.sourceID == sourceID }
    }
}

/// `import-report.json`: the plan, what the import created, and every attribute it could not carry.
public struct MigrationReport: Sendable, Codable, Equatable {
    /// The source archive's file name.
    public var archive: String
    public var source: ServiceName
    public var target: ServiceName
    public var dryRun: Bool
    /// Entities created (or, on a dry run, to be created) per kind.
    public var created: [String: Int]
    /// Entities an earlier run created already (from the journal).
    public var alreadyPresent: [String: Int]
    public var containers: [ContainerPlan]
    public var skipped: [SkippedContainer]
    /// What the target's importer could not carry, beyond the per-attribute losses.
    public var notImported: [NotExported]

    /// Pretty, key-sorted JSON: the same plan gives the same bytes.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }
}

/// A connector that can receive containers of another service through the common model.
public protocol MigrationTarget: Connector {
    /// How `containers` would land in this service. May read the target (Kitemaker's spaces and statuses);
    /// never writes. Throws a one-line error for what cannot be mapped (e.g. a status the target lacks).
    func migrationPlan(_ containers: [MigrationContainer], source: ServiceName, mapping: MappingConfig) async throws
        -> MigrationPlan

    /// Writes a native archive of this service that carries `plan` (ids derived from the source ids, so the
    /// same input gives the same archive); the connector's ordinary journaled import then replays it.
    func writeMigrationSnapshot(
        _ containers: [MigrationContainer], plan: MigrationPlan, source: SnapshotReader, into writer: SnapshotWriter
    ) throws
}

// MARK: - Applying the mapping

extension MigrationContainer {
    /// Applies the mapping's field choices and status renames. A field named in the container's own section must
    /// exist (else a one-line error naming it); one named at the top level applies where it exists.
    public func mapped(by mapping: MappingConfig) throws -> MigrationContainer {
        var out = self
        let c = readable
        let rules = mapping.rules(id: c.id, title: c.title)
        let own = mapping.container(id: c.id, title: c.title)?.rules
        let file = mapping.fileName ?? "mapping.toml"
        let known = fieldNames
        /// The label of the field a mapping key names (by label or by code); nil when this container lacks it.
        func field(_ key: String, _ name: String?, strict: Bool) throws -> String? {
            guard let name else { return nil }
            if let def = c.fields.first(where: { $0.code == name || $0.label == name }) { return def.label }
            if known.contains(name) { return name }
            if strict {
                throw UserError(
                    "\(file): \(key) = \"\(name)\": \(c.kind) \(c.id) (“\(c.title)”) has no field \(name) (fields: \(known.isEmpty ? "none" : known.joined(separator: ", ")))",
                    exitStatus: .usage)
            }
            return nil
        }
        let titleField = try field("title", rules.title, strict: own?.title != nil)
        let statusField = try field("status", rules.status, strict: own?.status != nil)
        let labelsField = try field("labels", rules.labels, strict: own?.labels != nil)
        for i in out.readable.items.indices {
            var item = out.readable.items[i]
            func take(_ name: String) -> ReadableValue? {
                guard let n = item.fields.firstIndex(where: { $0.name == name }) else { return nil }
                return item.fields.remove(at: n).value
            }
            if let titleField {
                if let v = take(titleField), let t = Self.text(v), !t.isEmpty { item.title = t }
            } else if let current = self.titleField {
                _ = take(current)
            }
            if let statusField, let v = take(statusField) { item.status = Self.text(v) }
            if let labelsField, let v = take(labelsField) {
                switch v {
                case .list(let l): item.labels += l
                case .text(let t): item.labels.append(t)
                case .table: break
                }
            }
            out.readable.items[i] = item
        }
        // The title field stays a field of its own once another field titles the items.
        if titleField != nil { out.titleField = titleField }
        out.statusRenames = rules.statuses
        out.rules = rules
        return out
    }

    /// Field names in definition order, then any an item has that the definitions lack.
    public var fieldNames: [String] {
        var names = readable.fields.map(\.label)
        for item in readable.items { for f in item.fields where !names.contains(f.name) { names.append(f.name) } }
        return names
    }

    /// A field value as one line of text.
    public static func text(_ value: ReadableValue) -> String? {
        switch value {
        case .text(let t): return t
        case .list(let l): return l.joined(separator: ", ")
        case .table(let columns, let rows):
            return rows.map { row in zip(columns, row).map { "\($0)=\($1)" }.joined(separator: ", ") }.joined(separator: "; ")
        }
    }
}

// MARK: - Planning

/// The attributes of a container in the common model and how many items hold each, in a fixed order; the
/// target decides for each one where it goes or why it is lost, so nothing is left out of the report.
public enum MigrationAttribute: Sendable, Hashable {
    case body, author, createdAt, updatedAt, labels, status, field(String), comments, commentAuthor, commentDate
    case attachments, links, removedItems, description, linkedContainer, position

    public var name: String {
        switch self {
        case .body: return "body"
        case .author: return "author"
        case .createdAt: return "created"
        case .updatedAt: return "updated"
        case .labels: return "labels"
        case .status: return "status"
        case .field(let n): return "field \(n)"
        case .comments: return "comments"
        case .commentAuthor: return "comment author"
        case .commentDate: return "comment date"
        case .attachments: return "attachments"
        case .links: return "links"
        case .removedItems: return "removed items"
        case .description: return "description"
        case .linkedContainer: return "link to another container"
        case .position: return "position"
        }
    }
}

/// What a target does with one attribute.
public enum AttributeDecision: Sendable {
    case carried(to: String)
    case lost(String)
}

public enum MigrationPlanner {
    /// Every attribute present in `container` with how many items (links, comments: how many of those) hold it.
    public static func survey(_ container: MigrationContainer) -> [(MigrationAttribute, Int)] {
        let c = container.readable
        let live = c.items.filter { !$0.isRemoved }
        var out: [(MigrationAttribute, Int)] = []
        func add(_ a: MigrationAttribute, _ n: Int) { if n > 0 { out.append((a, n)) } }
        add(.description, (c.summary?.isEmpty ?? true) ? 0 : 1)
        add(.body, live.filter { !$0.body.isEmpty }.count)
        add(.author, live.filter { $0.author != nil }.count)
        add(.createdAt, live.filter { $0.createdAt != nil }.count)
        add(.updatedAt, live.filter { $0.updatedAt != nil }.count)
        add(.labels, live.filter { !$0.labels.isEmpty }.count)
        add(.status, live.filter { $0.status != nil }.count)
        for name in container.fieldNames {
            add(.field(name), live.filter { $0.fields.contains { $0.name == name } }.count)
        }
        let comments = live.flatMap(\.comments)
        add(.comments, comments.count)
        add(.commentAuthor, comments.filter { $0.author != nil }.count)
        add(.commentDate, comments.filter { $0.createdAt != nil }.count)
        add(.attachments, live.reduce(0) { $0 + $1.attachments.count })
        let ids = Set(live.map(\.id))
        add(.links, c.links.filter { ids.contains($0.from) && ids.contains($0.to) }.count)
        add(.linkedContainer, live.filter { $0.linkedContainerID != nil }.count)
        add(.position, live.filter { $0.frame != nil }.count)
        add(.removedItems, c.items.count - live.count)
        return out
    }

    /// A container's plan: every surveyed attribute carried or lost as `decide` says, the source's own losses
    /// after them, and the status mapping.
    public static func plan(
        _ container: MigrationContainer, targetKind: String, target: String, targetExists: Bool = false,
        titleTo: String, statuses: [AttributeMapping] = [], decide: (MigrationAttribute) -> AttributeDecision
    ) -> ContainerPlan {
        var plan = ContainerPlan(
            sourceID: container.readable.id, sourceKind: container.readable.kind, sourceTitle: container.readable.title,
            targetKind: targetKind, target: target, targetExists: targetExists,
            items: container.readable.items.filter { !$0.isRemoved }.count, statuses: statuses)
        plan.carried.append(AttributeMapping(from: "title", to: titleTo, items: plan.items))
        for (attribute, n) in survey(container) {
            switch decide(attribute) {
            case .carried(let to): plan.carried.append(AttributeMapping(from: attribute.name, to: to, items: n))
            case .lost(let reason): plan.notCarried.append(MigrationLoss(attribute: attribute.name, items: n, reason: reason))
            }
        }
        plan.notCarried += container.losses
        return plan
    }

    /// Source statuses in order of first use, with the target name each maps to and its item count.
    public static func statuses(_ container: MigrationContainer, target: (String) -> String) -> [AttributeMapping] {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for item in container.readable.items where !item.isRemoved {
            guard let s = item.status else { continue }
            if counts[s] == nil { order.append(s) }
            counts[s, default: 0] += 1
        }
        return order.map { AttributeMapping(from: $0, to: target($0), items: counts[$0] ?? 0) }
    }

    /// The container's statuses after the mapping's renames, in the source's order (`statusOrder`, used or not)
    /// followed by any other status in order of first use, each once.
    public static func statusOptions(_ container: MigrationContainer, defaultStatus: String? = nil) -> [String] {
        var out: [String] = []
        func add(_ s: String) { if !s.isEmpty && !out.contains(s) { out.append(s) } }
        for s in container.statusOrder { add(container.renamed(s)) }
        for item in container.readable.items where !item.isRemoved {
            if let s = item.status { add(container.renamed(s)) }
        }
        let unset = container.readable.items.contains { !$0.isRemoved && $0.status == nil }
        if unset, let d = defaultStatus { add(d) }
        return out
    }

    /// Text of the fields an item carries as lines `Name: value`, for targets that keep them in the body.
    public static func fieldLines(_ item: ReadableItem) -> [String] {
        item.fields.compactMap { f in MigrationContainer.text(f.value).map { "\(f.name): \($0)" } }
    }

    /// A stable id for a derived entity: the source ids joined, safe for any service.
    public static func derivedID(_ parts: String...) -> String {
        parts.map { ArchivePath.component($0) }.joined(separator: "~")
    }
}
