import Foundation
import Hummingbird
import KitbagCore
import KitbagSandboxCore

/// Records: the record format, one record, pages by query, cursors.
extension KintoneState {
    static let maxRecordsPerRead = 500
    static let maxOffset = 10_000
    static let defaultRecordLimit = 100
    static let defaultCursorSize = 100

    static let arrayTypes: Set<String> = [
        "CHECK_BOX", "MULTI_SELECT", "FILE", "USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT", "SUBTABLE",
        "CATEGORY", "STATUS_ASSIGNEE",
    ]
    /// Empty DATE, TIME and DROP_DOWN values read null; an empty DATETIME reads "" (api-facts.md).
    static let nullWhenEmptyTypes: Set<String> = ["DATE", "TIME", "DROP_DOWN"]
    static let layoutOnlyTypes: Set<String> = ["LABEL", "SPACER", "HR", "GROUP", "REFERENCE_TABLE"]

    static var recordEndpoints: [KintoneEndpoint] {
        typealias E = KintoneEndpoint
        return [
            E(.get, "record.json") { s, c throws(KintoneError) in try s.getRecord(c) },
            E(.get, "records.json") { s, c throws(KintoneError) in try s.getRecords(c) },
            E(.post, "records/cursor.json") { s, c throws(KintoneError) in try s.addCursor(c) },
            E(.get, "records/cursor.json") { s, c throws(KintoneError) in try s.readCursor(c) },
            E(.delete, "records/cursor.json") { s, c throws(KintoneError) in try s.deleteCursor(c) },
        ] + recordWriteEndpoints
    }

    static func emptyValue(_ type: String) -> JSONValue {
        if arrayTypes.contains(type) { return [] }
        if nullWhenEmptyTypes.contains(type) { return .null }
        return ""
    }

    // MARK: - Rendering

    /// A record as the API returns it: `{code: {type, value}}` for every field of the live form,
    /// plus `$id` and `$revision`; `fields` limits the codes.
    func render(_ record: KintoneRecord, _ app: KintoneApp, fields: Set<String>? = nil) -> JSONValue {
        var out = JSONObject()
        let processEnabled = app.live.processEnabled
        let scope = Self.calculationScope(record.values, app.live.properties)
        for (code, property) in app.live.properties {
            if let fields, !fields.contains(code) { continue }
            let type = property["type"]?.stringValue ?? ""
            if Self.layoutOnlyTypes.contains(type) { continue }
            let value: JSONValue
            switch type {
            case "RECORD_NUMBER": value = .string(app.code.isEmpty ? String(record.id) : "\(app.code)-\(record.id)")
            case "CREATOR": value = record.creator
            case "MODIFIER": value = record.modifier
            case "CREATED_TIME": value = .string(Self.dateTime(record.createdAt))
            case "UPDATED_TIME": value = .string(Self.dateTime(record.updatedAt))
            case "STATUS":
                guard processEnabled else { continue }
                value = .string(record.status ?? "")
            case "STATUS_ASSIGNEE":
                guard processEnabled else { continue }
                value = .array(record.assignees)
            case "CATEGORY":
                guard property["enabled"]?.boolValue == true else { continue }
                value = []
            case "CALC":
                value = .string(Self.calculate(property, scope: scope, properties: app.live.properties))
            case "SUBTABLE":
                let inner = property["fields"]?.objectValue ?? JSONObject()
                let rows = record.values[code]?.arrayValue ?? []
                value = .array(rows.map { row in
                    var cells = JSONObject()
                    let stored = row["value"]?.objectValue ?? JSONObject()
                    for (innerCode, innerProperty) in inner {
                        let innerType = innerProperty["type"]?.stringValue ?? ""
                        let cell: JSONValue = innerType == "CALC"
                            ? .string(Self.calculate(innerProperty, scope: stored, properties: inner))
                            : stored[innerCode] ?? Self.emptyValue(innerType)
                        cells[innerCode] = ["type": .string(innerType), "value": cell]
                    }
                    return ["id": row["id"] ?? .null, "value": .object(cells)]
                })
            default:
                value = record.values[code] ?? Self.emptyValue(type)
            }
            out[code] = ["type": .string(type), "value": value]
        }
        if fields?.contains("$revision") ?? true { out["$revision"] = ["type": "__REVISION__", "value": .string(String(record.revision))] }
        if fields?.contains("$id") ?? true { out["$id"] = ["type": "__ID__", "value": .string(String(record.id))] }
        return .object(out)
    }

    /// Record values with the CALC cells of table rows filled in, so `SUM(rowCalc)` works.
    static func calculationScope(_ values: JSONObject, _ properties: JSONObject) -> JSONObject {
        var scope = values
        for (code, property) in properties where property["type"]?.stringValue == "SUBTABLE" {
            let inner = property["fields"]?.objectValue ?? JSONObject()
            let calcs = inner.filter { $0.value["type"]?.stringValue == "CALC" }
            guard !calcs.isEmpty, let rows = values[code]?.arrayValue else { continue }
            scope[code] = .array(rows.map { row in
                var cells = row["value"]?.objectValue ?? JSONObject()
                for calc in calcs {
                    cells[calc.key] = .string(calculate(calc.value, scope: cells, properties: inner))
                }
                var out = row
                out["value"] = .object(cells)
                return out
            })
        }
        return scope
    }

    /// Evaluates the small formula language the sandbox supports: numbers, field codes, `+ - * /`,
    /// parentheses and `SUM(tableField)`; anything else gives an empty value.
    static func calculate(_ property: JSONValue, scope: JSONObject, properties: JSONObject) -> String {
        guard let formula = property["expression"]?.stringValue ?? property["formula"]?.stringValue else { return "" }
        var evaluator = KintoneFormula(text: formula, scope: scope)
        guard let result = evaluator.evaluate(), result.isFinite else { return "" }
        if result == result.rounded(), abs(result) < 1e15 { return String(Int64(result)) }
        var text = String(format: "%.4f", result)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    // MARK: - Reading

    func getRecord(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let app = try appParameter(call)
        let id = try call.params.requiredInt("id")
        guard let record = app.records[id] else { throw KintoneError.recordNotFound(id) }
        return SandboxReply(["record": render(record, app)])
    }

    func fieldList(_ params: JSONObject) -> Set<String>? {
        guard let list = params.list("fields")?.compactMap(\.idString), !list.isEmpty else { return nil }
        return Set(list)
    }

    func getRecords(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let app = try appParameter(call)
        let query = try KintoneQuery.parse(call.params.string("query") ?? "")
        let limit = query.limit ?? Self.defaultRecordLimit
        guard limit <= Self.maxRecordsPerRead else {
            throw KintoneError.invalid("query", "limit must be \(Self.maxRecordsPerRead) or less.")
        }
        let offset = query.offset ?? 0
        guard offset <= Self.maxOffset else {
            throw KintoneError.invalid("query", "offset must be \(Self.maxOffset) or less; read further with a cursor or by $id.")
        }
        let wantsTotal = call.params.bool("totalCount") == true
        let ids = try matchingIds(app, query, call, needed: wantsTotal ? nil : offset + limit)
        let fields = fieldList(call.params)
        let page = ids.dropFirst(offset).prefix(limit)
        let totalCount: JSONValue = wantsTotal ? .string(String(ids.count)) : .null
        var headers = HTTPFields()
        if query.condition != nil, wantsTotal, ids.count > filterWarningAbove {
            // api-facts.md: a search matching over 100,000 records answers with this warning header.
            headers[HTTPFields.Element.Name("X-Cybozu-Warning")!] = "Filter aborted because of too many search results."
        }
        return SandboxReply(["records": .array(page.compactMap { app.records[$0].map { render($0, app, fields: fields) } }),
                             "totalCount": totalCount], headers: headers)
    }

    /// Ids of the records that match, in the query's order (default `$id desc`). With `needed`, a query ordered by
    /// `$id` may stop after that many matches (the caller asked for no total count).
    func matchingIds(
        _ app: KintoneApp, _ query: KintoneQuery, _ call: KintoneCall, needed: Int? = nil
    ) throws(KintoneError) -> [Int] {
        let matcher = KintoneRecordMatcher(app: app, caller: call.caller.code, now: call.now)
        let order = query.order.isEmpty ? [("$id", false)] : query.order
        let byID = order.count == 1 && (order[0].field == "$id" || matcher.type(of: order[0].field) == "RECORD_NUMBER")
        // Record ids only grow and `recordIds` keeps them ascending, so a `$id` bound narrows the scan to a slice
        // (a seek by `$id > N` then costs one page, not the whole app, as on a real domain with an index).
        let candidates = app.recordIds[Self.idRange(of: query.condition, in: app.recordIds)]
        var ids: [Int] = []
        if let condition = query.condition {
            try matcher.check(condition)
            let limit = byID ? needed : nil
            let scan: AnySequence<Int> = byID && !order[0].ascending ? AnySequence(candidates.reversed()) : AnySequence(candidates)
            for id in scan {
                if let record = app.records[id], matcher.matches(condition, record) {
                    ids.append(id)
                    if let limit, ids.count >= limit { break }
                }
            }
            // Scanned in the query's direction already.
            if byID { return ids }
        } else {
            ids = Array(candidates)
        }
        if byID {
            return order[0].ascending ? ids : ids.reversed()
        }
        for key in order { try matcher.checkSortable(key.field) }
        return ids.sorted { a, b in
            guard let ra = app.records[a], let rb = app.records[b] else { return a < b }
            for key in order {
                let c = matcher.compareForSort(key.field, ra, rb)
                if c != 0 { return key.ascending ? c < 0 : c > 0 }
            }
            return a < b
        }
    }

    /// The index range of `ids` (ascending) that a top-level `$id` comparison (alone or in an `and`) allows.
    static func idRange(of condition: KintoneQuery.Condition?, in ids: [Int]) -> Range<Int> {
        var lower = ids.startIndex
        var upper = ids.endIndex
        func firstIndex(where predicate: (Int) -> Bool) -> Int {
            var lo = ids.startIndex
            var hi = ids.endIndex
            while lo < hi {
                let mid = (lo + hi) / 2
                if predicate(ids[mid]) { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
        func narrow(_ condition: KintoneQuery.Condition) {
            switch condition {
            case .all(let parts): parts.forEach(narrow)
            case .any: return
            case .compare(let field, let op, let values):
                guard field == "$id", values.count == 1, case .text(let text) = values[0], let n = Int(text) else { return }
                switch op {
                case .greater: lower = max(lower, firstIndex { $0 > n })
                case .greaterOrEqual: lower = max(lower, firstIndex { $0 >= n })
                case .less: upper = min(upper, firstIndex { $0 >= n })
                case .lessOrEqual: upper = min(upper, firstIndex { $0 > n })
                default: return
                }
            }
        }
        if let condition { narrow(condition) }
        return lower < upper ? lower..<upper : lower..<lower
    }

    // MARK: - Cursors

    mutating func addCursor(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        let app = try appParameter(call)
        let size = try call.params.int("size") ?? Self.defaultCursorSize
        guard (1...Self.maxRecordsPerRead).contains(size) else {
            throw KintoneError.invalid("size", "must be between 1 and \(Self.maxRecordsPerRead).")
        }
        let query = try KintoneQuery.parse(call.params.string("query") ?? "")
        guard query.limit == nil, query.offset == nil else {
            throw KintoneError.invalid("query", "a cursor query cannot contain limit or offset.")
        }
        guard cursors.count < Self.maxOpenCursors else {
            throw KintoneError(.badRequest, "GAIA_TM12",
                               "The number of cursors exceeds the limit (\(Self.maxOpenCursors)) for this domain. Delete cursors you no longer need or wait until they expire.")
        }
        let ids = try matchingIds(app, query, call)
        let id = keys.uuid()
        cursors[id] = KintoneCursor(
            id: id, app: app.id, recordIds: ids, position: 0, size: size, fields: fieldList(call.params).map { Array($0) },
            expiresAt: call.now + Self.cursorLifetime)
        return SandboxReply(["id": .string(id), "totalCount": .string(String(ids.count))])
    }

    static func cursorMissing(_ id: String) -> KintoneError {
        KintoneError(.badRequest, "GAIA_CN01",
                     "The cursor (ID: \(id)) does not exist. It may have expired, been deleted, or been read to the end.")
    }

    mutating func readCursor(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        guard let id = call.params.string("id"), !id.isEmpty else { throw KintoneError.invalid("id", "Required field.") }
        guard var cursor = cursors[id] else { throw Self.cursorMissing(id) }
        let app = try app(cursor.app, call)
        let end = min(cursor.position + cursor.size, cursor.recordIds.count)
        let fields = cursor.fields.map(Set.init)
        let records = cursor.recordIds[cursor.position..<end].compactMap { app.records[$0].map { render($0, app, fields: fields) } }
        cursor.position = end
        let next = end < cursor.recordIds.count
        cursors[id] = next ? cursor : nil
        return SandboxReply(["records": .array(records), "next": .bool(next)])
    }

    mutating func deleteCursor(_ call: KintoneCall) throws(KintoneError) -> SandboxReply {
        guard let id = call.params.string("id"), !id.isEmpty else { throw KintoneError.invalid("id", "Required field.") }
        guard cursors[id] != nil else { throw Self.cursorMissing(id) }
        cursors[id] = nil
        return SandboxReply(.object(JSONObject()))
    }
}

/// Evaluates query conditions against stored records of one app.
struct KintoneRecordMatcher {
    let app: KintoneApp
    let caller: String
    let now: Int64
    /// Code → type for top-level and table fields; table field codes map to their table.
    private var types: [String: String] = [:]
    private var tableOf: [String: String] = [:]

    enum Sample {
        case number(Double?)
        case time(Int64?)
        case text(String?)
        case list([String])
    }

    init(app: KintoneApp, caller: String, now: Int64) {
        self.app = app
        self.caller = caller
        self.now = now
        for (code, property) in app.live.properties {
            let type = property["type"]?.stringValue ?? ""
            types[code] = type
            if type == "SUBTABLE" {
                for (inner, innerProperty) in property["fields"]?.objectValue ?? JSONObject() {
                    types[inner] = innerProperty["type"]?.stringValue ?? ""
                    tableOf[inner] = code
                }
            }
        }
    }

    func type(of field: String) -> String? {
        field == "$id" ? "__ID__" : types[field]
    }

    func check(_ condition: KintoneQuery.Condition) throws(KintoneError) {
        switch condition {
        case .all(let parts), .any(let parts):
            for part in parts { try check(part) }
        case .compare(let field, let op, let values):
            guard let type = type(of: field) else {
                throw KintoneQuery.error("the field \(field) does not exist in app \(app.id).")
            }
            guard !KintoneState.layoutOnlyTypes.contains(type), type != "SUBTABLE" else {
                throw KintoneQuery.error("the field \(field) cannot be used in a query.")
            }
            let sample = self.sample(field, nil)
            for value in values { _ = try resolve(value, like: sample, field: field) }
            switch (sample, op) {
            case (.number, .like), (.number, .notLike), (.time, .like), (.time, .notLike):
                throw KintoneQuery.error("\(op.rawValue) cannot be used with the field \(field).")
            case (.list, .greater), (.list, .less), (.list, .greaterOrEqual), (.list, .lessOrEqual):
                throw KintoneQuery.error("\(op.rawValue) cannot be used with the field \(field).")
            default: break
            }
        }
    }

    func checkSortable(_ field: String) throws(KintoneError) {
        guard let type = type(of: field), tableOf[field] == nil, !KintoneState.layoutOnlyTypes.contains(type),
              !KintoneState.arrayTypes.contains(type) else {
            throw KintoneQuery.error("order by cannot use the field \(field).")
        }
    }

    func matches(_ condition: KintoneQuery.Condition, _ record: KintoneRecord) -> Bool {
        switch condition {
        case .all(let parts): return parts.allSatisfy { matches($0, record) }
        case .any(let parts): return parts.contains { matches($0, record) }
        case .compare(let field, let op, let values):
            let sample = self.sample(field, record)
            let resolved = values.compactMap { try? resolve($0, like: sample, field: field) }
            return compare(sample, op, resolved)
        }
    }

    /// The record's value as a comparable sample; with no record, an empty sample of the right kind.
    func sample(_ field: String, _ record: KintoneRecord?) -> Sample {
        let type = type(of: field) ?? ""
        if let table = tableOf[field] {
            let rows = record?.values[table]?.arrayValue ?? []
            return .list(rows.flatMap { row -> [String] in
                guard let v = row["value"]?[field] else { return [] }
                return Self.texts(v)
            })
        }
        switch type {
        case "__ID__", "RECORD_NUMBER": return .number(record.map { Double($0.id) })
        case "NUMBER":
            return .number(record.flatMap { $0.values[field]?.stringValue }.flatMap(Double.init))
        case "CALC":
            guard let record else { return .number(nil) }
            let property = app.live.properties[field] ?? .null
            let scope = KintoneState.calculationScope(record.values, app.live.properties)
            return .number(Double(KintoneState.calculate(property, scope: scope, properties: app.live.properties)))
        case "CREATED_TIME": return .time(record?.createdAt)
        case "UPDATED_TIME": return .time(record?.updatedAt)
        case "DATETIME": return .time(record?.values[field]?.stringValue.flatMap(KintoneState.parseDateTime))
        case "CREATOR": return .text(record?.creator["code"]?.stringValue)
        case "MODIFIER": return .text(record?.modifier["code"]?.stringValue)
        case "STATUS": return .text(record?.status)
        case "STATUS_ASSIGNEE": return .list(record?.assignees.compactMap { $0["code"]?.stringValue } ?? [])
        case _ where KintoneState.arrayTypes.contains(type):
            return .list(record?.values[field].map(Self.texts) ?? [])
        default:
            return .text(record?.values[field]?.stringValue)
        }
    }

    static func texts(_ value: JSONValue) -> [String] {
        if let array = value.arrayValue {
            return array.compactMap { $0.stringValue ?? $0["code"]?.stringValue ?? $0["name"]?.stringValue }
        }
        return value.stringValue.map { [$0] } ?? []
    }

    enum Resolved { case number(Double), time(Int64), text(String) }

    func resolve(_ value: KintoneQuery.Value, like sample: Sample, field: String) throws(KintoneError) -> Resolved {
        var text: String
        switch value {
        case .text(let s): text = s
        case .function(let name):
            switch name {
            case "NOW": if case .time = sample { return .time(now) }; text = KintoneState.dateTime(now)
            case "TODAY":
                if case .time = sample { return .time(now - ((now % 86_400) + 86_400) % 86_400) }
                text = KintoneState.date(now)
            case "LOGINUSER": text = caller
            default: throw KintoneQuery.error("the function \(name)() is not supported.")
            }
        }
        switch sample {
        case .number:
            guard let n = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw KintoneQuery.error("\(text) is not a number for the field \(field).")
            }
            return .number(n)
        case .time:
            guard let t = KintoneState.parseDateTime(text) else {
                throw KintoneQuery.error("\(text) is not a date and time for the field \(field).")
            }
            return .time(t)
        case .text, .list:
            return .text(text)
        }
    }

    func compare(_ sample: Sample, _ op: KintoneQuery.Operator, _ values: [Resolved]) -> Bool {
        func ordered<T: Comparable>(_ a: T?, _ b: T) -> Bool {
            guard let a else { return op == .notEqual || op == .notIn }
            switch op {
            case .equal: return a == b
            case .notEqual: return a != b
            case .greater: return a > b
            case .less: return a < b
            case .greaterOrEqual: return a >= b
            case .lessOrEqual: return a <= b
            default: return false
            }
        }
        switch sample {
        case .number(let n):
            let list = values.compactMap { if case .number(let v) = $0 { return v }; return nil }
            if op == .isIn { return n.map(list.contains) ?? false }
            if op == .notIn { return !(n.map(list.contains) ?? false) }
            return list.first.map { ordered(n, $0) } ?? false
        case .time(let t):
            let list = values.compactMap { if case .time(let v) = $0 { return v }; return nil }
            if op == .isIn { return t.map(list.contains) ?? false }
            if op == .notIn { return !(t.map(list.contains) ?? false) }
            return list.first.map { ordered(t, $0) } ?? false
        case .text(let s):
            let list = values.compactMap { if case .text(let v) = $0 { return v }; return nil }
            switch op {
            case .isIn: return list.contains(s ?? "")
            case .notIn: return !list.contains(s ?? "")
            case .like: return list.first.map { (s ?? "").localizedCaseInsensitiveContains($0) } ?? false
            case .notLike: return !(list.first.map { (s ?? "").localizedCaseInsensitiveContains($0) } ?? false)
            case .equal: return (s ?? "") == (list.first ?? "")
            case .notEqual: return (s ?? "") != (list.first ?? "")
            default:
                guard let s, !s.isEmpty else { return false }
                return list.first.map { ordered(s, $0) } ?? false
            }
        case .list(let items):
            let list = values.compactMap { if case .text(let v) = $0 { return v }; return nil }
            switch op {
            case .isIn: return items.contains { list.contains($0) } || (items.isEmpty && list.contains(""))
            case .notIn: return !(items.contains { list.contains($0) } || (items.isEmpty && list.contains("")))
            case .like: return items.contains { item in list.contains { item.localizedCaseInsensitiveContains($0) } }
            case .notLike: return !items.contains { item in list.contains { item.localizedCaseInsensitiveContains($0) } }
            case .equal: return items.contains(list.first ?? "")
            case .notEqual: return !items.contains(list.first ?? "")
            default: return false
            }
        }
    }

    /// -1, 0 or 1; empty values sort first.
    func compareForSort(_ field: String, _ a: KintoneRecord, _ b: KintoneRecord) -> Int {
        func cmp<T: Comparable>(_ x: T?, _ y: T?) -> Int {
            switch (x, y) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case let (x?, y?): return x < y ? -1 : (x > y ? 1 : 0)
            }
        }
        switch (sample(field, a), sample(field, b)) {
        case let (.number(x), .number(y)): return cmp(x, y)
        case let (.time(x), .time(y)): return cmp(x, y)
        case let (.text(x), .text(y)): return cmp(x, y)
        default: return 0
        }
    }
}

/// The formula subset the sandbox evaluates for CALC fields.
struct KintoneFormula {
    private let chars: [Character]
    private var i = 0
    private let scope: JSONObject

    init(text: String, scope: JSONObject) {
        chars = Array(text)
        self.scope = scope
    }

    mutating func evaluate() -> Double? {
        let value = sum()
        skipSpaces()
        return i == chars.count ? value : nil
    }

    private mutating func skipSpaces() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

    private mutating func sum() -> Double? {
        guard var value = product() else { return nil }
        while true {
            skipSpaces()
            guard i < chars.count, chars[i] == "+" || chars[i] == "-" else { return value }
            let op = chars[i]
            i += 1
            guard let rhs = product() else { return nil }
            value = op == "+" ? value + rhs : value - rhs
        }
    }

    private mutating func product() -> Double? {
        guard var value = factor() else { return nil }
        while true {
            skipSpaces()
            guard i < chars.count, chars[i] == "*" || chars[i] == "/" else { return value }
            let op = chars[i]
            i += 1
            guard let rhs = factor() else { return nil }
            value = op == "*" ? value * rhs : value / rhs
        }
    }

    private mutating func factor() -> Double? {
        skipSpaces()
        guard i < chars.count else { return nil }
        if chars[i] == "(" {
            i += 1
            let value = sum()
            skipSpaces()
            guard i < chars.count, chars[i] == ")" else { return nil }
            i += 1
            return value
        }
        if chars[i] == "-" { i += 1; return factor().map { -$0 } }
        var word = ""
        while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == "." { word.append(chars[i]); i += 1 }
        guard !word.isEmpty else { return nil }
        if let n = Double(word) { return n }
        skipSpaces()
        if word.uppercased() == "SUM", i < chars.count, chars[i] == "(" {
            i += 1
            skipSpaces()
            var inner = ""
            while i < chars.count, chars[i] != ")" { inner.append(chars[i]); i += 1 }
            guard i < chars.count else { return nil }
            i += 1
            let code = inner.trimmingCharacters(in: .whitespaces)
            var total = 0.0
            for (_, value) in scope {
                for row in value.arrayValue ?? [] {
                    if let cell = row["value"]?[code] {
                        total += cell.stringValue.flatMap(Double.init) ?? 0
                    }
                }
            }
            return total
        }
        guard let value = scope[word] else { return 0 }
        return value.stringValue.flatMap(Double.init) ?? 0
    }
}
