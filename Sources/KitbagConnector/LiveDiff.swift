import Foundation
import KitbagArchive
import KitbagCore

/// Which part of an archive a live comparison or a restore looks at (`--only KIND:ID`, `--container ID`,
/// `--match TEXT`); everything when empty. Containers named here, or holding an item named here, are the only ones
/// read from the live account.
public struct RestoreScope: Sendable, Equatable {
    /// `KIND:ID` pairs; a container kind (`space`, `app`) brings its contents.
    public var only: [(kind: String, id: String)]
    /// Whole containers by id.
    public var containers: [String]
    /// Case-insensitive text in an entity's title (a container whose title matches brings its contents).
    public var match: String?

    public init(only: [(kind: String, id: String)] = [], containers: [String] = [], match: String? = nil) {
        self.only = only
        self.containers = containers
        self.match = match
    }

    public var isEverything: Bool { only.isEmpty && containers.isEmpty && (match ?? "").isEmpty }

    public static func == (a: RestoreScope, b: RestoreScope) -> Bool {
        a.only.map { "\($0.kind):\($0.id)" } == b.only.map { "\($0.kind):\($0.id)" } && a.containers == b.containers
            && a.match == b.match
    }

    /// Parses `KIND:ID`; nil when either side is empty.
    public static func pair(_ text: String) -> (kind: String, id: String)? {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (parts[0], parts[1])
    }

    /// Whether an entity belongs to the scope. `containerTitle` is the title of the container it is in.
    func includes(kind: String, id: String, container: String?, title: String?, containerKind: String, containerTitle: String?)
        -> Bool
    {
        if isEverything { return true }
        if let container, containers.contains(container) { return true }
        for o in only {
            if o.kind == kind && o.id == id { return true }
            if let container, o.kind == containerKind && o.id == container { return true }
        }
        if let match, !match.isEmpty {
            if title?.localizedCaseInsensitiveContains(match) == true { return true }
            if containerTitle?.localizedCaseInsensitiveContains(match) == true { return true }
        }
        return false
    }
}

/// What a connector tells the shared live comparison about its archives: which keys change by themselves or belong
/// to the server (never compared, never written back), which files hold the same kind in another state (Kinopio's
/// `removedCards` are cards in the trash), and which flag marks a soft-removed entity.
public struct LiveRules: Sendable {
    /// Keys set aside when comparing (`updatedAt`, `createdAt`, `url`, …).
    public var ignoredKeys: Set<String>
    /// Archive kind → the kind it is a removed state of (`removedCard` → `card`).
    public var removedKinds: [String: String]
    /// The key that marks an entity as soft-removed (`isRemoved`), if the service has a trash.
    public var removedFlag: String?
    /// Singular kind of the containers (`space`).
    public var containerKind: String
    /// Kinds compared; others (users, collaborators) are left out of the live comparison. Empty: every kind.
    public var kinds: Set<String>
    /// Brings an entity of `kind` into the shape the service writes today before it is compared, given the entities
    /// of `context` in the same container (Kinopio folds a legacy connection type into its connections).
    public var normalize: (@Sendable (_ kind: String, _ value: JSONValue, _ context: [JSONValue]) -> JSONValue)?
    /// The container file whose entities `normalize` gets (`connectionTypes`).
    public var normalizeContext: String?
    /// Journal kinds whose entries map archived ids to the new ids a restore gave (services that choose ids:
    /// `["app", "record"]`). Empty where a restore keeps the archived ids (Kinopio).
    public var journalKinds: [String]
    /// A live entity's value with the ids a restore gave turned back into archived ids — its own `id` and every
    /// reference it holds — so that it compares with the archived entity. Nil: only `id`, through `ids.back[kind]`.
    public var translate: (@Sendable (_ kind: String, _ value: JSONValue, _ ids: RoundTripIDs) -> JSONValue)?
    /// Per kind, keys set aside when comparing an entity a restore created again under a new id: what the service
    /// assigns and no client can set (record numbers, authors, creation times). The report says so (`notRestored`).
    public var notRestorableKeys: [String: Set<String>]
    /// An entity as the archive (or the live export) holds it, in the shape compared, with its `id` — for services
    /// whose entities name their id otherwise (Kintone: `appId`, a record's `$id` field, comment ids per record).
    /// Gets the container's id (nil for a container itself). Nil: compared as read.
    public var shape: (@Sendable (_ kind: String, _ value: JSONValue, _ container: String?) -> JSONValue)?
    /// Kinds kept in the account folder that are compared too, as entities of no container (Kitemaker's initiatives
    /// and feedback) — only where the live read holds their file: a narrow read that leaves them out compares none.
    public var accountKinds: Set<String>

    public init(
        ignoredKeys: Set<String>, removedKinds: [String: String] = [:], removedFlag: String? = nil, containerKind: String,
        kinds: Set<String> = [], normalizeContext: String? = nil,
        normalize: (@Sendable (String, JSONValue, [JSONValue]) -> JSONValue)? = nil,
        shape: (@Sendable (String, JSONValue, String?) -> JSONValue)? = nil, journalKinds: [String] = [],
        notRestorableKeys: [String: Set<String>] = [:],
        translate: (@Sendable (String, JSONValue, RoundTripIDs) -> JSONValue)? = nil, accountKinds: Set<String> = []
    ) {
        self.accountKinds = accountKinds
        self.shape = shape
        self.ignoredKeys = ignoredKeys
        self.removedKinds = removedKinds
        self.removedFlag = removedFlag
        self.containerKind = containerKind
        self.kinds = kinds
        self.normalizeContext = normalizeContext
        self.normalize = normalize
        self.journalKinds = journalKinds
        self.notRestorableKeys = notRestorableKeys
        self.translate = translate
    }

    /// A live entity's value as the archive would hold it: ids a restore gave turned back (`translate`, else `id`
    /// through `ids.back[kind]`); nil `ids` or an entity the restore did not create leaves it as it is.
    func archivedShape(kind: String, _ value: JSONValue, ids: RoundTripIDs?) -> JSONValue {
        guard let ids, !ids.back.isEmpty else { return value }
        if let translate { return translate(kind, value, ids) }
        guard let id = value["id"]?.idString, let archived = ids.back[kind]?[id], var object = value.objectValue else { return value }
        object["id"] = .string(archived)
        return .object(object)
    }
}

/// What differs between an archive and the live account it came from (`kitbag diff ARCHIVE --live`).
public struct LiveDiff: Sendable, Codable, Equatable {
    public enum Change: String, Sendable, Codable {
        /// In the archive, gone from the account.
        case deleted
        /// In the archive, in the account's trash (soft-removed since the snapshot).
        case removed
        /// In both, with other values in some fields.
        case changed
        /// In the account, not in the archive.
        case added
    }

    public struct Entry: Sendable, Codable, Equatable {
        public var kind: String
        /// The container's id (nil for a container itself).
        public var container: String?
        public var id: String
        public var title: String?
        public var change: Change
        /// Changed fields, sorted (only for `changed`).
        public var fields: [String]?

        public init(kind: String, container: String?, id: String, title: String?, change: Change, fields: [String]? = nil) {
            self.kind = kind
            self.container = container
            self.id = id
            self.title = title
            self.change = change
            self.fields = fields
        }
    }

    public struct Tally: Sendable, Codable, Equatable {
        public var deleted = 0
        public var removed = 0
        public var changed = 0
        public var added = 0
        public var unchanged = 0
    }

    public var archive: String
    public var service: ServiceName
    public var account: ArchiveInfo.Account
    /// Containers read from the live account (nil: every container it lists).
    public var containersRead: [String]?
    public var kinds: [String: Tally]
    public var entries: [Entry]

    public var isEmpty: Bool { entries.isEmpty }
}

/// One entity of an archive as the comparison sees it.
struct ComparedEntity {
    var kind: String
    var container: String?
    var id: String
    var title: String?
    var removed: Bool
    var value: JSONValue
    /// Created again by a restore under a new id (its `notRestorableKeys` are set aside).
    var restored = false
}

/// Compares an archive with a fresh export of (a part of) the live account, entity by entity.
public enum LiveComparison {
    /// Container folders of an archive (`data/spaces/ID`) → (id, title), from each container's own entity file.
    /// On the live side (`ids` set) a container a restore created again is named by its archived id.
    static func containers(_ reader: SnapshotReader, rules: LiveRules, ids: RoundTripIDs? = nil) throws
        -> [String: (id: String, title: String?)]
    {
        var out: [String: (id: String, title: String?)] = [:]
        for entry in reader.jsonLinesEntries() where entry.kind == rules.containerKind {
            let folder = (entry.path as NSString).deletingLastPathComponent
            guard folder != ContainerRef.account.archiveFolder else { continue }
            for read in try reader.values(at: entry.path) {
                let value = rules.shape?(rules.containerKind, read, nil) ?? read
                if let id = value["id"]?.idString { out[folder] = (ids?.back[rules.containerKind]?[id] ?? id, ArchiveDiffTitle.title(value)) }
            }
        }
        return out
    }

    /// Every entity of an archive, outside the account folder, keyed by `kind/id` (the container by its kind); only
    /// those of the containers `containers` names when it is set. `ids` (live side only): the ids a restore gave,
    /// turned back into archived ids. `account`: kinds of the account folder taken too, whatever `containers` says,
    /// as entities of no container.
    static func entities(
        _ reader: SnapshotReader, rules: LiveRules, containers wanted: Set<String>?, ids: RoundTripIDs? = nil,
        account: Set<String> = []
    ) throws -> [String: ComparedEntity] {
        let named = try containers(reader, rules: rules, ids: ids)
        // Containers a restore created again (live side): everything in them was created again too, even where the
        // service gave an item the id it had (a new Kintone app numbers its records from 1 again).
        let recreated = Set(ids?.back[rules.containerKind]?.values.map { $0 } ?? [])
        var out: [String: ComparedEntity] = [:]
        var context: [String: [JSONValue]] = [:]
        if let file = rules.normalizeContext {
            for entry in reader.jsonLinesEntries() where (entry.path as NSString).lastPathComponent == file + ".jsonl" {
                context[(entry.path as NSString).deletingLastPathComponent] = try reader.values(at: entry.path)
            }
        }
        for entry in reader.jsonLinesEntries() {
            let folder = (entry.path as NSString).deletingLastPathComponent
            if folder == ContainerRef.account.archiveFolder, let kind = entry.kind, account.contains(kind) {
                for stored in try reader.values(at: entry.path) {
                    let raw = rules.archivedShape(kind: kind, stored, ids: ids)
                    guard let id = raw["id"]?.idString else { continue }
                    let value = rules.normalize?(kind, raw, []) ?? raw
                    out["\(kind)/\(id)"] = ComparedEntity(
                        kind: kind, container: nil, id: id, title: ArchiveDiffTitle.title(value), removed: false, value: value,
                        restored: stored["id"]?.idString != id)
                }
                continue
            }
            guard let container = named[folder], wanted?.contains(container.id) ?? true else { continue }
            let archived = entry.kind ?? "entity"
            let kind = rules.removedKinds[archived] ?? archived
            guard rules.kinds.isEmpty || rules.kinds.contains(kind) else { continue }
            for stored in try reader.values(at: entry.path) {
                let read = rules.shape?(kind, stored, kind == rules.containerKind ? nil : container.id) ?? stored
                let raw = rules.archivedShape(kind: kind, read, ids: ids)
                guard let id = raw["id"]?.idString else { continue }
                let restored = read["id"]?.idString != id || recreated.contains(container.id)
                let value = rules.normalize?(kind, raw, context[folder] ?? []) ?? raw
                let removed = rules.removedKinds[archived] != nil
                    || (rules.removedFlag.flatMap { value[$0]?.boolValue } ?? false)
                let isContainer = kind == rules.containerKind
                let key = "\(kind)/\(id)"
                // An entity archived in both states (a removed card also inside `cards`) counts once, as removed.
                if let seen = out[key], seen.removed && !removed { continue }
                out[key] = ComparedEntity(
                    kind: kind, container: isContainer ? nil : container.id, id: id, title: ArchiveDiffTitle.title(value),
                    removed: removed, value: value, restored: restored)
            }
        }
        return out
    }

    /// The fields whose values differ, ignored keys and the removed flag aside.
    /// `setAside`: further keys not compared (what a restore could not set on an entity it created again).
    public static func changedFields(_ a: JSONValue, _ b: JSONValue, rules: LiveRules, setAside: Set<String> = []) -> [String] {
        let left = a.objectValue ?? JSONObject(), right = b.objectValue ?? JSONObject()
        var keys = Set(left.keys).union(right.keys)
        keys.subtract(rules.ignoredKeys)
        keys.subtract(setAside)
        if let flag = rules.removedFlag { keys.remove(flag) }
        return keys.sorted().filter { k in
            let l = left[k] ?? .null, r = right[k] ?? .null
            return l.serialized() != r.serialized()
        }
    }

    /// The account-folder kinds of `rules` whose file `reader` holds (what a live read brought of them).
    static func accountKinds(in reader: SnapshotReader, rules: LiveRules) -> Set<String> {
        guard !rules.accountKinds.isEmpty else { return [] }
        var out = Set<String>()
        for entry in reader.jsonLinesEntries() where (entry.path as NSString).deletingLastPathComponent == ContainerRef.account.archiveFolder {
            if let kind = entry.kind, rules.accountKinds.contains(kind) { out.insert(kind) }
        }
        return out
    }

    /// Whether the scope names something of the account folder the comparison takes (`accountKinds`): by kind and id,
    /// or by title with `--match`.
    public static func namesAccountEntity(in archive: SnapshotReader, scope: RestoreScope, rules: LiveRules) throws -> Bool {
        guard !rules.accountKinds.isEmpty, !scope.isEverything else { return false }
        let kinds = accountKinds(in: archive, rules: rules)
        guard !kinds.isEmpty else { return false }
        for e in try entities(archive, rules: rules, containers: [], account: kinds).values {
            if scope.includes(kind: e.kind, id: e.id, container: nil, title: e.title, containerKind: rules.containerKind, containerTitle: nil) {
                return true
            }
        }
        return false
    }

    /// The containers a scope needs read (archive folder → id): every one holding something the scope names, and
    /// those it names by id.
    public static func folders(in archive: SnapshotReader, scope: RestoreScope, rules: LiveRules) throws -> [String: String]? {
        guard !scope.isEverything else { return nil }
        let named = try containers(archive, rules: rules)
        var folders: [String: String] = [:]
        for (folder, c) in named where scope.containers.contains(c.id) || scope.only.contains(where: { $0.kind == rules.containerKind && $0.id == c.id }) {
            folders[folder] = c.id
        }
        let items = scope.only.filter { $0.kind != rules.containerKind }
        if !items.isEmpty || !(scope.match ?? "").isEmpty {
            for e in try entities(archive, rules: rules, containers: nil).values {
                let folder = named.first { $0.value.id == (e.container ?? e.id) }?.key
                guard let folder, folders[folder] == nil else { continue }
                let containerTitle = named[folder]?.title
                if scope.includes(
                    kind: e.kind, id: e.id, container: e.container, title: e.title, containerKind: rules.containerKind,
                    containerTitle: containerTitle)
                {
                    folders[folder] = named[folder]?.id
                }
            }
        }
        // A container named but not in the archive is still read: what is in it now may be `--delete-added`.
        for id in scope.containers + scope.only.filter({ $0.kind == rules.containerKind }).map(\.id)
        where !folders.values.contains(id) {
            folders["(not in the archive) \(id)"] = id
        }
        return folders
    }

    /// Compares `archive` with `live` (a fresh export of the same account): only the given containers (by archived
    /// id) when `containers` is set, then keeps the entries the scope includes. `restored`: the ids an earlier restore
    /// gave (from its journal), so that what it created again pairs with what the archive holds.
    public static func compare(
        archive: SnapshotReader, live: SnapshotReader, rules: LiveRules, containers: Set<String>?, scope: RestoreScope,
        archiveName: String, restored: RoundTripIDs? = nil
    ) throws -> LiveDiff {
        // Account-folder kinds only where the live read brought them (and the archive holds them).
        let account = accountKinds(in: live, rules: rules).intersection(accountKinds(in: archive, rules: rules))
        let before = try entities(archive, rules: rules, containers: containers, account: account)
        let now = try entities(live, rules: rules, containers: containers, ids: restored, account: account)
        let titles = Dictionary(
            (try Self.containers(archive, rules: rules).values.map { ($0.id, $0.title) })
                + (try Self.containers(live, rules: rules, ids: restored).values.map { ($0.id, $0.title) }),
            uniquingKeysWith: { a, _ in a })
        var kinds: [String: LiveDiff.Tally] = [:]
        var entries: [LiveDiff.Entry] = []
        func include(_ e: ComparedEntity) -> Bool {
            // An entity of the account folder is in no container.
            let container = e.kind == rules.containerKind ? e.id : e.container
            return scope.includes(
                kind: e.kind, id: e.id, container: container, title: e.title, containerKind: rules.containerKind,
                containerTitle: container.flatMap { titles[$0] ?? nil })
        }
        for key in Set(before.keys).union(now.keys).sorted() {
            let old = before[key], new = now[key]
            guard let any = old ?? new, include(any) else { continue }
            var entry = LiveDiff.Entry(
                kind: any.kind, container: any.container, id: any.id, title: any.title, change: .changed)
            switch (old, new) {
            case (let o?, nil):
                // Already in the trash when the archive was made and gone now: nothing was lost since.
                if o.removed { kinds[o.kind, default: .init()].unchanged += 1; continue }
                entry.change = .deleted
            case (nil, let n?):
                if n.removed { continue }
                entry.change = .added
            case (let o?, let n?):
                if !o.removed && n.removed {
                    entry.change = .removed
                } else {
                    let fields = changedFields(
                        o.value, n.value, rules: rules, setAside: n.restored ? rules.notRestorableKeys[n.kind] ?? [] : [])
                    guard !fields.isEmpty || o.removed != n.removed else {
                        kinds[o.kind, default: .init()].unchanged += 1
                        continue
                    }
                    // Taken out of the trash since the snapshot: reported as a change of the removed flag.
                    entry.fields = o.removed != n.removed ? fields + [rules.removedFlag ?? "removed"] : fields
                    entry.title = n.title ?? o.title
                }
            case (nil, nil): continue
            }
            switch entry.change {
            case .deleted: kinds[entry.kind, default: .init()].deleted += 1
            case .removed: kinds[entry.kind, default: .init()].removed += 1
            case .changed: kinds[entry.kind, default: .init()].changed += 1
            case .added: kinds[entry.kind, default: .init()].added += 1
            }
            entries.append(entry)
        }
        return LiveDiff(
            archive: archiveName, service: archive.info.service, account: archive.info.source.account,
            containersRead: containers.map { $0.sorted() }, kinds: kinds, entries: entries)
    }
}

/// The one-line title `kitbag diff` shows for an entity (shared with `ArchiveDiff`'s rule).
public enum ArchiveDiffTitle {
    /// Its `name`, `title`, `subject`, `summary` or `label` (or a Kintone field's `value` of that name), first line,
    /// at most 80 characters.
    public static func title(_ value: JSONValue) -> String? {
        for key in ["name", "title", "subject", "summary", "label"] {
            if let text = value[key]?.stringValue ?? value[key]?["value"]?.stringValue, !text.isEmpty {
                let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
                return line.count > 80 ? String(line.prefix(79)) + "…" : line
            }
        }
        return nil
    }
}
