import Foundation
import KitbagConnector
import KitbagCore
import KitbagHTTP

/// Reads every record of one app in pages of 500, by `$id` seek or through a cursor, whichever costs fewer requests.
///
/// Seek: `$id > last order by $id asc limit 500`, the first page also asking for `totalCount`, so the walk stops
/// after exactly max(1, ⌈N/500⌉) requests. Cursor: `POST records/cursor.json` + ⌈N/500⌉ reads (+1 `DELETE` when
/// a walk stops early): one request more, so seek wins whenever the order is `$id`. A cursor that was opened is
/// always deleted unless the server already dropped it (all records read), on errors and cancellation too.
///
/// With the total known from the first page and more than two pages still to read, a seek walk reads the rest by
/// `$id` ranges at once instead of one page after another: the last page (`$id > L order by $id desc`) bounds the
/// ids, and the ids between are cut into ranges of one page's width (`$id > a and $id <= b`), each of which holds a
/// page at most, so each is one request and the walk stays at ⌈N/500⌉ requests when the ids are dense. Pages are
/// handed on in `$id` order whatever order the answers come in. Ids far sparser than the records (many deleted)
/// would cost more ranges than pages: those are read one page after another as before.
struct KintoneRecordReader: Sendable {
    enum Strategy: Sendable, Equatable {
        /// The cheaper of the two (seek, for an export ordered by `$id`).
        case automatic
        case seek
        case cursor
    }

    let connection: KintoneConnection
    let app: String
    var strategy: Strategy = .automatic
    var pageSize = KintoneSchema.readPageSize
    /// Only matching records, in an order, with some fields (a partial export).
    var filter: KintoneRecordFilter?

    /// Range pages read at once (each is a page of records held until the pages before it are handed on).
    var rangesAtOnce = 4

    /// Requests to read `total` records each way.
    static func cost(total: Int, pageSize: Int = KintoneSchema.readPageSize) -> (seek: Int, cursor: Int) {
        let pages = max(1, (total + pageSize - 1) / pageSize)
        return (pages, pages + 1)
    }

    /// The strategy a walk uses: seek unless asked otherwise (`cost` shows why).
    var chosen: Strategy {
        if strategy != .automatic { return strategy }
        // Seek needs `$id` order; any other order is read through a cursor.
        if filter?.orderBy != nil { return .cursor }
        let cost = Self.cost(total: 0, pageSize: pageSize)
        return cost.cursor < cost.seek ? .cursor : .seek
    }

    /// Calls `page` with each page of records in `$id` order; `page` gets the total count with the first page.
    func forEachPage(_ page: ([JSONValue], Int?) async throws -> Void) async throws {
        switch chosen {
        case .cursor: try await cursorWalk(page)
        default: try await seekWalk(page)
        }
    }

    /// `(<condition>) and $id > <after> and $id <= <through> and $id < <before> order by $id <asc|desc> limit <limit>`,
    /// each part only when given: the shape of kintone/js-sdk's `getAllRecordsWithId`, with an upper bound and a
    /// direction.
    func seekQuery(
        after: String?, through: String? = nil, before: String? = nil, descending: Bool = false, limit: Int
    ) -> String {
        var conditions: [String] = []
        if let condition = filter?.condition { conditions.append("(\(condition))") }
        if let after { conditions.append("$id > \(after)") }
        if let through { conditions.append("$id <= \(through)") }
        if let before { conditions.append("$id < \(before)") }
        var query = "order by $id \(descending ? "desc" : "asc") limit \(limit)"
        if !conditions.isEmpty { query = conditions.joined(separator: " and ") + " " + query }
        return query
    }

    /// One `GET records.json` with `query`; the total count too when `counting`.
    func read(_ query: String, counting: Bool = false) async throws -> (records: [JSONValue], total: Int?) {
        var params: [(String, String)] = [("app", app), ("query", query)]
        for (i, field) in (filter?.requestedFields ?? []).enumerated() { params.append(("fields[\(i)]", field)) }
        if counting { params.append(("totalCount", "true")) }
        let answer = try await connection.call(.GET, "records.json", query: params)
        guard let records = answer["records"]?.arrayValue else {
            throw HTTPFailure.invalidBody(service: "kintone", route: "GET records.json", reason: "no \"records\" array")
        }
        return (records, counting ? answer["totalCount"]?.intValue ?? -1 : nil)
    }

    /// A record's `$id` as a number (nil when it is not one).
    static func numericID(_ record: JSONValue) -> Int64? { recordID(record).flatMap { Int64($0) } }

    /// The `$id` ranges `(after, through]` that cover the ids strictly between `low` and `high`, one page wide each,
    /// when they are no more than the pages `records` records need (plus a tenth): nil when the ids are too sparse.
    static func ranges(between low: Int64, and high: Int64, records: Int, pageSize: Int) -> [(after: Int64, through: Int64)]? {
        let span = high - low - 1
        guard span > 0, pageSize > 0 else { return [] }
        let width = Int64(pageSize)
        let count = (span + width - 1) / width
        let pages = Int64(max(1, (records + pageSize - 1) / pageSize))
        guard count <= pages + pages / 10 else { return nil }
        return (0..<count).map { k in (low + k * width, min(low + (k + 1) * width, high - 1)) }
    }

    private func seekWalk(_ page: ([JSONValue], Int?) async throws -> Void) async throws {
        let (records, total) = try await read(seekQuery(after: nil, limit: pageSize), counting: true)
        try await page(records, total)
        guard records.count == pageSize, let id = records.last.flatMap(Self.recordID) else { return }
        guard let total, total >= 0 else { return try await seekOn(after: id, seen: records.count, total: total, page) }
        let rest = total - records.count
        guard rest > 0 else { return }
        // More than two pages to go and numeric ids: the last page bounds the ids, the ranges between go at once.
        guard rest > 2 * pageSize, let low = Int64(id) else {
            return try await seekOn(after: id, seen: records.count, total: total, page)
        }
        let tail = Array(try await read(seekQuery(after: id, descending: true, limit: min(pageSize, rest))).records.reversed())
        guard let high = tail.first.flatMap(Self.numericID), high > low else {
            // The tail is gone or holds what the first page did (records deleted meanwhile): one page after another.
            return try await seekOn(after: id, seen: records.count, total: total, page)
        }
        if let ranges = Self.ranges(between: low, and: high, records: rest - tail.count, pageSize: pageSize) {
            let reader = self
            try await Overlap.inOrder(ranges, limit: max(1, rangesAtOnce), prepare: {}) { range, _ in
                // A range is one page wide, so one answer holds all of it.
                try await reader.read(
                    reader.seekQuery(after: String(range.after), through: String(range.through), limit: reader.pageSize)
                ).records
            } merge: { records in
                if !records.isEmpty { try await page(records, nil) }
            }
        } else {
            // Ids far sparser than the records: one page after another up to the tail.
            try await seekOn(after: id, before: String(high), seen: records.count, total: total - tail.count, page)
        }
        try await page(tail, nil)
    }

    /// Seeks on, page after page, from after `id` (below `before` when given) until a short page or `total` read.
    private func seekOn(
        after id: String, before: String? = nil, seen: Int, total: Int?, _ page: ([JSONValue], Int?) async throws -> Void
    ) async throws {
        var last = id
        var seen = seen
        while true {
            let records = try await read(seekQuery(after: last, before: before, limit: pageSize)).records
            seen += records.count
            try await page(records, nil)
            guard records.count == pageSize, let next = records.last.flatMap(Self.recordID) else { return }
            if let total, total >= 0, seen >= total { return }
            last = next
        }
    }

    private func cursorWalk(_ page: ([JSONValue], Int?) async throws -> Void) async throws {
        // Opened outside the caller's cancellation: a cancel that lands while the answer is on its way would
        // otherwise lose the id of a cursor the server already holds.
        let connection = self.connection
        let (app, size) = (self.app, pageSize)
        var body = JSONObject([("app", .string(app)), ("query", .string(Self.cursorQuery(filter))), ("size", .int(size))])
        if let fields = filter?.requestedFields, !fields.isEmpty { body["fields"] = .array(fields.map(JSONValue.string)) }
        let request = JSONValue.object(body)
        let opened = try await Task.detached {
            try await connection.call(.POST, "records/cursor.json", body: request)
        }.value
        guard let id = opened["id"]?.idString else {
            throw HTTPFailure.invalidBody(service: "kintone", route: "POST records/cursor.json", reason: "no cursor id")
        }
        var exhausted = false
        do {
            try Task.checkCancellation()
            var first = true
            while !exhausted {
                let answer = try await connection.call(.GET, "records/cursor.json", query: [("id", id)])
                let records = answer["records"]?.arrayValue ?? []
                exhausted = answer["next"]?.boolValue != true
                try await page(records, first ? opened["totalCount"]?.intValue : nil)
                first = false
            }
        } catch {
            await close(cursor: id)
            throw error
        }
    }

    /// `(<condition>) order by <order>`; `order by $id asc` unless another order is asked for.
    static func cursorQuery(_ filter: KintoneRecordFilter?) -> String {
        var query = "order by \(filter?.orderBy ?? "$id asc")"
        if let condition = filter?.condition { query = "(\(condition)) " + query }
        return query
    }

    /// Deletes an abandoned cursor, even when the task is cancelled.
    private func close(cursor id: String) async {
        let connection = self.connection
        await Task.detached {
            _ = try? await connection.call(.DELETE, "records/cursor.json", body: ["id": .string(id)])
        }.value
    }

    /// A record's `$id` (`__ID__`).
    static func recordID(_ record: JSONValue) -> String? {
        record["$id"]?["value"]?.idString
    }
}
