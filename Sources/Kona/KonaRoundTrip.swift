import Foundation
import KitbagArchive
import KitbagCore
import KitbagJournal

/// Compares a source export with the export of the account it was imported into.
///
/// Target ids (of the entity itself, its space, a comment's resource and participants' users) are translated back
/// to source ids through the import journal; keys Kona sets itself are set aside, and participants are compared only
/// for users the import could map. What remains must be equal.
enum KonaRoundTrip {
    struct Difference: Sendable, CustomStringConvertible, Equatable {
        var path: String
        var id: String
        var detail: String
        var description: String { "\(path) \(id): \(detail)" }
    }

    /// Keys the server sets, or that describe the account rather than the content.
    static let volatileKeys: Set<String> = [
        "href", "created_at", "updated_at", "creator_id", "completed_at", "completed_by_id", "picture_thumb",
        "account_id", "space_type", "template", "published", "series_id", "num_in_series", "ics_feed_id",
    ]
    static let kinds = ["space", "conversation", "task", "calendarEvent", "comment", "user"]

    static func compare(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported]
    ) throws -> [Difference] {
        var back: [String: [String: String]] = [:]
        var mappedUsers: Set<String> = []
        for kind in kinds {
            for (s, e) in try journal.entries(kind: kind) where e.state == .created {
                back[kind, default: [:]][e.targetID] = s
                if kind == "user" { mappedUsers.insert(s) }
            }
        }
        let targetEntries = Set(target.jsonLinesEntries().map(\.path))
        var diffs: [Difference] = []
        for entry in source.jsonLinesEntries() where entry.path.hasPrefix("data/spaces/") {
            let parts = entry.path.split(separator: "/").map(String.init)
            guard parts.count == 4 else { continue }
            let sourceSpace = ArchivePath.decodeComponent(parts[2])
            if notImported.contains(where: { $0.kind == entry.kind && ($0.container == nil || $0.container == sourceSpace) }) {
                continue
            }
            guard let targetSpace = try journal.entry(kind: "space", sourceID: sourceSpace)?.targetID else {
                diffs.append(Difference(path: entry.path, id: sourceSpace, detail: "space was not imported"))
                continue
            }
            let targetPath = "data/spaces/\(ArchivePath.component(targetSpace))/\(parts[3])"
            let kind = entry.kind ?? ""
            var want: [String: JSONValue] = [:]
            for (n, v) in try source.lines(at: entry.path).enumerated() {
                let t = normalize(v, kind: kind, translate: nil, users: mappedUsers)
                want[v["id"]?.idString ?? "#\(n)"] = t
            }
            var got: [String: JSONValue] = [:]
            if targetEntries.contains(targetPath) {
                for (n, v) in try target.lines(at: targetPath).enumerated() {
                    let id = v["id"]?.idString.flatMap { back[kind]?[$0] } ?? "#\(n) (target \(v["id"]?.idString ?? "?"))"
                    got[id] = normalize(v, kind: kind, translate: back, users: mappedUsers)
                }
            }
            for id in Set(want.keys).union(got.keys).sorted() {
                switch (want[id], got[id]) {
                case (let a?, let b?) where a != b:
                    diffs.append(Difference(path: entry.path, id: id, detail: "differs: \(a) ≠ \(b)"))
                case (_?, nil): diffs.append(Difference(path: entry.path, id: id, detail: "missing after the round trip"))
                case (nil, _?): diffs.append(Difference(path: entry.path, id: id, detail: "appeared after the round trip"))
                default: break
                }
            }
        }
        return diffs
    }

    /// Drops volatile keys and ids, sorts keys, translates references (target → source when `translate` is given),
    /// and keeps only participants whose user the import mapped. A space's participants are set aside entirely.
    static func normalize(
        _ value: JSONValue, kind: String, translate: [String: [String: String]]?, users: Set<String>
    ) -> JSONValue {
        guard let o = value.objectValue else { return value }
        func ref(_ v: JSONValue?, _ kind: String) -> JSONValue {
            guard let v, let id = v.idString else { return v ?? .null }
            guard let translate else { return .string(id) }
            return .string(translate[kind]?[id] ?? "target:\(id)")
        }
        var out = JSONObject()
        for key in o.keys.sorted() where !volatileKeys.contains(key) && key != "id" {
            let v = o[key]!
            switch key {
            case "space_id": out[key] = ref(v, "space")
            case "resource_id":
                out[key] = ref(v, KonaSchema.kind(commentType: o["resource_type"]?.stringValue ?? "") ?? "")
            case "participants":
                if kind == "space" { continue }
                let list: [JSONValue] = (v.arrayValue ?? []).compactMap { p in
                    let user = ref(p["user_id"], "user")
                    guard let id = user.stringValue, users.contains(id) else { return nil }
                    return ["user_id": user, "role": p["role"] ?? .null]
                }
                out[key] = .array(list)
            default: out[key] = v
            }
        }
        return .object(out)
    }
}
