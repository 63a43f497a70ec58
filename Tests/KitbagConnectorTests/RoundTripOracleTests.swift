import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagJournal
import KitbagTestSupport
import Testing

/// The shared round-trip oracle on archives written by libarchive and a journal in a real SQLite file: it must see
/// every kind of difference, and none where only ids and server-owned keys differ.
@Suite struct RoundTripOracleTests {
    static let time = Date(timeIntervalSince1970: 1_790_000_000)

    /// Generic rules: `updatedAt` is the server's; ids translate back through the journal; a `labels` sibling file
    /// names each item's label, and the source side compares the name instead of the id.
    static let rules = RoundTripRules(
        containerFolder: "spaces", containerKind: "space", skippedContainerFiles: ["users"], accountFiles: ["tags"],
        journalKinds: ["space", "item", "label"]
    ) { values, side, file, ids, _ in
        var values = values
        if file.name == "items" {
            let labels = Dictionary(
                try file.sibling("labels").map { ($0["id"]?.idString ?? "", $0["name"] ?? .null) },
                uniquingKeysWith: { a, _ in a })
            values = values.map { item in
                var item = item
                if let label = item["label"]?.idString { item["label"] = labels[label] ?? .string("?") }
                return item
            }
        }
        let translate = side == .target ? ids.merged : [:]
        return RoundTripRules.byID(values) { RoundTripRules.normalized($0, dropping: ["updatedAt"], translate: translate) }
    }

    /// Writes an archive of `spaces` (space id → file name → lines) and account-level `tags`.
    static func archive(_ url: URL, spaces: [String: [String: [JSONValue]]], tags: [JSONValue]) throws {
        let info = ArchiveInfo(
            service: .kinopio, source: .init(baseURL: "http://127.0.0.1:1", account: .init(id: "u1", name: "Ada")),
            startedAt: time, renderings: [])
        let writer = try SnapshotWriter(destination: .file(url), format: .tarZst, info: info, snapshotTime: time)
        try writer.writeJSONLines(container: .account, file: "tags", kind: "tag", values: tags)
        for (space, files) in spaces.sorted(by: { $0.key < $1.key }) {
            for (file, lines) in files.sorted(by: { $0.key < $1.key }) {
                let kind = file == "items" ? "item" : file == "labels" ? "label" : file == "users" ? "user" : "space"
                try writer.writeJSONLines(container: ContainerRef(kind: "spaces", id: space), file: file, kind: kind, values: lines)
            }
        }
        _ = try writer.seal(notExported: [], finishedAt: time)
    }

    static func item(_ id: String, _ name: String, label: String = "l1", updatedAt: String = "2026-01-01") -> JSONValue {
        ["id": .string(id), "name": .string(name), "label": .string(label), "updatedAt": .string(updatedAt)]
    }

    /// A source of two spaces and the target its import made: s1 → t1 (items a, b → ta, tb; labels l1, l2 → m1, m2),
    /// s2 never imported.
    func compare(
        target: [String: [String: [JSONValue]]], tags: [JSONValue] = [["id": "g1", "name": "urgent"]],
        notImported: [NotExported] = []
    ) throws -> [RoundTripDifference] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-oracle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { Scratch.remove(dir) }
        let source = dir.appendingPathComponent("source.tar.zst")
        let exported = dir.appendingPathComponent("target.tar.zst")
        try Self.archive(
            source,
            spaces: [
                "s1": [
                    "space": [["id": "s1", "name": "Plans"]],
                    "items": [Self.item("a", "Alpha"), Self.item("b", "Beta", label: "l2")],
                    "labels": [["id": "l1", "name": "red"], ["id": "l2", "name": "blue"]],
                    "users": [["id": "u1", "name": "Ada"]],
                ],
                "s2": ["space": [["id": "s2", "name": "Lost"]]],
            ], tags: [["id": "g1", "name": "urgent"]])
        try Self.archive(exported, spaces: target, tags: tags)
        let journalURL = dir.appendingPathComponent("journal.sqlite")
        do {
            let journal = try ImportJournal(
                url: journalURL,
                binding: JournalBinding(
                    sourceService: "kinopio", sourceAccount: "u1", targetService: "kinopio",
                    targetBaseURL: "http://127.0.0.1:2", targetAccount: "u2"))
            _ = try journal.plan(kind: "space", [("s1", "t1")])
            try journal.markCreated(kind: "space", [("s1", "t1")])
            _ = try journal.plan(kind: "item", [("a", "ta"), ("b", "tb")])
            try journal.markCreated(kind: "item", [("a", "ta"), ("b", "tb")])
            _ = try journal.plan(kind: "label", [("l1", "m1"), ("l2", "m2")])
            try journal.markCreated(kind: "label", [("l1", "m1"), ("l2", "m2")])
        }
        let a = try SnapshotReader.open(source)
        defer { a.close() }
        let b = try SnapshotReader.open(exported)
        defer { b.close() }
        return try Self.rules.compare(
            source: a, target: b, journal: try ImportJournal(readingFrom: journalURL), notImported: notImported)
    }

    /// The target as a faithful import leaves it: new ids, new label ids with the same names, new times, other users.
    static func faithful() -> [String: [String: [JSONValue]]] {
        [
            "t1": [
                "space": [["id": "t1", "name": "Plans", "updatedAt": "2026-12-06"]],
                "items": [
                    item("ta", "Alpha", label: "m1", updatedAt: "2026-12-06"),
                    item("tb", "Beta", label: "m2", updatedAt: "2026-12-06"),
                ],
                "labels": [["id": "m1", "name": "red"], ["id": "m2", "name": "blue"]],
                "users": [["id": "u2", "name": "Bo"]],
            ]
        ]
    }

    @Test func idsServerKeysAndAccountFilesSetAsideLeaveOnlyTheSpaceThatWasNotImported() throws {
        let diffs = try compare(target: Self.faithful())
        #expect(diffs == [RoundTripDifference(path: "data/spaces/s2/space.jsonl", id: "s2", detail: "space was not imported")])
    }

    @Test func aChangedMissingOrExtraEntityIsReportedWithItsSourceID() throws {
        var target = Self.faithful()
        target["t1"]!["items"] = [
            Self.item("ta", "Alpha (edited)", label: "m1"),
            Self.item("tz", "Stray", label: "m1"),
        ]
        let diffs = try compare(target: target, notImported: [NotExported(kind: "space", container: "s2", reason: "test")])
        #expect(diffs.map(\.id) == ["a", "b", "tz"])
        #expect(diffs.map(\.path) == Array(repeating: "data/spaces/s1/items.jsonl", count: 3))
        #expect(diffs[0].detail.hasPrefix("differs: ") && diffs[0].detail.contains("Alpha (edited)"))
        #expect(diffs[1].detail == "missing after the round trip")
        #expect(diffs[2].detail == "appeared after the round trip")
    }

    @Test func aReferenceRewrittenToTheWrongEntityIsADifference() throws {
        var target = Self.faithful()
        // Beta's label now points at the label named red: the ids exist, the reference is wrong.
        target["t1"]!["items"] = [Self.item("ta", "Alpha", label: "m1"), Self.item("tb", "Beta", label: "m1")]
        let diffs = try compare(target: target, notImported: [NotExported(kind: "space", reason: "test")])
        #expect(diffs.map(\.id) == ["b"])
    }

    @Test func accountFilesAreComparedAtTheSamePathAndKindsNotImportedAreSetAside() throws {
        var target = Self.faithful()
        target["t1"]!["items"] = []
        let diffs = try compare(
            target: target, tags: [["id": "g1", "name": "later"]],
            notImported: [NotExported(kind: "item", container: "s1", reason: "test"), NotExported(kind: "space", container: "s2", reason: "test")])
        #expect(diffs.map(\.path) == ["data/account/tags.jsonl"])
        #expect(diffs.first?.id == "g1")
    }
}
