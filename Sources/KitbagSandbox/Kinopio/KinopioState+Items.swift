import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// Creating and changing entities. Server-owned keys are set here; every other key a client
/// sends is stored verbatim, in the order it was sent.
extension KinopioState {
    /// "Limited to 4000 characters" (kinopio-client src/data/apiDocs.md, card `name`, commit
    /// 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7); the seed page's 2,000 is out of date.
    static let maxCardNameLength = 4000

    static let tagPalette = ["#b0d5f5", "#f5c7b0", "#c9f5b0", "#e3b0f5", "#f5eeb0", "#b0f5e6", "#f5b0cf", "#d1d1d1"]

    static func defaultTagColor(_ name: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for b in name.utf8 { hash = (hash ^ UInt32(b)) &* 16_777_619 }
        return tagPalette[Int(hash % UInt32(tagPalette.count))]
    }

    /// `[[tag]]` names in a card name, first appearance first, without duplicates.
    static func tagNames(in name: String) -> [String] {
        var out: [String] = []
        var rest = Substring(name)
        while let open = rest.range(of: "[["), let close = rest[open.upperBound...].range(of: "]]") {
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if !inner.isEmpty, !inner.contains("[") , !out.contains(inner) { out.append(inner) }
            rest = rest[close.upperBound...]
        }
        return out
    }

    static func validateCardName(_ value: JSONValue?, required: Bool) throws(SandboxHTTPError) {
        guard let value else {
            if required { throw SandboxHTTPError(.badRequest, "the card must contain name") }
            return
        }
        guard let name = value.stringValue else { throw SandboxHTTPError(.badRequest, "card name must be a string") }
        if name.count > maxCardNameLength {
            throw SandboxHTTPError(.badRequest, "card name is \(name.count) characters; the limit is \(maxCardNameLength)")
        }
    }

    // MARK: Cards

    static let cardServerKeys: Set<String> = ["id", "spaceId", "userId", "createdAt", "updatedAt", "nameUpdatedAt", "nameUpdatedByUserId", "tags"]

    /// Creates a card in `spaceId` (permission already checked). Explicit `tags` objects on the card
    /// become tag entities first; `[[names]]` in the card name without one get a tag in the default color.
    @discardableResult
    mutating func insertCard(
        _ body: JSONObject, spaceId: String, userId: String, viaPublicAPI: Bool, time: String,
        requestedID: JSONValue? = nil, deriveTags: Bool = true
    ) throws(SandboxHTTPError) -> JSONObject {
        try Self.validateCardName(body["name"], required: true)
        guard var space = spaces[spaceId] else { throw SandboxHTTPError(.notFound, "space \(spaceId) not found") }
        if let listValue = body["listId"], !listValue.isNull {
            guard let listId = listValue.stringValue, lists[listId]?["spaceId"]?.stringValue == spaceId else {
                throw SandboxHTTPError(.badRequest, "card listId \(listValue) is not a list in space \(spaceId)")
            }
        }
        let id = claimID(requestedID ?? body["id"], kind: .card)
        var card = JSONObject()
        card["id"] = .string(id)
        for (key, value) in body where !Self.cardServerKeys.contains(key) { card[key] = value }
        let position = space.cardIds.count
        if card["x"] == nil { card["x"] = .int(100 + (position % 12) * 24) }
        if card["y"] == nil { card["y"] = .int(120 + (position % 12) * 24) }
        if card["z"] == nil { card["z"] = .int(position + 1) }
        if card["isRemoved"] == nil { card["isRemoved"] = false }
        card["spaceId"] = .string(spaceId)
        card["userId"] = .string(userId)
        card["createdAt"] = .string(time)
        card["updatedAt"] = .string(time)
        card["nameUpdatedAt"] = .string(time)
        card["nameUpdatedByUserId"] = .string(userId)
        if viaPublicAPI {
            card["isCreatedThroughPublicApi"] = true
            card["shouldUpdateUrlPreview"] = true
        }
        cards[id] = card
        space.cardIds.append(id)
        spaces[spaceId] = space

        if case .array(let explicit)? = body["tags"] {
            for tag in explicit {
                switch tag {
                case .string(let name): try insertTag(JSONObject([("name", .string(name))]), cardId: id, time: time)
                case .object(let object): try insertTag(object, cardId: id, time: time)
                default: throw SandboxHTTPError(.badRequest, "card tags must be tag objects or tag names")
                }
            }
        }
        if deriveTags { syncTags(cardId: id, removeMissing: false, time: time) }
        if var user = users[userId] {
            user.object["cardsCreatedCount"] = .int((user.object["cardsCreatedCount"]?.intValue ?? 0) + 1)
            users[userId] = user
        }
        touchSpace(spaceId, by: userId, edited: true, at: time)
        notifyMembers(cardId: id, spaceId: spaceId, by: userId, time: time)
        return cards[id] ?? card
    }

    /// Applies a PATCH to a card (permission already checked); `id`, `spaceId` and server keys are not patchable.
    mutating func patchCard(_ body: JSONObject, userId: String, time: String) throws(SandboxHTTPError) -> JSONObject {
        let id = try body.requiredString("id", what: "card")
        guard var card = cards[id] else { throw SandboxHTTPError(.notFound, "card \(id) not found") }
        try Self.validateCardName(body["name"], required: false)
        let oldName = card["name"]
        for (key, value) in body where !Self.cardServerKeys.contains(key) { card[key] = value }
        card["updatedAt"] = .string(time)
        if let newName = body["name"], newName != oldName {
            card["nameUpdatedAt"] = .string(time)
            card["nameUpdatedByUserId"] = .string(userId)
        }
        cards[id] = card
        if body["name"] != nil { syncTags(cardId: id, removeMissing: true, time: time) }
        if let spaceId = card["spaceId"]?.stringValue { touchSpace(spaceId, by: userId, edited: true, at: time) }
        return card
    }

    /// Soft-removes or restores a card.
    mutating func setCardRemoved(_ id: String, removed: Bool, userId: String, time: String) throws(SandboxHTTPError) -> JSONObject {
        guard var card = cards[id] else { throw SandboxHTTPError(.notFound, "card \(id) not found") }
        card["isRemoved"] = .bool(removed)
        card["updatedAt"] = .string(time)
        cards[id] = card
        if let spaceId = card["spaceId"]?.stringValue { touchSpace(spaceId, by: userId, edited: true, at: time) }
        return card
    }

    /// Deletes a card for good, with its tags and the connections that end at it.
    mutating func deleteCard(_ id: String, userId: String, time: String) throws(SandboxHTTPError) -> JSONObject {
        guard let card = cards.removeValue(forKey: id) else { throw SandboxHTTPError(.notFound, "card \(id) not found") }
        guard let spaceId = card["spaceId"]?.stringValue, var space = spaces[spaceId] else { return card }
        space.cardIds.removeAll { $0 == id }
        space.tagIds.removeAll { tagId in
            guard tags[tagId]?["cardId"]?.stringValue == id else { return false }
            tags[tagId] = nil
            return true
        }
        space.connectionIds.removeAll { connectionId in
            guard let connection = connections[connectionId] else { return true }
            let ends = Self.connectionEnds(connection)
            guard ends.start == id || ends.end == id else { return false }
            connections[connectionId] = nil
            return true
        }
        spaces[spaceId] = space
        touchSpace(spaceId, by: userId, edited: true, at: time)
        return card
    }

    // MARK: Tags

    /// Creates a tag entity for a card unless the card already has a tag with that name.
    mutating func insertTag(_ body: JSONObject, cardId: String, time: String) throws(SandboxHTTPError) {
        guard let name = body["name"]?.stringValue, !name.isEmpty else {
            throw SandboxHTTPError(.badRequest, "a tag must contain name")
        }
        guard let card = cards[cardId], let spaceId = card["spaceId"]?.stringValue, var space = spaces[spaceId] else {
            throw SandboxHTTPError(.badRequest, "tag \(name) refers to card \(cardId), which does not exist")
        }
        if space.tagIds.contains(where: { tags[$0]?["cardId"]?.stringValue == cardId && tags[$0]?["name"]?.stringValue == name }) {
            return
        }
        let id = claimID(body["id"], kind: .tag)
        var tag = JSONObject()
        tag["id"] = .string(id)
        tag["name"] = .string(name)
        tag["color"] = body["color"] ?? .string(colorForNewTag(name, in: space))
        for (key, value) in body where !["id", "name", "color", "cardId", "spaceId", "createdAt", "updatedAt"].contains(key) {
            tag[key] = value
        }
        tag["cardId"] = .string(cardId)
        tag["spaceId"] = .string(spaceId)
        tag["createdAt"] = .string(time)
        tag["updatedAt"] = .string(time)
        tags[id] = tag
        space.tagIds.append(id)
        spaces[spaceId] = space
    }

    /// A new tag takes the colour of a same-named tag in the space, else a colour derived from its name.
    func colorForNewTag(_ name: String, in space: SpaceRecord) -> String {
        for id in space.tagIds where tags[id]?["name"]?.stringValue == name {
            if let color = tags[id]?["color"]?.stringValue { return color }
        }
        return Self.defaultTagColor(name)
    }

    /// Makes the card's tag entities follow the `[[names]]` in its name.
    mutating func syncTags(cardId: String, removeMissing: Bool, time: String) {
        guard let card = cards[cardId], let spaceId = card["spaceId"]?.stringValue, var space = spaces[spaceId] else { return }
        let names = Self.tagNames(in: card["name"]?.stringValue ?? "")
        if removeMissing {
            space.tagIds.removeAll { id in
                guard let tag = tags[id], tag["cardId"]?.stringValue == cardId else { return false }
                guard !names.contains(tag["name"]?.stringValue ?? "") else { return false }
                tags[id] = nil
                return true
            }
            spaces[spaceId] = space
        }
        for name in names {
            try? insertTag(JSONObject([("name", .string(name))]), cardId: cardId, time: time)
        }
    }

    // MARK: Connections, connection types, boxes

    /// Whether `id` is a card or a box in the space: a connection may end at either (apiDocs.md,
    /// connection `startItemId`/`endItemId`: "The card or box", commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7).
    func isItem(_ id: String, in spaceId: String) -> Bool {
        cards[id]?["spaceId"]?.stringValue == spaceId || boxes[id]?["spaceId"]?.stringValue == spaceId
    }

    static func connectionEnds(_ connection: JSONObject) -> (start: String?, end: String?) {
        ((connection["startCardId"] ?? connection["startItemId"])?.stringValue,
         (connection["endCardId"] ?? connection["endItemId"])?.stringValue)
    }

    /// Creates a connection. Accepts the documented shape (`startCardId`/`endCardId` + `connectionTypeId`)
    /// and the current client's (`startItemId`/`endItemId` with `name`/`color`). References are
    /// rewritten through `cardMap`/`typeMap` (used when a whole space is posted with new ids).
    @discardableResult
    mutating func insertConnection(
        _ body: JSONObject, spaceId: String, userId: String, time: String,
        cardMap: [String: String] = [:], typeMap: [String: String] = [:]
    ) throws(SandboxHTTPError) -> JSONObject {
        guard var space = spaces[spaceId] else { throw SandboxHTTPError(.notFound, "space \(spaceId) not found") }
        var connection = JSONObject()
        let id = claimID(body["id"], kind: .connection)
        connection["id"] = .string(id)
        for (key, value) in body where !["id", "spaceId", "createdAt", "updatedAt"].contains(key) { connection[key] = value }
        for key in ["startCardId", "startItemId", "endCardId", "endItemId"] {
            if let old = connection[key]?.stringValue, let new = cardMap[old] { connection[key] = .string(new) }
        }
        if let old = connection["connectionTypeId"]?.stringValue, let new = typeMap[old] {
            connection["connectionTypeId"] = .string(new)
        }
        let ends = Self.connectionEnds(connection)
        guard let start = ends.start, let end = ends.end else {
            throw SandboxHTTPError(.badRequest, "the connection must contain startCardId and endCardId (or startItemId and endItemId)")
        }
        for itemId in [start, end] where !isItem(itemId, in: spaceId) {
            throw SandboxHTTPError(.badRequest, "connection end \(itemId) is not a card or box in space \(spaceId)")
        }
        if legacy, let typeValue = connection["connectionTypeId"], !typeValue.isNull {
            guard let typeId = typeValue.stringValue, connectionTypes[typeId]?["spaceId"]?.stringValue == spaceId else {
                throw SandboxHTTPError(.badRequest, "connection type \(typeValue) is not in space \(spaceId)")
            }
        }
        connection["spaceId"] = .string(spaceId)
        if connection["userId"] == nil { connection["userId"] = .string(userId) }
        connection["createdAt"] = .string(time)
        connection["updatedAt"] = .string(time)
        connections[id] = connection
        space.connectionIds.append(id)
        spaces[spaceId] = space
        touchSpace(spaceId, by: userId, edited: false, at: time)
        return connection
    }

    @discardableResult
    mutating func insertConnectionType(_ body: JSONObject, spaceId: String, userId: String, time: String) throws(SandboxHTTPError) -> JSONObject {
        guard var space = spaces[spaceId] else { throw SandboxHTTPError(.notFound, "space \(spaceId) not found") }
        var type = JSONObject()
        let id = claimID(body["id"], kind: .connectionType)
        type["id"] = .string(id)
        for (key, value) in body where !["id", "spaceId", "createdAt", "updatedAt"].contains(key) { type[key] = value }
        if type["name"] == nil { type["name"] = .string("Connection Type \(space.connectionTypeIds.count + 1)") }
        if type["color"] == nil { type["color"] = .string(Self.tagPalette[space.connectionTypeIds.count % Self.tagPalette.count]) }
        type["spaceId"] = .string(spaceId)
        if type["userId"] == nil { type["userId"] = .string(userId) }
        type["createdAt"] = .string(time)
        type["updatedAt"] = .string(time)
        connectionTypes[id] = type
        space.connectionTypeIds.append(id)
        spaces[spaceId] = space
        touchSpace(spaceId, by: userId, edited: false, at: time)
        return type
    }

    @discardableResult
    mutating func insertBox(_ body: JSONObject, spaceId: String, userId: String, time: String) throws(SandboxHTTPError) -> JSONObject {
        guard var space = spaces[spaceId] else { throw SandboxHTTPError(.notFound, "space \(spaceId) not found") }
        var box = JSONObject()
        let id = claimID(body["id"], kind: .box)
        box["id"] = .string(id)
        for (key, value) in body where !["id", "spaceId", "userId", "createdAt", "updatedAt"].contains(key) { box[key] = value }
        if box["name"] == nil { box["name"] = "Box" }
        box["spaceId"] = .string(spaceId)
        box["userId"] = .string(userId)
        box["createdAt"] = .string(time)
        box["updatedAt"] = .string(time)
        boxes[id] = box
        space.boxIds.append(id)
        spaces[spaceId] = space
        touchSpace(spaceId, by: userId, edited: false, at: time)
        return box
    }

    @discardableResult
    mutating func insertList(_ body: JSONObject, spaceId: String, userId: String, time: String) throws(SandboxHTTPError) -> JSONObject {
        guard var space = spaces[spaceId] else { throw SandboxHTTPError(.notFound, "space \(spaceId) not found") }
        var list = JSONObject()
        let id = claimID(body["id"], kind: .list)
        list["id"] = .string(id)
        for (key, value) in body where !["id", "spaceId", "userId", "createdAt", "updatedAt"].contains(key) { list[key] = value }
        if list["name"] == nil { list["name"] = "List" }
        if list["shouldUpdateList"] == nil { list["shouldUpdateList"] = false }
        list["spaceId"] = .string(spaceId)
        list["userId"] = .string(userId)
        list["createdAt"] = .string(time)
        list["updatedAt"] = .string(time)
        lists[id] = list
        space.listIds.append(id)
        spaces[spaceId] = space
        touchSpace(spaceId, by: userId, edited: false, at: time)
        return list
    }

    /// PATCH for connections, connection types and boxes: every key but id, spaceId and server keys.
    static func patched(_ object: JSONObject, with body: JSONObject, frozen: Set<String>, time: String) -> JSONObject {
        var out = object
        for (key, value) in body where !frozen.contains(key) { out[key] = value }
        out["updatedAt"] = .string(time)
        return out
    }

    // MARK: Spaces

    static let spaceServerKeys: Set<String> = [
        "id", "ownerUserId", "createdAt", "updatedAt", "editedAt", "editedByUserId", "isRemoved", "removedByUserId",
        "isRestrictedByModerator", "users", "collaborators", "cards", "connections", "connectionTypes", "boxes", "tags",
        "collaboratorKey", "readOnlyKey", "url", "visits", "lists", "lines", "drawingStrokes", "removedCards",
    ]

    static func urlSlug(_ name: String) -> String {
        let lowered = name.lowercased()
        var slug = ""
        for scalar in lowered.unicodeScalars {
            if scalar.isASCII, CharacterSet.alphanumerics.contains(scalar) { slug.unicodeScalars.append(scalar) }
            else if !slug.hasSuffix("-") { slug.append("-") }
        }
        slug = slug.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return slug.isEmpty ? "space" : slug
    }

    /// Creates a space owned by `userId`. Items posted inside it (`cards`, `connectionTypes`,
    /// `connections`, `boxes`, `tags`) are created too; their ids are kept when free, and
    /// references between them are rewritten when an id had to change.
    @discardableResult
    mutating func insertSpace(_ body: JSONObject, userId: String, time: String) throws(SandboxHTTPError) -> String {
        let id = claimID(body["id"], kind: .space)
        var meta = JSONObject()
        meta["id"] = .string(id)
        for (key, value) in body where !Self.spaceServerKeys.contains(key) { meta[key] = value }
        if meta["name"] == nil { meta["name"] = "Untitled Space" }
        if meta["privacy"] == nil { meta["privacy"] = "private" }
        guard let privacy = meta["privacy"]?.stringValue, ["open", "closed", "private"].contains(privacy) else {
            throw SandboxHTTPError(.badRequest, "space privacy must be open, closed or private")
        }
        meta["ownerUserId"] = .string(userId)
        meta["createdAt"] = .string(time)
        meta["updatedAt"] = .string(time)
        meta["editedAt"] = .string(time)
        meta["editedByUserId"] = .string(userId)
        meta["isRemoved"] = false
        meta["collaboratorKey"] = .string(ids.uuid())
        meta["readOnlyKey"] = .string(ids.uuid())
        meta["url"] = .string("https://kinopio.club/\(Self.urlSlug(meta["name"]?.stringValue ?? ""))-\(id)")
        meta["visits"] = 0
        var record = SpaceRecord(meta: meta)
        if case .array(let lines)? = body["lines"] { record.lines = lines }
        if case .array(let strokes)? = body["drawingStrokes"] { record.drawingStrokes = strokes }
        spaces[id] = record
        spaceOrder.append(id)

        func list(_ key: String) throws(SandboxHTTPError) -> [JSONObject] {
            guard let value = body[key], !value.isNull else { return [] }
            return try value.objectList(what: "space \(key)").items
        }
        var typeMap: [String: String] = [:]
        for type in try list("connectionTypes") {
            let created = try insertConnectionType(type, spaceId: id, userId: userId, time: time)
            if let old = type["id"]?.stringValue, let new = created["id"]?.stringValue, old != new { typeMap[old] = new }
        }
        var listMap: [String: String] = [:]
        for item in try list("lists") {
            let created = try insertList(item, spaceId: id, userId: userId, time: time)
            if let old = item["id"]?.stringValue, let new = created["id"]?.stringValue, old != new { listMap[old] = new }
        }
        var cardMap: [String: String] = [:]
        var createdCardIds: [String] = []
        for card in try list("cards") + list("removedCards") {
            var body = card
            body["tags"] = nil
            if let old = body["listId"]?.stringValue, let new = listMap[old] { body["listId"] = .string(new) }
            let created = try insertCard(body, spaceId: id, userId: userId, viaPublicAPI: false, time: time, deriveTags: false)
            let new = created["id"]?.stringValue ?? ""
            if let old = card["id"]?.stringValue, old != new { cardMap[old] = new }
            createdCardIds.append(new)
        }
        for tag in try list("tags") {
            let old = tag["cardId"]?.stringValue ?? ""
            try insertTag(tag, cardId: cardMap[old] ?? old, time: time)
        }
        for cardId in createdCardIds { syncTags(cardId: cardId, removeMissing: false, time: time) }
        for box in try list("boxes") {
            let created = try insertBox(box, spaceId: id, userId: userId, time: time)
            if let old = box["id"]?.stringValue, let new = created["id"]?.stringValue, old != new { cardMap[old] = new }
        }
        for connection in try list("connections") {
            try insertConnection(connection, spaceId: id, userId: userId, time: time, cardMap: cardMap, typeMap: typeMap)
        }
        return id
    }

    /// Deletes a space and everything in it.
    mutating func deleteSpace(_ id: String) {
        guard let space = spaces.removeValue(forKey: id) else { return }
        spaceOrder.removeAll { $0 == id }
        for cardId in space.cardIds { cards[cardId] = nil }
        for itemId in space.connectionIds { connections[itemId] = nil }
        for itemId in space.connectionTypeIds { connectionTypes[itemId] = nil }
        for itemId in space.boxIds { boxes[itemId] = nil }
        for itemId in space.tagIds { tags[itemId] = nil }
        for itemId in space.listIds { lists[itemId] = nil }
        for userId in userOrder {
            users[userId]?.favoriteSpaceIds.removeAll { $0 == id }
        }
    }

    // MARK: Notifications

    /// "Notifications are created when another user adds a card in a space that you're a member."
    mutating func notifyMembers(cardId: String, spaceId: String, by userId: String, time: String) {
        guard let space = spaces[spaceId], let card = cards[cardId] else { return }
        let recipients = ([space.ownerUserId] + space.collaboratorIds).filter { $0 != userId && users[$0] != nil }
        for recipient in recipients {
            var user = JSONObject()
            user["id"] = .string(userId)
            user["name"] = users[userId]?.object["name"] ?? .null
            user["color"] = users[userId]?.object["color"] ?? .null
            var spaceInfo = JSONObject()
            for key in ["id", "name", "privacy", "background"] { spaceInfo[key] = space.meta[key] ?? .null }
            notifications.append(JSONObject([
                ("id", .string(ids.next())),
                ("type", "addCard"),
                ("cardId", .string(cardId)),
                ("spaceId", .string(spaceId)),
                ("userId", .string(userId)),
                ("recipientUserId", .string(recipient)),
                ("isRead", false),
                ("isEmailed", false),
                ("card", .object(JSONObject([("id", .string(cardId)), ("name", card["name"] ?? "")]))),
                ("space", .object(spaceInfo)),
                ("user", .object(user)),
                ("createdAt", .string(time)),
                ("updatedAt", .string(time)),
            ]))
        }
    }
}
