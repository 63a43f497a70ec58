import AsyncHTTPClient
import Foundation
import KitbagCore
import KitbagSandbox
import Testing

@Suite("Kinopio sandbox")
struct KinopioSandboxTests {
    @Test("binds an ephemeral port, answers GET /, and unknown routes get a 404 JSON body")
    func rootAndUnknownRoute() async throws {
        try await withSandbox(testOptions()) { sandbox, api in
            #expect(sandbox.baseURL.port != nil && sandbox.baseURL.port != 0)
            let root = try await api.get("/", key: nil)
            #expect(root.status == 200)
            let missing = try await api.get("/no/such/route")
            #expect(missing.status == 404)
            #expect(missing["status"] == 404)
            #expect(missing["message"]?.stringValue?.isEmpty == false)
        }
    }

    @Test("two sandboxes run side by side on different ports")
    func twoSandboxesAtOnce() async throws {
        try await withSandbox(testOptions(seed: .empty)) { first, firstAPI in
            try await withSandbox(testOptions(seed: .demo)) { second, secondAPI in
                #expect(first.baseURL != second.baseURL)
                let firstSpaces = try await firstAPI.get("/user/spaces")
                let secondSpaces = try await secondAPI.get("/user/spaces")
                #expect(firstSpaces.array.isEmpty)
                #expect(secondSpaces.array.count >= 4)
            }
        }
    }

    @Test("missing or unknown keys get 401, outsiders get 403, unknown ids get 404, all as JSON")
    func authErrors() async throws {
        try await withSandbox(testOptions()) { _, api in
            let noKey = try await api.get("/user", key: nil)
            #expect(noKey.status == 401)
            #expect(noKey["status"] == 401)
            #expect(noKey["message"]?.stringValue != nil)
            #expect(try await api.get("/user", key: "not-a-key").status == 401)

            let garden = try await spaceId(named: "Garden Project 🌱", api)
            let outsider = try await api.get("/space/\(garden)", key: KinopioSandbox.defaultOutsiderKey)
            #expect(outsider.status == 403)
            #expect(outsider["status"] == 403)
            let anonymous = try await api.get("/space/\(garden)", key: nil)
            #expect(anonymous.status == 401)
            let collaborator = try await api.get("/space/\(garden)", key: KinopioSandbox.defaultCollaboratorKey)
            #expect(collaborator.status == 200)

            let unknown = try await api.get("/space/doesNotExist123")
            #expect(unknown.status == 404)
            #expect(unknown["status"] == 404)
            #expect(try await api.get("/card/doesNotExist123").status == 404)

            // The outsider may not write to the space either, and nothing changes.
            let write = try await api.send(
                "POST", "/card", key: KinopioSandbox.defaultOutsiderKey,
                body: ["spaceId": .string(garden), "name": "intruder"])
            #expect(write.status == 403)
        }
    }

    @Test("a user key works in Authorization and ?apiKey=, an app key in App-Authorization; each refuses the other header")
    func keyHeaders() async throws {
        try await withSandbox(testOptions()) { _, api in
            let viaQuery = try await api.get("/user?apiKey=\(ownerKey)", key: nil)
            #expect(viaQuery.status == 200)
            #expect(viaQuery["apiKey"] == nil)
            let appKey = "sandbox-kinopio-app-read-key"
            let viaAppHeader = try await api.send("GET", "/user", key: nil, headers: [("App-Authorization", appKey)])
            #expect(viaAppHeader.status == 200)
            #expect(viaQuery["id"] == viaAppHeader["id"])
            let userKeyInAppHeader = try await api.send("GET", "/user", key: nil, headers: [("App-Authorization", ownerKey)])
            #expect(userKeyInAppHeader.status == 401)
            #expect(userKeyInAppHeader["message"]?.stringValue?.contains("Authorization header") == true)
            let appKeyInUserHeader = try await api.get("/user", key: appKey)
            #expect(appKeyInUserHeader.status == 401)
            #expect(appKeyInUserHeader["message"]?.stringValue?.contains("App-Authorization") == true)
        }
    }

    @Test("app key scopes: user reads only /user, read cannot write, edit cannot delete, delete can")
    func appKeyScopes() async throws {
        try await withSandbox(testOptions()) { sandbox, api in
            let inbox = try await spaceId(named: "Inbox", api)
            func app(_ scope: String) -> [(String, String)] { [("App-Authorization", "sandbox-kinopio-app-\(scope)-key")] }
            #expect(try await api.send("GET", "/user", key: nil, headers: app("user")).status == 200)
            let userScope = try await api.send("GET", "/user/spaces", key: nil, headers: app("user"))
            #expect(userScope.status == 403)
            #expect(userScope["message"]?.stringValue?.contains("needs scope read") == true)
            #expect(try await api.send("GET", "/user/spaces", key: nil, headers: app("read")).status == 200)
            let before = await sandbox.snapshot()
            let card: JSONValue = ["spaceId": .string(inbox), "name": "scoped"]
            let readWrite = try await api.send("POST", "/card", key: nil, body: card, headers: app("read"))
            #expect(readWrite.status == 403)
            #expect(await sandbox.snapshot() == before)
            let created = try await api.send("POST", "/card", key: nil, body: card, headers: app("edit"))
            #expect(created.status == 200)
            let id = created["id"] ?? .null
            #expect(try await api.send("DELETE", "/card", key: nil, body: ["id": id], headers: app("edit")).status == 403)
            #expect(try await api.send("DELETE", "/card", key: nil, body: ["id": id], headers: app("delete")).status == 200)
        }
    }

    @Test("the seed page's routes answer 404 on the current server and the new ones 404 in legacy mode")
    func legacyMode() async throws {
        let garden = try await withSandbox(testOptions()) { _, api in try await spaceId(named: "Garden Project 🌱", api) }
        let current = ["/space/\(garden)/removed-cards", "/notification", "/user/hidden-spaces", "/user/group-spaces",
                       "/user/template-spaces", "/user/groups"]
        let seedOnly = ["/space/\(garden)/removedCards", "/notifications", "/user/journal-spaces"]
        try await withSandbox(testOptions()) { _, api in
            for path in current {
                let status = try await api.get(path).status
                #expect(status == 200, "\(path)")
            }
            for path in seedOnly {
                let status = try await api.get(path).status
                #expect(status == 404, "\(path)")
            }
        }
        try await withSandbox(testOptions(), legacy: true) { _, api in
            for path in current { #expect(try await api.get(path).status == 404, "\(path)") }
            for path in seedOnly { #expect(try await api.get(path).status == 200, "\(path)") }
            // An older server leaves removed cards out of the space.
            let cards = try await api.get("/space/\(garden)").json?["cards"]?.arrayValue ?? []
            #expect(cards.allSatisfy { $0["isRemoved"]?.boolValue == false })
        }
    }

    @Test("GET /space/:id returns metadata with cards, connections, types, boxes, tags, users and collaborators")
    func spaceShape() async throws {
        try await withSandbox(testOptions()) { _, api in
            let garden = try await spaceId(named: "Garden Project 🌱", api)
            let space = try #require(try await api.get("/space/\(garden)").json?.objectValue)
            for key in ["id", "name", "privacy", "ownerUserId", "createdAt", "updatedAt", "cards", "connections",
                        "connectionTypes", "boxes", "tags", "users", "collaborators"] {
                #expect(space[key] != nil, "missing \(key)")
            }
            // Unknown keys of the stored space survive (newer spaces carry `lines`).
            #expect(space["lines"]?.arrayValue?.count == 1)
            // The current server returns removed cards inside `cards` with isRemoved: true.
            let all = space["cards"]?.arrayValue ?? []
            #expect(all.filter { $0["isRemoved"]?.boolValue == true }.count == 1)
            let cards = all.filter { $0["isRemoved"]?.boolValue != true }
            let cardIds = Set(cards.compactMap { $0["id"]?.stringValue })
            let itemIds = cardIds.union((space["boxes"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
            #expect(cards.count >= 10)
            #expect(cards.contains { $0["linkToCardId"] != nil && $0["linkToSpaceId"] != nil })
            #expect(cards.contains { ($0["name"]?.stringValue ?? "").contains("🌻") })
            #expect(cards.contains { ($0["name"]?.stringValue ?? "").count > 1000 })
            for connection in space["connections"]?.arrayValue ?? [] {
                let start = connection["startItemId"]?.stringValue ?? ""
                let end = connection["endItemId"]?.stringValue ?? ""
                #expect(itemIds.contains(start) && itemIds.contains(end))
            }
            #expect((space["connectionTypes"]?.arrayValue?.count ?? 0) >= 2)
            #expect((space["boxes"]?.arrayValue?.count ?? 0) >= 1)
            let tags = space["tags"]?.arrayValue ?? []
            #expect(!tags.isEmpty)
            #expect(tags.allSatisfy { cardIds.contains($0["cardId"]?.stringValue ?? "") })
            let owner = try #require(space["users"]?.arrayValue?.first)
            #expect(owner["apiKey"] == nil && owner["email"] == nil)
            #expect(space["collaborators"]?.arrayValue?.count == 1)

            let removed = try await api.get("/space/\(garden)/removed-cards")
            #expect(removed.status == 200)
            #expect(removed.array.count == 1)
            #expect(removed.array.allSatisfy { !cardIds.contains($0["id"]?.stringValue ?? "") })
        }
    }

    @Test("GET /card/multiple takes at most 60 ids; 61 is a 400")
    func multipleLimit() async throws {
        try await withSandbox(testOptions(seed: .generated(cards: 120))) { _, api in
            let spaces = try await api.get("/user/spaces").array
            var ids: [String] = []
            for space in spaces {
                let id = space["id"]?.stringValue ?? ""
                ids += (try await api.get("/space/\(id)").json?["cards"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            }
            #expect(ids.count == 120)
            let sixty = try await api.get("/card/multiple?cardIds=\(ids.prefix(60).joined(separator: ","))")
            #expect(sixty.status == 200)
            #expect(sixty.array.count == 60)
            let sixtyOne = try await api.get("/card/multiple?cardIds=\(ids.prefix(61).joined(separator: ","))")
            #expect(sixtyOne.status == 400)
            #expect(sixtyOne["status"] == 400)
        }
    }

    @Test("POST /card/multiple creates every card; a batch with one bad card creates none")
    func postCardMultiple() async throws {
        try await withSandbox(testOptions()) { sandbox, api in
            let inbox = try await spaceId(named: "Inbox", api)
            let before = try await api.get("/space/\(inbox)").json?["cards"]?.arrayValue?.count ?? 0
            let batch: [JSONValue] = (1...25).map { n in
                ["spaceId": .string(inbox), "name": .string("Batch card \(n) [[batch]]"), "x": .int(n * 10), "customKey": ["kept": true]]
            }
            let created = try await api.send("POST", "/card/multiple", body: .array(batch))
            #expect(created.status == 200)
            #expect(created.array.count == 25)
            #expect(Set(created.array.compactMap { $0["id"]?.stringValue }).count == 25)
            #expect(created.array.allSatisfy { $0["customKey"]?["kept"] == true && $0["createdAt"]?.stringValue != nil })
            let space = try await api.get("/space/\(inbox)")
            #expect(space["cards"]?.arrayValue?.count == before + 25)
            #expect((space["tags"]?.arrayValue ?? []).filter { $0["name"] == "batch" }.count == 25)

            let snapshot = await sandbox.snapshot()
            let bad: JSONValue = [["spaceId": .string(inbox), "name": "fine"], ["spaceId": .string(inbox)]]
            let refused = try await api.send("POST", "/card/multiple", body: bad)
            #expect(refused.status == 400)
            let tooLong = try await api.send(
                "POST", "/card", body: ["spaceId": .string(inbox), "name": .string(String(repeating: "x", count: 4001))])
            #expect(tooLong.status == 400)
            #expect(await sandbox.snapshot() == snapshot)
        }
    }

    @Test("a legacy server takes both connection shapes and connection types; ends outside the space are a 400")
    func connectionShapes() async throws {
        try await withSandbox(testOptions(), legacy: true) { _, api in
            let inbox = try await spaceId(named: "Inbox", api)
            let journal = try await spaceId(named: "Journal — March 1, 2024", api)
            let inboxCards = try await api.get("/space/\(inbox)").json?["cards"]?.arrayValue ?? []
            let journalCards = try await api.get("/space/\(journal)").json?["cards"]?.arrayValue ?? []
            let a = inboxCards[0]["id"]!, b = inboxCards[1]["id"]!, elsewhere = journalCards[0]["id"]!

            let type = try await api.send("POST", "/connection-type", body: ["spaceId": .string(inbox), "name": "links", "color": "#ff0000"])
            #expect(type.status == 200)
            let old = try await api.send(
                "POST", "/connection",
                body: ["spaceId": .string(inbox), "startCardId": a, "endCardId": b, "connectionTypeId": type["id"]!])
            #expect(old.status == 200)
            let new = try await api.send(
                "POST", "/connection",
                body: [["spaceId": .string(inbox), "startItemId": b, "endItemId": a, "name": "back", "color": "#00ff00"]])
            #expect(new.status == 200)
            #expect(new.array.first?["name"] == "back")
            let crossing = try await api.send(
                "POST", "/connection", body: ["spaceId": .string(inbox), "startCardId": a, "endCardId": elsewhere])
            #expect(crossing.status == 400)
            let fetched = try await api.get("/connection/\(old["id"]?.stringValue ?? "")", key: nil)
            #expect(fetched.status == 200)
            #expect(fetched["connectionTypeId"] == type["id"])
        }
    }

    @Test("POST /space with nested items creates them, keeps free client ids and unknown keys")
    func postSpaceWithItems() async throws {
        try await withSandbox(testOptions(seed: .empty)) { _, api in
            let body: JSONValue = [
                "id": "clientSpaceId000000001", "name": "Imported", "privacy": "closed", "futureKey": [1, 2],
                "connectionTypes": [["id": "type1", "name": "t", "color": "#123456"]],
                "cards": [["id": "cardA", "name": "A [[alpha]]", "x": 10, "y": 20], ["id": "cardB", "name": "B", "x": 30, "y": 40]],
                "connections": [["id": "conn1", "startCardId": "cardA", "endCardId": "cardB", "connectionTypeId": "type1"]],
                "tags": [["id": "tag1", "name": "alpha", "cardId": "cardA", "color": "#abcdef"]],
                "boxes": [["id": "box1", "name": "Box", "x": 0, "y": 0, "resizeWidth": 200, "resizeHeight": 200]],
            ]
            let created = try await api.send("POST", "/space", body: body)
            #expect(created.status == 200)
            #expect(created["id"] == "clientSpaceId000000001")
            let space = try await api.get("/space/clientSpaceId000000001", key: nil)  // closed: public read
            #expect(space.status == 200)
            #expect(space["futureKey"] == [1, 2])
            #expect(space["cards"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["cardA", "cardB"])
            #expect(space["connections"]?.arrayValue?.first?["connectionTypeId"] == "type1")
            #expect(space["tags"]?.arrayValue?.map { $0["color"] } == ["#abcdef"])
            #expect(space["boxes"]?.arrayValue?.count == 1)
            #expect(space["collaboratorKey"] == nil)  // not for viewers

            // The same ids again are taken: the sandbox assigns new ones and rewrites references.
            let again = try await api.send("POST", "/space", body: body)
            #expect(again.status == 200)
            let copy = again.json ?? nil
            #expect(copy["id"] != "clientSpaceId000000001")
            let copiedCards = copy["cards"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(!copiedCards.contains("cardA"))
            let connection = copy["connections"]?.arrayValue?.first
            #expect(connection?["startCardId"]?.stringValue == copiedCards.first)
        }
    }

    @Test("request bodies over the size limit get 413")
    func bodyLimit() async throws {
        var options = testOptions()
        options.maxBodyBytes = 4096
        try await withSandbox(options) { _, api in
            let inbox = try await spaceId(named: "Inbox", api)
            let big = try await api.send("POST", "/card", body: ["spaceId": .string(inbox), "name": .string(String(repeating: "y", count: 8000))])
            #expect(big.status == 413)
            #expect(big["status"] == 413)
        }
    }

    @Test("the 6th request in a second gets 429, the penalty keeps refusing, then requests work again")
    func rateLimit() async throws {
        // The limiter runs on a clock the test moves: no real second passes, and none is waited for.
        let clock = SandboxManualClock()
        var options = testOptions(rateLimit: true, penaltySeconds: 2)
        options.clock = clock
        try await withSandbox(options) { sandbox, api in
            // Six requests at once land inside one second: the clock stands still.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 { group.addTask { try await api.get("/user").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 5)
            #expect(statuses.filter { $0 == 429 }.count == 1)
            let during = try await api.get("/user")
            #expect(during.status == 429)
            #expect(during["status"] == 429)
            // Another key is not affected.
            #expect(try await api.get("/user", key: KinopioSandbox.defaultCollaboratorKey).status == 200)
            clock.advance(by: .milliseconds(2600))
            #expect(try await api.get("/user").status == 200)
            let stats = await sandbox.stats()
            #expect(stats.rateLimited == 2)
            #expect(stats.tooManyRequestsSent == 2)
            #expect(stats.requests("GET /user") == 9)
        }
    }

    @Test("at fault rate 1.0 every kind of fault appears and no write takes effect")
    func faults() async throws {
        try await withSandbox(testOptions(faultRate: 1.0)) { sandbox, api in
            let before = await sandbox.snapshot()
            let inboxId = (before["spaces"]?.arrayValue ?? []).first { $0["name"] == "Inbox" }?["id"] ?? ""
            var seen: [String: Int] = [:]
            for n in 0..<60 {
                let isWrite = n % 2 == 0
                var request = HTTPClientRequest(url: api.baseURL.absoluteString + (isWrite ? "/card" : "/user"))
                request.method = isWrite ? .POST : .GET
                request.headers.add(name: "Authorization", value: ownerKey)
                if isWrite { request.body = .bytes((["spaceId": inboxId, "name": .string("fault \(n)")] as JSONValue).serialized()) }
                do {
                    let response = try await api.client.execute(request, timeout: .seconds(30))
                    do {
                        _ = try await response.body.collect(upTo: 1 << 20)
                        seen[String(response.status.code), default: 0] += 1
                    } catch {
                        seen["truncated", default: 0] += 1
                    }
                } catch {
                    seen["reset", default: 0] += 1
                }
            }
            let stats = await sandbox.stats()
            #expect(stats.faultsInjected == 60)
            for fault in SandboxFault.allCases {
                #expect((seen[fault.rawValue] ?? 0) > 0, "no \(fault) seen: \(seen)")
                #expect(seen[fault.rawValue] == stats.faultsByKind[fault], "\(fault): client \(seen), server \(stats.faultsByKind)")
            }
            #expect(seen["200"] == nil && seen["201"] == nil)
            #expect(await sandbox.snapshot() == before)
        }
    }

    @Test("the same seed gives identical state; generated seeds spread cards over ⌈N/100⌉ spaces")
    func deterministicSeeds() async throws {
        let a = try await withSandbox(testOptions()) { sandbox, _ in await sandbox.snapshot() }
        let b = try await withSandbox(testOptions()) { sandbox, _ in await sandbox.snapshot() }
        #expect(a == b)
        #expect((a["spaces"]?.arrayValue?.count ?? 0) >= 5)

        let big = try await withSandbox(testOptions(seed: .generated(cards: 10_000))) { sandbox, _ in await sandbox.snapshot() }
        let spaces = big["spaces"]?.arrayValue ?? []
        #expect(spaces.count == 100)
        #expect(spaces.reduce(0) { $0 + ($1["cards"]?.arrayValue?.count ?? 0) } == 10_000)
        #expect(spaces.allSatisfy { !($0["connections"]?.arrayValue ?? []).isEmpty })
        let again = try await withSandbox(testOptions(seed: .generated(cards: 10_000))) { sandbox, _ in await sandbox.snapshot() }
        #expect(big == again)
    }

    @Test("seed arguments parse: empty, demo, and a card count")
    func seedArguments() {
        #expect(SandboxSeed(argument: "empty") == .empty)
        #expect(SandboxSeed(argument: "demo") == .demo)
        #expect(SandboxSeed(argument: "2500") == .generated(cards: 2500))
        #expect(SandboxSeed(argument: "lots") == nil)
    }
}
