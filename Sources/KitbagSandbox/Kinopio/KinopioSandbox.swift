import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore
import Logging

/// A local emulator of the Kinopio API (https://api.kinopio.club), written from the public API
/// page and the collected API facts only.
///
/// Choices where the documents are silent:
/// - Ids: a client-supplied `id` is kept when free (Kinopio's client makes its own ids), else a new
///   21-character id is generated; a `POST /space` with nested items rewrites references to changed ids.
/// - Tags: `[[name]]` in a card name gets a tag entity (colour of a same-named tag in the space, else
///   one derived from the name). Explicit tag objects are accepted in a card's `tags` array
///   (`POST /card`, `/card/multiple`) and in a posted space's `tags` array; they win over derived ones.
/// - Writes are all or nothing per request; every answer is 200 with JSON, errors are
///   `{"message": …, "status": …}`; no `Retry-After` is sent with 429 (Kinopio documents none).
/// - Server-set keys: `createdAt`, `updatedAt`, `userId` (cards, boxes), `nameUpdatedAt`,
///   `nameUpdatedByUserId`, and on `POST /card…` `isCreatedThroughPublicApi`/`shouldUpdateUrlPreview`;
///   spaces get `ownerUserId`, `editedAt`, `collaboratorKey`/`readOnlyKey` (editors only), `url`, `visits`.
public enum KinopioSandbox {
    /// API key of the seeded owner when `credentials` is empty.
    public static let defaultCredential = "sandbox-kinopio-key"
    /// API key of the seeded collaborator when `credentials` has no second entry.
    public static let defaultCollaboratorKey = "sandbox-kinopio-collaborator-key"
    /// API key of the seeded outsider (a user who owns nothing and collaborates on nothing)
    /// when `credentials` has no third entry.
    public static let defaultOutsiderKey = "sandbox-kinopio-outsider-key"

    /// App API keys of the seeded owner, one per scope (sent in `App-Authorization`).
    public static let defaultAppKeys: [(key: String, scope: String)] = [
        ("sandbox-kinopio-app-user-key", "user"), ("sandbox-kinopio-app-read-key", "read"),
        ("sandbox-kinopio-app-edit-key", "edit"), ("sandbox-kinopio-app-delete-key", "delete"),
    ]

    /// Seeds the state, binds, and returns once the server listens (real port in `baseURL`).
    /// `legacy` starts an older server: the seed page's routes (`/space/:id/removedCards`, `/notifications`,
    /// `/user/journal-spaces`, `/connection-type`, `/tags/…`, `/space/everyones-spaces…`, `/meta/new-stuff`) answer and the current document's new ones are 404;
    /// otherwise it is the reverse. The default logger only reports warnings and errors.
    public static func start(
        _ options: SandboxOptions, logger: Logger = SandboxServer.quietLogger("kitbag.sandbox.kinopio"),
        legacy: Bool = false
    ) async throws -> RunningSandbox {
        var state = KinopioSeeder.state(seed: options.seed, credentials: options.credentials)
        state.legacy = legacy
        if let owner = state.userOrder.first {
            for app in defaultAppKeys {
                if let scope = KinopioState.Scope.allCases.first(where: { $0.name == app.scope }) {
                    state.appKeys[app.key] = KinopioState.AppKey(userId: owner, scope: scope)
                }
            }
        }
        let store = KinopioStore(state: state)
        return try await SandboxServer.start(
            options: options, router: SandboxRouter(routes: routes(store, legacy: legacy)), dialect: KinopioDialect(),
            logger: logger, store: store)
    }

    /// Every route, with the app key scope each needs (kinopio-client src/data/apiDocs.md, route tables, commit
    /// 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7; `/multiple` write routes from src/stores/useApiStore.js).
    static func routes(_ store: KinopioStore, legacy: Bool) -> [SandboxRoute] {
        typealias R = SandboxRoute
        typealias Scope = KinopioState.Scope
        func read(_ method: HTTPRequest.Method, _ path: String, scope: Scope = .read,
                  _ body: @escaping @Sendable (KinopioState, SandboxRequest) throws(SandboxHTTPError) -> SandboxReply) -> R {
            let route = "\(method.rawValue) \(path)"
            return R(method, path) { request throws(SandboxHTTPError) in
                try await store.read(request) { s, r throws(SandboxHTTPError) in
                    try s.requireScope(r, scope, route: route)
                    return try body(s, r)
                }
            }
        }
        func write(_ method: HTTPRequest.Method, _ path: String, scope: Scope? = nil,
                   _ body: @escaping @Sendable (inout KinopioState, SandboxRequest) throws(SandboxHTTPError) -> SandboxReply) -> R {
            let route = "\(method.rawValue) \(path)"
            let needed = scope ?? (method == .delete ? .delete : .edit)
            return R(method, path) { request throws(SandboxHTTPError) in
                try await store.write(request) { s, r throws(SandboxHTTPError) in
                    try s.requireScope(r, needed, route: route)
                    return try body(&s, r)
                }
            }
        }
        let common: [R] = [
            read(.get, "/") { s, r in s.root(r) },
            // Users
            read(.get, "/user", scope: .user) { s, r throws(SandboxHTTPError) in try s.getUser(r) },
            read(.get, "/user/public/:userId") { s, r throws(SandboxHTTPError) in try s.getPublicUser(r) },
            read(.get, "/user/public/multiple") { s, r throws(SandboxHTTPError) in try s.getPublicUsers(r) },
            read(.get, "/user/public/explore-spaces/:userId") { s, r throws(SandboxHTTPError) in try s.getExploreSpaces(r) },
            read(.get, "/user/spaces") { s, r throws(SandboxHTTPError) in try s.getUserSpaces(r) },
            read(.get, "/user/removed-spaces") { s, r throws(SandboxHTTPError) in try s.getRemovedSpaces(r) },
            read(.get, "/user/inbox-space") { s, r throws(SandboxHTTPError) in try s.getInboxSpaceInfo(r) },
            read(.get, "/user/tags") { s, r throws(SandboxHTTPError) in try s.getUserTags(r) },
            read(.get, "/user/favorite-spaces") { s, r throws(SandboxHTTPError) in try s.getFavoriteSpaces(r) },
            read(.get, "/user/favorite-users") { s, r throws(SandboxHTTPError) in try s.getFavoriteUsers(r) },
            read(.get, "/user/favorite-colors") { s, r throws(SandboxHTTPError) in try s.getFavoriteColors(r) },
            read(.get, "/user/ai-images") { s, r throws(SandboxHTTPError) in try s.getAIImages(r) },
            write(.patch, "/user") { s, r throws(SandboxHTTPError) in try s.patchUser(r) },
            // Spaces
            read(.get, "/space/:spaceId") { s, r throws(SandboxHTTPError) in try s.getSpace(r) },
            read(.get, "/space/multiple") { s, r throws(SandboxHTTPError) in try s.getSpaces(r) },
            read(.get, "/space/inbox") { s, r throws(SandboxHTTPError) in try s.getInboxSpace(r) },
            write(.post, "/space") { s, r throws(SandboxHTTPError) in try s.postSpace(r) },
            write(.patch, "/space") { s, r throws(SandboxHTTPError) in try s.patchSpace(r) },
            write(.delete, "/space") { s, r throws(SandboxHTTPError) in try s.setSpacesRemoved(r, removed: true) },
            write(.delete, "/space/permanent") { s, r throws(SandboxHTTPError) in try s.deleteSpacesPermanently(r) },
            write(.delete, "/space/collaborator", scope: .edit) { s, r throws(SandboxHTTPError) in try s.removeCollaborator(r) },
            // Cards
            read(.get, "/card/:cardId") { s, r throws(SandboxHTTPError) in try s.getCard(r) },
            read(.get, "/card/multiple") { s, r throws(SandboxHTTPError) in try s.getCards(r) },
            read(.get, "/card/by-tag-name/:tagName") { s, r throws(SandboxHTTPError) in try s.getCardsByTagName(r) },
            read(.get, "/card/by-link-to-space/:spaceId") { s, r throws(SandboxHTTPError) in try s.getCardsByLinkToSpace(r) },
            read(.post, "/card/search") { s, r throws(SandboxHTTPError) in try s.searchCards(r) },
            write(.post, "/card") { s, r throws(SandboxHTTPError) in try s.postCard(r) },
            write(.post, "/card/multiple") { s, r throws(SandboxHTTPError) in try s.postCards(r) },
            write(.post, "/card/to-inbox") { s, r throws(SandboxHTTPError) in try s.postCardToInbox(r) },
            write(.patch, "/card") { s, r throws(SandboxHTTPError) in try s.patchCards(r, multiple: false) },
            write(.patch, "/card/multiple") { s, r throws(SandboxHTTPError) in try s.patchCards(r, multiple: true) },
            write(.patch, "/card/update-counter") { s, r throws(SandboxHTTPError) in try s.updateCounter(r) },
            write(.patch, "/card/restore") { s, r throws(SandboxHTTPError) in try s.changeCards(r, action: .restore) },
            write(.delete, "/card") { s, r throws(SandboxHTTPError) in try s.changeCards(r, action: .remove) },
            write(.delete, "/card/permanent") { s, r throws(SandboxHTTPError) in try s.changeCards(r, action: .deletePermanently) },
            // Connections
            read(.get, "/connection/:connectionId") { s, r throws(SandboxHTTPError) in
                try s.getItem(r, kind: .connection, parameter: "connectionId")
            },
            write(.post, "/connection") { s, r throws(SandboxHTTPError) in try s.postItems(r, kind: .connection) },
            write(.patch, "/connection") { s, r throws(SandboxHTTPError) in try s.patchItems(r, kind: .connection) },
            write(.delete, "/connection") { s, r throws(SandboxHTTPError) in try s.deleteItems(r, kind: .connection) },
            // Boxes
            read(.get, "/box/:boxId") { s, r throws(SandboxHTTPError) in try s.getItem(r, kind: .box, parameter: "boxId") },
            write(.post, "/box") { s, r throws(SandboxHTTPError) in try s.postItems(r, kind: .box) },
            write(.patch, "/box") { s, r throws(SandboxHTTPError) in try s.patchItems(r, kind: .box) },
            write(.delete, "/box") { s, r throws(SandboxHTTPError) in try s.deleteItems(r, kind: .box) },
            // Feeds and "Other" routes the seed page already had; no key (scope user: any key may be sent).
            read(.get, "/space/:spaceId/feed.json", scope: .user) { s, r throws(SandboxHTTPError) in try s.getSpaceFeed(r) },
            read(.get, "/space/explore-spaces/feed.json", scope: .user) { s, r throws(SandboxHTTPError) in try s.getExploreFeed(r) },
            read(.get, "/services/community-backgrounds", scope: .user) { s, r throws(SandboxHTTPError) in
                try s.getCommunityBackgrounds(r)
            },
            read(.get, "/meta/date", scope: .user) { s, r throws(SandboxHTTPError) in try s.getMetaDate(r) },
        ]
        // The current document and client only.
        let current: [R] = [
            read(.get, "/user/hidden-spaces") { s, r throws(SandboxHTTPError) in try s.getHiddenSpaces(r) },
            read(.get, "/user/group-spaces") { s, r throws(SandboxHTTPError) in try s.getGroupSpaces(r) },
            read(.get, "/user/template-spaces") { s, r throws(SandboxHTTPError) in try s.getTemplateSpaces(r) },
            read(.get, "/user/groups") { s, r throws(SandboxHTTPError) in try s.getUserGroups(r) },
            read(.get, "/user/todos") { s, r throws(SandboxHTTPError) in try s.getTodos(r) },
            read(.get, "/user/at-user-mentions") { s, r throws(SandboxHTTPError) in try s.getAtUserMentions(r) },
            read(.get, "/user/at-date-mentions") { s, r throws(SandboxHTTPError) in try s.getAtDateMentions(r) },
            read(.get, "/space/:spaceId/public-meta") { s, r throws(SandboxHTTPError) in try s.getPublicMeta(r) },
            read(.get, "/space/public/multiple") { s, r throws(SandboxHTTPError) in try s.getPublicSpaces(r) },
            read(.get, "/space/explore-spaces") { s, r throws(SandboxHTTPError) in try s.getExploreList(r) },
            read(.get, "/space/everyone-spaces") { s, r throws(SandboxHTTPError) in try s.getEveryoneSpaces(r) },
            read(.get, "/space/live-spaces") { s, r throws(SandboxHTTPError) in try s.getLiveSpaces(r) },
            read(.post, "/space/search-explore-spaces") { s, r throws(SandboxHTTPError) in try s.searchExploreSpaces(r) },
            read(.get, "/group/:groupId") { s, r throws(SandboxHTTPError) in try s.getGroup(r) },
            read(.get, "/space/:spaceId/removed-cards") { s, r throws(SandboxHTTPError) in try s.getRemovedCards(r) },
            read(.get, "/space/:spaceId/favorites") { s, r throws(SandboxHTTPError) in try s.getSpaceFavorites(r) },
            write(.post, "/space/multiple") { s, r throws(SandboxHTTPError) in try s.postSpace(r) },
            write(.patch, "/space/restore/:spaceId") { s, r throws(SandboxHTTPError) in try s.restoreSpace(r) },
            write(.patch, "/card/list") { s, r throws(SandboxHTTPError) in try s.changeCardList(r, add: true) },
            write(.delete, "/card/list", scope: .edit) { s, r throws(SandboxHTTPError) in try s.changeCardList(r, add: false) },
            write(.post, "/connection/multiple") { s, r throws(SandboxHTTPError) in try s.postItems(r, kind: .connection) },
            write(.patch, "/connection/multiple") { s, r throws(SandboxHTTPError) in try s.patchItems(r, kind: .connection) },
            write(.post, "/box/multiple") { s, r throws(SandboxHTTPError) in try s.postItems(r, kind: .box) },
            read(.get, "/list/:listId") { s, r throws(SandboxHTTPError) in try s.getList(r) },
            write(.post, "/list") { s, r throws(SandboxHTTPError) in try s.postItems(r, kind: .list) },
            write(.patch, "/list") { s, r throws(SandboxHTTPError) in try s.patchItems(r, kind: .list) },
            read(.get, "/tag/:tagName") { s, r throws(SandboxHTTPError) in try s.getTagsByName(r) },
            read(.get, "/tag/by-card/:cardId") { s, r throws(SandboxHTTPError) in try s.getTagsByCard(r) },
            write(.patch, "/tag/color") { s, r throws(SandboxHTTPError) in try s.patchTagColor(r) },
            read(.get, "/notification") { s, r throws(SandboxHTTPError) in try s.getNotifications(r) },
            read(.get, "/space/everyone-spaces/feed.json", scope: .user) { s, r throws(SandboxHTTPError) in try s.getEveryoneFeed(r) },
            read(.get, "/space/date-image", scope: .user) { s, r throws(SandboxHTTPError) in try s.getDateImage(r) },
            read(.post, "/screenshot") { s, r throws(SandboxHTTPError) in try s.postScreenshot(r) },
            read(.get, "/affiliate") { s, r throws(SandboxHTTPError) in try s.getAffiliate(r) },
            read(.get, "/meta/changelog", scope: .user) { s, r throws(SandboxHTTPError) in try s.getChangelog(r) },
            read(.get, "/meta/emojis", scope: .user) { s, r throws(SandboxHTTPError) in try s.getEmojis(r) },
            read(.get, "/meta/random-name", scope: .user) { s, r throws(SandboxHTTPError) in try s.getRandomName(r) },
        ]
        // The seed page's names, which the current server answers with 404.
        let seedOnly: [R] = [
            read(.get, "/user/journal-spaces") { s, r throws(SandboxHTTPError) in try s.getJournalSpaces(r) },
            read(.get, "/space/:spaceId/removedCards") { s, r throws(SandboxHTTPError) in try s.getRemovedCards(r) },
            write(.patch, "/space/restore") { s, r throws(SandboxHTTPError) in try s.setSpacesRemoved(r, removed: false) },
            read(.get, "/connection-type/:connectionTypeId") { s, r throws(SandboxHTTPError) in
                try s.getItem(r, kind: .connectionType, parameter: "connectionTypeId")
            },
            write(.post, "/connection-type") { s, r throws(SandboxHTTPError) in try s.postItems(r, kind: .connectionType) },
            write(.patch, "/connection-type") { s, r throws(SandboxHTTPError) in try s.patchItems(r, kind: .connectionType) },
            write(.delete, "/connection-type") { s, r throws(SandboxHTTPError) in try s.deleteItems(r, kind: .connectionType) },
            read(.get, "/tags/:tagName") { s, r throws(SandboxHTTPError) in try s.getTagsByName(r) },
            read(.get, "/tags/by-card/:cardId") { s, r throws(SandboxHTTPError) in try s.getTagsByCard(r) },
            write(.patch, "/tags/color") { s, r throws(SandboxHTTPError) in try s.patchTagColor(r) },
            read(.get, "/notifications") { s, r throws(SandboxHTTPError) in try s.getNotifications(r) },
            read(.get, "/space/everyones-spaces", scope: .user) { s, r throws(SandboxHTTPError) in try s.getEveryoneSpaces(r) },
            read(.get, "/space/everyones-spaces/feed.json", scope: .user) { s, r throws(SandboxHTTPError) in try s.getEveryoneFeed(r) },
            read(.get, "/meta/new-stuff", scope: .user) { s, r throws(SandboxHTTPError) in try s.getChangelog(r) },
        ]
        return common + (legacy ? seedOnly : current)
    }
}

/// Holds the Kinopio state; every request runs against it one at a time, writes all or nothing.
typealias KinopioStore = SandboxStore<KinopioState>

extension KinopioState: SandboxState {
    /// Users, spaces, their items, groups and notifications, by id.
    static func changes(from old: KinopioState, to new: KinopioState) -> [SandboxEntityChange] {
        typealias C = SandboxEntityChange
        return C.between(old.users, new.users, kind: "user") + C.between(old.spaces, new.spaces, kind: "space")
            + C.between(old.cards, new.cards, kind: "card") + C.between(old.connections, new.connections, kind: "connection")
            + C.between(old.connectionTypes, new.connectionTypes, kind: "connectionType")
            + C.between(old.boxes, new.boxes, kind: "box") + C.between(old.tags, new.tags, kind: "tag")
            + C.between(old.lists, new.lists, kind: "list") + C.between(old.groups, new.groups, kind: "group")
            + C.between(old.notifications, new.notifications, kind: "notification") { $0["id"]?.idString ?? "" }
    }
}

/// Kinopio's edge: the key comes from `Authorization`, `App-Authorization` or `?apiKey=` (which header it
/// came in is checked by `KinopioState.requireUser`);
/// errors are `{"message": …, "status": …}`.
struct KinopioDialect: SandboxDialect {
    func credential(of request: Request) -> String? {
        let appKey = request.headers.first { $0.name.canonicalName == "app-authorization" }?.value
        if let header = request.headers[.authorization] ?? appKey {
            var key = header.trimmingCharacters(in: .whitespaces)
            if key.lowercased().hasPrefix("bearer ") { key = String(key.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            if !key.isEmpty { return key }
        }
        if let key = SandboxRouter.parseQuery(request.uri.query)["apiKey"], !key.isEmpty { return key }
        return nil
    }

    func errorBody(status: HTTPResponse.Status, message: String) -> JSONValue {
        .object(JSONObject([("message", .string(message)), ("status", .int(Int(status.code)))]))
    }
}
