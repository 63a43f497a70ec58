import Foundation
import KitbagArchive
import KitbagCore
import KitbagHTTP

/// The change marker of one Kona space: for conversations, tasks and calendar events, how many the user sees and
/// the newest `updated_at` among them; and when the space's comments were last fetched rather than copied.
///
/// Any create, change or delete moves it: a create raises the count (or, with a delete, the newest `updated_at`),
/// a change moves the newest `updated_at`, a delete lowers the count. Kona documents `updated_at` as the time of
/// an item's last metadata change; kitbag takes a new comment to move its item's `updated_at` too (the sandbox
/// does so). Should a server not, a comment on an otherwise unchanged item is caught when the space is next fetched
/// whole, at the latest `KonaSchema.maxCopyAge` after its last whole fetch.
struct KonaSpaceMarker: Equatable, Sendable {
    struct Resource: Equatable, Sendable {
        var count: Int
        /// Newest `updated_at` in Unix ms; nil when there are no items.
        var newest: Int64?
    }

    /// Per `ItemKind.file`; nil for a resource whose items do not all carry a numeric `updated_at` (never reused).
    var resources: [String: Resource?]
    /// Unix seconds of the run that last fetched every comment of the space.
    var commentsFetchedAt: Int64

    init(resources: [String: Resource?], commentsFetchedAt: Int64) {
        self.resources = resources
        self.commentsFetchedAt = commentsFetchedAt
    }

    /// The marker of item lists as fetched: `items` per `ItemKind.file`.
    init(items: [String: [JSONValue]], commentsFetchedAt: Int64) {
        var resources: [String: Resource?] = [:]
        for kind in KonaSchema.itemKinds {
            let list = items[kind.file] ?? []
            let stamps = list.map { KonaSpaceMarker.stamp($0) }
            let resource: Resource? = stamps.contains(nil) ? nil : Resource(count: list.count, newest: stamps.compactMap { $0 }.max())
            resources[kind.file] = .some(resource)
        }
        self.init(resources: resources, commentsFetchedAt: commentsFetchedAt)
    }

    /// `conversations=3@1709283900000;tasks=0@-;calendarEvents=?;comments=1800000000`.
    var text: String {
        var parts: [String] = []
        for kind in KonaSchema.itemKinds {
            if let r = resources[kind.file] ?? nil {
                parts.append("\(kind.file)=\(r.count)@\(r.newest.map(String.init) ?? "-")")
            } else {
                parts.append("\(kind.file)=?")
            }
        }
        parts.append("comments=\(commentsFetchedAt)")
        return parts.joined(separator: ";")
    }

    /// Parses `text`; nil for anything else (a marker of another version or connector).
    init?(text: String?) {
        guard let text else { return nil }
        var resources: [String: Resource?] = [:]
        var fetched: Int64?
        for part in text.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { return nil }
            if pair[0] == "comments" {
                fetched = Int64(pair[1])
                continue
            }
            guard KonaSchema.itemKinds.contains(where: { $0.file == pair[0] }) else { return nil }
            if pair[1] == "?" {
                resources[pair[0]] = .some(nil)
                continue
            }
            let fields = pair[1].split(separator: "@", maxSplits: 1).map(String.init)
            guard fields.count == 2, let count = Int(fields[0]), count >= 0 else { return nil }
            if fields[1] == "-" {
                resources[pair[0]] = Resource(count: count, newest: nil)
            } else {
                guard let newest = Int64(fields[1]) else { return nil }
                resources[pair[0]] = Resource(count: count, newest: newest)
            }
        }
        guard let fetched, resources.count == KonaSchema.itemKinds.count else { return nil }
        self.init(resources: resources, commentsFetchedAt: fetched)
    }

    /// An item's `updated_at` in Unix ms, if it has one.
    static func stamp(_ item: JSONValue) -> Int64? {
        guard let value = item["updated_at"], !value.isNull else { return nil }
        return value.idString.flatMap { Int64($0) }
    }
}

extension KonaExporter {
    /// True when none of the space's conversations, tasks and calendar events was created, changed or deleted since
    /// `marker` was taken. Per resource one request (`order_by=updated_at`, `per_page` count + 1) while it holds
    /// fewer than 100 items, else two with `per_page` 1 and a small page that ends just after the old count.
    func unchanged(space id: String, since marker: KonaSpaceMarker) async throws -> Bool {
        for kind in KonaSchema.itemKinds {
            guard let expected = marker.resources[kind.file] ?? nil else { return false }
            var query = [("space_id", id), ("order_by", "updated_at")]
            if kind == KonaSchema.calendarEvents { query += KonaSchema.eventWindow }
            let count = expected.count
            if count < KonaSchema.pageSize {
                let items = try await page(kind, query: query, perPage: count + 1, page: 1)
                guard items.count == count, count == 0 || items.first.flatMap(KonaSpaceMarker.stamp) == expected.newest else {
                    return false
                }
                continue
            }
            let newest = try await page(kind, query: query, perPage: 1, page: 1)
            guard newest.count == 1, KonaSpaceMarker.stamp(newest[0]) == expected.newest else { return false }
            // A page of `size` items that holds position `count` but does not end there: it is exactly as long as
            // the old count says only when the number of items did not move.
            let size = (2...).first { count % $0 != 0 }!
            let tail = try await page(kind, query: query, perPage: size, page: (count - 1) / size + 1)
            guard tail.count == (count - 1) % size + 1 else { return false }
        }
        return true
    }

    /// One page of a change check, counted apart from the export's own list requests.
    private func page(_ kind: KonaSchema.ItemKind, query: [(String, String)], perPage: Int, page: Int) async throws
        -> [JSONValue]
    {
        let route = "GET /\(kind.path)?order_by=updated_at"
        let answer = try await connection.client.json(
            APIRequest(
                method: .GET, path: "/\(kind.path)",
                query: query + [("per_page", String(perPage)), ("page", String(page))], route: route))
        guard let items = answer[kind.path]?.arrayValue else {
            throw HTTPFailure.invalidBody(service: "kona", route: route, reason: "no \"\(kind.path)\" array in the answer")
        }
        return items
    }
}

/// A space's files in the previous archive, for copying it whole or reusing the comments of unchanged items.
struct KonaPreviousSpace {
    let reader: SnapshotReader
    let container: ContainerRef

    /// Nil unless the previous archive holds every file a space export writes.
    init?(_ reader: SnapshotReader, container: ContainerRef) {
        let files = Set(reader.jsonLinesEntries(in: container).map(\.path))
        let needed = ["space", "comments"] + KonaSchema.itemKinds.map(\.file)
        guard needed.allSatisfy({ files.contains(Self.path(container, $0)) }) else { return nil }
        self.reader = reader
        self.container = container
    }

    static func path(_ container: ContainerRef, _ file: String) -> String { "\(container.archiveFolder)/\(file).jsonl" }

    func values(_ file: String) throws -> [JSONValue] { try reader.values(at: Self.path(container, file)) }

    func comments() throws -> JSONLinesSequence { try reader.lines(at: Self.path(container, "comments")) }

    /// `resource_type/id` → `updated_at` of every item in the previous archive's copy of the space.
    func stamps() throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for kind in KonaSchema.itemKinds {
            for item in try values(kind.file) {
                if let id = item["id"]?.idString, let stamp = KonaSpaceMarker.stamp(item) { out["\(kind.commentType)/\(id)"] = stamp }
            }
        }
        return out
    }

    /// `resource_type/id` → that item's comments, in archive order.
    func commentsByItem() throws -> [String: [JSONValue]] {
        var out: [String: [JSONValue]] = [:]
        let lines = try comments()
        while let comment = try lines.next() {
            guard let type = comment["resource_type"]?.stringValue, let id = comment["resource_id"]?.idString else { continue }
            out["\(type)/\(id)", default: []].append(comment)
        }
        return out
    }
}
