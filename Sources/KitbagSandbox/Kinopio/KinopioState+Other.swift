import Foundation
import KitbagCore
import KitbagSandboxCore

/// The RSS feeds, `/space/date-image`, `/screenshot` and the document's "Other" routes (kinopio-client
/// src/data/apiDocs.md, commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7; what the client reads from each answer is
/// in src/stores/useApiStore.js and the components named below).
///
/// Where the real server calls an outside service (images, screenshots, are.na) the sandbox calls nothing: it answers
/// the documented shape with URLs on a `.invalid` host (reserved by RFC 2606, it never resolves), so nothing that
/// follows one can leave the machine.
extension KinopioState {
    static let offlineHost = "https://kinopio-sandbox.invalid"
    /// How many items a feed lists (the document does not say; a sandbox choice).
    static let feedLength = 20

    // MARK: - Feeds

    /// A feed in JSON Feed 1.1 form (the document calls `feed.json` an "RSS feed" and gives no body; the shape is a guess).
    func jsonFeed(title: String, home: String, path: String, items: [JSONValue]) -> SandboxReply {
        let feed: JSONValue = .object(JSONObject([
            ("version", "https://jsonfeed.org/version/1.1"), ("title", .string(title)), ("home_page_url", .string(home)),
            ("feed_url", .string("https://api.kinopio.club" + path)), ("items", .array(items)),
        ]))
        return .bytes(feed.serialized(), contentType: "application/feed+json")
    }

    static func newestFirst(_ a: JSONObject, _ b: JSONObject, key: String) -> Bool {
        let x = a[key]?.stringValue ?? "", y = b[key]?.stringValue ?? ""
        return x != y ? x > y : (a["id"]?.stringValue ?? "") < (b["id"]?.stringValue ?? "")
    }

    func spaceURL(_ space: SpaceRecord) -> String { space.meta["url"]?.stringValue ?? "https://kinopio.club/\(space.id)" }

    /// `GET /space/:spaceId/feed.json` (no key for open and closed spaces; `?apiKey=` for a private one): the space's
    /// cards, most recently updated first.
    func getSpaceFeed(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try optionalUser(request)
        let space = try requireView(request.parameter("spaceId"), userId)
        let url = spaceURL(space)
        let recent = space.cardIds.compactMap { cards[$0] }.filter { !($0["isRemoved"]?.boolValue ?? false) }
            .sorted { Self.newestFirst($0, $1, key: "updatedAt") }.prefix(Self.feedLength)
        let items: [JSONValue] = recent.map { card in
            let id = card["id"]?.stringValue ?? ""
            let name = card["name"]?.stringValue ?? ""
            return .object(JSONObject([
                ("id", .string(id)), ("url", .string("\(url)/\(id)")), ("title", .string(name)), ("content_text", .string(name)),
                ("date_published", card["createdAt"] ?? .null), ("date_modified", card["updatedAt"] ?? .null),
            ]))
        }
        return jsonFeed(title: space.name, home: url, path: "/space/\(space.id)/feed.json", items: items)
    }

    func spaceFeedItem(_ space: SpaceRecord, published: String) -> JSONValue {
        .object(JSONObject([
            ("id", .string(space.id)), ("url", .string(spaceURL(space))), ("title", .string(space.name)),
            ("date_published", space.meta[published] ?? space.meta["createdAt"] ?? .null),
            ("date_modified", space.meta["updatedAt"] ?? .null),
        ]))
    }

    /// `GET /space/explore-spaces/feed.json` (no key): spaces added to Explore, newest addition first.
    func getExploreFeed(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let list = spaceOrder.compactMap { spaces[$0] }.filter {
            !$0.isRemoved && $0.privacy != "private" && ($0.meta["showInExplore"]?.boolValue ?? false)
        }.sorted {
            let a = $0.meta["showInExploreUpdatedAt"]?.stringValue ?? $0.meta["updatedAt"]?.stringValue ?? ""
            let b = $1.meta["showInExploreUpdatedAt"]?.stringValue ?? $1.meta["updatedAt"]?.stringValue ?? ""
            return a != b ? a > b : $0.id < $1.id
        }.prefix(Self.feedLength)
        return jsonFeed(title: "Kinopio Explore", home: "https://kinopio.club/explore", path: "/space/explore-spaces/feed.json",
                        items: list.map { spaceFeedItem($0, published: "showInExploreUpdatedAt") })
    }

    /// `GET /space/everyone-spaces/feed.json` (no key; `everyones-spaces` on an older server): recent public spaces,
    /// newest `createdAt` first.
    func getEveryoneFeed(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let list = spaceOrder.compactMap { spaces[$0] }.filter { !$0.isRemoved && $0.privacy != "private" }
            .sorted { Self.newestFirst($0.meta, $1.meta, key: "createdAt") }.prefix(Self.feedLength)
        return jsonFeed(title: "Kinopio Everyone", home: "https://kinopio.club", path: request.path,
                        items: list.map { spaceFeedItem($0, published: "createdAt") })
    }

    // MARK: - Images and screenshots

    /// `GET /space/date-image` (no key): `{url}` of today's date card image (useApiStore.js `updateDateImage` reads `url`).
    func getDateImage(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        SandboxReply(["url": .string("\(Self.offlineHost)/date-image/\(now().prefix(10)).jpg")])
    }

    static let screenshotFormats = ["pdf", "png", "jpeg", "webp", "html", "webm", "md"]

    /// `POST /screenshot` (scope read): body `spaceId`, `format` (one of `screenshotFormats`), optional `isDarkTheme`;
    /// answers `{url}` (the shape `/services/pdf` answers, which useApiStore.js `pdf` reads as `url.url`).
    func postScreenshot(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let userId = try optionalUser(request)
        guard let body = try request.json().objectValue else {
            throw SandboxHTTPError(.badRequest, "the body must be an object with spaceId and format")
        }
        let spaceId = try body.requiredString("spaceId", what: "request body")
        guard let format = body["format"]?.stringValue, Self.screenshotFormats.contains(format) else {
            throw SandboxHTTPError(
                .badRequest, "format must be one of \(Self.screenshotFormats.joined(separator: ", "))")
        }
        if let dark = body["isDarkTheme"], dark.boolValue == nil, !dark.isNull {
            throw SandboxHTTPError(.badRequest, "isDarkTheme must be true or false")
        }
        let space = try requireView(spaceId, userId)
        let theme = (body["isDarkTheme"]?.boolValue ?? false) ? "-dark" : ""
        return SandboxReply(["url": .string("\(Self.offlineHost)/screenshot/\(space.id)\(theme).\(format)")])
    }

    // MARK: - Other

    /// `GET /affiliate` (scope read): `{affiliate, commissions}` for an affiliate; no sandbox user is one, so a signed-in
    /// user gets the 401 the client's Affiliates view takes to mean "not an affiliate" (src/views/Affiliates.vue).
    func getAffiliate(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        _ = try requireUser(request)
        throw SandboxHTTPError(.unauthorized, "you are not a Kinopio affiliate")
    }

    /// `GET /services/community-backgrounds` (no key): background images, each `{original, thumb, preview}` (the keys
    /// src/components/dialogs/BackgroundPicker.vue reads); the real list comes from an are.na channel.
    func getCommunityBackgrounds(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let images: [JSONValue] = ["sandbox-dunes", "sandbox-fern"].map { name in
            .object(JSONObject([
                ("original", .string("\(Self.offlineHost)/backgrounds/\(name).jpg")),
                ("thumb", .string("\(Self.offlineHost)/backgrounds/\(name)-thumb.jpg")),
                ("preview", .string("\(Self.offlineHost)/backgrounds/\(name)-preview.jpg")),
            ]))
        }
        return SandboxReply(.array(images))
    }

    /// `GET /meta/date` (no key): `{date}`, the server's time in ISO 8601 UTC (src/components/dialogs/Explore.vue reads `date`).
    func getMetaDate(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        SandboxReply(["date": .string(now())])
    }

    /// `GET /meta/changelog` (no key; `/meta/new-stuff` on an older server): recent feature posts, newest first, each
    /// with the `id` and `title` src/stores/useChangelogStore.js and Notifications.vue read.
    func getChangelog(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        SandboxReply([["id": "sandbox-changelog-1", "title": "Kinopio API sandbox", "createdAt": "2026-01-01T00:00:00.000Z"]])
    }

    /// `GET /meta/emojis` (no key): `{version, emojis}`, the emojis grouped as unicode-emoji-json's data-by-group.json
    /// (`[{name, slug, emojis: [{emoji, name, slug, …}]}]`; src/components/dialogs/EmojiPicker.vue reads both keys).
    /// The sandbox lists a handful.
    func getEmojis(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        func emoji(_ e: String, _ name: String) -> JSONValue {
            .object(JSONObject([
                ("emoji", .string(e)), ("skin_tone_support", false), ("name", .string(name)),
                ("slug", .string(name.replacingOccurrences(of: " ", with: "_"))), ("unicode_version", "6.0"), ("emoji_version", "2.0"),
            ]))
        }
        let groups: [JSONValue] = [
            .object(JSONObject([("name", "Smileys & Emotion"), ("slug", "smileys_emotion"),
                                ("emojis", [emoji("😀", "grinning face"), emoji("😊", "smiling face with smiling eyes")])])),
            .object(JSONObject([("name", "Animals & Nature"), ("slug", "animals_nature"),
                                ("emojis", [emoji("🌱", "seedling"), emoji("🐢", "turtle")])])),
        ]
        return SandboxReply(.object(JSONObject([("version", "sandbox-1"), ("emojis", .array(groups))])))
    }

    static let randomNameWords = (
        ["amber", "brisk", "cosy", "dappled", "early", "foggy", "gentle", "hidden", "lucky", "quiet"],
        ["harbour", "meadow", "lantern", "orchard", "pebble", "river", "sparrow", "thicket", "valley", "willow"]
    )

    /// `GET /meta/random-name` (no key): a random two-word space name. The document gives no body; the sandbox answers
    /// `{name}` (a guess).
    func getRandomName(_ request: SandboxRequest) throws(SandboxHTTPError) -> SandboxReply {
        let (first, second) = Self.randomNameWords
        return SandboxReply(["name": .string("\(first.randomElement()!)-\(second.randomElement()!)")])
    }
}
