import Foundation
import Kinopio
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagSandbox
import Testing

// Restore into the live account (issue 19), over real HTTP against the Kinopio sandbox. The restore routes' shapes
// are kinopio-client's (commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7): src/data/apiDocs.md "Spaces" and "Cards"
// (`PATCH /space/restore/:spaceId`, `PATCH /card/restore`, `POST /card/multiple`), src/stores/useApiStore.js
// `restoreRemovedSpace` (a PATCH with no body, the id in the path) and src/stores/useCardStore.js `restoreRemovedCard`
// (the card as the body, `isRemoved: false`).

/// A demo account, its archive, and the damage done since: a space deleted for good, the journal space in the trash, in the
/// garden space a card in the trash and a card (with its connection) deleted for good, in the inbox a card
/// edited and a card added.
struct Damaged {
    let wire: KinopioWire
    let connection: KinopioConnection
    let dir: URL
    let archive: URL
    var ids: [String: String] = [:]

    static let owner = KinopioWire.Key.user(Fixture.sourceKey)

    static func make() async throws -> Damaged {
        let wire = try await KinopioWire.start()
        let connection = try Fixture.connection(wire.sandbox, key: Fixture.sourceKey)
        let dir = try Fixture.tempDir()
        let archive = dir.appendingPathComponent("before.tar.zst")
        let d = Damaged(wire: wire, connection: connection, dir: dir, archive: archive)
        do {
            return try await d.damage()
        } catch {
            await d.stop()
            throw error
        }
    }

    func damage() async throws -> Damaged {
        var d = self
        _ = try await Fixture.export(connection, to: archive)

        let reading = try await space(named: "Public Reading List", wire)
        let drafts = try await anySpace(named: "Journal — March 1, 2024", wire)
        let garden = try await space(named: "Garden Project 🌱", wire)
        let journal = try await space(named: "Inbox", wire)
        func id(_ v: JSONValue?) -> String { v?["id"]?.stringValue ?? "" }
        func liveCards(_ space: JSONValue) -> [JSONValue] {
            (space["cards"]?.arrayValue ?? []).filter { $0["isRemoved"]?.boolValue != true }
        }
        d.ids["reading"] = id(reading)
        d.ids["drafts"] = id(drafts)
        d.ids["garden"] = id(garden)
        d.ids["journal"] = id(journal)
        // A garden card at the end of a connection is deleted for good (its connection goes with it); another is trashed.
        let connections = garden["connections"]?.arrayValue ?? []
        func ends(_ c: JSONValue) -> [String] {
            let start: String = c["startItemId"]?.stringValue ?? c["startCardId"]?.stringValue ?? ""
            let end: String = c["endItemId"]?.stringValue ?? c["endCardId"]?.stringValue ?? ""
            return [start, end]
        }
        let ended = Set(connections.flatMap(ends))
        let gardenCards = liveCards(garden)
        let gone = try #require(gardenCards.first { ended.contains(id($0)) })
        let trashed = try #require(gardenCards.first { !ended.contains(id($0)) })
        d.ids["goneCard"] = id(gone)
        d.ids["trashedCard"] = id(trashed)
        d.ids["goneConnection"] = id(connections.first { ends($0).contains(id(gone)) })
        let edited = try #require(liveCards(journal).first)
        d.ids["editedCard"] = id(edited)
        d.ids["editedName"] = edited["name"]?.stringValue ?? ""

        #expect(try await wire.call("DELETE", "/space/permanent", Self.owner, body: ["id": .string(id(reading))]).status == 200)
        #expect(try await wire.call("DELETE", "/space", Self.owner, body: ["id": .string(id(drafts))]).status == 200)
        #expect(try await wire.call("DELETE", "/card/permanent", Self.owner, body: ["id": .string(id(gone))]).status == 200)
        #expect(try await wire.call("DELETE", "/card", Self.owner, body: ["id": .string(id(trashed))]).status == 200)
        #expect(
            try await wire.call("PATCH", "/card", Self.owner, body: ["id": .string(id(edited)), "name": "edited since the backup"]).status == 200)
        let added = try await wire.call(
            "POST", "/card", Self.owner, body: ["spaceId": .string(id(journal)), "name": "added since the backup", "x": 10, "y": 10])
        d.ids["addedCard"] = added["id"]?.stringValue ?? ""
        return d
    }

    func stop() async {
        await connection.shutdown()
        await wire.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    func restore(_ options: RestoreOptions = RestoreOptions()) async throws -> (RestoreReport, [SandboxWrite]) {
        let mark = await wire.sandbox.writeMark()
        let report = try await RestoreJobs.restore(
            archive, connector: connection, options: options, journalURL: dir.appendingPathComponent("restore.sqlite"),
            progress: .silent)
        return (report, await wire.sandbox.writes(since: mark))
    }

    func diff(_ scope: RestoreScope = RestoreScope()) async throws -> LiveDiff {
        try await RestoreJobs.diffLive(archive, connector: connection, scope: scope, progress: .silent)
    }
}

@Suite("Kinopio restore into the live account")
struct KinopioRestoreTests {
    @Test func liveDiffListsWhatWasDeletedTrashedChangedAndAddedByTitleAndID() async throws {
        let d = try await Damaged.make()
        let diff = try await d.diff()
        func change(_ kind: String, _ id: String?) -> LiveDiff.Entry? {
            diff.entries.first { $0.kind == kind && $0.id == id }
        }
        #expect(change("space", d.ids["reading"])?.change == .deleted)
        #expect(change("space", d.ids["reading"])?.title == "Public Reading List")
        #expect(change("space", d.ids["drafts"])?.change == .removed)
        #expect(change("card", d.ids["goneCard"])?.change == .deleted)
        #expect(change("connection", d.ids["goneConnection"])?.change == .deleted)
        #expect(change("card", d.ids["trashedCard"])?.change == .removed)
        #expect(change("card", d.ids["editedCard"])?.change == .changed)
        #expect(change("card", d.ids["editedCard"])?.fields == ["name"])
        #expect(change("card", d.ids["editedCard"])?.title == "edited since the backup")
        #expect(change("card", d.ids["addedCard"])?.change == .added)
        // Nothing else differs: the other entries are the deleted space's contents.
        let others = diff.entries.filter {
            ![d.ids["reading"], d.ids["drafts"], d.ids["goneCard"], d.ids["goneConnection"], d.ids["trashedCard"], d.ids["editedCard"], d.ids["addedCard"]].contains($0.id)
        }
        #expect(
            others.allSatisfy { $0.container == d.ids["reading"] || (["tag", "connection"].contains($0.kind) && $0.container == d.ids["garden"]) },
            "\(others.map { "\(entryText($0)) in \($0.container ?? "-")" })")
        #expect(diff.kinds["card"]?.deleted ?? 0 >= 2)
        // A JSON round trip keeps it whole (the --json shape).
        let data = try JSONEncoder().encode(diff)
        #expect(try JSONDecoder().decode(LiveDiff.self, from: data) == diff)
        await d.stop()
    }

    @Test func restorePutsBackWhatWasLostWithItsIdsAndWritesNothingElse() async throws {
        let d = try await Damaged.make()
        // The dry run plans and counts, and writes nothing.
        let (dry, dryWrites) = try await d.restore(RestoreOptions(dryRun: true))
        #expect(dryWrites.isEmpty)
        #expect(dry.dryRun && dry.writeRequests > 0)

        let (report, writes) = try await d.restore()
        #expect(report.plan.steps.map { "\($0.action.rawValue) \($0.kind) \($0.id)" } == dry.plan.steps.map { "\($0.action.rawValue) \($0.kind) \($0.id)" })
        #expect(report.writeRequests == dry.writeRequests, "dry run counted \(dry.requests), the restore sent \(report.requests)")
        #expect(writes.count == report.writeRequests)
        let routes = Set(writes.map(\.route))
        #expect(
            routes.isSubset(of: [
                "PATCH /space/restore/:spaceId", "POST /space/multiple", "POST /card/multiple", "POST /connection/multiple",
                "POST /box/multiple", "POST /list", "PATCH /card/restore", "DELETE /card",
            ]), "\(routes)")
        #expect(routes.contains("PATCH /space/restore/:spaceId") && routes.contains("PATCH /card/restore"))
        // Nothing that still existed was changed, nothing added was removed.
        let touched = Set(writes.flatMap(\.changes).filter { $0.kind == "card" }.map(\.id))
        #expect(!touched.contains(d.ids["editedCard"]!) && !touched.contains(d.ids["addedCard"]!))
        #expect(touched.contains(d.ids["goneCard"]!) && touched.contains(d.ids["trashedCard"]!))
        #expect(writes.flatMap(\.changes).allSatisfy { $0.action != .deleted || $0.kind == "card" })

        // Export again: what was put back equals the archive; the edit and the addition are still there.
        let after = try await d.diff()
        #expect(
            after.entries.map { "\($0.change.rawValue) \($0.kind) \($0.id)" }.sorted()
                == ["added card \(d.ids["addedCard"]!)", "changed card \(d.ids["editedCard"]!)"], "\(after.entries.map(entryText))")
        let space = try await space(named: "Public Reading List", d.wire)
        #expect(space["id"]?.stringValue == d.ids["reading"])

        // A second restore writes nothing.
        let (again, none) = try await d.restore()
        #expect(none.isEmpty && again.plan.steps.isEmpty && again.writeRequests == 0)
        await d.stop()
    }

    @Test func revertAndDeleteAddedOnlyWhenAskedAndOnlyForTheSelection() async throws {
        let d = try await Damaged.make()
        let edited = d.ids["editedCard"]!, added = d.ids["addedCard"]!
        let (report, writes) = try await d.restore(
            RestoreOptions(scope: RestoreScope(only: [("card", edited), ("card", added)]), revert: true, deleteAdded: true))
        #expect(report.plan.steps.map { "\($0.action.rawValue) \($0.id)" }.sorted() == ["remove \(added)", "revert \(edited)"].sorted())
        #expect(Set(writes.map(\.route)) == ["PATCH /card/multiple", "DELETE /card"])
        // Only the two cards were written (their space's updatedAt moves with them).
        #expect(Set(writes.flatMap(\.changes).filter { $0.kind == "card" }.map(\.id)) == [edited, added], "\(writes)")
        #expect(writes.flatMap(\.changes).allSatisfy { $0.kind != "space" || ($0.id == d.ids["journal"] && $0.action == .updated) })
        let card = try await d.wire.call("GET", "/card/\(edited)", Damaged.owner)
        #expect(card["name"]?.stringValue == d.ids["editedName"])
        // The restore of two cards read their space alone, with no listing of the account: once for the comparison,
        // once again just before the revert's write.
        #expect(report.requests["GET /user/spaces"] == nil && report.requests["GET /space/:spaceId"] == 2, "\(report.requests)")
        // The rest of the damage is still there.
        let rest = try await d.diff()
        #expect(rest.entries.contains { $0.id == d.ids["reading"] && $0.change == .deleted })
        #expect(!rest.entries.contains { $0.id == edited || $0.id == added })
        await d.stop()
    }

    @Test func aRevertLeavesAloneWhatWasEditedOrRemovedAfterThePlan() async throws {
        let d = try await Damaged.make()
        let journal = d.ids["journal"]!, edited = d.ids["editedCard"]!
        // Two more inbox cards edited since the backup: one is edited again, one trashed, between plan and write.
        let inbox = try await d.wire.call("GET", "/space/\(journal)", Damaged.owner)
        let others = (inbox["cards"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }.filter { $0 != edited && $0 != d.ids["addedCard"] }
        try #require(others.count >= 2)
        let (again, trashed) = (others[0], others[1])
        for id in [again, trashed] {
            #expect(try await d.wire.call("PATCH", "/card", Damaged.owner, body: ["id": .string(id), "name": "edited since the backup too"]).status == 200)
        }
        // The plan, made from a live read of the inbox.
        let live = d.dir.appendingPathComponent("live")
        let account = try await d.connection.probe()
        _ = try await ConnectorJobs.export(
            d.connection, account: account, destination: .folder(live), format: .folder,
            selection: ExportSelection(containers: [journal], containersOnly: true), renderings: [], progress: .silent)
        let archive = try SnapshotReader.open(d.archive)
        let now = try SnapshotReader.open(live)
        defer {
            archive.close()
            now.close()
        }
        let scope = RestoreScope(only: [("card", edited), ("card", again), ("card", trashed)])
        let diff = try LiveComparison.compare(
            archive: archive, live: now, rules: d.connection.liveRules, containers: [journal], scope: scope, archiveName: "before")
        let plan = RestoreJobs.plan(diff, options: RestoreOptions(scope: scope, revert: true), target: d.connection)
        #expect(plan.steps.map(\.id).sorted() == [edited, again, trashed].sorted())
        // After the plan: one card edited again, one put in the trash.
        #expect(try await d.wire.call("PATCH", "/card", Damaged.owner, body: ["id": .string(again), "name": "edited after the plan"]).status == 200)
        #expect(try await d.wire.call("DELETE", "/card", Damaged.owner, body: ["id": .string(trashed)]).status == 200)
        let mark = await d.wire.sandbox.writeMark()
        let outcome = try await d.connection.applyRestore(
            plan, archive: archive, live: now, restored: .none, journal: nil, dryRun: false, progress: .silent)
        // Only the card nobody touched since the plan is set back.
        let writes = await d.wire.sandbox.writes(since: mark)
        #expect(Set(writes.flatMap(\.changes).filter { $0.kind == "card" }.map(\.id)) == [edited], "\(writes)")
        #expect(outcome.done["revert card"] == 1)
        let skipped = Dictionary(uniqueKeysWithValues: outcome.leftAlone.map { ($0.entry.id, $0.reason) })
        #expect(skipped.count == 2)
        #expect(skipped[again]?.contains("edited in Kinopio after the plan") == true)
        #expect(skipped[trashed]?.contains("removed in Kinopio after the plan") == true)
        #expect(try await d.wire.call("GET", "/card/\(edited)", Damaged.owner)["name"]?.stringValue == d.ids["editedName"])
        #expect(try await d.wire.call("GET", "/card/\(again)", Damaged.owner)["name"]?.stringValue == "edited after the plan")
        await d.stop()
    }

    @Test func matchAndContainerRestoreOnlyTheirPart() async throws {
        let d = try await Damaged.make()
        // --match finds the deleted space by its title in the archive; nothing of the garden or inbox is written.
        let (byTitle, writes) = try await d.restore(RestoreOptions(scope: RestoreScope(match: "reading list")))
        #expect(byTitle.plan.steps.map { "\($0.action.rawValue) \($0.kind) \($0.id)" } == ["recreate space \(d.ids["reading"]!)"])
        #expect(Set(writes.flatMap(\.changes).filter { $0.kind == "space" }.map(\.id)) == [d.ids["reading"]!])
        // --container: the garden's card in the trash and its lost card (with its connections) come back, nothing else.
        let (garden, _) = try await d.restore(RestoreOptions(scope: RestoreScope(containers: [d.ids["garden"]!])))
        #expect(garden.plan.steps.allSatisfy { $0.container == d.ids["garden"] })
        #expect(Set(garden.plan.steps.filter { $0.kind == "card" }.map { "\($0.action.rawValue) \($0.id)" })
            == ["recreate \(d.ids["goneCard"]!)", "undelete \(d.ids["trashedCard"]!)"])
        #expect(garden.requests["GET /space/:spaceId"] == 1 && garden.requests["GET /user/spaces"] == nil)
        let rest = try await d.diff()
        #expect(Set(rest.entries.filter { $0.change != .changed && $0.change != .added }.map(\.id)) == [d.ids["drafts"]!])
        await d.stop()
    }

    @Test func anInterruptedRestoreRerunMakesExactlyOneCopy() async throws {
        let d = try await Damaged.make()
        let garden = d.ids["garden"]!, gone = d.ids["goneCard"]!
        // The create of the lost card reached the server but its answer was lost (the process was killed): the
        // card is there under its own id; the rerun must not make a second.
        let archived = try SnapshotReader.open(d.archive)
        let card = try #require(
            try archived.values(at: "data/spaces/\(ArchivePath.component(garden))/cards.jsonl").first { $0["id"]?.stringValue == gone })
        archived.close()
        var body = card.objectValue ?? JSONObject()
        for key in ["createdAt", "updatedAt", "userId", "nameUpdatedAt", "nameUpdatedByUserId"] { body[key] = nil }
        #expect(try await d.wire.call("POST", "/card/multiple", Damaged.owner, body: .array([.object(body)])).status == 200)
        let (report, writes) = try await d.restore(RestoreOptions(scope: RestoreScope(containers: [garden])))
        #expect(!report.plan.steps.contains { $0.id == gone && $0.kind == "card" })
        #expect(!writes.contains { $0.route == "POST /card/multiple" })
        let after = try await d.wire.call("GET", "/space/\(garden)", Damaged.owner)
        let named = (after["cards"]?.arrayValue ?? []).filter { $0["name"] == card["name"] }
        #expect(named.count == 1 && named.first?["id"]?.stringValue == gone)
        await d.stop()
    }

    @Test func anArchiveOfAnotherAccountIsRefusedNamingBoth() async throws {
        let d = try await Damaged.make()
        let other = try Fixture.connection(d.wire.sandbox, key: KinopioSandbox.defaultCollaboratorKey)
        let mark = await d.wire.sandbox.writeMark()
        await #expect {
            _ = try await RestoreJobs.restore(d.archive, connector: other, options: RestoreOptions(), journalURL: nil, progress: .silent)
        } throws: { error in
            let text = "\(error)"
            return text.contains("is of kinopio account ada-sandbox") && text.contains("credentials reach account grace-sandbox")
                && !text.contains("\n")
        }
        #expect(await d.wire.sandbox.writes(since: mark).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: RestoreJobs.defaultJournalURL(for: d.archive).path))
        await other.shutdown()
        await d.stop()
    }
}

func entryText(_ e: LiveDiff.Entry) -> String {
    "\(e.change.rawValue) \(e.kind) \(e.id) \(e.fields ?? [])"
}

/// The owner's space of this name, hidden ones included.
func anySpace(named name: String, _ wire: KinopioWire) async throws -> JSONValue {
    var list = try await wire.call("GET", "/user/spaces", .user(Fixture.sourceKey)).array
    list += try await wire.call("GET", "/user/hidden-spaces", .user(Fixture.sourceKey)).array
    let meta = try #require(list.first { $0["name"]?.stringValue == name }, "no space \(name)")
    return try #require(try await wire.call("GET", "/space/\(meta["id"]?.stringValue ?? "")", .user(Fixture.sourceKey)).json)
}
