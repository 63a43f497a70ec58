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

    /// Every page of a list (`per_page` 100) until a short page; `key` is the wrapper (`"tasks"`).
    func all(_ path: String, key: String, query: [(String, String)] = [], route: String) async throws -> [JSONValue] {
        var out: [JSONValue] = []
        var page = 1
        while true {
            let answer = try await connection.client.json(
                APIRequest(
                    method: .GET, path: path,
                    query: query + [("per_page", String(KonaSchema.pageSize)), ("page", String(page))], route: route))
            guard let items = answer[key]?.arrayValue else {
                throw HTTPFailure.invalidBody(service: "kona", route: route, reason: "no \"\(key)\" array in the answer")
            }
            out += items
            if items.count < KonaSchema.pageSize { return out }
            page += 1
        }
    }

    func export(user: JSONValue, into writer: SnapshotWriter) async throws -> [NotExported] {
        var notExported = Self.notExported
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
            spaces = try await all(
                "/spaces", key: "spaces", query: [("hidden", "true"), ("include", "participants")], route: "GET /spaces")
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
        var rendered: [ReadableContainer] = []
        for space in spaces {
            guard let id = space["id"]?.idString else { continue }
            let before = writer.bytesWritten
            if let readable = try await exportSpace(space, id: id, into: writer, names: names, stubs: stubs) {
                rendered.append(readable)
            }
            progress.advance(items: 1, bytes: writer.bytesWritten - before)
        }
        if renderings.contains(.markdown) {
            try writer.addFile(
                path: ReadablePaths.index,
                data: MarkdownRenderer.index(
                    service: .kona, account: user["name"]?.stringValue ?? user["id"]?.idString, containers: rendered,
                    archiveStartedAt: Timestamp.parse(writer.info.startedAt) ?? Date(), formats: renderings))
        }
        return notExported
    }

    /// One space: its object (with participants), its items kind by kind, then the comments on each item.
    func exportSpace(
        _ space: JSONValue, id: String, into writer: SnapshotWriter, names: [String: String], stubs: [ReadableContainer]
    ) async throws -> ReadableContainer? {
        let container = KonaSchema.container(space: id)
        try writer.writeJSONLines(container: container, file: "space", kind: "space", values: [space])
        var itemsByKind: [String: [JSONValue]] = [:]
        for kind in KonaSchema.itemKinds {
            var query = [("space_id", id)]
            if kind.participantsOnRequest { query.append(("include", "participants")) }
            if kind == KonaSchema.calendarEvents { query += KonaSchema.eventWindow }
            let items = try await all("/\(kind.path)", key: kind.path, query: query, route: "GET /\(kind.path)")
                .sorted { idLess($0, $1) }
            try writer.writeJSONLines(container: container, file: kind.file, kind: kind.kind, values: items)
            itemsByKind[kind.kind] = items
        }
        let spool = try writer.jsonLines(container: container, file: "comments", kind: "comment")
        var comments: [JSONValue] = []
        for kind in KonaSchema.itemKinds {
            for item in itemsByKind[kind.kind] ?? [] {
                guard let itemID = item["id"]?.idString else { continue }
                let page = try await all(
                    "/comments", key: "comments", query: [("resource_type", kind.commentType), ("resource_id", itemID)],
                    route: "GET /comments")
                for var comment in page {
                    // The list is asked per resource; say which one when the answer leaves it out.
                    if comment["resource_type"] == nil { comment["resource_type"] = .string(kind.commentType) }
                    if comment["resource_id"] == nil { comment["resource_id"] = item["id"] }
                    try spool.append(comment)
                    if !renderings.isEmpty { comments.append(comment) }
                }
            }
        }
        try writer.commit(spool)
        guard !renderings.isEmpty else { return nil }
        let readable = KonaReadable.container(
            space: space, conversations: itemsByKind["conversation"] ?? [], tasks: itemsByKind["task"] ?? [],
            events: itemsByKind["calendarEvent"] ?? [], comments: comments, names: names)
        if renderings.contains(.markdown) {
            try writer.addFile(
                path: ReadablePaths.page(readable), data: MarkdownRenderer.page(readable, allContainers: stubs, formats: renderings))
        }
        if renderings.contains(.rss) { try writer.addFile(path: ReadablePaths.feed(readable), data: try RSSRenderer.feed(readable)) }
        if renderings.contains(.canvas) {
            try writer.addFile(path: ReadablePaths.canvas(readable), data: CanvasRenderer.canvas(readable))
        }
        var summary = readable
        summary.items = []
        return summary
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
