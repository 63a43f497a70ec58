import Foundation
import KitbagConnector
import KitbagCore

/// What Kintone's round trip sets aside, for the shared oracle (`RoundTripOracle`).
///
/// Apps and records are paired through the import journal; what Kintone sets itself (record numbers, ids,
/// revisions, creators and times, view/graph/action ids, file keys, comment authors and times) is set aside and
/// app ids inside lookups and actions are translated back. What remains must be equal: every setting, every field
/// value of every record (files by content digest), every comment in order.
public enum KintoneRoundTrip {
    /// Record field types whose values belong to the target, not the content.
    static let volatileFieldTypes: Set<String> = [
        "RECORD_NUMBER", "__ID__", "__REVISION__", "CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME", "CATEGORY",
        "STATUS_ASSIGNEE",
    ]

    public static let rules = RoundTripRules(
        containerFolder: "apps", containerKind: "app", journalKinds: ["app", "record"],
        idOrder: KintoneSchema.idLess
    ) { values, side, file, ids, _ in
        let app = file.sourceContainer ?? ""
        // Journal keys of records are `app/record`; on the target side a record is found by its target app and id.
        var recordBack: [String: String] = [:]
        if side == .target {
            for (key, target) in ids.created["record"] ?? [] where key.split(separator: "/").first.map(String.init) == app {
                recordBack[target] = String(key.split(separator: "/").last ?? "")
            }
        }
        switch file.name {
        case "records":
            return keyed(values.map { normalizeRecord($0) }) { record in
                let id = KintoneRecordReader.recordID(record)
                return side == .source ? id : id.flatMap { recordBack[$0] }
            }
        case "comments":
            let grouped = Dictionary(grouping: values) { c -> String in
                let id = c["recordId"]?.idString ?? ""
                return side == .source ? id : recordBack[id] ?? "?"
            }
            var out: [String: JSONValue] = [:]
            for (record, comments) in grouped { out["record \(record)"] = .array(comments.map(normalizeComment)) }
            return out
        default:
            let settings = values.map { normalizeSetting($0, file: file.name, appBack: side == .target ? ids.back["app"] ?? [:] : [:]) }
            return [app: .array(settings)]
        }
    }

    /// Normalised values keyed by `key` of their original (in the order given when it has none).
    static func keyed(_ values: [(original: JSONValue, value: JSONValue)], key: (JSONValue) -> String?) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (n, v) in values.enumerated() { out[key(v.original) ?? "#\(n)"] = v.value }
        return out
    }

    /// A record without server-set fields; files by name, type, size and digest; subtable rows without ids.
    static func normalizeRecord(_ record: JSONValue) -> (original: JSONValue, value: JSONValue) {
        var out = JSONObject()
        for (code, field) in (record.objectValue ?? JSONObject()).sorted(by: { $0.key < $1.key }) {
            guard let type = field["type"]?.stringValue, !volatileFieldTypes.contains(type) else { continue }
            out[code] = normalizeField(field)
        }
        return (record, .object(out))
    }

    static func normalizeField(_ field: JSONValue) -> JSONValue {
        let type = field["type"]?.stringValue ?? ""
        var value = field["value"] ?? .null
        switch type {
        case "FILE":
            value = .array((value.arrayValue ?? []).map { f in
                ["name": f["name"] ?? .null, "contentType": f["contentType"] ?? .null, "size": f["size"] ?? .null,
                 "sha256": f["sha256"] ?? .null]
            })
        case "SUBTABLE":
            value = .array((value.arrayValue ?? []).map { row in
                var cells = JSONObject()
                for (code, cell) in (row["value"]?.objectValue ?? JSONObject()).sorted(by: { $0.key < $1.key }) {
                    guard let t = cell["type"]?.stringValue, !volatileFieldTypes.contains(t) else { continue }
                    cells[code] = normalizeField(cell)
                }
                return .object(cells)
            })
        default: break
        }
        return ["type": .string(type), "value": value]
    }

    static func normalizeComment(_ comment: JSONValue) -> JSONValue {
        ["text": comment["text"] ?? .null, "mentions": comment["mentions"] ?? .array([])]
    }

    /// Settings without revisions and server ids; app ids translated back; file keys dropped (digests kept).
    static func normalizeSetting(_ value: JSONValue, file: String, appBack: [String: String]) -> JSONValue {
        if file == "app" { return ["name": value["name"] ?? .null] }
        var v = value
        v["revision"] = nil
        if file == "generalSettings", v["icon"]?["type"]?.stringValue == "FILE" { v["icon"] = nil }
        return sortedAndCleaned(v, appBack: appBack, parentKey: nil)
    }

    static func sortedAndCleaned(_ value: JSONValue, appBack: [String: String], parentKey: String?) -> JSONValue {
        switch value {
        case .object(let o):
            var out = JSONObject()
            for key in o.keys.sorted() {
                let inner = o[key]!
                if parentKey?.hasSuffix("-member") == true, key == "id" { continue }
                if key == "fileKey" { continue }
                if parentKey == "relatedApp" || parentKey == "destApp" {
                    if key == "code" { continue }
                    if key == "app", let id = inner.idString {
                        out[key] = .string(appBack[id] ?? id)
                        continue
                    }
                }
                out[key] = sortedAndCleaned(inner, appBack: appBack, parentKey: idBearingParent(parentKey, key))
            }
            return .object(out)
        case .array(let a): return .array(a.map { sortedAndCleaned($0, appBack: appBack, parentKey: parentKey) })
        default: return value
        }
    }

    /// The key that decides what is dropped one level down: members of `views`/`reports`/`actions` drop their `id`.
    static func idBearingParent(_ parent: String?, _ key: String) -> String? {
        if ["views", "reports", "actions"].contains(parent ?? "") { return "\(parent!)-member" }
        return key
    }
}
