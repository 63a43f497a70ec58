import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// Everything a Kitemaker sandbox stores: one organization, its users, spaces (with statuses and labels),
/// work items, comment threads, initiatives and feedback with insights.
struct KitemakerState: Sendable {
    struct Actor: Sendable {
        var id: String
        var name: String
        /// `user`, `application`, `integration` or `integrationUser` (the four members of GraphQL's `Actor`).
        var type: String
        var username: String
        var createdAt: String
        /// For integrations and integration users: GITHUB, SLACK, … (GraphQL `IntegrationType`).
        var integrationType: String? = nil
        var domain: String? = nil
        /// For integration users: the user's id and name in the connected service.
        var externalID: String? = nil
        var externalName: String? = nil
    }

    struct Status: Sendable, Equatable {
        var id: String
        var name: String
        /// BACKLOG, TODO, IN_PROGRESS, DONE or ARCHIVED.
        var type: String
        var isDefault: Bool
        var createdAt: String
        var updatedAt: String
    }

    struct Label: Sendable, Equatable {
        var id: String
        var name: String
        var color: String
        var spaceID: String
        var createdAt: String
        var updatedAt: String
    }

    struct Space: Sendable, Equatable {
        var id: String
        var key: String
        var name: String
        var isPrivate: Bool
        var memberIDs: [String]
        var statuses: [Status]
        var labels: [Label]
        var createdAt: String
        var updatedAt: String
        var nextNumber = 1
    }

    struct WorkItem: Sendable, Equatable {
        var id: String
        var spaceID: String
        var number: Int
        var title: String
        var description: String
        var statusID: String
        /// Position in the status column: smaller sorts first.
        var sort: Int64
        var labelIDs: [String]
        var memberIDs: [String]
        var watcherIDs: [String]
        /// SMALL, MEDIUM or LARGE.
        var effort: String?
        var impact: String?
        var actorID: String
        var createdAt: String
        var updatedAt: String
        /// Set when the item moved to a DONE status / an ARCHIVED status.
        var closedAt: String? = nil
        var archivedAt: String? = nil
    }

    struct Comment: Sendable, Equatable {
        var id: String
        var workItemID: String
        var body: String
        var threadID: String
        var reply: Bool
        var actorID: String
        var createdAt: String
        var updatedAt: String
    }

    struct Initiative: Sendable, Equatable {
        var id: String
        var number: Int
        var title: String
        var description: String
        var color: String?
        var spaceIDs: [String]
        var labelIDs: [String]
        var workItemIDs: [String]
        var effort: String?
        var impact: String?
        var archivedAt: String?
        var actorID: String
        var createdAt: String
        var updatedAt: String
        var memberIDs: [String] = []
        var watcherIDs: [String] = []
        var roadmapColumnIDs: [String] = []
    }

    struct RoadmapColumn: Sendable, Equatable {
        var id: String
        var name: String
        /// PAST, PRESENT or FUTURE (GraphQL `RoadmapColumnStatusType`).
        var columnType: String
        var roadmapID: String
        var createdAt: String
        var updatedAt: String
    }

    struct Roadmap: Sendable, Equatable {
        var id: String
        var name: String
        var color: String
        var columns: [RoadmapColumn]
        var createdAt: String
        var updatedAt: String
    }

    /// An entry of an entity's history (GraphQL `Activity`); `details` is free-form JSON.
    struct Activity: Sendable, Equatable {
        var id: String
        var type: String
        var entityID: String
        var actorID: String
        var details: JSONValue
        var createdAt: String
    }

    struct Person: Sendable, Equatable {
        var id: String
        var name: String
        var email: String
        var companyID: String? = nil
        var externalID: String? = nil
        var createdAt: String = "2024-03-01T09:00:00.000Z"
        var updatedAt: String = "2024-03-01T09:00:00.000Z"
    }

    struct Company: Sendable, Equatable {
        var id: String
        var name: String
        var domain: String? = nil
        var createdAt: String = "2024-03-01T09:00:00.000Z"
        var updatedAt: String = "2024-03-01T09:00:00.000Z"
    }

    struct Insight: Sendable, Equatable {
        var id: String
        var contents: String
        var entityIDs: [String]
        var actorID: String
        var createdAt: String
        var updatedAt: String
    }

    struct Feedback: Sendable, Equatable {
        var id: String
        var number: Int
        var title: String
        var contents: String
        var personID: String?
        var companyID: String?
        var insights: [Insight]
        var processed: Bool
        var processedAt: String?
        var actorID: String
        var createdAt: String
        var updatedAt: String
        var ownerIDs: [String] = []
        /// Feedback tags are labels (GraphQL `tags: [Label!]!`).
        var tagIDs: [String] = []
    }

    var organizationID = "0a1b2c3d4e5f6000"
    var organizationName = "Kitemaker Sandbox"
    var organizationCreatedAt = "2024-01-08T09:00:00.000Z"
    var organizationUpdatedAt = "2024-01-08T09:00:00.000Z"
    /// Users first, then applications; `users` are the members GraphQL lists.
    var actors: [Actor] = []
    /// Token → actor id.
    var tokens: [String: String] = [:]
    var spaces: [Space] = []
    // Any change retags the state, so the lookup index is rebuilt on the next read that needs it (a tag is never
    // reused, so a changed and dropped copy of the state cannot leave a stale index behind).
    var workItems: [WorkItem] = [] { didSet { tag = TaggedIndexCache<KitemakerIndex>.nextTag() } }
    var comments: [Comment] = [] { didSet { tag = TaggedIndexCache<KitemakerIndex>.nextTag() } }
    var tag: UInt64 = 0
    /// Work items by id and by space, comments by work item: without it every page scanned the whole account.
    let index = TaggedIndexCache<KitemakerIndex>()
    /// Comments on initiatives (`workItemID` holds the initiative's id); REST never lists them.
    var initiativeComments: [Comment] = []
    /// Recorded history beyond the CREATED entry every work item and initiative has.
    var activities: [Activity] = []
    var roadmaps: [Roadmap] = []
    var initiatives: [Initiative] = []
    var feedback: [Feedback] = []
    var persons: [Person] = []
    var companies: [Company] = []
    var nextInitiativeNumber = 1
    var nextFeedbackNumber = 1
    var ids = KitemakerIDs(seed: 0x4B49_5445_4D41_4B52)
    /// Clock for server-set timestamps.
    var now: @Sendable () -> String = { SandboxTime.now() }

    /// Gap between neighbouring sort values, so items can be placed between others.
    static let sortStep: Int64 = 1024

    // MARK: - Lookups

    func actor(_ id: String) -> Actor? { actors.first { $0.id == id } }
    func initiativeIndex(_ id: String) -> Int? { initiatives.firstIndex { $0.id == id } }

    /// A work item or an initiative (GraphQL `Entity`) by id.
    func entity(_ id: String) -> (any Sendable)? {
        if let i = workItemIndex(id) { return workItems[i] }
        if let i = initiativeIndex(id) { return initiatives[i] }
        return nil
    }

    func roadmapColumn(_ id: String) -> RoadmapColumn? {
        for roadmap in roadmaps { if let c = roadmap.columns.first(where: { $0.id == id }) { return c } }
        return nil
    }

    /// An entity's history: the CREATED entry, then what was recorded, oldest first.
    func activities(of entityID: String, actor: String, createdAt: String) -> [Activity] {
        [Activity(id: entityID + "-created", type: "CREATED", entityID: entityID, actorID: actor, details: [:], createdAt: createdAt)]
            + activities.filter { $0.entityID == entityID }
    }

    /// A slug as Kitemaker shows it in URLs: lowercase words joined by dashes.
    static func slug(_ name: String) -> String {
        let words = name.lowercased().split { !($0.isLetter || $0.isNumber) }
        return words.joined(separator: "-")
    }
    func spaceIndex(_ id: String) -> Int? { spaces.firstIndex { $0.id == id } }
    /// The index of this version of the work items and comments (built once per version).
    var builtIndex: KitemakerIndex { index.index(tag: tag) { KitemakerIndex(self) } }

    func workItemIndex(_ id: String) -> Int? { builtIndex.workItemByID[id] }

    func status(_ id: String) -> (space: Space, status: Status)? {
        for space in spaces { if let s = space.statuses.first(where: { $0.id == id }) { return (space, s) } }
        return nil
    }

    func label(_ id: String) -> Label? {
        for space in spaces { if let l = space.labels.first(where: { $0.id == id }) { return l } }
        return nil
    }

    /// Work items of a space in number order.
    func workItems(inSpace id: String) -> [WorkItem] {
        (builtIndex.spaceItems[id] ?? []).map { workItems[$0] }
    }

    /// Positions in `workItems` of a space's items, in number order.
    func workItemPositions(inSpace id: String) -> [Int] { builtIndex.spaceItems[id] ?? [] }

    /// Comments of a work item in the order they were made.
    func comments(of workItemID: String) -> [Comment] {
        (builtIndex.commentsByWorkItem[workItemID] ?? []).map { comments[$0] }
    }

    /// A sort value that puts an item at the top or bottom of a status column.
    func sortValue(status: String, placement: String, excluding: String? = nil) -> Int64 {
        let column = workItems.filter { $0.statusID == status && $0.id != excluding }.map(\.sort)
        if placement == "bottom" { return (column.max() ?? 0) + Self.sortStep }
        return (column.min() ?? Self.sortStep * 2) - Self.sortStep
    }

    /// Sort as the API shows it: a string that orders like the number.
    static func sortString(_ sort: Int64) -> String {
        let shifted = UInt64(bitPattern: sort &+ Int64.min)
        let digits = String(shifted, radix: 36)
        return String(repeating: "0", count: max(0, 13 - digits.count)) + digits
    }

    /// REST spells effort and impact capitalised (`Large`); GraphQL uses the enum (`LARGE`).
    static func restSize(_ size: String?) -> JSONValue {
        guard let size, let first = size.first else { return .null }
        return .string(String(first).uppercased() + size.dropFirst().lowercased())
    }

    // MARK: - Auth

    /// The actor behind the REST `X-API-KEY` header; 401 in Kitemaker's error shape otherwise.
    func restActor(_ request: SandboxRequest) throws(SandboxHTTPError) -> String {
        let key = request.headers.first { $0.name.canonicalName == "x-api-key" }?.value
            .trimmingCharacters(in: .whitespaces)
        guard let key, !key.isEmpty, let actor = tokens[key] else {
            throw SandboxHTTPError(.unauthorized, "The requested action could not be completed")
        }
        return actor
    }

    /// The actor behind GraphQL's `Authorization: Bearer` header.
    func graphQLActor(_ request: SandboxRequest) throws(SandboxHTTPError) -> String {
        guard let header = request.headers[.authorization]?.trimmingCharacters(in: .whitespaces),
            header.lowercased().hasPrefix("bearer ")
        else {
            throw SandboxHTTPError(.unauthorized, "Authentication required: send Authorization: Bearer <token>")
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard let actor = tokens[token] else {
            throw SandboxHTTPError(.unauthorized, "The requested action could not be completed")
        }
        return actor
    }

    // MARK: - Writes shared by REST and GraphQL

    mutating func addComment(workItemID: String, body: String, threadID: String?, actor: String) throws(SandboxHTTPError)
        -> Comment
    {
        guard workItemIndex(workItemID) != nil else {
            throw SandboxHTTPError(.notFound, "Could not find the specified work item")
        }
        guard !body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw SandboxHTTPError(.badRequest, "body must not be empty")
        }
        if let threadID, !comments.contains(where: { $0.threadID == threadID && $0.workItemID == workItemID }) {
            throw SandboxHTTPError(.notFound, "Could not find the specified comment thread on this work item")
        }
        let time = now()
        let comment = Comment(
            id: ids.next(), workItemID: workItemID, body: body, threadID: threadID ?? ids.next(),
            reply: threadID != nil, actorID: actor, createdAt: time, updatedAt: time)
        comments.append(comment)
        return comment
    }
}

/// Kitemaker-style ids: 16 lowercase hex digits, deterministic per sandbox.
struct KitemakerIDs: Sendable {
    private var random: SplitMix64
    init(seed: UInt64) { random = SplitMix64(seed: seed) }
    mutating func next() -> String {
        let hex = String(random.next(), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// Lookups the GraphQL and REST routes need, derived from `KitemakerState.workItems` and `.comments`.
struct KitemakerIndex {
    var workItemByID: [String: Int] = [:]
    var spaceItems: [String: [Int]] = [:]
    var commentsByWorkItem: [String: [Int]] = [:]

    init(_ state: KitemakerState) {
        workItemByID.reserveCapacity(state.workItems.count)
        for (n, w) in state.workItems.enumerated() {
            workItemByID[w.id] = n
            spaceItems[w.spaceID, default: []].append(n)
        }
        for (space, positions) in spaceItems {
            spaceItems[space] = positions.sorted { state.workItems[$0].number < state.workItems[$1].number }
        }
        for (n, c) in state.comments.enumerated() { commentsByWorkItem[c.workItemID, default: []].append(n) }
    }
}
