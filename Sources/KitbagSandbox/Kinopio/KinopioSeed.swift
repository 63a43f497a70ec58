import Foundation
import KitbagCore
import KitbagSandboxCore

/// Builds the starting state for a seed. Ids come from a fixed generator and timestamps from
/// fixed dates, so two sandboxes with the same seed and credentials hold identical data.
enum KinopioSeeder {
    /// 2024-03-01T09:00:00.000Z, the first seeded timestamp.
    static let epoch = SandboxTime.millis(year: 2024, month: 3, day: 1, hour: 9)

    static func state(seed: SandboxSeed, credentials: [String]) -> KinopioState {
        var builder = Builder()
        let keys = credentials.isEmpty ? [KinopioSandbox.defaultCredential] : credentials
        switch seed {
        case .empty:
            builder.addUsers(keys: keys, named: false)
        case .demo:
            var all = keys
            if all.count < 2 { all.append(KinopioSandbox.defaultCollaboratorKey) }
            if all.count < 3 { all.append(KinopioSandbox.defaultOutsiderKey) }
            builder.addUsers(keys: all, named: true)
            builder.addDemoContent()
        case .generated(let count):
            builder.addUsers(keys: keys, named: false)
            builder.addGeneratedContent(cards: count)
        }
        var state = builder.state
        // Ids of entities created later through the API come from their own stream.
        state.ids = SandboxIDGenerator(seed: 0x4E45_5749_4453_2121)
        return state
    }

    struct Builder {
        var state = KinopioState()
        var minute: Int64 = 0

        init() {
            state.ids = SandboxIDGenerator(seed: 0x5345_4544_4B49_4E4F)
        }

        /// The next seeded timestamp, one minute after the previous one.
        mutating func tick() -> String {
            minute += 1
            return SandboxTime.iso8601(millis: KinopioSeeder.epoch + minute * 60_000)
        }

        var ownerId: String { state.userOrder[0] }

        // MARK: Users

        static let userProfiles: [(name: String, color: String, description: String)] = [
            ("ada-sandbox", "#c9f5b0", "Maps ideas into spaces. Owner of the demo account."),
            ("grace-sandbox", "#f5c7b0", "Collaborator on the garden project."),
            ("outsider-sandbox", "#b0d5f5", "Owns nothing here; used to check permissions."),
        ]

        mutating func addUsers(keys: [String], named: Bool) {
            for (index, key) in keys.enumerated() {
                let id = state.ids.next()
                let time = tick()
                let profile = named && index < Self.userProfiles.count
                    ? Self.userProfiles[index]
                    : (name: index == 0 ? "sandbox-owner" : "sandbox-user-\(index + 1)", color: "#d1d1d1", description: "")
                let user = JSONObject([
                    ("id", .string(id)),
                    ("name", .string(profile.name)),
                    ("color", .string(profile.color)),
                    ("description", .string(profile.description)),
                    ("website", index == 0 ? "https://example.com/ada" : .null),
                    ("email", .string("\(profile.name)@example.com")),
                    ("emailIsVerified", true),
                    ("isUpgraded", .bool(index == 0)),
                    ("isDonor", false),
                    ("isAmbassador", false),
                    ("isModerator", false),
                    ("cardsCreatedCount", 0),
                    ("creditsEarned", 0),
                    ("creditsUsed", 0),
                    ("defaultCardBackgroundColor", .null),
                    ("defaultConnectionControlPoint", .null),
                    ("filterShowAbsoluteDates", false),
                    ("newSpacesAreBlank", false),
                    ("shouldEmailBulletin", true),
                    ("shouldEmailNotifications", true),
                    ("shouldEmailWeeklyReview", true),
                    ("shouldUseLastConnectionType", true),
                    ("lastSpaceId", .null),
                    ("createdAt", .string(time)),
                    ("updatedAt", .string(time)),
                ])
                state.users[id] = KinopioState.UserRecord(object: user, apiKey: key)
                state.userOrder.append(id)
                if state.userByKey[key] == nil { state.userByKey[key] = id }
            }
        }

        // MARK: Helpers

        mutating func space(_ fields: [(String, JSONValue)], owner: String? = nil) -> String {
            // insertSpace cannot fail for seed input without nested items.
            (try? state.insertSpace(JSONObject(fields), userId: owner ?? ownerId, time: tick())) ?? ""
        }

        @discardableResult
        mutating func card(_ spaceId: String, _ name: String, x: Int, y: Int, by user: String? = nil,
                           _ extra: [(String, JSONValue)] = []) -> String {
            var body = JSONObject([("name", .string(name)), ("x", .int(x)), ("y", .int(y))])
            for (key, value) in extra { body[key] = value }
            let card = try? state.insertCard(body, spaceId: spaceId, userId: user ?? ownerId, viaPublicAPI: false, time: tick())
            return card?["id"]?.stringValue ?? ""
        }

        mutating func connectionType(_ spaceId: String, _ name: String, _ color: String) -> String {
            let body = JSONObject([("name", .string(name)), ("color", .string(color))])
            let type = try? state.insertConnectionType(body, spaceId: spaceId, userId: ownerId, time: tick())
            return type?["id"]?.stringValue ?? ""
        }

        mutating func connect(_ spaceId: String, _ start: String, _ end: String, type: String?,
                              _ extra: [(String, JSONValue)] = []) {
            let a = state.cards[start], b = state.cards[end]
            let x1 = (a?["x"]?.intValue ?? 0) + 60, y1 = (a?["y"]?.intValue ?? 0) + 20
            let dx = (b?["x"]?.intValue ?? 0) + 60 - x1, dy = (b?["y"]?.intValue ?? 0) + 20 - y1
            // Ends by item id as the current server stores them (kinopio-client src/data/hello.json, commit
            // 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7); older connections still point at a legacy type and
            // have no name or colour of their own.
            var body = JSONObject()
            body["startItemId"] = .string(start)
            body["endItemId"] = .string(end)
            if let type { body["connectionTypeId"] = .string(type) }
            body["path"] = .string("m\(x1),\(y1) q\(dx / 2),\(dy / 2 - 40) \(dx),\(dy)")
            body["controlPoint"] = .null
            body["directionIsVisible"] = false
            body["labelIsVisible"] = false
            for (key, value) in extra { body[key] = value }
            _ = try? state.insertConnection(body, spaceId: spaceId, userId: ownerId, time: tick())
        }

        @discardableResult
        mutating func box(_ spaceId: String, _ name: String, x: Int, y: Int, width: Int, height: Int, color: String) -> String {
            let body = JSONObject([
                ("name", .string(name)), ("x", .int(x)), ("y", .int(y)),
                ("resizeWidth", .int(width)), ("resizeHeight", .int(height)),
                ("color", .string(color)), ("fill", "filled"), ("isLocked", false),
            ])
            return (try? state.insertBox(body, spaceId: spaceId, userId: ownerId, time: tick()))?["id"]?.stringValue ?? ""
        }

        /// A list made at the space's creation time, leaving the space's timestamps as they were.
        mutating func list(_ spaceId: String, _ name: String, x: Int, y: Int, color: String) -> String {
            let body = JSONObject([
                ("name", .string(name)), ("color", .string(color)), ("x", .int(x)), ("y", .int(y)), ("z", 30),
                ("resizeWidth", 206), ("height", 206), ("frameId", 0), ("isCollapsed", false),
            ])
            let meta = state.spaces[spaceId]?.meta
            let time = meta?["createdAt"]?.stringValue ?? tick()
            let id = (try? state.insertList(body, spaceId: spaceId, userId: ownerId, time: time))?["id"]?.stringValue ?? ""
            if let meta { state.spaces[spaceId]?.meta = meta }
            return id
        }

        func cardID(named name: String, in spaceId: String) -> String {
            (state.spaces[spaceId]?.cardIds ?? []).first { state.cards[$0]?["name"]?.stringValue == name } ?? ""
        }

        mutating func removeCard(_ id: String) {
            _ = try? state.setCardRemoved(id, removed: true, userId: ownerId, time: tick())
        }

        // MARK: Demo

        mutating func addDemoContent() {
            let grace = state.userOrder[1]

            // A journal space.
            let journal = space([
                ("name", "Journal — March 1, 2024"), ("privacy", "private"), ("moonPhase", "waxing-crescent"),
                ("background", "https://bk.kinopio.club/background-stars.svg"), ("backgroundTint", "#e3e8ff"),
                ("defaultCardMaxWidth", 230), ("isHidden", false), ("isTemplate", false),
            ])
            card(journal, "Morning pages: slept well, long walk by the river", x: 80, y: 100)
            card(journal, "Grateful for [[friends]] and warm tea", x: 80, y: 180)
            card(journal, "Idea: a reading nook in the garden [[garden]]", x: 360, y: 100)
            card(journal, "Weather: 9°C, light rain ☔️", x: 360, y: 180)
            card(journal, "((comment)) remember to water the seedlings", x: 80, y: 260, [("isComment", true)])
            card(journal, "To do: call the nursery about [[tomatoes]]", x: 360, y: 260)

            // The Inbox.
            let inbox = space([("name", "Inbox"), ("privacy", "private"), ("defaultCardMaxWidth", 230)])
            card(inbox, "https://example.com/article-on-composting", x: 60, y: 80,
                 [("urlPreviewUrl", "https://example.com/article-on-composting"), ("urlPreviewTitle", "On composting"),
                  ("urlPreviewIsVisible", true)])
            let seedCard = card(inbox, "Buy heirloom seeds", x: 60, y: 160)
            card(inbox, "Read: The Overstory", x: 60, y: 240)
            card(inbox, "Ask Grace about the shared calendar", x: 60, y: 320)
            card(inbox, "Podcast episode on [[soil]] health", x: 60, y: 400)

            // The main project space: boxes, connection types, connections, tags, links, collaborators.
            let garden = space([
                ("name", "Garden Project 🌱"), ("privacy", "private"),
                ("background", "https://bk.kinopio.club/background-grid.svg"), ("backgroundTint", "#f0fff0"),
                ("defaultCardMaxWidth", 230), ("isHidden", false), ("isTemplate", false),
                ("lines", .array([.object(JSONObject([("id", "line-1"), ("y", 640), ("color", "#d1d1d1")]))])),
            ])
            state.spaces[garden]?.collaboratorIds = [grace]
            let dependsOn = connectionType(garden, "depends on", "#f5c7b0")
            let relates = connectionType(garden, "relates to", "#b0d5f5")
            let inspires = connectionType(garden, "inspires", "#e3b0f5")
            box(garden, "Spring", x: 400, y: 200, width: 500, height: 360, color: "#c9f5b0")
            box(garden, "Summer", x: 1000, y: 200, width: 420, height: 300, color: "#f5eeb0")
            let beds = card(garden, "Build raised beds [[garden]] [[spring]]", x: 430, y: 260, [("backgroundColor", "#c9f5b0")])
            let soil = card(garden, "Order compost and [[soil]]", x: 650, y: 260)
            let sow = card(garden, "Sow peas and radishes [[spring]]", x: 430, y: 380)
            let frost = card(garden, "Last frost date: around April 15", x: 650, y: 440, [("tilt", 2)])
            let tomatoes = card(garden, "Plant out [[tomatoes]]", x: 1030, y: 260, [("backgroundColor", "#f5eeb0")])
            let watering = card(garden, "Drip irrigation for the beds", x: 1030, y: 360)
            let harvest = card(garden, "Harvest & share with neighbours", x: 1200, y: 420)
            let plan = card(garden, "Garden plan overview", x: 80, y: 120, [("resizeWidth", 300), ("frameId", 1)])
            card(garden, "Journal notes from March → see journal", x: 80, y: 240,
                 [("linkToSpaceId", .string(journal))])
            card(garden, "Seeds to buy (from the Inbox)", x: 80, y: 330,
                 [("linkToSpaceId", .string(inbox)), ("linkToCardId", .string(seedCard))])
            card(garden, "Ünïcödé & emoji: 花園 🌻🐝 — café crème", x: 80, y: 420)
            let longName = "A long planning note. " + String(
                repeating: "Rotate crops each year so that the soil keeps its structure and pests do not settle in one bed. ",
                count: 15)
            // Below the cards beside it: drawn at its wrapped height (about 500 px), it would cover them otherwise.
            card(garden, longName, x: 80, y: 760, [("resizeWidth", 400)])
            card(garden, "Counter: which flowers next year? 🌼", x: 300, y: 640,
                 [("counterIsVisible", true), ("counterValue", 3)])
            card(garden, "Grace: I can bring cuttings [[friends]]", x: 650, y: 640, by: grace)
            let discarded = card(garden, "Old idea: gravel paths (dropped)", x: 900, y: 640)
            removeCard(discarded)
            connect(garden, plan, beds, type: dependsOn, [("directionIsVisible", true)])
            connect(garden, beds, sow, type: dependsOn, [("directionIsVisible", true)])
            connect(garden, soil, beds, type: relates)
            connect(garden, frost, sow, type: relates, [("labelIsVisible", true), ("labelRelativePositionX", "0.4")])
            connect(garden, tomatoes, watering, type: dependsOn, [("directionIsVisible", true), ("controlPoint", "q00,00")])
            connect(garden, harvest, plan, type: inspires)
            connect(garden, sow, harvest, type: nil, [("name", "leads to"), ("color", "#c9f5b0"), ("directionIsVisible", true)])

            // A public, open space that shows in Explore.
            let reading = space([
                ("name", "Public Reading List"), ("privacy", "open"), ("showInExplore", true),
                ("background", "https://bk.kinopio.club/background-paper.svg"), ("defaultCardMaxWidth", 230),
            ])
            let books = [
                "The Overstory — Richard Powers", "Braiding Sweetgrass — Robin Wall Kimmerer",
                "Gödel, Escher, Bach — Douglas Hofstadter", "The Left Hand of Darkness — Ursula K. Le Guin",
                "A Pattern Language — Christopher Alexander", "Silent Spring — Rachel Carson",
                "The Hidden Life of Trees — Peter Wohlleben [[trees]]", "Recommendations welcome! [[reading]]",
            ]
            var bookCards: [String] = []
            for (i, title) in books.enumerated() {
                bookCards.append(card(reading, title, x: 100 + (i % 4) * 260, y: 120 + (i / 4) * 140))
            }
            let typeReading = connectionType(reading, "similar", "#b0f5e6")
            connect(reading, bookCards[0], bookCards[6], type: typeReading)
            connect(reading, bookCards[1], bookCards[5], type: typeReading, [("directionIsVisible", true)])

            // A space the owner removed.
            let drafts = space([("name", "Old Drafts"), ("privacy", "private")])
            for i in 1...5 { card(drafts, "Draft thought #\(i)", x: 100, y: 60 + i * 80) }
            let owner = ownerId, removedAt = tick()
            state.spaces[drafts]?.meta["isRemoved"] = true
            state.spaces[drafts]?.meta["removedByUserId"] = .string(owner)
            state.spaces[drafts]?.meta["updatedAt"] = .string(removedAt)

            // A space Grace owns and shares with the owner.
            let recipes = space([("name", "Shared Recipes"), ("privacy", "private")], owner: grace)
            let me = ownerId
            state.spaces[recipes]?.collaboratorIds = [me]
            for (i, dish) in ["Pea soup", "Radish salad", "Tomato tart [[tomatoes]]", "Herb butter", "Rhubarb crumble"].enumerated() {
                card(recipes, dish, x: 120 + (i % 3) * 260, y: 120 + (i / 3) * 160, by: grace)
            }

            // Notifications for the owner: Grace added cards in the garden.
            for i in 0..<3 {
                // Side by side, so that no two demo cards overlap (the HTML drawing test checks it).
                let added = card(garden, "Grace's note \(i + 1): seedlings look great", x: 1000 + i * 240, y: 700, by: grace)
                if i == 0, let index = state.notifications.lastIndex(where: { $0["cardId"]?.stringValue == added }) {
                    state.notifications[index]["isRead"] = true
                }
            }

            addCurrentKinds(garden: garden, journal: journal, recipes: recipes, grace: grace)

            if var owner = state.users[ownerId] {
                owner.favoriteSpaceIds = [reading, garden]
                owner.favoriteUserIds = [grace]
                owner.favoriteColors = ["#c9f5b0", "#e3b0f5", "#f5eeb0"]
                owner.object["lastSpaceId"] = .string(garden)
                state.users[ownerId] = owner
            }
        }

        /// What the current server and client add (shapes from kinopio-client src/data/hello.json, src/data/apiDocs.md
        /// and src/stores/useCardStore.js, commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7), laid onto the existing
        /// demo spaces and cards so their ids, timestamps and counts stay as they were: a list holding three garden
        /// cards, drawing strokes, @user and @date mentions, a hidden space, a template and a group with a space in it.
        mutating func addCurrentKinds(garden: String, journal: String, recipes: String, grace: String) {
            let seedlings = list(garden, "Seedlings", x: 1000, y: 240, color: "rgb(12, 155, 31)")
            for (i, name) in ["Plant out [[tomatoes]]", "Drip irrigation for the beds", "Harvest & share with neighbours"].enumerated() {
                let id = cardID(named: name, in: garden)
                state.cards[id]?["listId"] = .string(seedlings)
                state.cards[id]?["listPositionIndex"] = .string("a\(i)")
            }
            let owner = ownerId
            state.spaces[garden]?.drawingStrokes = (0..<2).map { stroke in
                .array((0..<3).map { point in
                    .object(JSONObject([
                        ("id", .string("stroke\(stroke)-point\(point)")), ("x", .int(300 + stroke * 50 + point)),
                        ("y", .int(700 + point * 2)), ("color", "#a0f7f0"), ("diameter", 20), ("userId", .string(owner)),
                    ]))
                })
            }
            let frost = cardID(named: "Last frost date: around April 15", in: garden)
            state.cards[frost]?["atUserMentions"] = .array([.object(JSONObject([
                ("id", "mention-user-1"), ("cardId", .string(frost)), ("userId", .string(grace)), ("stringMatch", "@grace-sandbox"),
            ]))])
            state.cards[frost]?["atDateMentions"] = .array([.object(JSONObject([
                ("id", "mention-date-1"), ("cardId", .string(frost)), ("userId", .string(owner)), ("spaceId", .string(garden)),
                ("date", "2024-04-15T09:00:00.000Z"), ("stringMatch", "@Apr 15"),
            ]))])

            // The journal is hidden by its owner; Grace's recipes are a template in the club's group.
            state.users[owner]?.hiddenSpaceIds = [journal]
            let club = state.ids.next()
            let time = state.spaces[recipes]?.meta["createdAt"] ?? .null
            state.groups[club] = JSONObject([
                ("id", .string(club)), ("name", "Garden Club"), ("color", "#c9f5b0"), ("ownerUserId", .string(grace)),
                ("createdAt", time), ("updatedAt", time),
                ("groupUsers", .array([
                    .object(JSONObject([("userId", .string(grace)), ("role", "admin")])),
                    .object(JSONObject([("userId", .string(owner)), ("role", "member")])),
                ])),
            ])
            state.groupOrder.append(club)
            state.spaces[recipes]?.meta["groupId"] = .string(club)
            state.spaces[recipes]?.meta["isTemplate"] = true
        }

        // MARK: Generated

        mutating func addGeneratedContent(cards count: Int) {
            guard count > 0 else { return }
            let perSpace = 100
            let spaceCount = (count + perSpace - 1) / perSpace
            let colors = KinopioState.tagPalette
            var made = 0
            for s in 0..<spaceCount {
                let spaceId = space([("name", .string("Generated Space \(s + 1)")), ("privacy", "private")])
                let type = connectionType(spaceId, "flows to", colors[s % colors.count])
                var previous: String?
                let inThisSpace = min(perSpace, count - made)
                for i in 0..<inThisSpace {
                    let n = made + i + 1
                    let name = n % 5 == 0 ? "Card \(n) about [[topic-\(n % 7)]]" : "Card \(n)"
                    let id = card(spaceId, name, x: 80 + (i % 10) * 260, y: 80 + (i / 10) * 140,
                                  [("backgroundColor", n % 3 == 0 ? .string(colors[n % colors.count]) : .null)])
                    if i % 10 != 0, let previous, i % 4 == 0 {
                        connect(spaceId, previous, id, type: type, [("directionIsVisible", .bool(i % 8 == 0))])
                    }
                    previous = id
                }
                made += inThisSpace
            }
        }
    }
}
