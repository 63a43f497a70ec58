import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP

/// Walks a Kinopio account — the user, notifications, favourites and groups, every space (own, hidden, group,
/// template, inbox, removed; journal spaces on an older server) and in each space every card, connection, legacy
/// connection type, box, list, line, drawing stroke, tag, user, collaborator and removed card — through the shared
/// export walk. A space whose `updatedAt` (which Kinopio bumps on any change in the space) equals its marker in the
/// previous archive is copied from there by the walk; the others are read 60 at a time with `GET /space/multiple`.
final class KinopioExporter: ExportSource {
    let connection: KinopioConnection
    let progress: ProgressReporter
    /// Only these spaces (ids), or every space the key can list when empty.
    let spaceIDs: [String]
    /// Only the spaces, no account-level lists; a named space that is gone is left out (`ExportSelection.containersOnly`).
    let containersOnly: Bool
    /// The `GET /user` answer (archived without secrets).
    let user: JSONValue
    private var notes: [NotExported] = [
        NotExported(
            kind: "secret",
            reason: "apiKey, collaboratorKey, readOnlyKey and linkToSpaceCollaboratorKey are access secrets and are never archived"),
        NotExported(kind: "notification", reason: "GET /notification returns only the last 50 notifications"),
        NotExported(kind: "aiImage", reason: "AI image history is not part of a backup (GET /user/ai-images lists URLs only)"),
    ]
    private var routes = RouteNotes()
    /// The spaces of the current batch, as `GET /space/multiple` (or `GET /space/:id`) returned them, each kept as
    /// compact JSON text until its turn (a batch of 60 spaces as trees would be several times larger).
    private var fetched: [String: [UInt8]] = [:]

    static let pageSize = 60
    var batchSize: Int { Self.pageSize }

    init(connection: KinopioConnection, progress: ProgressReporter, spaceIDs: [String], user: JSONValue, containersOnly: Bool = false) {
        self.connection = connection
        self.progress = progress
        self.spaceIDs = spaceIDs
        self.containersOnly = containersOnly
        self.user = user
    }

    /// The account identity recorded in `kitbag.json` (id and name, never the key).
    static func account(of user: JSONValue) -> ArchiveInfo.Account {
        ArchiveInfo.Account(id: user["id"]?.idString ?? "unknown", name: user["name"]?.stringValue)
    }

    func begin(into account: ContainerOutput) async throws -> [ListedContainer] {
        try await connection.explainingScope("an export", needs: "read") {
            if !containersOnly { try await writeAccount(into: account) }
            return try await listSpaces()
        }
    }

    /// Account-level entities. Each list is read from the current route (kinopio-client src/data/apiDocs.md, commit
    /// 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7) and, where an older server names it differently, from the seed's.
    private func writeAccount(into account: ContainerOutput) async throws {
        progress.beginStage("account")
        try account.write("user", kind: "user", values: [KinopioSchema.withoutSecrets(user)])
        let accountLists: [(paths: [String], file: String, kind: String)] = [
            (["/notification", "/notifications"], "notifications", "notification"),
            (["/user/favorite-spaces"], "favoriteSpaces", "favoriteSpace"),
            (["/user/favorite-users"], "favoriteUsers", "favoriteUser"),
            (["/user/favorite-colors"], "favoriteColors", "favoriteColor"),
            (["/user/groups"], "groups", "group"),
        ]
        for list in accountLists {
            guard let value = try await firstAnswer(list.paths) else {
                notes.append(
                    NotExported(kind: list.kind, reason: "\(list.paths.map { "GET \($0)" }.joined(separator: " and ")) answered 404 on this server"))
                continue
            }
            var items = value.arrayValue ?? []
            if list.kind == "group" { items = try await fetchGroups(items) }
            try account.write(
                list.file, kind: list.kind, values: KinopioSchema.sortedByID(items.map(KinopioSchema.withoutSecrets)))
            progress.advance(items: items.count)
        }
    }

    /// Which spaces: the named ones, or every list the API offers for the user; in id order. Lists are read
    /// element by element and each entry kept as compact JSON text, so ten thousand spaces cost a few MiB.
    private func listSpaces() async throws -> [ListedContainer] {
        guard spaceIDs.isEmpty else {
            return Set(spaceIDs).sorted().map { ListedContainer(ref: KinopioSchema.container(space: $0), kind: "space", title: $0) }
        }
        var listed: [String: Listed] = [:]
        /// Adds every space of an answer; `replacing` lets a later list win (removed spaces over /user/spaces).
        func add(_ space: JSONValue, replacing: Bool) {
            guard let id = space["id"]?.idString, replacing || listed[id] == nil else { return }
            listed[id] = Listed(space)
        }
        for path in ["/user/spaces", "/user/removed-spaces"] {
            try await connection.client.forEachElement(APIRequest(method: .GET, path: path, route: "GET \(path)")) {
                add($0, replacing: true)
            }
        }
        // Lists of the current document; an older server answers 404 and has the seed's journal list instead.
        var olderServer = false
        for (path, kind) in [
            ("/user/hidden-spaces", "hiddenSpace"), ("/user/group-spaces", "groupSpace"),
            ("/user/template-spaces", "templateSpace"),
        ] {
            if try await !forEachInFirstAnswer([path], { add($0, replacing: false) }) {
                olderServer = true
                notes.append(
                    NotExported(kind: kind, reason: "GET \(path) answered 404 (an older Kinopio server); such spaces not in /user/spaces were not listed"))
            }
        }
        if olderServer {
            _ = try await forEachInFirstAnswer(["/user/journal-spaces"]) { add($0, replacing: false) }
        }
        do {
            let inbox = try await connection.client.json(
                APIRequest(method: .GET, path: "/user/inbox-space", route: "GET /user/inbox-space"))
            add(inbox, replacing: false)
        } catch let failure as HTTPFailure where failure.isNotFound {
            // No inbox space: nothing to add.
        }
        return listed.keys.sorted().map { id in
            let entry = listed[id]!
            return ListedContainer(
                ref: KinopioSchema.container(space: id), kind: "space", title: entry.name ?? id, marker: entry.updatedAt,
                listingJSON: entry.json)
        }
    }

    /// A listed space: its name and `updatedAt`, and the whole entry as compact JSON.
    struct Listed {
        var name: String?
        var updatedAt: String?
        var json: [UInt8]

        init(_ space: JSONValue) {
            name = space["name"]?.stringValue
            updatedAt = space["updatedAt"]?.stringValue
            json = space.serialized()
        }
    }

    func prefetch(_ batch: [ListedContainer]) async throws {
        fetched = try await connection.explainingScope("an export", needs: "read") {
            try await fetchSpaces(batch.map(\.id))
        }
    }

    func fetch(_ container: ListedContainer, into output: ContainerOutput, previous: PreviousContainer?) async throws
        -> FetchedContainer
    {
        let id = container.id
        if let text = fetched.removeValue(forKey: id) {
            let space = try JSONValue(parsing: text)
            try await connection.explainingScope("an export", needs: "read") {
                try await writeSpace(space, id: id, into: output)
            }
        } else if !container.listing.isNull {
            // Listed (e.g. removed) but not readable in full: keep what the list gave and say so.
            try output.write("space", kind: "space", values: [KinopioSchema.withoutSecrets(container.listing)])
            notes.append(NotExported(kind: "card", container: id, reason: "the API does not return this space's contents"))
        } else if containersOnly {
            // Gone from the account: its absence is what the live comparison is after.
            return FetchedContainer()
        } else {
            throw UserError("kinopio: space \(id) was not found or is not readable with this API key")
        }
        return FetchedContainer()
    }

    func reuse(_ container: ListedContainer, from previous: PreviousContainer, into output: ContainerOutput) throws {
        try output.copyFiles(from: previous.reader)
        if !output.filesWritten.contains(where: { $0.name == "removedCards" }) {
            notes.append(
                NotExported(kind: "removedCard", container: container.id, reason: "only editors of the space can list its removed cards"))
        }
    }

    func notExported() -> [NotExported] { notes + routes.notes }

    func reading(account: any ContainerFiles) throws -> ContainerReading {
        KinopioRendering.reading(webBase: KinopioRendering.webBase(connection.baseURL.absoluteString))
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

    /// Every element of the array answer of the first of `paths` that does not answer 404 (tried in order);
    /// false when all do.
    func forEachInFirstAnswer(_ paths: [String], _ body: (JSONValue) throws -> Void) async throws -> Bool {
        for path in paths {
            do {
                try await connection.client.forEachElement(APIRequest(method: .GET, path: path, route: "GET \(path)"), body)
                routes.met[path] = true
                return true
            } catch let failure as HTTPFailure where failure.isNotFound {
                routes.met[path] = false
            }
        }
        return false
    }

    /// The answer of the first of `paths` that does not answer 404 (tried in order), or nil if all do.
    func firstAnswer(_ paths: [String]) async throws -> JSONValue? {
        for path in paths {
            do {
                let value = try await connection.client.json(APIRequest(method: .GET, path: path, route: "GET \(path)"))
                routes.met[path] = true
                return value
            } catch let failure as HTTPFailure where failure.isNotFound {
                routes.met[path] = false
            }
        }
        return nil
    }

    /// `GET /group/:id` for each listed group (the full group with its users); the list entry is kept when a
    /// group cannot be read.
    func fetchGroups(_ listed: [JSONValue]) async throws -> [JSONValue] {
        var out: [JSONValue] = []
        for group in listed {
            guard let id = group["id"]?.idString else { out.append(group); continue }
            do {
                out.append(
                    try await connection.client.json(
                        APIRequest(method: .GET, path: "/group/\(id.urlPathEscaped)", route: "GET /group/:groupId")))
            } catch let failure as HTTPFailure where failure.isNotFound || failure.isForbidden {
                out.append(group)
                notes.append(
                    NotExported(kind: "group", container: id, reason: "GET /group/\(id) answered \(failure.status ?? 0); only the list entry from /user/groups is kept"))
            }
        }
        return out
    }

    /// `GET /space/multiple` for up to 60 ids, falling back to `GET /space/:id` for any it leaves out; each space
    /// as compact JSON text.
    func fetchSpaces(_ ids: [String]) async throws -> [String: [UInt8]] {
        let client = connection.client
        var out: [String: [UInt8]] = [:]
        if ids.count > 1 {
            try await client.forEachElement(
                APIRequest(
                    method: .GET, path: "/space/multiple", query: [("spaceIds", ids.joined(separator: ","))],
                    route: "GET /space/multiple")
            ) { s in
                if let id = s["id"]?.idString, s["cards"]?.arrayValue != nil { out[id] = s.serialized() }
            }
        }
        for id in ids where out[id] == nil {
            do {
                out[id] = try await client.json(
                    APIRequest(method: .GET, path: "/space/\(id.urlPathEscaped)", route: "GET /space/:spaceId")
                ).serialized()
            } catch let failure as HTTPFailure where failure.isNotFound {
                continue
            }
        }
        return out
    }

    /// Writes one space's JSON Lines: the space itself, each array of it in a file of its own, its removed cards.
    func writeSpace(_ raw: JSONValue, id: String, into output: ContainerOutput) async throws {
        guard let parts = KinopioSchema.spaceParts(raw) else {
            throw UserError("kinopio: GET /space/\(id) did not return an object")
        }
        let (meta, arrays, removedInline) = (parts.meta, parts.arrays, parts.removedInline)
        try output.write("space", kind: "space", values: [.object(meta)])
        for a in arrays {
            try output.write(a.file, kind: a.kind, values: KinopioSchema.sortedByID(a.values))
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
                notes.append(
                    NotExported(kind: "removedCard", container: id, reason: "only editors of the space can list its removed cards"))
                removedListed = true
                break
            }
        }
        if !removedListed {
            if routes.removedCards == nil { routes.removedCards = "" }
            notes.append(
                NotExported(kind: "removedCard", container: id, reason: "neither GET /space/:id/removed-cards nor …/removedCards is served here; only removed cards returned inside the space were kept"))
        }
        // One entry per card, whichever answer carried it.
        let knownRemoved = Set(removedCards.compactMap { $0["id"]?.idString })
        removedCards += removedInline.filter { !knownRemoved.contains($0["id"]?.idString ?? "") }
        removedCards = KinopioSchema.sortedByID(removedCards)
        if canList || !removedCards.isEmpty {
            try output.write("removedCards", kind: "removedCard", values: removedCards)
        }
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
