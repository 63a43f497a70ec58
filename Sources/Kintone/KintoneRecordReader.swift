import Foundation
import KitbagCore
import KitbagHTTP

/// Reads every record of one app in pages of 500, by `$id` seek or through a cursor, whichever costs fewer requests.
///
/// Seek: `$id > last order by $id asc limit 500`, the first page also asking for `totalCount`, so the walk stops
/// after exactly max(1, ⌈N/500⌉) requests. Cursor: `POST records/cursor.json` + ⌈N/500⌉ reads (+1 `DELETE` when
/// a walk stops early): one request more, so seek wins whenever the order is `$id`. A cursor that was opened is
/// always deleted unless the server already dropped it (all records read), on errors and cancellation too.
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

    private func seekWalk(_ page: ([JSONValue], Int?) async throws -> Void) async throws {
        var last: String?
        var seen = 0
        var total: Int?
        while true {
            var conditions: [String] = []
            if let condition = filter?.condition { conditions.append("(\(condition))") }
            if let last { conditions.append("$id > \(last)") }
            var query = "order by $id asc limit \(pageSize)"
            if !conditions.isEmpty { query = conditions.joined(separator: " and ") + " " + query }
            var params: [(String, String)] = [("app", app), ("query", query)]
            for (i, field) in (filter?.requestedFields ?? []).enumerated() { params.append(("fields[\(i)]", field)) }
            if total == nil { params.append(("totalCount", "true")) }
            let answer = try await connection.call(.GET, "records.json", query: params)
            guard let records = answer["records"]?.arrayValue else {
                throw HTTPFailure.invalidBody(service: "kintone", route: "GET records.json", reason: "no \"records\" array")
            }
            let first = total == nil
            if first { total = answer["totalCount"]?.intValue ?? -1 }
            seen += records.count
            try await page(records, first ? total : nil)
            guard records.count == pageSize, let id = records.last.flatMap(Self.recordID) else { return }
            if let total, total >= 0, seen >= total { return }
            last = id
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
