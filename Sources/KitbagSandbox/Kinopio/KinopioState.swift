import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// Everything a Kinopio sandbox stores. Entities are kept as `JSONObject`s so unknown keys
/// survive verbatim; spaces remember the order their items were added in.
struct KinopioState: Sendable {
    struct UserRecord: Sendable, Equatable {
        var object: JSONObject
        var apiKey: String
        var favoriteSpaceIds: [String] = []
        var favoriteUserIds: [String] = []
        var favoriteColors: [String] = []
        var hiddenSpaceIds: [String] = []
    }

    /// App API key scopes, narrowest first (apiDocs.md "Authentication"): each includes the ones before it.
    enum Scope: Int, Comparable, Sendable, CaseIterable {
        case user, read, edit, delete
        var name: String { String(describing: self) }
        static func < (a: Scope, b: Scope) -> Bool { a.rawValue < b.rawValue }
    }

    /// An app key: the user it acts for and its scope.
    struct AppKey: Sendable {
        var userId: String
        var scope: Scope
    }

    struct SpaceRecord: Sendable, Equatable {
        var meta: JSONObject
        var collaboratorIds: [String] = []
        var cardIds: [String] = []
        var connectionIds: [String] = []
        var connectionTypeIds: [String] = []
        var boxIds: [String] = []
        var tagIds: [String] = []
        var listIds: [String] = []
        /// Line dividers and drawing strokes (each stroke an array of points): kept as sent.
        var lines: [JSONValue] = []
        var drawingStrokes: [JSONValue] = []

        var id: String { meta["id"]?.stringValue ?? "" }
        var ownerUserId: String { meta["ownerUserId"]?.stringValue ?? "" }
        var privacy: String { meta["privacy"]?.stringValue ?? "private" }
        var isRemoved: Bool { meta["isRemoved"]?.boolValue ?? false }
        var name: String { meta["name"]?.stringValue ?? "" }
        func isMember(_ userId: String) -> Bool { userId == ownerUserId || collaboratorIds.contains(userId) }
    }

    var users: [String: UserRecord] = [:]
    var userOrder: [String] = []
    var userByKey: [String: String] = [:]
    var spaces: [String: SpaceRecord] = [:]
    var spaceOrder: [String] = []
    var cards: [String: JSONObject] = [:]
    var connections: [String: JSONObject] = [:]
    var connectionTypes: [String: JSONObject] = [:]
    var boxes: [String: JSONObject] = [:]
    var tags: [String: JSONObject] = [:]
    var lists: [String: JSONObject] = [:]
    /// Groups by id; `groupUsers` holds each member's `userId` and `role` (`member` or `admin`).
    var groups: [String: JSONObject] = [:]
    var groupOrder: [String] = []
    var notifications: [JSONObject] = []
    /// App API keys (sent in `App-Authorization`); user keys are in `userByKey` (sent in `Authorization`).
    var appKeys: [String: AppKey] = [:]
    /// An older server: the seed page's routes answer and the current document's new ones are 404.
    var legacy = false
    /// Ids for entities created through the API; deterministic per sandbox.
    var ids = SandboxIDGenerator(seed: 0x4B49_4E4F_5049_4F21)
    /// Clock for server-set timestamps.
    var now: @Sendable () -> String = { SandboxTime.now() }

    // MARK: - Auth and permissions

    /// The key from `App-Authorization`, if the request sent one.
    static func appKey(of request: SandboxRequest) -> String? {
        guard let raw = request.headers.first(where: { $0.name.canonicalName == "app-authorization" })?.value
            .trimmingCharacters(in: .whitespaces), !raw.isEmpty
        else {
            return nil
        }
        return raw
    }

    /// The user behind the request's key; 401 when the key is missing, unknown or in the wrong header.
    /// A user key goes in `Authorization` (or `?apiKey=`), an app key in `App-Authorization`
    /// (kinopio-client src/data/apiDocs.md "Authentication", commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7).
    func requireUser(_ request: SandboxRequest) throws(SandboxHTTPError) -> String {
        if let key = Self.appKey(of: request), request.headers[.authorization] == nil {
            if let app = appKeys[key] { return app.userId }
            if userByKey[key] != nil {
                throw SandboxHTTPError(.unauthorized, "this is a user API key; send it in the Authorization header, not App-Authorization")
            }
            throw SandboxHTTPError(.unauthorized, "the app API key is not valid; check it under User → Settings → Account → API")
        }
        guard let key = request.credential, !key.isEmpty else {
            throw SandboxHTTPError(.unauthorized, "this route needs an API key in the Authorization or App-Authorization header")
        }
        if appKeys[key] != nil {
            throw SandboxHTTPError(.unauthorized, "this is an app API key; send it in the App-Authorization header, not Authorization")
        }
        guard let userId = userByKey[key] else {
            throw SandboxHTTPError(.unauthorized, "the apiKey is not valid; check it under User → Settings → Account → API")
        }
        return userId
    }

    /// 403 when an app key's scope is narrower than the route needs; user keys have every scope.
    func requireScope(_ request: SandboxRequest, _ needed: Scope, route: String) throws(SandboxHTTPError) {
        guard request.headers[.authorization] == nil, let key = Self.appKey(of: request), let app = appKeys[key] else { return }
        if app.scope < needed {
            throw SandboxHTTPError(
                .forbidden, "this app API key has scope \(app.scope.name); \(route) needs scope \(needed.name) or wider")
        }
    }

    /// The signed-in user if a key is sent (401 if it is unknown), nil when no key is sent.
    func optionalUser(_ request: SandboxRequest) throws(SandboxHTTPError) -> String? {
        guard (request.credential ?? "").isEmpty == false || Self.appKey(of: request) != nil else { return nil }
        return try requireUser(request)
    }

    func canView(_ space: SpaceRecord, _ userId: String?) -> Bool {
        if space.privacy == "open" || space.privacy == "closed" { return true }
        guard let userId else { return false }
        return space.isMember(userId) || isGroupMember(space, userId)
    }

    /// Members of a space's group can open and edit it.
    func isGroupMember(_ space: SpaceRecord, _ userId: String) -> Bool {
        guard let groupId = space.meta["groupId"]?.stringValue, let group = groups[groupId] else { return false }
        return (group["groupUsers"]?.arrayValue ?? []).contains { $0["userId"]?.stringValue == userId }
    }

    /// Owner, collaborators, and for `privacy: "open"` spaces anyone signed in.
    func canEdit(_ space: SpaceRecord, _ userId: String?) -> Bool {
        guard let userId else { return false }
        return space.isMember(userId) || isGroupMember(space, userId) || space.privacy == "open"
    }

    func space(_ id: String) throws(SandboxHTTPError) -> SpaceRecord {
        guard let space = spaces[id] else { throw SandboxHTTPError(.notFound, "space \(id) not found") }
        return space
    }

    @discardableResult
    func requireView(_ spaceId: String, _ userId: String?) throws(SandboxHTTPError) -> SpaceRecord {
        let space = try space(spaceId)
        guard canView(space, userId) else {
            if userId == nil {
                throw SandboxHTTPError(.unauthorized, "space \(spaceId) is private; send the apiKey of a user who can view it")
            }
            throw SandboxHTTPError(.forbidden, "you cannot view space \(spaceId); ask its owner to add you as a collaborator")
        }
        return space
    }

    @discardableResult
    func requireEdit(_ spaceId: String, _ userId: String) throws(SandboxHTTPError) -> SpaceRecord {
        let space = try space(spaceId)
        guard canEdit(space, userId) else {
            throw SandboxHTTPError(.forbidden, "you cannot edit space \(spaceId); only its owner and collaborators can")
        }
        return space
    }

    /// Spaces the user owns or collaborates on, in creation order.
    func memberSpaces(_ userId: String) -> [SpaceRecord] {
        spaceOrder.compactMap { spaces[$0] }.filter { $0.isMember(userId) }
    }

    // MARK: - Rendering

    static let publicUserKeys = ["id", "name", "color", "description", "website", "isDonor", "isAmbassador", "isModerator", "isUpgraded"]

    func publicUser(_ userId: String) -> JSONValue? {
        guard let user = users[userId] else { return nil }
        var out = JSONObject()
        for key in Self.publicUserKeys { if let v = user.object[key] { out[key] = v } }
        return .object(out)
    }

    /// Keys only editors may see.
    static let editorOnlySpaceKeys: Set<String> = ["collaboratorKey", "readOnlyKey"]

    func spaceMeta(_ space: SpaceRecord, for userId: String?) -> JSONObject {
        var meta = space.meta
        if !canEdit(space, userId) { for key in Self.editorOnlySpaceKeys { meta[key] = nil } }
        return meta
    }

    func cardIsVisible(_ id: String) -> Bool {
        guard let card = cards[id] else { return false }
        return !(card["isRemoved"]?.boolValue ?? false)
    }

    /// A whole space: metadata plus its items. The current server also returns removed cards inside `cards`
    /// with `isRemoved: true` (the client splits them out: kinopio-client src/utils.js `normalizeRemoteSpace`,
    /// commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7); an older one (legacy mode) leaves them out.
    func renderSpace(_ space: SpaceRecord, for userId: String?, textOnly: Bool = false) -> JSONValue {
        var out = spaceMeta(space, for: userId)
        let visibleCards = space.cardIds.filter { legacy || textOnly ? cardIsVisible($0) : cards[$0] != nil }
        out["cards"] = .array(visibleCards.compactMap { id in
            guard let card = cards[id] else { return nil }
            if textOnly { return .object(JSONObject([("id", .string(id)), ("name", card["name"] ?? "")])) }
            return .object(card)
        })
        if textOnly { return .object(out) }
        out["connections"] = .array(space.connectionIds.compactMap { connections[$0].map(JSONValue.object) })
        out["connectionTypes"] = .array(space.connectionTypeIds.compactMap { connectionTypes[$0].map(JSONValue.object) })
        out["boxes"] = .array(space.boxIds.compactMap { boxes[$0].map(JSONValue.object) })
        if !legacy || !space.listIds.isEmpty {
            out["lists"] = .array(space.listIds.compactMap { lists[$0].map(JSONValue.object) })
        }
        if !legacy || !space.lines.isEmpty { out["lines"] = .array(space.lines) }
        if !legacy || !space.drawingStrokes.isEmpty { out["drawingStrokes"] = .array(space.drawingStrokes) }
        out["tags"] = .array(space.tagIds.compactMap { id in
            guard let tag = tags[id], let cardId = tag["cardId"]?.stringValue, cardIsVisible(cardId) else { return nil }
            return .object(tag)
        })
        out["users"] = .array([publicUser(space.ownerUserId)].compactMap { $0 })
        out["collaborators"] = .array(space.collaboratorIds.compactMap(publicUser))
        return .object(out)
    }

    /// The whole state for tests: users (no API keys), spaces with every item including removed ones, notifications.
    func snapshot() -> JSONValue {
        let userValues: [JSONValue] = userOrder.compactMap { id in
            guard let user = users[id] else { return nil }
            var out = user.object
            out["favoriteSpaceIds"] = .array(user.favoriteSpaceIds.map(JSONValue.string))
            out["favoriteUserIds"] = .array(user.favoriteUserIds.map(JSONValue.string))
            out["favoriteColors"] = .array(user.favoriteColors.map(JSONValue.string))
            return .object(out)
        }
        let spaceValues: [JSONValue] = spaceOrder.compactMap { id in
            guard let space = spaces[id] else { return nil }
            var out = space.meta
            out["collaboratorIds"] = .array(space.collaboratorIds.map(JSONValue.string))
            out["cards"] = .array(space.cardIds.compactMap { cards[$0].map(JSONValue.object) })
            out["connections"] = .array(space.connectionIds.compactMap { connections[$0].map(JSONValue.object) })
            out["connectionTypes"] = .array(space.connectionTypeIds.compactMap { connectionTypes[$0].map(JSONValue.object) })
            out["boxes"] = .array(space.boxIds.compactMap { boxes[$0].map(JSONValue.object) })
            out["tags"] = .array(space.tagIds.compactMap { tags[$0].map(JSONValue.object) })
            out["lists"] = .array(space.listIds.compactMap { lists[$0].map(JSONValue.object) })
            out["lines"] = .array(space.lines)
            out["drawingStrokes"] = .array(space.drawingStrokes)
            return .object(out)
        }
        return .object(JSONObject([
            ("users", .array(userValues)),
            ("spaces", .array(spaceValues)),
            ("notifications", .array(notifications.map(JSONValue.object))),
        ]))
    }

    // MARK: - Identifiers and timestamps

    enum EntityKind { case space, card, connection, connectionType, box, tag, list }

    func isTaken(_ id: String, _ kind: EntityKind) -> Bool {
        switch kind {
        case .space: spaces[id] != nil
        case .card: cards[id] != nil
        case .connection: connections[id] != nil
        case .connectionType: connectionTypes[id] != nil
        case .box: boxes[id] != nil
        case .tag: tags[id] != nil
        case .list: lists[id] != nil
        }
    }

    /// A client-supplied id is kept when it is a fresh, reasonable string (Kinopio's client makes
    /// its own nanoid ids); otherwise, or when it is taken, the sandbox makes a new one.
    mutating func claimID(_ requested: JSONValue?, kind: EntityKind) -> String {
        if let id = requested?.stringValue, !id.isEmpty, id.utf8.count <= 64, !isTaken(id, kind) { return id }
        var id = ids.next()
        while isTaken(id, kind) { id = ids.next() }
        return id
    }

    /// Marks a space changed; `edited` also moves `editedAt` (card contents changed).
    mutating func touchSpace(_ spaceId: String, by userId: String, edited: Bool, at time: String) {
        guard var space = spaces[spaceId] else { return }
        space.meta["updatedAt"] = .string(time)
        if edited {
            space.meta["editedAt"] = .string(time)
            space.meta["editedByUserId"] = .string(userId)
        }
        spaces[spaceId] = space
    }
}

// MARK: - Request body helpers

extension JSONValue {
    /// The body as a list of objects: one object or an array of objects (400 otherwise).
    func objectList(what: String) throws(SandboxHTTPError) -> (items: [JSONObject], wasArray: Bool) {
        switch self {
        case .object(let o): return ([o], false)
        case .array(let values):
            var items: [JSONObject] = []
            for value in values {
                guard let o = value.objectValue else {
                    throw SandboxHTTPError(.badRequest, "every element of the \(what) array must be a JSON object")
                }
                items.append(o)
            }
            return (items, true)
        default:
            throw SandboxHTTPError(.badRequest, "the body must be a \(what) object or an array of them")
        }
    }
}

extension JSONObject {
    func requiredString(_ key: String, what: String) throws(SandboxHTTPError) -> String {
        guard let value = self[key]?.idString, !value.isEmpty else {
            throw SandboxHTTPError(.badRequest, "the \(what) must contain \(key)")
        }
        return value
    }
}

/// Replies with one object or an array, matching how the request was shaped.
func listReply(_ items: [JSONObject], wasArray: Bool) -> SandboxReply {
    if wasArray || items.count != 1 { return SandboxReply(.array(items.map(JSONValue.object))) }
    return SandboxReply(.object(items[0]))
}
