import Foundation
import KitbagCore

/// Maps a Kintone app onto the connector-neutral readable model: the app is the container, its form fields the
/// field table, records the items (titled by the app's title field, or its first text field), with their
/// comments and attached files.
enum KintoneReadable {
    static func container(
        app: JSONValue, settings: [String: JSONValue], records: [JSONValue], comments: [String: [JSONValue]],
        webBase: String, guestSpaceID: String?
    ) -> ReadableContainer {
        let id = app["appId"]?.idString ?? ""
        let fields = definitions(settings["formFields"], layout: settings["formLayout"])
        let titleCode = titleField(settings["generalSettings"], fields: fields)
        var base = webBase
        while base.hasSuffix("/") { base.removeLast() }
        let appURL = base + (guestSpaceID.map { "/k/guest/\($0)/\(id)/" } ?? "/k/\(id)/")
        let items: [ReadableItem] = records.compactMap { record in
            guard let rid = KintoneRecordReader.recordID(record) else { return nil }
            var title = titleCode.flatMap { text(record[$0]) } ?? ""
            if title.isEmpty { title = "Record \(rid)" }
            let values: [ReadableFieldValue] = fields.compactMap { def in
                guard let field = record[def.code], let value = readable(field) else { return nil }
                return ReadableFieldValue(name: def.label, value: value)
            }
            let attachments: [ReadableAttachment] = KintoneSchema.fileValues(of: record).compactMap { _, file in
                guard let digest = file["sha256"]?.stringValue else { return nil }
                return ReadableAttachment(
                    name: file["name"]?.stringValue ?? digest, archivePath: ArchivePath.attachment(sha256: digest),
                    size: file["size"]?.idString.flatMap { Int64($0) }, contentType: file["contentType"]?.stringValue)
            }
            let notes: [ReadableComment] = (comments[rid] ?? []).map { c in
                ReadableComment(
                    author: c["creator"]?["name"]?.stringValue ?? c["creator"]?["code"]?.stringValue,
                    createdAt: date(c["createdAt"]), body: c["text"]?.stringValue ?? "")
            }
            let byType = Dictionary(
                (record.objectValue ?? JSONObject()).compactMap { k, v in v["type"]?.stringValue.map { ($0, v) } },
                uniquingKeysWith: { a, _ in a })
            return ReadableItem(
                id: rid, title: title, author: byType["CREATOR"]?["value"]?["name"]?.stringValue,
                createdAt: date(byType["CREATED_TIME"]?["value"]), updatedAt: date(byType["UPDATED_TIME"]?["value"]),
                labels: (byType["CATEGORY"]?["value"]?.arrayValue ?? []).compactMap(\.stringValue),
                status: byType["STATUS"]?["value"]?.stringValue, fields: values, comments: notes,
                attachments: attachments, url: appURL + "show#record=\(rid)")
        }
        let description = plainText(fromHTML: app["description"]?.stringValue ?? "")
        return ReadableContainer(
            id: id, kind: "app", title: app["name"]?.stringValue ?? id, summary: description.isEmpty ? nil : description,
            url: appURL, createdAt: date(app["createdAt"]), updatedAt: date(app["modifiedAt"]), fields: fields,
            items: items)
    }

    /// Field definitions in form order (layout first, then any field the layout does not place).
    static func definitions(_ formFields: JSONValue?, layout: JSONValue?) -> [ReadableFieldDefinition] {
        guard let properties = formFields?["properties"]?.objectValue else { return [] }
        var order: [String] = []
        func walk(_ rows: [JSONValue]) {
            for row in rows {
                if row["type"]?.stringValue == "SUBTABLE", let code = row["code"]?.stringValue { order.append(code) }
                if let nested = row["layout"]?.arrayValue { walk(nested) }
                for field in row["fields"]?.arrayValue ?? [] {
                    if let code = field["code"]?.stringValue { order.append(code) }
                }
            }
        }
        walk(layout?["layout"]?.arrayValue ?? [])
        for code in properties.keys where !order.contains(code) { order.append(code) }
        return order.compactMap { code in
            guard let p = properties[code], let type = p["type"]?.stringValue,
                !KintoneSchema.layoutOnlyFieldTypes.contains(type)
            else { return nil }
            return ReadableFieldDefinition(code: code, label: p["label"]?.stringValue ?? code, type: type)
        }
    }

    /// The general settings' title field, else the first single-line text field.
    static func titleField(_ settings: JSONValue?, fields: [ReadableFieldDefinition]) -> String? {
        if let code = settings?["titleField"]?["code"]?.stringValue, !code.isEmpty { return code }
        return fields.first { $0.type == "SINGLE_LINE_TEXT" }?.code
    }

    /// A field's value as text, a list or a table; nil when empty.
    static func readable(_ field: JSONValue) -> ReadableValue? {
        let value = field["value"]
        switch field["type"]?.stringValue {
        case "SUBTABLE":
            let rows = value?.arrayValue ?? []
            guard !rows.isEmpty else { return nil }
            var columns: [String] = []
            for row in rows { for (k, _) in row["value"]?.objectValue ?? JSONObject() where !columns.contains(k) { columns.append(k) } }
            let table = rows.map { row in columns.map { c in row["value"]?[c].flatMap(cellText) ?? "" } }
            return .table(columns: columns, rows: table)
        case "FILE":
            let names = (value?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            return names.isEmpty ? nil : .list(names)
        case "RICH_TEXT":
            let t = plainText(fromHTML: value?.stringValue ?? "")
            return t.isEmpty ? nil : .text(t)
        default:
            if let list = value?.arrayValue {
                let items = list.compactMap { $0.stringValue ?? $0["name"]?.stringValue ?? $0["code"]?.stringValue }
                return items.isEmpty ? nil : .list(items)
            }
            guard let t = text(field), !t.isEmpty else { return nil }
            return .text(t)
        }
    }

    static func cellText(_ field: JSONValue) -> String? {
        switch readable(field) {
        case .text(let t): return t
        case .list(let l): return l.joined(separator: ", ")
        default: return nil
        }
    }

    /// A scalar field value as text (user entities by name).
    static func text(_ field: JSONValue?) -> String? {
        guard let value = field?["value"] else { return nil }
        if let s = value.idString { return s }
        if let name = value["name"]?.stringValue { return name }
        return nil
    }

    /// Kintone keeps descriptions and rich text as HTML: line breaks kept, tags dropped, entities decoded.
    static func plainText(fromHTML html: String) -> String {
        var text = html
        for br in ["<br>", "<br/>", "<br />", "</div>", "</p>", "</li>"] {
            text = text.replacingOccurrences(of: br, with: "\n", options: .caseInsensitive)
        }
        text = text.replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression)
        for (entity, char) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&nbsp;", " "), ("&amp;", "&")] {
            text = text.replacingOccurrences(of: entity, with: char)
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func date(_ v: JSONValue?) -> Date? {
        v?.stringValue.flatMap(Timestamp.parse)
    }
}
