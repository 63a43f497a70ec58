import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// Everything a Kona sandbox stores. Entities keep the documented fields as `JSONObject`s; ids are integers
/// from one counter per kind; lists are in id order (creation order) unless `order_by` says otherwise.
struct KonaState: Sendable {
    /// The resources that hold items, in their wire names.
    enum Resource: String, Sendable, CaseIterable {
        case conversations, tasks
        case calendarEvents = "calendar_events"
        case comments

        /// The `resource_type` a comment uses for it.
        var commentType: String? {
            switch self {
            case .conversations: "conversation"
            case .tasks: "task"
            case .calendarEvents: "calendar_event"
            case .comments: nil
            }
        }
    }

    struct SpaceRecord: Sendable, Equatable {
        var object: JSONObject
        /// `{user_id, role (owner 1, participant 2), status (pending 0, accept 1, reject 2), updated_at}`.
        var participants: [JSONObject] = []
        var hiddenFor: Set<Int> = []
        var createdAt: Int64

        var id: Int { object["id"]?.intValue ?? 0 }
        func isParticipant(_ user: Int) -> Bool { participants.contains { $0["user_id"]?.intValue == user } }
        func isOwner(_ user: Int) -> Bool {
            participants.contains { $0["user_id"]?.intValue == user && $0["role"]?.intValue == 1 }
        }
    }

    struct AccessToken: Sendable {
        var userID: Int
        /// Seconds since 1970 after which the token is refused.
        var expiresAt: Double
    }

    var account = JSONObject()
    var users: [Int: JSONObject] = [:]
    var accessTokens: [String: AccessToken] = [:]
    var refreshTokens: [String: Int] = [:]
    var clientID = KonaSandbox.defaultClientID
    var clientSecret = KonaSandbox.defaultClientSecret
    var tokenLifetime: Double = KonaSandbox.defaultTokenLifetime
    /// Answers where the documentation is silent (see `KonaServerBehaviour`).
    var behaviour = KonaServerBehaviour()
    /// For each `POST /oauth/token`, where its parameters were: `query`, `form`, `json` (joined by `+`).
    var tokenRequests: [String] = []
    var spaces: [Int: SpaceRecord] = [:]
    var items: [Resource: [Int: JSONObject]] = [:] {
        // Any change retags the items, so the lookup index below is rebuilt on the next list (a tag is never reused,
        // so a copy of the state that was changed and dropped cannot leave a stale index behind).
        didSet { itemsTag = TaggedIndexCache<KonaItemIndex>.nextTag() }
    }
    var itemsTag: UInt64 = 0
    /// Items by space and comments by their resource, built once per version of `items`: without it every list
    /// and comment-list request scanned the whole account, and an export (one comment list per item) was quadratic.
    let itemIndex = TaggedIndexCache<KonaItemIndex>()
    /// Attachments exist (comments can name them) but the API documents no route to list or read them.
    var attachments: [Int: JSONObject] = [:]
    var nextID: [String: Int] = [:]
    /// Where the sandbox listens, set once the port is known.
    var baseURL = "http://127.0.0.1"
    /// Issued access tokens come from here; deterministic per sandbox.
    var tokenIDs = SandboxIDGenerator(seed: 0x4B4F_4E41_544F_4B4E)
    /// Milliseconds since 1970 for server-set timestamps.
    var now: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
    /// Seconds since 1970 for token expiry.
    var clock: @Sendable () -> Double = { Date().timeIntervalSince1970 }

    static let maxPerPage = 100
    static let defaultPerPage = 25
    static let maxObjectsPerCreate = 100

    mutating func newID(_ kind: String, start: Int) -> Int {
        let id = nextID[kind] ?? start
        nextID[kind] = id + 1
        return id
    }

    // MARK: - Auth

    /// The user behind the request's bearer token; 401 when it is missing, unknown or expired.
    func requireUser(_ request: SandboxRequest) throws(SandboxHTTPError) -> Int {
        guard let token = request.credential, !token.isEmpty else {
            throw SandboxHTTPError(.unauthorized, "no access token: send Authorization: Bearer ACCESS_TOKEN")
        }
        guard let entry = accessTokens[token] else {
            throw SandboxHTTPError(.unauthorized, "the access token is not valid; get a new one at /oauth/token")
        }
        guard clock() < entry.expiresAt else {
            throw SandboxHTTPError(
                .unauthorized, "the access token has expired; refresh it with grant_type=refresh_token at /oauth/token")
        }
        return entry.userID
    }

    func space(_ id: Int) throws(SandboxHTTPError) -> SpaceRecord {
        guard let space = spaces[id] else { throw SandboxHTTPError(.notFound, "space \(id) does not exist") }
        return space
    }

    /// A space the user participates in; 403 for one they may not see.
    @discardableResult
    func visibleSpace(_ id: Int, _ user: Int) throws(SandboxHTTPError) -> SpaceRecord {
        let space = try space(id)
        guard space.isParticipant(user) else {
            throw SandboxHTTPError(.forbidden, "you are not a participant of space \(id); ask its owner to invite you")
        }
        return space
    }

    /// Conversations are visible to their creator and participants, or to the whole space when the stakeholder
    /// is everyone (2); tasks and events to the space unless their visibility is participants only (1).
    func canSee(_ item: JSONObject, _ resource: Resource, _ user: Int) -> Bool {
        guard let spaceID = item["space_id"]?.intValue, let space = spaces[spaceID], space.isParticipant(user) else {
            return false
        }
        let creator = item["creator_id"]?.intValue == user
        let listed = (item["participants"]?.arrayValue ?? []).contains { $0["user_id"]?.intValue == user }
        switch resource {
        case .conversations: return creator || listed || item["stakeholder"]?.intValue == 2
        case .tasks, .calendarEvents: return item["visibility"]?.intValue != 1 || creator || listed
        case .comments: return true
        }
    }

    /// The item a comment hangs on, if the user may see it (404 when it does not exist, 403 when hidden).
    func commentTarget(type: String, id: Int, user: Int) throws(SandboxHTTPError) -> Int {
        switch type {
        case "attachment":
            guard let attachment = attachments[id] else { throw SandboxHTTPError(.notFound, "attachment \(id) does not exist") }
            let spaceID = attachment["space_id"]?.intValue ?? 0
            try visibleSpace(spaceID, user)
            return spaceID
        default:
            guard let resource = Resource.allCases.first(where: { $0.commentType == type }) else {
                throw SandboxHTTPError(
                    .badRequest, "resource_type must be task, calendar_event, attachment or conversation, not \(type)")
            }
            guard let item = items[resource]?[id] else { throw SandboxHTTPError(.notFound, "\(type) \(id) does not exist") }
            guard canSee(item, resource, user) else {
                throw SandboxHTTPError(.forbidden, "you may not see \(type) \(id)")
            }
            return item["space_id"]?.intValue ?? 0
        }
    }

    // MARK: - Rendering

    /// The absolute URL of an API path, for `href` and `Location`.
    func href(_ path: String) -> String { "\(baseURL)/api/\(path)" }

    func renderSpace(_ space: SpaceRecord, for user: Int, request: SandboxRequest, participants: Bool) -> JSONValue {
        var out = space.object
        out["href"] = .string(href("spaces/\(space.id)"))
        out["hidden"] = .bool(space.hiddenFor.contains(user))
        if participants { out["participants"] = .array(space.participants.map(JSONValue.object)) }
        return .object(out)
    }

    func renderItem(_ item: JSONObject, _ resource: Resource, request: SandboxRequest, participants: Bool) -> JSONValue {
        var out = item
        out["href"] = .string(href("\(resource.rawValue)/\(item["id"]?.intValue ?? 0)"))
        // Tasks and events list their participants only when asked; conversations always do (schema).
        if resource == .tasks || resource == .calendarEvents, !participants { out["participants"] = nil }
        return .object(out)
    }

    func renderUser(_ id: Int, request: SandboxRequest) -> JSONValue? {
        guard var user = users[id] else { return nil }
        user["href"] = .string(href("users/\(id)"))
        return .object(user)
    }

    /// The whole state for tests: users, spaces with participants and hidden flags, items, attachments; no tokens.
    func snapshot() -> JSONValue {
        func sorted(_ dict: [Int: JSONObject]) -> JSONValue { .array(dict.keys.sorted().map { .object(dict[$0]!) }) }
        var out = JSONObject()
        out["account"] = .object(account)
        out["users"] = sorted(users)
        out["spaces"] = .array(spaces.keys.sorted().map { id in
            let s = spaces[id]!
            var o = s.object
            o["participants"] = .array(s.participants.map(JSONValue.object))
            o["hidden_for"] = .array(s.hiddenFor.sorted().map { .int($0) })
            return .object(o)
        })
        for resource in Resource.allCases { out[resource.rawValue] = sorted(items[resource] ?? [:]) }
        out["attachments"] = sorted(attachments)
        if !tokenRequests.isEmpty { out["grants"] = .array(tokenRequests.map(JSONValue.string)) }
        return .object(out)
    }
}

// MARK: - Paging and dates

/// `per_page` (1…100, default 25) and `page` (from 1) of a list request.
struct KonaPage: Sendable {
    var perPage: Int
    var page: Int

    /// `cap`: a server that quietly lowers a larger `per_page` to it (`KonaServerBehaviour.perPageCap`).
    init(_ request: SandboxRequest, cap: Int? = nil) throws(SandboxHTTPError) {
        perPage = KonaState.defaultPerPage
        page = 1
        if let raw = request.query["per_page"] {
            if let cap, let n = Int(raw), n >= 1 {
                perPage = min(n, cap)
            } else {
                guard let n = Int(raw), (1...KonaState.maxPerPage).contains(n) else {
                    throw SandboxHTTPError(.badRequest, "per_page must be a whole number from 1 to \(KonaState.maxPerPage), not \(raw)")
                }
                perPage = n
            }
        }
        if let raw = request.query["page"] {
            guard let n = Int(raw), n >= 1 else {
                throw SandboxHTTPError(.badRequest, "page must be a whole number from 1, not \(raw)")
            }
            page = n
        }
    }

    func slice<T>(_ all: [T]) -> ArraySlice<T> {
        let start = (page - 1).multipliedReportingOverflow(by: perPage)
        guard !start.overflow, start.partialValue < all.count else { return [] }
        return all[start.partialValue..<min(start.partialValue + perPage, all.count)]
    }
}

enum KonaDate {
    /// Below this a number is read as seconds (13-digit values are milliseconds).
    static let secondsCutoff: Int64 = 100_000_000_000

    /// Unix milliseconds from Unix seconds, Unix milliseconds (numbers or digit strings), or
    /// `YYYY-MM-DD HH:mm:ss.SSS` (also without milliseconds, or a bare date) in GMT; nil if none of these.
    static func millis(_ value: JSONValue) -> Int64? {
        if let d = value.doubleValue, d.isFinite, value.stringValue == nil {
            let n = Int64(d.rounded(.down))
            return abs(n) < secondsCutoff ? n * 1000 : n
        }
        guard let text = value.stringValue?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if text.allSatisfy(\.isNumber), let n = Int64(text) { return n < secondsCutoff ? n * 1000 : n }
        return civil(text)
    }

    private static func civil(_ text: String) -> Int64? {
        let chars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= chars.count else { return nil }
            var n = 0
            for c in chars[from..<from + count] {
                guard c >= 48 && c <= 57 else { return nil }
                n = n * 10 + Int(c - 48)
            }
            return n
        }
        func at(_ i: Int, _ c: Character) -> Bool { i < chars.count && chars[i] == c.asciiValue! }
        guard let y = number(0, 4), at(4, "-"), let mo = number(5, 2), at(7, "-"), let d = number(8, 2),
            (1...12).contains(mo), (1...31).contains(d)
        else { return nil }
        var h = 0, mi = 0, s = 0, ms = 0
        if chars.count > 10 {
            guard at(10, " ") || at(10, "T"), let hh = number(11, 2), at(13, ":"), let mm = number(14, 2), at(16, ":"),
                let ss = number(17, 2), hh < 24, mm < 60, ss < 60
            else { return nil }
            (h, mi, s) = (hh, mm, ss)
            if chars.count > 19 {
                guard at(19, "."), chars.count == 23, let f = number(20, 3) else { return nil }
                ms = f
            }
        } else if chars.count != 10 {
            return nil
        }
        return SandboxTime.millis(year: y, month: mo, day: d, hour: h, minute: mi, second: s) + Int64(ms)
    }
}

/// Lookups the list routes need, derived from `KonaState.items`.
struct KonaItemIndex {
    var bySpace: [KonaState.Resource: [Int: [JSONObject]]] = [:]
    var commentsByTarget: [String: [JSONObject]] = [:]

    static func key(type: String, id: Int) -> String { "\(type)#\(id)" }

    init(_ items: [KonaState.Resource: [Int: JSONObject]]) {
        for (resource, byID) in items {
            for item in byID.values {
                if resource == .comments {
                    if let type = item["resource_type"]?.stringValue, let id = item["resource_id"]?.intValue {
                        commentsByTarget[Self.key(type: type, id: id), default: []].append(item)
                    }
                } else if let space = item["space_id"]?.intValue {
                    bySpace[resource, default: [:]][space, default: []].append(item)
                }
            }
        }
    }
}
