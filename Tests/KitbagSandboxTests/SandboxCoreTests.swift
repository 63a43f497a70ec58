import AsyncHTTPClient
import Foundation
import KitbagCore
import KitbagSandbox
import KitbagSandboxCore
import Testing

/// Waits (polling, up to a generous minute) until `condition` holds; fails the test if it never does.
private func waitUntil(_ what: String, _ condition: @Sendable () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while !(await condition()) {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting until \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

@Suite("Sandbox core: latency")
struct SandboxLatencyTests {
    @Test("with a latency every answer takes at least that long: a route, a 404, a refused key")
    func latencyOverRealHTTP() async throws {
        var options = testOptions()
        options.latency = .milliseconds(300)
        try await withSandbox(options) { _, api in
            for (path, key) in [("/user", ownerKey), ("/no/such/route", ownerKey), ("/user", "wrong-key-0123456789")] {
                let start = ContinuousClock.now
                let answer = try await api.get(path, key: key)
                #expect(ContinuousClock.now - start >= .milliseconds(300), "\(path) answered \(answer.status) too soon")
            }
        }
    }

    @Test("the latency is waited once per request, before the sandbox sees it, and requests wait side by side")
    func latencyDoesNotHoldUpOtherRequests() async throws {
        let clock = SandboxManualClock()
        var options = testOptions()
        options.latency = .milliseconds(100)
        options.clock = clock
        try await withSandbox(options) { sandbox, api in
            let requests = (0..<5).map { _ in Task { try await api.get("/user").status } }
            // All five wait at the same time: none holds up another.
            try await waitUntil("five requests wait") { clock.sleepers == 5 }
            #expect(await sandbox.stats().totalRequests == 0, "a request waits before it is counted")
            clock.advance(by: .milliseconds(99))
            #expect(clock.sleepers == 5)
            clock.advance(by: .milliseconds(1))
            #expect(clock.sleepers == 0)
            for request in requests { #expect(try await request.value == 200) }
            #expect(await sandbox.stats().requests("GET /user") == 5)
        }
    }

    @Test("jitter spreads the waits over [latency, latency + jitter]")
    func jitter() async throws {
        let clock = SandboxManualClock()
        var options = testOptions()
        options.latency = .milliseconds(100)
        options.jitter = .milliseconds(100)
        options.clock = clock
        try await withSandbox(options) { _, api in
            // Eight: as many connections as the client opens to one host.
            let requests = (0..<8).map { _ in Task { try await api.get("/user").status } }
            try await waitUntil("eight requests wait") { clock.sleepers == 8 }
            clock.advance(by: .milliseconds(99))
            #expect(clock.sleepers == 8, "none waits less than the latency")
            clock.advance(by: .milliseconds(51))
            let halfway = clock.sleepers
            #expect(halfway > 0 && halfway < 8, "some waits are shorter than latency + jitter/2, some longer: \(halfway) left")
            clock.advance(by: .milliseconds(50))
            #expect(clock.sleepers == 0, "none waits more than latency + jitter")
            for request in requests { #expect(try await request.value == 200) }
        }
    }

    @Test("a server that slows down under load: each request in flight adds its share to the next one's wait")
    func latencyUnderLoad() async throws {
        let clock = SandboxManualClock()
        var options = testOptions()
        options.latency = .milliseconds(50)
        options.latencyPerRequestInFlight = .milliseconds(100)
        options.clock = clock
        try await withSandbox(options) { _, api in
            var requests: [Task<Int, any Error>] = []
            for n in 1...3 {
                requests.append(Task { try await api.get("/user").status })
                try await waitUntil("\(n) requests wait") { clock.sleepers == n }
            }
            // Waits of 50, 150 and 250 ms: the first arrived alone, the third with two others in flight.
            clock.advance(by: .milliseconds(50))
            #expect(clock.sleepers == 2)
            clock.advance(by: .milliseconds(100))
            #expect(clock.sleepers == 1)
            clock.advance(by: .milliseconds(99))
            #expect(clock.sleepers == 1)
            clock.advance(by: .milliseconds(1))
            #expect(clock.sleepers == 0)
            for request in requests { #expect(try await request.value == 200) }
        }
    }
}

@Suite("Sandbox core: write log")
struct SandboxWriteLogTests {
    @Test("Kinopio: each accepted write is logged with its route and exactly the entities it changed; reads and refused writes are not")
    func kinopio() async throws {
        try await withSandbox(testOptions()) { sandbox, api in
            let inbox = try await spaceId(named: "Inbox", api)
            let owner = try #require(try await api.get("/user")["id"]?.stringValue)
            let mark = await sandbox.writeMark()
            _ = try await api.get("/user/spaces")
            #expect(try await api.send("POST", "/card", body: ["name": "no space"]).status == 400)
            let card = try await api.send("POST", "/card", body: ["spaceId": .string(inbox), "name": "written"])
            let cardId = try #require(card["id"]?.stringValue)
            let renamed = try await api.send("PATCH", "/card", body: ["id": .string(cardId), "name": "renamed"])
            #expect(renamed.status == 200)

            let writes = await sandbox.writes(since: mark)
            #expect(writes.map(\.route) == ["POST /card", "PATCH /card"])
            #expect(writes.map(\.method) == ["POST", "PATCH"])
            #expect(writes.map(\.sequence) == [mark + 1, mark + 2])
            #expect(writes.first?.changes == [
                SandboxEntityChange(kind: "card", id: cardId, action: .created),
                SandboxEntityChange(kind: "space", id: inbox, action: .updated),
                SandboxEntityChange(kind: "user", id: owner, action: .updated),  // its cardsCreatedCount
            ])
            #expect(writes.last?.changes.first == SandboxEntityChange(kind: "card", id: cardId, action: .updated))
            #expect(await sandbox.writeMark() == mark + 2)
            #expect(await sandbox.writes(since: mark + 2).isEmpty)
            #expect(await sandbox.writes().count >= 2, "writes() lists every write from the first")
        }
    }

    @Test("a faulted write is not logged (it never happened)")
    func faultedWrites() async throws {
        try await withSandbox(testOptions(faultRate: 1.0)) { sandbox, api in
            for _ in 0..<6 {
                _ = try? await api.send("POST", "/card", body: ["spaceId": "x", "name": "fault"])
            }
            #expect(await sandbox.stats().faultsInjected == 6)
            #expect(await sandbox.writes().isEmpty)
        }
    }

    @Test("Kintone: records written through bulkRequest are logged as app/record; a bulk that fails is undone and not logged")
    func kintone() async throws {
        let token = KintoneSandbox.defaultCredential
        let sandbox = try await KintoneSandbox.start(SandboxOptions(seed: .generated(cards: 3), rateLimit: false))
        try await withRunning(sandbox) { sandbox, api in
            func bulk(_ requests: JSONValue) async throws -> Answer {
                try await api.send(
                    "POST", "/k/v1/bulkRequest.json", key: nil, body: ["requests": requests],
                    headers: [("X-Cybozu-API-Token", token)])
            }
            let before = await sandbox.snapshot()
            let failing = try await bulk([
                ["method": "POST", "api": "/k/v1/records.json", "payload": ["app": 1, "records": [
                    ["Title": ["value": "new"], "Key": ["value": "K-new"]],
                ]]],
                ["method": "PUT", "api": "/k/v1/record.json", "payload": ["app": 1, "id": 2, "record": ["Key": ["value": "K-1"]]]],
            ])
            #expect(failing.status == 400, "K-1 is taken: the key is unique")
            #expect(await sandbox.snapshot() == before)
            #expect(await sandbox.writes().isEmpty)

            let ok = try await bulk([
                ["method": "POST", "api": "/k/v1/records.json", "payload": ["app": 1, "records": [
                    ["Title": ["value": "four"], "Key": ["value": "K-4"]], ["Title": ["value": "five"], "Key": ["value": "K-5"]],
                ]]],
                ["method": "PUT", "api": "/k/v1/record.json", "payload": ["app": 1, "id": 2, "record": ["Title": ["value": "two"]]]],
                ["method": "DELETE", "api": "/k/v1/records.json", "payload": ["app": 1, "ids": [3]]],
            ])
            #expect(ok.status == 200)
            let writes = await sandbox.writes()
            #expect(writes.map(\.route) == ["POST /k/v1/bulkRequest.json"])
            #expect(writes.first?.changes == [
                SandboxEntityChange(kind: "record", id: "1/2", action: .updated),
                SandboxEntityChange(kind: "record", id: "1/3", action: .deleted),
                SandboxEntityChange(kind: "record", id: "1/4", action: .created),
                SandboxEntityChange(kind: "record", id: "1/5", action: .created),
            ])
            let records = await sandbox.snapshot()["apps"]?.arrayValue?.first?["records"]?.arrayValue ?? []
            #expect(records.compactMap { $0["id"]?.intValue } == [1, 2, 4, 5])
        }
    }

    @Test("Kona: a create logs the objects it made; a create that fails validation is not logged")
    func kona() async throws {
        let sandbox = try await KonaSandbox.start(SandboxOptions(seed: .demo, rateLimit: false))
        try await withRunning(sandbox) { sandbox, api in
            let bearer = [("Authorization", "Bearer \(KonaSandbox.defaultCredential)")]
            let bad = try await api.send("POST", "/api/spaces", key: nil, body: ["spaces": [["details": "no name"]]], headers: bearer)
            #expect(bad.status == 422)
            let created = try await api.send(
                "POST", "/api/spaces", key: nil, body: ["spaces": [["name": "One"], ["name": "Two"]]], headers: bearer)
            let ids = (created["spaces"]?.arrayValue ?? []).compactMap { $0["id"]?.idString }
            #expect(ids.count == 2)
            let writes = await sandbox.writes()
            #expect(writes.map(\.route) == ["POST /api/spaces"])
            #expect(writes.first?.changes == ids.sorted().map { SandboxEntityChange(kind: "space", id: $0, action: .created) })
        }
    }

    @Test("Kitemaker: REST writes and GraphQL mutations are logged, the mutations under the GraphQL route")
    func kitemaker() async throws {
        let token = KitemakerSandbox.defaultCredential
        let sandbox = try await KitemakerSandbox.start(SandboxOptions(seed: .empty, rateLimit: false))
        try await withRunning(sandbox) { sandbox, api in
            let rest = [("X-API-KEY", token)]
            let spaces = try await api.send("GET", "/developers/rest/v1/metadata/spaces", key: nil, headers: rest)
            let spaceID = try #require(spaces.array.first?["id"])
            let label = try await api.send(
                "POST", "/developers/rest/v1/label", key: nil, body: ["spaceId": spaceID, "labelName": "ops"], headers: rest)
            let labelID = try #require(label["id"]?.stringValue)
            let statuses = try await api.send(
                "GET", "/developers/rest/v1/metadata/statuses?spaceId=\(spaceID.stringValue ?? "")", key: nil, headers: rest)
            let item = try await api.send(
                "POST", "/developers/rest/v1/workitem", key: nil,
                body: ["title": "t", "statusId": statuses.array.first?["id"] ?? .null], headers: rest)
            let itemID = try #require(item["id"]?.stringValue)
            let reply = try await api.send(
                "POST", "/developers/graphql", key: nil,
                body: [
                    "query": "mutation($i: CreateCommentOnWorkItemInput!) { createCommentOnWorkItem(input: $i) { comment { id } } }",
                    "variables": ["i": ["id": .string(itemID), "body": "hello"]],
                ],
                headers: [("Authorization", "Bearer \(token)")])
            let commentID = try #require(reply["data"]?["createCommentOnWorkItem"]?["comment"]?["id"]?.stringValue)

            let writes = await sandbox.writes()
            #expect(writes.map(\.route) == [
                "POST /developers/rest/v1/label", "POST /developers/rest/v1/workitem", "POST /developers/graphql",
            ])
            #expect(writes[0].changes == [
                SandboxEntityChange(kind: "label", id: labelID, action: .created),
                SandboxEntityChange(kind: "space", id: spaceID.stringValue ?? "", action: .updated),
            ])
            #expect(writes[1].changes.contains(SandboxEntityChange(kind: "workItem", id: itemID, action: .created)))
            #expect(writes[2].changes.contains(SandboxEntityChange(kind: "comment", id: commentID, action: .created)))
            #expect(!writes[2].changes.contains { $0.kind == "workItem" && $0.action != .updated })
        }
    }
}

/// A state with one journaled table and one plain value, for the store's own tests.
private struct TableState: SandboxState {
    var table = SandboxTable<Int, String>(kind: "thing", idPrefix: "t")
    var counter = 0

    func snapshot() -> JSONValue { .int(counter) }
    static func changes(from old: TableState, to new: TableState) -> [SandboxEntityChange] {
        old.counter == new.counter ? [] : [SandboxEntityChange(kind: "counter", id: "0", action: .updated)]
    }
}

private struct Refused: Error {}

@Suite("Sandbox core: store")
struct SandboxStoreTests {
    @Test("a write that throws is undone, journaled table and plain state alike; one that succeeds logs exactly what changed")
    func allOrNothing() async throws {
        let seeded = TableState()
        seeded.table[1] = "one"
        seeded.table[2] = "two"
        let store = SandboxStore(state: seeded)
        await #expect(throws: Refused.self) {
            try await store.write(method: "POST", route: "POST /things") { (state: inout TableState) throws(Refused) in
                state.table[1] = "changed"
                state.table[2] = nil
                state.table[3] = "three"
                state.table[1] = "changed twice"
                state.counter = 9
                throw Refused()
            }
        }
        let after = await store.read { state in (state.table[1], state.table[2], state.table[3], state.counter) }
        #expect(after.0 == "one" && after.1 == "two" && after.2 == nil && after.3 == 0)
        #expect(await store.writeMark() == 0)

        try await store.write(method: "PUT", route: "PUT /things") { (state: inout TableState) throws(Refused) in
            state.table[1] = "uno"
            state.table[2] = "two"  // the same value: no change
            state.table[3] = "three"
            state.table[3] = nil  // created and removed within the write: no change
            state.table[4] = "four"
            state.counter += 1
        }
        let writes = await store.writes(since: 0)
        #expect(writes.count == 1)
        #expect(writes.first?.route == "PUT /things")
        #expect(writes.first?.changes == [
            SandboxEntityChange(kind: "counter", id: "0", action: .updated),
            SandboxEntityChange(kind: "thing", id: "t1", action: .updated),
            SandboxEntityChange(kind: "thing", id: "t4", action: .created),
        ])
        #expect(await store.read { $0.table.count } == 3)
    }
}

@Suite("Sandbox core: routing")
struct SandboxRoutingTests {
    /// The rule of the hand-written router the Hummingbird router replaced: among the routes of the request's method
    /// with as many segments, those whose literal segments all match; of these, the one with most literal segments
    /// (the first declared of equals).
    static func expectedLabel(_ method: String, _ path: String, labels: [String]) -> String {
        let parts = path.split(separator: "/").map(String.init)
        var best: (label: String, literals: Int)?
        for label in labels {
            let pattern = label.split(separator: " ", maxSplits: 1).map(String.init)
            guard pattern.count == 2, pattern[0] == method else { continue }
            let segments = pattern[1].split(separator: "/").map(String.init)
            guard segments.count == parts.count else { continue }
            var literals = 0
            var fits = true
            for (segment, part) in zip(segments, parts) where !segment.hasPrefix(":") {
                if segment != part { fits = false; break }
                literals += 1
            }
            if fits, literals > (best?.literals ?? -1) { best = (label, literals) }
        }
        return best?.label ?? "\(method) (unmatched)"
    }

    /// Every prefix of every route's path (parameters filled in), asked with every method any route uses.
    static func probes(_ labels: [String]) -> [(method: String, path: String)] {
        var methods: [String] = []
        var paths: [String] = []
        for label in labels {
            let pattern = label.split(separator: " ", maxSplits: 1).map(String.init)
            if !methods.contains(pattern[0]) { methods.append(pattern[0]) }
            let segments = pattern[1].split(separator: "/").map { $0.hasPrefix(":") ? "p\($0.count)" : String($0) }
            for length in 0...segments.count {
                let path = "/" + segments.prefix(length).joined(separator: "/")
                if !paths.contains(path) { paths.append(path) }
            }
        }
        return paths.flatMap { path in methods.map { ($0, path) } }
    }

    @Test(
        "every request reaches, and is counted under, the route the hand-written router picked",
        arguments: SandboxEmulator.all.map(\.name) + ["kinopio-legacy"])
    func sameRoutesAsBefore(service: String) async throws {
        let options = SandboxOptions(seed: .empty, rateLimit: false)
        let sandbox = switch service {
        case "kinopio-legacy": try await KinopioSandbox.start(options, legacy: true)
        default: try await SandboxEmulator.named(service)!.start(options, SandboxServer.quietLogger("routing-test"))
        }
        try await withRunning(sandbox) { sandbox, api in
            let labels = sandbox.routeLabels
            #expect(labels.count > 10)
            var counted = await sandbox.stats().requestsByRoute
            for probe in Self.probes(labels) {
                _ = try await api.send(probe.method, probe.path, key: nil)
                let now = await sandbox.stats().requestsByRoute
                let moved = now.filter { counted[$0.key] != $0.value }.map(\.key)
                #expect(moved == [Self.expectedLabel(probe.method, probe.path, labels: labels)], "\(probe.method) \(probe.path)")
                counted = now
            }
        }
    }
}
