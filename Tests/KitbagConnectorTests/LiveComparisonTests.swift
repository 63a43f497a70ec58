import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagJournal
import KitbagTestSupport
import Testing

/// The live comparison after a restore that created things again under new ids (issue 19): the restore journal
/// pairs them with what the archive holds, so `diff --live` stops reporting "deleted + added" and a rerun plans
/// nothing for them; what the service assigns itself is set aside only for what was created again.
@Suite struct LiveComparisonTests {
    /// Items hold a `label` reference; the service numbers items itself (`number`).
    static let rules = LiveRules(
        ignoredKeys: ["updatedAt"], containerKind: "space", journalKinds: ["space", "item", "label"],
        notRestorableKeys: ["item": ["number"]]
    ) { kind, value, ids in
        guard var o = value.objectValue else { return value }
        if let id = o["id"]?.idString, let back = ids.back[kind]?[id] { o["id"] = .string(back) }
        if let label = o["label"]?.idString, let back = ids.back["label"]?[label] { o["label"] = .string(back) }
        return .object(o)
    }

    static func item(_ id: String, _ name: String, label: String, number: Int) -> JSONValue {
        ["id": .string(id), "name": .string(name), "label": .string(label), "number": .number(String(number))]
    }

    /// The archive: space s1 (items a, b) and s2 (item c). Live: s1 was deleted and restored as t1 (a → ta, b → tb,
    /// new numbers); in s2, c was renumbered by hand and a new item d added; `restored` says which ids are whose.
    func diff(journaled: Bool) throws -> LiveDiff {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { Scratch.remove(dir) }
        let archived = dir.appendingPathComponent("archive.tar.zst"), live = dir.appendingPathComponent("live.tar.zst")
        let labels: [JSONValue] = [["id": "l1", "name": "red"]]
        try RoundTripOracleTests.archive(
            archived,
            spaces: [
                "s1": ["space": [["id": "s1", "name": "Plans"]], "items": [Self.item("a", "Alpha", label: "l1", number: 1), Self.item("b", "Beta", label: "l1", number: 2)], "labels": labels],
                "s2": ["space": [["id": "s2", "name": "Kept"]], "items": [Self.item("c", "Gamma", label: "l2", number: 3)]],
            ], tags: [])
        try RoundTripOracleTests.archive(
            live,
            spaces: [
                "t1": ["space": [["id": "t1", "name": "Plans"]], "items": [Self.item("ta", "Alpha", label: "m1", number: 7), Self.item("tb", "Beta", label: "m1", number: 8)], "labels": [["id": "m1", "name": "red"]]],
                "s2": ["space": [["id": "s2", "name": "Kept"]], "items": [Self.item("c", "Gamma", label: "l2", number: 9), Self.item("d", "Delta", label: "l2", number: 10)]],
            ], tags: [])
        let journalURL = dir.appendingPathComponent("restore.sqlite")
        if journaled {
            let journal = try ImportJournal(
                url: journalURL,
                binding: JournalBinding(
                    sourceService: "kinopio", sourceAccount: "u1", targetService: "kinopio", targetBaseURL: "http://127.0.0.1:1",
                    targetAccount: "u1"))
            for (kind, pairs) in [("space", [("s1", "t1")]), ("item", [("a", "ta"), ("b", "tb")]), ("label", [("l1", "m1")])] {
                _ = try journal.plan(kind: kind, pairs)
                try journal.markCreated(kind: kind, pairs)
            }
        }
        let ids = try RestoreJobs.restoredIDs(journal: journalURL, rules: Self.rules)
        #expect(ids.forward["item"]?["a"] == (journaled ? "ta" : nil))
        let a = try SnapshotReader.open(archived), b = try SnapshotReader.open(live)
        defer { a.close(); b.close() }
        return try LiveComparison.compare(
            archive: a, live: b, rules: Self.rules, containers: nil, scope: RestoreScope(), archiveName: "archive.tar.zst",
            restored: ids)
    }

    @Test func whatARestoreCreatedAgainPairsWithTheArchiveAndOnlyItsServerNumbersAreSetAside() throws {
        let d = try diff(journaled: true)
        let lines = d.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id) \($0.container ?? "-") \($0.fields ?? [])" }
        // The restored space, its items and label are the archived ones (numbers aside: the service gave new ones);
        // the hand-renumbered item is still a change, the new one an addition.
        #expect(lines == ["changed item c s2 [\"number\"]", "added item d s2 []"] || lines == ["added item d s2 []", "changed item c s2 [\"number\"]"], "\(lines)")
        #expect(d.kinds["item"]?.unchanged == 2 && d.kinds["space"]?.unchanged == 2)
    }

    @Test func withoutTheJournalTheSameLiveAccountIsDeletedPlusAdded() throws {
        let d = try diff(journaled: false)
        #expect(d.entries.contains { $0.change == .deleted && $0.kind == "space" && $0.id == "s1" })
        #expect(d.entries.contains { $0.change == .added && $0.kind == "space" && $0.id == "t1" })
        #expect(d.entries.contains { $0.change == .added && $0.kind == "item" && $0.id == "ta" && $0.container == "t1" })
    }
}
