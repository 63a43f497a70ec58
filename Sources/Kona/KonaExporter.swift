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

    init(connection: KonaConnection, progress: ProgressReporter, spaceIDs: [String], user: JSONValue) {
        self.connection = connection
        self.progress = progress
        self.spaceIDs = spaceIDs
        self.user = user
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
                let answer = try await connection.client.json(
                    APIRequest(
                        method: .GET, path: "/spaces/\(id.urlPathEscaped)", query: [("include", "participants")],
                        route: "GET /spaces/:id"))
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
        return FetchedContainer(marker: KonaSpaceMarker(items: files.items, commentsFetchedAt: fetchedAt).text)
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

    /// What one space put into the archive: its items per file, and whether any comments came from the previous
    /// archive.
    struct SpaceFiles {
        var items: [String: [JSONValue]] = [:]
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
        // The kinds' lists are read at once (a list the server did not filter was read whole before and is reused).
        let connection = self.connection
        let toRead = KonaSchema.itemKinds.filter { unfilteredLists[$0.path] == nil }
        let read = try await Overlap.map(toRead, limit: connection.client.parallelism) { kind in
            var query = [("space_id", id)]
            if kind.participantsOnRequest { query.append(("include", "participants")) }
            if kind == KonaSchema.calendarEvents { query += KonaSchema.eventWindow }
            return try await connection.allPages("/\(kind.path)", key: kind.path, query: query, route: "GET /\(kind.path)")
        }
        let lists = Dictionary(uniqueKeysWithValues: zip(toRead.map(\.path), read))
        for kind in KonaSchema.itemKinds {
            // Kona documents `space_id` as a filter for conversations only: every item is kept only when its own
            // `space_id` names this space (an item that names none is taken as the server filtered it).
            let listed = unfilteredLists[kind.path] ?? lists[kind.path] ?? []
            let items = listed.filter { item in
                guard let own = item["space_id"], !own.isNull else { return true }
                return own.idString == id
            }.sorted { idLess($0, $1) }
            if items.count < listed.count {
                files.unfiltered.insert(kind.path)
                unfilteredLists[kind.path] = listed
            }
            try output.write(kind.file, kind: kind.kind, values: items)
            files.items[kind.file] = items
        }
        let oldStamps = try previous?.stamps() ?? [:]
        let oldComments = oldStamps.isEmpty ? [:] : try previous?.commentsByItem() ?? [:]
        // Each item's comments: copied when it did not move, else read — those reads run at once, as many as the
        // pacing lets go — and written in the items' order, whatever order the answers come in.
        var wanted: [(commentType: String, item: JSONValue, copied: [JSONValue]?)] = []
        for kind in KonaSchema.itemKinds {
            for item in files.items[kind.file] ?? [] {
                guard let itemID = item["id"]?.idString else { continue }
                let key = "\(kind.commentType)/\(itemID)"
                if let stamp = KonaSpaceMarker.stamp(item), oldStamps[key] == stamp {
                    wanted.append((kind.commentType, item, oldComments[key] ?? []))
                    files.copiedComments = true
                } else {
                    wanted.append((kind.commentType, item, nil))
                }
            }
        }
        let spool = try output.lines("comments", kind: "comment")
        // In runs of `commentRun` items, so a space of many items never holds all their comments at once.
        for start in stride(from: 0, to: wanted.count, by: Self.commentRun) {
            let run = wanted[start..<min(start + Self.commentRun, wanted.count)]
            let reads = run.filter { $0.copied == nil }.map { (type: $0.commentType, id: $0.item["id"]?.idString ?? "") }
            var read = try await Overlap.map(reads, limit: connection.client.parallelism) { resource in
                try await connection.allPages(
                    "/comments", key: "comments", query: [("resource_type", resource.type), ("resource_id", resource.id)],
                    route: "GET /comments")
            }.makeIterator()
            for entry in run {
                if let copied = entry.copied {
                    for comment in copied { try spool.append(comment) }
                    continue
                }
                for var comment in read.next() ?? [] {
                    // The list is asked per resource; say which one when the answer leaves it out.
                    if comment["resource_type"] == nil { comment["resource_type"] = .string(entry.commentType) }
                    if comment["resource_id"] == nil { comment["resource_id"] = entry.item["id"] }
                    try spool.append(comment)
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
