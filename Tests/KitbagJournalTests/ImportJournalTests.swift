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
