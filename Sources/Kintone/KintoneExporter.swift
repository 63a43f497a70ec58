import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import NIOCore

/// Walks a Kintone domain (or guest space) — every readable app with all its settings, every record with its
/// comments and attached files, and the spaces the apps live in — through the shared export walk. An app whose
/// record marker did not move since the previous archive (and whose comments are younger than
/// `KintoneAppMarker.maxCopyAge`) has its records, comments and files copied from there after one probe request; its
/// settings are always read again (16 small requests).
final class KintoneExporter: ExportSource {
    let connection: KintoneConnection
    let progress: ProgressReporter
    /// Only these apps (ids), or every app the credentials can list when empty.
    let appIDs: [String]
    private var notes = KintoneExporter.alwaysNotExported
    /// The spaces the listed apps live in, exported after the apps.
    private var spaceIDs: Set<String> = []

    /// Records of one app carried into its readable page; the JSON Lines always hold all of them.
    static let readableItemLimit = 20_000

    static let alwaysNotExported: [NotExported] = [
        NotExported(kind: "thread", reason: "the Kintone REST API has no route to read space threads or their comments; only their ids are kept (app threadId, space defaultThread)"),
        NotExported(kind: "user", reason: "users, groups and organisations are kept as the codes records and settings refer to; the cybozu.com User API is not used"),
        NotExported(kind: "recordHistory", reason: "the REST API does not return the change history of records"),
        NotExported(kind: "secret", reason: "API tokens and passwords are never archived"),
    ]

    /// A named app that is gone is left out instead of failing the run (the live side of a restore).
    let skipMissing: Bool

    init(connection: KintoneConnection, progress: ProgressReporter, appIDs: [String], skipMissing: Bool = false) {
        self.connection = connection
        self.progress = progress
        self.appIDs = appIDs
        self.skipMissing = skipMissing
    }

    /// Kintone reports records per app as it goes (`app N records`), not one step per app.
    var containerStage: String? { nil }

    func begin(into account: ContainerOutput) async throws -> [ListedContainer] {
        progress.beginStage("apps")
        let apps = try await listApps()
        progress.advance(items: apps.count)
        return apps.compactMap { app in
            guard let id = app["appId"]?.idString else { return nil }
            if let space = app["spaceId"]?.idString { spaceIDs.insert(space) }
            return ListedContainer(
                ref: KintoneSchema.container(app: id), kind: "app", title: app["name"]?.stringValue ?? id, listing: app)
        }
    }

    func finish(into account: ContainerOutput) async throws {
        try await exportSpaces(spaceIDs.sorted(by: KintoneSchema.idLess), into: account)
        for notice in connection.notices.all {
            notes.append(NotExported(kind: "warning", reason: "Kintone warned (X-Cybozu-Warning) — \(notice)"))
        }
    }

    func notExported() -> [NotExported] { notes }

    func reading(account: any ContainerFiles) throws -> ContainerReading {
        KintoneRendering.reading(webBase: connection.baseURL.absoluteString, guestSpaceID: connection.guestSpaceID)
    }

    /// `GET apps.json` in pages of 100 (or for the selected ids), sorted by app id.
    func listApps() async throws -> [JSONValue] {
        var apps: [JSONValue] = []
        if appIDs.isEmpty && connection.tokensOnly { throw UserError(KintoneConnection.tokensCannotListApps, exitStatus: .usage) }
        if appIDs.isEmpty {
            var offset = 0
            while true {
                let answer = try await connection.call(
                    .GET, "apps.json", query: [("limit", String(KintoneSchema.appPageSize)), ("offset", String(offset))])
                let page = answer["apps"]?.arrayValue ?? []
                apps += page
                if page.count < KintoneSchema.appPageSize { break }
                offset += page.count
            }
        } else if connection.tokensOnly {
            // Tokens cannot call apps.json: each app's entry comes from app.json, which answers the same shape.
            for id in Array(Set(appIDs)).sorted(by: KintoneSchema.idLess) {
                do {
                    apps.append(try await connection.call(.GET, "app.json", query: [("id", id)]))
                } catch let failure as HTTPFailure where skipMissing && failure.isNotFound {
                    continue
                } catch let failure as HTTPFailure where Self.isTokenRefusal(failure) {
                    throw UserError(
                        "kintone: the API tokens given cannot read app \(id) (\(failure.serviceMessage ?? "refused")) — put the API token"
                            + " generated in app \(id)'s settings (with the View records permission) in \(KintoneSchema.apiTokenVariable), or drop --app \(id)")
                }
            }
        } else {
            let wanted = Array(Set(appIDs)).sorted(by: KintoneSchema.idLess)
            for start in stride(from: 0, to: wanted.count, by: KintoneSchema.appPageSize) {
                let chunk = wanted[start..<min(start + KintoneSchema.appPageSize, wanted.count)]
                let query = chunk.enumerated().map { ("ids[\($0.offset)]", $0.element) }
                let answer = try await connection.call(.GET, "apps.json", query: query)
                apps += answer["apps"]?.arrayValue ?? []
            }
            let found = Set(apps.compactMap { $0["appId"]?.idString })
            if !skipMissing, let missing = wanted.first(where: { !found.contains($0) }) {
                throw UserError("kintone: app \(missing) was not found or cannot be read with these credentials — check --app")
            }
        }
        return apps.sorted { KintoneSchema.idLess($0["appId"]?.idString ?? "", $1["appId"]?.idString ?? "") }
    }

    /// A 4xx that says the tokens do not belong to the app or lack a permission (`GAIA_IA02`, `GAIA_NO01`, `CB_NO02`);
    /// a 401 (an unknown token) keeps its own message, which names the variable to fix.
    static func isTokenRefusal(_ failure: HTTPFailure) -> Bool {
        switch failure {
        case .forbidden, .clientError, .notFound: return true
        default: return false
        }
    }

    /// One app: its entry, every settings document, its records (with files) and their comments.
    func fetch(_ listed: ListedContainer, into output: ContainerOutput, previous: PreviousContainer?) async throws
        -> FetchedContainer
    {
        let id = listed.id
        let app = listed.listing
        try output.write("app", kind: "app", values: [app])
        var settings: [String: JSONValue] = [:]
        // The settings documents are read at once and written in their fixed order (none for a restore's
        // comparison, which compares records and comments only).
        let connection = self.connection
        let answers = try await Overlap.map(connection.recordsOnly ? [] : KintoneSchema.settings, limit: connection.client.parallelism) {
            setting -> Result<JSONValue, HTTPFailure> in
            do {
                return .success(try await connection.call(.GET, setting.readPath, query: [("app", id)]))
            } catch let failure as HTTPFailure where failure.isForbidden {
                return .failure(failure)
            }
        }
        for (setting, answer) in zip(KintoneSchema.settings, answers) {
            switch answer {
            case .success(var value):
                if setting == KintoneSchema.customization { value = try await storeCustomizationFiles(value, into: output) }
                settings[setting.file] = value
                try output.write(setting.file, kind: setting.file, values: [value])
            case .failure(let failure):
                notes.append(
                    NotExported(
                        kind: setting.file, container: id,
                        reason: "these credentials may not read \(setting.readPath) (\(failure.serviceMessage ?? "403"))"))
            }
        }

        progress.beginStage("app \(id) records")
        let records = try output.lines("records", kind: "record")
        let comments = try output.lines("comments", kind: "comment")
        var total = 0
        var downloaded: [String: StoredAttachment] = [:]
        let now = output.startedAtSeconds
        let updatedCode = KintoneAppMarker.updatedTimeCode(settings[KintoneSchema.formFields.file])
        var newest: String?
        let result: FetchedContainer
        if let previous, let updatedCode, let marker = KintoneAppMarker(text: previous.marker),
            (0..<KintoneAppMarker.maxCopyAge).contains(now - marker.commentsFetchedAt),
            let files = try Self.recordFiles(previous.files),
            try await unchanged(app: id, updatedCode: updatedCode, since: marker)
        {
            // Unchanged: the previous archive's records (with their files) and comments, line for line.
            var copied: Set<String> = []
            while let record = try files.records.next() {
                for (_, file) in KintoneSchema.fileValues(of: record) {
                    if let sha = file["sha256"]?.stringValue, copied.insert(sha).inserted {
                        try output.copyAttachment(sha256: sha, from: previous.reader)
                    }
                }
                try records.append(record)
                total += 1
            }
            if let old = files.comments {
                while let comment = try old.next() { try comments.append(comment) }
            }
            result = FetchedContainer(marker: marker.text, reused: true)
            progress.advance(items: total, bytes: 0)
        } else {
            var reader = KintoneRecordReader(connection: connection, app: id, strategy: connection.recordReading)
            reader.filter = connection.recordFilter
            if let filter = connection.recordFilter, filter.isPartial {
                notes.append(
                    NotExported(kind: "partial", container: id, reason: "partial export of app \(id): \(filter.description); the other records and fields are not in this archive"))
            }
            // The next page is read while this one's comments and files are fetched (all within the pacing); what
            // is written follows the records' order, whatever order the answers come in.
            let walk = reader
            try await Overlap.readAhead({ hand in
                try await walk.forEachPage { page, count in try await hand(RecordPage(records: page, count: count)) }
            }) { page in
                if let count = page.count, count >= 0 { progress.setTotal(count) }
                let before = output.bytesWritten
                async let pageComments = Self.fetchComments(connection: connection, app: id, records: page.records)
                let stored = try await storeFiles(of: page.records, into: output, downloaded: &downloaded)
                for (record, recordComments) in zip(stored, try await pageComments) {
                    try records.append(record)
                    if let updatedCode { newest = KintoneAppMarker.later(newest, record[updatedCode]?["value"]?.stringValue) }
                    for comment in recordComments { try comments.append(comment) }
                    total += 1
                }
                progress.advance(items: page.records.count, bytes: output.bytesWritten - before)
            }
            let marker = KintoneAppMarker(count: total, newest: newest, commentsFetchedAt: now)
            // A marker whose newest minute may still take edits unseen is not kept: the next run fetches the app.
            result = FetchedContainer(marker: updatedCode != nil && marker.isSettled(now: now) ? marker.text : nil)
        }
        try output.commit(records)
        try output.commit(comments)
        return result
    }

    /// One request: the app's record count and newest updated time, compared with `marker`.
    func unchanged(app: String, updatedCode: String, since marker: KintoneAppMarker) async throws -> Bool {
        let answer = try await connection.call(
            .GET, "records.json",
            query: [
                ("app", app), ("query", "order by \(updatedCode) desc limit 1"), ("fields[0]", "$id"),
                ("fields[1]", updatedCode), ("totalCount", "true"),
            ])
        let count = answer["totalCount"]?.intValue
        let newest = answer["records"]?.arrayValue?.first?[updatedCode]?["value"]?.stringValue
        return count == marker.count && newest == marker.newest
    }

    /// The previous archive's records (and comments, when there were any) of an app; nil without records.
    static func recordFiles(_ previous: ArchivedContainer) throws -> (records: JSONLinesSequence, comments: JSONLinesSequence?)? {
        guard let records = try previous.lines("records") else { return nil }
        return (records, try previous.lines("comments"))
    }

    /// The comments of each record (oldest first), as many records at a time as the pacing lets run (its cap on
    /// requests in flight); each comment names its record.
    static func fetchComments(connection: KintoneConnection, app: String, records: [JSONValue]) async throws -> [[JSONValue]] {
        let ids = records.map { KintoneRecordReader.recordID($0) ?? "" }
        return try await Overlap.map(ids, limit: connection.client.parallelism) { record in
            try await Self.comments(connection: connection, app: app, record: record)
        }
    }

    /// `GET record/comments.json` in pages of 10, oldest first, until a short page.
    static func comments(connection: KintoneConnection, app: String, record: String) async throws -> [JSONValue] {
        var out: [JSONValue] = []
        var offset = 0
        while true {
            let answer = try await connection.call(
                .GET, "record/comments.json",
                query: [
                    ("app", app), ("record", record), ("order", "asc"), ("offset", String(offset)),
                    ("limit", String(KintoneSchema.commentPageSize)),
                ])
            let page = answer["comments"]?.arrayValue ?? []
            for comment in page {
                var line = JSONObject()
                line["recordId"] = .string(record)
                for (k, v) in comment.objectValue ?? JSONObject() { line[k] = v }
                out.append(.object(line))
            }
            if page.count < KintoneSchema.commentPageSize { return out }
            offset += page.count
        }
    }

    /// Downloads every file of a page's records once into the content-addressed store — several at a time, within
    /// the pacing, each stored in the order the records name them — and adds its `sha256` to each file value.
    func storeFiles(
        of records: [JSONValue], into output: ContainerOutput, downloaded: inout [String: StoredAttachment]
    ) async throws -> [JSONValue] {
        var keys: [String] = []
        var seen: Set<String> = []
        for record in records {
            for (_, file) in KintoneSchema.fileValues(of: record) {
                if let key = file["fileKey"]?.idString, downloaded[key] == nil, seen.insert(key).inserted { keys.append(key) }
            }
        }
        let limit = max(1, connection.client.parallelism)
        for start in stride(from: 0, to: keys.count, by: limit) {
            let chunk = Array(keys[start..<min(start + limit, keys.count)])
            // Spools are opened here and each handed to one download; they come back in the chunk's order.
            let boxes = try chunk.map { _ in SpoolBox(try output.attachmentSpool()) }
            let connection = self.connection
            let done = try await Overlap.map(Array(zip(chunk, boxes)), limit: limit) { key, box -> Bool in
                try await Self.download(fileKey: key, connection: connection, into: box)
            }
            for (i, key) in chunk.enumerated() {
                // A download that broke mid-body starts over on its own, with a fresh spool.
                downloaded[key] = done[i] ? try output.commit(boxes[i].spool) : try await download(fileKey: key, into: output, failed: 1)
            }
        }
        return records.map { Self.withDigests($0, downloaded: downloaded) }
    }

    /// One download into `box`; false when the body broke off (the caller starts it over).
    static func download(fileKey: String, connection: KintoneConnection, into box: SpoolBox) async throws -> Bool {
        do {
            _ = try await connection.client.download(connection.request(.GET, "file.json", query: [("fileKey", fileKey)])) {
                chunk in
                try chunk.withUnsafeReadableBytes { try box.spool.write($0) }
            }
            return true
        } catch let failure as HTTPFailure {
            guard case .downloadInterrupted = failure, connection.client.retry.maxAttempts > 1 else { throw failure }
            return false
        }
    }

    /// A record with the `sha256` of each downloaded file added to its file value.
    static func withDigests(_ record: JSONValue, downloaded: [String: StoredAttachment]) -> JSONValue {
        let files = KintoneSchema.fileValues(of: record)
        guard !files.isEmpty else { return record }
        let digests = files.map { _, file in file["fileKey"]?.idString.flatMap { downloaded[$0]?.sha256 } ?? "" }
        var index = 0
        return KintoneSchema.mapFiles(record) { file in
            defer { index += 1 }
            guard index < digests.count, !digests[index].isEmpty else { return file }
            var f = file
            f["sha256"] = .string(digests[index])
            return f
        }
    }

    /// Customisation files (`type: FILE`) are downloaded like record files; their `file` gets a `sha256`.
    func storeCustomizationFiles(_ value: JSONValue, into output: ContainerOutput) async throws -> JSONValue {
        var out = value
        for platform in ["desktop", "mobile"] {
            for kind in ["js", "css"] {
                guard var list = out[platform]?[kind]?.arrayValue else { continue }
                for i in list.indices where list[i]["type"]?.stringValue == "FILE" {
                    guard let key = list[i]["file"]?["fileKey"]?.idString else { continue }
                    let stored = try await download(fileKey: key, into: output)
                    var file = list[i]["file"]!
                    file["sha256"] = .string(stored.sha256)
                    list[i]["file"] = file
                }
                var section = out[platform]!
                section[kind] = .array(list)
                out[platform] = section
            }
        }
        return out
    }

    /// Streams one file into the archive. A download that breaks mid-body starts over with a fresh spool, up to the
    /// retry policy's attempts (counting `failed` ones made before).
    func download(fileKey: String, into output: ContainerOutput, failed: Int = 0) async throws -> StoredAttachment {
        var attempt = failed
        if failed > 0 { try await Task.sleep(for: .milliseconds(50 * failed)) }
        while true {
            attempt += 1
            let box = SpoolBox(try output.attachmentSpool())
            do {
                _ = try await connection.client.download(connection.request(.GET, "file.json", query: [("fileKey", fileKey)])) {
                    chunk in
                    try chunk.withUnsafeReadableBytes { try box.write($0) }
                }
                return try output.commit(box.spool)
            } catch let failure as HTTPFailure {
                guard case .downloadInterrupted = failure, attempt < connection.client.retry.maxAttempts else { throw failure }
                try await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
    }

    /// Every space the apps live in, with its members. Spaces cannot be listed: they are reached through apps.
    func exportSpaces(_ ids: [String], into output: ContainerOutput) async throws {
        guard !ids.isEmpty else { return }
        if connection.tokensOnly {
            // The space routes refuse API tokens (403 GAIA_NO01): no request is spent on them.
            notes.append(
                NotExported(kind: "space", reason: "API tokens cannot read spaces (\(ids.count) referred to by the apps); sign in with \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable) to archive them"))
            return
        }
        progress.beginStage("spaces", total: ids.count)
        for id in ids {
            let container = KintoneSchema.container(space: id)
            do {
                let space = try await connection.call(.GET, "space.json", query: [("id", id)])
                try output.write("space", kind: "space", values: [space], in: container)
            } catch let failure as HTTPFailure where failure.isForbidden || failure.isNotFound {
                notes.append(
                    NotExported(kind: "space", container: id, reason: "space \(id) cannot be read with these credentials (\(failure.serviceMessage ?? "no access"))"))
                progress.advance(items: 1)
                continue
            }
            do {
                let members = try await connection.call(.GET, "space/members.json", query: [("id", id)])
                try output.write(
                    "members", kind: "spaceMember", values: members["members"]?.arrayValue ?? [], in: container)
            } catch let failure as HTTPFailure where failure.isForbidden || failure.isNotFound {
                notes.append(
                    NotExported(kind: "spaceMember", container: id, reason: "the members of space \(id) cannot be read with these credentials"))
            }
            progress.advance(items: 1)
        }
    }
}

/// One page of records as the reader hands it on, with the app's record count on the first page.
struct RecordPage: Sendable {
    var records: [JSONValue]
    var count: Int?
}

/// Hands a spool to one download at a time: its sink runs strictly one chunk after another, and the spool goes back
/// to the task that opened it only when that download has ended (the task group's join orders the two).
/// `@unchecked`: the spool is written only under `lock`, and read by `commit` only after the download has ended.
final class SpoolBox: @unchecked Sendable {
    private let lock = NSLock()
    let spool: AttachmentSpool
    init(_ spool: AttachmentSpool) { self.spool = spool }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try lock.withLock { try spool.write(bytes) } }
}

extension String {
    /// Percent-encodes a value for use as one URL path segment.
    var urlPathEscaped: String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return addingPercentEncoding(withAllowedCharacters: allowed) ?? self
    }
}
