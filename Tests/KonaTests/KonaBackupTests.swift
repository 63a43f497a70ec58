import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Kona
import Testing

/// Incremental exports of Kona against a real sandbox on 127.0.0.1: unchanged spaces are copied from the previous
/// archive, the result is byte-identical to a full export at the same snapshot time.
@Suite("Kona incremental backups")
struct KonaBackupTests {
    /// Requests for the account part of every export: userinfo, accounts/current, users (a first short page could be
    /// the server's `per_page` cap, so an empty second page confirms the end) and spaces read with and without
    /// `hidden=true` (two pages each, for the same reason).
    static let accountRequests = 1 + 1 + 2 + 4
    static let access = "kona-backup-access-3c71"
    static let day: TimeInterval = 86_400
    static let t0: TimeInterval = 1_800_000_000

    static func sandbox(seed: SandboxSeed = .demo) async throws -> RunningSandbox {
        try await KonaSandbox.start(SandboxOptions(credentials: [access], seed: seed, rateLimit: false), logger: Fixture.logger)
    }

    /// A fresh connection, so that its request counts are those of one export.
    static func connect(_ sandbox: RunningSandbox) throws -> KonaConnection {
        var retry = RetryPolicy()
        retry.baseDelay = .milliseconds(5)
        retry.maxDelay = .milliseconds(20)
        return try KonaConnection(
            baseURL: sandbox.baseURL.absoluteString, environment: [KonaSchema.accessTokenVariable: access], rateLimit: 0,
            retry: retry, logger: Fixture.logger)
    }

    /// One backup run, the way `kitbag backup` drives it: a sealed archive at `url` from `base` (nil: full).
    static func export(
        _ sandbox: RunningSandbox, to url: URL, at seconds: TimeInterval, base: (url: URL, markers: [String: String])? = nil
    ) async throws -> ExportSummary {
        let connection = try connect(sandbox)
        var changeBase: ChangeBase?
        var previous: SnapshotReader?
        if let base {
            previous = try SnapshotReader.open(base.url)
            changeBase = ChangeBase(previous: previous!, markers: base.markers)
        }
        defer { previous?.close() }
        let at = Date(timeIntervalSince1970: seconds)
        return try await ConnectorJobs.export(
            connection, account: try await connection.probe(), destination: .file(url), format: .tarZst, progress: .silent,
            now: at, finishedAt: at, base: changeBase)
    }

    /// A full export at `seconds` and its bytes, to compare an incremental archive with.
    static func fullBytes(_ sandbox: RunningSandbox, in dir: URL, at seconds: TimeInterval) async throws -> Data {
        let url = dir.appendingPathComponent("full-\(Int(seconds)).tar.zst")
        _ = try await export(sandbox, to: url, at: seconds)
        return try Data(contentsOf: url)
    }

    static func send(_ sandbox: RunningSandbox, _ method: HTTPMethod, _ path: String, _ body: JSONValue? = nil) async throws {
        _ = try await connect(sandbox).client.send(APIRequest(method: method, path: path, body: body))
    }

    static func comment(_ sandbox: RunningSandbox, on type: String, _ id: Int, _ text: String) async throws {
        try await send(
            sandbox, .POST, "/comments",
            ["comments": [["content": .string(text), "resource_type": .string(type), "resource_id": .int(id)]]])
    }

    static func values(_ url: URL, _ path: String) throws -> [JSONValue] {
        let reader = try SnapshotReader.open(url)
        defer { reader.close() }
        return try reader.values(at: path)
    }

    /// Requests that read space contents (lists and comments), as opposed to change checks and account routes.
    static func contentRequests(_ summary: ExportSummary) -> Int {
        ["GET /conversations", "GET /tasks", "GET /calendar_events", "GET /comments"].reduce(0) { $0 + (summary.requests[$1] ?? 0) }
    }

    @Test("a second export with one task changed fetches only that space and equals a full export at the same time")
    func oneChangedTask() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox()
        let firstURL = dir.appendingPathComponent("first.tar.zst")
        let first = try await Self.export(sandbox, to: firstURL, at: Self.t0)
        let firstChanges = try #require(first.changes)
        #expect(firstChanges.reused.isEmpty)
        #expect(firstChanges.fetched == ["data/spaces/1001", "data/spaces/1002", "data/spaces/1003", "data/spaces/1004"])
        #expect(firstChanges.markers.keys.sorted() == firstChanges.fetched)

        try await Self.send(sandbox, .PUT, "/tasks/3004", ["tasks": [["name": "Post the job ad (renamed)"]]])
        let secondURL = dir.appendingPathComponent("second.tar.zst")
        let second = try await Self.export(sandbox, to: secondURL, at: Self.t0 + Self.day, base: (firstURL, firstChanges.markers))
        let changes = try #require(second.changes)
        #expect(changes.fetched == ["data/spaces/1002"])
        #expect(changes.reused == ["data/spaces/1001", "data/spaces/1003", "data/spaces/1004"])
        for key in changes.reused { #expect(changes.markers[key] == firstChanges.markers[key]) }
        #expect(changes.markers["data/spaces/1002"] != firstChanges.markers["data/spaces/1002"])
        // Space 1002 lists its three kinds again; of its items only the renamed task has its comments asked for.
        #expect(second.requests["GET /tasks"] == 1)
        #expect(second.requests["GET /conversations"] == 1)
        #expect(second.requests["GET /calendar_events"] == 1)
        #expect(second.requests["GET /comments"] == 1)
        // Full: 8 account requests (users and both space lists need a second, empty page: see `accountRequests`),
        // 3 lists for each of 4 spaces, comments of 14 items. Incremental: the account requests, 3 checks for each
        // unchanged space, 2 for 1002 (its tasks differ), its 3 lists and 1 comment list.
        let fullRequests: Int = first.requests.values.reduce(0, +)
        let incrementalRequests: Int = second.requests.values.reduce(0, +)
        #expect(fullRequests == Self.accountRequests + 26)
        #expect(incrementalRequests == Self.accountRequests + 15)
        #expect(second.counts == first.counts)
        let full = try await Self.fullBytes(sandbox, in: dir, at: Self.t0 + Self.day)
        #expect(try Data(contentsOf: secondURL) == full)
        let tasks = try Self.values(secondURL, "data/spaces/1002/tasks.jsonl")
        #expect(tasks.first?["name"]?.stringValue == "Post the job ad (renamed)")
        await sandbox.stop()
    }

    @Test("an unchanged account fetches no space contents: three change checks per space, and the same archive")
    func unchangedAccount() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox()
        let firstURL = dir.appendingPathComponent("first.tar.zst")
        let first = try await Self.export(sandbox, to: firstURL, at: Self.t0)
        let secondURL = dir.appendingPathComponent("second.tar.zst")
        let second = try await Self.export(
            sandbox, to: secondURL, at: Self.t0 + Self.day, base: (firstURL, first.changes?.markers ?? [:]))
        let changes = try #require(second.changes)
        #expect(changes.fetched.isEmpty)
        #expect(changes.reused.count == 4)
        #expect(changes.markers == first.changes?.markers)
        #expect(Self.contentRequests(second) == 0, "\(second.requests)")
        // Every list of the demo holds fewer than 100 items: one check per kind per space.
        #expect(second.requests == [
            "GET /userinfo": 1, "GET /accounts/current": 1, "GET /users": 2, "GET /spaces": 4,
            "GET /conversations?order_by=updated_at": 4, "GET /tasks?order_by=updated_at": 4,
            "GET /calendar_events?order_by=updated_at": 4,
        ])
        let full = try await Self.fullBytes(sandbox, in: dir, at: Self.t0 + Self.day)
        #expect(try Data(contentsOf: secondURL) == full)
        await sandbox.stop()
    }

    @Test("a deleted task, a new comment and a new event are each noticed, and the archive equals a full export")
    func deletesAndCommentsAreNoticed() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox()
        var url = dir.appendingPathComponent("0.tar.zst")
        var markers = try #require(try await Self.export(sandbox, to: url, at: Self.t0).changes?.markers)

        // Each step changes one thing in one space; the next export fetches exactly that space.
        let steps: [(space: String, change: () async throws -> Void)] = [
            // Not the newest task of 1001: only the count gives the delete away.
            ("data/spaces/1001", { try await Self.send(sandbox, .DELETE, "/tasks/3002") }),
            // A comment on a task that has none yet, in a space of one item.
            ("data/spaces/1003", { try await Self.comment(sandbox, on: "task", 3005, "Moved to Thursday.") }),
            ("data/spaces/1002", { try await Self.comment(sandbox, on: "conversation", 2004, "Round two next week.") }),
            ("data/spaces/1004", {
                try await Self.send(
                    sandbox, .POST, "/calendar_events",
                    ["calendar_events": [["name": "Retro", "space_id": 1004, "start_at": "2024-05-02 10:00:00.000"]]])
            }),
        ]
        for (n, step) in steps.enumerated() {
            try await step.change()
            let at = Self.t0 + Double(n + 1) * Self.day
            let next = dir.appendingPathComponent("\(n + 1).tar.zst")
            let summary = try await Self.export(sandbox, to: next, at: at, base: (url, markers))
            let changes = try #require(summary.changes)
            #expect(changes.fetched == [step.space], "step \(n + 1)")
            #expect(changes.reused.count == 3, "step \(n + 1)")
            #expect(try Data(contentsOf: next) == (try await Self.fullBytes(sandbox, in: dir, at: at)), "step \(n + 1)")
            (url, markers) = (next, changes.markers)
        }
        let tasks = try Self.values(url, "data/spaces/1001/tasks.jsonl").compactMap { $0["id"]?.intValue }
        #expect(tasks == [3001, 3003])
        let comments = try Self.values(url, "data/spaces/1003/comments.jsonl").compactMap { $0["content"]?.stringValue }
        #expect(comments == ["Moved to Thursday."])
        let events = try Self.values(url, "data/spaces/1004/calendarEvents.jsonl").compactMap { $0["name"]?.stringValue }
        #expect(events == ["Retro"])
        await sandbox.stop()
    }

    @Test("a space whose comments were last fetched more than maxCopyAge ago is fetched whole again")
    func oldCopiesAreRefetched() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox()
        let first = dir.appendingPathComponent("first.tar.zst")
        let markers = try #require(try await Self.export(sandbox, to: first, at: Self.t0).changes?.markers)
        let sixDays = dir.appendingPathComponent("six.tar.zst")
        let reused = try await Self.export(sandbox, to: sixDays, at: Self.t0 + 6 * Self.day, base: (first, markers))
        #expect(reused.changes?.reused.count == 4)
        #expect(reused.changes?.markers == markers, "a copy keeps the time its comments were fetched")
        let eightDays = dir.appendingPathComponent("eight.tar.zst")
        let refetched = try await Self.export(
            sandbox, to: eightDays, at: Self.t0 + 8 * Self.day, base: (sixDays, reused.changes?.markers ?? [:]))
        #expect(refetched.changes?.fetched.count == 4)
        let items = ["conversation", "task", "calendarEvent"].reduce(0) { $0 + (refetched.counts[$1] ?? 0) }
        #expect(refetched.requests["GET /comments"] == items)
        // A marker kitbag cannot read (another version) is never trusted.
        let foreign = markers.mapValues { _ in "2024-03-01T09:00:00Z" }
        let distrusted = try await Self.export(
            sandbox, to: dir.appendingPathComponent("foreign.tar.zst"), at: Self.t0 + Self.day, base: (first, foreign))
        #expect(distrusted.changes?.reused.isEmpty == true)
        await sandbox.stop()
    }

    @Test("2000 tasks: an unchanged account costs 4 requests per space; one rename and one delete fetch two spaces")
    func generatedVolume() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox(seed: .generated(cards: 2_000))
        let firstURL = dir.appendingPathComponent("first.tar.zst")
        let first = try await Self.export(sandbox, to: firstURL, at: Self.t0)
        let full = first.requests.values.reduce(0, +)
        let spaces = first.counts["space"] ?? 0
        #expect(spaces == 20)
        // Per space: conversations (empty), tasks (100: a full page, then an empty one), events (empty), 100 comments.
        #expect(full == Self.accountRequests + spaces * (1 + 2 + 1 + 100), "\(first.requests)")

        let quietURL = dir.appendingPathComponent("quiet.tar.zst")
        let quiet = try await Self.export(sandbox, to: quietURL, at: Self.t0 + Self.day, base: (firstURL, first.changes?.markers ?? [:]))
        let quietRequests = quiet.requests.values.reduce(0, +)
        #expect(Self.contentRequests(quiet) == 0)
        // Per space one check for each empty kind, two for the 100 tasks (the newest; a page ending past the count).
        #expect(quietRequests == Self.accountRequests + spaces * 4, "\(quiet.requests)")

        // A rename in the 3rd space and a delete of a middle task (not the newest) in the 12th.
        try await Self.send(sandbox, .PUT, "/tasks/3250", ["tasks": [["status": 2]]])
        try await Self.send(sandbox, .DELETE, "/tasks/4150")
        let nextURL = dir.appendingPathComponent("next.tar.zst")
        let next = try await Self.export(sandbox, to: nextURL, at: Self.t0 + 2 * Self.day, base: (quietURL, quiet.changes?.markers ?? [:]))
        let changes = try #require(next.changes)
        #expect(changes.fetched == ["data/spaces/1003", "data/spaces/1012"])
        // Only the renamed task's comments are asked for; the 99 left in space 1012 are unchanged.
        #expect(next.requests["GET /comments"] == 1)
        let incremental = next.requests.values.reduce(0, +)
        #expect(incremental < 120, "full \(full), unchanged \(quietRequests), two spaces changed \(incremental)")
        #expect(next.counts["task"] == 1_999)
        #expect(try Data(contentsOf: nextURL) == (try await Self.fullBytes(sandbox, in: dir, at: Self.t0 + 2 * Self.day)))
        await sandbox.stop()
    }
}
