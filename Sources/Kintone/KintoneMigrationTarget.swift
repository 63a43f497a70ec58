import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kintone as a migration target: each source container becomes a new app whose form is derived from the items.
///
/// Fields, in form order: Title (SINGLE_LINE_TEXT, the app's title field), Body (MULTI_LINE_TEXT, the Markdown
/// text), Status (DROP_DOWN whose options are the source's statuses in the source's order), Labels (MULTI_SELECT
/// with the label names), Author (SINGLE_LINE_TEXT), Created and Updated (DATETIME: Kintone sets a record's own
/// creator and times itself), then one field per source field, typed by the shape of its values (NUMBER, DATE,
/// DATETIME, LINK, MULTI_SELECT for lists, MULTI_LINE_TEXT or SINGLE_LINE_TEXT), and Attachments (FILE) when the
/// source archive holds the files. A derived field is present only when some item has a value for it.
///
/// Status is a drop-down rather than process management: a drop-down takes any status on record creation, in one
/// request, while process management would need an invented action graph and a status request per step.
///
/// Labels come from `[fields]` in the mapping (`body = "Description"`, `"Customer" = "Client"`); a field's code is
/// its label with characters Kintone does not allow in codes replaced by `_`, made unique within the app.
enum KintoneMigrationForm {
    /// One field of the new app.
    struct Field: Equatable {
        /// `title`, `body`, `status`, `labels`, `author`, `created`, `updated`, `attachments`, or `field NAME`.
        var role: String
        var code: String
        var label: String
        var type: String
        /// Choices of DROP_DOWN and MULTI_SELECT fields, in order.
        var options: [String] = []
    }

    static let roles: [(role: String, label: String)] = [
        ("title", "Title"), ("body", "Body"), ("status", "Status"), ("labels", "Labels"), ("author", "Author"),
        ("created", "Created"), ("updated", "Updated"), ("attachments", "Attachments"),
    ]

    /// Field codes every new app has already (Kintone's built-in fields, English names); derived codes avoid them.
    static let builtInCodes: Set<String> = [
        "Record_number", "Created_by", "Created_datetime", "Updated_by", "Updated_datetime", "Status", "Assignee",
        "Categories",
    ]

    /// The form of the app a container becomes.
    static func fields(_ c: MigrationContainer, rules: MappingConfig.Rules) -> [Field] {
        let live = c.readable.items.filter { !$0.isRemoved }
        var out: [Field] = []
        var codes = builtInCodes
        func add(_ role: String, _ defaultLabel: String, _ type: String, options: [String] = []) {
            let label = rules.fields[role] ?? (role.hasPrefix("field ") ? rules.fields[String(role.dropFirst(6))] : nil) ?? defaultLabel
            let code = uniqueCode(label, taken: &codes)
            out.append(Field(role: role, code: code, label: label, type: type, options: options))
        }
        add("title", "Title", "SINGLE_LINE_TEXT")
        if live.contains(where: { !$0.body.isEmpty }) { add("body", "Body", "MULTI_LINE_TEXT") }
        let statuses = MigrationPlanner.statusOptions(c, defaultStatus: rules.defaultStatus)
        if !statuses.isEmpty { add("status", "Status", "DROP_DOWN", options: statuses) }
        var labels: [String] = []
        for item in live { for l in item.labels where !l.isEmpty && !labels.contains(l) { labels.append(l) } }
        if !labels.isEmpty { add("labels", "Labels", "MULTI_SELECT", options: labels) }
        if live.contains(where: { $0.author != nil }) { add("author", "Author", "SINGLE_LINE_TEXT") }
        if live.contains(where: { $0.createdAt != nil }) { add("created", "Created", "DATETIME") }
        if live.contains(where: { $0.updatedAt != nil }) { add("updated", "Updated", "DATETIME") }
        for name in c.fieldNames {
            let values = live.compactMap { item in item.fields.first { $0.name == name }?.value }
            guard !values.isEmpty else { continue }
            let (type, options) = shape(values)
            add("field \(name)", name, type, options: options)
        }
        if live.contains(where: { !$0.attachments.isEmpty }) { add("attachments", "Attachments", "FILE") }
        return out
    }

    /// A field code from a label: letters, digits and `_` kept, anything else `_`, never starting with a digit,
    /// at most 128 characters, not one of `taken` (then `_2`, `_3`…).
    static func uniqueCode(_ label: String, taken: inout Set<String>) -> String {
        var base = ""
        for ch in label {
            if ch.isLetter || ch.isNumber || ch == "_" {
                base.append(ch)
            } else if !base.hasSuffix("_") {
                base.append("_")
            }
        }
        while base.hasSuffix("_") && base.count > 1 { base.removeLast() }
        if base.isEmpty || base == "_" { base = "Field" }
        if base.first?.isNumber == true { base = "F_" + base }
        base = String(base.prefix(120))
        var code = base
        var n = 2
        while taken.contains(code) {
            code = "\(base)_\(n)"
            n += 1
        }
        taken.insert(code)
        return code
    }

    // MARK: Value shapes

    static let numberPattern = #"^-?[0-9]+(\.[0-9]+)?$"#
    static let datePattern = #"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"#
    /// `2024-03-15 17:00 UTC` (Kona's readable dates) or ISO 8601 with a time.
    static let dateTimePattern = #"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)(Z| UTC|[+-][0-9]{2}:?[0-9]{2})$"#
    static let linkPattern = #"^https?://[^\s]+$"#

    static func matches(_ text: String, _ pattern: String) -> Bool {
        text.range(of: pattern, options: .regularExpression) != nil
    }

    /// The Kintone type of a source field from its values, and the options of a MULTI_SELECT.
    static func shape(_ values: [ReadableValue]) -> (type: String, options: [String]) {
        var texts: [String] = []
        var lists: [[String]] = []
        var tables = 0
        for v in values {
            switch v {
            case .text(let t): texts.append(t)
            case .list(let l): lists.append(l)
            case .table: tables += 1
            }
        }
        if tables == 0 && texts.isEmpty && !lists.isEmpty {
            var options: [String] = []
            for l in lists { for o in l where !o.isEmpty && !options.contains(o) { options.append(o) } }
            return ("MULTI_SELECT", options)
        }
        if tables > 0 || !lists.isEmpty { return ("MULTI_LINE_TEXT", []) }
        let filled = texts.filter { !$0.isEmpty }
        if !filled.isEmpty {
            if filled.allSatisfy({ matches($0, numberPattern) }) { return ("NUMBER", []) }
            if filled.allSatisfy({ matches($0, datePattern) }) { return ("DATE", []) }
            if filled.allSatisfy({ matches($0, dateTimePattern) && dateTime($0) != nil }) { return ("DATETIME", []) }
            if filled.allSatisfy({ matches($0, linkPattern) }) { return ("LINK", []) }
        }
        return (texts.contains { $0.contains("\n") } ? "MULTI_LINE_TEXT" : "SINGLE_LINE_TEXT", [])
    }

    /// Kintone's DATETIME form (`2024-03-15T17:00:00Z`, to the minute as Kintone keeps it).
    static func dateTime(_ date: Date) -> String {
        let t = Timestamp.civil(secondsSince1970: Int64(date.timeIntervalSince1970.rounded(.down)))
        return String(format: "%04d-%02d-%02dT%02d:%02d:00Z", t.year, t.month, t.day, t.hour, t.minute)
    }

    static func dateTime(_ text: String) -> String? {
        var t = text
        if t.hasSuffix(" UTC") { t = String(t.dropLast(4)) + "Z" }
        t = t.replacingOccurrences(of: " ", with: "T")
        if t.count == 17 || (t.count == 16 && !t.hasSuffix("Z")) {
            // `2024-03-15T17:00Z` → with seconds
            if t.hasSuffix("Z") { t = String(t.dropLast()) + ":00Z" } else { t += ":00Z" }
        }
        return Timestamp.parse(t).map(dateTime)
    }

    /// The record value of one field of an item, or nil when the item has none.
    static func value(_ field: Field, of item: ReadableItem, in c: MigrationContainer, defaultStatus: String?) -> JSONValue? {
        func line(_ s: String) -> String {
            s.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
        }
        switch field.role {
        case "title": return .string(line(item.title))
        case "body": return item.body.isEmpty ? nil : .string(item.body)
        case "status":
            return (item.status.map(c.renamed) ?? defaultStatus).map(JSONValue.string)
        case "labels":
            var seen: [String] = []
            for l in item.labels where !l.isEmpty && !seen.contains(l) { seen.append(l) }
            return seen.isEmpty ? nil : .array(seen.map(JSONValue.string))
        case "author": return item.author.map { .string(line($0)) }
        case "created": return item.createdAt.map { .string(dateTime($0)) }
        case "updated": return item.updatedAt.map { .string(dateTime($0)) }
        case "attachments": return nil
        default:
            let name = String(field.role.dropFirst("field ".count))
            guard let v = item.fields.first(where: { $0.name == name })?.value else { return nil }
            switch (field.type, v) {
            case ("MULTI_SELECT", .list(let l)): return .array(l.filter { !$0.isEmpty }.map(JSONValue.string))
            case ("DATETIME", .text(let t)): return t.isEmpty ? nil : dateTime(t).map(JSONValue.string)
            case ("MULTI_LINE_TEXT", .list(let l)): return .string(l.joined(separator: "\n"))
            case ("MULTI_LINE_TEXT", .table(let columns, let rows)):
                return .string(
                    rows.map { row in zip(columns, row).map { "\($0): \($1)" }.joined(separator: ", ") }
                        .joined(separator: "\n"))
            case ("SINGLE_LINE_TEXT", _): return MigrationContainer.text(v).map { .string(line($0)) }
            default: return MigrationContainer.text(v).map(JSONValue.string)
            }
        }
    }

    /// The form definition of one field as `POST preview/app/form/fields.json` takes it.
    static func definition(_ f: Field) -> JSONValue {
        var o = JSONObject([
            ("type", .string(f.type)), ("code", .string(f.code)), ("label", .string(f.label)), ("noLabel", false),
        ])
        if !f.options.isEmpty || ["DROP_DOWN", "MULTI_SELECT"].contains(f.type) {
            o["options"] = .object(
                JSONObject(f.options.enumerated().map { ($1, ["label": .string($1), "index": .string(String($0))]) }))
        }
        if f.type == "LINK" { o["protocol"] = "WEB" }
        if f.type == "MULTI_SELECT" || f.type == "FILE" { o["defaultValue"] = [] }
        return .object(o)
    }

    /// Kintone keeps app descriptions as HTML.
    static func html(_ text: String) -> String {
        var t = text
        for (c, e) in [("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\"", "&quot;")] { t = t.replacingOccurrences(of: c, with: e) }
        return t.replacingOccurrences(of: "\n", with: "<br>")
    }
}

extension KintoneConnection: MigrationTarget {
    public func migrationPlan(_ containers: [MigrationContainer], source: ServiceName, mapping: MappingConfig) async throws
        -> MigrationPlan
    {
        let file = mapping.fileName ?? "mapping.toml"
        let roles = Set(KintoneMigrationForm.roles.map(\.role))
        // A `[fields]` key names a derived field or a source field of some container (of its own, in a section).
        for key in mapping.rules.fields.keys.sorted() where !roles.contains(key) {
            if !containers.contains(where: { $0.fieldNames.contains(key) }) {
                throw UserError(
                    "\(file): fields.\"\(key)\" names neither a derived field (\(KintoneMigrationForm.roles.map(\.role).joined(separator: ", "))) nor a field of any container",
                    exitStatus: .usage)
            }
        }
        let plans = try containers.map { c -> ContainerPlan in
            let r = c.readable
            let rules = c.rules
            if let own = mapping.container(id: r.id, title: r.title)?.rules.fields {
                for key in own.keys.sorted() where !roles.contains(key) && !c.fieldNames.contains(key) {
                    throw UserError(
                        "\(file): containers.\"\(r.id)\".fields.\"\(key)\": \(r.kind) \(r.id) (“\(r.title)”) has no field \(key)",
                        exitStatus: .usage)
                }
            }
            let name = String((mapping.container(id: r.id, title: r.title)?.target ?? r.title).prefix(64))
            let form = KintoneMigrationForm.fields(c, rules: rules)
            func to(_ role: String) -> String {
                guard let f = form.first(where: { $0.role == role }) else { return "?" }
                return "field “\(f.label)” (\(f.code), \(f.type))"
            }
            var statuses = MigrationPlanner.statuses(c) { c.renamed($0) }
            let unset = r.items.filter { !$0.isRemoved && $0.status == nil }.count
            if unset > 0, let d = rules.defaultStatus {
                statuses.append(AttributeMapping(from: "(none)", to: d, items: unset))
            }
            return MigrationPlanner.plan(c, targetKind: "app", target: name, titleTo: to("title"), statuses: statuses) {
                attribute in
                switch attribute {
                case .body: return .carried(to: to("body"))
                case .author: return .carried(to: to("author") + "; the record's own creator is the importing user")
                case .createdAt: return .carried(to: to("created") + ", to the minute; the record's own time is the import")
                case .updatedAt: return .carried(to: to("updated") + ", to the minute")
                case .labels: return .carried(to: to("labels"))
                case .status: return .carried(to: to("status") + ", options in the source's order")
                case .field(let n): return .carried(to: to("field \(n)"))
                case .comments: return .carried(to: "record comments")
                case .commentAuthor: return .lost("Kintone makes the importing user the author of every comment")
                case .commentDate: return .lost("Kintone sets a comment's time itself when it is created")
                case .attachments: return .carried(to: to("attachments") + ", files uploaded from the archive")
                case .links: return .lost("Kintone records have no links to one another")
                case .removedItems: return .lost("items in the source's trash are not migrated")
                case .description: return .carried(to: "app description")
                case .linkedContainer: return .lost("the link points at a container of the source service")
                case .position: return .lost("Kintone records have no canvas position")
                }
            }
        }
        return MigrationPlan(source: source, target: .kintone, containers: plans)
    }

    public func writeMigrationSnapshot(
        _ containers: [MigrationContainer], plan: MigrationPlan, source: SnapshotReader, into writer: SnapshotWriter
    ) throws {
        let id = MigrationPlanner.derivedID
        for c in containers {
            guard let p = plan.container(c.readable.id) else { continue }
            let appID = id(c.readable.id)
            let container = KintoneSchema.container(app: appID)
            let defaultStatus = p.statuses.first { $0.from == "(none)" }?.to
            let form = KintoneMigrationForm.fields(c, rules: c.rules)
            let description = KintoneMigrationForm.html(c.readable.summary ?? "")
            try writer.writeJSONLines(
                container: container, file: "app", kind: "app",
                values: [["appId": .string(appID), "name": .string(p.target), "description": .string(description)]])
            let titleCode = form.first { $0.role == "title" }?.code ?? "Title"
            try writer.writeJSONLines(
                container: container, file: KintoneSchema.generalSettings.file, kind: KintoneSchema.generalSettings.file,
                values: [
                    .object(
                        JSONObject([
                            ("name", .string(p.target)), ("description", .string(description)),
                            ("titleField", ["selectionMode": "MANUAL", "code": .string(titleCode)]),
                        ]))
                ])
            try writer.writeJSONLines(
                container: container, file: KintoneSchema.formFields.file, kind: KintoneSchema.formFields.file,
                values: [["properties": .object(JSONObject(form.map { ($0.code, KintoneMigrationForm.definition($0)) }))]])
            try writer.writeJSONLines(
                container: container, file: KintoneSchema.formLayout.file, kind: KintoneSchema.formLayout.file,
                values: [
                    [
                        "layout": .array(
                            form.map { f in
                                ["type": "ROW", "fields": [["type": .string(f.type), "code": .string(f.code)]]]
                            })
                    ]
                ])
            var records: [JSONValue] = []
            var comments: [JSONValue] = []
            for item in c.readable.items where !item.isRemoved {
                let recordID = id(c.readable.id, item.id)
                var record = JSONObject([("$id", ["type": "__ID__", "value": .string(recordID)])])
                for f in form {
                    if f.role == "attachments" {
                        var files: [JSONValue] = []
                        for a in item.attachments {
                            let digest = (a.archivePath as NSString).lastPathComponent
                            let stored = try writer.copyAttachment(sha256: digest, from: source)
                            files.append(
                                .object(
                                    JSONObject([
                                        ("name", .string(a.name)),
                                        ("contentType", .string(a.contentType ?? "application/octet-stream")),
                                        ("size", .string(String(a.size ?? stored.size))), ("sha256", .string(digest)),
                                    ])))
                        }
                        record[f.code] = ["type": "FILE", "value": .array(files)]
                        continue
                    }
                    guard let v = KintoneMigrationForm.value(f, of: item, in: c, defaultStatus: defaultStatus) else { continue }
                    record[f.code] = ["type": .string(f.type), "value": v]
                }
                records.append(.object(record))
                for (k, comment) in item.comments.enumerated() {
                    comments.append(
                        [
                            "recordId": .string(recordID), "id": .string(String(k + 1)),
                            "text": .string(String(comment.body.prefix(65_535))),
                        ])
                }
            }
            try writer.writeJSONLines(container: container, file: "records", kind: "record", values: records)
            try writer.writeJSONLines(container: container, file: "comments", kind: "comment", values: comments)
        }
    }
}
