import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// The documented fields of each resource in output order, with their defaults, and which of them a
/// create or update may set. Dates are Unix milliseconds on output.
enum KonaFields {
    static let dateKeys: Set<String> = ["end_at", "start_at", "series_end_at", "date_range_start", "date_range_end"]

    static func template(_ resource: KonaState.Resource) -> [(String, JSONValue)] {
        switch resource {
        case .conversations:
            return [
                ("id", .null), ("name", ""), ("href", .null), ("details", .null), ("space_id", .null),
                ("creator_id", .null), ("participants", []), ("groups", []), ("stakeholder", 1), ("default_role", 2),
                ("tags", []), ("external_object", .null), ("created_at", .null), ("updated_at", .null),
            ]
        case .tasks:
            return [
                ("id", .null), ("name", ""), ("href", .null), ("location", .null), ("details", .null), ("end_at", .null),
                ("space_id", .null), ("creator_id", .null), ("status", 1), ("visibility", 2), ("stakeholder", 1),
                ("default_role", 2), ("tags", []), ("group_complete", false), ("completed_at", .null),
                ("completed_by_id", .null), ("period", 0), ("frequency", 0), ("sel_days", .null),
                ("series_end_at", .null), ("external_object", .null), ("participants", []), ("created_at", .null),
                ("updated_at", .null),
            ]
        case .calendarEvents:
            return [
                ("id", .null), ("name", ""), ("href", .null), ("location", .null), ("details", .null), ("all_day", false),
                ("start_at", .null), ("end_at", .null), ("space_id", .null), ("creator_id", .null), ("status", 1),
                ("visibility", 2), ("stakeholder", 1), ("default_role", 1), ("tags", []), ("period", 0),
                ("frequency", 0), ("sel_days", .null), ("series_end_at", .null), ("external_object", .null),
                ("participants", []), ("created_at", .null), ("updated_at", .null),
            ]
        case .comments:
            return [
                ("id", .null), ("creator_id", .null), ("content", ""), ("href", .null), ("priority", 0),
                ("created_at", .null), ("resource_type", .null), ("resource_id", .null),
            ]
        }
    }

    /// Keys a client may send, with the allowed range for integer enums.
    static let enums: [String: ClosedRange<Int>] = [
        "status": 0...4, "visibility": 1...2, "stakeholder": 0...2, "default_role": 1...3, "period": 0...5,
        "frequency": 0...3, "sel_days": 0...6, "priority": 0...1, "category": 0...1,
    ]
    static let strings: Set<String> = ["name", "details", "location", "welcome_message", "content"]

    static func writable(_ resource: KonaState.Resource) -> Set<String> {
        switch resource {
        case .conversations:
            ["name", "details", "space_id", "participants", "groups", "stakeholder", "default_role", "external_object",
             "initial_comment"]
        case .tasks:
            ["name", "location", "details", "end_at", "space_id", "participant_ids", "editor_ids", "status",
             "visibility", "stakeholder", "default_role", "period", "frequency", "sel_days", "series_end_at",
             "external_object"]
        case .calendarEvents:
            ["name", "location", "details", "all_day", "start_at", "end_at", "space_id", "participant_ids",
             "editor_ids", "status", "visibility", "stakeholder", "default_role", "period", "frequency", "sel_days",
             "series_end_at", "external_object"]
        case .comments: ["content", "priority", "resource_type", "resource_id"]
        }
    }

    static let spaceWritable: Set<String> = ["name", "details", "welcome_message", "category", "hidden"]

    /// Checks and converts one client value (dates to milliseconds, enums in range); 400 when it does not fit.
    static func accept(_ key: String, _ value: JSONValue) throws(SandboxHTTPError) -> JSONValue {
        if value.isNull { return .null }
        if dateKeys.contains(key) {
            guard let ms = KonaDate.millis(value) else {
                throw SandboxHTTPError(
                    .badRequest,
                    "\(key): \(value) is not a date; send Unix seconds, Unix milliseconds or \"YYYY-MM-DD HH:mm:ss.SSS\"")
            }
            return .number(String(ms))
        }
        if let range = enums[key] {
            guard let n = value.intValue, range.contains(n) else {
                throw SandboxHTTPError(.badRequest, "\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return .int(n)
        }
        if strings.contains(key) {
            guard value.stringValue != nil else { throw SandboxHTTPError(.badRequest, "\(key) must be a string") }
            return value
        }
        if key == "all_day" || key == "hidden" {
            guard let b = value.boolValue else { throw SandboxHTTPError(.badRequest, "\(key) must be true or false") }
            return .bool(b)
        }
        if key == "external_object" {
            guard let o = value.objectValue else {
                throw SandboxHTTPError(.badRequest, "external_object must be an object with id and name (or {} to remove it)")
            }
            if o.isEmpty { return .null }
            guard o["id"]?.stringValue != nil, o["name"]?.stringValue != nil else {
                throw SandboxHTTPError(.badRequest, "external_object needs a string id and name")
            }
            return value
        }
        return value
    }
}

extension KonaState {
    // MARK: - OAuth

    /// `POST /oauth/token`: only `grant_type=refresh_token` (the authorization-code step needs a browser).
    /// Parameters come from the query, a form body or a JSON body; errors use OAuth's `{error, error_description}`.
    /// Where each grant's parameters came from (`query`, `form`, `json`) is kept for the contract tests: Kona's
    /// documentation sends them in the query string of the POST (KonaTeam/kona-api `sections/authentication.md`,
    /// commit 995e42935e5a62b3ca06a2bc07706d130771f78f).
    mutating func issueToken(_ request: SandboxRequest) -> SandboxReply {
        var params = request.query
        var places: [String] = params.isEmpty ? [] : ["query"]
        let type = request.headers[.contentType]?.lowercased() ?? ""
        if type.contains("json"), let json = try? JSONValue(parsing: request.body), let o = json.objectValue {
            for (k, v) in o { if let s = v.idString { params[k] = s } }
            places.append("json")
        } else if !request.body.isEmpty {
            for (k, v) in SandboxRouter.parseQuery(String(decoding: request.body, as: UTF8.self)) { params[k] = v }
            places.append("form")
        }
        tokenRequests.append(places.joined(separator: "+"))
        func oauthError(_ status: HTTPResponse.Status, _ error: String, _ description: String) -> SandboxReply {
            SandboxReply(["error": .string(error), "error_description": .string(description)], status: status)
        }
        guard let grant = params["grant_type"], !grant.isEmpty else {
            return oauthError(.badRequest, "invalid_request", "grant_type is missing; send grant_type=refresh_token")
        }
        guard grant == "refresh_token" else {
            return oauthError(
                .badRequest, "unsupported_grant_type",
                "the sandbox issues tokens only for grant_type=refresh_token (the authorization code step needs a browser)")
        }
        guard params["client_id"] == clientID, params["client_secret"] == clientSecret else {
            return oauthError(.unauthorized, "invalid_client", "client_id or client_secret is wrong")
        }
        guard let refresh = params["refresh_token"], let user = refreshTokens[refresh] else {
            return oauthError(.badRequest, "invalid_grant", "the refresh token is not valid")
        }
        var token = "kona-at-" + tokenIDs.next(length: 32)
        while accessTokens[token] != nil { token = "kona-at-" + tokenIDs.next(length: 32) }
        accessTokens[token] = AccessToken(userID: user, expiresAt: clock() + tokenLifetime)
        return SandboxReply([
            "access_token": .string(token), "token_type": "bearer", "expires_in": .int(Int(tokenLifetime.rounded(.up))),
            "refresh_token": .string(refresh),
        ])
    }

    // MARK: - Accounts and users

    func currentAccount(_ r: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try requireUser(r)
        var account = self.account
        account["href"] = .string(href("accounts/\(account["id"]?.intValue ?? 0)"))
        return SandboxReply(["accounts": [.object(account)]])
    }

    func userinfo(_ r: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        guard var out = renderUser(user, request: r)?.objectValue else {
            throw SandboxHTTPError(.notFound, "user \(user) does not exist")
        }
        out["current_account"] = ["id": account["id"] ?? .null, "member": true]
        return SandboxReply(["users": [.object(out)]])
    }

    /// Users the current user shares a space with, and the user themself.
    func connectedUsers(_ user: Int) -> Set<Int> {
        var out: Set<Int> = [user]
        for space in spaces.values where space.isParticipant(user) {
            for p in space.participants { if let id = p["user_id"]?.intValue { out.insert(id) } }
        }
        return out
    }

    func listUsers(_ r: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        let page = try KonaPage(r, cap: behaviour.perPageCap)
        var ids = connectedUsers(user)
        if let raw = r.query["space_id"] {
            guard let spaceID = Int(raw) else { throw SandboxHTTPError(.badRequest, "space_id must be a number") }
            ids = Set(try visibleSpace(spaceID, user).participants.compactMap { $0["user_id"]?.intValue })
        }
        var list = ids.sorted().compactMap { users[$0] }
        if let like = r.query["like"]?.lowercased(), !like.isEmpty {
            list = list.filter {
                ($0["name"]?.stringValue?.lowercased().hasPrefix(like) ?? false)
                    || ($0["email"]?.stringValue?.lowercased().hasPrefix(like) ?? false)
            }
        }
        return SandboxReply(["users": .array(page.slice(list).compactMap { renderUser($0["id"]?.intValue ?? 0, request: r) })])
    }

    func getUser(_ r: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        guard let id = Int(r.parameter("id")), users[id] != nil else {
            throw SandboxHTTPError(.notFound, "user \(r.parameter("id")) does not exist")
        }
        guard connectedUsers(user).contains(id) else {
            throw SandboxHTTPError(.notFound, "user \(id) does not exist or you share no space with them")
        }
        return SandboxReply(["users": [renderUser(id, request: r) ?? .null]])
    }

    // MARK: - Spaces

    func listSpaces(_ r: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        let page = try KonaPage(r, cap: behaviour.perPageCap)
        let withHidden = r.query["hidden"]?.lowercased() == "true"
        let participants = includes(r, "participants")
        let hiddenOnly = behaviour.hiddenOnly
        let all: [SpaceRecord] = spaces.keys.sorted().compactMap { spaces[$0] }
        let list = all.filter { (space: SpaceRecord) -> Bool in
                guard space.isParticipant(user) else { return false }
                let hidden = space.hiddenFor.contains(user)
                if withHidden && hiddenOnly { return hidden }
                return withHidden || !hidden
            }
        return SandboxReply([
            "spaces": .array(page.slice(list).map { renderSpace($0, for: user, request: r, participants: participants) })
        ])
    }

    func getSpace(_ r: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        let space = try visibleSpace(try intParameter(r, "id", what: "space"), user)
        return SandboxReply(["spaces": [renderSpace(space, for: user, request: r, participants: includes(r, "participants"))]])
    }

    mutating func createSpaces(_ r: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        var objects = try wrappedObjects(r, key: "spaces")
        if behaviour.noBatches { objects = Array(objects.prefix(1)) }
        var created: [SpaceRecord] = []
        for o in objects {
            guard let name = o["name"]?.stringValue, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw SandboxHTTPError(.unprocessableContent, "every space needs a name")
            }
            let time = now()
            let id = newID("space", start: 1001)
            var object = JSONObject([
                ("id", .int(id)), ("name", .string(name)), ("href", .null), ("account_id", account["id"] ?? .null),
                ("details", .null), ("welcome_message", .null), ("updated_at", .number(String(time))),
                ("picture_thumb", "/kona/images/defaultproject.png"), ("category", 1), ("space_type", 0),
                ("template", false), ("published", false),
            ])
            var hidden = false
            for (k, v) in o where KonaFields.spaceWritable.contains(k) && k != "name" {
                let accepted = try KonaFields.accept(k, v)
                if k == "hidden" { hidden = accepted.boolValue ?? false } else { object[k] = accepted }
            }
            var record = SpaceRecord(object: object, createdAt: time)
            record.participants = [
                JSONObject([("user_id", .int(user)), ("role", 1), ("status", 1), ("updated_at", .number(String(time)))])
            ]
            if hidden { record.hiddenFor.insert(user) }
            spaces[id] = record
            created.append(record)
        }
        var headers = HTTPFields()
        headers[.location] = href("spaces/\(created[0].id)")
        return SandboxReply(
            ["spaces": .array(created.map { renderSpace($0, for: user, request: r, participants: false) })],
            status: .created, headers: headers)
    }

    mutating func updateSpace(_ r: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        let id = try intParameter(r, "id", what: "space")
        var space = try visibleSpace(id, user)
        guard space.isOwner(user) else { throw SandboxHTTPError(.forbidden, "only the owner of space \(id) may change it") }
        let body = try singleObject(r, key: "spaces")
        for (k, v) in body where KonaFields.spaceWritable.contains(k) {
            let accepted = try KonaFields.accept(k, v)
            if k == "hidden" {
                if accepted.boolValue == true { space.hiddenFor.insert(user) } else { space.hiddenFor.remove(user) }
            } else if k == "name", accepted.stringValue?.isEmpty ?? true {
                throw SandboxHTTPError(.unprocessableContent, "a space needs a name")
            } else {
                space.object[k] = accepted
            }
        }
        space.object["updated_at"] = movedStamp(space.object["updated_at"])
        spaces[id] = space
        return SandboxReply(["spaces": [renderSpace(space, for: user, request: r, participants: false)]])
    }

    mutating func deleteSpace(_ r: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        let id = try intParameter(r, "id", what: "space")
        let space = try visibleSpace(id, user)
        guard space.isOwner(user) else { throw SandboxHTTPError(.forbidden, "only the owner of space \(id) may delete it") }
        spaces[id] = nil
        var removed: [(String, Int)] = []
        for resource in [Resource.conversations, .tasks, .calendarEvents] {
            for (itemID, item) in items[resource] ?? [:] where item["space_id"]?.intValue == id {
                items[resource]?[itemID] = nil
                removed.append((resource.commentType!, itemID))
            }
        }
        for (attachmentID, a) in attachments where a["space_id"]?.intValue == id {
            attachments[attachmentID] = nil
            removed.append(("attachment", attachmentID))
        }
        let gone = Set(removed.map { "\($0.0)/\($0.1)" })
        items[.comments] = (items[.comments] ?? [:]).filter { _, c in
            !gone.contains("\(c["resource_type"]?.stringValue ?? "")/\(c["resource_id"]?.intValue ?? 0)")
        }
        return .empty()
    }

    // MARK: - Conversations, tasks, calendar events, comments

    func listItems(_ r: SandboxRequest, _ resource: Resource) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        let page = try KonaPage(r, cap: behaviour.perPageCap)
        var list: [JSONObject]
        if resource == .comments {
            guard let type = r.query["resource_type"], let raw = r.query["resource_id"] else {
                throw SandboxHTTPError(.badRequest, "comments are listed per resource: send resource_type and resource_id")
            }
            guard let rid = Int(raw) else { throw SandboxHTTPError(.badRequest, "resource_id must be a number") }
            _ = try commentTarget(type: type, id: rid, user: user)
            // Most recent first, as documented.
            list = (itemIndex.index(tag: itemsTag) { KonaItemIndex(items) }.commentsByTarget[KonaItemIndex.key(type: type, id: rid)] ?? [])
                .sorted { order($0, $1, by: "created_at") }
        } else {
            var spaceFilter: Int?
            if let raw = r.query["space_id"] {
                guard let id = Int(raw) else { throw SandboxHTTPError(.badRequest, "space_id must be a number") }
                try visibleSpace(id, user)
                spaceFilter = id
            }
            if behaviour.ignoresSpaceID && resource != .conversations { spaceFilter = nil }
            if let spaceFilter {
                list = (itemIndex.index(tag: itemsTag) { KonaItemIndex(items) }.bySpace[resource]?[spaceFilter] ?? []).filter { canSee($0, resource, user) }
            } else {
                list = (items[resource] ?? [:]).values.filter { canSee($0, resource, user) }
            }
            if resource == .calendarEvents {
                // Only the current month unless a window is given (documented; paging still applies).
                let (start, end) = try eventWindow(r)
                list = list.filter {
                    let at = Int64($0["start_at"]?.idString ?? "") ?? 0
                    return at >= start && at <= end
                }
            }
            switch r.query["order_by"] {
            case nil: list.sort { ($0["id"]?.intValue ?? 0) < ($1["id"]?.intValue ?? 0) }
            case "created_at": list.sort { order($0, $1, by: "created_at") }
            case "updated_at": list.sort { order($0, $1, by: "updated_at") }
            case let other?: throw SandboxHTTPError(.badRequest, "order_by must be created_at or updated_at, not \(other)")
            }
        }
        let participants = includes(r, "participants")
        return SandboxReply([
            resource.rawValue: .array(page.slice(list).map { renderItem($0, resource, request: r, participants: participants) })
        ])
    }

    /// Latest first; ties broken by id, latest first.
    private func order(_ a: JSONObject, _ b: JSONObject, by key: String) -> Bool {
        let x = Int64(a[key]?.idString ?? "") ?? 0, y = Int64(b[key]?.idString ?? "") ?? 0
        if x != y { return x > y }
        return (a["id"]?.intValue ?? 0) > (b["id"]?.intValue ?? 0)
    }

    private func eventWindow(_ r: SandboxRequest) throws(SandboxHTTPError) -> (Int64, Int64) {
        func parse(_ key: String) throws(SandboxHTTPError) -> Int64? {
            guard let raw = r.query[key] else { return nil }
            return try KonaFields.accept(key, .string(raw)).idString.flatMap { Int64($0) }
        }
        let t = Timestamp.civil(secondsSince1970: now() / 1000)
        let monthStart = SandboxTime.millis(year: t.year, month: t.month, day: 1)
        let next = t.month == 12 ? (t.year + 1, 1) : (t.year, t.month + 1)
        let monthEnd = SandboxTime.millis(year: next.0, month: next.1, day: 1) - 1
        return (try parse("date_range_start") ?? monthStart, try parse("date_range_end") ?? monthEnd)
    }

    func getItem(_ r: SandboxRequest, _ resource: Resource) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        let id = try intParameter(r, "id", what: resource.commentType ?? "comment")
        guard let item = items[resource]?[id] else {
            throw SandboxHTTPError(.notFound, "\(resource.commentType ?? "comment") \(id) does not exist")
        }
        if resource == .comments {
            _ = try commentTarget(
                type: item["resource_type"]?.stringValue ?? "", id: item["resource_id"]?.intValue ?? 0, user: user)
        } else {
            try visibleSpace(item["space_id"]?.intValue ?? 0, user)
            guard canSee(item, resource, user) else {
                throw SandboxHTTPError(.forbidden, "you may not see \(resource.commentType!) \(id)")
            }
        }
        return SandboxReply([resource.rawValue: [renderItem(item, resource, request: r, participants: includes(r, "participants"))]])
    }

    mutating func createItems(_ r: SandboxRequest, _ resource: Resource) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        var objects = try wrappedObjects(r, key: resource.rawValue)
        if behaviour.noBatches { objects = Array(objects.prefix(1)) }
        var created: [JSONObject] = []
        for o in objects {
            let time = now()
            var item = JSONObject(KonaFields.template(resource))
            item["creator_id"] = .int(user)
            item["created_at"] = .number(String(time))
            if resource != .comments { item["updated_at"] = .number(String(time)) }
            try apply(o, to: &item, resource, user: user, creating: true)
            if resource == .comments { try checkMentions(item, user: user) }
            let id = newID(resource.rawValue, start: resource.startID)
            item["id"] = .int(id)
            items[resource, default: [:]][id] = item
            created.append(item)
            if resource == .comments { touchCommentTarget(item, at: time) }
            if resource == .conversations, let first = o["initial_comment"]?.stringValue, !first.isEmpty {
                var comment = JSONObject(KonaFields.template(.comments))
                let commentID = newID(Resource.comments.rawValue, start: Resource.comments.startID)
                comment["id"] = .int(commentID)
                comment["creator_id"] = .int(user)
                comment["content"] = .string(first)
                comment["created_at"] = .number(String(time))
                comment["resource_type"] = "conversation"
                comment["resource_id"] = .int(id)
                items[.comments, default: [:]][commentID] = comment
            }
        }
        var headers = HTTPFields()
        headers[.location] = href("\(resource.rawValue)/\(created[0]["id"]?.intValue ?? 0)")
        return SandboxReply(
            [resource.rawValue: .array(created.map { renderItem($0, resource, request: r, participants: true) })],
            status: .created, headers: headers)
    }

    /// `@user:ID` or `@user:EMAIL` must name a participant of the comment's space; otherwise Kona answers 404
    /// (KonaTeam/kona-api `sections/comments.md`, commit 995e42935e5a62b3ca06a2bc07706d130771f78f, "Mentions").
    func checkMentions(_ comment: JSONObject, user: Int) throws(SandboxHTTPError) {
        let content = comment["content"]?.stringValue ?? ""
        guard content.contains("@user:") else { return }
        let spaceID = try commentTarget(
            type: comment["resource_type"]?.stringValue ?? "", id: comment["resource_id"]?.intValue ?? 0, user: user)
        let space = try self.space(spaceID)
        for part in content.components(separatedBy: "@user:").dropFirst() {
            let name = String(part.prefix { !$0.isWhitespace && !",;:!?<".contains($0) })
                .trimmingCharacters(in: CharacterSet(charactersIn: "."))
            let id = Int(name) ?? users.first { $0.value["email"]?.stringValue?.lowercased() == name.lowercased() }?.key
            guard let id, space.isParticipant(id) else {
                throw SandboxHTTPError(.notFound, "@user:\(name) is not a participant of this \(comment["resource_type"]?.stringValue ?? "item")")
            }
        }
    }

    /// A comment is activity on its conversation, task or event: it moves the item's `updated_at` (see KonaSandbox).
    private mutating func touchCommentTarget(_ comment: JSONObject, at time: Int64) {
        guard let type = comment["resource_type"]?.stringValue, let id = comment["resource_id"]?.intValue,
            let resource = Resource.allCases.first(where: { $0.commentType == type }), let item = items[resource]?[id]
        else { return }
        let stamp = movedStamp(item["updated_at"], at: time)
        items[resource]?[id]?["updated_at"] = stamp
    }

    /// The new `updated_at` of a changed object: now, and always later than before (two changes in one
    /// millisecond still move it).
    func movedStamp(_ old: JSONValue?, at time: Int64? = nil) -> JSONValue {
        let before = old?.idString.flatMap { Int64($0) } ?? 0
        return .number(String(max(time ?? now(), before + 1)))
    }

    mutating func updateItem(_ r: SandboxRequest, _ resource: Resource) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        let id = try intParameter(r, "id", what: resource.commentType ?? "comment")
        guard var item = items[resource]?[id] else {
            throw SandboxHTTPError(.notFound, "\(resource.commentType ?? "comment") \(id) does not exist")
        }
        try visibleSpace(item["space_id"]?.intValue ?? 0, user)
        guard canSee(item, resource, user) else { throw SandboxHTTPError(.forbidden, "you may not change this item") }
        let body = try singleObject(r, key: resource.rawValue)
        try apply(body, to: &item, resource, user: user, creating: false)
        item["updated_at"] = movedStamp(item["updated_at"])
        items[resource]?[id] = item
        return SandboxReply([resource.rawValue: [renderItem(item, resource, request: r, participants: true)]])
    }

    mutating func deleteItem(_ r: SandboxRequest, _ resource: Resource) throws(SandboxHTTPError) -> SandboxReply {
        let user = try requireUser(r)
        let id = try intParameter(r, "id", what: resource.commentType ?? "comment")
        guard let item = items[resource]?[id] else {
            throw SandboxHTTPError(.notFound, "\(resource.commentType ?? "comment") \(id) does not exist")
        }
        let space = try visibleSpace(item["space_id"]?.intValue ?? 0, user)
        guard item["creator_id"]?.intValue == user || space.isOwner(user) else {
            throw SandboxHTTPError(.forbidden, "only the creator or the space owner may delete this")
        }
        items[resource]?[id] = nil
        if let type = resource.commentType {
            items[.comments] = (items[.comments] ?? [:]).filter { _, c in
                !(c["resource_type"]?.stringValue == type && c["resource_id"]?.intValue == id)
            }
        }
        return .empty()
    }

    /// Applies client fields to an item; on create, checks what is required and sets what the server derives.
    private func apply(
        _ o: JSONObject, to item: inout JSONObject, _ resource: Resource, user: Int, creating: Bool
    ) throws(SandboxHTTPError) {
        let writable = KonaFields.writable(resource)
        var participantIDs: [Int]?
        var editorIDs: [Int]?
        for (k, v) in o where writable.contains(k) {
            switch k {
            case "initial_comment": continue
            case "space_id":
                guard creating else { continue }
                guard let id = v.intValue else { throw SandboxHTTPError(.badRequest, "space_id must be a number") }
                item["space_id"] = .int(id)
            case "resource_id":
                guard let id = v.intValue else { throw SandboxHTTPError(.badRequest, "resource_id must be a number") }
                item["resource_id"] = .int(id)
            case "resource_type":
                guard let type = v.stringValue else { throw SandboxHTTPError(.badRequest, "resource_type must be a string") }
                item["resource_type"] = .string(type)
            case "participant_ids", "editor_ids":
                guard let list = v.arrayValue?.compactMap(\.intValue), list.count == v.arrayValue?.count else {
                    throw SandboxHTTPError(.badRequest, "\(k) must be an array of user ids")
                }
                if k == "participant_ids" { participantIDs = list } else { editorIDs = list }
            case "participants":
                guard let list = v.arrayValue else { throw SandboxHTTPError(.badRequest, "participants must be an array") }
                var out: [JSONValue] = []
                for p in list {
                    guard let uid = p["user_id"]?.intValue else {
                        throw SandboxHTTPError(.badRequest, "every participant needs a user_id")
                    }
                    let role = p["role"]?.intValue ?? 2
                    guard (1...3).contains(role) else { throw SandboxHTTPError(.badRequest, "participant role must be 1, 2 or 3") }
                    out.append(["user_id": .int(uid), "role": .int(role)])
                }
                item["participants"] = .array(out)
            case "groups":
                guard v.arrayValue != nil else { throw SandboxHTTPError(.badRequest, "groups must be an array") }
                item["groups"] = v
            default:
                item[k] = try KonaFields.accept(k, v)
            }
        }
        if participantIDs != nil || editorIDs != nil {
            let editors = editorIDs ?? []
            var order = participantIDs ?? []
            for e in editors where !order.contains(e) { order.append(e) }
            item["participants"] = .array(order.map { ["user_id": .int($0), "role": .int(editors.contains($0) ? 1 : 2)] })
        }
        if resource == .comments {
            guard let content = item["content"]?.stringValue, !content.isEmpty else {
                throw SandboxHTTPError(.unprocessableContent, "a comment needs content")
            }
            guard let type = item["resource_type"]?.stringValue, let rid = item["resource_id"]?.intValue else {
                throw SandboxHTTPError(.badRequest, "a comment needs resource_type and resource_id")
            }
            _ = try commentTarget(type: type, id: rid, user: user)
            return
        }
        guard let name = item["name"]?.stringValue, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SandboxHTTPError(.unprocessableContent, "a \(resource.commentType!) needs a name")
        }
        guard let spaceID = item["space_id"]?.intValue else {
            throw SandboxHTTPError(.unprocessableContent, "a \(resource.commentType!) needs a space_id")
        }
        let space = try visibleSpace(spaceID, user)
        for p in item["participants"]?.arrayValue ?? [] {
            let uid = p["user_id"]?.intValue ?? 0
            guard space.isParticipant(uid) else {
                throw SandboxHTTPError(.unprocessableContent, "user \(uid) is not a participant of space \(spaceID); invite them first")
            }
        }
        if resource == .calendarEvents, creating {
            let time = JSONValue.number(String(now()))
            if item["start_at"]?.isNull ?? true { item["start_at"] = time }
            if item["end_at"]?.isNull ?? true { item["end_at"] = item["start_at"] }
        }
        if resource == .tasks {
            let status = item["status"]?.intValue ?? 1
            let done = status == 2 || status == 3
            if done, item["completed_at"]?.isNull ?? true {
                item["completed_at"] = .number(String(now()))
                item["completed_by_id"] = .int(user)
            } else if !done {
                item["completed_at"] = .null
                item["completed_by_id"] = .null
            }
            item["group_complete"] = .bool(done)
        }
    }

    // MARK: - Request helpers

    func includes(_ r: SandboxRequest, _ what: String) -> Bool {
        (r.query["include"] ?? "").split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == what }
    }

    func intParameter(_ r: SandboxRequest, _ name: String, what: String) throws(SandboxHTTPError) -> Int {
        guard let id = Int(r.parameter(name)) else { throw SandboxHTTPError(.notFound, "\(what) \(r.parameter(name)) does not exist") }
        return id
    }

    /// The objects of a create body `{"<key>": [{…}, …]}` (a lone object is taken as one); 1 to 100 of them.
    func wrappedObjects(_ r: SandboxRequest, key: String) throws(SandboxHTTPError) -> [JSONObject] {
        let body = try r.json()
        guard let wrapped = body[key] else {
            throw SandboxHTTPError(.badRequest, "the body must wrap the objects in an array under \"\(key)\": {\"\(key)\": [{…}]}")
        }
        var objects: [JSONObject] = []
        switch wrapped {
        case .object(let o): objects = [o]
        case .array(let list):
            for v in list {
                guard let o = v.objectValue else { throw SandboxHTTPError(.badRequest, "every element of \"\(key)\" must be an object") }
                objects.append(o)
            }
        default: throw SandboxHTTPError(.badRequest, "\"\(key)\" must be an array of objects")
        }
        guard !objects.isEmpty else { throw SandboxHTTPError(.badRequest, "\"\(key)\" is empty; send at least one object") }
        guard objects.count <= KonaState.maxObjectsPerCreate else {
            throw SandboxHTTPError(
                .badRequest, "\(objects.count) objects in one request; send at most \(KonaState.maxObjectsPerCreate)")
        }
        return objects
    }

    /// The one object of an update body: wrapped (`{"spaces":[{…}]}`) or bare (`{"name": …}`).
    func singleObject(_ r: SandboxRequest, key: String) throws(SandboxHTTPError) -> JSONObject {
        let body = try r.json()
        if let wrapped = body[key] {
            if let o = wrapped.objectValue { return o }
            if let list = wrapped.arrayValue, list.count == 1, let o = list[0].objectValue { return o }
            throw SandboxHTTPError(.badRequest, "an update changes one object: {\"\(key)\": [{…}]}")
        }
        guard let o = body.objectValue else { throw SandboxHTTPError(.badRequest, "the body must be a JSON object") }
        return o
    }
}

extension KonaState.Resource {
    /// First id the sandbox hands out for the resource.
    var startID: Int {
        switch self {
        case .conversations: 2001
        case .tasks: 3001
        case .calendarEvents: 4001
        case .comments: 5001
        }
    }
}
