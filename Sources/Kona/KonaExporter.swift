import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP

/// Walks a Kona account — the account, the current user, connected users, and every space (hidden ones too) with
/// its participants, conversations, tasks, calendar events and the comments on each — through the shared export
/// walk. A space whose marker did not move since the previous archive (and whose comments were fetched less than
/// `KonaSchema.maxCopyAge` ago) is copied from there, and in a space that is fetched the comments of items whose
/// `updated_at` did not move are copied too.
final class KonaExporter: ExportSource {
    let connection: KonaConnection
    let progress: ProgressReporter
    /// Only these spaces (ids), or every space the token can list when empty.
    let spaceIDs: [String]
    /// The `GET /userinfo` answer.
    let user: JSONValue
    /// Only the spaces, no account-level lists; a named space that is gone is left out (`ExportSelection.containersOnly`).
    let containersOnly: Bool
    private var notes = KonaExporter.alwaysNotExported
    /// Lists the server answered without filtering by `space_id`: read once, then filtered for every space.
    private var unfilteredLists: [String: [JSONValue]] = [:]
    /// The lists that showed it, for the manifest.
    private var unfiltered: Set<String> = []

    /// Items whose comments are read at once before they are written (the reads overlap within the pacing).
    static let commentRun = 500

    static let alwaysNotExported: [NotExported] = [
        NotExported(kind: "attachment", reason: "the Kona API documents no route to list or download attachments, so their files and the comments on them cannot be reached"),
        NotExported(kind: "conversation", reason: "conversations are visible to their participants only; those the user is not in cannot be listed"),
        NotExported(kind: "template", reason: "templates, groups, risks and account add-ons are not exported by kitbag yet"),
        NotExported(kind: "secret", reason: "access and refresh tokens and the client secret are never archived"),
    ]

    init(connection: KonaConnection, progress: ProgressReporter, spaceIDs: [String], user: JSONValue, containersOnly: Bool = false) {
        self.connection = connection
        self.progress = progress
        self.spaceIDs = spaceIDs
        self.user = user
        self.containersOnly = containersOnly
    }

    /// The account identity recorded in `kitbag.json`: the user the token belongs to.
    static func account(of user: JSONValue) -> ArchiveInfo.Account {
        ArchiveInfo.Account(id: user["id"]?.idString ?? "unknown", name: user["name"]?.stringValue ?? user["email"]?.stringValue)
    }

    /// Every page of a list; see `KonaPaging` for when a short page ends it.
    func all(_ path: String, key: String, query: [(String, String)] = [], route: String) async throws -> [JSONValue] {
        try await connection.allPages(path, key: key, query: query, route: route)
    }

    func begin(into account: ContainerOutput) async throws -> [ListedContainer] {
        progress.beginStage("account")
        if !containersOnly { try await writeAccount(into: account) }
        // Each space is kept as compact JSON text, not as a tree: ten thousand spaces cost a few MiB.
        var spaces: [(id: String, name: String?, json: [UInt8])] = []
        func keep(_ space: JSONValue) {
            guard let id = space["id"]?.idString else { return }
            spaces.append((id, space["name"]?.stringValue, space.serialized()))
        }
        if spaceIDs.isEmpty {
            // Kona does not say whether `hidden=true` lists hidden spaces only or hidden ones too: both lists are read
            // and joined by id, and the archive says which the server did.
            var visible: [(id: String, name: String?, json: [UInt8])] = []
            try await connection.forEachPage(
                "/spaces", key: "spaces", query: [("include", "participants")], route: "GET /spaces"
            ) { page in
                for space in page {
                    guard let id = space["id"]?.idString else { continue }
                    visible.append((id, space["name"]?.stringValue, space.serialized()))
                }
            }
            try await connection.forEachPage(
                "/spaces", key: "spaces", query: [("hidden", "true"), ("include", "participants")], route: "GET /spaces"
            ) { page in page.forEach(keep) }
            let seen = Set(spaces.map(\.id))
            let missing = visible.filter { !seen.contains($0.id) }
            spaces += missing
            if !missing.isEmpty {
                notes.append(
                    NotExported(
                        kind: "server.hiddenSpaces",
                        reason: "this server lists only hidden spaces for hidden=true; kitbag read the spaces without it too and joined both lists"))
            }
        } else {
            for id in spaceIDs {
                let answer: JSONValue
                do {
                    answer = try await connection.client.json(
                        APIRequest(
                            method: .GET, path: "/spaces/\(id.urlPathEscaped)", query: [("include", "participants")],
                            route: "GET /spaces/:id"))
                } catch let failure as HTTPFailure where containersOnly && failure.isNotFound {
                    // Gone from the account: its absence is what the live comparison is after.
                    continue
                }
                (answer["spaces"]?.arrayValue ?? []).forEach(keep)
            }
        }
        // In id order; spaces with the same id keep the order they came in (a stable sort, as before).
        return spaces.enumerated().sorted { a, b in
            KonaSchema.idOrder(a.element.id, b.element.id)
                || (!KonaSchema.idOrder(b.element.id, a.element.id) && a.offset < b.offset)
        }.map { _, space in
            ListedContainer(
                ref: KonaSchema.container(space: space.id), kind: "space", title: space.name ?? space.id,
                listingJSON: space.json)
        }
    }

    /// The account, the current user and the users the token can see.
    func writeAccount(into account: ContainerOutput) async throws {
        do {
            let answer = try await connection.client.json(
                APIRequest(method: .GET, path: "/accounts/current", route: "GET /accounts/current"))
            try account.write("account", kind: "account", values: answer["accounts"]?.arrayValue ?? [])
        } catch let failure as HTTPFailure where failure.isNotFound || failure.isForbidden {
            notes.append(NotExported(kind: "account", reason: "the user is not a member of the account behind the token"))
        }
        try account.write("currentUser", kind: "currentUser", values: [user])
        let users = try await all("/users", key: "users", route: "GET /users")
        try account.write("users", kind: "user", values: users.sorted { idLess($0, $1) })
    }

    /// One space: copied whole when a change check finds it unchanged, else fetched (copying the comments of the
    /// items that did not move).
    func fetch(_ listed: ListedContainer, into output: ContainerOutput, previous: PreviousContainer?) async throws
        -> FetchedContainer
    {
        let id = listed.id
        let space = listed.listing
        let now = output.startedAtSeconds
        // The previous copy of the space counts only while its comments are younger than maxCopyAge.
        var prior: (space: KonaPreviousSpace, marker: KonaSpaceMarker)?
        if let previous, let marker = KonaSpaceMarker(text: previous.marker),
            (0..<Int64(KonaSchema.maxCopyAge)).contains(now - marker.commentsFetchedAt),
            let files = KonaPreviousSpace(previous.reader, container: listed.ref)
        {
            prior = (files, marker)
        }
        if let prior, try await unchanged(space: id, since: prior.marker) {
            try copySpace(space, from: prior.space, into: output)
            return FetchedContainer(marker: prior.marker.text, reused: true)
        }
        let files = try await fetchSpace(space, id: id, into: output, previous: prior?.space)
        unfiltered.formUnion(files.unfiltered)
        let fetchedAt = files.copiedComments ? (prior?.marker.commentsFetchedAt ?? now) : now
        return FetchedContainer(marker: KonaSpaceMarker(resources: files.resources, commentsFetchedAt: fetchedAt).text)
    }

    func notExported() -> [NotExported] {
        notes + unfiltered.sorted().map { path in
            NotExported(
                kind: "server.spaceFilter", container: path,
                reason: "this server does not filter GET /\(path) by space_id; kitbag kept each item only in the space its own space_id names")
        }
    }

    func reading(account: any ContainerFiles) throws -> ContainerReading {
        KonaRendering.reading(names: try KonaRendering.names(account))
    }

    /// What one space put into the archive: the change marker's summary of each item list, and whether any comments
    /// came from the previous archive.
    struct SpaceFiles {
        var resources: [String: KonaSpaceMarker.Resource?] = [:]
        var copiedComments = false
        /// Lists whose answer held items of other spaces (the server did not filter them by `space_id`).
        var unfiltered: Set<String> = []
    }

    /// One space: its object (with participants), its items kind by kind, then the comments on each item — fetched,
    /// or copied from `previous` for an item whose `updated_at` is what it was there.
    func fetchSpace(
        _ space: JSONValue, id: String, into output: ContainerOutput, previous: KonaPreviousSpace?
    ) async throws -> SpaceFiles {
        try output.write("space", kind: "space", values: [space])
        var files = SpaceFiles()
        // Each list goes to a temporary file as its pages arrive and into the archive in id order from there: the
        // space's items are never all in memory (only a small entry per item, kept for the comments below).
        var lists: [(kind: KonaSchema.ItemKind, order: [KonaItemFile.Entry])] = []
        for kind in KonaSchema.itemKinds {
            var query = [("space_id", id)]
            if kind.participantsOnRequest { query.append(("include", "participants")) }
            if kind == KonaSchema.calendarEvents { query += KonaSchema.eventWindow }
            // Kona documents `space_id` as a filter for conversations only: every item is kept only when its own
            // `space_id` names this space (an item that names none is taken as the server filtered it).
            func here(_ item: JSONValue) -> Bool {
                guard let own = item["space_id"], !own.isNull else { return true }
                return own.idString == id
            }
            let stored = try KonaItemFile()
            if let whole = unfilteredLists[kind.path] {
                for item in whole where here(item) { try stored.append(item) }
            } else {
                // The whole answer, in order, once it shows an item of another space: the server did not filter.
                var listed: [JSONValue]?
                try await connection.forEachPage("/\(kind.path)", key: kind.path, query: query, route: "GET /\(kind.path)") { page in
                    for item in page {
                        if here(item) {
                            try stored.append(item)
                        } else if listed == nil {
                            listed = try stored.all()
                        }
                        listed?.append(item)
                    }
                }
                if let listed {
                    files.unfiltered.insert(kind.path)
                    unfilteredLists[kind.path] = listed
                }
            }
            let order = stored.sorted()
            let spool = try output.lines(kind.file, kind: kind.kind)
            for entry in order { try spool.append(try stored.item(entry)) }
            try output.commit(spool)
            files.resources[kind.file] = .some(stored.resource)
            lists.append((kind, order))
        }
        let oldStamps = try previous?.stamps() ?? [:]
        let oldComments = oldStamps.isEmpty ? [:] : try previous?.commentsByItem() ?? [:]
        // Each item's comments: copied when it did not move, else read — the reads of a run of `commentRun` items go
        // at once, as many as the pacing lets go — and written in the items' order, whatever order the answers come
        // in. A run at a time, so a space of many items never holds all their comments.
        let connection = self.connection
        let spool = try output.lines("comments", kind: "comment")
        for (kind, order) in lists {
            let items = order.filter { !$0.key.isEmpty && connection.commentItems?.contains($0.key) ?? true }
            for start in stride(from: 0, to: items.count, by: Self.commentRun) {
                let run = items[start..<min(start + Self.commentRun, items.count)]
                func copied(_ entry: KonaItemFile.Entry) -> [JSONValue]? {
                    let key = "\(kind.commentType)/\(entry.key)"
                    guard let stamp = entry.stamp, oldStamps[key] == stamp else { return nil }
                    return oldComments[key] ?? []
                }
                let reads = run.filter { copied($0) == nil }.map(\.key)
                let commentType = kind.commentType
                var read = try await Overlap.map(reads, limit: connection.client.parallelism) { itemID in
                    try await connection.allPages(
                        "/comments", key: "comments", query: [("resource_type", commentType), ("resource_id", itemID)],
                        route: "GET /comments")
                }.makeIterator()
                for entry in run {
                    if let comments = copied(entry) {
                        for comment in comments { try spool.append(comment) }
                        files.copiedComments = true
                        continue
                    }
                    for var comment in read.next() ?? [] {
                        // The list is asked per resource; say which one when the answer leaves it out.
                        if comment["resource_type"] == nil { comment["resource_type"] = .string(commentType) }
                        if comment["resource_id"] == nil { comment["resource_id"] = entry.id }
                        try spool.append(comment)
                    }
                }
            }
        }
        try output.commit(spool)
        return files
    }

    /// An unchanged space: its object as listed now, its items and comments as the previous archive holds them.
    func copySpace(_ space: JSONValue, from previous: KonaPreviousSpace, into output: ContainerOutput) throws {
        try output.write("space", kind: "space", values: [space])
        for kind in KonaSchema.itemKinds {
            try output.write(kind.file, kind: kind.kind, values: try previous.values(kind.file))
        }
        let spool = try output.lines("comments", kind: "comment")
        let lines = try previous.comments()
        while let comment = try lines.next() { try spool.append(comment) }
        try output.commit(spool)
    }

    func idLess(_ a: JSONValue, _ b: JSONValue) -> Bool {
        KonaSchema.idOrder(a["id"]?.idString ?? "", b["id"]?.idString ?? "")
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
