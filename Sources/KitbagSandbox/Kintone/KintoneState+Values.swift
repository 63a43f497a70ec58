import Foundation
import KitbagCore
import KitbagSandboxCore

extension KintoneApp {
    static let uniqueTypes: Set<String> = ["SINGLE_LINE_TEXT", "NUMBER", "LINK"]

    /// Codes of live fields that prohibit duplicate values.
    var uniqueFields: [String] {
        live.properties.compactMap { code, property in
            property["unique"]?.boolValue == true && Self.uniqueTypes.contains(property["type"]?.stringValue ?? "") ? code : nil
        }
    }

    mutating func rebuildUniqueIndex() {
        uniqueIndex = [:]
        for code in uniqueFields {
            var index: [String: Int] = [:]
            for id in recordIds {
                if let value = records[id]?.values[code]?.idString, !value.isEmpty { index[value] = id }
            }
            uniqueIndex[code] = SandboxTable(kind: nil, values: index)
        }
    }

    /// Moves a record's unique values in the index (old nil for an insert, new nil for a delete).
    mutating func reindex(old: KintoneRecord?, new: KintoneRecord?) {
        for code in uniqueIndex.keys {
            if let value = old?.values[code]?.idString, !value.isEmpty, uniqueIndex[code]?[value] == old?.id {
                uniqueIndex[code]?[value] = nil
            }
            if let new, let value = new.values[code]?.idString, !value.isEmpty { uniqueIndex[code]?[value] = new.id }
        }
    }
}

/// Turning written values into stored ones: type checks, defaults, files, tables, lookups.
extension KintoneState {
    static let textTypes: Set<String> = ["SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "RICH_TEXT", "LINK"]
    static let entityTypes: Set<String> = ["USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT"]

    static func isEmpty(_ value: JSONValue?) -> Bool {
        guard let value else { return true }
        switch value {
        case .null: return true
        case .string(let s): return s.isEmpty
        case .array(let a): return a.isEmpty
        default: return false
        }
    }

    /// Applies written fields to a record; `isNew` also fills defaults and accepts creator and times.
    mutating func apply(
        _ given: JSONObject, to record: inout KintoneRecord, appId: Int, live: KintoneAppSettings, path: String, isNew: Bool,
        call: KintoneCall, errors: inout [(String, String)]
    ) {
        let properties = live.properties
        if isNew {
            for (code, property) in properties where given[code] == nil {
                if let value = defaultValue(property, call: call) { record.values[code] = value }
            }
        }
        var lookupsToRun: [String] = []
        for (code, entry) in given {
            if code == "$id" || code == "$revision" { continue }
            let fieldPath = "\(path).\(code).value"
            guard let property = properties[code]?.objectValue else {
                // api-facts.md (cybozu.dev "Add Records"): a field code the app lacks is ignored when adding.
                if isNew { continue }
                errors.append(("\(path).\(code)", "The field (code: \(code)) does not exist in app \(appId)."))
                continue
            }
            guard let object = entry.objectValue, let value = object["value"] else {
                errors.append((fieldPath, "Required field: give the value as {\"value\": …}."))
                continue
            }
            let type = property["type"]?.stringValue ?? ""
            switch type {
            case "CREATOR", "MODIFIER", "CREATED_TIME", "UPDATED_TIME":
                guard isNew else { continue }
                guard administers(call.caller, appId) else {
                    // cybozu.dev "Add Records": creator, modifier and their times may be set by app administrators only.
                    errors.append((fieldPath, "Only app administrators may set \(code) when adding a record."))
                    continue
                }
                if type == "CREATOR" || type == "MODIFIER" {
                    let code = value["code"]?.stringValue ?? ""
                    guard let user = userEntity(code) else { errors.append((fieldPath, "user \(code) does not exist.")); continue }
                    if type == "CREATOR" { record.creator = user } else { record.modifier = user }
                } else {
                    guard let text = value.stringValue, let time = Self.parseDateTime(text) else {
                        errors.append((fieldPath, "Enter a valid date and time.")); continue
                    }
                    if type == "CREATED_TIME" { record.createdAt = Self.truncatedToMinute(time) } else { record.updatedAt = Self.truncatedToMinute(time) }
                }
            case "RECORD_NUMBER", "STATUS", "STATUS_ASSIGNEE", "CATEGORY", "CALC":
                continue
            case _ where Self.layoutOnlyTypes.contains(type):
                continue
            case "SUBTABLE":
                if let rows = tableRows(value, property: property, existing: record.values[code], path: fieldPath, call: call, errors: &errors) {
                    record.values[code] = rows
                }
            default:
                if let normalized = normalize(value, property: property, existing: record.values[code], path: fieldPath, call: call, errors: &errors) {
                    if type == "FILE" { releaseFiles(old: record.values[code], new: normalized) }
                    record.values[code] = normalized
                    if property["lookup"]?.objectValue != nil { lookupsToRun.append(code) }
                }
            }
        }
        if isNew {
            for (code, property) in properties where property["lookup"] != nil && given[code] == nil && !Self.isEmpty(record.values[code]) {
                lookupsToRun.append(code)
            }
        }
        for code in lookupsToRun {
            runLookup(code, properties[code]?.objectValue ?? JSONObject(), record: &record, path: "\(path).\(code).value", errors: &errors)
        }
    }

    func defaultValue(_ property: JSONValue, call: KintoneCall) -> JSONValue? {
        let type = property["type"]?.stringValue ?? ""
        if Self.systemFieldTypes.contains(type) || Self.layoutOnlyTypes.contains(type) || type == "CALC" { return nil }
        if property["defaultNowValue"]?.boolValue == true {
            switch type {
            case "DATE": return .string(Self.date(call.now))
            case "TIME": return .string(String(Self.dateTime(call.now).dropFirst(11).prefix(5)))
            case "DATETIME": return .string(Self.dateTime(Self.truncatedToMinute(call.now)))
            default: break
            }
        }
        guard let value = property["defaultValue"], !Self.isEmpty(value) else { return nil }
        if Self.entityTypes.contains(type) {
            return .array((value.arrayValue ?? []).compactMap { item in
                let code = item["code"]?.stringValue ?? ""
                if item["type"]?.stringValue == "FUNCTION" { return code == "LOGINUSER()" ? call.caller.entity : nil }
                return entity(type, code)
            })
        }
        return value
    }

    func entity(_ fieldType: String, _ code: String) -> JSONValue? {
        let directory = fieldType == "USER_SELECT" ? users : fieldType == "GROUP_SELECT" ? groups : organizations
        return directory[code].map { ["code": .string(code), "name": $0] }
    }

    /// A written value in stored form, or nil after appending errors.
    mutating func normalize(
        _ value: JSONValue, property: JSONObject, existing: JSONValue?, path: String, call: KintoneCall,
        errors: inout [(String, String)]
    ) -> JSONValue? {
        let type = property["type"]?.stringValue ?? ""
        func fail(_ message: String) -> JSONValue? { errors.append((path, message)); return nil }
        func scalarText() -> String? {
            switch value {
            case .null: return ""
            case .string(let s): return s
            case .number(let n): return n
            default: return nil
            }
        }
        let options = property["options"]?.objectValue
        switch type {
        case _ where Self.textTypes.contains(type):
            guard let text = scalarText() else { return fail("Enter text.") }
            if let max = property["maxLength"]?.idString.flatMap({ Int($0) }), text.count > max {
                return fail("Enter up to \(max) characters.")
            }
            if type == "SINGLE_LINE_TEXT", text.contains("\n") { return fail("A single-line text cannot contain line breaks.") }
            return .string(text)
        case "NUMBER":
            guard let text = scalarText() else { return fail("Only numbers are allowed.") }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return "" }
            guard let number = Double(trimmed), number.isFinite, !trimmed.lowercased().contains("e"),
                  !trimmed.lowercased().contains("n") else { return fail("Only numbers are allowed.") }
            if let min = property["minValue"]?.idString.flatMap(Double.init), number < min { return fail("The value must be \(min) or more.") }
            if let max = property["maxValue"]?.idString.flatMap(Double.init), number > max { return fail("The value must be \(max) or less.") }
            return .string(trimmed)
        case "DATE":
            guard let text = scalarText() else { return fail("Enter a valid date (YYYY-MM-DD).") }
            if text.isEmpty { return .null }
            guard text.count == 10, Self.parseDateTime(text) != nil else { return fail("Enter a valid date (YYYY-MM-DD).") }
            return .string(text)
        case "TIME":
            guard let text = scalarText() else { return fail("Enter a valid time (HH:MM).") }
            if text.isEmpty { return .null }
            let parts = text.split(separator: ":")
            guard parts.count == 2 || parts.count == 3, let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h),
                  (0..<60).contains(m), parts[1].count == 2 else { return fail("Enter a valid time (HH:MM).") }
            return .string(String(format: "%02d:%02d", h, m))
        case "DATETIME":
            guard let text = scalarText() else { return fail("Enter a valid date and time.") }
            // api-facts.md: an empty DATETIME reads "" (DATE and TIME read null).
            if text.isEmpty { return "" }
            guard let time = Self.parseDateTime(text), text.count > 10 else { return fail("Enter a valid date and time.") }
            return .string(Self.dateTime(Self.truncatedToMinute(time)))
        case "RADIO_BUTTON", "DROP_DOWN":
            guard let text = scalarText() else { return fail("Choose one of the options.") }
            if text.isEmpty {
                if type == "DROP_DOWN" { return .null }
                return fail("Choose one of the options.")
            }
            guard options?[text] != nil else { return fail("\(text) is not one of the options.") }
            return .string(text)
        case "CHECK_BOX", "MULTI_SELECT":
            if value.isNull { return [] }
            guard let list = value.arrayValue else { return fail("Give an array of options.") }
            var out: [JSONValue] = []
            for item in list {
                guard let text = item.stringValue, options?[text] != nil else {
                    return fail("\(item.idString ?? "value") is not one of the options.")
                }
                out.append(.string(text))
            }
            return .array(out)
        case _ where Self.entityTypes.contains(type):
            if value.isNull { return [] }
            guard let list = value.arrayValue else { return fail("Give an array of {\"code\": …}.") }
            var out: [JSONValue] = []
            for item in list {
                let code = item["code"]?.stringValue ?? item.stringValue ?? ""
                guard let found = entity(type, code) else { return fail("\(code) does not exist.") }
                out.append(found)
            }
            return .array(out)
        case "FILE":
            if value.isNull { return [] }
            guard let list = value.arrayValue else { return fail("Give an array of {\"fileKey\": …}.") }
            let kept = Set((existing?.arrayValue ?? []).compactMap { $0["fileKey"]?.stringValue })
            var out: [JSONValue] = []
            for (i, item) in list.enumerated() {
                let key = item["fileKey"]?.stringValue ?? ""
                if kept.contains(key), let file = files[key] {
                    out.append(file.descriptor(key: key))
                    continue
                }
                let source: KintoneFile
                if let upload = uploads[key] {
                    source = upload
                    uploads[key] = nil
                } else if let file = files[key] {
                    source = file
                } else {
                    errors.append(("\(path)[\(i)].fileKey", "The file key \(key) is not an uploaded file."))
                    return nil
                }
                let download = newDownloadKey(at: call.now)
                files[download] = source
                out.append(source.descriptor(key: download))
            }
            return .array(out)
        default:
            return value
        }
    }

    /// Drops stored files a FILE field no longer lists.
    mutating func releaseFiles(old: JSONValue?, new: JSONValue) {
        let keep = Set((new.arrayValue ?? []).compactMap { $0["fileKey"]?.stringValue })
        for item in old?.arrayValue ?? [] {
            if let key = item["fileKey"]?.stringValue, !keep.contains(key) { files[key] = nil }
        }
    }

    /// Table rows in stored form: known row ids are kept (with their unchanged cells), others get new ids.
    mutating func tableRows(
        _ value: JSONValue, property: JSONObject, existing: JSONValue?, path: String, call: KintoneCall,
        errors: inout [(String, String)]
    ) -> JSONValue? {
        if value.isNull { return [] }
        guard let rows = value.arrayValue else { errors.append((path, "Give an array of rows.")); return nil }
        let inner = property["fields"]?.objectValue ?? JSONObject()
        var previous: [String: JSONObject] = [:]
        for row in existing?.arrayValue ?? [] {
            if let id = row["id"]?.idString { previous[id] = row["value"]?.objectValue ?? JSONObject() }
        }
        let before = errors.count
        var out: [JSONValue] = []
        var oldFiles: [JSONValue] = []
        for (_, cells) in previous { for (_, v) in cells where v.arrayValue?.first?["fileKey"] != nil { oldFiles.append(v) } }
        var newFiles: [JSONValue] = []
        for (i, row) in rows.enumerated() {
            let rowPath = "\(path)[\(i)].value"
            var id = row["id"]?.idString ?? ""
            var cells: JSONObject
            if let known = previous[id] {
                cells = known
            } else {
                id = String(nextRowId)
                nextRowId += 1
                cells = JSONObject()
                for (code, p) in inner { if let v = defaultValue(p, call: call) { cells[code] = v } }
            }
            for (code, entry) in row["value"]?.objectValue ?? JSONObject() {
                guard let p = inner[code]?.objectValue else {
                    errors.append(("\(rowPath).\(code)", "The field (code: \(code)) is not in the table."))
                    continue
                }
                if p["type"]?.stringValue == "CALC" { continue }
                guard let v = entry["value"] else { errors.append(("\(rowPath).\(code).value", "Required field.")); continue }
                if let normalized = normalize(v, property: p, existing: cells[code], path: "\(rowPath).\(code).value", call: call, errors: &errors) {
                    cells[code] = normalized
                }
            }
            for (_, v) in cells where v.arrayValue?.first?["fileKey"] != nil { newFiles.append(v) }
            out.append(["id": .string(id), "value": .object(cells)])
        }
        guard errors.count == before else { return nil }
        releaseFiles(old: .array(oldFiles.flatMap { $0.arrayValue ?? [] }), new: .array(newFiles.flatMap { $0.arrayValue ?? [] }))
        return .array(out)
    }

    /// Copies mapped fields from the related record the lookup key names (error when none matches).
    func runLookup(_ code: String, _ property: JSONObject, record: inout KintoneRecord, path: String, errors: inout [(String, String)]) {
        guard let lookup = property["lookup"]?.objectValue else { return }
        let mappings = lookup["fieldMappings"]?.arrayValue ?? []
        let key = record.values[code]?.idString ?? ""
        if key.isEmpty {
            for mapping in mappings {
                if let field = mapping["field"]?.stringValue { record.values[field] = nil }
            }
            return
        }
        guard let relatedId = lookup["relatedApp"]?["app"]?.idString.flatMap({ Int($0) }), let related = apps[relatedId] else {
            errors.append((path, "The lookup's related app does not exist."))
            return
        }
        let keyField = lookup["relatedKeyField"]?.stringValue ?? ""
        let keyType = related.live.properties[keyField]?["type"]?.stringValue ?? ""
        let match: KintoneRecord?
        if keyType == "RECORD_NUMBER" {
            let number = key.split(separator: "-").last.flatMap { Int($0) } ?? -1
            match = related.records[number]
        } else if let id = related.uniqueIndex[keyField]?[key] {
            match = related.records[id]
        } else {
            match = related.recordIds.lazy.compactMap { related.records[$0] }.first { $0.values[keyField]?.idString == key }
        }
        guard let match else {
            errors.append((path, "No record in app \(relatedId) has \(key) in \(keyField); the lookup could not get a value."))
            return
        }
        for mapping in mappings {
            guard let field = mapping["field"]?.stringValue, let source = mapping["relatedField"]?.stringValue else { continue }
            let sourceType = related.live.properties[source]?["type"]?.stringValue ?? ""
            let value: JSONValue
            switch sourceType {
            case "RECORD_NUMBER": value = .string(related.code.isEmpty ? String(match.id) : "\(related.code)-\(match.id)")
            default: value = match.values[source] ?? Self.emptyValue(sourceType)
            }
            record.values[field] = value.isNull ? "" : value
        }
    }

    /// Required fields must have a value; unique fields may not repeat another record's value.
    func checkRequiredAndUnique(
        _ record: KintoneRecord, appId: Int, path: String, errors: inout [(String, String)], only: Set<String>? = nil
    ) {
        guard let current = apps[appId] else { return }
        for (code, property) in current.live.properties {
            if let only, !only.contains(code) { continue }
            let type = property["type"]?.stringValue ?? ""
            if Self.systemFieldTypes.contains(type) || Self.layoutOnlyTypes.contains(type) { continue }
            let value = record.values[code]
            if property["required"]?.boolValue == true, Self.isEmpty(value) {
                errors.append(("\(path).\(code).value", "Required field."))
            }
            if property["unique"]?.boolValue == true, KintoneApp.uniqueTypes.contains(type),
               let text = value?.idString, !text.isEmpty {
                let owner = current.uniqueIndex[code]?[text]
                if let owner, owner != record.id {
                    errors.append(("\(path).\(code).value", "This value already exists in another record."))
                }
            }
        }
    }
}
