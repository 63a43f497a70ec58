import Foundation
import KitbagArchive
import KitbagCore

/// An app's records as the CSV file cli-kintone's `record import` reads, with attachments laid out beside it the way
/// its `--attachments-dir` expects — so a Kintone user can open a backup in a spreadsheet and put it back with the
/// official tool (`cli-kintone record import --app N --file-path records.csv --attachments-dir attachments`).
///
/// The format, from kintone/cli-kintone website/docs/guide/formats/csv.md (commit 8b12b7ba6642642066e9ee59301279351503b466)
/// and website/docs/reference/record-export/fields/{index,table,attachment}.md and fields-order.md (commit
/// 529a8c60b9d1ebc3868deff18c1331a8d31a2ae1): the header row lists field codes in form-layout order; every value is
/// in double quotes, empty cells are bare; several values (check boxes, multi-choice, user/department/group codes,
/// files) are joined with LF; creator and modifier are login names. With a Table, the first column is `*`, marked
/// `*` on the row where a record begins; fields outside tables repeat on every row; each further row holds one
/// table row (the table's column holds the row id). Files are `<field>-<record id>/<name>`, inside a table
/// `<field>-<record id>-<row index>/<name>`, a repeated name becoming `<name> (1).<ext>`. Record id, revision,
/// lookups' sources, related records, categories, status, assignee and layout-only elements are not written.
public enum KintoneCSV {
    /// Field types cli-kintone leaves out of a CSV.
    static let unsupportedTypes: Set<String> = [
        "__ID__", "__REVISION__", "REFERENCE_TABLE", "CATEGORY", "STATUS", "STATUS_ASSIGNEE", "LABEL", "SPACER", "HR", "GROUP",
    ]

    /// One column: a field outside tables, a table's row-id column, or a field inside a table.
    struct Column: Equatable {
        var code: String
        var type: String
        /// The table this column belongs to (its own code for the row-id column).
        var table: String?
    }

    /// The columns of an app: field codes in form-layout order, each table followed by its fields; fields the layout
    /// does not place come after, in the form's order.
    static func columns(properties: JSONObject, layout: [JSONValue]) -> [Column] {
        var out: [Column] = []
        var placed: Set<String> = []
        func add(_ code: String) {
            // A lookup's value comes from its source app: cli-kintone leaves it out.
            guard !placed.contains(code), let field = properties[code], let type = field["type"]?.stringValue,
                !unsupportedTypes.contains(type), field["lookup"] == nil
            else { return }
            placed.insert(code)
            if type == "SUBTABLE" {
                out.append(Column(code: code, type: type, table: code))
                let inner = field["fields"]?.objectValue ?? JSONObject()
                for (innerCode, innerField) in inner {
                    guard let innerType = innerField["type"]?.stringValue, !unsupportedTypes.contains(innerType) else { continue }
                    out.append(Column(code: innerCode, type: innerType, table: code))
                }
            } else {
                out.append(Column(code: code, type: type, table: nil))
            }
        }
        func walk(_ rows: [JSONValue]) {
            for row in rows {
                if let code = row["code"]?.stringValue, row["type"]?.stringValue == "SUBTABLE" { add(code) }
                for field in row["fields"]?.arrayValue ?? [] { if let code = field["code"]?.stringValue { add(code) } }
                if let nested = row["layout"]?.arrayValue { walk(nested) }
            }
        }
        walk(layout)
        for code in properties.keys { add(code) }
        return out
    }

    /// The header row.
    static func header(_ columns: [Column]) -> String {
        let hasTable = columns.contains { $0.table != nil }
        return ((hasTable ? ["*"] : []) + columns.map(\.code)).map(quoted).joined(separator: ",")
    }

    /// The rows of one record; `attachment` names each file (field code, row index in its table or nil, file) and
    /// returns its path relative to the attachments folder.
    static func rows(
        _ record: JSONValue, columns: [Column], attachment: (String, Int?, JSONValue) -> String
    ) -> [String] {
        let hasTable = columns.contains { $0.table != nil }
        let fields = record.objectValue ?? JSONObject()
        func cell(_ column: Column, _ field: JSONValue?, row: Int?) -> String {
            guard let field else { return "" }
            let text = value(field, type: column.type) { file in attachment(column.code, row, file) }
            return text.isEmpty ? "" : quoted(text)
        }
        var base: [String] = []
        for column in columns {
            base.append(column.table == nil ? cell(column, fields[column.code], row: nil) : "")
        }
        var lines: [[String]] = []
        for table in columns.compactMap({ $0.table == $0.code ? $0.code : nil }) {
            for (index, row) in (fields[table]?["value"]?.arrayValue ?? []).enumerated() {
                var line = base
                for (i, column) in columns.enumerated() where column.table == table {
                    if column.code == table {
                        line[i] = row["id"]?.idString.map(quoted) ?? ""
                    } else {
                        line[i] = cell(column, row["value"]?[column.code], row: index)
                    }
                }
                lines.append(line)
            }
        }
        if lines.isEmpty { lines = [base] }
        guard hasTable else { return lines.map { $0.joined(separator: ",") } }
        return lines.enumerated().map { i, line in ([i == 0 ? quoted("*") : ""] + line).joined(separator: ",") }
    }

    /// A field value as cli-kintone writes it.
    static func value(_ field: JSONValue, type: String, file: (JSONValue) -> String) -> String {
        let value = field["value"] ?? .null
        switch type {
        case "CREATOR", "MODIFIER":
            return value["code"]?.stringValue ?? ""
        case "USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT":
            return (value.arrayValue ?? []).compactMap { $0["code"]?.stringValue }.joined(separator: "\n")
        case "CHECK_BOX", "MULTI_SELECT", "CATEGORY":
            return (value.arrayValue ?? []).compactMap(\.stringValue).joined(separator: "\n")
        case "FILE":
            return (value.arrayValue ?? []).map(file).joined(separator: "\n")
        default:
            return value.stringValue ?? value.idString ?? ""
        }
    }

    /// `"…"` with inner quotes doubled.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A file name that stays inside its folder: no separators, no `.`/`..`, no control characters.
    static func safeName(_ name: String) -> String {
        var cleaned = String(name.unicodeScalars.map { scalar -> Character in
            if scalar == "/" || scalar == "\\" || scalar.value < 0x20 || scalar == "\u{7F}" { return "_" }
            return Character(scalar)
        })
        if cleaned.isEmpty || cleaned == "." || cleaned == ".." { cleaned = "_" + cleaned }
        return String(cleaned.prefix(200))
    }

    /// `name (n).ext`, for the n-th repeat of a name in one folder.
    static func numbered(_ name: String, _ n: Int) -> String {
        guard n > 0 else { return name }
        let ext = (name as NSString).pathExtension
        let stem = ext.isEmpty ? name : String(name.dropLast(ext.count + 1))
        return ext.isEmpty ? "\(stem) (\(n))" : "\(stem) (\(n)).\(ext)"
    }

    /// Writes `<folder>/<app>/records.csv` and `<folder>/<app>/attachments/…` for every app of a Kintone archive (or
    /// only `apps`), streaming records one at a time. Returns the app folders written.
    @discardableResult
    public static func write(archive: SnapshotReader, apps: [String] = [], to folder: URL) throws -> [URL] {
        guard archive.info.service == .kintone else {
            throw UserError("this archive holds \(archive.info.service.rawValue) data; only Kintone archives have a CSV form", exitStatus: .usage)
        }
        let entries = archive.jsonLinesEntries()
        var written: [URL] = []
        let appEntries = entries.filter { $0.kind == "app" }
        for entry in appEntries {
            guard let app = try archive.values(at: entry.path).first, let id = app["appId"]?.idString else { continue }
            if !apps.isEmpty && !apps.contains(id) { continue }
            let prefix = (entry.path as NSString).deletingLastPathComponent
            func setting(_ s: KintoneSchema.Setting) throws -> JSONValue? {
                let path = "\(prefix)/\(s.file).jsonl"
                guard entries.contains(where: { $0.path == path }) else { return nil }
                return try archive.values(at: path).first
            }
            let properties = try setting(KintoneSchema.formFields)?["properties"]?.objectValue ?? JSONObject()
            let layout = try setting(KintoneSchema.formLayout)?["layout"]?.arrayValue ?? []
            let columns = Self.columns(properties: properties, layout: layout)
            let appFolder = folder.appendingPathComponent(safeName(id), isDirectory: true)
            let attachments = appFolder.appendingPathComponent("attachments", isDirectory: true)
            try FileManager.default.createDirectory(at: appFolder, withIntermediateDirectories: true)
            let csvURL = appFolder.appendingPathComponent("records.csv")
            guard FileManager.default.createFile(atPath: csvURL.path, contents: nil) else {
                throw UserError("cannot create \(csvURL.path) — check that the folder is writable")
            }
            let handle = try FileHandle(forWritingTo: csvURL)
            defer { try? handle.close() }
            try handle.write(contentsOf: Data((header(columns) + "\n").utf8))
            let recordsPath = "\(prefix)/records.jsonl"
            if entries.contains(where: { $0.path == recordsPath }) {
                for record in try archive.lines(at: recordsPath) {
                    let recordID = KintoneRecordReader.recordID(record) ?? "0"
                    var usedNames: [String: Set<String>] = [:]
                    var failure: Error?
                    let lines = rows(record, columns: columns) { code, row, file in
                        let dir = safeName(row.map { "\(code)-\(recordID)-\($0)" } ?? "\(code)-\(recordID)")
                        let base = safeName(file["name"]?.stringValue ?? "file")
                        var n = 0
                        while usedNames[dir, default: []].contains(numbered(base, n)) { n += 1 }
                        let name = numbered(base, n)
                        usedNames[dir, default: []].insert(name)
                        if let sha = file["sha256"]?.stringValue, let source = archive.attachmentURL(sha256: sha) {
                            do {
                                let target = attachments.appendingPathComponent(dir, isDirectory: true)
                                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                                let destination = target.appendingPathComponent(name)
                                try? FileManager.default.removeItem(at: destination)
                                try FileManager.default.copyItem(at: source, to: destination)
                            } catch {
                                failure = failure ?? error
                            }
                        }
                        return "\(dir)/\(name)"
                    }
                    if let failure {
                        throw UserError("cannot write the attachments of record \(recordID) of app \(id) under \(attachments.path): \(failure.localizedDescription)")
                    }
                    try handle.write(contentsOf: Data(lines.map { $0 + "\n" }.joined().utf8))
                }
            }
            written.append(appFolder)
        }
        return written
    }
}
