import AsyncHTTPClient
import Foundation
import KitbagCore
import KitbagSandbox
import Testing

// Contract tests for the feeds, /space/date-image, /screenshot and the "Other" routes of the current API document.
// Source: kinopio-club/kinopio-client at commit 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7 — src/data/apiDocs.md (route
// tables "Spaces" and "Other": paths, scopes), src/stores/useApiStore.js (`getDate`, `getChangelog`, `updateDateImage`,
// `getEmojis` send a bare `fetch(url)`; `communityBackgrounds`, `getAffiliate` send `requestOptions` headers) and the
// components that read the answers (src/components/dialogs/RssFeeds.vue builds the feed URLs; BackgroundPicker.vue,
// EmojiPicker.vue, Explore.vue, src/views/Affiliates.vue, src/stores/useChangelogStore.js). The seed-era names
// (`/space/everyones-spaces/feed.json`, `/meta/new-stuff`) are from the seed page, an older copy of apiDocs.md.

extension KinopioWire {
    /// A bare GET, as `fetch(url)` sends it (no headers, no body), with the answer's Content-Type.
    func plain(_ path: String) async throws -> (answer: Answer, contentType: String) {
        var request = HTTPClientRequest(url: baseURL.absoluteString + path)
        request.method = .GET
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = Array(try await response.body.collect(upTo: 16 << 20).readableBytesView)
        let answer = Answer(status: Int(response.status.code), json: bytes.isEmpty ? nil : try JSONValue(parsing: bytes))
        return (answer, response.headers.first(name: "Content-Type") ?? "")
    }
}

/// True when every string in the answer that looks like a URL points at the never-resolving sandbox host.
func urlsStayOffline(_ urls: [String?]) -> Bool {
    !urls.isEmpty && urls.allSatisfy { $0?.hasPrefix("https://kinopio-sandbox.invalid/") == true }
}

@Suite("Kinopio contract: feeds")
struct ContractFeedTests {
    let owner = KinopioWire.Key.user(Fixture.sourceKey)

    // apiDocs.md "Spaces": GET /space/:spaceId/feed.json — cards recently created or updated, no key for a public
    // space, `?apiKey=` for a private one (RssFeeds.vue and Space.vue build exactly this URL).
    @Test func spaceFeedListsTheSpacesCardsNewestFirst() async throws {
        let wire = try await KinopioWire.start()
        let reading = try await space(named: "Public Reading List", wire)
        let id = reading["id"]?.stringValue ?? ""
        let (feed, type) = try await wire.plain("/space/\(id)/feed.json")
        #expect(feed.status == 200 && type.hasPrefix("application/feed+json"))
        #expect(feed["version"]?.stringValue?.hasPrefix("https://jsonfeed.org/version/") == true)
        let items = feed["items"]?.arrayValue ?? []
        let live = (reading["cards"]?.arrayValue ?? []).filter { $0["isRemoved"]?.boolValue != true }
        #expect(!items.isEmpty && Set(items.compactMap { $0["id"]?.stringValue }) == Set(live.compactMap { $0["id"]?.stringValue }))
        let dates = items.compactMap { $0["date_modified"]?.stringValue }
        #expect(dates == dates.sorted(by: >))
        #expect(items.allSatisfy { ($0["url"]?.stringValue ?? "").hasSuffix("\(id)/\($0["id"]?.stringValue ?? "-")") })

        // A private space: no key is refused; the key in ?apiKey= opens it, and removed cards are left out.
        let garden = try await space(named: "Garden Project 🌱", wire)
        let gardenId = garden["id"]?.stringValue ?? ""
        #expect(try await wire.plain("/space/\(gardenId)/feed.json").answer.status == 401)
        let opened = try await wire.plain("/space/\(gardenId)/feed.json?apiKey=\(Fixture.sourceKey)").answer
        let removed = try await wire.call("GET", "/space/\(gardenId)/removed-cards", owner).array.compactMap { $0["id"]?.stringValue }
        let ids = (opened["items"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
        #expect(opened.status == 200 && !ids.isEmpty && !removed.isEmpty && Set(ids).isDisjoint(with: removed))
        await wire.stop()
    }

    // apiDocs.md "Spaces": /space/explore-spaces/feed.json (new Explore spaces) and /space/everyone-spaces/feed.json
    // (recent public spaces), no key; the seed page names the second /space/everyones-spaces/feed.json.
    @Test func exploreAndEveryoneFeedsListOnlyPublicSpaces() async throws {
        let wire = try await KinopioWire.start()
        let reading = try await space(named: "Public Reading List", wire)["id"]?.stringValue ?? ""
        let explore = try await wire.plain("/space/explore-spaces/feed.json").answer
        #expect(explore.status == 200 && (explore["items"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue } == [reading])
        let everyone = try await wire.plain("/space/everyone-spaces/feed.json").answer
        #expect(everyone.status == 200 && (everyone["items"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue } == [reading])
        #expect(try await wire.plain("/space/everyones-spaces/feed.json").answer.status == 404)
        await wire.stop()

        let old = try await KinopioWire.start(legacy: true)
        let oldFeed = try await old.plain("/space/everyones-spaces/feed.json").answer
        #expect(oldFeed.status == 200 && (oldFeed["items"]?.arrayValue ?? []).count == 1)
        #expect(try await old.plain("/space/everyone-spaces/feed.json").answer.status == 404)
        await old.stop()
    }
}

@Suite("Kinopio contract: images, screenshots and other routes")
struct ContractOtherRouteTests {
    let owner = KinopioWire.Key.user(Fixture.sourceKey)
    let userScope = KinopioWire.Key.app("sandbox-kinopio-app-user-key")

    static func today() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate]
        return f.string(from: Date())
    }

    // apiDocs.md "Spaces": GET /space/date-image, no key; useApiStore.js `updateDateImage` reads `url`.
    @Test func dateImageAnswersTodaysImageURL() async throws {
        let wire = try await KinopioWire.start()
        let before = Self.today()
        let (image, _) = try await wire.plain("/space/date-image")
        let after = Self.today()
        let url = image["url"]?.stringValue ?? ""
        #expect(image.status == 200 && urlsStayOffline([url]))
        #expect(url.hasSuffix("\(before).jpg") || url.hasSuffix("\(after).jpg"))
        await wire.stop()
    }

    // apiDocs.md "Spaces": POST /screenshot (scope read), body `spaceId`, `format` (pdf, png, jpeg, webp, html, webm,
    // md) and optional `isDarkTheme`; answers the screenshot's URL.
    @Test func screenshotAnswersAURLForAViewableSpaceAndADocumentedFormat() async throws {
        let wire = try await KinopioWire.start()
        let garden = try await space(named: "Garden Project 🌱", wire)["id"] ?? .null
        let gardenId = garden.stringValue ?? ""
        let shot = try await wire.call("POST", "/screenshot", owner, body: ["spaceId": garden, "format": "png", "isDarkTheme": true])
        #expect(shot.status == 200 && urlsStayOffline([shot["url"]?.stringValue]))
        #expect(shot["url"]?.stringValue?.hasSuffix("\(gardenId)-dark.png") == true)
        let markdown = try await wire.call("POST", "/screenshot", owner, body: ["spaceId": garden, "format": "md"])
        #expect(markdown["url"]?.stringValue?.hasSuffix("\(gardenId).md") == true)
        let gif = try await wire.call("POST", "/screenshot", owner, body: ["spaceId": garden, "format": "gif"])
        #expect(gif.status == 400 && gif.message.contains("pdf, png, jpeg, webp, html, webm, md"))
        // A private space needs a key that can view it; a `user` scope key cannot read content.
        #expect(try await wire.call("POST", "/screenshot", .none, body: ["spaceId": garden, "format": "png"]).status == 401)
        let narrow = try await wire.call("POST", "/screenshot", userScope, body: ["spaceId": garden, "format": "png"])
        #expect(narrow.status == 403 && narrow.message.contains("read"))
        await wire.stop()
    }

    // apiDocs.md "Other": GET /affiliate (scope read); src/views/Affiliates.vue takes a 401 to mean the signed-in user
    // is not an affiliate (no sandbox user is one).
    @Test func affiliateNeedsAReadKeyAndNoSandboxUserIsOne() async throws {
        let wire = try await KinopioWire.start()
        let mine = try await wire.call("GET", "/affiliate", owner)
        #expect(mine.status == 401 && mine.message.contains("not a Kinopio affiliate"))
        let anonymous = try await wire.call("GET", "/affiliate", .none)
        #expect(anonymous.status == 401 && anonymous.message.contains("needs an API key"))
        let narrow = try await wire.call("GET", "/affiliate", userScope)
        #expect(narrow.status == 403 && narrow.message.contains("scope read"))
        await wire.stop()
    }

    // apiDocs.md "Other": GET /services/community-backgrounds, no key; useApiStore.js `communityBackgrounds` sends
    // `requestOptions` headers, BackgroundPicker.vue reads `original`, `thumb`, `preview`.
    @Test func communityBackgroundsListImagesWithoutReachingOut() async throws {
        let wire = try await KinopioWire.start()
        for key in [owner, userScope, .none] {
            let list = try await wire.call("GET", "/services/community-backgrounds", key)
            #expect(list.status == 200 && !list.array.isEmpty)
            #expect(urlsStayOffline(list.array.flatMap { i in ["original", "thumb", "preview"].map { i[$0]?.stringValue } }))
        }
        await wire.stop()
    }

    // apiDocs.md "Other": /meta/date, /meta/changelog, /meta/emojis, /meta/random-name, no key; useApiStore.js sends a
    // bare fetch for the first three. Explore.vue reads `date`; useChangelogStore.js and Notifications.vue read each
    // post's `id` and `title`; EmojiPicker.vue reads `version` and `emojis` (groups with `name` and `emojis`).
    @Test func metaRoutesAnswerWhatTheClientReads() async throws {
        let wire = try await KinopioWire.start()
        let date = try await wire.plain("/meta/date").answer
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = iso.date(from: date["date"]?.stringValue ?? "")
        #expect(date.status == 200 && parsed.map { abs($0.timeIntervalSinceNow) < 120 } == true)

        let changelog = try await wire.plain("/meta/changelog").answer
        #expect(changelog.status == 200 && !changelog.array.isEmpty)
        #expect(changelog.array.allSatisfy { $0["id"] != nil && $0["title"]?.stringValue?.isEmpty == false })

        let emojis = try await wire.plain("/meta/emojis").answer
        let groups = emojis["emojis"]?.arrayValue ?? []
        #expect(emojis.status == 200 && emojis["version"]?.stringValue != nil && !groups.isEmpty)
        #expect(groups.allSatisfy { group in
            group["name"]?.stringValue != nil
                && !(group["emojis"]?.arrayValue ?? []).isEmpty
                && (group["emojis"]?.arrayValue ?? []).allSatisfy { $0["emoji"]?.stringValue != nil && $0["name"]?.stringValue != nil }
        })

        let name = try await wire.plain("/meta/random-name").answer["name"]?.stringValue ?? ""
        let words = name.split(separator: "-")
        #expect(words.count == 2 && words.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isLetter) })
        // The seed page's /meta/new-stuff is not a route of the current server.
        #expect(try await wire.plain("/meta/new-stuff").answer.status == 404)
        await wire.stop()

        let old = try await KinopioWire.start(legacy: true)
        #expect(try await old.plain("/meta/new-stuff").answer.array.count == changelog.array.count)
        #expect(try await old.plain("/meta/changelog").answer.status == 404)
        #expect(try await old.plain("/meta/date").answer.status == 200)
        await old.stop()
    }
}
