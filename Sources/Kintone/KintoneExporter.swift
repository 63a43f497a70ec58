import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagRender
import NIOCore

/// Walks a Kintone domain (or guest space) — every readable app with all its settings, every record with its
/// comments and attached files, and the spaces the apps live in — into an archive.
struct KintoneExporter: Sendable {
    let connection: KintoneConnection
    let progress: ProgressReporter
    /// Only these apps (ids), or every app the credentials can list when empty.
    var appIDs: [String]
    var renderings: Set<ReadableFormat>

    /// Comment requests in flight at once (well below the per-domain concurrency limit of 100).
    static let commentConcurrency = 8
    /// Records of one app carried into its readable page; the JSON Lines always hold all of them.
    static let readableItemLimit = 20_000

    static let notExported: [NotExported] = [
        NotExported(kind: "thread", reason: "the Kintone REST API has no route to read space threads or their comments; only their ids are kept (app threadId, space defaultThread)"),
        NotExported(kind: "user", reason: "users, groups and organisations are kept as the codes records and settings refer to; the cybozu.com User API is not used"),
        NotExported(kind: "recordHistory", reason: "the REST API does not return the change history of records"),
        NotExported(kind: "secret", reason: "API tokens and passwords are never archived"),
    ]

    func export(into writer: SnapshotWriter) async throws -> [NotExported] {
        try await export(into: writer, base: nil).notExported
    }

    /// Like `export(into:)`; an app whose record marker did not move since `base` was written (and whose comments
    /// are younger than `KintoneAppMarker.maxCopyAge`) has its records, comments and files copied from the previous
    /// archive after one probe request; its settings are always read again (16 small requests).
    func export(into writer: SnapshotWriter, base: ChangeBase?) async throws -> (notExported: [NotExported], changes: ExportChanges) {
        var changes = ExportChanges()
        var notExported = Self.notExported
        progress.beginStage("apps")
        let apps = try await listApps()
        progress.advance(items: apps.count)
        let stubs = apps.compactMap { app in
            app["appId"]?.idString.map { ReadableContainer(id: $0, kind: "app", title: app["name"]?.stringValue ?? $0) }
        }
        var rendered: [ReadableContainer] = []
        var spaceIDs: Set<String> = []
        for app in apps {
            guard let id = app["appId"]?.idString else { continue }
            if let space = app["spaceId"]?.idString { spaceIDs.insert(space) }
            if let readable = try await exportApp(
                app, id: id, into: writer, notExported: &notExported, stubs: stubs, base: base, changes: &changes)
            {
                rendered.append(readable)
            }
        }
        try await exportSpaces(spaceIDs.sorted(by: KintoneSchema.idLess), into: writer, notExported: &notExported)
        for notice in connection.notices.all {
            notExported.append(NotExported(kind: "warning", reason: "Kintone warned (X-Cybozu-Warning) — \(notice)"))
        }
        if renderings.contains(.markdown) {
            try writer.addFile(
                path: ReadablePaths.index,
                data: MarkdownRenderer.index(
                    service: .kintone, account: connection.account.name ?? connection.account.id, containers: rendered,
                    archiveStartedAt: Timestamp.parse(writer.info.startedAt) ?? Date(), formats: renderings))
        }
        if renderings.contains(.html) {
            try writer.addFile(
                path: ReadablePaths.htmlIndex,
                data: HTMLRenderer.index(
                    service: .kintone, account: connection.account.name ?? connection.account.id, containers: rendered,
                    archiveStartedAt: Timestamp.parse(writer.info.startedAt) ?? Date(), formats: renderings,
                    entries: writer.writtenEntries))
        }
        return (notExported, changes)
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
            if let missing = wanted.first(where: { !found.contains($0) }) {
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
    func exportApp(
        _ app: JSONValue, id: String, into writer: SnapshotWriter, notExported: inout [NotExported],
        stubs: [ReadableContainer], base: ChangeBase? = nil, changes: inout ExportChanges
    ) async throws -> ReadableContainer? {
        let container = KintoneSchema.container(app: id)
        try writer.writeJSONLines(container: container, file: "app", kind: "app", values: [app])
        var settings: [String: JSONValue] = [:]
        for setting in KintoneSchema.settings {
            do {
                var value = try await connection.call(.GET, setting.readPath, query: [("app", id)])
                if setting == KintoneSchema.customization { value = try await storeCustomizationFiles(value, into: writer) }
                settings[setting.file] = value
                try writer.writeJSONLines(container: container, file: setting.file, kind: setting.file, values: [value])
            } catch let failure as HTTPFailure where failure.isForbidden {
                notExported.append(
                    NotExported(
                        kind: setting.file, container: id,
                        reason: "these credentials may not read \(setting.readPath) (\(failure.serviceMessage ?? "403"))"))
            }
        }

        progress.beginStage("app \(id) records")
        let records = try writer.jsonLines(container: container, file: "records", kind: "record")
        let comments = try writer.jsonLines(container: container, file: "comments", kind: "comment")
        var readableRecords: [JSONValue] = []
        var readableComments: [String: [JSONValue]] = [:]
        var total = 0
        var downloaded: [String: StoredAttachment] = [:]
        let now = Int64((Timestamp.parse(writer.info.startedAt) ?? Date()).timeIntervalSince1970.rounded(.down))
        let updatedCode = KintoneAppMarker.updatedTimeCode(settings[KintoneSchema.formFields.file])
        var newest: String?
        if let base, let updatedCode, let marker = KintoneAppMarker(text: base.markers[container.archiveFolder]),
            (0..<KintoneAppMarker.maxCopyAge).contains(now - marker.commentsFetchedAt),
            let paths = Self.recordFiles(in: base.previous, container: container),
            try await unchanged(app: id, updatedCode: updatedCode, since: marker)
        {
            // Unchanged: the previous archive's records (with their files) and comments, line for line.
            var copied: Set<String> = []
            for try await record in try base.previous.lines(at: paths.records) {
                for (_, file) in KintoneSchema.fileValues(of: record) {
                    if let sha = file["sha256"]?.stringValue, copied.insert(sha).inserted {
                        try writer.copyAttachment(sha256: sha, from: base.previous)
                    }
                }
                try records.append(record)
                if !renderings.isEmpty, total < Self.readableItemLimit { readableRecords.append(record) }
                total += 1
            }
            if let commentPath = paths.comments {
                let readableIDs = Set(readableRecords.compactMap(KintoneRecordReader.recordID))
                for try await comment in try base.previous.lines(at: commentPath) {
                    try comments.append(comment)
                    if !renderings.isEmpty, let record = comment["recordId"]?.idString, readableIDs.contains(record) {
                        readableComments[record, default: []].append(comment)
                    }
                }
            }
            changes.reused.append(container.archiveFolder)
            changes.markers[container.archiveFolder] = marker.text
            progress.advance(items: total, bytes: 0)
        } else {
        var reader = KintoneRecordReader(connection: connection, app: id, strategy: connection.recordReading)
        reader.filter = connection.recordFilter
        if let filter = connection.recordFilter, filter.isPartial {
            notExported.append(
                NotExported(kind: "partial", container: id, reason: "partial export of app \(id): \(filter.description); the other records and fields are not in this archive"))
        }
        try await reader.forEachPage { page, count in
            if let count, count >= 0 { progress.setTotal(count) }
            let before = writer.bytesWritten
            let pageComments = try await fetchComments(app: id, records: page)
            for (record, recordComments) in zip(page, pageComments) {
                let stored = try await storeFiles(of: record, into: writer, downloaded: &downloaded)
                try records.append(stored)
                let recordID = KintoneRecordReader.recordID(record) ?? ""
                if let updatedCode { newest = KintoneAppMarker.later(newest, record[updatedCode]?["value"]?.stringValue) }
                for comment in recordComments { try comments.append(comment) }
                if !renderings.isEmpty, total < Self.readableItemLimit {
                    readableRecords.append(stored)
                    if !recordComments.isEmpty { readableComments[recordID] = recordComments }
                }
                total += 1
            }
            progress.advance(items: page.count, bytes: writer.bytesWritten - before)
        }
            changes.fetched.append(container.archiveFolder)
            let marker = KintoneAppMarker(count: total, newest: newest, commentsFetchedAt: now)
            // A marker whose newest minute may still take edits unseen is not kept: the next run fetches the app.
            if updatedCode != nil, marker.isSettled(now: now) { changes.markers[container.archiveFolder] = marker.text }
        }
        try writer.commit(records)
        try writer.commit(comments)

        guard !renderings.isEmpty else { return nil }
        var readable = KintoneReadable.container(
            app: app, settings: settings, records: readableRecords, comments: readableComments,
            webBase: connection.baseURL.absoluteString, guestSpaceID: connection.guestSpaceID)
        if total > readableRecords.count {
            readable.summary = [readable.summary, "This page shows the first \(readableRecords.count) of \(total) records; all are in data/apps/\(ArchivePath.component(id))/records.jsonl."]
                .compactMap { $0 }.joined(separator: "\n\n")
        }
        if renderings.contains(.markdown) {
            try writer.addFile(
                path: ReadablePaths.page(readable), data: MarkdownRenderer.page(readable, allContainers: stubs, formats: renderings))
        }
        if renderings.contains(.rss) { try writer.addFile(path: ReadablePaths.feed(readable), data: try RSSRenderer.feed(readable)) }
        if renderings.contains(.canvas) {
            try writer.addFile(path: ReadablePaths.canvas(readable), data: CanvasRenderer.canvas(readable))
        }
        if renderings.contains(.html) {
            try writer.addFile(path: ReadablePaths.html(readable), data: HTMLRenderer.page(readable, allContainers: stubs, formats: renderings))
        }
        var summary = readable
        summary.items = []
        return summary
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

    /// The previous archive's records (and comments, when there were any) of `container`; nil without records.
    static func recordFiles(in previous: SnapshotReader, container: ContainerRef) -> (records: String, comments: String?)? {
        let entries = previous.jsonLinesEntries(in: container)
        let prefix = container.archiveFolder + "/"
        guard let records = entries.first(where: { $0.path == prefix + "records.jsonl" }) else { return nil }
        return (records.path, entries.first { $0.path == prefix + "comments.jsonl" }?.path)
    }

    /// The comments of each record (oldest first), several records at a time; each comment names its record.
    func fetchComments(app: String, records: [JSONValue]) async throws -> [[JSONValue]] {
        let ids = records.map { KintoneRecordReader.recordID($0) ?? "" }
        var out = [[JSONValue]](repeating: [], count: ids.count)
        let connection = self.connection
        try await withThrowingTaskGroup(of: (Int, [JSONValue]).self) { group in
            var next = 0
            func addTask() {
                let index = next
                let record = ids[index]
                next += 1
                group.addTask { (index, try await Self.comments(connection: connection, app: app, record: record)) }
            }
            while next < min(Self.commentConcurrency, ids.count) { addTask() }
            while let (index, comments) = try await group.next() {
                out[index] = comments
                if next < ids.count { addTask() }
            }
        }
        return out
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

    /// Downloads every file of a record once into the content-addressed store and adds its `sha256` to the value.
    func storeFiles(
        of record: JSONValue, into writer: SnapshotWriter, downloaded: inout [String: StoredAttachment]
    ) async throws -> JSONValue {
        let files = KintoneSchema.fileValues(of: record)
        guard !files.isEmpty else { return record }
        var digests: [String] = []
        for (_, file) in files {
            guard let key = file["fileKey"]?.idString else {
                digests.append("")
                continue
            }
            if let known = downloaded[key] {
                digests.append(known.sha256)
                continue
            }
            let stored = try await download(fileKey: key, into: writer)
            downloaded[key] = stored
            digests.append(stored.sha256)
        }
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
    func storeCustomizationFiles(_ value: JSONValue, into writer: SnapshotWriter) async throws -> JSONValue {
        var out = value
        for platform in ["desktop", "mobile"] {
            for kind in ["js", "css"] {
                guard var list = out[platform]?[kind]?.arrayValue else { continue }
                for i in list.indices where list[i]["type"]?.stringValue == "FILE" {
                    guard let key = list[i]["file"]?["fileKey"]?.idString else { continue }
                    let stored = try await download(fileKey: key, into: writer)
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

    /// Streams one file into the archive. A download that breaks mid-body starts over with a fresh spool.
    func download(fileKey: String, into writer: SnapshotWriter) async throws -> StoredAttachment {
        var attempt = 0
        while true {
            attempt += 1
            let box = SpoolBox(try writer.attachmentSpool())
            do {
                _ = try await connection.client.download(connection.request(.GET, "file.json", query: [("fileKey", fileKey)])) {
                    chunk in
                    try chunk.withUnsafeReadableBytes { try box.spool.write($0) }
                }
                return try writer.commit(box.spool)
            } catch let failure as HTTPFailure {
                guard case .downloadInterrupted = failure, attempt < connection.client.retry.maxAttempts else { throw failure }
                try await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
    }

    /// Every space the apps live in, with its members. Spaces cannot be listed: they are reached through apps.
    func exportSpaces(_ ids: [String], into writer: SnapshotWriter, notExported: inout [NotExported]) async throws {
        guard !ids.isEmpty else { return }
        if connection.tokensOnly {
            // The space routes refuse API tokens (403 GAIA_NO01): no request is spent on them.
            notExported.append(
                NotExported(kind: "space", reason: "API tokens cannot read spaces (\(ids.count) referred to by the apps); sign in with \(KintoneSchema.usernameVariable) and \(KintoneSchema.passwordVariable) to archive them"))
            return
        }
        progress.beginStage("spaces", total: ids.count)
        for id in ids {
            let container = KintoneSchema.container(space: id)
            do {
                let space = try await connection.call(.GET, "space.json", query: [("id", id)])
                try writer.writeJSONLines(container: container, file: "space", kind: "space", values: [space])
            } catch let failure as HTTPFailure where failure.isForbidden || failure.isNotFound {
                notExported.append(
                    NotExported(kind: "space", container: id, reason: "space \(id) cannot be read with these credentials (\(failure.serviceMessage ?? "no access"))"))
                progress.advance(items: 1)
                continue
            }
            do {
                let members = try await connection.call(.GET, "space/members.json", query: [("id", id)])
                try writer.writeJSONLines(
                    container: container, file: "members", kind: "spaceMember", values: members["members"]?.arrayValue ?? [])
            } catch let failure as HTTPFailure where failure.isForbidden || failure.isNotFound {
                notExported.append(
                    NotExported(kind: "spaceMember", container: id, reason: "the members of space \(id) cannot be read with these credentials"))
            }
            progress.advance(items: 1)
        }
    }
}

/// Hands a spool to the download sink, which runs strictly one chunk after another.
final class SpoolBox: @unchecked Sendable {
    let spool: AttachmentSpool
    init(_ spool: AttachmentSpool) { self.spool = spool }
}

extension String {
    /// Percent-encodes a value for use as one URL path segment.
    var urlPathEscaped: String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return addingPercentEncoding(withAllowedCharacters: allowed) ?? self
    }
}
