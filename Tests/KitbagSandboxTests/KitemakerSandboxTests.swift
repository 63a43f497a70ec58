import AsyncHTTPClient
import Foundation
import KitbagCore
import KitbagSandbox
import Testing

/// A client for one running Kitemaker sandbox: REST with `X-API-KEY`, GraphQL with `Authorization: Bearer`.
private struct KitemakerAPI: Sendable {
    static let token = "kitemaker-test-token"
    let client: HTTPClient
    let baseURL: URL

    func rest(_ method: String, _ path: String, token: String? = token, body: JSONValue? = nil) async throws -> Answer {
        var headers: [(String, String)] = []
        if let token { headers.append(("X-API-KEY", token)) }
        return try await send(method, "/developers/rest/v1" + path, headers: headers, body: body)
    }

    func graphQL(_ query: String, variables: JSONValue = [:], token: String? = token) async throws -> Answer {
        var headers: [(String, String)] = []
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try await send(
            "POST", "/developers/graphql", headers: headers, body: ["query": .string(query), "variables": variables])
    }

    func send(_ method: String, _ path: String, headers: [(String, String)], body: JSONValue?) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL.absoluteString + path)
        request.method = .RAW(value: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body.serialized())
        }
        let response = try await client.execute(request, timeout: .seconds(60))
        let bytes = Array(try await response.body.collect(upTo: 64 << 20).readableBytesView)
        return Answer(status: Int(response.status.code), json: bytes.isEmpty ? nil : try JSONValue(parsing: bytes))
    }
}

private func withKitemaker<T>(
    seed: SandboxSeed = .demo, rateLimit: Bool = false, requestsPerSecond: Double = 5, perSecondLimit: Bool? = nil,
    clock: SandboxManualClock? = nil, _ body: (RunningSandbox, KitemakerAPI) async throws -> T
) async throws -> T {
    var options = SandboxOptions(
        credentials: [KitemakerAPI.token], seed: seed, penaltySeconds: 1, rateLimit: rateLimit,
        requestsPerSecond: requestsPerSecond)
    options.perSecondLimit = perSecondLimit
    if let clock { options.clock = clock }
    let sandbox = try await KitemakerSandbox.start(options)
    let client = HTTPClient()
    do {
        let result = try await body(sandbox, KitemakerAPI(client: client, baseURL: sandbox.baseURL))
        try await client.shutdown()
        await sandbox.stop()
        return result
    } catch {
        try? await client.shutdown()
        await sandbox.stop()
        throw error
    }
}

private let spacesQuery = "{ organization { id name spaces { id key name statuses { id name type default } labels { id name } } } }"

private func spaces(_ api: KitemakerAPI) async throws -> [JSONValue] {
    try await api.graphQL(spacesQuery)["data"]?["organization"]?["spaces"]?.arrayValue ?? []
}

private func isKitemakerError(_ answer: Answer, status: Int) -> Bool {
    guard answer.status == status, let first = answer["errors"]?.arrayValue?.first else { return false }
    return first["status"] == .int(status) && first["message"]?.stringValue?.isEmpty == false
}

@Suite("Kitemaker sandbox")
struct KitemakerSandboxTests {
    @Test("a read-only token reads, but every REST write and GraphQL mutation is 403 in Kitemaker's error shape and changes nothing")
    func readOnlyTokensMayNotWrite() async throws {
        var options = SandboxOptions(credentials: [KitemakerAPI.token, "kitemaker-read-only-token-4a9c"], seed: .demo, rateLimit: false)
        options.kitemaker.readOnlyTokens = ["kitemaker-read-only-token-4a9c"]
        let sandbox = try await KitemakerSandbox.start(options)
        let client = HTTPClient()
        let api = KitemakerAPI(client: client, baseURL: sandbox.baseURL)
        let guest = "kitemaker-read-only-token-4a9c"
        let space = try #require(try await spaces(api).first)
        let status = try #require(space["statuses"]?.arrayValue?.first?["id"])
        // Reads are answered.
        #expect(try await api.rest("GET", "/organization", token: guest).status == 200)
        #expect(try await api.graphQL(spacesQuery, token: guest)["errors"] == nil)
        let mark = await sandbox.writeMark()
        for (route, answer) in [
            ("POST /workitem", try await api.rest("POST", "/workitem", token: guest, body: ["title": "no", "statusId": status])),
            ("POST /label", try await api.rest("POST", "/label", token: guest, body: ["spaceId": space["id"] ?? .null, "labelName": "no"])),
            ("createWorkItem", try await api.graphQL(
                "mutation($input: CreateWorkItemInput!) { createWorkItem(input: $input) { workItem { id } } }",
                variables: ["input": ["title": "no", "statusId": status]], token: guest)),
        ] {
            #expect(isKitemakerError(answer, status: 403), "\(route): \(answer.status) \(answer.json?.serializedString() ?? "")")
        }
        #expect(await sandbox.writes(since: mark).isEmpty)
        // The same write with a token that may write goes through.
        #expect(try await api.rest("POST", "/workitem", body: ["title": "yes", "statusId": status]).status == 201)
        try await client.shutdown()
        await sandbox.stop()
    }

    @Test("REST needs X-API-KEY and GraphQL a Bearer token; refusals are 401 in Kitemaker's error shape")
    func authentication() async throws {
        try await withKitemaker { _, api in
            #expect(isKitemakerError(try await api.rest("GET", "/organization", token: nil), status: 401))
            #expect(isKitemakerError(try await api.rest("GET", "/organization", token: "wrong"), status: 401))
            let org = try await api.rest("GET", "/organization")
            #expect(org.status == 200)
            #expect(org["id"]?.stringValue?.count == 16)
            // The REST token in the GraphQL header's place (and the other way round) is refused.
            let bearerOnREST = try await api.send(
                "GET", "/developers/rest/v1/organization", headers: [("Authorization", "Bearer \(KitemakerAPI.token)")],
                body: nil)
            #expect(isKitemakerError(bearerOnREST, status: 401))
            #expect(isKitemakerError(try await api.graphQL(spacesQuery, token: nil), status: 401))
            #expect(isKitemakerError(try await api.graphQL(spacesQuery, token: "wrong"), status: 401))
            let data = try await api.graphQL(spacesQuery)
            #expect(data.status == 200)
            #expect(data["data"]?["organization"]?["id"] == org["id"])
        }
    }

    @Test("unknown things are 404, bad parameters 400, recent lists stop at 50, all as {errors: [{message, status}]}")
    func errorsAndLimits() async throws {
        try await withKitemaker { _, api in
            let space = try #require(try await spaces(api).first)
            let id = try #require(space["id"]?.stringValue)
            #expect(isKitemakerError(try await api.rest("GET", "/workitem?spaceKey=ACM&workItemNumber=999"), status: 404))
            #expect(isKitemakerError(try await api.rest("GET", "/workitem?spaceKey=ACM"), status: 400))
            #expect(isKitemakerError(try await api.rest("GET", "/no/such/route"), status: 404))
            #expect(isKitemakerError(try await api.rest("GET", "/metadata/statuses?spaceId=nope"), status: 404))
            #expect(isKitemakerError(try await api.rest("GET", "/recent/workitems?spaceId=\(id)&count=51"), status: 400))
            #expect(isKitemakerError(try await api.rest("GET", "/recent/comments?spaceId=\(id)&count=51"), status: 400))
            let recent = try await api.rest("GET", "/recent/workitems?spaceId=\(id)&count=50")
            #expect(recent.status == 200 && recent.array.count == 9)
            let comments = try await api.rest("GET", "/recent/comments?spaceId=\(id)&count=3")
            #expect(comments.array.count == 3)
            let invalid = try await api.rest("POST", "/workitem", body: ["title": "x", "statusId": "nope"])
            #expect(isKitemakerError(invalid, status: 404))
            let badEffort = try await api.rest(
                "POST", "/workitem",
                body: ["title": "x", "statusId": space["statuses"]?[0]?["id"] ?? .null, "effort": "huge"])
            #expect(isKitemakerError(badEffort, status: 400))
            // Listings give ids and labels only.
            let listed = try await api.rest("GET", "/metadata/workitems?spaceId=\(id)")
            #expect(listed.array.count == 9)
            #expect(listed.array.allSatisfy { $0.objectValue?.keys == ["id", "label"] })
        }
    }

    @Test("GraphQL work items page 50 at a time by cursor; count above 50 and invalid documents are errors")
    func graphQLPaging() async throws {
        try await withKitemaker(seed: .generated(cards: 130)) { _, api in
            let acm = try #require(try await spaces(api).first { $0["key"] == "ACM" }?["id"]?.stringValue)
            let query = """
                query($s: ID!, $c: String, $n: Int) { workItems(spaceId: $s, cursor: $c, count: $n) {
                  workItems { id number } cursor hasMore } }
                """
            var seen: [String] = []
            var cursor: JSONValue = .null
            var pages = 0
            repeat {
                let page = try await api.graphQL(query, variables: ["s": .string(acm), "c": cursor, "n": 50])
                let result = try #require(page["data"]?["workItems"])
                seen += (result["workItems"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
                pages += 1
                cursor = result["hasMore"] == true ? result["cursor"] ?? .null : .null
                #expect((result["workItems"]?.arrayValue?.count ?? 0) <= 50)
            } while cursor != .null && pages < 10
            #expect(pages == 2)
            #expect(seen.count == 65 && Set(seen).count == 65)

            let tooMany = try await api.graphQL(query, variables: ["s": .string(acm), "n": 51])
            #expect(tooMany.status == 200)
            #expect(tooMany["errors"]?[0]?["message"]?.stringValue?.contains("50") == true)
            #expect(tooMany["data"] == .null)
            let broken = try await api.graphQL("{ workItems(spaceId: ")
            #expect(broken.status == 400 && broken["errors"]?.arrayValue?.isEmpty == false)
            let unknownField = try await api.graphQL("{ organization { nope } }")
            #expect(unknownField.status == 400)
        }
    }

    @Test("placement puts a new work item at the top or bottom of its status column, as GraphQL sort shows")
    func placement() async throws {
        try await withKitemaker(seed: .empty) { _, api in
            let acm = try #require(try await spaces(api).first { $0["key"] == "ACM" })
            let todo = try #require(acm["statuses"]?.arrayValue?.first { $0["name"] == "Todo" }?["id"])
            for (title, placement) in [("first", nil), ("bottom", "bottom"), ("top", "top"), ("default", nil)] as [(String, String?)] {
                var body: JSONValue = ["title": .string(title), "statusId": todo]
                if let placement { body["placement"] = .string(placement) }
                let created = try await api.rest("POST", "/workitem", body: body)
                #expect(created.status == 201)
                #expect(created["title"] == .string(title))
            }
            let badPlacement = try await api.rest("POST", "/workitem", body: ["title": "x", "statusId": todo, "placement": "middle"])
            #expect(isKitemakerError(badPlacement, status: 400))
            let page = try await api.graphQL(
                "query($s: ID!) { workItems(spaceId: $s) { workItems { title sort status { id } } } }",
                variables: ["s": acm["id"] ?? .null])
            let column = (page["data"]?["workItems"]?["workItems"]?.arrayValue ?? [])
                .sorted { ($0["sort"]?.stringValue ?? "") < ($1["sort"]?.stringValue ?? "") }
                .compactMap { $0["title"]?.stringValue }
            #expect(column == ["default", "top", "first", "bottom"])
        }
    }

    @Test("POST /comment opens a thread; GraphQL createCommentOnWorkItem replies in it; labels and feedback are created")
    func commentsLabelsFeedback() async throws {
        try await withKitemaker(seed: .empty) { _, api in
            let acm = try #require(try await spaces(api).first { $0["key"] == "ACM" })
            let spaceID = acm["id"] ?? .null
            let label = try await api.rest("POST", "/label", body: ["spaceId": spaceID, "labelName": "ops", "color": "aa33ff"])
            #expect(label.status == 201 && label["color"] == "aa33ff")
            let item = try await api.rest(
                "POST", "/workitem",
                body: ["title": "t", "statusId": acm["statuses"]?[0]?["id"] ?? .null, "labelIds": [label["id"] ?? .null]])
            #expect(item["labels"]?[0]?["name"] == "ops")
            let comment = try await api.rest("POST", "/comment", body: ["workItemId": item["id"] ?? .null, "body": "hello"])
            #expect(comment.status == 201 && comment["reply"] == false)
            let thread = try #require(comment["threadId"])
            #expect(thread != comment["id"])
            let reply = try await api.graphQL(
                "mutation($i: CreateCommentOnWorkItemInput!) { createCommentOnWorkItem(input: $i) { comment { id threadId } } }",
                variables: ["i": ["id": item["id"] ?? .null, "body": "hi back", "threadId": thread]])
            #expect(reply["data"]?["createCommentOnWorkItem"]?["comment"]?["threadId"] == thread)
            let recent = try await api.rest("GET", "/recent/comments?spaceId=\(spaceID.stringValue ?? "")&count=5")
            #expect(recent.array.map { $0["reply"] } == [true, false])

            let feedback = try await api.rest(
                "POST", "/feedback",
                body: ["title": "f", "contents": "c", "personEmail": "p@example.com", "linkInsightToEntityIds": [item["id"] ?? .null]])
            #expect(feedback.status == 201)
            #expect(feedback["insights"]?[0]?["entityIds"] == [item["id"] ?? .null])
            #expect(feedback["person"]?["email"] == "p@example.com")
            let fetched = try await api.rest("GET", "/feedback?number=\(feedback["number"]?.intValue ?? 0)")
            #expect(fetched["id"] == feedback["id"])
        }
    }

    @Test("a token that hammers the API gets 429 in Kitemaker's error shape, REST and GraphQL counted together")
    func rateLimit() async throws {
        // One request per second on a clock that stands still: the eight requests land inside one second however
        // slow a loaded machine makes each of them, so all but the first draw a 429.
        // (The per-second limiter is off by default since issue 20: the sandbox then limits requests in flight.)
        try await withKitemaker(rateLimit: true, requestsPerSecond: 1, perSecondLimit: true, clock: SandboxManualClock()) {
            sandbox, api in
            var statuses: [Int] = []
            for n in 0..<8 {
                let answer = n % 2 == 0 ? try await api.rest("GET", "/organization") : try await api.graphQL(spacesQuery)
                statuses.append(answer.status)
                if answer.status == 429 { #expect(isKitemakerError(answer, status: 429)) }
            }
            #expect(statuses.first == 200)
            #expect(statuses.contains(429))
            #expect(await sandbox.stats().rateLimited > 0)
        }
    }

    @Test("the demo seed is deterministic and holds every kind of entity")
    func demoSeed() async throws {
        let query = """
            { organization { users { id } spaces { id labels { id } } }
              initiatives { initiatives { id workItems { id } labels { id } spaces { id } } hasMore }
              feedback { feedback { id insights { entities { ... on WorkItem { id } } } person { email } } } }
            """
        let first = try await withKitemaker { _, api in try await api.graphQL(query) }
        let second = try await withKitemaker { _, api in try await api.graphQL(query) }
        #expect(first.json == second.json)
        let data = try #require(first["data"])
        #expect(data["organization"]?["users"]?.arrayValue?.count == 3)
        #expect(data["initiatives"]?["initiatives"]?.arrayValue?.count == 2)
        #expect(data["feedback"]?["feedback"]?.arrayValue?.count == 3)
        #expect(data["initiatives"]?["initiatives"]?[0]?["workItems"]?.arrayValue?.count == 3)
    }
}

extension JSONValue {
    /// An array element, nil when out of range or not an array.
    fileprivate subscript(index: Int) -> JSONValue? {
        guard let a = arrayValue, a.indices.contains(index) else { return nil }
        return a[index]
    }
}
