import Foundation
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagRender

/// Walks a Kitemaker organization into an archive: the organization with its users, integrations, integration users
/// and applications (every kind of `Actor`); every space with its statuses and labels; every work item in full with
/// its comment threads and activities; roadmaps with their columns; every initiative with its comments, members,
/// watchers, roadmap columns and activities; every feedback item with its owners, tags and insights (linked to their
/// entities); feedback persons and companies. Lists come from GraphQL, 50 per page (REST lists only ids and names),
/// with the documents of `KitemakerSchema`, which follow Kitemaker's published schema.
///
/// Archive layout: `data/account/{organization,users,integrations,integrationUsers,applications,roadmaps,
/// initiatives,feedback,persons,companies}.jsonl`, `data/spaces/<id>/{space,statuses,labels,workItems,comments}.jsonl`.
/// Work items are written as GraphQL returned them minus their `comments`, which go to `comments.jsonl` (each names
/// its work item in `entity`); initiatives keep their comments inline.
struct KitemakerExporter: Sendable {
    let connection: KitemakerConnection
    let progress: ProgressReporter
    /// Only these spaces (id or key), or every space when empty.
    var spaces: [String]
    var renderings: Set<ReadableFormat>

    /// Work items of one space carried into its readable pages (as Kintone's records, with a lower bound: a page
    /// is for reading, and a bound of 20,000 still took 2.6× the memory of a 10,000-item export); the JSON Lines
    /// always hold all of them. Without a bound a space of a million items was held whole in memory for its pages.
    var readableItemLimit = 5_000

    static let notExported: [NotExported] = [
        NotExported(kind: "attachment", reason: "files in work items are links inside descriptions; the API offers no download route for them"),
        NotExported(kind: "codeReviewRequest", reason: "the schema reaches a code review request only by its URL (codeReviewRequest(url:)) and lists none; the links are not exported"),
        NotExported(kind: "integration.settings", reason: "integrations and integration users are exported as actors (id, type, domain, external name); their settings and credentials are not in the schema"),
        NotExported(kind: "user.avatar", reason: "avatars are image URLs on Kitemaker's servers; only the users' names and flags are exported"),
        NotExported(kind: "token", reason: "API tokens are secrets and are never archived"),
    ]

    func export(into writer: SnapshotWriter) async throws -> [NotExported] {
        progress.beginStage("organization")
        let data = try await connection.graphQL("organization", KitemakerSchema.organizationQuery)
        guard var org = data["organization"]?.objectValue else {
            throw UserError("kitemaker: the organization query answered without an organization")
        }
        let allSpaces = org["spaces"]?.arrayValue ?? []
        let actorLists: [(key: String, kind: String)] = [
            ("users", "user"), ("integrations", "integration"), ("integrationUsers", "integrationUser"),
            ("applications", "application"),
        ]
        var actors: [(String, String, [JSONValue])] = []
        for (key, kind) in actorLists {
            actors.append((key, kind, org[key]?.arrayValue ?? []))
            org[key] = nil
        }
        org["spaces"] = nil
        try writer.writeJSONLines(container: .account, file: "organization", kind: "organization", values: [.object(org)])
        for (file, kind, values) in actors {
            try writer.writeJSONLines(container: .account, file: file, kind: kind, values: values)
        }

        let selected = try select(allSpaces)
        progress.beginStage("spaces", total: selected.count)
        let stubs = selected.map {
            ReadableContainer(id: $0["id"]?.idString ?? "", kind: "space", title: $0["name"]?.stringValue ?? "")
        }
        var rendered: [ReadableContainer] = []
        for space in selected {
            let before = writer.bytesWritten
            if let readable = try await writeSpace(space, into: writer, stubs: stubs) { rendered.append(readable) }
            progress.advance(items: 1, bytes: writer.bytesWritten - before)
        }

        progress.beginStage("roadmaps")
        let roadmaps = try await connection.graphQL("roadmaps", KitemakerSchema.roadmapsQuery)
        guard let roadmapList = roadmaps["roadmaps"]?["roadmaps"]?.arrayValue else {
            throw UserError("kitemaker: the roadmaps query answered without a roadmaps list")
        }
        try writer.writeJSONLines(container: .account, file: "roadmaps", kind: "roadmap", values: roadmapList)
        progress.advance(items: roadmapList.count)

        progress.beginStage("initiatives")
        try await writePaged(
            operation: "initiatives", query: KitemakerSchema.initiativesQuery, listKey: "initiatives",
            into: writer.jsonLines(container: .account, file: "initiatives", kind: "initiative"), writer: writer)
        progress.beginStage("feedback")
        try await writePaged(
            operation: "feedback", query: KitemakerSchema.feedbackQuery, listKey: "feedback",
            into: writer.jsonLines(container: .account, file: "feedback", kind: "feedback"), writer: writer)
        let people = try await connection.graphQL("feedbackPeople", KitemakerSchema.feedbackPeopleQuery)
        let persons = people["feedbackPersons"]?.arrayValue ?? []
        let companies = people["feedbackCompanies"]?.arrayValue ?? []
        try writer.writeJSONLines(container: .account, file: "persons", kind: "person", values: persons)
        try writer.writeJSONLines(container: .account, file: "companies", kind: "company", values: companies)
        progress.advance(items: persons.count + companies.count)

        if renderings.contains(.markdown) {
            try writer.addFile(
                path: ReadablePaths.index,
                data: MarkdownRenderer.index(
                    service: .kitemaker, account: data["organization"]?["name"]?.stringValue, containers: rendered,
                    archiveStartedAt: Timestamp.parse(writer.info.startedAt) ?? Date(), formats: renderings))
        }
        if renderings.contains(.html) {
            try writer.addFile(
                path: ReadablePaths.htmlIndex,
                data: HTMLRenderer.index(
                    service: .kitemaker, account: data["organization"]?["name"]?.stringValue, containers: rendered,
                    archiveStartedAt: Timestamp.parse(writer.info.startedAt) ?? Date(), formats: renderings,
                    entries: writer.writtenEntries))
        }
        return Self.notExported
    }

    /// The spaces the selection names (by id or key), in the API's order; an unknown name is an error.
    func select(_ all: [JSONValue]) throws -> [JSONValue] {
        guard !spaces.isEmpty else { return all }
        var out: [JSONValue] = []
        for wanted in spaces {
            guard
                let space = all.first(where: {
                    $0["id"]?.idString == wanted || $0["key"]?.stringValue?.lowercased() == wanted.lowercased()
                })
            else {
                let known = all.compactMap { $0["key"]?.stringValue }.joined(separator: ", ")
                throw UserError("kitemaker: no space \(wanted) in this organization (spaces: \(known)); pass a space id or key", exitStatus: .usage)
            }
            if !out.contains(space) { out.append(space) }
        }
        return out
    }

    /// Pages a GraphQL list (`{<listKey>, cursor, hasMore}`) 50 at a time into `spool`.
    func writePaged(
        operation: String, query: String, listKey: String, variables: JSONObject = JSONObject(),
        into spool: JSONLinesSpool, writer: SnapshotWriter, transform: (JSONValue) throws -> JSONValue = { $0 }
    ) async throws {
        var cursor: String?
        while true {
            var vars = variables
            vars["count"] = .int(KitemakerSchema.pageSize)
            if let cursor { vars["cursor"] = .string(cursor) }
            let data = try await connection.graphQL(operation, query, variables: vars)
            guard let page = data[operation], let items = page[listKey]?.arrayValue else {
                throw UserError("kitemaker: the \(operation) query answered without a \(listKey) list")
            }
            for item in items { try spool.append(try transform(item)) }
            progress.advance(items: items.count)
            guard page["hasMore"]?.boolValue == true else { break }
            guard let next = page["cursor"]?.stringValue, next != cursor, !items.isEmpty else {
                throw UserError("kitemaker: the \(operation) query said it has more but gave no new cursor; the export stopped to avoid a loop")
            }
            cursor = next
        }
        try writer.commit(spool)
    }

    /// Writes one space's files and renderings; returns a light summary for the index.
    func writeSpace(_ space: JSONValue, into writer: SnapshotWriter, stubs: [ReadableContainer]) async throws
        -> ReadableContainer?
    {
        guard var meta = space.objectValue, let id = space["id"]?.idString else {
            throw UserError("kitemaker: the organization query returned a space without an id")
        }
        let statuses = meta["statuses"]?.arrayValue ?? []
        let labels = meta["labels"]?.arrayValue ?? []
        meta["statuses"] = nil
        meta["labels"] = nil
        let container = KitemakerSchema.container(space: id)
        try writer.writeJSONLines(container: container, file: "space", kind: "space", values: [.object(meta)])
        try writer.writeJSONLines(container: container, file: "statuses", kind: "status", values: statuses)
        try writer.writeJSONLines(container: container, file: "labels", kind: "label", values: labels)

        let comments = try writer.jsonLines(container: container, file: "comments", kind: "comment")
        var workItems: [JSONValue] = []
        var allComments: [JSONValue] = []
        var total = 0
        let keepForRendering = !renderings.isEmpty
        try await writePaged(
            operation: "workItems", query: KitemakerSchema.workItemsQuery, listKey: "workItems",
            variables: JSONObject([("spaceId", .string(id))]),
            into: writer.jsonLines(container: container, file: "workItems", kind: "workItem"), writer: writer,
            transform: { item in
                var o = item.objectValue ?? JSONObject()
                let nested = o["comments"]?.arrayValue ?? []
                o["comments"] = nil
                for c in nested { try comments.append(c) }
                total += 1
                if keepForRendering, workItems.count < readableItemLimit {
                    workItems.append(.object(o))
                    allComments += nested
                }
                return .object(o)
            })
        try writer.commit(comments)

        guard keepForRendering else { return nil }
        var readable = KitemakerReadable.container(
            space: .object(meta), statuses: statuses, labels: labels, workItems: workItems, comments: allComments)
        if total > workItems.count {
            readable.summary = [readable.summary, "This page shows the first \(workItems.count) of \(total) work items (by number); all are in \(container.archiveFolder)/workItems.jsonl."]
                .compactMap { $0 }.joined(separator: "\n\n")
        }
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
        var summary = readable
        summary.items = []
        return summary
    }
}
