import AsyncHTTPClient
import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagJournal
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import Kitemaker

// Initiatives through the mutations Kitemaker's published schema has (kitemakerhq/km `src/kitemaker.graphql`,
// commit 8e752965e19e23af4df7984ff267bbb412a9bc5b): `createInitiative(input: CreateInitiativeInput!)` with
// title, description, color, effortId, impactId, roadmapColumnIds, memberIds, labelIds, workItemIds, archivedAt,
// updatedAt, createdAt — and no spaces; `addInitiativesToRoadmap` / `removeInitiativesFromRoadmap` with
// `{columnId, initiativeIds}` answering `{roadmap}`. REST `POST /initiative` (kitemakerhq/rest-docs
// `_api/initiative_post.md`, commit 2f0c66b3c459eb969218810464bd1d8afe5a3ca6) takes spaceIds and roadmapColumnIds
// but no dates. Neither side creates roadmaps or their columns.

/// GraphQL straight to a sandbox, with the source token unless told otherwise.
private func graphQL(
    _ sandbox: RunningSandbox, _ query: String, _ variables: JSONObject = JSONObject(), token: String = Kite.sourceToken
) async throws -> (status: Int, body: JSONValue) {
    var request = HTTPClientRequest(url: sandbox.baseURL.absoluteString + "/developers/graphql")
    request.method = .POST
    request.headers.add(name: "Authorization", value: "Bearer \(token)")
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(JSONValue.object(JSONObject([("query", .string(query)), ("variables", .object(variables))])).serialized())
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
    let bytes = Array(try await response.body.collect(upTo: 16 << 20).readableBytesView)
    return (Int(response.status.code), try JSONValue(parsing: bytes))
}

/// A roadmap column's id by name, and the ids of the initiatives in it, as the target shows them now.
private func columns(_ sandbox: RunningSandbox, token: String = Kite.sourceToken) async throws
    -> [String: (id: String, initiatives: [String])]
{
    let answer = try await graphQL(
        sandbox, "{ roadmaps { roadmaps { name columns { id name initiatives { id } } } } }", token: token)
    #expect(answer.status == 200)
    var out: [String: (id: String, initiatives: [String])] = [:]
    for roadmap in answer.body["data"]?["roadmaps"]?["roadmaps"]?.arrayValue ?? [] {
        for c in roadmap["columns"]?.arrayValue ?? [] {
            out[c["name"]?.stringValue ?? ""] = (
                c["id"]?.stringValue ?? "", (c["initiatives"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            )
        }
    }
    return out
}

/// Copies an archive into a new folder archive, each JSON Lines file passed through `change` (path, values).
func rewriteArchive(_ archive: URL, to out: URL, _ change: (String, [JSONValue]) -> [JSONValue]) throws {
    let reader = try SnapshotReader.open(archive)
    defer { reader.close() }
    let writer = try SnapshotWriter(destination: .folder(out), format: .folder, info: reader.info, snapshotTime: Kite.snapshotTime)
    for entry in reader.jsonLinesEntries() {
        let parts = entry.path.split(separator: "/").map(String.init)
        let file = String(parts.last!.dropLast(".jsonl".count))
        let container = parts[1] == "account" ? ContainerRef.account : ContainerRef(kind: parts[1], id: ArchivePath.decodeComponent(parts[2]))
        try writer.writeJSONLines(
            container: container, file: file, kind: entry.kind ?? file, values: change(entry.path, try reader.values(at: entry.path)))
    }
    _ = try writer.seal(notExported: [], finishedAt: Kite.snapshotTime)
}

@Suite("Kitemaker initiatives and roadmaps")
struct KitemakerInitiativeImportTests {
    @Test("createInitiative as the schema defines it keeps dates, archived state, members, work items and columns; addInitiativesToRoadmap places once")
    func createInitiativeContract() async throws {
        let sandbox = try await Kite.sandbox(.demo, token: Kite.sourceToken)
        let org = try await graphQL(sandbox, "{ organization { users { id username } } }")
        let ada = try #require(org.body["data"]?["organization"]?["users"]?.arrayValue?.first { $0["username"] == "ada" }?["id"])
        let item = try #require(
            try await graphQL(sandbox, "{ workItemByNumber(number: \"ACM-1\") { id } }").body["data"]?["workItemByNumber"]?["id"])
        let before = try await columns(sandbox)
        let done = try #require(before["Done"]?.id)
        let now = try #require(before["Now"]?.id)

        let created = try await graphQL(
            sandbox,
            """
            mutation CreateInitiative($input: CreateInitiativeInput!) {
              createInitiative(input: $input) {
                initiative { id createdAt updatedAt archivedAt spaces { id } members { username } workItems { id }
                  roadmapColumns { name } }
              }
            }
            """,
            JSONObject([(
                "input",
                [
                    "title": "Migrated goal", "description": "From the old tool", "createdAt": "2023-01-02T03:04:05.000Z",
                    "updatedAt": "2023-02-03T04:05:06.000Z", "archivedAt": "2023-06-01T00:00:00.000Z",
                    "memberIds": [ada], "workItemIds": [item], "roadmapColumnIds": [.string(done)],
                ]
            )]))
        #expect(created.status == 200)
        #expect(created.body["errors"] == nil, "\(created.body.serializedString())")
        let initiative = try #require(created.body["data"]?["createInitiative"]?["initiative"])
        #expect(initiative["createdAt"] == "2023-01-02T03:04:05.000Z")
        #expect(initiative["updatedAt"] == "2023-02-03T04:05:06.000Z")
        #expect(initiative["archivedAt"] == "2023-06-01T00:00:00.000Z")
        #expect(initiative["spaces"] == [])
        #expect(initiative["members"] == [["username": "ada"]])
        #expect(initiative["workItems"] == [["id": item]])
        #expect(initiative["roadmapColumns"] == [["name": "Done"]])
        let id = try #require(initiative["id"]?.stringValue)

        // CreateInitiativeInput has no spaces: a document that sends them does not validate.
        let withSpaces = try await graphQL(
            sandbox, "mutation { createInitiative(input: { title: \"x\", spaceIds: [\"a\"] }) { initiative { id } } }")
        #expect(withSpaces.status == 400)
        #expect(withSpaces.body["errors"]?.arrayValue?.first?["message"]?.stringValue?.contains("spaceIds") == true)

        // Adding to a column twice places the initiative once; removing takes it out; an unknown column is named.
        let add = """
            mutation Add($input: AddInitiativesToRoadmapInput!) {
              addInitiativesToRoadmap(input: $input) { roadmap { name columns { name initiatives { id } } } }
            }
            """
        let placement = JSONObject([("input", ["columnId": .string(now), "initiativeIds": [.string(id)]])])
        for _ in 0..<2 {
            let added = try await graphQL(sandbox, add, placement)
            #expect(added.body["errors"] == nil, "\(added.body.serializedString())")
            #expect(added.body["data"]?["addInitiativesToRoadmap"]?["roadmap"]?["name"] == "Product roadmap")
        }
        #expect(try await columns(sandbox)["Now"]?.initiatives.filter { $0 == id }.count == 1)
        #expect(try await columns(sandbox)["Now"]?.initiatives.count == (before["Now"]?.initiatives.count ?? 0) + 1)
        let removed = try await graphQL(
            sandbox,
            "mutation Remove($input: RemoveInitiativesFromRoadmapInput!) { removeInitiativesFromRoadmap(input: $input) { roadmap { id } } }",
            placement)
        #expect(removed.body["errors"] == nil)
        #expect(try await columns(sandbox)["Now"]?.initiatives.contains(id) == false)
        let unknown = try await graphQL(
            sandbox, add, JSONObject([("input", ["columnId": "nope", "initiativeIds": [.string(id)]])]))
        #expect(unknown.body["errors"]?.arrayValue?.first?["message"]?.stringValue?.contains("roadmap column") == true)
        await sandbox.stop()
    }

    @Test("REST POST /initiative takes roadmapColumnIds of columns that exist and refuses others")
    func restInitiativeOnAColumn() async throws {
        let sandbox = try await Kite.sandbox(.demo, token: Kite.sourceToken)
        let next = try #require(try await columns(sandbox)["Next"]?.id)
        func post(_ columns: [String]) async throws -> (Int, JSONValue?) {
            var request = HTTPClientRequest(url: sandbox.baseURL.absoluteString + "/developers/rest/v1/initiative")
            request.method = .POST
            request.headers.add(name: "X-API-KEY", value: Kite.sourceToken)
            request.headers.add(name: "Content-Type", value: "application/json")
            let body: JSONValue = ["title": "Later", "roadmapColumnIds": .array(columns.map(JSONValue.string))]
            request.body = .bytes(body.serialized())
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            let bytes = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
            return (Int(response.status.code), try? JSONValue(parsing: bytes))
        }
        let created = try await post([next])
        #expect(created.0 == 201)
        let id = try #require(created.1?["id"]?.stringValue)
        #expect(try await columns(sandbox)["Next"]?.initiatives.contains(id) == true)
        let refused = try await post(["no-such-column"])
        #expect(refused.0 == 404)
        #expect(refused.1?["errors"]?[0]?["message"]?.stringValue?.contains("roadmap column") == true)
        await sandbox.stop()
    }

    @Test("an import keeps an archived initiative's dates and state, an active one's spaces, and places each on its column of the same name")
    func importedInitiativesKeepWhatTheirRouteCanWrite() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let exported = try await Kite.demoArchive(in: dir)
        let original = try SnapshotReader.open(exported)
        let sourceInitiatives = try original.values(at: "data/account/initiatives.jsonl")
        let sourceRoadmaps = try original.values(at: "data/account/roadmaps.jsonl")
        let ada = try #require(try original.values(at: "data/account/users.jsonl").first { $0["username"] == "ada" }?["id"])
        original.close()
        let q2 = try #require(sourceInitiatives.first { $0["title"] == "Q2 polish" })
        let reliability = try #require(sourceInitiatives.first { $0["title"] == "Reliability" })
        let doneColumn = try #require(sourceRoadmaps.first?["columns"]?.arrayValue?.first { $0["name"] == "Done" }?["id"])

        // "Reliability" becomes archived; a third initiative in no space sits (by its own roadmapColumns only, as an
        // older archive may have it) in the Done column.
        let archivedAt: JSONValue = "2024-02-01T10:00:00.000Z"
        let orgWide: JSONValue = [
            "id": "f0f0f0f0f0f0f0f1", "number": "3", "title": "Company-wide goals", "description": "For everyone",
            "color": "orange", "archivedAt": .null, "createdAt": "2023-11-05T08:00:00.000Z",
            "updatedAt": "2023-11-06T08:00:00.000Z", "spaces": [], "labels": [], "workItems": [], "members": [["id": ada]],
            "watchers": [], "roadmapColumns": [["id": doneColumn]], "comments": [],
        ]
        let archive = dir.appendingPathComponent("changed")
        try rewriteArchive(exported, to: archive) { path, values in
            guard path == "data/account/initiatives.jsonl" else { return values }
            return values.map { i in
                guard i["title"] == "Reliability" else { return i }
                var i = i
                i["archivedAt"] = archivedAt
                return i
            } + [orgWide]
        }

        // The demo organization has the same roadmap ("Product roadmap": Done, Now, Next) and users.
        let target = try await Kite.sandbox(.demo, token: Kite.targetToken)
        let to = try Kite.connect(target, token: Kite.targetToken)
        let seeded = try await columns(target, token: Kite.targetToken)
        #expect(seeded["Now"]?.initiatives.count == 1)
        let journalURL = dir.appendingPathComponent("j.sqlite")
        let imported = try await Kite.importArchive(archive, into: to, journal: journalURL)
        #expect(imported.created["initiative"] == 3)
        #expect(imported.created["roadmapPlacement"] == 3)
        #expect(imported.requests["POST /initiative"] == 1)
        #expect(imported.requests["POST /graphql createInitiative"] == 2)
        #expect(imported.requests["POST /graphql editInitiative"] == 1)
        #expect(imported.requests["POST /graphql addInitiativesToRoadmap"] == 3)
        #expect(imported.requests["POST /graphql roadmaps"] == 1)
        let q2ID = try #require(q2["id"]?.idString)
        let reliabilityID = try #require(reliability["id"]?.idString)
        #expect(imported.notImported.contains { $0.kind == "initiative.createdAt" && $0.container == q2ID })
        #expect(imported.notImported.contains { $0.kind == "initiative.spaces" && $0.container == reliabilityID && $0.reason.contains("OPS") })
        #expect(!imported.notImported.contains { $0.kind == "initiative.spaces" && $0.container != reliabilityID })
        #expect(!imported.notImported.contains { $0.kind == "roadmapColumn" || $0.kind == "initiative.roadmapColumns" })
        #expect(imported.notImported.contains { $0.kind == "initiative.watchers" })

        let journal = try ImportJournal(readingFrom: journalURL)
        let ids = try journal.entries(kind: "initiative").mapValues(\.targetID)
        let after = dir.appendingPathComponent("after.tar.zst")
        _ = try await Kite.export(to, to: after)
        let reader = try SnapshotReader.open(after)
        let byID = Dictionary(
            try reader.values(at: "data/account/initiatives.jsonl").map { ($0["id"]?.idString ?? "", $0) },
            uniquingKeysWith: { a, _ in a })
        // Every user exists here, so feedback owners are carried too (grace owns the first feedback).
        let feedbackIDs = try journal.entries(kind: "feedback").mapValues(\.targetID)
        let sourceFeedback = try SnapshotReader.open(exported).values(at: "data/account/feedback.jsonl")
        let owned = try #require(sourceFeedback.first { !($0["owners"]?.arrayValue ?? []).isEmpty })
        let ownedCopy = try reader.values(at: "data/account/feedback.jsonl").first {
            $0["id"]?.idString == feedbackIDs[owned["id"]?.idString ?? ""]
        }
        #expect(ownedCopy?["owners"]?.arrayValue?.count == owned["owners"]?.arrayValue?.count)
        #expect(!imported.notImported.contains { $0.kind == "members" }, "every user has a same-named user here")
        reader.close()
        let targetColumns = try await columns(target, token: Kite.targetToken)

        let newQ2 = try #require(ids[q2ID].flatMap { byID[$0] })
        #expect(newQ2["spaces"]?.arrayValue?.compactMap { $0["key"]?.stringValue } == ["ACM", "OPS"])
        #expect(newQ2["archivedAt"] == .null)
        #expect(newQ2["workItems"]?.arrayValue?.count == 3)
        #expect(newQ2["members"]?.arrayValue?.count == 2)
        #expect(newQ2["roadmapColumns"] == [["id": .string(targetColumns["Now"]?.id ?? "")]])

        let newReliability = try #require(ids[reliabilityID].flatMap { byID[$0] })
        #expect(newReliability["archivedAt"] == archivedAt)
        #expect(newReliability["createdAt"] == reliability["createdAt"])
        #expect(newReliability["updatedAt"] == reliability["updatedAt"])
        #expect(newReliability["spaces"] == [])
        #expect(newReliability["workItems"]?.arrayValue?.count == 2)
        #expect(newReliability["members"]?.arrayValue?.count == 2)
        #expect(newReliability["color"] == reliability["color"])
        #expect(newReliability["roadmapColumns"] == [["id": .string(targetColumns["Next"]?.id ?? "")]])

        let newOrgWide = try #require(ids["f0f0f0f0f0f0f0f1"].flatMap { byID[$0] })
        #expect(newOrgWide["createdAt"] == orgWide["createdAt"])
        #expect(newOrgWide["members"]?.arrayValue?.count == 1)
        #expect(newOrgWide["roadmapColumns"] == [["id": .string(targetColumns["Done"]?.id ?? "")]])
        // The column keeps what it had and gains the import, in order.
        #expect(targetColumns["Now"]?.initiatives == (seeded["Now"]?.initiatives ?? []) + [newQ2["id"]?.stringValue ?? ""])

        // A rerun (a new connection, so its request counts start at zero) finds every placement in the journal and
        // sends nothing.
        let again = try await Kite.importArchive(
            archive, into: try Kite.connect(target, token: Kite.targetToken), journal: journalURL)
        #expect(again.created["initiative"] == nil && again.created["roadmapPlacement"] == nil)
        #expect(again.alreadyPresent["roadmapPlacement"] == 3)
        #expect(again.requests["POST /graphql addInitiativesToRoadmap"] == nil)
        #expect(again.requests["POST /graphql createInitiative"] == nil && again.requests["POST /initiative"] == nil)
        #expect(try await columns(target, token: Kite.targetToken)["Now"]?.initiatives == targetColumns["Now"]?.initiatives)
        await target.stop()
    }

    @Test("a column the target's roadmap lacks is named; the initiatives on the others are placed")
    func missingColumnIsReported() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let exported = try await Kite.demoArchive(in: dir)
        let archive = dir.appendingPathComponent("renamed")
        try rewriteArchive(exported, to: archive) { path, values in
            guard path == "data/account/roadmaps.jsonl" else { return values }
            return values.map { roadmap in
                var roadmap = roadmap
                roadmap["columns"] = .array((roadmap["columns"]?.arrayValue ?? []).map { c in
                    var c = c
                    if c["name"] == "Next" { c["name"] = "Someday" }
                    return c
                })
                return roadmap
            }
        }
        let target = try await Kite.sandbox(.demo, token: Kite.targetToken)
        let imported = try await Kite.importArchive(
            archive, into: try Kite.connect(target, token: Kite.targetToken), journal: dir.appendingPathComponent("j.sqlite"))
        let line = try #require(imported.notImported.first { $0.kind == "roadmapColumn" })
        #expect(line.reason.hasPrefix("the target's roadmap “Product roadmap” has no column “Someday”"), "\(line.reason)")
        #expect(imported.created["roadmapPlacement"] == 1)
        #expect(imported.requests["POST /graphql addInitiativesToRoadmap"] == 1)
        await target.stop()
    }

    @Test("an initiative whose spaces are partly or wholly outside the import keeps the imported ones, and says which it lost")
    func spacesOutsideTheImport() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Kite.sandbox(.demo, token: Kite.sourceToken)
        let from = try Kite.connect(source, token: Kite.sourceToken)
        let archive = dir.appendingPathComponent("acm.tar.zst")
        _ = try await ConnectorJobs.export(
            from, account: try await from.probe(), destination: .file(archive), format: .tarZst,
            selection: ExportSelection(containers: ["ACM"]), progress: .silent, now: Kite.snapshotTime, finishedAt: Kite.snapshotTime)
        await source.stop()
        let initiatives = try SnapshotReader.open(archive).values(at: "data/account/initiatives.jsonl")
        let q2 = try #require(initiatives.first { $0["title"] == "Q2 polish" }?["id"]?.idString)
        let reliability = try #require(initiatives.first { $0["title"] == "Reliability" }?["id"]?.idString)

        let target = try await Kite.sandbox(.empty, token: Kite.targetToken)
        let to = try Kite.connect(target, token: Kite.targetToken)
        let imported = try await Kite.importArchive(archive, into: to, journal: dir.appendingPathComponent("j.sqlite"))
        // Q2 polish (ACM and OPS) is created in ACM through REST; Reliability (OPS only) has no imported space, so
        // createInitiative keeps its dates instead.
        #expect(imported.requests["POST /initiative"] == 1 && imported.requests["POST /graphql createInitiative"] == 1)
        let q2Line = try #require(imported.notImported.first { $0.kind == "initiative.spaces" && $0.container == q2 })
        #expect(q2Line.reason.contains("OPS is not in this import"), "\(q2Line.reason)")
        let reliabilityLine = try #require(imported.notImported.first { $0.kind == "initiative.spaces" && $0.container == reliability })
        #expect(reliabilityLine.reason.contains("none of its spaces (OPS) is in this import"), "\(reliabilityLine.reason)")
        let after = dir.appendingPathComponent("after.tar.zst")
        _ = try await Kite.export(to, to: after)
        let copies = try SnapshotReader.open(after).values(at: "data/account/initiatives.jsonl")
        #expect(copies.first { $0["title"] == "Q2 polish" }?["spaces"]?.arrayValue?.compactMap { $0["key"]?.stringValue } == ["ACM"])
        let reliabilityCopy = copies.first { $0["title"] == "Reliability" }
        #expect(reliabilityCopy?["createdAt"] == initiatives.first { $0["title"] == "Reliability" }?["createdAt"])
        await target.stop()
    }

    @Test("a roadmap the target lacks is named with its columns; the initiatives are imported and the round trip is whole")
    func missingRoadmapIsReported() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let archive = try await Kite.demoArchive(in: dir)
        let target = try await Kite.sandbox(.empty, token: Kite.targetToken)
        let to = try Kite.connect(target, token: Kite.targetToken)
        let journalURL = dir.appendingPathComponent("j.sqlite")
        let imported = try await Kite.importArchive(archive, into: to, journal: journalURL)
        #expect(imported.created["initiative"] == 2)
        #expect(imported.created["roadmapPlacement"] == nil)
        #expect(imported.requests["POST /graphql addInitiativesToRoadmap"] == nil)
        let line = try #require(imported.notImported.first { $0.kind == "roadmapColumn" })
        #expect(line.container == "“Product roadmap”")
        #expect(line.reason.hasPrefix("the target has no roadmap “Product roadmap”"), "\(line.reason)")
        #expect(line.reason.contains("“Now”") && line.reason.contains("“Next”") && !line.reason.contains("“Done”"))
        #expect(line.reason.contains("run the import again"))
        let after = dir.appendingPathComponent("after.tar.zst")
        _ = try await Kite.export(to, to: after)
        let diffs = try to.roundTripDifferences(
            sourceArchive: archive, targetArchive: after, journal: journalURL, notImported: imported.notImported)
        #expect(diffs.isEmpty, "\(diffs.prefix(5))")
        await target.stop()
    }
}

extension JSONValue {
    /// The element at `index` of an array, nil otherwise (tests only).
    fileprivate subscript(index: Int) -> JSONValue? {
        guard let a = arrayValue, a.indices.contains(index) else { return nil }
        return a[index]
    }
}
