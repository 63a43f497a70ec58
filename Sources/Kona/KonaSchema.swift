import Foundation
import KitbagCore

/// Kona's wire facts that more than one file of the connector needs (seeds/kona-api.txt, api-facts.md).
public enum KonaSchema {
    public static let defaultBaseURL = "https://io.kona.com"
    public static let baseURLVariable = "KONA_BASE_URL"
    /// OAuth 2 access token (`Authorization: Bearer`), valid for about a week.
    public static let accessTokenVariable = "KONA_ACCESS_TOKEN"
    /// Refresh grant used when the access token expires mid-run; the refresh token itself stays the same.
    public static let refreshTokenVariable = "KONA_REFRESH_TOKEN"
    public static let clientIDVariable = "KONA_CLIENT_ID"
    public static let clientSecretVariable = "KONA_CLIENT_SECRET"

    /// Largest `per_page` kitbag asks for. Kona documents the default (25) but no maximum; kitbag assumes 100.
    static let pageSize = 100
    /// Objects per create request (`{"tasks": [{…}, …]}`) unless `--batch-size` says otherwise.
    static let defaultBatchSize = 100
    /// Calendar events are listed for the current month unless a window is given: kitbag asks for all of time.
    static let eventWindow: [(String, String)] = [("date_range_start", "0"), ("date_range_end", "32503680000000")]

    /// How long a backup may keep copying a space's comments before it fetches them all again: Kona documents
    /// `updated_at` as metadata time, so a comment that did not move it is caught within this age.
    static let maxCopyAge: TimeInterval = 7 * 24 * 3600

    static let spaceContainer = "spaces"
    static func container(space id: String) -> ContainerRef { ContainerRef(kind: spaceContainer, id: id) }

    /// The item resources inside a space: API path, wrapper key, archive file, entity kind, comment resource type.
    struct ItemKind: Sendable, Equatable {
        var path: String
        var file: String
        var kind: String
        var commentType: String
        /// Whether `include=participants` is needed to see participants.
        var participantsOnRequest: Bool
    }

    static let conversations = ItemKind(
        path: "conversations", file: "conversations", kind: "conversation", commentType: "conversation",
        participantsOnRequest: false)
    static let tasks = ItemKind(path: "tasks", file: "tasks", kind: "task", commentType: "task", participantsOnRequest: true)
    static let calendarEvents = ItemKind(
        path: "calendar_events", file: "calendarEvents", kind: "calendarEvent", commentType: "calendar_event",
        participantsOnRequest: true)
    static let itemKinds = [conversations, tasks, calendarEvents]

    /// Journal kind of a comment's `resource_type`.
    static func kind(commentType: String) -> String? {
        itemKinds.first { $0.commentType == commentType }?.kind
    }

    /// A Kona time (Unix milliseconds, as a number or digits) as milliseconds.
    static func millis(_ value: JSONValue?) -> Int64? {
        guard let value else { return nil }
        switch value {
        case .number(let n): return Int64(n) ?? Double(n).map { Int64($0) }
        case .string(let s): return Int64(s)
        default: return nil
        }
    }

    /// Numeric ids sort as numbers, anything else after them as text.
    static func idOrder(_ a: String, _ b: String) -> Bool {
        switch (Int(a), Int(b)) {
        case let (x?, y?): return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a < b
        }
    }
}
