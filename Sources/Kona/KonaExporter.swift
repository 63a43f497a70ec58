import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagRender

/// Walks a Kona account — the account, the current user, connected users, and every space (hidden ones too) with
/// its participants, conversations, tasks, calendar events and the comments on each — into an archive.
struct KonaExporter: Sendable {
    let connection: KonaConnection
    let progress: ProgressReporter
    /// Only these spaces (ids), or every space the token can list when empty.
    var spaceIDs: [String]
    var renderings: Set<ReadableFormat>
    /// Lists the server answered without filtering by `space_id`: read once, then filtered for every space.
    let unfilteredLists = KonaUnfilteredLists()
    /// Items of one space (conversations, tasks and events together) carried into its readable pages, with their
    /// comments; the JSON Lines always hold all of them.
    var readableItemLimit = 5_000

    static let notExported: [NotExported] = [
        NotExported(kind: "attachment", reason: "the Kona API documents no route to list or download attachments, so their files and the comments on them cannot be reached"),
        NotExported(kind: "conversation", reason: "conversations are visible to their participants only; those the user is not in cannot be listed"),
        NotExported(kind: "template", reason: "templates, groups, risks and account add-ons are not exported by kitbag yet"),
        NotExported(kind: "secret", reason: "access and refresh tokens and the client secret are never archived"),
    ]

    /// The account identity recorded in `kitbag.json`: the user the token belongs to.
    static func account(of user: JSONValue) -> ArchiveInfo.Account {
        ArchiveInfo.Account(id: user["id"]?.idString ?? "unknown", name: user["name"]?.stringValue ?? user["email"]?.stringValue)
    }

    /// Every page of a list; see `KonaPaging` for when a short page ends it.
    func all(_ path: String, key: String, query: [(String, String)] = [], route: String) async throws -> [JSONValue] {
        try await connection.allPages(path, key: key, query: query, route: route)
    }

    func export(user: JSONValue, into writer: SnapshotWriter) async throws -> [NotExported] {
        try await export(user: user, into: writer, base: nil).notExported
    }

    /// Like `export(user:into:)`; a space whose marker did not move since `base` was written (and whose comments
    /// were fetched less than `KonaSchema.maxCopyAge` ago) is copied from the previous archive, and in a space
    /// that is fetched the comments of items whose `updated_at` did not move are copied too.
    func export(user: JSONValue, into writer: SnapshotWriter, base: ChangeBase?) async throws
        -> (notExported: [NotExported], changes: ExportChanges)
    {
        var notExported = Self.notExported
        var changes = ExportChanges()
        progress.beginStage("account")
        do {
            let account = try await connection.client.json(
                APIRequest(method: .GET, path: "/accounts/current", route: "GET /accounts/current"))
            try writer.writeJSONLines(
                container: .account, file: "account", kind: "account", values: account["accounts"]?.arrayValue ?? [])
        } catch let failure as HTTPFailure where failure.isNotFound || failure.isForbidden {
            notExported.append(NotExported(kind: "account", reason: "the user is not a member of the account behind the token"))
        }
        try writer.writeJSONLines(container: .account, file: "currentUser", kind: "currentUser", values: [user])
        let users = try await all("/users", key: "users", route: "GET /users")
        try writer.writeJSONLines(
            container: .account, file: "users", kind: "user", values: users.sorted { idLess($0, $1) })
        var names: [String: String] = [:]
        for u in users + [user] {
            if let id = u["id"]?.idString { names[id] = u["name"]?.stringValue ?? u["email"]?.stringValue }
        }

        var spaces: [JSONValue]
        if spaceIDs.isEmpty {
            // Kona does not say whether `hidden=true` lists hidden spaces only or hidden ones too: both lists are read
            // and joined by id, and the archive says which the server did.
            let visible = try await all("/spaces", key: "spaces", query: [("include", "participants")], route: "GET /spaces")
            let withHidden = try await all(
                "/spaces", key: "spaces", query: [("hidden", "true"), ("include", "participants")], route: "GET /spaces")
            spaces = withHidden
            let seen = Set(withHidden.compactMap { $0["id"]?.idString })
            let missing = visible.filter { ($0["id"]?.idString).map { !seen.contains($0) } ?? false }
            spaces += missing
            if !missing.isEmpty {
                notExported.append(
                    NotExported(
                        kind: "server.hiddenSpaces",
                        reason: "this server lists only hidden spaces for hidden=true; kitbag read the spaces without it too and joined both lists"))
            }
        } else {
            spaces = []
            for id in spaceIDs {
                let answer = try await connection.client.json(
                    APIRequest(
                        method: .GET, path: "/spaces/\(id.urlPathEscaped)", query: [("include", "participants")],
                        route: "GET /spaces/:id"))
                spaces += answer["spaces"]?.arrayValue ?? []
            }
        }
        spaces.sort { idLess($0, $1) }
        progress.beginStage("spaces", total: spaces.count)
        let stubs = spaces.compactMap { s in
            s["id"]?.idString.map { ReadableContainer(id: $0, kind: "space", title: s["name"]?.stringValue ?? $0) }
        }
        let now = Int64((Timestamp.parse(writer.info.startedAt) ?? Date()).timeIntervalSince1970.rounded(.down))
        var rendered: [ReadableContainer] = []
        var unfiltered: Set<String> = []
        for space in spaces {
            guard let id = space["id"]?.idString else { continue }
            let before = writer.bytesWritten
            let container = KonaSchema.container(space: id)
            // The previous copy of the space counts only while its comments are younger than maxCopyAge.
            var previous: (space: KonaPreviousSpace, marker: KonaSpaceMarker)?
            if let base, let marker = KonaSpaceMarker(text: base.markers[container.archiveFolder]),
                (0..<Int64(KonaSchema.maxCopyAge)).contains(now - marker.commentsFetchedAt),
                let files = KonaPreviousSpace(base.previous, container: container)
            {
                previous = (files, marker)
            }
            let files: SpaceFiles
            if let previous, try await unchanged(space: id, since: previous.marker) {
                files = try copySpace(space, from: previous.space, into: writer)
                changes.reused.append(container.archiveFolder)
                changes.markers[container.archiveFolder] = previous.marker.text
            } else {
                files = try await fetchSpace(space, id: id, into: writer, previous: previous?.space)
                unfiltered.formUnion(files.unfiltered)
                changes.fetched.append(container.archiveFolder)
                let fetchedAt = files.copiedComments ? (previous?.marker.commentsFetchedAt ?? now) : now
                changes.markers[container.archiveFolder] =
                    KonaSpaceMarker(resources: files.resources, commentsFetchedAt: fetchedAt).text
            }
            if let readable = try renderSpace(space, files, into: writer, names: names, stubs: stubs) {
                rendered.append(readable)
            }
            progress.advance(items: 1, bytes: writer.bytesWritten - before)
        }
        for path in unfiltered.sorted() {
            notExported.append(
                NotExported(
                    kind: "server.spaceFilter", container: path,
                    reason: "this server does not filter GET /\(path) by space_id; kitbag kept each item only in the space its own space_id names"))
        }
        if renderings.contains(.markdown) {
            try writer.addFile(
                path: ReadablePaths.index,
                data: MarkdownRenderer.index(
                    service: .kona, account: user["name"]?.stringValue ?? user["id"]?.idString, containers: rendered,
                    archiveStartedAt: Timestamp.parse(writer.info.startedAt) ?? Date(), formats: renderings))
        }
        if renderings.contains(.html) {
            try writer.addFile(
                path: ReadablePaths.htmlIndex,
                data: HTMLRenderer.index(
                    service: .kona, account: user["name"]?.stringValue ?? user["id"]?.idString, containers: rendered,
                    archiveStartedAt: Timestamp.parse(writer.info.startedAt) ?? Date(), formats: renderings,
                    entries: writer.writtenEntries))
        }
        return (notExported, changes)
    }

    /// What one space put into the archive: its items per file and their comments (only when rendering, at most
    /// `readableItemLimit` items), how many items each file holds and its change marker's summary, and whether any
    /// comments came from the previous archive.
    struct SpaceFiles {
        var items: [String: [JSONValue]] = [:]
        var comments: [JSONValue] = []
        var totals: [String: Int] = [:]
        var resources: [String: KonaSpaceMarker.Resource?] = [:]
        var copiedComments = false
        /// Lists whose answer held items of other spaces (the server did not filter them by `space_id`).
        var unfiltered: Set<String> = []
    }

    /// One space: its object (with participants), its items kind by kind, then the comments on each item — fetched,
    /// or copied from `previous` for an item whose `updated_at` is what it was there.
    func fetchSpace(
        _ space: JSONValue, id: String, into writer: SnapshotWriter, previous: KonaPreviousSpace?
    ) async throws -> SpaceFiles {
        let container = KonaSchema.container(space: id)
        try writer.writeJSONLines(container: container, file: "space", kind: "space", values: [space])
        var files = SpaceFiles()
        // Each list goes to a temporary file as its pages arrive and into the archive in id order from there: the
        // space's items are never all in memory (only a small entry per item, kept for the comments below).
        var lists: [(kind: KonaSchema.ItemKind, items: KonaItemFile, order: [KonaItemFile.Entry])] = []
        var shown: Set<String> = []
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
                try await connection.eachPage("/\(kind.path)", key: kind.path, query: query, route: "GET /\(kind.path)") { page in
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
            let spool = try writer.jsonLines(container: container, file: kind.file, kind: kind.kind)
            var readable: [JSONValue] = []
            for entry in order {
                let item = try stored.item(entry)
                try spool.append(item)
                if !renderings.isEmpty, shown.count < readableItemLimit {
                    readable.append(item)
                    shown.insert("\(kind.commentType)/\(entry.key)")
                }
            }
            try writer.commit(spool)
            files.items[kind.file] = readable
            files.totals[kind.file] = order.count
            files.resources[kind.file] = .some(stored.resource)
            lists.append((kind, stored, order))
        }
        let oldStamps = try previous?.stamps() ?? [:]
        let oldComments = oldStamps.isEmpty ? [:] : try previous?.commentsByItem() ?? [:]
        let spool = try writer.jsonLines(container: container, file: "comments", kind: "comment")
        for (kind, _, order) in lists {
            for entry in order where !entry.key.isEmpty {
                let key = "\(kind.commentType)/\(entry.key)"
                let render = shown.contains(key)
                if let stamp = entry.stamp, oldStamps[key] == stamp {
                    for comment in oldComments[key] ?? [] {
                        try spool.append(comment)
                        if render { files.comments.append(comment) }
                    }
                    files.copiedComments = true
                    continue
                }
                let page = try await all(
                    "/comments", key: "comments", query: [("resource_type", kind.commentType), ("resource_id", entry.key)],
                    route: "GET /comments")
                for var comment in page {
                    // The list is asked per resource; say which one when the answer leaves it out.
                    if comment["resource_type"] == nil { comment["resource_type"] = .string(kind.commentType) }
                    if comment["resource_id"] == nil { comment["resource_id"] = entry.id }
                    try spool.append(comment)
                    if render { files.comments.append(comment) }
                }
            }
        }
        try writer.commit(spool)
        return files
    }

    /// An unchanged space: its object as listed now, its items and comments as the previous archive holds them.
    func copySpace(_ space: JSONValue, from previous: KonaPreviousSpace, into writer: SnapshotWriter) throws -> SpaceFiles {
        let container = previous.container
        try writer.writeJSONLines(container: container, file: "space", kind: "space", values: [space])
        var files = SpaceFiles()
        for kind in KonaSchema.itemKinds {
            let items = try previous.values(kind.file)
            try writer.writeJSONLines(container: container, file: kind.file, kind: kind.kind, values: items)
            files.items[kind.file] = items
        }
        let spool = try writer.jsonLines(container: container, file: "comments", kind: "comment")
        let lines = try previous.comments()
        while let comment = try lines.next() {
            try spool.append(comment)
            if !renderings.isEmpty { files.comments.append(comment) }
        }
        try writer.commit(spool)
        return files
    }

    /// The space's Markdown page, feed and canvas from its archived values; a light summary for the index.
    func renderSpace(
        _ space: JSONValue, _ files: SpaceFiles, into writer: SnapshotWriter, names: [String: String],
        stubs: [ReadableContainer]
    ) throws -> ReadableContainer? {
        guard !renderings.isEmpty else { return nil }
        var readable = KonaReadable.container(
            space: space, conversations: files.items[KonaSchema.conversations.file] ?? [],
            tasks: files.items[KonaSchema.tasks.file] ?? [], events: files.items[KonaSchema.calendarEvents.file] ?? [],
            comments: files.comments, names: names)
        let total = files.totals.values.reduce(0, +)
        let shown = files.items.values.reduce(0) { $0 + $1.count }
        if total > shown, let id = space["id"]?.idString {
            let folder = KonaSchema.container(space: id).archiveFolder
            readable.summary = [readable.summary, "This page shows the first \(shown) of \(total) conversations, tasks and events (by id); all are in \(folder)/."]
                .compactMap { $0 }.joined(separator: "\n\n")
        }
        if renderings.contains(.markdown) {
            try writer.addFile(
                path: ReadablePaths.page(readable), data: MarkdownRenderer.page(readable, allContainers: stubs, formats: renderings))
        }
        if renderings.contains(.rss) { try writer.addFile(path: ReadablePaths.feed(readable), data: try RSSRenderer.feed(readable)) }
        if renderings.contains(.canvas) {
            try writer.addFile(path: ReadablePaths.canvas(readable), data: CanvasRenderer.canvas(readable))
        }
        if renderings.contains(.html) {
            try writer.addFile(path: ReadablePaths.html(readable), data: HTMLRenderer.page(readable, allContainers: stubs, formats: renderings))
        }
        var summary = readable
        summary.items = []
        return summary
    }

    func idLess(_ a: JSONValue, _ b: JSONValue) -> Bool {
        KonaSchema.idOrder(a["id"]?.idString ?? "", b["id"]?.idString ?? "")
    }
}

/// The whole lists of a server that ignores `space_id` (see `KonaServerBehaviour` in the sandbox): such a server
/// answers every space's request with the items of all spaces, so the first answer serves them all.
final class KonaUnfilteredLists: @unchecked Sendable {
    // Sendable because `lists` is only touched under `lock`.
    private let lock = NSLock()
    private var lists: [String: [JSONValue]] = [:]

    subscript(path: String) -> [JSONValue]? {
        get { lock.withLock { lists[path] } }
        set { lock.withLock { lists[path] = newValue } }
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
