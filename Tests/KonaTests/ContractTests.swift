import AsyncHTTPClient
import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Kona
import Testing

// Contract tests: requests shaped as Kona's documentation sends them, answered as it says the server answers.
// Source (read, not copied): KonaTeam/kona-api, commit 995e42935e5a62b3ca06a2bc07706d130771f78f —
// `sections/authentication.md` (the token request), `sections/comments.md` (comment order, mentions),
// `sections/exceptions.md` (error bodies), `sections/spaces.md` (hidden spaces), `sections/risks.md` (batches),
// `README.md` (paging).

/// One raw request to a Kona sandbox (also used by the restore tests).
func send(
    _ sandbox: RunningSandbox, _ method: String, _ path: String, token: String? = KonaConnectorTests.access,
    body: JSONValue? = nil
) async throws -> (status: Int, json: JSONValue?) {
    let client = HTTPClient.shared
    var request = HTTPClientRequest(url: sandbox.baseURL.absoluteString + path)
    request.method = .RAW(value: method)
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    if let body {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(body.serialized())
    }
    let response = try await client.execute(request, timeout: .seconds(60))
    let bytes = Array(try await response.body.collect(upTo: 16 << 20).readableBytesView)
    return (Int(response.status.code), bytes.isEmpty ? JSONValue?.none : try JSONValue(parsing: bytes))
}

/// The comments of an archive, per commented item (`type/name`), in the order the archive holds them.
private func threads(_ archive: URL) throws -> [String: [String]] {
    let reader = try SnapshotReader.open(archive)
    defer { reader.close() }
    var names: [String: String] = [:]
    var out: [String: [String]] = [:]
    let entries = reader.jsonLinesEntries().filter { $0.path.hasPrefix("data/spaces/") }
    for entry in entries where !entry.path.hasSuffix("/comments.jsonl") {
        let type = entry.path.hasSuffix("/tasks.jsonl") ? "task"
            : entry.path.hasSuffix("/conversations.jsonl") ? "conversation"
            : entry.path.hasSuffix("/calendarEvents.jsonl") ? "calendar_event" : nil
        guard let type else { continue }
        for item in try reader.values(at: entry.path) {
            names["\(type)/\(item["id"]?.idString ?? "")"] = item["name"]?.stringValue
        }
    }
    for entry in entries where entry.path.hasSuffix("/comments.jsonl") {
        for comment in try reader.values(at: entry.path) {
            let key = "\(comment["resource_type"]?.stringValue ?? "")/\(comment["resource_id"]?.idString ?? "")"
            guard let name = names[key] else { continue }
            out["\(comment["resource_type"]?.stringValue ?? "")/\(name)", default: []]
                .append(comment["content"]?.stringValue ?? "")
        }
    }
    return out
}

private func sandbox(_ seed: SandboxSeed = .demo, _ behaviour: KonaServerBehaviour = KonaServerBehaviour())
    async throws -> RunningSandbox
{
    var o = SandboxOptions(credentials: [KonaConnectorTests.access], seed: seed, rateLimit: false)
    o.refreshTokens = [KonaConnectorTests.refresh]
    o.kona = behaviour
    return try await KonaSandbox.start(o, logger: Fixture.logger)
}

@Suite("Kona contract")
struct KonaContractTests {
    /// `sections/authentication.md` (step 3 of the curl example) and the Postman collection
    /// (`postman_collection/Kona_REST_API.json.postman_collection`, the refresh request) both POST to `/oauth/token`
    /// with `refresh_token`, `client_secret`, `client_id` and `grant_type=refresh_token` in the query string.
    @Test("the token request sends grant_type, refresh_token, client_id and client_secret in the query string")
    func tokenRequestInQueryString() async throws {
        let s = try await sandbox()
        let connection = try KonaConnectorTests.connect(s, KonaConnectorTests.environment(access: nil, refresh: KonaConnectorTests.refresh))
        _ = try await connection.probe()
        #expect(await s.snapshot()["grants"] == ["query"])
        await s.stop()
    }

    @Test("comments are listed newest first, and an import replays every thread oldest first so it reads the same")
    func commentOrder() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await sandbox()
        // Kona answers "paged comments starting from most recent".
        let listed = try await send(source, "GET", "/api/comments?resource_type=task&resource_id=3001")
        #expect(listed.json?["comments"]?.arrayValue?.compactMap { $0["id"]?.intValue } == [5002, 5001])

        let archive = dir.appendingPathComponent("source.tar.zst")
        _ = try await KonaConnectorTests.export(try KonaConnectorTests.connect(source, KonaConnectorTests.environment()), to: archive)
        let target = try await sandbox(.empty)
        let to = try KonaConnectorTests.connect(target, KonaConnectorTests.environment())
        _ = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: dir.appendingPathComponent("j.sqlite"), options: ImportOptions(), progress: .silent)
        let after = dir.appendingPathComponent("after.tar.zst")
        _ = try await KonaConnectorTests.export(to, to: after)
        let want = try threads(archive).filter { !$0.key.hasPrefix("attachment/") }
        let got = try threads(after)
        #expect(want["task/Write release notes"] == ["Reviewed — two typos fixed.", "Draft is in the shared folder."])
        #expect(want.values.contains { $0.count > 1 }, "the demo needs a thread of several comments")
        #expect(got == want)
        await source.stop()
        await target.stop()
    }

    @Test("API errors are {problemType, title, details}; token errors are {error, error_description}")
    func errorBodies() async throws {
        let s = try await sandbox()
        let missing = try await send(s, "GET", "/api/spaces/999999")
        #expect(missing.status == 404)
        #expect(missing.json?["problemType"]?.stringValue?.hasSuffix("exceptions.md#not_found") == true)
        #expect(missing.json?["title"] == "Not Found")
        #expect(missing.json?["details"]?.stringValue?.isEmpty == false)
        let token = try await send(
            s, "POST", "/oauth/token?grant_type=refresh_token&refresh_token=nope&client_id=\(KonaSandbox.defaultClientID)&client_secret=\(KonaSandbox.defaultClientSecret)",
            token: nil)
        #expect(token.status == 400)
        #expect(token.json?["error"] == "invalid_grant")
        #expect(token.json?["error_description"]?.stringValue?.isEmpty == false)
        await s.stop()
    }

    @Test("a comment mentioning someone who is not a participant answers 404; a participant by id or email is accepted")
    func mentions() async throws {
        let s = try await sandbox()
        func post(_ content: String) async throws -> Int {
            try await send(
                s, "POST", "/api/comments",
                body: ["comments": [["content": .string(content), "resource_type": "task", "resource_id": 3001]]]
            ).status
        }
        #expect(try await post("Thanks @user:ben@example.com.") == 201)
        #expect(try await post("Thanks @user:502") == 201)
        #expect(try await post("Thanks @user:nobody@example.com") == 404)
        await s.stop()
    }

    @Test("a comment whose mention the target refuses is imported with the mention as plain text, and reported")
    func refusedMentionDoesNotFailItsBatch() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await sandbox()
        // Ben takes part in the source space; the target has no Ben, so the mention is refused there.
        let posted = try await send(
            source, "POST", "/api/comments",
            body: ["comments": [["content": "Over to you @user:ben@example.com", "resource_type": "task", "resource_id": 3001]]])
        #expect(posted.status == 201)
        let archive = dir.appendingPathComponent("source.tar.zst")
        let exported = try await KonaConnectorTests.export(
            try KonaConnectorTests.connect(source, KonaConnectorTests.environment()), to: archive)
        let target = try await sandbox(.empty)
        let imported = try await ConnectorJobs.importArchive(
            archive, into: try KonaConnectorTests.connect(target, KonaConnectorTests.environment()),
            journalURL: dir.appendingPathComponent("j.sqlite"), options: ImportOptions(), progress: .silent)
        #expect(imported.created["comment"] == exported.counts["comment"])
        #expect(imported.notImported.contains { $0.kind == "comment.mention" && $0.reason.contains("plain text") })
        let comments = await target.snapshot()["comments"]?.arrayValue ?? []
        #expect(comments.contains { $0["content"] == "Over to you ben@example.com" })
        await source.stop()
        await target.stop()
    }
}
