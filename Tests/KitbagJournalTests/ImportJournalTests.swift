import Foundation
import KitbagTestSupport
import Testing

@testable import KitbagJournal

@Suite struct ImportJournalTests {
    let binding = JournalBinding(
        sourceService: "kinopio", sourceAccount: "u1", targetService: "kinopio",
        targetBaseURL: "http://127.0.0.1:1", targetAccount: "u2")

    func tempFile() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)/j.sqlite")
    }

    @Test func plannedIDsSurviveReopeningTheFileAndExistingPlansWin() throws {
        let url = tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        do {
            let j = try ImportJournal(url: url, binding: binding)
            let r = try j.plan(kind: "card", [("a", "A1"), ("b", "B1")])
            #expect(r == ["a": "A1", "b": "B1"])
            try j.markCreated(kind: "card", [("a", "A1")])
        }
        let j = try ImportJournal(url: url, binding: binding)
        // A second plan for the same source ids keeps the first target ids (no new id, no duplicate).
        let again = try j.plan(kind: "card", [("a", "A2"), ("b", "B2"), ("c", "C2")])
        #expect(again == ["a": "A1", "b": "B1", "c": "C2"])
        let entries = try j.entries(kind: "card")
        #expect(try j.entries(kind: "card", sourceIDs: ["a", "zz"]) == ["a": entries["a"]!])
        #expect(entries["a"]?.state == .created)
        #expect(entries["b"]?.state == .planned)
        #expect(try j.counts()["card"]?.created == 1)
        #expect(try j.counts()["card"]?.planned == 2)
    }

    @Test func aJournalBoundToAnotherTargetIsRefusedWithAClearMessage() throws {
        let url = tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        _ = try ImportJournal(url: url, binding: binding)
        var other = binding
        other.targetAccount = "someone-else"
        let error = #expect(throws: JournalError.self) { try ImportJournal(url: url, binding: other) }
        #expect(error?.description.contains("use a new --journal file") == true)
    }

    @Test func onlyPlannedEntriesBecomeAttemptedAndCreatedOnesStayCreated() throws {
        let url = tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        let j = try ImportJournal(url: url, binding: binding)
        try j.plan(kind: "card", [("a", "A"), ("b", "B"), ("c", "C")])
        try j.markCreated(kind: "card", [("a", "A")])
        try j.markAttempted(kind: "card", sourceIDs: ["a", "b"])
        let e = try j.entries(kind: "card")
        #expect(e["a"]?.state == .created)
        #expect(e["b"]?.state == .attempted)
        #expect(e["c"]?.state == .planned)
    }

    /// What a restore created and someone deleted since is forgotten by pattern: only the matching entries of
    /// that kind, and the steps of the ids named; a `_` or `%` escaped matches itself only.
    @Test func forgetRemovesOnlyTheMatchingEntriesAndSteps() throws {
        let url = tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        let j = try ImportJournal(url: url, binding: binding)
        try j.markCreated(kind: "record", [("2/1", "40"), ("2/10", "41"), ("3/1", "42"), ("2_1", "43")])
        try j.markCreated(kind: "comment", [("2/1/1", "7"), ("2/1/2", "8"), ("2/10/1", "9")])
        try j.markStep("status-0", sourceIDs: ["2/1", "2/10"])
        try j.forget(kind: "record", matching: ["2/1", "2\\_1"])
        try j.forget(kind: "comment", matching: ["2/1/%"], steps: ["2/1"])
        #expect(try j.entries(kind: "record").keys.sorted() == ["2/10", "3/1"])
        #expect(try j.entries(kind: "comment").keys.sorted() == ["2/10/1"])
        #expect(try j.steps("status-0") == ["2/10"])
    }

    @Test func stepsAreRecordedOnce() throws {
        let url = tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        let j = try ImportJournal(url: url, binding: binding)
        try j.markStep("remove-card", sourceIDs: ["x", "y"])
        try j.markStep("remove-card", sourceIDs: ["x"])
        #expect(try j.steps("remove-card") == ["x", "y"])
        #expect(try j.steps("other").isEmpty)
    }

    @Test func aFileThatIsNotSQLiteGivesAClearError() throws {
        let url = tempFile()
        defer { Scratch.remove(url.deletingLastPathComponent()) }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(repeating: 0x41, count: 4096).write(to: url)
        let error = #expect(throws: JournalError.self) { try ImportJournal(url: url, binding: binding) }
        #expect(error?.description.contains(url.path) == true)
    }
}
