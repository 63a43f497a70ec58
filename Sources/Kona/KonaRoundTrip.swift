import Foundation
import KitbagConnector
import KitbagCore

/// What Kona's round trip sets aside, for the shared oracle (`RoundTripOracle`).
///
/// Target ids (of the entity itself, its space, a comment's resource and participants' users) are translated back
/// to source ids through the import journal; keys Kona sets itself are set aside, and participants are compared only
/// for users the import could map. What remains must be equal.
enum KonaRoundTrip {
    /// Keys the server sets, or that describe the account rather than the content.
    static let volatileKeys: Set<String> = [
        "href", "created_at", "updated_at", "creator_id", "completed_at", "completed_by_id", "picture_thumb",
        "account_id", "space_type", "template", "published", "series_id", "num_in_series", "ics_feed_id",
    ]

    static let rules = RoundTripRules(
        containerFolder: "spaces", containerKind: "space",
        journalKinds: ["space", "conversation", "task", "calendarEvent", "comment", "user"]
    ) { values, side, file, ids, _ in
        let kind = file.kind ?? ""
        let users = Set((ids.created["user"] ?? []).map(\.source))
        var out: [String: JSONValue] = [:]
        for (n, v) in values.enumerated() {
            switch side {
            case .source:
                out[v["id"]?.idString ?? "#\(n)"] = normalize(v, kind: kind, translate: nil, users: users)
            case .target:
                let id = v["id"]?.idString.flatMap { ids.back[kind]?[$0] } ?? "#\(n) (target \(v["id"]?.idString ?? "?"))"
                out[id] = normalize(v, kind: kind, translate: ids.back, users: users)
            }
        }
        return out
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
