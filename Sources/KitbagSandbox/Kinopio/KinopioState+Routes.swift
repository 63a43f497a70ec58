import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// One method per documented route. Each takes the request and answers JSON or throws the
/// HTTP error; a throwing write leaves the state as it was (the store rolls back).
extension KinopioState {
    static let maxIdsPerMultipleGet = 60

    static func idList(_ request: SandboxRequest, _ name: String) throws(SandboxHTTPError) -> [String] {
        guard let raw = request.query[name], !raw.isEmpty else {
            throw SandboxHTTPError(.badRequest, "add ?\(name)=id1,id2 (up to \(maxIdsPerMultipleGet) ids)")
        }
        let ids = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if ids.count > maxIdsPerMultipleGet {
            throw SandboxHTTPError(.badRequest, "\(ids.count) ids in \(name); at most \(maxIdsPerMultipleGet) per request")
        }
        return ids
    }

    func sortedByUpdatedDescending(_ list: [SpaceRecord]) -> [SpaceRecord] {
        list.sorted {
            let a = $0.meta["updatedAt"]?.stringValue ?? "", b = $1.meta["updatedAt"]?.stringValue ?? ""
            return a != b ? a > b : $0.id < $1.id
        }
    }

    // MARK: - All

    func root(_ request: SandboxRequest) -> SandboxReply {
        SandboxReply(["status": "ok", "message": "Kinopio API sandbox is online", "isSandbox": true])
    }

    // MARK: - Users

    func getUser(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        return SandboxReply(.object(users[userId]!.object))
    }

    func getPublicUser(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let id = request.parameter("userId")
        guard let user = publicUser(id) else { throw SandboxHTTPError(.notFound, "user \(id) not found") }
        return SandboxReply(user)
    }

    func getPublicUsers(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let ids = try Self.idList(request, "userIds")
        return SandboxReply(.array(ids.compactMap(publicUser)))
    }

    func getExploreSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = request.parameter("userId")
        guard users[userId] != nil else { throw SandboxHTTPError(.notFound, "user \(userId) not found") }
        let list = spaceOrder.compactMap { spaces[$0] }.filter {
            $0.ownerUserId == userId && !$0.isRemoved && ($0.meta["showInExplore"]?.boolValue ?? false)
        }
        return SandboxReply(.array(list.map { .object(spaceMeta($0, for: nil)) }))
    }

    func getUserSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        // The current server lists hidden spaces only in /user/hidden-spaces; an older one has no hidden list.
        let list = sortedByUpdatedDescending(memberSpaces(userId).filter { !$0.isRemoved && (legacy || !isHidden($0, by: userId)) })
        return SandboxReply(.array(list.map { .object(spaceMeta($0, for: userId)) }))
    }

    func isHidden(_ space: SpaceRecord, by userId: String) -> Bool {
        users[userId]?.hiddenSpaceIds.contains(space.id) ?? false
    }

    /// `GET /user/hidden-spaces` (scope read).
    func getHiddenSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let list = sortedByUpdatedDescending(spaceOrder.compactMap { spaces[$0] }.filter {
            !$0.isRemoved && isHidden($0, by: userId) && canView($0, userId)
        })
        return SandboxReply(.array(list.map { var m = spaceMeta($0, for: userId); m["isHidden"] = true; return .object(m) }))
    }

    /// `GET /user/template-spaces`: templates the user made or collaborates on.
    func getTemplateSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let list = sortedByUpdatedDescending(memberSpaces(userId).filter {
            !$0.isRemoved && ($0.meta["isTemplate"]?.boolValue ?? false)
        })
        return SandboxReply(.array(list.map { .object(spaceMeta($0, for: userId)) }))
    }

    func groupIds(of userId: String) -> [String] {
        groupOrder.filter { id in
            (groups[id]?["groupUsers"]?.arrayValue ?? []).contains { $0["userId"]?.stringValue == userId }
        }
    }

    /// `GET /user/group-spaces`: spaces in the user's groups created by other members.
    func getGroupSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let mine = Set(groupIds(of: userId))
        let list = sortedByUpdatedDescending(spaceOrder.compactMap { spaces[$0] }.filter {
            !$0.isRemoved && $0.ownerUserId != userId && mine.contains($0.meta["groupId"]?.stringValue ?? "")
        })
        return SandboxReply(.array(list.map { .object(spaceMeta($0, for: userId)) }))
    }

    /// A group with public metadata on its users; the caller's membership is in `groupUser`.
    func renderGroup(_ id: String, for userId: String) -> JSONObject? {
        guard var group = groups[id] else { return nil }
        let members = group["groupUsers"]?.arrayValue ?? []
        group["groupUser"] = members.first { $0["userId"]?.stringValue == userId } ?? .null
        group["users"] = .array(members.compactMap { m in
            guard var u = publicUser(m["userId"]?.stringValue ?? "")?.objectValue else { return nil }
            u["role"] = m["role"] ?? .null
            return .object(u)
        })
        group["groupUsers"] = nil
        return group
    }

    /// `GET /user/groups`: the user's groups; their role is inside `groupUser`.
    func getUserGroups(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        return SandboxReply(.array(groupIds(of: userId).compactMap { renderGroup($0, for: userId).map(JSONValue.object) }))
    }

    /// `GET /group/:groupId`: members only.
    func getGroup(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let id = request.parameter("groupId")
        guard groups[id] != nil else { throw SandboxHTTPError(.notFound, "group \(id) not found") }
        guard groupIds(of: userId).contains(id), let group = renderGroup(id, for: userId) else {
            throw SandboxHTTPError(.forbidden, "you are not a member of group \(id)")
        }
        return SandboxReply(.object(group))
    }

    /// `GET /space/:spaceId/favorites`: users who favourited the space.
    func getSpaceFavorites(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let space = try requireView(request.parameter("spaceId"), userId)
        let fans = userOrder.filter { users[$0]?.favoriteSpaceIds.contains(space.id) ?? false }
        return SandboxReply(.array(fans.compactMap(publicUser)))
    }

    /// `PATCH /space/restore/:spaceId`: the current form, with the id in the path.
    mutating func restoreSpace(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let id = request.parameter("spaceId")
        var space = try requireEdit(id, userId)
        space.meta["isRemoved"] = false
        space.meta["removedByUserId"] = nil
        space.meta["updatedAt"] = .string(now())
        spaces[id] = space
        return SandboxReply(.object(spaceMeta(space, for: userId)))
    }

    /// `GET /user/at-user-mentions`: cards (in spaces the user can view) where the user is in `atUserMentions`.
    func getAtUserMentions(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        var out: [JSONValue] = []
        for space in spaceOrder.compactMap({ spaces[$0] }) where !space.isRemoved && canView(space, userId) {
            for id in space.cardIds {
                guard let card = cards[id], !(card["isRemoved"]?.boolValue ?? false),
                    (card["atUserMentions"]?.arrayValue ?? []).contains(where: { $0["userId"]?.stringValue == userId })
                else { continue }
                out.append(.object(card))
            }
        }
        return SandboxReply(.array(out))
    }

    /// `GET /user/at-date-mentions`: cards in the user's spaces with `atDateMentions` (due dates).
    func getAtDateMentions(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        return SandboxReply(.array(memberCards(userId) { !($0["atDateMentions"]?.arrayValue ?? []).isEmpty }))
    }

    /// `GET /user/todos`: todo cards and boxes (names starting `[]`, `[ ]` or `[x]`), grouped by space. The document
    /// does not give the grouping's shape; the sandbox answers `[{space, cards, boxes}]` (a guess).
    func getTodos(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        func isTodo(_ item: JSONObject) -> Bool {
            let name = item["name"]?.stringValue ?? ""
            return name.hasPrefix("[]") || name.hasPrefix("[ ]") || name.hasPrefix("[x]")
        }
        var out: [JSONValue] = []
        for space in memberSpaces(userId) where !space.isRemoved {
            let todoCards = space.cardIds.compactMap { cards[$0] }.filter { !($0["isRemoved"]?.boolValue ?? false) && isTodo($0) }
            let todoBoxes = space.boxIds.compactMap { boxes[$0] }.filter(isTodo)
            guard !todoCards.isEmpty || !todoBoxes.isEmpty else { continue }
            out.append(.object(JSONObject([
                ("space", .object(spaceMeta(space, for: userId))),
                ("cards", .array(todoCards.map(JSONValue.object))), ("boxes", .array(todoBoxes.map(JSONValue.object))),
            ])))
        }
        return SandboxReply(.array(out))
    }

    static let publicMetaKeys = ["id", "name", "privacy", "background", "backgroundTint", "ownerUserId", "previewImage",
                                 "previewThumbnailImage", "showInExplore", "updatedAt", "createdAt", "url"]

    func publicMeta(_ space: SpaceRecord) -> JSONValue {
        var out = JSONObject()
        for key in Self.publicMetaKeys { if let v = space.meta[key] { out[key] = v } }
        return .object(out)
    }

    /// `GET /space/:spaceId/public-meta` (no key): public info on a non-private space.
    func getPublicMeta(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let space = try space(request.parameter("spaceId"))
        guard space.privacy != "private", !space.isRemoved else {
            throw SandboxHTTPError(.notFound, "space \(space.id) is private or removed; it has no public info")
        }
        return SandboxReply(publicMeta(space))
    }

    /// `GET /space/public/multiple?spaceIds=` (no key): public info on up to 60 non-private spaces.
    func getPublicSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let ids = try Self.idList(request, "spaceIds")
        return SandboxReply(.array(ids.compactMap { spaces[$0] }.filter { $0.privacy != "private" && !$0.isRemoved }.map(publicMeta)))
    }

    /// `GET /space/explore-spaces` (no key): spaces in Explore, most recently updated first.
    func getExploreList(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let list = sortedByUpdatedDescending(spaceOrder.compactMap { spaces[$0] }.filter {
            !$0.isRemoved && $0.privacy != "private" && ($0.meta["showInExplore"]?.boolValue ?? false)
        })
        return SandboxReply(.array(list.map(publicMeta)))
    }

    /// `GET /space/everyone-spaces` (no key): recent public spaces, newest `createdAt` first.
    func getEveryoneSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let list = spaceOrder.compactMap { spaces[$0] }.filter { !$0.isRemoved && $0.privacy != "private" }.sorted {
            let a = $0.meta["createdAt"]?.stringValue ?? "", b = $1.meta["createdAt"]?.stringValue ?? ""
            return a != b ? a > b : $0.id < $1.id
        }
        return SandboxReply(.array(list.map(publicMeta)))
    }

    /// `GET /space/live-spaces` (no key): spaces being edited right now; nobody edits a sandbox live, so none.
    func getLiveSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        SandboxReply([])
    }

    /// `POST /space/search-explore-spaces` (no key): Explore spaces whose name contains `query` ("Searches are not
    /// case-insensitive").
    func searchExploreSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        guard let query = try request.json()["query"]?.stringValue, !query.isEmpty else {
            throw SandboxHTTPError(.badRequest, "the body must contain query")
        }
        let list = spaceOrder.compactMap { spaces[$0] }.filter {
            !$0.isRemoved && $0.privacy != "private" && ($0.meta["showInExplore"]?.boolValue ?? false) && $0.name.contains(query)
        }
        return SandboxReply(.array(list.map(publicMeta)))
    }

    // MARK: - Lists

    /// `PATCH /card/list` adds a card to a list (`id`, `listId`, optional `shouldPrepend`); `DELETE /card/list`
    /// takes it out (`id`).
    mutating func changeCardList(_ request: SandboxRequest, add: Bool) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard let body = try request.json().objectValue else { throw SandboxHTTPError(.badRequest, "the body must be a card object") }
        let id = try body.requiredString("id", what: "card")
        var card = try editableCard(id, userId)
        let spaceId = card["spaceId"]?.stringValue ?? ""
        let time = now()
        if add {
            let listId = try body.requiredString("listId", what: "card")
            guard lists[listId]?["spaceId"]?.stringValue == spaceId else {
                throw SandboxHTTPError(.badRequest, "list \(listId) is not in space \(spaceId)")
            }
            let inList = (spaces[spaceId]?.cardIds ?? []).compactMap { cards[$0] }.filter { $0["listId"]?.stringValue == listId }
            let indexes = inList.compactMap { $0["listPositionIndex"]?.stringValue }.sorted()
            let prepend = body["shouldPrepend"]?.boolValue ?? false
            card["listId"] = .string(listId)
            card["listPositionIndex"] = .string(prepend ? "Z" + (indexes.first ?? "a0") : (indexes.last ?? "a") + "0")
            lists[listId]?["shouldUpdateList"] = true
        } else {
            card["listId"] = .null
            card["listPositionIndex"] = .null
        }
        card["updatedAt"] = .string(time)
        cards[id] = card
        touchSpace(spaceId, by: userId, edited: true, at: time)
        return SandboxReply(.object(card))
    }

    /// `GET /list/:listId`: the list with its cards.
    func getList(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try optionalUser(request)
        let id = request.parameter("listId")
        guard var list = lists[id] else { throw SandboxHTTPError(.notFound, "list \(id) not found") }
        let space = try requireView(list["spaceId"]?.stringValue ?? "", userId)
        list["cards"] = .array(space.cardIds.compactMap { cards[$0] }.filter {
            $0["listId"]?.stringValue == id && !($0["isRemoved"]?.boolValue ?? false)
        }.map(JSONValue.object))
        return SandboxReply(.object(list))
    }

    func getJournalSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let list = sortedByUpdatedDescending(memberSpaces(userId).filter {
            !$0.isRemoved && !($0.meta["moonPhase"]?.isNull ?? true)
        })
        return SandboxReply(.array(list.map { .object(spaceMeta($0, for: userId)) }))
    }

    func getRemovedSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let list = sortedByUpdatedDescending(spaceOrder.compactMap { spaces[$0] }.filter {
            $0.isRemoved && $0.meta["removedByUserId"]?.stringValue == userId
        })
        return SandboxReply(.array(list.map { .object(spaceMeta($0, for: userId)) }))
    }

    /// The most recently updated space named "Inbox" that the user owns.
    func inboxSpace(_ userId: String) -> SpaceRecord? {
        sortedByUpdatedDescending(spaceOrder.compactMap { spaces[$0] }.filter {
            $0.ownerUserId == userId && !$0.isRemoved && $0.name == "Inbox"
        }).first
    }

    func getInboxSpaceInfo(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard let inbox = inboxSpace(userId) else { throw SandboxHTTPError(.notFound, "you have no Inbox space") }
        return SandboxReply(.object(spaceMeta(inbox, for: userId)))
    }

    func getUserTags(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        var latest: [String: JSONObject] = [:]
        for space in memberSpaces(userId) where !space.isRemoved {
            for id in space.tagIds {
                guard let tag = tags[id], let name = tag["name"]?.stringValue,
                      let cardId = tag["cardId"]?.stringValue, cardIsVisible(cardId) else { continue }
                let newer = (tag["updatedAt"]?.stringValue ?? "") > (latest[name]?["updatedAt"]?.stringValue ?? "")
                if latest[name] == nil || newer { latest[name] = tag }
            }
        }
        let list = latest.values.sorted {
            let a = $0["updatedAt"]?.stringValue ?? "", b = $1["updatedAt"]?.stringValue ?? ""
            return a != b ? a > b : ($0["name"]?.stringValue ?? "") < ($1["name"]?.stringValue ?? "")
        }
        return SandboxReply(.array(list.map(JSONValue.object)))
    }

    func getFavoriteSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let list: [JSONValue] = users[userId]!.favoriteSpaceIds.compactMap { id in
            guard let space = spaces[id], canView(space, userId) else { return nil }
            var meta = spaceMeta(space, for: userId)
            meta["isEdited"] = false
            return .object(meta)
        }
        return SandboxReply(.array(list))
    }

    func getFavoriteUsers(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        return SandboxReply(.array(users[userId]!.favoriteUserIds.compactMap(publicUser)))
    }

    func getFavoriteColors(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        return SandboxReply(.array(users[userId]!.favoriteColors.map(JSONValue.string)))
    }

    func getAIImages(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try requireUser(request)
        return SandboxReply([])
    }

    static let userFrozenKeys: Set<String> = [
        "id", "apiKey", "password", "email", "emailIsVerified", "cardsCreatedCount", "creditsEarned", "creditsUsed",
        "isAmbassador", "isDonor", "isModerator", "isUpgraded", "studentDiscountIsAvailable", "createdAt", "updatedAt",
    ]

    mutating func patchUser(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard let body = try request.json().objectValue else {
            throw SandboxHTTPError(.badRequest, "PATCH /user takes an object of user attributes")
        }
        var user = users[userId]!
        for (key, value) in body where !Self.userFrozenKeys.contains(key) { user.object[key] = value }
        user.object["updatedAt"] = .string(now())
        users[userId] = user
        return SandboxReply(.object(user.object))
    }

    // MARK: - Spaces

    func getSpace(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try optionalUser(request)
        let space = try requireView(request.parameter("spaceId"), userId)
        return SandboxReply(renderSpace(space, for: userId, textOnly: request.query["textOnly"] == "true"))
    }

    func getSpaces(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try optionalUser(request)
        let ids = try Self.idList(request, "spaceIds")
        let list: [JSONValue] = ids.compactMap { id in
            guard let space = spaces[id], canView(space, userId) else { return nil }
            return renderSpace(space, for: userId)
        }
        return SandboxReply(.array(list))
    }

    func getRemovedCards(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let space = try requireEdit(request.parameter("spaceId"), userId)
        let removed = space.cardIds.compactMap { cards[$0] }.filter { $0["isRemoved"]?.boolValue ?? false }
        return SandboxReply(.array(removed.map(JSONValue.object)))
    }

    func getInboxSpace(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard let inbox = inboxSpace(userId) else { throw SandboxHTTPError(.notFound, "you have no Inbox space") }
        return SandboxReply(renderSpace(inbox, for: userId))
    }

    mutating func postSpace(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let (items, wasArray) = try request.json().objectList(what: "space")
        let time = now()
        var created: [JSONObject] = []
        for item in items {
            let id = try insertSpace(item, userId: userId, time: time)
            if let space = spaces[id], let object = renderSpace(space, for: userId).objectValue { created.append(object) }
        }
        return listReply(created, wasArray: wasArray)
    }

    mutating func patchSpace(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let (items, wasArray) = try request.json().objectList(what: "space")
        let time = now()
        var out: [JSONObject] = []
        for item in items {
            let id = try item.requiredString("id", what: "space")
            var space = try requireEdit(id, userId)
            if let privacy = item["privacy"], !["open", "closed", "private"].contains(privacy.stringValue ?? "") {
                throw SandboxHTTPError(.badRequest, "space privacy must be open, closed or private")
            }
            for (key, value) in item where !Self.spaceServerKeys.contains(key) { space.meta[key] = value }
            space.meta["updatedAt"] = .string(time)
            spaces[id] = space
            out.append(spaceMeta(space, for: userId))
        }
        return listReply(out, wasArray: wasArray)
    }

    mutating func setSpacesRemoved(_ request: SandboxRequest, removed: Bool) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let (items, wasArray) = try request.json().objectList(what: "space")
        let time = now()
        var out: [JSONObject] = []
        for item in items {
            let id = try item.requiredString("id", what: "space")
            var space = try requireEdit(id, userId)
            space.meta["isRemoved"] = .bool(removed)
            if removed { space.meta["removedByUserId"] = .string(userId) } else { space.meta["removedByUserId"] = nil }
            space.meta["updatedAt"] = .string(time)
            spaces[id] = space
            out.append(spaceMeta(space, for: userId))
        }
        return listReply(out, wasArray: wasArray)
    }

    mutating func deleteSpacesPermanently(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let (items, wasArray) = try request.json().objectList(what: "space")
        var out: [JSONObject] = []
        for item in items {
            let id = try item.requiredString("id", what: "space")
            let space = try requireEdit(id, userId)
            deleteSpace(id)
            out.append(space.meta)
        }
        return listReply(out, wasArray: wasArray)
    }

    mutating func removeCollaborator(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard let body = try request.json().objectValue else {
            throw SandboxHTTPError(.badRequest, "the body must be an object with spaceId and userId")
        }
        let spaceId = try body.requiredString("spaceId", what: "request body")
        let collaboratorId = try body.requiredString("userId", what: "request body")
        var space = try requireEdit(spaceId, userId)
        guard space.collaboratorIds.contains(collaboratorId) else {
            throw SandboxHTTPError(.notFound, "user \(collaboratorId) is not a collaborator of space \(spaceId)")
        }
        space.collaboratorIds.removeAll { $0 == collaboratorId }
        space.meta["updatedAt"] = .string(now())
        spaces[spaceId] = space
        return SandboxReply(renderSpace(space, for: userId))
    }

    // MARK: - Cards

    func viewableCard(_ id: String, _ userId: String?) throws(SandboxHTTPError) -> JSONObject {
        guard let card = cards[id] else { throw SandboxHTTPError(.notFound, "card \(id) not found") }
        try requireView(card["spaceId"]?.stringValue ?? "", userId)
        return card
    }

    func editableCard(_ id: String, _ userId: String) throws(SandboxHTTPError) -> JSONObject {
        guard let card = cards[id] else { throw SandboxHTTPError(.notFound, "card \(id) not found") }
        try requireEdit(card["spaceId"]?.stringValue ?? "", userId)
        return card
    }

    func getCard(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try optionalUser(request)
        return SandboxReply(.object(try viewableCard(request.parameter("cardId"), userId)))
    }

    func getCards(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try optionalUser(request)
        let ids = try Self.idList(request, "cardIds")
        let list: [JSONValue] = ids.compactMap { id in
            guard let card = cards[id], let space = spaces[card["spaceId"]?.stringValue ?? ""], canView(space, userId) else {
                return nil
            }
            return .object(card)
        }
        return SandboxReply(.array(list))
    }

    /// Non-removed cards in non-removed spaces the user is a member of.
    func memberCards(_ userId: String, where include: (JSONObject) -> Bool) -> [JSONValue] {
        var out: [JSONValue] = []
        for space in memberSpaces(userId) where !space.isRemoved {
            for id in space.cardIds {
                guard let card = cards[id], !(card["isRemoved"]?.boolValue ?? false), include(card) else { continue }
                out.append(.object(card))
            }
        }
        return out
    }

    func getCardsByTagName(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let name = request.parameter("tagName")
        var tagged = Set<String>()
        for space in memberSpaces(userId) {
            for id in space.tagIds where tags[id]?["name"]?.stringValue == name {
                if let cardId = tags[id]?["cardId"]?.stringValue { tagged.insert(cardId) }
            }
        }
        return SandboxReply(.array(memberCards(userId) { tagged.contains($0["id"]?.stringValue ?? "") }))
    }

    func getCardsByLinkToSpace(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let target = request.parameter("spaceId")
        var found: [JSONValue] = []
        var foundSpaces: [JSONValue] = []
        for space in spaceOrder.compactMap({ spaces[$0] }) where !space.isRemoved && canView(space, userId) {
            let linking = space.cardIds.compactMap { cards[$0] }.filter {
                $0["linkToSpaceId"]?.stringValue == target && !($0["isRemoved"]?.boolValue ?? false)
            }
            guard !linking.isEmpty else { continue }
            found.append(contentsOf: linking.map(JSONValue.object))
            foundSpaces.append(.object(spaceMeta(space, for: userId)))
        }
        return SandboxReply(.object(JSONObject([("cards", .array(found)), ("spaces", .array(foundSpaces))])))
    }

    /// Case-sensitive substring search over the names of cards the user created.
    func searchCards(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard let query = try request.json()["query"]?.stringValue, !query.isEmpty else {
            throw SandboxHTTPError(.badRequest, "the body must contain query")
        }
        return SandboxReply(.array(memberCards(userId) {
            $0["userId"]?.stringValue == userId && ($0["name"]?.stringValue ?? "").contains(query)
        }))
    }

    mutating func createCards(_ items: [JSONObject], userId: String) throws(SandboxHTTPError) -> [JSONObject] {
        let time = now()
        var out: [JSONObject] = []
        for item in items {
            let spaceId = try item.requiredString("spaceId", what: "card")
            try requireEdit(spaceId, userId)
            out.append(try insertCard(item, spaceId: spaceId, userId: userId, viaPublicAPI: true, time: time))
        }
        return out
    }

    mutating func postCard(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard let body = try request.json().objectValue else {
            throw SandboxHTTPError(.badRequest, "POST /card takes one card object; use POST /card/multiple for an array")
        }
        return SandboxReply(.object(try createCards([body], userId: userId)[0]))
    }

    mutating func postCards(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard case .array = try request.json() else {
            throw SandboxHTTPError(.badRequest, "POST /card/multiple takes an array of card objects")
        }
        let items = try request.json().objectList(what: "card").items
        return SandboxReply(.array(try createCards(items, userId: userId).map(JSONValue.object)))
    }

    mutating func postCardToInbox(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard var body = try request.json().objectValue else {
            throw SandboxHTTPError(.badRequest, "POST /card/to-inbox takes one card object")
        }
        guard let inbox = inboxSpace(userId) else { throw SandboxHTTPError(.notFound, "you have no Inbox space") }
        body["spaceId"] = .string(inbox.id)
        return SandboxReply(.object(try createCards([body], userId: userId)[0]))
    }

    mutating func patchCards(_ request: SandboxRequest, multiple: Bool) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let body = try request.json()
        if multiple, body.arrayValue == nil {
            throw SandboxHTTPError(.badRequest, "PATCH /card/multiple takes an array of card objects")
        }
        if !multiple, body.objectValue == nil {
            throw SandboxHTTPError(.badRequest, "PATCH /card takes one card object; use PATCH /card/multiple for an array")
        }
        let items = try body.objectList(what: "card").items
        let time = now()
        var out: [JSONObject] = []
        for item in items {
            _ = try editableCard(try item.requiredString("id", what: "card"), userId)
            out.append(try patchCard(item, userId: userId, time: time))
        }
        return listReply(out, wasArray: multiple)
    }

    /// `PATCH /card/update-counter` (no auth): `{cardId, shouldIncrement | shouldDecrement}`.
    mutating func updateCounter(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        guard let body = try request.json().objectValue else { throw SandboxHTTPError(.badRequest, "the body must be an object") }
        let id = try body.requiredString("cardId", what: "request body")
        guard var card = cards[id] else { throw SandboxHTTPError(.notFound, "card \(id) not found") }
        let step = body["shouldIncrement"]?.boolValue == true ? 1 : body["shouldDecrement"]?.boolValue == true ? -1 : 0
        guard step != 0 else { throw SandboxHTTPError(.badRequest, "send shouldIncrement: true or shouldDecrement: true") }
        card["counterValue"] = .int((card["counterValue"]?.intValue ?? 0) + step)
        cards[id] = card
        return SandboxReply(.object(card))
    }

    mutating func changeCards(_ request: SandboxRequest, action: CardAction) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let (items, wasArray) = try request.json().objectList(what: "card")
        let time = now()
        var out: [JSONObject] = []
        for item in items {
            let id = try item.requiredString("id", what: "card")
            _ = try editableCard(id, userId)
            switch action {
            case .remove: out.append(try setCardRemoved(id, removed: true, userId: userId, time: time))
            case .restore: out.append(try setCardRemoved(id, removed: false, userId: userId, time: time))
            case .deletePermanently: out.append(try deleteCard(id, userId: userId, time: time))
            }
        }
        return listReply(out, wasArray: wasArray)
    }

    enum CardAction { case remove, restore, deletePermanently }

    // MARK: - Connections, connection types, boxes

    enum ItemKind: String {
        case connection, connectionType = "connection type", box, list

        var frozen: Set<String> {
            switch self {
            case .box, .list: ["id", "spaceId", "userId", "createdAt", "updatedAt"]
            case .connection, .connectionType: ["id", "spaceId", "createdAt", "updatedAt"]
            }
        }
    }

    func table(_ kind: ItemKind) -> [String: JSONObject] {
        switch kind {
        case .connection: connections
        case .connectionType: connectionTypes
        case .box: boxes
        case .list: lists
        }
    }

    mutating func store(_ object: JSONObject?, id: String, kind: ItemKind) {
        switch kind {
        case .connection: connections[id] = object
        case .connectionType: connectionTypes[id] = object
        case .box: boxes[id] = object
        case .list: lists[id] = object
        }
    }

    /// GET of a connection, connection type or box: documented without auth.
    func getItem(_ request: SandboxRequest, kind: ItemKind, parameter: String) throws(SandboxHTTPError) -> SandboxReply {
        let id = request.parameter(parameter)
        guard let item = table(kind)[id] else { throw SandboxHTTPError(.notFound, "\(kind.rawValue) \(id) not found") }
        return SandboxReply(.object(item))
    }

    mutating func postItems(_ request: SandboxRequest, kind: ItemKind) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let (items, wasArray) = try request.json().objectList(what: kind.rawValue)
        let time = now()
        var out: [JSONObject] = []
        for item in items {
            let spaceId = try item.requiredString("spaceId", what: kind.rawValue)
            try requireEdit(spaceId, userId)
            if kind == .connection && !legacy {
                // "Object must contain spaceId and color"; ends are startItemId/endItemId (apiDocs.md, Connections,
                // commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7).
                guard item["color"]?.stringValue?.isEmpty == false else {
                    throw SandboxHTTPError(.badRequest, "the connection must contain color")
                }
                guard item["startItemId"] != nil, item["endItemId"] != nil else {
                    throw SandboxHTTPError(.badRequest, "the connection must contain startItemId and endItemId")
                }
            }
            switch kind {
            case .list: out.append(try insertList(item, spaceId: spaceId, userId: userId, time: time))
            case .connection: out.append(try insertConnection(item, spaceId: spaceId, userId: userId, time: time))
            case .connectionType: out.append(try insertConnectionType(item, spaceId: spaceId, userId: userId, time: time))
            case .box: out.append(try insertBox(item, spaceId: spaceId, userId: userId, time: time))
            }
        }
        return listReply(out, wasArray: wasArray)
    }

    mutating func patchItems(_ request: SandboxRequest, kind: ItemKind) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let (items, wasArray) = try request.json().objectList(what: kind.rawValue)
        let time = now()
        var out: [JSONObject] = []
        for item in items {
            let id = try item.requiredString("id", what: kind.rawValue)
            guard let existing = table(kind)[id] else { throw SandboxHTTPError(.notFound, "\(kind.rawValue) \(id) not found") }
            let spaceId = existing["spaceId"]?.stringValue ?? ""
            try requireEdit(spaceId, userId)
            let updated = Self.patched(existing, with: item, frozen: kind.frozen, time: time)
            if kind == .connection {
                let ends = Self.connectionEnds(updated)
                for itemId in [ends.start, ends.end] where !isItem(itemId ?? "", in: spaceId) {
                    throw SandboxHTTPError(.badRequest, "connection end \(itemId ?? "(missing)") is not a card or box in space \(spaceId)")
                }
            }
            store(updated, id: id, kind: kind)
            touchSpace(spaceId, by: userId, edited: false, at: time)
            out.append(updated)
        }
        return listReply(out, wasArray: wasArray)
    }

    mutating func deleteItems(_ request: SandboxRequest, kind: ItemKind) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let (items, wasArray) = try request.json().objectList(what: kind.rawValue)
        let time = now()
        var out: [JSONObject] = []
        for item in items {
            let id = try item.requiredString("id", what: kind.rawValue)
            guard let existing = table(kind)[id] else { throw SandboxHTTPError(.notFound, "\(kind.rawValue) \(id) not found") }
            let spaceId = existing["spaceId"]?.stringValue ?? ""
            try requireEdit(spaceId, userId)
            store(nil, id: id, kind: kind)
            if var space = spaces[spaceId] {
                switch kind {
                case .connection: space.connectionIds.removeAll { $0 == id }
                case .connectionType: space.connectionTypeIds.removeAll { $0 == id }
                case .box: space.boxIds.removeAll { $0 == id }
                case .list: space.listIds.removeAll { $0 == id }
                }
                spaces[spaceId] = space
            }
            touchSpace(spaceId, by: userId, edited: false, at: time)
            out.append(existing)
        }
        return listReply(out, wasArray: wasArray)
    }

    // MARK: - Tags

    func getTagsByName(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let name = request.parameter("tagName")
        var out: [JSONValue] = []
        for space in memberSpaces(userId) {
            for id in space.tagIds where tags[id]?["name"]?.stringValue == name { out.append(.object(tags[id]!)) }
        }
        return SandboxReply(.array(out))
    }

    func getTagsByCard(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let card = try viewableCard(request.parameter("cardId"), userId)
        let cardId = card["id"]?.stringValue ?? ""
        let space = spaces[card["spaceId"]?.stringValue ?? ""]
        let list = (space?.tagIds ?? []).compactMap { tags[$0] }.filter { $0["cardId"]?.stringValue == cardId }
        return SandboxReply(.array(list.map(JSONValue.object)))
    }

    mutating func patchTagColor(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        guard let body = try request.json().objectValue else { throw SandboxHTTPError(.badRequest, "the body must be an object with name and color") }
        let name = try body.requiredString("name", what: "request body")
        let color = try body.requiredString("color", what: "request body")
        let time = now()
        var out: [JSONValue] = []
        for space in memberSpaces(userId) {
            for id in space.tagIds where tags[id]?["name"]?.stringValue == name {
                tags[id]?["color"] = .string(color)
                tags[id]?["updatedAt"] = .string(time)
                out.append(.object(tags[id]!))
            }
        }
        return SandboxReply(.array(out))
    }

    // MARK: - Notifications

    func getNotifications(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try requireUser(request)
        let mine = notifications.filter { $0["recipientUserId"]?.stringValue == userId }
        return SandboxReply(.array(mine.suffix(50).reversed().map(JSONValue.object)))
    }
}
