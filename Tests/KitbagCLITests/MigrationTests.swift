import Foundation
import KitbagArchive
import KitbagCore
import KitbagSandbox
import KitbagTestSupport
import Testing

/// `kitbag import ARCHIVE --to OTHER`: the demo seed of one service's sandbox exported, migrated through the common
/// model into an empty sandbox of another over HTTP, exported again and compared; the loss report asserted exactly.
@Suite struct MigrationTests {
    struct Service: Sendable {
        let name: String
        let tokenVariable: String
        /// The variables that carry `secret`: Kintone signs in with a login (API tokens cannot list or create apps).
        func env(_ secret: String) -> [String: String] {
            tokenVariable == "KINTONE_PASSWORD" ? ["KINTONE_USERNAME": "Administrator", tokenVariable: secret] : [tokenVariable: secret]
        }
        let start: @Sendable (SandboxSeed, String) async throws -> RunningSandbox
    }

    static func options(_ seed: SandboxSeed, _ key: String) -> SandboxOptions {
        var o = SandboxOptions()
        o.seed = seed
        o.credentials = [key]
        o.rateLimit = false
        return o
    }

    static let kinopio = Service(name: "kinopio", tokenVariable: "KINOPIO_API_KEY") {
        try await KinopioSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t"))
    }
    static let kintone = Service(name: "kintone", tokenVariable: "KINTONE_PASSWORD") {
        try await KintoneSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t"))
    }
    static let kitemaker = Service(name: "kitemaker", tokenVariable: "KITEMAKER_TOKEN") {
        try await KitemakerSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t"))
    }
    static let kona = Service(name: "kona", tokenVariable: "KONA_ACCESS_TOKEN") {
        try await KonaSandbox.start(options($0, $1), logger: SandboxServer.quietLogger("t"))
    }

    static let goldenFolder = CLI.packageRoot.appendingPathComponent("Tests/KitbagCLITests/Golden")

    /// A source sandbox's demo seed, exported through the CLI.
    static func exportDemo(_ s: Service, into dir: URL) async throws -> URL {
        let sandbox = try await s.start(.demo, "source-token-1")
        defer { Task { await sandbox.stop() } }
        let archive = dir.appendingPathComponent("\(s.name)-demo.tar.zst")
        let r = try await CLI.run(
            ["export", s.name, "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "-o", archive.path, "-q"],
            env: s.env("source-token-1"))
        #expect(r.status == 0, "export \(s.name): \(r.stderr)")
        return archive
    }

    static func export(_ s: Service, _ sandbox: RunningSandbox, into url: URL) async throws {
        let r = try await CLI.run(
            ["export", s.name, "--base-url", sandbox.baseURL.absoluteString, "--rate-limit", "0", "-o", url.path, "-q"],
            env: s.env("target-token-2"))
        #expect(r.status == 0, "export \(s.name): \(r.stderr)")
    }

    /// Every value of one entity kind in an archive, in archive order.
    static func values(_ archive: URL, kind: String) throws -> [JSONValue] {
        let reader = try SnapshotReader.open(archive)
        defer { reader.close() }
        return try reader.jsonLinesEntries().filter { $0.kind == kind }.flatMap { try reader.values(at: $0.path) }
    }

    /// Write requests a sandbox answered (GraphQL reads excluded).
    static func writes(_ sandbox: RunningSandbox) async -> Int {
        await sandbox.stats().requestsByRoute.filter { route, _ in
            ["POST ", "PUT ", "PATCH ", "DELETE "].contains { route.hasPrefix($0) } && !route.contains("graphql")
        }.values.reduce(0, +)
    }

    struct Migration {
        var report: JSONValue
        var stdout: String
        var targetArchive: URL
        var writes: Int
        var rerun: JSONValue
        var rerunWrites: Int
    }

    /// Exports `from`'s demo, migrates it into an empty `to` sandbox (twice: the rerun must create nothing) and
    /// exports the target.
    static func migrate(_ from: Service, _ to: Service, map: String? = nil, in dir: URL) async throws -> Migration {
        let archive = try await exportDemo(from, into: dir)
        let target = try await to.start(.empty, "target-token-2")
        defer { Task { await target.stop() } }
        var args = [
            "import", archive.path, "--to", to.name, "--base-url", target.baseURL.absoluteString, "--rate-limit", "0",
        ]
        if let map {
            let file = dir.appendingPathComponent("mapping.toml")
            try map.write(to: file, atomically: true, encoding: .utf8)
            args += ["--map", file.path]
        }
        let env = to.env("target-token-2")
        let first = try await CLI.run(args, env: env)
        #expect(first.status == 0, "\(from.name) → \(to.name): \(first.stderr)")
        let reportURL = dir.appendingPathComponent("\(archive.lastPathComponent).import-report.json")
        let report = try JSONValue(parsing: Data(contentsOf: reportURL))
        let writes = await Self.writes(target)
        let rerun = try await CLI.run(args + ["--json"], env: env)
        #expect(rerun.status == 0, "rerun \(from.name) → \(to.name): \(rerun.stderr)")
        let rerunWrites = await Self.writes(target) - writes
        let after = dir.appendingPathComponent("\(to.name)-after.tar")
        try await export(to, target, into: after)
        return Migration(
            report: report, stdout: first.out, targetArchive: after, writes: writes,
            rerun: try JSONValue(parsing: rerun.stdout), rerunWrites: rerunWrites)
    }

    /// `(attribute, items)` of every loss of one container of a report, in report order.
    static func losses(_ report: JSONValue, _ sourceID: String) -> [String] {
        let c = (report["containers"]?.arrayValue ?? []).first { $0["sourceID"]?.stringValue == sourceID }
        return (c?["notCarried"]?.arrayValue ?? []).map {
            "\($0["attribute"]?.stringValue ?? "?") ×\($0["items"]?.intValue ?? -1)"
        }
    }

    /// Compares `kitbag import --dry-run --json` with a golden plan file (KITBAG_UPDATE_GOLDEN=1 rewrites it).
    static func checkGolden(_ name: String, _ stdout: Data) throws {
        let url = goldenFolder.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["KITBAG_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: goldenFolder, withIntermediateDirectories: true)
            try stdout.write(to: url)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(String(decoding: stdout, as: UTF8.self) == golden, "\(name) differs from the golden plan")
    }

    static func dryRun(
        _ from: Service, _ to: Service, map: String? = nil, in dir: URL, archive: URL? = nil
    ) async throws -> CLI.Result {
        var source = archive
        if source == nil { source = try await exportDemo(from, into: dir) }
        guard let source else { throw UserError("no source archive") }
        let target = try await to.start(.empty, "target-token-2")
        defer { Task { await target.stop() } }
        var args = [
            "import", source.path, "--to", to.name, "--base-url", target.baseURL.absoluteString, "--dry-run", "--json",
        ]
        if let map {
            let folder = dir.appendingPathComponent(UUID().uuidString)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let file = folder.appendingPathComponent("mapping.toml")
            try map.write(to: file, atomically: true, encoding: .utf8)
            args += ["--map", file.path]
        }
        let r = try await CLI.run(args, env: to.env("target-token-2"))
        #expect(await Self.writes(target) == 0, "a dry run writes nothing")
        return r
    }

    // MARK: - Pairs

    static let kinopioToKitemakerMap = """
        [statuses]
        Spring = "Todo"
        Summer = "In Progress"

        [containers."Garden Project 🌱"]
        target = "ACM"
        [containers."Inbox"]
        target = "OPS"
        [containers."Journal — March 1, 2024"]
        target = "OPS"
        [containers."Public Reading List"]
        target = "ACM"
        default_status = "Backlog"
        [containers."Shared Recipes"]
        skip = true
        """

    static let kintoneToKitemakerMap = """
        [statuses]
        "Not started" = "Todo"
        "Completed" = "Done"

        [containers."Customers"]
        target = "ACM"
        [containers."Orders"]
        target = "ACM"
        [containers."Team Wiki"]
        target = "OPS"
        """

    // MARK: - Tests

    @Test func kintoneAppsBecomeKinopioSpacesWithBoxesPerStatusAndAnExactLossReport() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kintone, Self.kinopio, in: dir)
        let spaces = try Self.values(m.targetArchive, kind: "space")
        let cards = try Self.values(m.targetArchive, kind: "card")
        let boxes = try Self.values(m.targetArchive, kind: "box")
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(spaces.count == containers.count)
        #expect(cards.count == containers.reduce(0) { $0 + ($1["items"]?.intValue ?? 0) })
        #expect(m.report["created"]?["card"]?.intValue == cards.count)
        #expect(m.rerunWrites == 0, "a rerun writes nothing")
        #expect(m.rerun["created"]?.objectValue?.isEmpty == true)
        #expect(m.rerun["alreadyPresent"]?["card"]?.intValue == cards.count)
        // Only settings documents with something in them: Orders has them all, the other apps only a few.
        let settings1 = "app settings (views, appPermissions) ×2"
        let settings = "app settings (views, processManagement, appPermissions, recordPermissions, fieldPermissions, generalNotifications, perRecordNotifications, reminderNotifications, graphs, actions, adminNotes, plugins, customization) ×13"
        let settings3 = "app settings (appPermissions) ×1"
        #expect(Self.losses(m.report, "1") == ["description ×1", "author ×4", "created ×4", "updated ×4", settings1])
        #expect(
            Self.losses(m.report, "2") == [
                "description ×1", "author ×3", "created ×3", "updated ×3", "attachments ×3", settings,
            ])
        #expect(Self.losses(m.report, "3") == ["description ×1", "author ×2", "created ×2", "updated ×2", settings3])
        #expect(Set(boxes.compactMap { $0["name"]?.stringValue }) == ["Not started", "In progress", "Completed"])
        let names = cards.compactMap { $0["name"]?.stringValue }
        let order1 = try #require(names.first { $0.hasPrefix("ORD-0001\n") })
        #expect(order1.contains("Customer: Acme Corporation"))
        #expect(order1.contains("- Sato Hiroshi, 2024-03-01: Order received."), "comments travel in the card text")
        #expect(m.stdout.contains("not carried: author (4): Kinopio makes the importing key's user the creator of every card"))
    }

    @Test func kitemakerSpacesBecomeKinopioSpaces() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kitemaker, Self.kinopio, in: dir)
        let cards = try Self.values(m.targetArchive, kind: "card")
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(cards.count == containers.reduce(0) { $0 + ($1["items"]?.intValue ?? 0) })
        #expect(m.rerunWrites == 0)
        #expect(
            containers.map { Self.losses(m.report, $0["sourceID"]?.stringValue ?? "") } == [
                ["description ×1", "author ×5", "created ×5", "updated ×5", "members and watchers ×3"],
                ["description ×1", "author ×9", "created ×9", "updated ×9", "members and watchers ×4"],
            ])
        #expect(
            try Self.values(m.targetArchive, kind: "box").compactMap { $0["name"]?.stringValue }.sorted()
                == ["Archived", "Backlog", "Doing", "Done", "Done", "In Progress", "Inbox", "Todo"])
        #expect(try Self.values(m.targetArchive, kind: "tag").count == 14, "one tag per label of each work item")
    }

    @Test func kinopioSpacesBecomeKitemakerWorkItems() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kinopio, Self.kitemaker, map: Self.kinopioToKitemakerMap, in: dir)
        let items = try Self.values(m.targetArchive, kind: "workItem")
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(items.count == containers.reduce(0) { $0 + ($1["items"]?.intValue ?? 0) })
        #expect(m.rerunWrites == 0)
        #expect(
            containers.map { Self.losses(m.report, $0["sourceID"]?.stringValue ?? "") } == [
                ["created ×8", "updated ×8", "links ×2", "position ×8"],
                ["created ×6", "updated ×6", "position ×6"],
                [
                    "created ×17", "updated ×17", "links ×7", "link to another container ×2", "position ×17",
                    "removed items ×1",
                ],
                ["created ×5", "updated ×5", "position ×5"],
            ])
        #expect(
            (m.report["skipped"]?.arrayValue ?? []).compactMap { $0["sourceTitle"]?.stringValue } == [
                "Shared Recipes", "Old Drafts",
            ])
        let garden = items.filter { $0["title"]?.stringValue?.hasPrefix("Build raised beds") == true }
        #expect(garden.first?["title"]?.stringValue == "Build raised beds garden spring", "no [[tag]] markup; labels carry the tags")
        #expect(garden.first?["status"]?["name"]?.stringValue == "Todo", "box Spring maps to status Todo")
        #expect(Set((garden.first?["labels"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }) == ["garden", "spring"])
    }

    @Test func kintoneAppsBecomeKitemakerWorkItems() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kintone, Self.kitemaker, map: Self.kintoneToKitemakerMap, in: dir)
        let items = try Self.values(m.targetArchive, kind: "workItem")
        let comments = try Self.values(m.targetArchive, kind: "comment")
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(items.count == containers.reduce(0) { $0 + ($1["items"]?.intValue ?? 0) })
        #expect(m.rerunWrites == 0)
        #expect(comments.count == 17)
        #expect(m.report["created"]?["comment"]?.intValue == 17)
        // Only settings documents with something in them: Orders has them all, the other apps only a few.
        let settings1 = "app settings (views, appPermissions) ×2"
        let settings = "app settings (views, processManagement, appPermissions, recordPermissions, fieldPermissions, generalNotifications, perRecordNotifications, reminderNotifications, graphs, actions, adminNotes, plugins, customization) ×13"
        let settings3 = "app settings (appPermissions) ×1"
        #expect(Self.losses(m.report, "1") == ["description ×1", "author ×4", "created ×4", "updated ×4", settings1])
        #expect(
            Self.losses(m.report, "2") == [
                "description ×1", "author ×3", "created ×3", "updated ×3", "comment author ×16", "comment date ×16",
                "attachments ×3", settings,
            ])
        #expect(
            Self.losses(m.report, "3") == [
                "description ×1", "author ×2", "created ×2", "updated ×2", "comment author ×1", "comment date ×1", settings3,
            ])
        let statuses = Set(items.compactMap { $0["status"]?["name"]?.stringValue })
        #expect(statuses == ["Todo", "In Progress", "Done", "Backlog", "Inbox"])
    }

    @Test func konaSpacesBecomeKinopioSpaces() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kona, Self.kinopio, in: dir)
        let cards = try Self.values(m.targetArchive, kind: "card")
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(cards.count == containers.reduce(0) { $0 + ($1["items"]?.intValue ?? 0) })
        #expect(m.rerunWrites == 0)
        #expect(
            containers.map { Self.losses(m.report, $0["sourceID"]?.stringValue ?? "") } == [
                ["description ×1", "author ×7", "created ×7", "updated ×7"],
                ["description ×1", "author ×3", "created ×3", "updated ×3"],
                ["description ×1", "author ×2", "created ×2", "updated ×2"],
                ["description ×1", "author ×2", "created ×2", "updated ×2"],
            ])
    }

    /// The field definitions of the target app named `app`: code → definition.
    static func form(_ archive: URL, app: String) throws -> JSONObject {
        let reader = try SnapshotReader.open(archive)
        defer { reader.close() }
        for entry in reader.jsonLinesEntries() where entry.kind == "app" {
            guard try reader.values(at: entry.path).first?["name"]?.stringValue == app else { continue }
            let folder = (entry.path as NSString).deletingLastPathComponent
            return try reader.values(at: "\(folder)/formFields.jsonl").first?["properties"]?.objectValue ?? JSONObject()
        }
        return JSONObject()
    }

    /// A DROP_DOWN or MULTI_SELECT field's options in their order.
    static func options(_ field: JSONValue?) -> [String] {
        (field?["options"]?.objectValue ?? JSONObject()).sorted {
            Int($0.value["index"]?.stringValue ?? "") ?? 0 < Int($1.value["index"]?.stringValue ?? "") ?? 0
        }.map(\.key)
    }

    /// Common checks of a migration into Kintone: one app per container, one record per item, a rerun that
    /// writes nothing and finds every record in the journal.
    static func checkKintone(_ m: Migration, comments: Int) throws {
        let containers = m.report["containers"]?.arrayValue ?? []
        let records = try Self.values(m.targetArchive, kind: "record")
        #expect(try Self.values(m.targetArchive, kind: "app").compactMap { $0["name"]?.stringValue }
            == containers.compactMap { $0["target"]?.stringValue })
        #expect(records.count == containers.reduce(0) { $0 + ($1["items"]?.intValue ?? 0) })
        #expect(m.report["created"]?["record"]?.intValue == records.count)
        #expect(m.report["created"]?["app"]?.intValue == containers.count)
        #expect(m.report["created"]?["comment"]?.intValue ?? 0 == comments)
        #expect(try Self.values(m.targetArchive, kind: "comment").count == comments)
        #expect(m.rerunWrites == 0, "a rerun writes nothing")
        #expect(m.rerun["created"]?.objectValue?.isEmpty == true)
        #expect(m.rerun["alreadyPresent"]?["record"]?.intValue == records.count)
    }

    @Test func kitemakerSpacesBecomeKintoneAppsWithFieldsFromTheWorkItems() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kitemaker, Self.kintone, in: dir)
        try Self.checkKintone(m, comments: 10)
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(
            containers.map { Self.losses(m.report, $0["sourceID"]?.stringValue ?? "") } == [
                ["comment author ×3", "comment date ×3", "members and watchers ×3"],
                ["comment author ×7", "comment date ×7", "members and watchers ×4"],
            ])
        let form = try Self.form(m.targetArchive, app: "Acme App")
        #expect(form["Title"]?["type"]?.stringValue == "SINGLE_LINE_TEXT")
        #expect(form["Body"]?["type"]?.stringValue == "MULTI_LINE_TEXT")
        #expect(form["Status_2"]?["label"]?.stringValue == "Status", "the built-in Status code is taken")
        #expect(Self.options(form["Status_2"]) == ["Backlog", "Todo", "In Progress", "Done", "Archived"], "source order")
        #expect(Self.options(form["Labels"]) == ["feature", "design", "bug", "good first issue"])
        #expect(form["Created"]?["type"]?.stringValue == "DATETIME")
        #expect(form["Effort"]?["type"]?.stringValue == "SINGLE_LINE_TEXT")
        let records = try Self.values(m.targetArchive, kind: "record")
        let ci = try #require(records.first { $0["Title"]?["value"]?.stringValue == "Upgrade the CI runners" })
        #expect(ci["Status_2"]?["value"]?.stringValue == "Inbox")
        #expect(ci["Labels"]?["value"] == ["infra"])
        #expect(ci["Author"]?["value"]?.stringValue == "ada")
        #expect(ci["Created"]?["value"]?.stringValue == "2024-03-01T11:56:00Z")
        #expect(ci["Effort"]?["value"]?.stringValue == "Medium")
    }

    static let konaToKintoneMap = """
        [fields]
        body = "Details"
        "Kind" = "Kona kind"

        [containers."Hiring"]
        target = "Recruiting"
        """

    @Test func konaSpacesBecomeKintoneAppsWithMappedFieldLabels() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kona, Self.kintone, map: Self.konaToKintoneMap, in: dir)
        try Self.checkKintone(m, comments: 8)
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(containers.compactMap { $0["target"]?.stringValue } == ["Product Launch 🚀", "Recruiting", "Just for Me", "Old Projects"])
        #expect(
            containers.map { Self.losses(m.report, $0["sourceID"]?.stringValue ?? "") } == [
                ["comment author ×5", "comment date ×5"], ["comment author ×2", "comment date ×2"], [],
                ["comment author ×1", "comment date ×1"],
            ])
        let form = try Self.form(m.targetArchive, app: "Product Launch 🚀")
        #expect(form["Details"]?["type"]?.stringValue == "MULTI_LINE_TEXT", "body is labelled Details by the map")
        #expect(form["Kona_kind"]?["label"]?.stringValue == "Kona kind")
        #expect(Self.options(form["Status_2"]) == ["pending", "in progress", "complete"])
        #expect(form["Participants"]?["type"]?.stringValue == "MULTI_SELECT")
        #expect(form["Due"]?["type"]?.stringValue == "DATETIME")
        let records = try Self.values(m.targetArchive, kind: "record")
        let plan = try #require(records.first { $0["Title"]?["value"]?.stringValue == "Launch plan" })
        #expect(plan["Details"]?["value"]?.stringValue == "Dates, owners and risks for the launch.")
        #expect(plan["Participants"]?["value"] == ["Ada Lovelace", "Ben Okafor"])
        #expect(plan["Kona_kind"]?["value"]?.stringValue == "Conversations")
    }

    @Test func kinopioSpacesBecomeKintoneApps() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kinopio, Self.kintone, in: dir)
        try Self.checkKintone(m, comments: 0)
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(
            containers.map { Self.losses(m.report, $0["sourceID"]?.stringValue ?? "") } == [
                ["links ×2", "position ×8"], ["position ×6"],
                ["links ×7", "link to another container ×2", "position ×17", "removed items ×1"], ["position ×5"],
                ["position ×5"],
            ])
        let garden = try Self.form(m.targetArchive, app: "Garden Project 🌱")
        #expect(Self.options(garden["Status_2"]) == ["Spring", "Summer"], "a box per status, in box order")
        let records = try Self.values(m.targetArchive, kind: "record")
        let beds = try #require(records.first { $0["Title"]?["value"]?.stringValue?.hasPrefix("Build raised beds") == true })
        #expect(beds["Title"]?["value"]?.stringValue == "Build raised beds garden spring", "no [[tag]] markup")
        #expect(beds["Labels"]?["value"] == ["garden", "spring"])
        #expect(beds["Status_2"]?["value"]?.stringValue == "Spring")
    }

    /// Common checks of a migration into Kona: one space per container, one task or conversation per item, a rerun
    /// that writes nothing and finds everything in the journal.
    static func checkKona(_ m: Migration, tasks: Int, conversations: Int, comments: Int) throws {
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(try Self.values(m.targetArchive, kind: "space").compactMap { $0["name"]?.stringValue }
            == containers.compactMap { $0["target"]?.stringValue })
        #expect(try Self.values(m.targetArchive, kind: "task").count == tasks)
        #expect(try Self.values(m.targetArchive, kind: "conversation").count == conversations)
        #expect(try Self.values(m.targetArchive, kind: "comment").count == comments)
        #expect(tasks + conversations == containers.reduce(0) { $0 + ($1["items"]?.intValue ?? 0) })
        var created = ["space": containers.count]
        if tasks > 0 { created["task"] = tasks }
        if conversations > 0 { created["conversation"] = conversations }
        if comments > 0 { created["comment"] = comments }
        func counts(_ v: JSONValue?) -> [String: Int] {
            Dictionary((v?.objectValue ?? JSONObject()).map { ($0.key, $0.value.intValue ?? -1) }, uniquingKeysWith: { a, _ in a })
        }
        #expect(counts(m.report["created"]) == created)
        #expect(m.rerunWrites == 0, "a rerun writes nothing")
        #expect(m.rerun["created"]?.objectValue?.isEmpty == true)
        #expect(counts(m.rerun["alreadyPresent"]) == created)
    }

    @Test func kitemakerWorkItemsBecomeKonaTasksWithKonaStatuses() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kitemaker, Self.kona, in: dir)
        try Self.checkKona(m, tasks: 14, conversations: 0, comments: 10)
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(
            containers.map { Self.losses(m.report, $0["sourceID"]?.stringValue ?? "") } == [
                ["author ×5", "created ×5", "updated ×5", "comment author ×3", "comment date ×3", "members and watchers ×3"],
                ["author ×9", "created ×9", "updated ×9", "comment author ×7", "comment date ×7", "members and watchers ×4"],
            ])
        let statuses = (containers.last?["statuses"]?.arrayValue ?? []).map {
            "\($0["from"]?.stringValue ?? "") → \($0["to"]?.stringValue ?? "")"
        }
        #expect(statuses == ["Backlog → pending", "Todo → pending", "In Progress → in progress", "Done → complete", "Archived → complete"])
        let tasks = try Self.values(m.targetArchive, kind: "task")
        let ci = try #require(tasks.first { $0["name"]?.stringValue == "Upgrade the CI runners" })
        #expect(ci["status"]?.intValue == 0)
        #expect(ci["details"]?.stringValue == "Status: Inbox<br>Labels: infra<br>Effort: Medium<br>Impact: Small")
        let runbook = try #require(tasks.first { $0["name"]?.stringValue == "Write the incident runbook" })
        #expect(runbook["status"]?.intValue == 1, "Doing is in progress")
    }

    @Test func kintoneAppsBecomeKonaSpacesWithTasksOrConversations() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kintone, Self.kona, in: dir)
        // Orders has process management: tasks; Customers and Team Wiki have no statuses: conversations.
        try Self.checkKona(m, tasks: 3, conversations: 6, comments: 17)
        let settings = "app settings (views, processManagement, appPermissions, recordPermissions, fieldPermissions, generalNotifications, perRecordNotifications, reminderNotifications, graphs, actions, adminNotes, plugins, customization) ×13"
        #expect(
            Self.losses(m.report, "1") == [
                "author ×4", "created ×4", "updated ×4", "app settings (views, appPermissions) ×2",
            ])
        #expect(
            Self.losses(m.report, "2") == [
                "author ×3", "created ×3", "updated ×3", "comment author ×16", "comment date ×16", "attachments ×3", settings,
            ])
        #expect(
            Self.losses(m.report, "3") == [
                "author ×2", "created ×2", "updated ×2", "comment author ×1", "comment date ×1", "app settings (appPermissions) ×1",
            ])
        let orders = (m.report["containers"]?.arrayValue ?? [])[1]["statuses"]?.arrayValue ?? []
        #expect(orders.map { "\($0["from"]?.stringValue ?? "") → \($0["to"]?.stringValue ?? "")" }
            == ["Completed → complete", "In progress → in progress", "Not started → pending"])
        let tasks = try Self.values(m.targetArchive, kind: "task")
        let first = try #require(tasks.first { $0["name"]?.stringValue == "ORD-0001" })
        #expect(first["status"]?.intValue == 2)
        #expect(first["details"]?.stringValue?.hasPrefix("Status: Completed<br>Customer: Acme Corporation<br>") == true)
        let acme = try #require(try Self.values(m.targetArchive, kind: "conversation").first { $0["name"]?.stringValue == "Acme Corporation" })
        #expect(acme["details"]?.stringValue?.hasPrefix("Country: USA<br>Website: https://acme.example.com") == true)
    }

    static let kinopioToKonaMap = """
        item_kind = "task"

        [statuses]
        Spring = "in progress"

        [containers."Shared Recipes"]
        item_kind = "conversation"
        [containers."Journal — March 1, 2024"]
        skip = true
        """

    @Test func kinopioCardsBecomeKonaTasksAsTheMapSays() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kinopio, Self.kona, map: Self.kinopioToKonaMap, in: dir)
        try Self.checkKona(m, tasks: 30, conversations: 5, comments: 0)
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(
            containers.map { Self.losses(m.report, $0["sourceID"]?.stringValue ?? "") } == [
                ["created ×8", "updated ×8", "links ×2", "position ×8"],
                [
                    "created ×17", "updated ×17", "links ×7", "link to another container ×2", "position ×17",
                    "removed items ×1",
                ],
                ["created ×5", "updated ×5", "position ×5"],
                ["created ×5", "updated ×5", "position ×5"],
            ])
        #expect(
            (m.report["skipped"]?.arrayValue ?? []).compactMap { $0["sourceTitle"]?.stringValue } == [
                "Journal — March 1, 2024", "Old Drafts",
            ])
        let tasks = try Self.values(m.targetArchive, kind: "task")
        let beds = try #require(tasks.first { $0["name"]?.stringValue == "Build raised beds garden spring" })
        #expect(beds["status"]?.intValue == 1, "Spring is mapped to in progress")
        #expect(beds["details"]?.stringValue == "Labels: garden, spring", "the mapped status needs no Status line")
        let sow = try #require(tasks.first { $0["name"]?.stringValue == "Sow peas and radishes spring" })
        #expect(sow["status"]?.intValue == 1)
    }

    @Test func aMappedStatusThatIsNotAKonaStatusIsAOneLineError() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let r = try await Self.dryRun(Self.kinopio, Self.kona, map: "[statuses]\nSpring = \"Sprouting\"", in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.contains("statuses.\"Spring\" = \"Sprouting\" is not a Kona task status (pending, in progress, complete, group closed, group reopened)"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        let kind = try await Self.dryRun(Self.kinopio, Self.kona, map: "item_kind = \"note\"", in: dir)
        #expect(kind.status == 2)
        #expect(kind.stderr.contains("item_kind must be \"task\" or \"conversation\", not \"note\""), "\(kind.stderr)")
    }

    static let konaToKitemakerMap = """
        [statuses]
        pending = "Todo"
        "in progress" = "In Progress"
        complete = "Done"

        [containers."Product Launch 🚀"]
        target = "ACM"
        [containers."Hiring"]
        target = "OPS"
        statuses = { pending = "Inbox", "in progress" = "Doing" }
        [containers."Just for Me"]
        target = "OPS"
        statuses = { pending = "Inbox", "in progress" = "Doing" }
        [containers."Old Projects"]
        target = "ACM"
        """

    @Test func konaSpacesGoIntoExistingKitemakerSpaces() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let m = try await Self.migrate(Self.kona, Self.kitemaker, map: Self.konaToKitemakerMap, in: dir)
        let items = try Self.values(m.targetArchive, kind: "workItem")
        let containers = m.report["containers"]?.arrayValue ?? []
        #expect(items.count == 14)
        #expect(items.count == containers.reduce(0) { $0 + ($1["items"]?.intValue ?? 0) })
        #expect(m.report["created"]?["workItem"]?.intValue == 14)
        #expect(m.report["created"]?["comment"]?.intValue == 8)
        #expect(m.rerunWrites == 0)
        #expect(m.rerun["alreadyPresent"]?["workItem"]?.intValue == 14)
        #expect(
            containers.map { Self.losses(m.report, $0["sourceID"]?.stringValue ?? "") } == [
                ["description ×1", "author ×7", "created ×7", "updated ×7", "comment author ×5", "comment date ×5"],
                ["description ×1", "author ×3", "created ×3", "updated ×3", "comment author ×2", "comment date ×2"],
                ["description ×1", "author ×2", "created ×2", "updated ×2"],
                ["description ×1", "author ×2", "created ×2", "updated ×2", "comment author ×1", "comment date ×1"],
            ], "the existing Kitemaker spaces keep their own descriptions")
        let hiring = (containers[1]["statuses"]?.arrayValue ?? []).map {
            "\($0["from"]?.stringValue ?? "") → \($0["to"]?.stringValue ?? "")"
        }
        #expect(hiring == ["in progress → Doing", "(none) → Inbox"], "conversations take the space's default status")
    }

    @Test func anImportOfTheServicesOwnArchiveWritesTheReportToo() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let archive = try await Self.exportDemo(Self.kona, into: dir)
        let target = try await Self.kona.start(.empty, "target-token-2")
        defer { Task { await target.stop() } }
        let args = ["import", archive.path, "--to", "kona", "--base-url", target.baseURL.absoluteString, "--rate-limit", "0"]
        let env = ["KONA_ACCESS_TOKEN": "target-token-2"]
        let reportURL = dir.appendingPathComponent("kona-demo.tar.zst.import-report.json")
        let dry = try await CLI.run(args + ["--dry-run"], env: env)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(!FileManager.default.fileExists(atPath: reportURL.path), "a dry run writes no report unless --report says where")
        let first = try await CLI.run(args + ["--json"], env: env)
        #expect(first.status == 0, "\(first.stderr)")
        let summary = try JSONValue(parsing: first.stdout)
        let report = try JSONValue(parsing: Data(contentsOf: reportURL))
        #expect(report["source"]?.stringValue == "kona" && report["target"]?.stringValue == "kona")
        #expect(report["created"] == summary["created"], "what the import created")
        #expect(report["created"]?["task"]?.intValue == 6)
        #expect(report["containers"]?.arrayValue?.isEmpty == true, "nothing is mapped")
        #expect(report["notImported"] == summary["notImported"], "the connector's own loss list")
        #expect(
            (report["notImported"]?.arrayValue ?? []).compactMap { $0["kind"]?.stringValue }.prefix(5)
                == ["user", "participant", "timestamp", "account", "currentUser"])
        let rerun = try await CLI.run(args, env: env)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.out.contains("report: \(reportURL.path)"))
        let again = try JSONValue(parsing: Data(contentsOf: reportURL))
        #expect(again["created"]?.objectValue?.isEmpty == true)
        #expect(again["alreadyPresent"] == summary["created"])
    }

    @Test func aMigrationKilledWithSIGKILLAndRerunCreatesEveryItemExactlyOnce() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Self.kitemaker.start(.generated(cards: 1000), "source-token-1")
        let archive = dir.appendingPathComponent("kitemaker-big.tar.zst")
        let e = try await CLI.run(
            ["export", "kitemaker", "--base-url", source.baseURL.absoluteString, "--rate-limit", "0", "-o", archive.path, "-q"],
            env: ["KITEMAKER_TOKEN": "source-token-1"])
        await source.stop()
        #expect(e.status == 0, "\(e.stderr)")
        let sourceItems = try Self.values(archive, kind: "workItem")
        let sourceComments = try Self.values(archive, kind: "comment")
        let target = try await Self.kona.start(.empty, "target-token-2")
        defer { Task { await target.stop() } }
        // Ten tasks per request: about a hundred task requests, so the kill lands among them.
        let args = [
            "import", archive.path, "--to", "kona", "--base-url", target.baseURL.absoluteString, "--rate-limit", "0",
            "--batch-size", "10", "-q",
        ]
        let env = ["KONA_ACCESS_TOKEN": "target-token-2"]
        let killed = try await CLI.killed(args, env: env, poll: .milliseconds(2)) { await target.stats().totalRequests >= 40 }
        #expect(killed, "the first run should have been killed midway")
        let before = try await Self.exportCount(target, dir: dir, name: "midway.tar")
        #expect(before > 0 && before < sourceItems.count, "killed midway: \(before) of \(sourceItems.count) tasks")

        let rerun = try await CLI.run(args, env: env)
        #expect(rerun.status == 0, "rerun: \(rerun.stderr)")
        let after = dir.appendingPathComponent("after.tar")
        try await Self.export(Self.kona, target, into: after)
        let names = try Self.values(after, kind: "task").compactMap { $0["name"]?.stringValue }
        #expect(names.count == sourceItems.count, "exactly one task per work item")
        #expect(names.sorted() == sourceItems.compactMap { $0["title"]?.stringValue }.sorted())
        #expect(try Self.values(after, kind: "comment").count == sourceComments.count, "exactly one copy of each comment")
        #expect(try Self.values(after, kind: "space").count == 2)
        let report = try JSONValue(parsing: Data(contentsOf: dir.appendingPathComponent("kitemaker-big.tar.zst.import-report.json")))
        let created = report["created"]?["task"]?.intValue ?? 0
        let present = report["alreadyPresent"]?["task"]?.intValue ?? 0
        #expect(created + present == sourceItems.count, "the rerun's report adds up: \(created) created, \(present) already present")
        #expect(present == before, "what the killed run created is found, not created again")
    }

    /// Tasks in a Kona sandbox now, through an export.
    static func exportCount(_ sandbox: RunningSandbox, dir: URL, name: String) async throws -> Int {
        let url = dir.appendingPathComponent(name)
        try await export(kona, sandbox, into: url)
        return try values(url, kind: "task").count
    }

    @Test func dryRunPlansMatchTheGoldenFiles() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let kintone = try await Self.exportDemo(Self.kintone, into: dir)
        let cases: [(Service, Service, String?, URL?, String)] = [
            (Self.kintone, Self.kinopio, nil, kintone, "kintone-to-kinopio.json"),
            (Self.kintone, Self.kitemaker, Self.kintoneToKitemakerMap, kintone, "kintone-to-kitemaker.json"),
            (Self.kitemaker, Self.kinopio, nil, nil, "kitemaker-to-kinopio.json"),
            (Self.kinopio, Self.kitemaker, Self.kinopioToKitemakerMap, nil, "kinopio-to-kitemaker.json"),
            (Self.kona, Self.kinopio, nil, nil, "kona-to-kinopio.json"),
            (Self.kitemaker, Self.kintone, nil, nil, "kitemaker-to-kintone.json"),
            (Self.kona, Self.kintone, Self.konaToKintoneMap, nil, "kona-to-kintone.json"),
            (Self.kinopio, Self.kintone, nil, nil, "kinopio-to-kintone.json"),
            (Self.kitemaker, Self.kona, nil, nil, "kitemaker-to-kona.json"),
            (Self.kintone, Self.kona, nil, kintone, "kintone-to-kona.json"),
            (Self.kinopio, Self.kona, Self.kinopioToKonaMap, nil, "kinopio-to-kona.json"),
            (Self.kona, Self.kitemaker, Self.konaToKitemakerMap, nil, "kona-to-kitemaker.json"),
        ]
        for (from, to, map, archive, golden) in cases {
            let r = try await Self.dryRun(from, to, map: map, in: dir, archive: archive)
            #expect(r.status == 0, "\(golden): \(r.stderr)")
            try Self.checkGolden(golden, r.stdout)
        }
    }

    @Test func aMapFileThatPicksOtherTitleAndStatusFieldsChangesThePlan() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let archive = try await Self.exportDemo(Self.kintone, into: dir)
        let map = """
            [containers."Orders"]
            title = "Customer"
            status = "Priority"
            """
        let r = try await Self.dryRun(Self.kintone, Self.kinopio, map: map, in: dir, archive: archive)
        #expect(r.status == 0, "\(r.stderr)")
        let plan = try JSONValue(parsing: r.stdout)
        let orders = (plan["containers"]?.arrayValue ?? []).first { $0["sourceID"]?.stringValue == "2" }
        let statuses = (orders?["statuses"]?.arrayValue ?? []).compactMap { $0["from"]?.stringValue }
        #expect(Set(statuses) == ["High", "Normal", "Low"], "the Priority field is now the status")
        let carried = (orders?["carried"]?.arrayValue ?? []).compactMap { $0["from"]?.stringValue }
        #expect(!carried.contains("field Customer") && !carried.contains("field Priority"))
        #expect(carried.contains("field Order number"), "the app's own title field becomes a field again")
    }

    @Test func aMalformedMappingFileIsAOneLineErrorNamingTheKey() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let archive = try await Self.exportDemo(Self.kintone, into: dir)
        for (map, expected) in [
            ("titel = \"Customer\"", "titel is not a mapping key"),
            ("title = 3", "title must be a string"),
            ("[statuses]\nDone = 1", "statuses.\"Done\" must be a non-empty string"),
            ("[containers.\"Orders\"]\ntitle = \"Nope\"", "title = \"Nope\": app 2 (“Orders”) has no field Nope"),
            ("[containers.\"Nowhere\"]\nskip = true", "containers.\"Nowhere\" names no container"),
            ("title = [", "mapping.toml:1:"),
        ] {
            let r = try await Self.dryRun(Self.kintone, Self.kinopio, map: map, in: dir, archive: archive)
            #expect(r.status == 2, "\(map): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(map): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        }
    }

    @Test func aStatusTheKitemakerSpaceLacksStopsTheMigrationBeforeAnyWrite() async throws {
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let map = """
            [containers."Garden Project 🌱"]
            target = "ACM"
            [containers."Inbox"]
            skip = true
            [containers."Journal — March 1, 2024"]
            skip = true
            [containers."Public Reading List"]
            skip = true
            [containers."Shared Recipes"]
            skip = true
            """
        let r = try await Self.dryRun(Self.kinopio, Self.kitemaker, map: map, in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.contains("statuses “Spring”"), "\(r.stderr)")
        #expect(r.stderr.contains("the Kitemaker API cannot create statuses; map them"), "\(r.stderr)")
    }
}
