import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagRender

/// Walks a Kinopio account — the user, every space (own, journal, inbox, removed) and in each space every
/// card, connection, connection type, box, tag, user, collaborator and removed card — into an archive.
public struct KinopioExporter: Sendable {
    public let connection: KinopioConnection
    public let progress: ProgressReporter
    /// Only these spaces (ids), or every space the key can list when empty.
    public var spaceIDs: [String]
    /// Readable renderings written beside the JSON Lines.
    public var renderings: Set<ReadableFormat>

    static let pageSize = 60

    public init(
        connection: KinopioConnection, progress: ProgressReporter, spaceIDs: [String] = [],
        renderings: Set<ReadableFormat> = []
    ) {
        self.connection = connection
        self.progress = progress
        self.spaceIDs = spaceIDs
        self.renderings = renderings
    }

    /// Kinopio's web app, for links in renderings, when the export reads the public API.
    var webBase: String? {
        connection.baseURL.host == "api.kinopio.club" ? "https://kinopio.club" : nil
    }

    /// The account identity recorded in `kitbag.json` (id and name, never the key).
    public static func account(of user: JSONValue) -> ArchiveInfo.Account {
        ArchiveInfo.Account(id: user["id"]?.idString ?? "unknown", name: user["name"]?.stringValue)
    }

    /// Writes every entity into `writer` and returns what could not be exported. `user` is the `GET /user` answer.
    public func export(user: JSONValue, into writer: SnapshotWriter) async throws -> [NotExported] {
        try await export(user: user, into: writer, base: nil).notExported
    }

    /// Like `export(user:into:)`; a space whose `updatedAt` (which Kinopio bumps on any change in the space) equals
    /// its bookmark in `base` is copied from the previous archive instead of fetched.
    public func export(user: JSONValue, into writer: SnapshotWriter, base: ChangeBase?) async throws
        -> (notExported: [NotExported], changes: ExportChanges)
    {
        var changes = ExportChanges()
        let client = connection.client
        var notExported: [NotExported] = [
            NotExported(
                kind: "secret",
                reason: "apiKey, collaboratorKey, readOnlyKey and linkToSpaceCollaboratorKey are access secrets and are never archived"),
            NotExported(kind: "notification", reason: "GET /notifications returns only the last 50 notifications"),
            NotExported(kind: "aiImage", reason: "AI image history is not part of a backup (GET /user/ai-images lists URLs only)"),
        ]

        // Account-level entities.
        progress.beginStage("account")
        try writer.writeJSONLines(
            container: .account, file: "user", kind: "user", values: [KinopioSchema.withoutSecrets(user)])
        let accountLists: [(path: String, file: String, kind: String)] = [
            ("/notifications", "notifications", "notification"),
            ("/user/favorite-spaces", "favoriteSpaces", "favoriteSpace"),
            ("/user/favorite-users", "favoriteUsers", "favoriteUser"),
            ("/user/favorite-colors", "favoriteColors", "favoriteColor"),
        ]
        for list in accountLists {
            let value = try await client.json(APIRequest(method: .GET, path: list.path, route: "GET \(list.path)"))
            let items = value.arrayValue ?? []
            try writer.writeJSONLines(
                container: .account, file: list.file, kind: list.kind,
                values: KinopioSchema.sortedByID(items.map(KinopioSchema.withoutSecrets)))
            progress.advance(items: items.count)
        }

        // Which spaces: the named ones, or every list the API offers for the user.
        var listed: [String: JSONValue] = [:]
        if spaceIDs.isEmpty {
            for path in ["/user/spaces", "/user/journal-spaces", "/user/removed-spaces"] {
                let value = try await client.json(APIRequest(method: .GET, path: path, route: "GET \(path)"))
                for s in value.arrayValue ?? [] { if let id = s["id"]?.idString { listed[id] = s } }
            }
            do {
                let inbox = try await client.json(APIRequest(method: .GET, path: "/user/inbox-space", route: "GET /user/inbox-space"))
                if let id = inbox["id"]?.idString { listed[id] = inbox }
            } catch let failure as HTTPFailure where failure.isNotFound {
                // No inbox space: nothing to add.
            }
        } else {
            for id in spaceIDs { listed[id] = .null }
        }
        let ids = listed.keys.sorted()
        progress.beginStage("spaces", total: ids.count)
        // Every space by id and name, so a page can link to the pages of other spaces before they are written.
        let stubs = ids.map { ReadableContainer(id: $0, kind: "space", title: listed[$0]?["name"]?.stringValue ?? $0) }
        var rendered: [ReadableContainer] = []

        // Spaces unchanged since the previous backup are copied from it; only the others are fetched.
        var reusable: Set<String> = []
        for id in ids {
            let marker = listed[id]?["updatedAt"]?.stringValue
            if let marker { changes.markers[KinopioSchema.container(space: id).archiveFolder] = marker }
            if let base, base.canReuse(KinopioSchema.container(space: id), marker: marker) { reusable.insert(id) }
        }
        var index = 0
        while index < ids.count {
            let chunk = Array(ids[index..<min(index + Self.pageSize, ids.count)])
            index += chunk.count
            let fetched = try await fetchSpaces(chunk.filter { !reusable.contains($0) })
            for id in chunk {
                let bytesBefore = writer.bytesWritten
                let container = KinopioSchema.container(space: id)
                if reusable.contains(id), let base {
                    let copied = try writer.copyContainer(container, from: base.previous)
                    changes.reused.append(container.archiveFolder)
                    if copied["removedCards"] == nil {
                        notExported.append(
                            NotExported(kind: "removedCard", container: id, reason: "only editors of the space can list its removed cards"))
                    }
                    if let readable = try renderSpace(copied, into: writer, stubs: stubs) { rendered.append(readable) }
                    progress.advance(items: 1, bytes: writer.bytesWritten - bytesBefore)
                    continue
                }
                changes.fetched.append(container.archiveFolder)
                if let space = fetched[id] {
                    if let readable = try await writeSpace(
                        space, id: id, into: writer, notExported: &notExported, stubs: stubs)
                    {
                        rendered.append(readable)
                    }
                } else if let meta = listed[id], !meta.isNull {
                    // Listed (e.g. removed) but not readable in full: keep what the list gave and say so.
                    try writer.writeJSONLines(
                        container: container, file: "space", kind: "space", values: [KinopioSchema.withoutSecrets(meta)])
                    notExported.append(
                        NotExported(kind: "card", container: id, reason: "the API does not return this space's contents"))
                } else {
                    throw UserError("kinopio: space \(id) was not found or is not readable with this API key")
                }
                progress.advance(items: 1, bytes: writer.bytesWritten - bytesBefore)
            }
        }
        if renderings.contains(.markdown) {
            let account = user["name"]?.stringValue ?? user["id"]?.idString
            try writer.addFile(
                path: ReadablePaths.index,
                data: MarkdownRenderer.index(
                    service: .kinopio, account: account, containers: rendered,
                    archiveStartedAt: Timestamp.parse(writer.info.startedAt) ?? Date(), formats: renderings))
        }
        return (notExported, changes)
    }

    /// `GET /space/multiple` for up to 60 ids, falling back to `GET /space/:id` for any it leaves out.
    func fetchSpaces(_ ids: [String]) async throws -> [String: JSONValue] {
        let client = connection.client
        var out: [String: JSONValue] = [:]
        if ids.count > 1 {
            let value = try await client.json(
                APIRequest(
                    method: .GET, path: "/space/multiple", query: [("spaceIds", ids.joined(separator: ","))],
                    route: "GET /space/multiple"))
            for s in value.arrayValue ?? [] {
                if let id = s["id"]?.idString, s["cards"]?.arrayValue != nil { out[id] = s }
            }
        }
        for id in ids where out[id] == nil {
            do {
                out[id] = try await client.json(
                    APIRequest(method: .GET, path: "/space/\(id.urlPathEscaped)", route: "GET /space/:spaceId"))
            } catch let failure as HTTPFailure where failure.isNotFound {
                continue
            }
        }
        return out
    }

    /// Writes one space's JSON Lines and renderings; returns a light summary of it for the index.
    func writeSpace(
        _ raw: JSONValue, id: String, into writer: SnapshotWriter, notExported: inout [NotExported],
        stubs: [ReadableContainer]
    ) async throws -> ReadableContainer? {
        let space = KinopioSchema.withoutSecrets(raw)
        let container = KinopioSchema.container(space: id)
        guard var meta = space.objectValue else { throw UserError("kinopio: GET /space/\(id) did not return an object") }

        var arrays: [(file: String, kind: String, values: [JSONValue])] = []
        for a in KinopioSchema.spaceArrays {
            arrays.append((a.file, a.kind, meta[a.key]?.arrayValue ?? []))
            meta[a.key] = nil
        }
        // Arrays kitbag does not know yet (lines, lists, drawingStrokes, …) are kept verbatim in files of their own.
        for key in meta.keys.sorted() {
            if case .array(let items) = meta[key]!, items.contains(where: { $0.objectValue != nil }) {
                arrays.append((key, key, items))
                meta[key] = nil
            }
        }
        try writer.writeJSONLines(container: container, file: "space", kind: "space", values: [.object(meta)])
        for a in arrays {
            try writer.writeJSONLines(
                container: container, file: a.file, kind: a.kind, values: KinopioSchema.sortedByID(a.values))
        }

        var removedCards: [JSONValue] = []
        do {
            let removed = try await connection.client.json(
                APIRequest(
                    method: .GET, path: "/space/\(id.urlPathEscaped)/removedCards", route: "GET /space/:spaceId/removedCards"))
            removedCards = KinopioSchema.sortedByID((removed.arrayValue ?? []).map(KinopioSchema.withoutSecrets))
            try writer.writeJSONLines(
                container: container, file: "removedCards", kind: "removedCard", values: removedCards)
        } catch let failure as HTTPFailure where failure.isForbidden {
            notExported.append(
                NotExported(kind: "removedCard", container: id, reason: "only editors of the space can list its removed cards"))
        }
        var files: [String: [JSONValue]] = ["space": [.object(meta)], "removedCards": removedCards]
        for a in arrays { files[a.file] = KinopioSchema.sortedByID(a.values) }
        return try renderSpace(files, into: writer, stubs: stubs)
    }

    /// Writes one space's renderings from its archived files (`space`, `cards`, …); returns a light summary.
    func renderSpace(_ files: [String: [JSONValue]], into writer: SnapshotWriter, stubs: [ReadableContainer]) throws
        -> ReadableContainer?
    {
        guard !renderings.isEmpty, let meta = files["space"]?.first else { return nil }
        func array(_ file: String) -> [JSONValue] { files[file] ?? [] }
        let readable = KinopioReadable.container(
            space: meta, cards: array("cards"), removedCards: array("removedCards"), boxes: array("boxes"),
            connections: array("connections"), connectionTypes: array("connectionTypes"), tags: array("tags"),
            webBase: webBase)
        if renderings.contains(.markdown) {
            try writer.addFile(
                path: ReadablePaths.page(readable),
                data: MarkdownRenderer.page(readable, allContainers: stubs, formats: renderings))
        }
        if renderings.contains(.rss) {
            try writer.addFile(path: ReadablePaths.feed(readable), data: try RSSRenderer.feed(readable))
        }
        if renderings.contains(.canvas) {
            try writer.addFile(path: ReadablePaths.canvas(readable), data: CanvasRenderer.canvas(readable))
        }
        // The index needs only names and counts, not every card.
        var summary = readable
        summary.items = []
        summary.links = []
        return summary
    }
}

extension String {
    /// Percent-encodes a value for use as one URL path segment.
    var urlPathEscaped: String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return addingPercentEncoding(withAllowedCharacters: allowed) ?? self
    }
}
