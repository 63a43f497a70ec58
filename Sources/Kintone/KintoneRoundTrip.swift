import Foundation
import KitbagArchive
import KitbagCore
import KitbagJournal

/// Compares a source export with the export of the domain it was imported into.
///
/// Apps and records are paired through the import journal; what Kintone sets itself (record numbers, ids,
/// revisions, creators and times, view/graph/action ids, file keys, comment authors and times) is set aside and
/// app ids inside lookups and actions are translated back. What remains must be equal: every setting, every field
/// value of every record (files by content digest), every comment in order.
public enum KintoneRoundTrip {
    public struct Difference: Sendable, CustomStringConvertible, Equatable {
        public var path: String
        public var id: String
        public var detail: String
        public var description: String { "\(path) \(id): \(detail)" }
    }

    /// Record field types whose values belong to the target, not the content.
    static let volatileFieldTypes: Set<String> = [
        "RECORD_NUMBER", "__ID__", "__REVISION__", "CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME", "CATEGORY",
        "STATUS_ASSIGNEE",
    ]

    public static func compare(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported] = []
    ) throws -> [Difference] {
        let apps = try journal.entries(kind: "app").filter { $0.value.state == .created }
        var appBack: [String: String] = [:]
        for (s, e) in apps { appBack[e.targetID] = s }
        var recordBack: [String: String] = [:]
        for (key, e) in try journal.entries(kind: "record") where e.state == .created {
            let app = String(key.split(separator: "/").first ?? "")
            if let targetApp = apps[app]?.targetID { recordBack["\(targetApp)/\(e.targetID)"] = String(key.split(separator: "/").last ?? "") }
        }
        let targetPaths = Set(target.jsonLinesEntries().map(\.path))
        var diffs: [Difference] = []
        for entry in source.jsonLinesEntries() where entry.path.hasPrefix("data/apps/") {
            let parts = entry.path.split(separator: "/").map(String.init)
            guard parts.count == 4 else { continue }
            let file = String(parts[3].dropLast(".jsonl".count))
            let sourceApp = ArchivePath.decodeComponent(parts[2])
            if notImported.contains(where: { $0.kind == entry.kind && ($0.container == nil || $0.container == sourceApp) }) {
                continue
            }
            guard let targetApp = apps[sourceApp]?.targetID else {
                diffs.append(Difference(path: entry.path, id: sourceApp, detail: "app was not imported"))
                continue
            }
            let targetPath = "data/apps/\(ArchivePath.component(targetApp))/\(parts[3])"
            let want = try source.values(at: entry.path)
            let got = targetPaths.contains(targetPath) ? try target.values(at: targetPath) : []
            switch file {
            case "records":
                let a = keyed(want.map { normalizeRecord($0) }) { KintoneRecordReader.recordID($0.original) }
                let b = keyed(got.map { normalizeRecord($0) }) { r in
                    KintoneRecordReader.recordID(r.original).flatMap { recordBack["\(targetApp)/\($0)"] }
                }
                diffs += compareKeyed(a, b, path: entry.path)
            case "comments":
                let a = Dictionary(grouping: want, by: { $0["recordId"]?.idString ?? "" }).mapValues { $0.map(normalizeComment) }
                let b = Dictionary(grouping: got, by: { c in recordBack["\(targetApp)/\(c["recordId"]?.idString ?? "")"] ?? "?" })
                    .mapValues { $0.map(normalizeComment) }
                for id in Set(a.keys).union(b.keys).sorted() where a[id] != b[id] {
                    diffs.append(
                        Difference(path: entry.path, id: "record \(id)", detail: "comments differ: \(a[id] ?? []) ≠ \(b[id] ?? [])"))
                }
            default:
                let a = want.map { normalizeSetting($0, file: file, appBack: [:]) }
                let b = got.map { normalizeSetting($0, file: file, appBack: appBack) }
                if a != b {
                    diffs.append(Difference(path: entry.path, id: sourceApp, detail: "differs: \(a) ≠ \(b)"))
                }
            }
        }
        return diffs
    }

    struct Normalized: Equatable {
        var original: JSONValue
        var value: JSONValue
        static func == (a: Normalized, b: Normalized) -> Bool { a.value == b.value }
    }

    static func keyed(_ values: [Normalized], key: (Normalized) -> String?) -> [String: Normalized] {
        var out: [String: Normalized] = [:]
        for (n, v) in values.enumerated() { out[key(v) ?? "#\(n)"] = v }
        return out
    }

    static func compareKeyed(_ a: [String: Normalized], _ b: [String: Normalized], path: String) -> [Difference] {
        var diffs: [Difference] = []
        for id in Set(a.keys).union(b.keys).sorted(by: KintoneSchema.idLess) {
            switch (a[id], b[id]) {
            case (let x?, let y?) where x != y:
                diffs.append(Difference(path: path, id: id, detail: "differs: \(x.value) ≠ \(y.value)"))
            case (_?, nil): diffs.append(Difference(path: path, id: id, detail: "missing after the round trip"))
            case (nil, _?): diffs.append(Difference(path: path, id: id, detail: "appeared after the round trip"))
            default: break
            }
        }
        return diffs
    }

    /// A record without server-set fields; files by name, type, size and digest; subtable rows without ids.
    static func normalizeRecord(_ record: JSONValue) -> Normalized {
        var out = JSONObject()
        for (code, field) in (record.objectValue ?? JSONObject()).sorted(by: { $0.key < $1.key }) {
            guard let type = field["type"]?.stringValue, !volatileFieldTypes.contains(type) else { continue }
            out[code] = normalizeField(field)
        }
        return Normalized(original: record, value: .object(out))
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
