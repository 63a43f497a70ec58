import Foundation
import Hummingbird
import KitbagCore

/// Everything a Kitemaker sandbox stores: one organization, its users, spaces (with statuses and labels),
/// work items, comment threads, initiatives and feedback with insights.
struct KitemakerState: Sendable {
    struct Actor: Sendable {
        var id: String
        var name: String
        /// `user` or `application`, as the REST API spells it.
        var type: String
        var username: String
        var createdAt: String
    }

    struct Status: Sendable {
        var id: String
        var name: String
        /// BACKLOG, TODO, IN_PROGRESS, DONE or ARCHIVED.
        var type: String
        var isDefault: Bool
        var createdAt: String
        var updatedAt: String
    }

    struct Label: Sendable {
        var id: String
        var name: String
        var color: String
        var spaceID: String
        var createdAt: String
        var updatedAt: String
    }

    struct Space: Sendable {
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

    struct WorkItem: Sendable {
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
    }

    struct Comment: Sendable {
        var id: String
        var workItemID: String
        var body: String
        var threadID: String
        var reply: Bool
        var actorID: String
        var createdAt: String
        var updatedAt: String
    }

    struct Initiative: Sendable {
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
    }

    struct Person: Sendable {
        var id: String
        var name: String
        var email: String
    }

    struct Company: Sendable {
        var id: String
        var name: String
    }

    struct Insight: Sendable {
        var id: String
        var contents: String
        var entityIDs: [String]
        var actorID: String
        var createdAt: String
        var updatedAt: String
    }

    struct Feedback: Sendable {
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
    var workItems: [WorkItem] = []
    var comments: [Comment] = []
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
    func spaceIndex(_ id: String) -> Int? { spaces.firstIndex { $0.id == id } }
    func workItemIndex(_ id: String) -> Int? { workItems.firstIndex { $0.id == id } }

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
        workItems.filter { $0.spaceID == id }.sorted { $0.number < $1.number }
    }

    /// Comments of a work item in the order they were made.
    func comments(of workItemID: String) -> [Comment] {
        comments.filter { $0.workItemID == workItemID }
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
