import Foundation
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Kona
import Testing

// Contract tests for the routes `kitbag restore` writes through, shaped as Kona's documentation describes them.
// Source (read, not copied): KonaTeam/kona-api, commit 995e42935e5a62b3ca06a2bc07706d130771f78f —
// `sections/responses.md` ("Update resource": PUT, 200 with the resource, 403 without access; "Delete resource":
// DELETE, 204 No Content, 403 without access), `sections/tasks.md`, `sections/calendar_events.md` and
// `sections/spaces.md` ("Only attributes in the payload will be updated (patch)"; `DELETE /…/:id`),
// `sections/conversations.md` (create, read and delete only: no update route), `sections/comments.md` (create and
// read only: no update or delete route).

@Suite("Kona contract: the restore's write routes")
struct KonaRestoreContractTests {
    @Test("PUT on a task, an event and a space changes only the attributes sent and answers 200 with the resource")
    func putIsAPartialUpdate() async throws {
        let s = try await KonaConnectorTests.sandbox()
        defer { Task { await s.stop() } }
        let before = try await send(s, "GET", "/api/tasks/3001?include=participants")
        let old = try #require(before.json?["tasks"]?.arrayValue?.first)
        let put = try await send(s, "PUT", "/api/tasks/3001", body: ["tasks": [["name": "renamed"]]])
        #expect(put.status == 200)
        #expect(put.json?["tasks"]?.arrayValue?.first?["name"] == "renamed")
        let after = try #require(try await send(s, "GET", "/api/tasks/3001?include=participants").json?["tasks"]?.arrayValue?.first)
        for key in ["details", "end_at", "status", "participants", "space_id", "creator_id"] {
            #expect(after[key] == old[key], "PUT of name alone changed \(key)")
        }
        let event = try await send(s, "PUT", "/api/calendar_events/4002", body: ["calendar_events": [["location": "Room 5"]]])
        #expect(event.status == 200 && event.json?["calendar_events"]?.arrayValue?.first?["location"] == "Room 5")
        #expect(event.json?["calendar_events"]?.arrayValue?.first?["name"] == "Launch rehearsal")
        let space = try await send(s, "PUT", "/api/spaces/1003", body: ["spaces": [["details": "changed"]]])
        #expect(space.status == 200 && space.json?["spaces"]?.arrayValue?.first?["name"] == "Just for Me")
    }

    @Test("DELETE of a space, conversation, task or event answers 204 with no body, and takes the item's comments")
    func deleteAnswers204() async throws {
        let s = try await KonaConnectorTests.sandbox()
        defer { Task { await s.stop() } }
        for path in ["/api/tasks/3001", "/api/calendar_events/4001", "/api/conversations/2001", "/api/spaces/1002"] {
            let answer = try await send(s, "DELETE", path)
            #expect(answer.status == 204 && answer.json == JSONValue?.none, "\(path) answers 204 with no body, not \(String(describing: answer.json))")
            #expect(try await send(s, "GET", path).status == 404, "\(path) is gone")
        }
        // The task's comments went with it; the space's items with the space.
        #expect(try await send(s, "GET", "/api/comments/5001").status == 404)
        #expect(try await send(s, "GET", "/api/tasks/3004").status == 404)
    }

    @Test("conversations and comments have no update route, comments no delete route: nothing changes")
    func noUpdateForConversationsOrComments() async throws {
        let s = try await KonaConnectorTests.sandbox()
        defer { Task { await s.stop() } }
        let mark = await s.writeMark()
        let conversation = try await send(s, "PUT", "/api/conversations/2001", body: ["conversations": [["name": "x"]]])
        let comment = try await send(s, "PUT", "/api/comments/5001", body: ["comments": [["content": "x"]]])
        let gone = try await send(s, "DELETE", "/api/comments/5001")
        for status in [conversation.status, comment.status, gone.status] { #expect([404, 405].contains(status)) }
        #expect(await s.writes(since: mark).isEmpty)
        #expect(try await send(s, "GET", "/api/conversations/2001").json?["conversations"]?.arrayValue?.first?["name"] == "Launch plan")
    }

    @Test("a user without access to a space gets 403 on PUT and DELETE of it, with the documented error body")
    func forbiddenWithoutAccess() async throws {
        let s = try await KonaConnectorTests.sandbox()
        defer { Task { await s.stop() } }
        // The colleague takes part in space 1001 but does not own it.
        let put = try await send(s, "PUT", "/api/spaces/1001", token: KonaSandbox.defaultColleagueToken, body: ["spaces": [["name": "x"]]])
        let delete = try await send(s, "DELETE", "/api/spaces/1001", token: KonaSandbox.defaultColleagueToken)
        #expect(put.status == 403 && delete.status == 403)
        #expect(put.json?["title"] == "Forbidden" && put.json?["details"]?.stringValue != nil)
    }
}
