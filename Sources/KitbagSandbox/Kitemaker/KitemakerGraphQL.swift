import Foundation
import GraphQL
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// What one GraphQL request resolves against: a snapshot of the state (updated by mutations as they run),
/// the store mutations write through, and the actor behind the token.
final class KitemakerGraphQLContext: @unchecked Sendable {
    private let lock = NSLock()
    private var current: KitemakerState
    let store: KitemakerStore
    let actorID: String

    init(state: KitemakerState, store: KitemakerStore, actorID: String) {
        self.current = state
        self.store = store
        self.actorID = actorID
    }

    var state: KitemakerState {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// One page of a Kitemaker list query: `{items, cursor, hasMore}`.
struct KitemakerPage<Item: Sendable>: Sendable {
    var items: [Item]
    var cursor: String
    var hasMore: Bool
}

/// The GraphQL developer API (`POST /developers/graphql`), with the types and fields of Kitemaker's published
/// schema (kitemakerhq/km `src/kitemaker.graphql`, commit 8e752965e19e23af4df7984ff267bbb412a9bc5b) and the four
/// queries of Kitemaker's own export (kitemakerhq/dump-organization, commit 911f908cb7e3d8dc76fbaf2063be645e29bdd853):
/// every query root but `codeReviewRequest`; lists return `{…, cursor, hasMore}` with at most 50 per page
/// (`count` above 50 is an error); the mutation `createCommentOnWorkItem` answers threaded replies.
enum KitemakerGraphQL {
    static let maxPageSize = 50

    static let schema: GraphQLSchema = {
        do {
            return try makeSchema()
        } catch {
            fatalError("the Kitemaker sandbox's GraphQL schema is invalid: \(error)")
        }
    }()

    // MARK: - Field helpers

    static func ctx(_ c: any Sendable) -> KitemakerGraphQLContext { c as! KitemakerGraphQLContext }

    static func field<S>(
        _ type: GraphQLOutputType, args: GraphQLArgumentConfigMap = [:],
        _ get: @escaping @Sendable (S, Map, KitemakerGraphQLContext) throws -> (any Sendable)?
    ) -> GraphQLField {
        let resolve: GraphQLFieldResolveInput = { source, args, context, _ in
            guard let s = source as? S else { return nil }
            return try get(s, args, ctx(context))
        }
        return GraphQLField(type: type, args: args, resolve: resolve)
    }

    static func nonNull(_ t: GraphQLNullableType) -> GraphQLNonNull { GraphQLNonNull(t) }
    static func list(_ t: GraphQLType) -> GraphQLNonNull { GraphQLNonNull(GraphQLList(GraphQLNonNull(t as! GraphQLNullableType))) }

    /// One page of `all` (in ascending `number` order) after the cursor; `item` makes the page's items only.
    static func page<T, Item>(_ all: [T], number: (T) -> Int, args: Map, item: (T) -> Item) throws -> KitemakerPage<Item> {
        let count = args["count"].int ?? maxPageSize
        guard count >= 1, count <= maxPageSize else {
            throw GraphQLError(message: "count must be between 1 and \(maxPageSize)")
        }
        var after = 0
        if let cursor = args["cursor"].string, !cursor.isEmpty {
            guard let n = Int(cursor), n >= 0 else { throw GraphQLError(message: "invalid cursor \(cursor)") }
            after = n
        }
        // Binary search for the first number after the cursor, so a page costs the same at any depth.
        var low = 0
        var high = all.count
        while low < high {
            let mid = (low + high) / 2
            if number(all[mid]) > after { high = mid } else { low = mid + 1 }
        }
        let end = min(low + count, all.count)
        let items = all[low..<end]
        return KitemakerPage(
            items: items.map(item), cursor: items.last.map { String(number($0)) } ?? String(after),
            hasMore: end < all.count)
    }

    static func page<T>(_ all: [T], number: (T) -> Int, args: Map) throws -> KitemakerPage<T> {
        try page(all, number: number, args: args, item: { $0 })
    }

    // MARK: - Schema

    /// The types, fields, nullability and arguments of Kitemaker's published schema (kitemakerhq/km
    /// `src/kitemaker.graphql`, commit 8e752965e19e23af4df7984ff267bbb412a9bc5b), built type by type so that a
    /// document kitbag or Kitemaker's own tools send validates here exactly when it validates there. Left out:
    /// `codeReviewRequest` and the mutations this sandbox does not implement.
    // swiftlint:disable:next function_body_length
    static func makeSchema() throws -> GraphQLSchema {
        typealias S = KitemakerState
        func enumType(_ name: String, _ cases: [String]) throws -> GraphQLEnumType {
            var values: GraphQLEnumValueMap = [:]
            for c in cases { values[c] = GraphQLEnumValue(value: .string(c)) }
            return try GraphQLEnumType(name: name, values: values)
        }
        let date = try GraphQLScalarType(
            name: "Date", serialize: { value in (value as? String).map(Map.string) ?? .null })
        let jsonScalar = try GraphQLScalarType(
            name: "JSON", serialize: { value in (value as? JSONValue).map(map(from:)) ?? .null })
        let statusType = try enumType("StatusType", ["BACKLOG", "TODO", "IN_PROGRESS", "DONE", "ARCHIVED"])
        let statusFilterType = try enumType("StatusFilterType", ["INCLUDE", "EXCLUDE"])
        let integrationType = try enumType(
            "IntegrationType",
            ["GITHUB", "FIGMA", "TRELLO", "SLACK", "DISCORD", "GITLAB", "ZAPIER", "INTERCOM", "SENTRY", "EMAIL", "VANTA", "LINEAR"])
        let columnType = try enumType("RoadmapColumnStatusType", ["PAST", "PRESENT", "FUTURE"])
        let activityType = try enumType(
            "ActivityType",
            ["CREATED", "STATUS_CHANGED", "LABELS_CHANGED", "IMPACT_CHANGED", "EFFORT_CHANGED", "ENTITIES_CHANGED",
             "MEMBERS_CHANGED", "IMPORTED", "DUPLICATED_TO", "DUPLICATED_FROM", "CREATED_FROM", "MENTIONED",
             "MENTIONED_IN_INTEGRATION", "HORIZON_CHANGED", "CODE_REVIEW_REQUEST_ADDED", "DEPENDENCY", "TITLE_CHANGED",
             "TODO_CHANGED", "STALE_ISSUE", "SPACES_CHANGED", "ROADMAPS_CHANGED"])

        let user = try GraphQLObjectType(
            name: "User",
            fields: [
                "id": field(nonNull(GraphQLID)) { (a: S.Actor, _, _) in a.id },
                "username": field(nonNull(GraphQLString)) { (a: S.Actor, _, _) in a.username },
                "name": field(GraphQLString) { (a: S.Actor, _, _) in a.name },
                "avatar": field(GraphQLString) { (_: S.Actor, _, _) in nil },
                "guest": field(nonNull(GraphQLBoolean)) { (_: S.Actor, _, _) in false },
                "deactivated": field(nonNull(GraphQLBoolean)) { (_: S.Actor, _, _) in false },
                "updatedAt": field(nonNull(date)) { (a: S.Actor, _, _) in a.createdAt },
                "createdAt": field(nonNull(date)) { (a: S.Actor, _, _) in a.createdAt },
            ],
            isTypeOf: { source, _ in (source as? S.Actor)?.type == "user" })
        let integration = try GraphQLObjectType(
            name: "Integration",
            fields: [
                "id": field(nonNull(GraphQLID)) { (a: S.Actor, _, _) in a.id },
                "type": field(nonNull(integrationType)) { (a: S.Actor, _, _) in a.integrationType ?? "GITHUB" },
                "domain": field(GraphQLString) { (a: S.Actor, _, _) in a.domain },
                "updatedAt": field(nonNull(date)) { (a: S.Actor, _, _) in a.createdAt },
                "createdAt": field(nonNull(date)) { (a: S.Actor, _, _) in a.createdAt },
            ],
            isTypeOf: { source, _ in (source as? S.Actor)?.type == "integration" })
        let integrationUser = try GraphQLObjectType(
            name: "IntegrationUser",
            fields: [
                "id": field(nonNull(GraphQLID)) { (a: S.Actor, _, _) in a.id },
                "type": field(nonNull(integrationType)) { (a: S.Actor, _, _) in a.integrationType ?? "GITHUB" },
                "domain": field(GraphQLString) { (a: S.Actor, _, _) in a.domain },
                "externalId": field(nonNull(GraphQLString)) { (a: S.Actor, _, _) in a.externalID ?? a.id },
                "externalName": field(nonNull(GraphQLString)) { (a: S.Actor, _, _) in a.externalName ?? a.name },
                "updatedAt": field(nonNull(date)) { (a: S.Actor, _, _) in a.createdAt },
                "createdAt": field(nonNull(date)) { (a: S.Actor, _, _) in a.createdAt },
            ],
            isTypeOf: { source, _ in (source as? S.Actor)?.type == "integrationUser" })
        let application = try GraphQLObjectType(
            name: "Application",
            fields: [
                "id": field(nonNull(GraphQLID)) { (a: S.Actor, _, _) in a.id },
                "name": field(nonNull(GraphQLString)) { (a: S.Actor, _, _) in a.name },
                "updatedAt": field(nonNull(date)) { (a: S.Actor, _, _) in a.createdAt },
                "createdAt": field(nonNull(date)) { (a: S.Actor, _, _) in a.createdAt },
            ],
            isTypeOf: { source, _ in (source as? S.Actor)?.type == "application" })
        let actorUnion = try GraphQLUnionType(name: "Actor", types: [user, integration, integrationUser, application])

        let label = try GraphQLObjectType(
            name: "Label",
            fields: [
                "id": field(nonNull(GraphQLID)) { (l: S.Label, _, _) in l.id },
                "color": field(nonNull(GraphQLString)) { (l: S.Label, _, _) in l.color },
                "name": field(nonNull(GraphQLString)) { (l: S.Label, _, _) in l.name },
                "updatedAt": field(nonNull(date)) { (l: S.Label, _, _) in l.updatedAt },
                "createdAt": field(nonNull(date)) { (l: S.Label, _, _) in l.createdAt },
            ])
        let status = try GraphQLObjectType(
            name: "Status",
            fields: [
                "id": field(nonNull(GraphQLID)) { (s: S.Status, _, _) in s.id },
                "name": field(nonNull(GraphQLString)) { (s: S.Status, _, _) in s.name },
                "type": field(nonNull(statusType)) { (s: S.Status, _, _) in s.type },
                "default": field(nonNull(GraphQLBoolean)) { (s: S.Status, _, _) in s.isDefault },
                "updatedAt": field(nonNull(date)) { (s: S.Status, _, _) in s.updatedAt },
                "createdAt": field(nonNull(date)) { (s: S.Status, _, _) in s.createdAt },
            ])
        let space = try GraphQLObjectType(
            name: "Space",
            fields: [
                "id": field(nonNull(GraphQLID)) { (s: S.Space, _, _) in s.id },
                "key": field(nonNull(GraphQLString)) { (s: S.Space, _, _) in s.key },
                "name": field(nonNull(GraphQLString)) { (s: S.Space, _, _) in s.name },
                "slug": field(nonNull(GraphQLString)) { (s: S.Space, _, _) in S.slug(s.name) },
                "labels": field(list(label)) { (s: S.Space, _, _) in s.labels },
                "statuses": field(list(status)) { (s: S.Space, _, _) in s.statuses },
                "private": field(nonNull(GraphQLBoolean)) { (s: S.Space, _, _) in s.isPrivate },
                "members": field(GraphQLList(nonNull(user))) { (s: S.Space, _, c) in
                    let state = c.state
                    return s.memberIDs.compactMap(state.actor)
                },
                "updatedAt": field(nonNull(date)) { (s: S.Space, _, _) in s.updatedAt },
                "createdAt": field(nonNull(date)) { (s: S.Space, _, _) in s.createdAt },
            ])
        func actors(_ type: String) -> @Sendable (S.Marker, Map, KitemakerGraphQLContext) -> (any Sendable)? {
            { _, _, c in c.state.actors.filter { $0.type == type } }
        }
        let organization = try GraphQLObjectType(
            name: "Organization",
            fields: [
                "id": field(nonNull(GraphQLID)) { (_: S.Marker, _, c) in c.state.organizationID },
                "name": field(nonNull(GraphQLString)) { (_: S.Marker, _, c) in c.state.organizationName },
                "slug": field(nonNull(GraphQLString)) { (_: S.Marker, _, c) in S.slug(c.state.organizationName) },
                "spaces": field(list(space)) { (_: S.Marker, _, c) in c.state.spaces },
                "users": field(list(user), actors("user")),
                "integrations": field(list(integration), actors("integration")),
                "integrationUsers": field(list(integrationUser), actors("integrationUser")),
                "applications": field(list(application), actors("application")),
                "updatedAt": field(nonNull(date)) { (_: S.Marker, _, c) in c.state.organizationUpdatedAt },
                "createdAt": field(nonNull(date)) { (_: S.Marker, _, c) in c.state.organizationCreatedAt },
            ])

        // Work items, comments, initiatives and roadmaps refer to each other: fields are built lazily.
        nonisolated(unsafe) var workItemRef: GraphQLObjectType!
        nonisolated(unsafe) var initiativeRef: GraphQLObjectType!
        nonisolated(unsafe) var entityRef: GraphQLUnionType!
        nonisolated(unsafe) var roadmapRef: GraphQLObjectType!
        nonisolated(unsafe) var columnRef: GraphQLObjectType!
        let comment = try GraphQLObjectType(
            name: "Comment",
            fields: {
                [
                    "id": field(nonNull(GraphQLID)) { (m: S.Comment, _, _) in m.id },
                    "actor": field(nonNull(actorUnion)) { (m: S.Comment, _, c) in c.state.actor(m.actorID) },
                    "body": field(nonNull(GraphQLString)) { (m: S.Comment, _, _) in m.body },
                    "threadId": field(nonNull(GraphQLString)) { (m: S.Comment, _, _) in m.threadID },
                    "entity": field(nonNull(entityRef)) { (m: S.Comment, _, c) in c.state.entity(m.workItemID) },
                    "updatedAt": field(nonNull(date)) { (m: S.Comment, _, _) in m.updatedAt },
                    "createdAt": field(nonNull(date)) { (m: S.Comment, _, _) in m.createdAt },
                ]
            })
        let activity = try GraphQLObjectType(
            name: "Activity",
            fields: {
                [
                    "id": field(nonNull(GraphQLID)) { (a: S.Activity, _, _) in a.id },
                    "type": field(nonNull(activityType)) { (a: S.Activity, _, _) in a.type },
                    "actor": field(nonNull(actorUnion)) { (a: S.Activity, _, c) in c.state.actor(a.actorID) },
                    "details": field(nonNull(jsonScalar)) { (a: S.Activity, _, _) in a.details },
                    "entity": field(nonNull(entityRef)) { (a: S.Activity, _, c) in c.state.entity(a.entityID) },
                    "updatedAt": field(nonNull(date)) { (a: S.Activity, _, _) in a.createdAt },
                    "createdAt": field(nonNull(date)) { (a: S.Activity, _, _) in a.createdAt },
                ]
            })
        let workItem = try GraphQLObjectType(
            name: "WorkItem",
            fields: {
                [
                    "id": field(nonNull(GraphQLID)) { (w: S.WorkItem, _, _) in w.id },
                    "number": field(nonNull(GraphQLString)) { (w: S.WorkItem, _, _) in String(w.number) },
                    "title": field(nonNull(GraphQLString)) { (w: S.WorkItem, _, _) in w.title },
                    "actor": field(nonNull(actorUnion)) { (w: S.WorkItem, _, c) in c.state.actor(w.actorID) },
                    "description": field(nonNull(GraphQLString)) { (w: S.WorkItem, _, _) in w.description },
                    "status": field(nonNull(status)) { (w: S.WorkItem, _, c) in c.state.status(w.statusID)?.status },
                    "sort": field(nonNull(GraphQLString)) { (w: S.WorkItem, _, _) in S.sortString(w.sort) },
                    "space": field(nonNull(space)) { (w: S.WorkItem, _, c) in
                        let state = c.state
                        return state.spaceIndex(w.spaceID).map { state.spaces[$0] }
                    },
                    "members": field(list(user)) { (w: S.WorkItem, _, c) in
                        let state = c.state
                        return w.memberIDs.compactMap(state.actor)
                    },
                    "watchers": field(list(user)) { (w: S.WorkItem, _, c) in
                        let state = c.state
                        return w.watcherIDs.compactMap(state.actor)
                    },
                    "labels": field(list(label)) { (w: S.WorkItem, _, c) in
                        let state = c.state
                        return w.labelIDs.compactMap(state.label)
                    },
                    "comments": field(list(comment)) { (w: S.WorkItem, _, c) in c.state.comments(of: w.id) },
                    "activities": field(list(activity)) { (w: S.WorkItem, _, c) in
                        c.state.activities(of: w.id, actor: w.actorID, createdAt: w.createdAt)
                    },
                    "initiatives": field(list(initiativeRef)) { (w: S.WorkItem, _, c) in
                        c.state.initiatives.filter { $0.workItemIDs.contains(w.id) }
                    },
                    "effort": field(GraphQLString) { (w: S.WorkItem, _, _) in w.effort },
                    "impact": field(GraphQLString) { (w: S.WorkItem, _, _) in w.impact },
                    "closedAt": field(date) { (w: S.WorkItem, _, _) in w.closedAt },
                    "archivedAt": field(date) { (w: S.WorkItem, _, _) in w.archivedAt },
                    "updatedAt": field(nonNull(date)) { (w: S.WorkItem, _, _) in w.updatedAt },
                    "createdAt": field(nonNull(date)) { (w: S.WorkItem, _, _) in w.createdAt },
                ]
            },
            isTypeOf: { source, _ in source is S.WorkItem })
        let initiative = try GraphQLObjectType(
            name: "Initiative",
            fields: {
                [
                    "id": field(nonNull(GraphQLID)) { (i: S.Initiative, _, _) in i.id },
                    "number": field(nonNull(GraphQLString)) { (i: S.Initiative, _, _) in String(i.number) },
                    "title": field(nonNull(GraphQLString)) { (i: S.Initiative, _, _) in i.title },
                    "color": field(nonNull(GraphQLString)) { (i: S.Initiative, _, _) in i.color ?? "" },
                    "actor": field(nonNull(actorUnion)) { (i: S.Initiative, _, c) in c.state.actor(i.actorID) },
                    "description": field(nonNull(GraphQLString)) { (i: S.Initiative, _, _) in i.description },
                    "workItems": field(list(workItemRef)) { (i: S.Initiative, _, c) in
                        let state = c.state
                        return i.workItemIDs.compactMap { state.workItemIndex($0).map { state.workItems[$0] } }
                    },
                    "comments": field(list(comment)) { (i: S.Initiative, _, c) in
                        c.state.initiativeComments.filter { $0.workItemID == i.id }
                    },
                    "activities": field(list(activity)) { (i: S.Initiative, _, c) in
                        c.state.activities(of: i.id, actor: i.actorID, createdAt: i.createdAt)
                    },
                    "watchers": field(list(user)) { (i: S.Initiative, _, c) in
                        let state = c.state
                        return i.watcherIDs.compactMap(state.actor)
                    },
                    "members": field(list(user)) { (i: S.Initiative, _, c) in
                        let state = c.state
                        return i.memberIDs.compactMap(state.actor)
                    },
                    "labels": field(list(label)) { (i: S.Initiative, _, c) in
                        let state = c.state
                        return i.labelIDs.compactMap(state.label)
                    },
                    "spaces": field(list(space)) { (i: S.Initiative, _, c) in
                        let state = c.state
                        return i.spaceIDs.compactMap { state.spaceIndex($0).map { state.spaces[$0] } }
                    },
                    "roadmapColumns": field(list(columnRef)) { (i: S.Initiative, _, c) in
                        let state = c.state
                        return i.roadmapColumnIDs.compactMap(state.roadmapColumn)
                    },
                    "effort": field(GraphQLString) { (i: S.Initiative, _, _) in i.effort },
                    "impact": field(GraphQLString) { (i: S.Initiative, _, _) in i.impact },
                    "archivedAt": field(date) { (i: S.Initiative, _, _) in i.archivedAt },
                    "updatedAt": field(nonNull(date)) { (i: S.Initiative, _, _) in i.updatedAt },
                    "createdAt": field(nonNull(date)) { (i: S.Initiative, _, _) in i.createdAt },
                ]
            },
            isTypeOf: { source, _ in source is S.Initiative })
        let roadmap = try GraphQLObjectType(
            name: "Roadmap",
            fields: {
                [
                    "id": field(nonNull(GraphQLID)) { (r: S.Roadmap, _, _) in r.id },
                    "name": field(nonNull(GraphQLString)) { (r: S.Roadmap, _, _) in r.name },
                    "color": field(nonNull(GraphQLString)) { (r: S.Roadmap, _, _) in r.color },
                    "columns": field(list(columnRef)) { (r: S.Roadmap, _, _) in r.columns },
                    "createdAt": field(nonNull(date)) { (r: S.Roadmap, _, _) in r.createdAt },
                    "updatedAt": field(nonNull(date)) { (r: S.Roadmap, _, _) in r.updatedAt },
                ]
            })
        let roadmapColumn = try GraphQLObjectType(
            name: "RoadmapColumn",
            fields: {
                [
                    "id": field(nonNull(GraphQLID)) { (r: S.RoadmapColumn, _, _) in r.id },
                    "name": field(nonNull(GraphQLString)) { (r: S.RoadmapColumn, _, _) in r.name },
                    "roadmap": field(nonNull(roadmapRef)) { (r: S.RoadmapColumn, _, c) in
                        c.state.roadmaps.first { $0.id == r.roadmapID }
                    },
                    "columnType": field(nonNull(columnType)) { (r: S.RoadmapColumn, _, _) in r.columnType },
                    "initiatives": field(list(initiativeRef)) { (r: S.RoadmapColumn, _, c) in
                        c.state.initiatives.filter { $0.roadmapColumnIDs.contains(r.id) }
                    },
                    "createdAt": field(nonNull(date)) { (r: S.RoadmapColumn, _, _) in r.createdAt },
                    "updatedAt": field(nonNull(date)) { (r: S.RoadmapColumn, _, _) in r.updatedAt },
                ]
            })
        workItemRef = workItem
        initiativeRef = initiative
        roadmapRef = roadmap
        columnRef = roadmapColumn
        entityRef = try GraphQLUnionType(name: "Entity", types: [workItem, initiative])

        let company = try GraphQLObjectType(
            name: "Company",
            fields: [
                "id": field(nonNull(GraphQLID)) { (p: S.Company, _, _) in p.id },
                "name": field(nonNull(GraphQLString)) { (p: S.Company, _, _) in p.name },
                "domain": field(GraphQLString) { (p: S.Company, _, _) in p.domain },
                "updatedAt": field(nonNull(date)) { (p: S.Company, _, _) in p.updatedAt },
                "createdAt": field(nonNull(date)) { (p: S.Company, _, _) in p.createdAt },
            ])
        let person = try GraphQLObjectType(
            name: "Person",
            fields: [
                "id": field(nonNull(GraphQLID)) { (p: S.Person, _, _) in p.id },
                "name": field(nonNull(GraphQLString)) { (p: S.Person, _, _) in p.name },
                "email": field(GraphQLString) { (p: S.Person, _, _) in p.email.isEmpty ? nil : p.email },
                "company": field(company) { (p: S.Person, _, c) in c.state.companies.first { $0.id == p.companyID } },
                "externalId": field(GraphQLString) { (p: S.Person, _, _) in p.externalID },
                "updatedAt": field(nonNull(date)) { (p: S.Person, _, _) in p.updatedAt },
                "createdAt": field(nonNull(date)) { (p: S.Person, _, _) in p.createdAt },
            ])
        let insight = try GraphQLObjectType(
            name: "Insight",
            fields: [
                "id": field(nonNull(GraphQLID)) { (i: S.Insight, _, _) in i.id },
                "actor": field(nonNull(actorUnion)) { (i: S.Insight, _, c) in c.state.actor(i.actorID) },
                "content": field(nonNull(GraphQLString)) { (i: S.Insight, _, _) in i.contents },
                "entities": field(list(entityRef)) { (i: S.Insight, _, c) in
                    let state = c.state
                    return i.entityIDs.compactMap(state.entity)
                },
                "updatedAt": field(nonNull(date)) { (i: S.Insight, _, _) in i.updatedAt },
                "createdAt": field(nonNull(date)) { (i: S.Insight, _, _) in i.createdAt },
            ])
        let feedback = try GraphQLObjectType(
            name: "Feedback",
            fields: [
                "id": field(nonNull(GraphQLID)) { (f: S.Feedback, _, _) in f.id },
                "number": field(nonNull(GraphQLString)) { (f: S.Feedback, _, _) in String(f.number) },
                "actor": field(nonNull(actorUnion)) { (f: S.Feedback, _, c) in c.state.actor(f.actorID) },
                "title": field(nonNull(GraphQLString)) { (f: S.Feedback, _, _) in f.title },
                "content": field(nonNull(GraphQLString)) { (f: S.Feedback, _, _) in f.contents },
                "company": field(company) { (f: S.Feedback, _, c) in c.state.companies.first { $0.id == f.companyID } },
                "person": field(person) { (f: S.Feedback, _, c) in c.state.persons.first { $0.id == f.personID } },
                "owners": field(list(user)) { (f: S.Feedback, _, c) in
                    let state = c.state
                    return f.ownerIDs.compactMap(state.actor)
                },
                "tags": field(list(label)) { (f: S.Feedback, _, c) in
                    let state = c.state
                    return f.tagIDs.compactMap(state.label)
                },
                "insights": field(list(insight)) { (f: S.Feedback, _, _) in f.insights },
                "processed": field(nonNull(GraphQLBoolean)) { (f: S.Feedback, _, _) in f.processed },
                "processedAt": field(date) { (f: S.Feedback, _, _) in f.processedAt },
                "updatedAt": field(nonNull(date)) { (f: S.Feedback, _, _) in f.updatedAt },
                "createdAt": field(nonNull(date)) { (f: S.Feedback, _, _) in f.createdAt },
            ])

        func pageType<T: Sendable>(_ name: String, _ key: String, _ item: GraphQLObjectType, _: T.Type) throws
            -> GraphQLObjectType
        {
            try GraphQLObjectType(
                name: name,
                fields: [
                    key: field(list(item)) { (p: KitemakerPage<T>, _, _) in p.items },
                    "cursor": field(nonNull(GraphQLString)) { (p: KitemakerPage<T>, _, _) in p.cursor },
                    "hasMore": field(nonNull(GraphQLBoolean)) { (p: KitemakerPage<T>, _, _) in p.hasMore },
                ])
        }
        let workItemsResult = try pageType("WorkItemsQueryResult", "workItems", workItem, S.WorkItem.self)
        let initiativesResult = try pageType("InitiativesQueryResult", "initiatives", initiative, S.Initiative.self)
        let feedbackResult = try pageType("FeedbackQueryResult", "feedback", feedback, S.Feedback.self)
        let roadmapsResult = try GraphQLObjectType(
            name: "RoadmapsQueryResult",
            fields: ["roadmaps": field(list(roadmap)) { (r: [S.Roadmap], _, _) in r }])
        let statusFilter = try GraphQLInputObjectType(
            name: "StatusFilter",
            fields: [
                "type": InputObjectField(type: nonNull(statusFilterType)),
                "filter": InputObjectField(type: list(statusType)),
            ])

        let pageArgs: GraphQLArgumentConfigMap = [
            "cursor": GraphQLArgument(type: GraphQLString), "count": GraphQLArgument(type: GraphQLInt),
        ]
        var workItemsArgs = pageArgs
        workItemsArgs["spaceId"] = GraphQLArgument(type: GraphQLID)
        workItemsArgs["statusFilter"] = GraphQLArgument(type: statusFilter)
        let idArg: GraphQLArgumentConfigMap = ["id": GraphQLArgument(type: nonNull(GraphQLID))]

        let query = try GraphQLObjectType(
            name: "Query",
            fields: [
                "organization": field(nonNull(organization)) { (_: S.Marker, _, _) in S.Marker() },
                "spaceByKey": field(nonNull(space), args: ["key": GraphQLArgument(type: nonNull(GraphQLString))]) {
                    (_: S.Marker, args, c) in
                    let key = args["key"].string ?? ""
                    guard let s = c.state.spaces.first(where: { $0.key.lowercased() == key.lowercased() }) else {
                        throw GraphQLError(message: "Could not find the specified space")
                    }
                    return s
                },
                "workItems": field(nonNull(workItemsResult), args: workItemsArgs) { (_: S.Marker, args, c) in
                    guard let id = args["spaceId"].string else { throw GraphQLError(message: "spaceId is required") }
                    let state = c.state
                    guard state.spaceIndex(id) != nil else { throw GraphQLError(message: "The specified space does not exist") }
                    var positions = state.workItemPositions(inSpace: id)
                    let filter = args["statusFilter"]
                    if let kind = filter["type"].string, let types = filter["filter"].array {
                        let wanted = Set(types.compactMap(\.string))
                        positions = positions.filter { n in
                            let type = state.status(state.workItems[n].statusID)?.status.type ?? ""
                            return wanted.contains(type) == (kind == "INCLUDE")
                        }
                    }
                    return try page(
                        positions, number: { state.workItems[$0].number }, args: args, item: { state.workItems[$0] })
                },
                "workItem": field(nonNull(workItem), args: idArg) { (_: S.Marker, args, c) in
                    let state = c.state
                    guard let i = state.workItemIndex(args["id"].string ?? "") else {
                        throw GraphQLError(message: "Could not find the specified work item")
                    }
                    return state.workItems[i]
                },
                "workItemByNumber": field(
                    nonNull(workItem), args: ["number": GraphQLArgument(type: nonNull(GraphQLString))]
                ) { (_: S.Marker, args, c) in
                    let state = c.state
                    let parts = (args["number"].string ?? "").split(separator: "-")
                    guard parts.count == 2, let n = Int(parts[1]),
                        let space = state.spaces.first(where: { $0.key.lowercased() == parts[0].lowercased() }),
                        let item = state.workItems.first(where: { $0.spaceID == space.id && $0.number == n })
                    else {
                        throw GraphQLError(message: "Could not find the specified work item")
                    }
                    return item
                },
                "initiatives": field(nonNull(initiativesResult), args: pageArgs) { (_: S.Marker, args, c) in
                    try page(c.state.initiatives.sorted { $0.number < $1.number }, number: \.number, args: args)
                },
                "initiative": field(nonNull(initiative), args: idArg) { (_: S.Marker, args, c) in
                    let state = c.state
                    guard let i = state.initiativeIndex(args["id"].string ?? "") else {
                        throw GraphQLError(message: "Could not find the specified initiative")
                    }
                    return state.initiatives[i]
                },
                "initiativeByNumber": field(
                    nonNull(initiative), args: ["number": GraphQLArgument(type: GraphQLString)]
                ) { (_: S.Marker, args, c) in
                    let raw = (args["number"].string ?? "").split(separator: "-").last.map(String.init) ?? ""
                    guard let n = Int(raw), let i = c.state.initiatives.first(where: { $0.number == n }) else {
                        throw GraphQLError(message: "Could not find the specified initiative")
                    }
                    return i
                },
                "roadmaps": field(nonNull(roadmapsResult)) { (_: S.Marker, _, c) in c.state.roadmaps },
                "feedback": field(nonNull(feedbackResult), args: pageArgs) { (_: S.Marker, args, c) in
                    try page(c.state.feedback.sorted { $0.number < $1.number }, number: \.number, args: args)
                },
                "feedbackById": field(nonNull(feedback), args: idArg) { (_: S.Marker, args, c) in
                    guard let f = c.state.feedback.first(where: { $0.id == args["id"].string }) else {
                        throw GraphQLError(message: "Could not find the specified feedback")
                    }
                    return f
                },
                "feedbackByNumber": field(
                    nonNull(feedback), args: ["number": GraphQLArgument(type: GraphQLString)]
                ) { (_: S.Marker, args, c) in
                    let raw = (args["number"].string ?? "").split(separator: "-").last.map(String.init) ?? ""
                    guard let n = Int(raw), let f = c.state.feedback.first(where: { $0.number == n }) else {
                        throw GraphQLError(message: "Could not find the specified feedback")
                    }
                    return f
                },
                "feedbackPersons": field(list(person)) { (_: S.Marker, _, c) in c.state.persons },
                "feedbackCompanies": field(list(company)) { (_: S.Marker, _, c) in c.state.companies },
                "comment": field(nonNull(comment), args: idArg) { (_: S.Marker, args, c) in
                    let state = c.state
                    guard
                        let m = (state.comments + state.initiativeComments).first(where: { $0.id == args["id"].string })
                    else {
                        throw GraphQLError(message: "Could not find the specified comment")
                    }
                    return m
                },
            ])

        let commentInput = try GraphQLInputObjectType(
            name: "CreateCommentOnWorkItemInput",
            fields: [
                "id": InputObjectField(type: nonNull(GraphQLID)),
                "body": InputObjectField(type: nonNull(GraphQLString)),
                "threadId": InputObjectField(type: GraphQLString),
            ])
        let commentResult = try GraphQLObjectType(
            name: "CreateCommentOnWorkItemResult",
            fields: ["comment": field(nonNull(comment)) { (m: S.Comment, _, _) in m }])
        let createComment: GraphQLFieldResolve = { _, args, context, _ in
            let c = ctx(context)
            let input = args["input"]
            let (created, state) = try await c.store.createComment(
                workItemID: input["id"].string ?? "", body: input["body"].string ?? "",
                threadID: input["threadId"].string, actor: c.actorID)
            c.state = state
            return created
        }
        let createWorkItemInput = try GraphQLInputObjectType(
            name: "CreateWorkItemInput",
            fields: [
                "title": InputObjectField(type: nonNull(GraphQLString)),
                "description": InputObjectField(type: GraphQLString),
                "spaceId": InputObjectField(type: GraphQLID),
                "statusId": InputObjectField(type: GraphQLID),
                "sort": InputObjectField(type: GraphQLString),
                "memberIds": InputObjectField(type: GraphQLList(nonNull(GraphQLID))),
                "watcherIds": InputObjectField(type: GraphQLList(nonNull(GraphQLID))),
                "labelIds": InputObjectField(type: GraphQLList(nonNull(GraphQLID))),
                "effort": InputObjectField(type: GraphQLString),
                "impact": InputObjectField(type: GraphQLString),
                "updatedAt": InputObjectField(type: date),
                "createdAt": InputObjectField(type: date),
            ])
        let createWorkItemResult = try GraphQLObjectType(
            name: "CreateWorkItemResult",
            fields: ["workItem": field(nonNull(workItem)) { (w: S.WorkItem, _, _) in w }])
        let stringIDs = GraphQLList(nonNull(GraphQLString))
        let editInitiativeInput = try GraphQLInputObjectType(
            name: "EditInitiativeInput",
            fields: [
                "id": InputObjectField(type: nonNull(GraphQLID)),
                "title": InputObjectField(type: GraphQLString),
                "description": InputObjectField(type: GraphQLString),
                "color": InputObjectField(type: GraphQLString),
                "effortId": InputObjectField(type: GraphQLString),
                "impactId": InputObjectField(type: GraphQLString),
                "addMemberIds": InputObjectField(type: stringIDs),
                "removeMemberIds": InputObjectField(type: stringIDs),
                "addLabelIds": InputObjectField(type: stringIDs),
                "removeLabelIds": InputObjectField(type: stringIDs),
                "addWorkItemIds": InputObjectField(type: stringIDs),
                "removeWorkItemIds": InputObjectField(type: stringIDs),
            ])
        let editInitiativeResult = try GraphQLObjectType(
            name: "EditInitiativeResult",
            fields: ["initiative": field(nonNull(initiative)) { (i: S.Initiative, _, _) in i }])
        let createWorkItem: GraphQLFieldResolve = { _, args, context, _ in
            let c = ctx(context)
            let input = args["input"]
            let actor = c.actorID
            let (created, state) = try await c.store.mutate { (s: inout S) throws(SandboxHTTPError) in
                try s.createWorkItem(input, actor: actor)
            }
            c.state = state
            return created
        }
        let editInitiative: GraphQLFieldResolve = { _, args, context, _ in
            let c = ctx(context)
            let input = args["input"]
            let (edited, state) = try await c.store.mutate { (s: inout S) throws(SandboxHTTPError) in
                try s.editInitiative(input)
            }
            c.state = state
            return edited
        }
        let ids = GraphQLList(nonNull(GraphQLID))
        let createFeedbackInput = try GraphQLInputObjectType(
            name: "CreateFeedbackInput",
            fields: [
                "title": InputObjectField(type: nonNull(GraphQLString)),
                "content": InputObjectField(type: GraphQLString),
                "processed": InputObjectField(type: GraphQLBoolean),
                "companyId": InputObjectField(type: GraphQLID),
                "personId": InputObjectField(type: GraphQLID),
                "ownerIds": InputObjectField(type: ids),
                "tagIds": InputObjectField(type: ids),
                "linkInsightToEntityIds": InputObjectField(type: ids),
                "updatedAt": InputObjectField(type: date),
                "createdAt": InputObjectField(type: date),
            ])
        let createPersonInput = try GraphQLInputObjectType(
            name: "CreatePersonInput",
            fields: [
                "name": InputObjectField(type: nonNull(GraphQLString)),
                "email": InputObjectField(type: GraphQLString),
                "companyId": InputObjectField(type: GraphQLID),
            ])
        let createCompanyInput = try GraphQLInputObjectType(
            name: "CreateCompanyInput",
            fields: [
                "name": InputObjectField(type: nonNull(GraphQLString)),
                "avatar": InputObjectField(type: GraphQLString),
                "domain": InputObjectField(type: GraphQLString),
            ])
        let createFeedbackResult = try GraphQLObjectType(
            name: "CreateFeedbackResult", fields: ["feedback": field(nonNull(feedback)) { (f: S.Feedback, _, _) in f }])
        let createPersonResult = try GraphQLObjectType(
            name: "CreatePersonResult", fields: ["person": field(nonNull(person)) { (p: S.Person, _, _) in p }])
        let createCompanyResult = try GraphQLObjectType(
            name: "CreateCompanyResult", fields: ["company": field(nonNull(company)) { (c: S.Company, _, _) in c }])
        func mutating<T: Sendable>(
            _ body: @escaping @Sendable (inout S, Map, String) throws(SandboxHTTPError) -> T
        ) -> GraphQLFieldResolve {
            { _, args, context, _ in
                let c = ctx(context)
                let input = args["input"]
                let actor = c.actorID
                let (result, state) = try await c.store.mutate { (s: inout S) throws(SandboxHTTPError) in
                    try body(&s, input, actor)
                }
                c.state = state
                return result
            }
        }
        let createInitiativeInput = try GraphQLInputObjectType(
            name: "CreateInitiativeInput",
            fields: [
                "title": InputObjectField(type: nonNull(GraphQLString)),
                "description": InputObjectField(type: GraphQLString),
                "color": InputObjectField(type: GraphQLString),
                "effortId": InputObjectField(type: GraphQLString),
                "impactId": InputObjectField(type: GraphQLString),
                "roadmapColumnIds": InputObjectField(type: stringIDs),
                "memberIds": InputObjectField(type: stringIDs),
                "labelIds": InputObjectField(type: stringIDs),
                "workItemIds": InputObjectField(type: stringIDs),
                "archivedAt": InputObjectField(type: date),
                "updatedAt": InputObjectField(type: date),
                "createdAt": InputObjectField(type: date),
            ])
        let createInitiativeResult = try GraphQLObjectType(
            name: "CreateInitiativeResult",
            fields: ["initiative": field(nonNull(initiative)) { (i: S.Initiative, _, _) in i }])
        // `{columnId, initiativeIds}` in, `{roadmap}` out, for adding to and removing from a roadmap column.
        func roadmapPlacement(input: String, result: String) throws -> (GraphQLInputObjectType, GraphQLObjectType) {
            let fields: InputObjectFieldMap = [
                "columnId": InputObjectField(type: nonNull(GraphQLID)),
                "initiativeIds": InputObjectField(type: list(GraphQLID)),
            ]
            return (
                try GraphQLInputObjectType(name: input, fields: fields),
                try GraphQLObjectType(name: result, fields: ["roadmap": field(nonNull(roadmap)) { (r: S.Roadmap, _, _) in r }])
            )
        }
        let (addToRoadmapInput, addToRoadmapResult) = try roadmapPlacement(
            input: "AddInitiativesToRoadmapInput", result: "AddInitiativesToRoadmapResult")
        let (removeFromRoadmapInput, removeFromRoadmapResult) = try roadmapPlacement(
            input: "RemoveInitiativesFromRoadmapInput", result: "RemoveInitiativesFromRoadmapResult")
        let addEntitiesToInsightInput = try GraphQLInputObjectType(
            name: "AddEntitiesToInsightInput",
            fields: ["id": InputObjectField(type: nonNull(GraphQLID)), "entityIds": InputObjectField(type: nonNull(ids))])
        let addEntitiesToInsightResult = try GraphQLObjectType(
            name: "AddEntitiesToInsightResult", fields: ["insight": field(nonNull(insight)) { (i: S.Insight, _, _) in i }])
        let addTagsToFeedbackInput = try GraphQLInputObjectType(
            name: "AddTagsToFeedbackInput",
            fields: ["id": InputObjectField(type: nonNull(GraphQLID)), "tagIds": InputObjectField(type: nonNull(ids))])
        let addTagsToFeedbackResult = try GraphQLObjectType(
            name: "AddTagsToFeedbackResult", fields: ["feedback": field(nonNull(feedback)) { (f: S.Feedback, _, _) in f }])
        let editFeedbackInput = try GraphQLInputObjectType(
            name: "EditFeedbackInput",
            fields: [
                "id": InputObjectField(type: nonNull(GraphQLID)), "title": InputObjectField(type: GraphQLString),
                "content": InputObjectField(type: GraphQLString), "processed": InputObjectField(type: GraphQLBoolean),
                "companyId": InputObjectField(type: GraphQLID), "personId": InputObjectField(type: GraphQLID),
            ])
        let editFeedbackResult = try GraphQLObjectType(
            name: "EditFeedbackResult", fields: ["feedback": field(nonNull(feedback)) { (f: S.Feedback, _, _) in f }])
        func inputArg(_ type: GraphQLInputObjectType) -> GraphQLArgumentConfigMap {
            ["input": GraphQLArgument(type: nonNull(type))]
        }
        let mutation = try GraphQLObjectType(
            name: "Mutation",
            fields: [
                "createFeedback": GraphQLField(
                    type: nonNull(createFeedbackResult), args: inputArg(createFeedbackInput),
                    resolve: mutating { (s, input, actor) throws(SandboxHTTPError) in try s.createFeedback(input, actor: actor) }),
                "createPerson": GraphQLField(
                    type: nonNull(createPersonResult), args: inputArg(createPersonInput),
                    resolve: mutating { (s, input, _) throws(SandboxHTTPError) in try s.createPerson(input) }),
                "createCompany": GraphQLField(
                    type: nonNull(createCompanyResult), args: inputArg(createCompanyInput),
                    resolve: mutating { (s, input, _) throws(SandboxHTTPError) in try s.createCompany(input) }),
                "createWorkItem": GraphQLField(
                    type: nonNull(createWorkItemResult),
                    args: ["input": GraphQLArgument(type: nonNull(createWorkItemInput))], resolve: createWorkItem),
                "createInitiative": GraphQLField(
                    type: nonNull(createInitiativeResult), args: inputArg(createInitiativeInput),
                    resolve: mutating { (s, input, actor) throws(SandboxHTTPError) in try s.createInitiative(input, actor: actor) }),
                "addInitiativesToRoadmap": GraphQLField(
                    type: nonNull(addToRoadmapResult), args: inputArg(addToRoadmapInput),
                    resolve: mutating { (s, input, _) throws(SandboxHTTPError) in try s.placeInitiatives(input, adding: true) }),
                "removeInitiativesFromRoadmap": GraphQLField(
                    type: nonNull(removeFromRoadmapResult), args: inputArg(removeFromRoadmapInput),
                    resolve: mutating { (s, input, _) throws(SandboxHTTPError) in try s.placeInitiatives(input, adding: false) }),
                "editInitiative": GraphQLField(
                    type: nonNull(editInitiativeResult),
                    args: ["input": GraphQLArgument(type: nonNull(editInitiativeInput))], resolve: editInitiative),
                "addEntitiesToInsight": GraphQLField(
                    type: nonNull(addEntitiesToInsightResult), args: inputArg(addEntitiesToInsightInput),
                    resolve: mutating { (s, input, _) throws(SandboxHTTPError) in try s.addEntitiesToInsight(input) }),
                "addTagsToFeedback": GraphQLField(
                    type: nonNull(addTagsToFeedbackResult), args: inputArg(addTagsToFeedbackInput),
                    resolve: mutating { (s, input, _) throws(SandboxHTTPError) in try s.addTagsToFeedback(input) }),
                "editFeedback": GraphQLField(
                    type: nonNull(editFeedbackResult), args: inputArg(editFeedbackInput),
                    resolve: mutating { (s, input, _) throws(SandboxHTTPError) in try s.editFeedback(input) }),
                "createCommentOnWorkItem": GraphQLField(
                    type: nonNull(commentResult), args: ["input": GraphQLArgument(type: nonNull(commentInput))],
                    resolve: createComment),
            ])
        return try GraphQLSchema(
            query: query, mutation: mutation,
            types: [user, integration, integrationUser, application, workItem, initiative, activity, roadmapColumn])
    }

    /// A JSON value as GraphQL's `Map` (for the `JSON` scalar), keeping the order of object keys so answers stay
    /// byte-identical from run to run.
    static func map(from value: JSONValue) -> Map {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let n): return Int(n).map(Map.int) ?? Double(n).map(Map.double) ?? .null
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map(map(from:)))
        case .object(let o):
            guard case .dictionary(var entries) = Map.dictionary([:]) else { return .null }
            for (key, v) in o { entries[key] = map(from: v) }
            return .dictionary(entries)
        }
    }

    // MARK: - HTTP

    /// Runs one `POST /developers/graphql` request: 400 for a body or document that is not a valid query,
    /// otherwise 200 with `data` and any `errors`, as GraphQL servers answer.
    static func execute(_ request: SandboxRequest, store: KitemakerStore) async throws(SandboxHTTPError) -> SandboxReply {
        let state = await store.current()
        let actor = try state.graphQLActor(request)
        let body = try request.json()
        guard let query = body["query"]?.stringValue else {
            throw SandboxHTTPError(.badRequest, "the body must be {\"query\": …, \"variables\": {…}}")
        }
        var variables: [String: Map] = [:]
        if let vars = body["variables"], !vars.isNull {
            guard vars.objectValue != nil,
                let decoded = try? JSONDecoder().decode([String: Map].self, from: Data(vars.serialized()))
            else {
                throw SandboxHTTPError(.badRequest, "variables must be a JSON object")
            }
            variables = decoded
        }
        let document: Document
        do {
            document = try parse(source: query)
        } catch {
            return errorReply(.badRequest, ["\(error)"])
        }
        let problems = validate(schema: schema, ast: document)
        if !problems.isEmpty { return errorReply(.badRequest, problems.map(\.message)) }
        let context = KitemakerGraphQLContext(state: state, store: store, actorID: actor)
        let result: GraphQLResult
        do {
            result = try await graphql(
                schema: schema, request: query, rootValue: KitemakerState.Marker(), context: context,
                variableValues: variables, operationName: body["operationName"]?.stringValue)
        } catch {
            return errorReply(.badRequest, ["\(error)"])
        }
        var out = JSONObject()
        out["data"] = result.data.map(json) ?? .null
        if !result.errors.isEmpty {
            out["errors"] = .array(result.errors.map { e in
                var o = JSONObject()
                o["message"] = .string(e.message)
                let path = e.path.elements.map { element -> JSONValue in
                    switch element {
                    case .index(let i): return .int(i)
                    case .key(let k): return .string(k)
                    }
                }
                if !path.isEmpty { o["path"] = .array(path) }
                return .object(o)
            })
        }
        return SandboxReply(.object(out))
    }

    static func errorReply(_ status: HTTPResponse.Status, _ messages: [String]) -> SandboxReply {
        SandboxReply(
            ["errors": .array(messages.map { ["message": .string($0), "status": .int(Int(status.code))] })],
            status: status)
    }

    static func json(_ value: Map) -> JSONValue {
        switch value {
        case .undefined, .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let n):
            switch n.storageType {
            case .bool: return .bool(n.boolValue)
            case .int: return .int(n.intValue)
            default: return .double(n.doubleValue)
            }
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map(json))
        case .dictionary(let d): return .object(JSONObject(d.map { ($0.key, json($0.value)) }))
        }
    }
}

extension KitemakerState {
    /// The root value of GraphQL queries (the state itself comes from the context).
    struct Marker: Sendable {}
}
