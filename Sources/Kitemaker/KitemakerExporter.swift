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
    /// With `containersOnly`: initiatives and feedback are read too (the account-level kinds a restore compares), and
    /// nothing else of the account level.
    let comparedAccount: Bool
    /// Spaces whose work items `prefetch` has read, until `fetch` writes them.
    private var prefetched: [String: SpaceLists] = [:]
    /// The account-level lists once read (with the first window of spaces, or in `finish`).
    private var accountLists: AccountLists?

    /// Spaces read at once: as many as the pacing keeps requests going (each space's pages follow one another).
    var batchSize: Int { max(1, connection.client.parallelism) }

    static let notExported: [NotExported] = [
        NotExported(kind: "attachment", reason: "files in work items are links inside descriptions; the API offers no download route for them"),
        NotExported(kind: "codeReviewRequest", reason: "the schema reaches a code review request only by its URL (codeReviewRequest(url:)) and lists none; the links are not exported"),
        NotExported(kind: "integration.settings", reason: "integrations and integration users are exported as actors (id, type, domain, external name); their settings and credentials are not in the schema"),
        NotExported(kind: "user.avatar", reason: "avatars are image URLs on Kitemaker's servers; only the users' names and flags are exported"),
        NotExported(kind: "token", reason: "API tokens are secrets and are never archived"),
    ]

    init(
        connection: KitemakerConnection, progress: ProgressReporter, spaces: [String],
        unknownTypes: KitemakerUnknownTypes = KitemakerUnknownTypes(), containersOnly: Bool = false, workItems: [String: [String]]? = nil,
        comparedAccount: Bool = false
    ) {
        self.workItems = workItems
        self.comparedAccount = comparedAccount
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

    /// Roadmaps, initiatives, feedback, persons and companies: account-level, after the spaces. They were read while
    /// the first spaces were (`prefetch`), or are read here, all four at once, when no space was fetched.
    func finish(into account: ContainerOutput) async throws {
        guard !containersOnly || comparedAccount else { return }
        if accountLists == nil {
            let lists = AccountLists(comparedOnly: containersOnly)
            try await readAtOnce(lists.readings)
            accountLists = lists
        }
        guard let lists = accountLists else { return }
        if containersOnly {
            try copy(lists.initiatives, into: account, file: "initiatives", kind: "initiative")
            try copy(lists.feedback, into: account, file: "feedback", kind: "feedback")
            return
        }
        progress.beginStage("roadmaps")
        try copy(lists.roadmaps, into: account, file: "roadmaps", kind: "roadmap")
        progress.beginStage("initiatives")
        try copy(lists.initiatives, into: account, file: "initiatives", kind: "initiative")
        progress.beginStage("feedback")
        try copy(lists.feedback, into: account, file: "feedback", kind: "feedback")
        try copy(lists.persons, into: account, file: "persons", kind: "person")
        try copy(lists.companies, into: account, file: "companies", kind: "company")
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

    /// One GraphQL list the export reads: the request for its next page (nil once it is complete) and what takes each
    /// answer's `data`, returning the next page's variables or nil. Touched only by the task that runs `readAtOnce`.
    final class ListReading {
        let operation: String
        let query: String
        var next: JSONObject?
        let take: (JSONValue) throws -> JSONObject?

        init(operation: String, query: String, variables: JSONObject, take: @escaping (JSONValue) throws -> JSONObject?) {
            self.operation = operation
            self.query = query
            self.next = variables
            self.take = take
        }

        /// A list paged 50 at a time (`{<listKey>, cursor, hasMore}`), each item handed to `append` in order.
        static func paged(
            operation: String, query: String, listKey: String, variables: JSONObject = JSONObject(),
            progress: ProgressReporter?, append: @escaping (JSONValue) throws -> Void
        ) -> ListReading {
            var first = variables
            first["count"] = .int(KitemakerSchema.pageSize)
            var cursor: String?
            return ListReading(operation: operation, query: query, variables: first) { data in
                guard let page = data[operation], let items = page[listKey]?.arrayValue else {
                    throw UserError("kitemaker: the \(operation) query answered without a \(listKey) list")
                }
                for item in items { try append(item) }
                progress?.advance(items: items.count)
                guard page["hasMore"]?.boolValue == true else { return nil }
                guard let next = page["cursor"]?.stringValue, next != cursor, !items.isEmpty else {
                    throw UserError("kitemaker: the \(operation) query said it has more but gave no new cursor; the export stopped to avoid a loop")
                }
                cursor = next
                var vars = variables
                vars["count"] = .int(KitemakerSchema.pageSize)
                vars["cursor"] = .string(next)
                return vars
            }
        }
    }

    /// Reads `lists` side by side: each list's pages one after another (a cursor names the next), the lists at once,
    /// as many requests offered as the connection's pacing can use (it still decides when each goes). Every answer is
    /// taken here, in its list's order, so what the lists collect does not depend on how the answers interleave. The
    /// first error cancels the rest and is thrown.
    func readAtOnce(_ lists: [ListReading]) async throws {
        let connection = self.connection
        let limit = max(1, connection.client.parallelism)
        try await withThrowingTaskGroup(of: (Int, JSONValue).self) { group in
            var waiting = Array(lists.indices)
            var running = 0
            func start() {
                while running < limit, !waiting.isEmpty {
                    let index = waiting.removeFirst()
                    guard let variables = lists[index].next else { continue }
                    let (operation, query) = (lists[index].operation, lists[index].query)
                    group.addTask { (index, try await connection.graphQL(operation, query, variables: variables)) }
                    running += 1
                }
            }
            start()
            while let (index, data) = try await group.next() {
                running -= 1
                lists[index].next = try lists[index].take(data)
                if lists[index].next != nil { waiting.append(index) }
                start()
            }
        }
    }

    /// The account-level lists, read into scratch spools (memory, then an unlinked temporary file) until `finish`
    /// writes them.
    final class AccountLists {
        let roadmaps = ScratchJSONLines()
        let initiatives = ScratchJSONLines()
        let feedback = ScratchJSONLines()
        let persons = ScratchJSONLines()
        let companies = ScratchJSONLines()
        /// Initiatives and feedback only (the live side of a restore's comparison).
        let comparedOnly: Bool

        init(comparedOnly: Bool = false) { self.comparedOnly = comparedOnly }

        /// Roadmaps and feedback people in one answer each, initiatives and feedback paged.
        var readings: [ListReading] {
            let all: [ListReading] = [
                ListReading(operation: "roadmaps", query: KitemakerSchema.roadmapsQuery, variables: JSONObject()) { [roadmaps] data in
                    guard let list = data["roadmaps"]?["roadmaps"]?.arrayValue else {
                        throw UserError("kitemaker: the roadmaps query answered without a roadmaps list")
                    }
                    for item in list { try roadmaps.append(item) }
                    return nil
                },
                .paged(
                    operation: "initiatives", query: KitemakerSchema.initiativesQuery, listKey: "initiatives", progress: nil,
                    append: { [initiatives] item in try initiatives.append(item) }),
                .paged(
                    operation: "feedback", query: KitemakerSchema.feedbackQuery, listKey: "feedback", progress: nil,
                    append: { [feedback] item in try feedback.append(item) }),
                ListReading(operation: "feedbackPeople", query: KitemakerSchema.feedbackPeopleQuery, variables: JSONObject()) {
                    [persons, companies] data in
                    for person in data["feedbackPersons"]?.arrayValue ?? [] { try persons.append(person) }
                    for company in data["feedbackCompanies"]?.arrayValue ?? [] { try companies.append(company) }
                    return nil
                },
            ]
            return comparedOnly ? all.filter { $0.operation == "initiatives" || $0.operation == "feedback" } : all
        }
    }

    /// A space's work items (without their comments) and the comments, as read ahead by `prefetch`.
    final class SpaceLists {
        let workItems = ScratchJSONLines()
        let comments = ScratchJSONLines()

        func reading(space id: String, progress: ProgressReporter) -> ListReading {
            .paged(
                operation: "workItems", query: KitemakerSchema.workItemsQuery, listKey: "workItems",
                variables: JSONObject([("spaceId", .string(id))]), progress: progress
            ) { [workItems, comments] item in
                var o = item.objectValue ?? JSONObject()
                let nested = o["comments"]?.arrayValue ?? []
                o["comments"] = nil
                for c in nested { try comments.append(c) }
                try workItems.append(.object(o))
            }
        }
    }

    /// Reads the work items of a window of spaces at once — and, with the first window, the account-level lists —
    /// into scratch spools; `fetch` then writes each space in archive order, `finish` the lists.
    func prefetch(_ batch: [ListedContainer]) async throws {
        // Named work items are read one by one in `fetch`; there is no list to read ahead.
        guard workItems == nil else { return }
        var readings: [ListReading] = []
        for listed in batch where prefetched[listed.id] == nil {
            let lists = SpaceLists()
            prefetched[listed.id] = lists
            readings.append(lists.reading(space: listed.id, progress: progress))
        }
        if !containersOnly || comparedAccount, accountLists == nil {
            let lists = AccountLists(comparedOnly: containersOnly)
            accountLists = lists
            readings += lists.readings
        }
        do {
            try await readAtOnce(readings)
        } catch {
            prefetched = [:]
            accountLists = nil
            throw error
        }
    }

    /// Writes the lines of `scratch` as one JSON Lines file of `output`, byte for byte.
    func copy(_ scratch: ScratchJSONLines, into output: ContainerOutput, file: String, kind: String) throws {
        let spool = try output.lines(file, kind: kind)
        try copy(scratch, into: spool)
        try output.commit(spool)
        progress.advance(items: scratch.count)
    }

    func copy(_ scratch: ScratchJSONLines, into spool: JSONLinesSpool) throws {
        let lines = try scratch.lines()
        while let line = try lines.nextLine() { try spool.append(json: line) }
    }

    /// Writes one space's files: the space, its statuses and labels, its work items and their comments (read ahead by
    /// `prefetch`, or here when it did not).
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

        if let workItems {
            let comments = try output.lines("comments", kind: "comment")
            try await fetchNamed(
                workItems[listed.id] ?? [], space: listed.id, into: output.lines("workItems", kind: "workItem"), output: output
            ) { item in
                var o = item.objectValue ?? JSONObject()
                let nested = o["comments"]?.arrayValue ?? []
                o["comments"] = nil
                for c in nested { try comments.append(c) }
                return .object(o)
            }
            try output.commit(comments)
            return FetchedContainer()
        }
        let lists: SpaceLists
        if let read = prefetched.removeValue(forKey: listed.id) {
            lists = read
        } else {
            lists = SpaceLists()
            try await readAtOnce([lists.reading(space: listed.id, progress: progress)])
        }
        let comments = try output.lines("comments", kind: "comment")
        let workItems = try output.lines("workItems", kind: "workItem")
        try copy(lists.workItems, into: workItems)
        try output.commit(workItems)
        try copy(lists.comments, into: comments)
        try output.commit(comments)
        return FetchedContainer()
    }

    /// Writes the named work items of one space, each read by id (`workItem(id:)`); one gone or in another space is
    /// left out.
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
