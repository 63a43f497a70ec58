import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagRender

/// Walks a Kinopio account — the user, notifications, favourites and groups, every space (own, hidden, group,
/// template, inbox, removed; journal spaces on an older server) and in each space every card, connection, legacy
/// connection type, box, list, line, drawing stroke, tag, user, collaborator and removed card — into an archive.
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
            NotExported(kind: "notification", reason: "GET /notification returns only the last 50 notifications"),
            NotExported(kind: "aiImage", reason: "AI image history is not part of a backup (GET /user/ai-images lists URLs only)"),
        ]
        var routes = RouteNotes()

        // Account-level entities. Each list is read from the current route (kinopio-client src/data/apiDocs.md, commit
        // 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7) and, where an older server names it differently, from the seed's.
        progress.beginStage("account")
        try writer.writeJSONLines(
            container: .account, file: "user", kind: "user", values: [KinopioSchema.withoutSecrets(user)])
        let accountLists: [(paths: [String], file: String, kind: String)] = [
            (["/notification", "/notifications"], "notifications", "notification"),
            (["/user/favorite-spaces"], "favoriteSpaces", "favoriteSpace"),
            (["/user/favorite-users"], "favoriteUsers", "favoriteUser"),
            (["/user/favorite-colors"], "favoriteColors", "favoriteColor"),
            (["/user/groups"], "groups", "group"),
        ]
        for list in accountLists {
            guard let value = try await firstAnswer(list.paths, notes: &routes) else {
                notExported.append(
                    NotExported(kind: list.kind, reason: "\(list.paths.map { "GET \($0)" }.joined(separator: " and ")) answered 404 on this server"))
                continue
            }
            var items = value.arrayValue ?? []
            if list.kind == "group" { items = try await fetchGroups(items, notExported: &notExported) }
            try writer.writeJSONLines(
                container: .account, file: list.file, kind: list.kind,
                values: KinopioSchema.sortedByID(items.map(KinopioSchema.withoutSecrets)))
            progress.advance(items: items.count)
        }

        // Which spaces: the named ones, or every list the API offers for the user.
        var listed: [String: JSONValue] = [:]
        if spaceIDs.isEmpty {
            for path in ["/user/spaces", "/user/removed-spaces"] {
                let value = try await client.json(APIRequest(method: .GET, path: path, route: "GET \(path)"))
                for s in value.arrayValue ?? [] { if let id = s["id"]?.idString { listed[id] = s } }
            }
            // Lists of the current document; an older server answers 404 and has the seed's journal list instead.
            var olderServer = false
            for (path, kind) in [
                ("/user/hidden-spaces", "hiddenSpace"), ("/user/group-spaces", "groupSpace"),
                ("/user/template-spaces", "templateSpace"),
            ] {
                guard let value = try await firstAnswer([path], notes: &routes) else {
                    olderServer = true
                    notExported.append(
                        NotExported(kind: kind, reason: "GET \(path) answered 404 (an older Kinopio server); such spaces not in /user/spaces were not listed"))
                    continue
                }
                for s in value.arrayValue ?? [] { if let id = s["id"]?.idString, listed[id] == nil { listed[id] = s } }
            }
            if olderServer {
                if let value = try await firstAnswer(["/user/journal-spaces"], notes: &routes) {
                    for s in value.arrayValue ?? [] { if let id = s["id"]?.idString, listed[id] == nil { listed[id] = s } }
                }
            }
            do {
                let inbox = try await client.json(APIRequest(method: .GET, path: "/user/inbox-space", route: "GET /user/inbox-space"))
                if let id = inbox["id"]?.idString, listed[id] == nil { listed[id] = inbox }
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
                        space, id: id, into: writer, notExported: &notExported, routes: &routes, stubs: stubs)
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
        if renderings.contains(.html) {
            try writer.addFile(
                path: ReadablePaths.htmlIndex,
                data: HTMLRenderer.index(
                    service: .kinopio, account: user["name"]?.stringValue ?? user["id"]?.idString, containers: rendered,
                    archiveStartedAt: Timestamp.parse(writer.info.startedAt) ?? Date(), formats: renderings,
                    entries: writer.writtenEntries))
        }
        notExported.append(contentsOf: routes.notes)
        return (notExported, changes)
    }

    /// Which route names this server answered and which it did not, for the manifest.
    struct RouteNotes {
        /// Route → whether it answered (false: 404).
        var met: [String: Bool] = [:]
        /// The removed-cards route name that answers here, once known ("" when neither does).
        var removedCards: String?

        var notes: [NotExported] {
            met.keys.sorted().filter { met[$0] == false }.map {
                NotExported(kind: "route", reason: "GET \($0) answered 404 on this server; kitbag used the other name where there is one")
            }
        }
    }

    /// The answer of the first of `paths` that does not answer 404 (tried in order), or nil if all do.
    func firstAnswer(_ paths: [String], notes: inout RouteNotes) async throws -> JSONValue? {
        for path in paths {
            do {
                let value = try await connection.client.json(APIRequest(method: .GET, path: path, route: "GET \(path)"))
                notes.met[path] = true
                return value
            } catch let failure as HTTPFailure where failure.isNotFound {
                notes.met[path] = false
            }
        }
        return nil
    }

    /// `GET /group/:id` for each listed group (the full group with its users); the list entry is kept when a
    /// group cannot be read.
    func fetchGroups(_ listed: [JSONValue], notExported: inout [NotExported]) async throws -> [JSONValue] {
        var out: [JSONValue] = []
        for group in listed {
            guard let id = group["id"]?.idString else { out.append(group); continue }
            do {
                out.append(
                    try await connection.client.json(
                        APIRequest(method: .GET, path: "/group/\(id.urlPathEscaped)", route: "GET /group/:groupId")))
            } catch let failure as HTTPFailure where failure.isNotFound || failure.isForbidden {
                out.append(group)
                notExported.append(
                    NotExported(kind: "group", container: id, reason: "GET /group/\(id) answered \(failure.status ?? 0); only the list entry from /user/groups is kept"))
            }
        }
        return out
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
        routes: inout RouteNotes, stubs: [ReadableContainer]
    ) async throws -> ReadableContainer? {
        let space = KinopioSchema.withoutSecrets(raw)
        let container = KinopioSchema.container(space: id)
        guard var meta = space.objectValue else { throw UserError("kinopio: GET /space/\(id) did not return an object") }
        // The current server returns removed cards inside `cards` with `isRemoved: true`; they are archived once,
        // with the removed cards (as kinopio-client src/utils.js `normalizeRemoteSpace` splits them, commit
        // 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7).
        var removedInline: [JSONValue] = meta["removedCards"]?.arrayValue ?? []
        meta["removedCards"] = nil
        if let cards = meta["cards"]?.arrayValue {
            removedInline += cards.filter { $0["isRemoved"]?.boolValue == true }
            meta["cards"] = .array(cards.filter { $0["isRemoved"]?.boolValue != true })
        }

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
        var removedListed = false, canList = false
        let candidates = routes.removedCards.map { $0.isEmpty ? [] : [$0] } ?? ["removed-cards", "removedCards"]
        for name in candidates {
            do {
                let removed = try await connection.client.json(
                    APIRequest(
                        method: .GET, path: "/space/\(id.urlPathEscaped)/\(name)", route: "GET /space/:spaceId/\(name)"))
                removedCards = (removed.arrayValue ?? []).map(KinopioSchema.withoutSecrets)
                routes.removedCards = name
                routes.met["/space/:spaceId/\(name)"] = true
                removedListed = true
                canList = true
                break
            } catch let failure as HTTPFailure where failure.isNotFound {
                // A 404 for the space itself would have failed GET /space first: this route name is not served.
                routes.met["/space/:spaceId/\(name)"] = false
            } catch let failure as HTTPFailure where failure.isForbidden {
                notExported.append(
                    NotExported(kind: "removedCard", container: id, reason: "only editors of the space can list its removed cards"))
                removedListed = true
                break
            }
        }
        if !removedListed {
            if routes.removedCards == nil { routes.removedCards = "" }
            notExported.append(
                NotExported(kind: "removedCard", container: id, reason: "neither GET /space/:id/removed-cards nor …/removedCards is served here; only removed cards returned inside the space were kept"))
        }
        // One entry per card, whichever answer carried it.
        let knownRemoved = Set(removedCards.compactMap { $0["id"]?.idString })
        removedCards += removedInline.filter { !knownRemoved.contains($0["id"]?.idString ?? "") }
        removedCards = KinopioSchema.sortedByID(removedCards)
        if canList || !removedCards.isEmpty {
            try writer.writeJSONLines(container: container, file: "removedCards", kind: "removedCard", values: removedCards)
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
            webBase: webBase, lists: array("lists"), lines: array("lines"), drawingStrokes: array("drawingStrokes"))
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
        if renderings.contains(.html) {
            try writer.addFile(path: ReadablePaths.html(readable), data: HTMLRenderer.page(readable, allContainers: stubs, formats: renderings))
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
