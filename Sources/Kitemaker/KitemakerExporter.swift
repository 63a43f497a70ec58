import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP

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
final class KitemakerExporter: ExportSource {
    let connection: KitemakerConnection
    let progress: ProgressReporter
    /// Only these spaces (id or key), or every space when empty.
    let spaces: [String]

    /// Counts the `Actor`/`Entity` members this kitbag does not know in every answer of the run.
    let unknownTypes: KitemakerUnknownTypes
    /// Only the spaces, no account-level lists (roadmaps, initiatives, feedback, people); a named space that is gone
    /// is left out (`ExportSelection.containersOnly`: the live side of a restore's comparison).
    let containersOnly: Bool
    /// Per space id, only these work items (ids), each read by id, instead of every work item of the space; one that
    /// Kitemaker no longer has, or that is in another space, is left out (the live side of a restore that names work
    /// items). Nil: every work item of every space.
    let workItems: [String: [String]]?

    static let notExported: [NotExported] = [
        NotExported(kind: "attachment", reason: "files in work items are links inside descriptions; the API offers no download route for them"),
        NotExported(kind: "codeReviewRequest", reason: "the schema reaches a code review request only by its URL (codeReviewRequest(url:)) and lists none; the links are not exported"),
        NotExported(kind: "integration.settings", reason: "integrations and integration users are exported as actors (id, type, domain, external name); their settings and credentials are not in the schema"),
        NotExported(kind: "user.avatar", reason: "avatars are image URLs on Kitemaker's servers; only the users' names and flags are exported"),
        NotExported(kind: "token", reason: "API tokens are secrets and are never archived"),
    ]

    init(
        connection: KitemakerConnection, progress: ProgressReporter, spaces: [String],
        unknownTypes: KitemakerUnknownTypes = KitemakerUnknownTypes(), containersOnly: Bool = false, workItems: [String: [String]]? = nil
    ) {
        self.workItems = workItems
        self.connection = connection
        self.progress = progress
        self.spaces = spaces
        self.unknownTypes = unknownTypes
        self.containersOnly = containersOnly
    }

    /// The organization with its actors, then the selected spaces (which the organization query lists).
    func begin(into account: ContainerOutput) async throws -> [ListedContainer] {
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
        try account.write("organization", kind: "organization", values: [.object(org)])
        for (file, kind, values) in actors {
            try account.write(file, kind: kind, values: values)
        }
        return try select(allSpaces).map { space in
            let id = space["id"]?.idString ?? ""
            return ListedContainer(
                ref: KitemakerSchema.container(space: id), kind: "space", title: space["name"]?.stringValue ?? "",
                listing: space)
        }
    }

    /// Roadmaps, initiatives, feedback, persons and companies: account-level, after the spaces.
    func finish(into account: ContainerOutput) async throws {
        guard !containersOnly else { return }
        progress.beginStage("roadmaps")
        let roadmaps = try await connection.graphQL("roadmaps", KitemakerSchema.roadmapsQuery)
        guard let roadmapList = roadmaps["roadmaps"]?["roadmaps"]?.arrayValue else {
            throw UserError("kitemaker: the roadmaps query answered without a roadmaps list")
        }
        try account.write("roadmaps", kind: "roadmap", values: roadmapList)
        progress.advance(items: roadmapList.count)

        progress.beginStage("initiatives")
        try await writePaged(
            operation: "initiatives", query: KitemakerSchema.initiativesQuery, listKey: "initiatives",
            into: account.lines("initiatives", kind: "initiative"), output: account)
        progress.beginStage("feedback")
        try await writePaged(
            operation: "feedback", query: KitemakerSchema.feedbackQuery, listKey: "feedback",
            into: account.lines("feedback", kind: "feedback"), output: account)
        let people = try await connection.graphQL("feedbackPeople", KitemakerSchema.feedbackPeopleQuery)
        let persons = people["feedbackPersons"]?.arrayValue ?? []
        let companies = people["feedbackCompanies"]?.arrayValue ?? []
        try account.write("persons", kind: "person", values: persons)
        try account.write("companies", kind: "company", values: companies)
        progress.advance(items: persons.count + companies.count)
    }

    func notExported() -> [NotExported] { Self.notExported + unknownTypes.notExported }

    func reading(account: any ContainerFiles) throws -> ContainerReading { KitemakerRendering.reading }

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
                if containersOnly { continue }
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
        into spool: JSONLinesSpool, output: ContainerOutput, transform: (JSONValue) throws -> JSONValue = { $0 }
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
        try output.commit(spool)
    }

    /// Writes one space's files: the space, its statuses and labels, its work items and their comments.
    func fetch(_ listed: ListedContainer, into output: ContainerOutput, previous: PreviousContainer?) async throws
        -> FetchedContainer
    {
        let space = listed.listing
        guard var meta = space.objectValue, space["id"]?.idString != nil else {
            throw UserError("kitemaker: the organization query returned a space without an id")
        }
        let statuses = meta["statuses"]?.arrayValue ?? []
        let labels = meta["labels"]?.arrayValue ?? []
        meta["statuses"] = nil
        meta["labels"] = nil
        try output.write("space", kind: "space", values: [.object(meta)])
        try output.write("statuses", kind: "status", values: statuses)
        try output.write("labels", kind: "label", values: labels)

        let comments = try output.lines("comments", kind: "comment")
        let split: (JSONValue) throws -> JSONValue = { item in
            var o = item.objectValue ?? JSONObject()
            let nested = o["comments"]?.arrayValue ?? []
            o["comments"] = nil
            for c in nested { try comments.append(c) }
            return .object(o)
        }
        if let workItems {
            try await fetchNamed(workItems[listed.id] ?? [], space: listed.id, into: output.lines("workItems", kind: "workItem"), output: output, transform: split)
        } else {
            try await writePaged(
                operation: "workItems", query: KitemakerSchema.workItemsQuery, listKey: "workItems",
                variables: JSONObject([("spaceId", .string(listed.id))]),
                into: output.lines("workItems", kind: "workItem"), output: output, transform: split)
        }
        try output.commit(comments)
        return FetchedContainer()
    }

    /// The named work items that are in `space`, one `workItem(id:)` each, in the order named.
    func fetchNamed(
        _ ids: [String], space: String, into spool: JSONLinesSpool, output: ContainerOutput, transform: (JSONValue) throws -> JSONValue
    ) async throws {
        for id in ids {
            guard var item = try await connection.workItem(id: id)?.objectValue, item["space"]?["id"]?.idString == space else { continue }
            item["space"] = nil
            try spool.append(try transform(.object(item)))
            progress.advance(items: 1)
        }
        try output.commit(spool)
    }
}
