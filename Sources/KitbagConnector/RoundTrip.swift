import Foundation
import KitbagArchive
import KitbagCore
import KitbagJournal

/// One difference a round trip found, named by the source archive's path and the entity's source id.
public struct RoundTripDifference: Sendable, CustomStringConvertible, Equatable {
    public var path: String
    public var id: String
    public var detail: String
    public var description: String { "\(path) \(id): \(detail)" }

    public init(path: String, id: String, detail: String) {
        self.path = path
        self.id = id
        self.detail = detail
    }
}

/// The ids an import gave, read from its journal: for each kind, target id → source id.
public struct RoundTripIDs: Sendable {
    /// Kind → (source id, target id) of every entity the import created, in source-id order.
    public let created: [String: [(source: String, target: String)]]
    /// Kind → target id → source id.
    public let back: [String: [String: String]]
    /// Target id → source id over every kind (ids are unique across kinds for the services that use this).
    public let merged: [String: String]
    /// Kind → source id → target id.
    public let forward: [String: [String: String]]

    /// No ids given (a journal not written yet).
    public static let none = RoundTripIDs(created: [:], kinds: [])

    /// `created` per kind; a target id met twice maps back to the later source id, the later kind of `kinds` first.
    init(created: [String: [(source: String, target: String)]], kinds: [String]) {
        self.created = created
        back = created.mapValues { Dictionary($0.map { ($0.target, $0.source) }, uniquingKeysWith: { _, b in b }) }
        forward = created.mapValues { Dictionary($0.map { ($0.source, $0.target) }, uniquingKeysWith: { _, b in b }) }
        merged = Dictionary(
            kinds.flatMap { (created[$0] ?? []).map { ($0.target, $0.source) } }, uniquingKeysWith: { _, b in b })
    }

    /// The `created` entries of `kinds` in `journal`, each kind in source-id order.
    public init(journal: ImportJournal, kinds: [String]) throws {
        var created: [String: [(source: String, target: String)]] = [:]
        for kind in kinds {
            for (source, entry) in try journal.entries(kind: kind).sorted(by: { $0.key < $1.key })
            where entry.state == .created && !entry.targetID.isEmpty {
                created[kind, default: []].append((source, entry.targetID))
            }
        }
        self.init(created: created, kinds: kinds)
    }
}

/// Which side of a round trip a file's values come from.
public enum RoundTripSide: Sendable {
    /// The archive the import read: ids are source ids.
    case source
    /// The export of the account imported into: ids are target ids, translated back through `RoundTripIDs`.
    case target
}

/// One file the oracle compares, on one side, as the connector's rules see it.
public struct RoundTripFile {
    /// The file's path in the source archive.
    public var path: String
    /// The file's name without `.jsonl` (`cards`, `records`).
    public var name: String
    /// The manifest's kind of its lines.
    public var kind: String?
    /// The source and target container ids (nil for an account-level file).
    public var sourceContainer: String?
    public var targetContainer: String?
    /// The values of another file (by name) in the same folder on the same side; empty when there is none.
    public var sibling: (String) throws -> [JSONValue] = { _ in [] }
}

/// What a connector declares about its round trip (rclone's fstests: the backend says what it cannot do, the
/// suite does the rest). The shared oracle (`RoundTripOracle`) pairs each file of the source archive with its
/// counterpart in the target's export through the journal, asks the rules for both sides' entries — keyed by
/// source id, normalised: server-owned keys set aside, target ids translated back — and reports what is missing,
/// what appeared and what differs.
public struct RoundTripRules: Sendable {
    /// The archive folder of the containers (`spaces`, `apps`) and the journal kind that maps them (`space`, `app`).
    public var containerFolder: String
    public var containerKind: String
    /// The container files compared (nil: every file but `skippedContainerFiles`).
    public var containerFiles: Set<String>?
    /// Container files that hold account data rather than importable content (a Kinopio space's users).
    public var skippedContainerFiles: Set<String>
    /// Account-level files (`data/account/NAME.jsonl`) compared at the same path in both archives.
    public var accountFiles: Set<String>
    /// Journal kinds whose ids the import chose, for translating target ids back.
    public var journalKinds: [String]
    /// The order differences are listed in, by source id.
    public var idOrder: @Sendable (String, String) -> Bool
    /// A file's entries on one side, keyed by source id (a key the source side cannot have, for a target entity
    /// the journal does not map), normalised so that equal content compares equal. `notImported` is what the
    /// import reported it could not carry.
    public var entries:
        @Sendable (_ values: [JSONValue], _ side: RoundTripSide, _ file: RoundTripFile, _ ids: RoundTripIDs,
            _ notImported: [NotExported]) throws -> [String: JSONValue]

    public init(
        containerFolder: String, containerKind: String, containerFiles: Set<String>? = nil,
        skippedContainerFiles: Set<String> = [], accountFiles: Set<String> = [], journalKinds: [String],
        idOrder: @escaping @Sendable (String, String) -> Bool = { $0 < $1 },
        entries: @escaping @Sendable (
            _ values: [JSONValue], _ side: RoundTripSide, _ file: RoundTripFile, _ ids: RoundTripIDs,
            _ notImported: [NotExported]
        ) throws -> [String: JSONValue]
    ) {
        self.containerFolder = containerFolder
        self.containerKind = containerKind
        self.containerFiles = containerFiles
        self.skippedContainerFiles = skippedContainerFiles
        self.accountFiles = accountFiles
        self.journalKinds = journalKinds
        self.idOrder = idOrder
        self.entries = entries
    }

    /// The oracle run with these rules (`RoundTripOracle.compare`).
    public func compare(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported] = []
    ) throws -> [RoundTripDifference] {
        try RoundTripOracle.compare(source: source, target: target, journal: journal, notImported: notImported, rules: self)
    }

    /// The oracle on two archive files and the journal file of the import between them (each opened and closed here).
    public func compare(sourceArchive: URL, targetArchive: URL, journal: URL, notImported: [NotExported] = []) throws
        -> [RoundTripDifference]
    {
        let source = try SnapshotReader.open(sourceArchive)
        defer { source.close() }
        let target = try SnapshotReader.open(targetArchive)
        defer { target.close() }
        return try compare(
            source: source, target: target, journal: try ImportJournal(readingFrom: journal), notImported: notImported)
    }

    /// Entries keyed by their `id` (translated back on the target side through `translate`), in the order given
    /// when a line has none.
    public static func byID(_ values: [JSONValue], normalize: (JSONValue) -> JSONValue) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (n, value) in values.enumerated() {
            let normalized = normalize(value)
            out[normalized["id"]?.idString ?? "#\(n)"] = normalized
        }
        return out
    }

    /// `value` with object keys in `volatileKeys` dropped at any depth and every string
    /// found in `translate` replaced by its source id; keys sorted, so key order does not matter.
    public static func normalized(_ value: JSONValue, dropping volatileKeys: Set<String>, translate: [String: String])
        -> JSONValue
    {
        switch value {
        case .object(let o):
            var out = JSONObject()
            for key in o.keys.sorted() where !volatileKeys.contains(key) {
                out[key] = normalized(o[key]!, dropping: volatileKeys, translate: translate)
            }
            return .object(out)
        case .array(let a): return .array(a.map { normalized($0, dropping: volatileKeys, translate: translate) })
        case .string(let s): return .string(translate[s] ?? s)
        default: return value
        }
    }
}

/// The one round-trip oracle: a source archive against the export of the account it was imported into.
public enum RoundTripOracle {
    /// Every difference between `source` and `target`, once ids are mapped back through `journal` and what the
    /// connector's `rules` set aside is left out; empty when the round trip is exact. Files of a kind the import
    /// reported it could not carry (`notImported`, for one container or for all) are not compared.
    public static func compare(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported],
        rules: RoundTripRules
    ) throws -> [RoundTripDifference] {
        let ids = try RoundTripIDs(journal: journal, kinds: rules.journalKinds)
        let containerTargets = try journal.entries(kind: rules.containerKind).filter { $0.value.state == .created }
        let targetPaths = Set(target.jsonLinesEntries().map(\.path))
        let sourcePaths = Set(source.jsonLinesEntries().map(\.path))
        var diffs: [RoundTripDifference] = []
        for entry in source.jsonLinesEntries() {
            let parts = entry.path.split(separator: "/").map(String.init)
            guard parts.count >= 3, parts[0] == "data", let last = parts.last, last.hasSuffix(".jsonl") else { continue }
            let name = String(last.dropLast(".jsonl".count))
            var file = RoundTripFile(path: entry.path, name: name, kind: entry.kind)
            let targetPath: String
            if parts.count == 4, parts[1] == rules.containerFolder {
                if rules.skippedContainerFiles.contains(name) { continue }
                if let only = rules.containerFiles, !only.contains(name) { continue }
                let sourceContainer = ArchivePath.decodeComponent(parts[2])
                if notImported.contains(where: {
                    $0.kind == entry.kind && ($0.container == nil || $0.container == sourceContainer)
                }) {
                    continue
                }
                guard let targetContainer = containerTargets[sourceContainer]?.targetID else {
                    diffs.append(
                        RoundTripDifference(
                            path: entry.path, id: sourceContainer, detail: "\(rules.containerKind) was not imported"))
                    continue
                }
                file.sourceContainer = sourceContainer
                file.targetContainer = targetContainer
                targetPath = "data/\(parts[1])/\(ArchivePath.component(targetContainer))/\(last)"
            } else if parts.count == 3, parts[1] == "account", rules.accountFiles.contains(name) {
                targetPath = entry.path
            } else {
                continue
            }
            func siblings(_ archive: SnapshotReader, _ path: String, _ paths: Set<String>) -> (String) throws -> [JSONValue] {
                let folder = path.split(separator: "/").dropLast().joined(separator: "/")
                return { name in
                    let sibling = "\(folder)/\(name).jsonl"
                    return paths.contains(sibling) ? try archive.values(at: sibling) : []
                }
            }
            var sourceFile = file
            sourceFile.sibling = siblings(source, entry.path, sourcePaths)
            var targetFile = file
            targetFile.sibling = siblings(target, targetPath, targetPaths)
            let want = try rules.entries(try source.values(at: entry.path), .source, sourceFile, ids, notImported)
            let got =
                targetPaths.contains(targetPath)
                ? try rules.entries(try target.values(at: targetPath), .target, targetFile, ids, notImported) : [:]
            for id in Set(want.keys).union(got.keys).sorted(by: rules.idOrder) {
                switch (want[id], got[id]) {
                case (let a?, let b?) where a != b:
                    diffs.append(RoundTripDifference(path: entry.path, id: id, detail: "differs: \(a) ≠ \(b)"))
                case (_?, nil):
                    diffs.append(RoundTripDifference(path: entry.path, id: id, detail: "missing after the round trip"))
                case (nil, _?):
                    diffs.append(RoundTripDifference(path: entry.path, id: id, detail: "appeared after the round trip"))
                default: break
                }
            }
        }
        return diffs
    }
}
