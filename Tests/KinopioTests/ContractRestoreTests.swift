import Foundation
import KitbagCore
import Testing

// Contract tests for the request shapes `kitbag restore` sends to Kinopio (issue 19).
// Source: kinopio-club/kinopio-client at commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7 —
// src/data/apiDocs.md ("Spaces": `PATCH /space/restore/:spaceId`, scope edit; "Cards": `PATCH /card/restore` "Restore
// removed card specified in body", `POST /card/multiple`), src/stores/useApiStore.js `restoreRemovedSpace` (a PATCH to
// `/space/restore/${space.id}` built by `requestOptions({ method: 'PATCH' })`: no body), src/stores/useCardStore.js
// `restoreRemovedCard` (sets `card.isRemoved = false` and queues the card itself as the body). Kinopio's client makes
// its own ids (`nanoid()`, e.g. src/utils.js line 1779 `space.id = nanoid()`), and the sandbox keeps a client id that is free.

@Suite("Kinopio contract: restore routes")
struct ContractRestoreTests {
    let owner = KinopioWire.Key.user(Fixture.sourceKey)

    @Test func patchSpaceRestoreWithNoBodyTakesASpaceOutOfTheTrash() async throws {
        let wire = try await KinopioWire.start()
        let garden = try await space(named: "Garden Project 🌱", wire)
        let id = garden["id"]?.stringValue ?? ""
        #expect(try await wire.call("DELETE", "/space", owner, body: ["id": .string(id)]).status == 200)
        #expect(try await wire.call("GET", "/user/removed-spaces", owner).array.contains { $0["id"]?.stringValue == id })
        let restored = try await wire.call("PATCH", "/space/restore/\(id)", owner)
        #expect(restored.status == 200 && restored["isRemoved"]?.boolValue == false)
        #expect(try await wire.call("GET", "/user/spaces", owner).array.contains { $0["id"]?.stringValue == id })
        #expect(!(try await wire.call("GET", "/user/removed-spaces", owner).array.contains { $0["id"]?.stringValue == id }))
        // Its cards came back with it, unchanged.
        let again = try await wire.call("GET", "/space/\(id)", owner)
        #expect(again["cards"]?.arrayValue?.count == garden["cards"]?.arrayValue?.count)
        await wire.stop()
    }

    @Test func patchCardRestoreWithTheCardAsBodyTakesItOutOfTheTrash() async throws {
        let wire = try await KinopioWire.start()
        let garden = try await space(named: "Garden Project 🌱", wire)
        let id = garden["id"]?.stringValue ?? ""
        let card = try #require(garden["cards"]?.arrayValue?.first { $0["isRemoved"]?.boolValue != true })
        let cardID = card["id"]?.stringValue ?? ""
        #expect(try await wire.call("DELETE", "/card", owner, body: ["id": .string(cardID)]).status == 200)
        let trashed = try #require(
            try await wire.call("GET", "/space/\(id)/removed-cards", owner).array.first { $0["id"]?.stringValue == cardID })
        var body = trashed.objectValue ?? JSONObject()
        body["isRemoved"] = false
        let answer = try await wire.call("PATCH", "/card/restore", owner, body: .object(body))
        #expect(answer.status == 200 && answer["isRemoved"]?.boolValue == false)
        let live = try await wire.call("GET", "/card/\(cardID)", owner)
        #expect(live["isRemoved"]?.boolValue == false && live["name"] == card["name"])
        #expect(!(try await wire.call("GET", "/space/\(id)/removed-cards", owner).array.contains { $0["id"]?.stringValue == cardID }))
        await wire.stop()
    }

    @Test func postCardMultipleKeepsTheIdsTheClientSends() async throws {
        let wire = try await KinopioWire.start()
        let garden = try await space(named: "Garden Project 🌱", wire)
        let id = garden["id"]?.stringValue ?? ""
        let card = try #require(garden["cards"]?.arrayValue?.first { $0["isRemoved"]?.boolValue != true })
        let cardID = card["id"]?.stringValue ?? ""
        #expect(try await wire.call("DELETE", "/card/permanent", owner, body: ["id": .string(cardID)]).status == 200)
        #expect(try await wire.call("GET", "/card/\(cardID)", owner).status == 404)
        var body = card.objectValue ?? JSONObject()
        for key in ["createdAt", "updatedAt", "userId", "nameUpdatedAt", "nameUpdatedByUserId"] { body[key] = nil }
        let created = try await wire.call("POST", "/card/multiple", owner, body: .array([.object(body)]))
        #expect(created.status == 200 && created.array.first?["id"]?.stringValue == cardID)
        let live = try await wire.call("GET", "/card/\(cardID)", owner)
        #expect(live["spaceId"]?.stringValue == id && live["name"] == card["name"] && live["x"] == card["x"])
        await wire.stop()
    }
}
