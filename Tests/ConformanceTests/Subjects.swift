import Foundation
import Kinopio
import Kintone
import Kitemaker
import Kona
import KitbagConnector
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagSandbox

extension ConformanceSubject {
    /// Every connector that has landed; the suite runs each test once per entry.
    static let all: [ConformanceSubject] = [kinopio, kintone, kitemaker, kona]

    static let kinopio = ConformanceSubject(
        service: .kinopio,
        startSandbox: { seed, credential, limits, faults, port in
            var o = options(seed: seed, credential: credential, limits: limits, faults: faults, port: port)
            o.penaltySeconds = limits ? 30 : 0.05
            return try await KinopioSandbox.start(o, logger: logger)
        },
        connect: { sandbox, credential, paced, retry in
            try KinopioConnection(
                baseURL: sandbox.baseURL.absoluteString, apiKey: credential, environment: [:], rateLimited: paced,
                retry: retry, logger: logger)
        },
        demoKinds: ["space", "card", "connection", "connectionType", "box", "tag", "removedCard", "user"],
        volumeSeed: .generated(cards: 1500),
        interruptAfterRequests: 20,
        editOneItem: { connector, archive in
            // Renaming a card moves its space's updatedAt, the space's change marker.
            let (folder, card) = try firstLine(of: "cards", in: archive)
            _ = try await connector.client.send(
                APIRequest(method: .PATCH, path: "/card", body: ["id": card["id"] ?? .null, "name": "renamed by the suite"]))
            return folder
        },
        damageAccount: { connector, archive in
            // Gone for good, not into the trash: `DELETE /space/permanent` and `DELETE /card/permanent`
            // (kinopio-client src/data/apiDocs.md); an edit is a `PATCH /card` of its name.
            let spaces = try containerLines(of: "cards", in: archive).filter { $0.values.count >= 2 }
            guard spaces.count >= 3 else { throw ConformanceSetupError(message: "the demo needs three spaces with cards") }
            let (gone, thinned, edited) = (spaces[0], spaces[1], spaces[2])
            _ = try await connector.client.send(
                APIRequest(method: .DELETE, path: "/space/permanent", body: ["id": .string(gone.id)]))
            let cards = thinned.values.prefix(2).compactMap { $0["id"]?.idString }
            _ = try await connector.client.send(
                APIRequest(method: .DELETE, path: "/card/permanent", body: .array(cards.map { ["id": .string($0)] })))
            let card = edited.values.first { !($0["name"]?.stringValue ?? "").contains("[[") } ?? edited.values[0]
            let id = card["id"]?.idString ?? ""
            _ = try await connector.client.send(APIRequest(method: .PATCH, path: "/card", body: ["id": .string(id), "name": "renamed by the suite"]))
            return AccountDamage(
                deletedContainer: gone.id, itemsContainer: thinned.id, deletedItems: cards, editedContainer: edited.id,
                editedItem: id, editedKind: "card")
        })

    /// Every container's lines of the container file called `file`, in archive order, with the container's id
    /// (from its folder name).
    static func containerLines(of file: String, in archive: URL) throws -> [(id: String, values: [JSONValue])] {
        let reader = try SnapshotReader.open(archive)
        defer { reader.close() }
        return try reader.jsonLinesEntries().filter { $0.path.hasSuffix("/\(file).jsonl") && $0.path.hasPrefix("data/") }.map {
            let folder = $0.path.split(separator: "/").dropLast().last.map(String.init) ?? ""
            return (ArchivePath.decodeComponent(folder), try reader.values(at: $0.path))
        }
    }

    /// The first line of the first container file called `file` (in archive order) and its container's folder.
    static func firstLine(of file: String, in archive: URL) throws -> (folder: String, value: JSONValue) {
        let reader = try SnapshotReader.open(archive)
        defer { reader.close() }
        for entry in reader.jsonLinesEntries() where entry.path.hasSuffix("/\(file).jsonl") && entry.path.hasPrefix("data/") {
            if let first = try reader.values(at: entry.path).first {
                return (entry.path.split(separator: "/").dropLast().joined(separator: "/"), first)
            }
        }
        throw ConformanceSetupError(message: "no \(file) in \(archive.lastPathComponent)")
    }
}

struct ConformanceSetupError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

extension ConformanceSubject {
    static let kitemaker = ConformanceSubject(
        service: .kitemaker,
        startSandbox: { seed, credential, limits, faults, port in
            var o = options(seed: seed, credential: credential, limits: limits, faults: faults, port: port)
            o.penaltySeconds = limits ? 5 : 0.05
            // The demo export is six requests; this fault pattern puts resets and a 429 among them.
            o.faultSeed = ConformanceSubject.faultSeed ?? 17
            return try await KitemakerSandbox.start(o, logger: logger)
        },
        connect: { sandbox, credential, paced, retry in
            try KitemakerConnection(
                baseURL: sandbox.baseURL.absoluteString, environment: [KitemakerSchema.tokenVariable: credential],
                rateLimit: paced ? nil : 0, retry: retry, logger: logger)
        },
        demoKinds: ["space", "status", "label", "workItem", "comment", "initiative", "feedback", "user"],
        volumeSeed: .generated(cards: 300),
        interruptAfterRequests: 40,
        damageAccount: { connector, archive in
            // Kitemaker's API deletes nothing and creates no spaces, so no container is deleted. Two work items of
            // the first space with two or more are deleted through the sandbox's stand-in for the app (with their
            // comments); the title of a work item of the other space is changed through REST `PUT /workitem`
            // (kitemakerhq/rest-docs `_api/workitem_put.md`), which revert sets back.
            let spaces = try containerLines(of: "workItems", in: archive).filter { !$0.values.isEmpty }
            guard let thinned = spaces.first(where: { $0.values.count >= 2 }), let edited = spaces.first(where: { $0.id != thinned.id })
            else { throw ConformanceSetupError(message: "the demo needs two spaces with work items") }
            func send(_ method: HTTPMethod, _ path: String, _ body: JSONValue) async throws {
                _ = try await connector.client.send(
                    APIRequest(method: method, path: path, body: body, extraHeaders: [("X-API-KEY", ConformanceSubject.sourceCredential)]))
            }
            let items = thinned.values.prefix(2).compactMap { $0["id"]?.idString }
            for item in items { try await send(.POST, KitemakerSandbox.appDeleteWorkItemPath, ["id": .string(item)]) }
            let id = edited.values[0]["id"]?.idString ?? ""
            try await send(.PUT, "/developers/rest/v1/workitem", ["id": .string(id), "title": "renamed by the suite"])
            // Initiatives and feedback that linked a deleted work item get a link to its copy.
            let deleted = Set(items)
            var relinked: [String] = []
            for (file, key) in [("initiatives", "workItems"), ("feedback", "insights")] {
                for v in try containerLines(of: file, in: archive).flatMap(\.values) {
                    let links = key == "workItems"
                        ? (v[key]?.arrayValue ?? []).compactMap { $0["id"]?.idString }
                        : (v[key]?.arrayValue ?? []).flatMap { ($0["entities"]?.arrayValue ?? []).compactMap { $0["id"]?.idString } }
                    if links.contains(where: deleted.contains), let linker = v["id"]?.idString { relinked.append(linker) }
                }
            }
            return AccountDamage(
                deletedContainer: nil, itemsContainer: thinned.id, deletedItems: items, editedContainer: edited.id,
                editedItem: id, editedKind: "workItem", relinked: relinked)
        })
}

extension ConformanceSubject {
    static let kona = ConformanceSubject(
        service: .kona,
        startSandbox: { seed, credential, limits, faults, port in
            try await KonaSandbox.start(
                options(seed: seed, credential: credential, limits: limits, faults: faults, port: port), logger: logger)
        },
        connect: { sandbox, credential, paced, retry in
            try KonaConnection(
                baseURL: sandbox.baseURL.absoluteString, environment: ["KONA_ACCESS_TOKEN": credential],
                rateLimit: paced ? nil : 0, retry: retry, logger: logger)
        },
        demoKinds: ["space", "conversation", "task", "calendarEvent", "comment", "user", "account"],
        volumeSeed: .generated(cards: 1500),
        interruptAfterRequests: 12,
        editOneItem: { connector, archive in
            // Renaming a task moves its space's counts-and-times marker.
            let (folder, task) = try firstLine(of: "tasks", in: archive)
            let id = task["id"]?.idString ?? ""
            _ = try await connector.client.send(
                APIRequest(method: .PUT, path: "/tasks/\(id)", body: ["tasks": [["name": "renamed by the suite"]]]))
            return folder
        },
        damageAccount: { connector, archive in
            // `DELETE /spaces/:id` and `DELETE /tasks/:id` (gone for good, with their comments; Kona has no trash), and
            // a `PUT /tasks/:id` of a task's name (KonaTeam/kona-api sections/spaces.md, sections/tasks.md).
            let spaces = try containerLines(of: "tasks", in: archive).filter { !$0.values.isEmpty }
            guard spaces.count >= 3 else { throw ConformanceSetupError(message: "the demo needs three spaces with tasks") }
            let (gone, thinned, edited) = (spaces[0], spaces[1], spaces[2])
            _ = try await connector.client.send(APIRequest(method: .DELETE, path: "/spaces/\(gone.id)"))
            let tasks = thinned.values.prefix(2).compactMap { $0["id"]?.idString }
            for task in tasks { _ = try await connector.client.send(APIRequest(method: .DELETE, path: "/tasks/\(task)")) }
            let id = edited.values[0]["id"]?.idString ?? ""
            _ = try await connector.client.send(
                APIRequest(method: .PUT, path: "/tasks/\(id)", body: ["tasks": [["name": "renamed by the suite"]]]))
            return AccountDamage(
                deletedContainer: gone.id, itemsContainer: thinned.id, deletedItems: tasks, editedContainer: edited.id,
                editedItem: id, editedKind: "task")
        })
}

extension ConformanceSubject {
    static let kintone = ConformanceSubject(
        service: .kintone,
        startSandbox: { seed, credential, limits, faults, port in
            try await KintoneSandbox.start(
                options(seed: seed, credential: credential, limits: limits, faults: faults, port: port), logger: logger)
        },
        connect: { sandbox, credential, paced, retry in
            // A login: API tokens can neither list nor create apps (cybozu.dev "APIトークンを使って操作できるAPI"),
            // and the suite exports everything and imports into an empty domain.
            try KintoneConnection(
                baseURL: sandbox.baseURL.absoluteString,
                environment: [
                    KintoneSchema.usernameVariable: KintoneSandbox.defaultLogin.user, KintoneSchema.passwordVariable: credential,
                ],
                rateLimit: paced ? nil : 0, retry: retry, logger: logger)
        },
        demoKinds: ["app", "formFields", "formLayout", "views", "processManagement", "record", "comment", "space"],
        volumeSeed: .generated(cards: 6000),
        interruptAfterRequests: 26,
        editOneItem: { connector, archive in
            // A new value in a record's first text field moves its app's newest Updated_datetime, the app's marker.
            let (folder, record) = try firstLine(of: "records", in: archive)
            let field = record.objectValue?.first { $0.value["type"]?.stringValue == "SINGLE_LINE_TEXT" }?.key ?? ""
            let app = String(folder.split(separator: "/").last ?? "")
            _ = try await connector.client.send(
                APIRequest(
                    method: .PUT, path: "/k/v1/record.json",
                    body: [
                        "app": .string(ArchivePath.decodeComponent(app)), "id": record["$id"]?["value"] ?? .null,
                        "record": [field: ["value": "edited by the suite"]],
                    ]))
            return folder
        },
        damageAccount: { connector, archive in
            // Kintone's REST API deletes no app: a third app is deleted through the sandbox's stand-in for the app
            // settings screen ("Delete App"), and comes back as a new app. Two records of the first app with two or
            // more are deleted for good (`DELETE records.json`); the first text field of a record of another app is
            // edited (`PUT record.json`). Items are named `APP/RECORD`, as `kitbag diff --live` does.
            let reader = try SnapshotReader.open(archive)
            defer { reader.close() }
            var apps: [(app: String, records: [String], text: (id: String, field: String)?)] = []
            for entry in reader.jsonLinesEntries() where entry.path.hasPrefix("data/apps/") && entry.path.hasSuffix("/records.jsonl") {
                let app = ArchivePath.decodeComponent(String(entry.path.split(separator: "/").dropLast().last ?? ""))
                let records = try reader.values(at: entry.path)
                let text = records.lazy.compactMap { r -> (String, String)? in
                    guard let id = r["$id"]?["value"]?.idString,
                        let field = r.objectValue?.first(where: { $0.value["type"]?.stringValue == "SINGLE_LINE_TEXT" })?.key
                    else { return nil }
                    return (id, field)
                }.first
                apps.append((app, records.compactMap { $0["$id"]?["value"]?.idString }, text))
            }
            guard let items = apps.first(where: { $0.records.count >= 2 }),
                let edited = apps.first(where: { $0.app != items.app && $0.text != nil }), let text = edited.text
            else { throw ConformanceSetupError(message: "the demo seed has no two apps to damage") }
            guard let gone = apps.first(where: { $0.app != items.app && $0.app != edited.app && !$0.records.isEmpty })?.app else {
                throw ConformanceSetupError(message: "the demo seed has no third app with records to delete")
            }
            _ = try await connector.client.send(
                APIRequest(method: .POST, path: KintoneSandbox.appDeleteAppPath, body: ["id": .string(gone)], route: "POST (sandbox) delete app"))
            let deleted = Array(items.records.prefix(2))
            _ = try await connector.client.send(
                APIRequest(
                    method: .DELETE, path: "/k/v1/records.json",
                    body: ["app": .string(items.app), "ids": .array(deleted.map(JSONValue.string))]))
            _ = try await connector.client.send(
                APIRequest(
                    method: .PUT, path: "/k/v1/record.json",
                    body: ["app": .string(edited.app), "id": .string(text.id), "record": [text.field: ["value": "edited by the suite"]]]))
            return AccountDamage(
                deletedContainer: gone, itemsContainer: items.app, deletedItems: deleted.map { "\(items.app)/\($0)" },
                editedContainer: edited.app, editedItem: "\(edited.app)/\(text.id)", editedKind: "record")
        })
}
