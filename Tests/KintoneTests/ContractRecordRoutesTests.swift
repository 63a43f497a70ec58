import Foundation
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import NIOCore
import Testing

@testable import Kintone

/// Contract: cursors, comments and files, each request shaped as kintone/js-sdk sends it (commit
/// 003b2770edee77b314a7b67cb7645836f543b426):
/// - packages/rest-api-client/src/client/RecordClient.ts: createCursor `POST records/cursor.json {app, fields, query,
///   size}` → `{id, totalCount}`; getRecordsByCursor `GET records/cursor.json {id}` → `{records, next}`, the cursor
///   gone once `next` is false; deleteCursor `DELETE records/cursor.json {id}`; getRecordComments
///   `GET record/comments.json {app, record, order, offset, limit}` → `{comments, older, newer}`;
///   addRecordComment `POST record/comment.json {app, record, comment: {text, mentions}}` → `{id}`.
/// - packages/rest-api-client/src/client/FileClient.ts: uploadFile is multipart `POST file.json` with one part named
///   `file` → `{fileKey}`; downloadFile `GET file.json {fileKey}` (with the key a record holds, not the upload key).
@Suite("Kintone contract: cursors, comments, files")
struct ContractRecordRoutesTests {
    @Test("a cursor: {id, totalCount}; pages {records, next}; read to the end it is gone; DELETE frees an abandoned one")
    func cursors() async throws {
        let sandbox = try await KintoneConnectorTests.sandbox()
        defer { Task { await sandbox.stop() } }
        let connection = try KintoneConnectorTests.connect(sandbox)
        let opened = try await connection.call(
            .POST, "records/cursor.json", body: ["app": "2", "fields": ["$id", "Order_No"], "query": "order by $id asc", "size": 2])
        let id = try #require(opened["id"]?.idString)
        #expect(opened["totalCount"]?.idString == "3")
        let first = try await connection.call(.GET, "records/cursor.json", query: [("id", id)])
        #expect(first["records"]?.arrayValue?.count == 2 && first["next"] == true)
        #expect(first["records"]?.arrayValue?.first?.objectValue?.keys.sorted() == ["$id", "Order_No"])
        let second = try await connection.call(.GET, "records/cursor.json", query: [("id", id)])
        #expect(second["records"]?.arrayValue?.count == 1 && second["next"] == false)
        await #expect(throws: HTTPFailure.self) { _ = try await connection.call(.GET, "records/cursor.json", query: [("id", id)]) }
        let abandoned = try await connection.call(.POST, "records/cursor.json", body: ["app": "2", "size": 1])
        let other = try #require(abandoned["id"]?.idString)
        #expect(await sandbox.stats().gauges[KintoneSandbox.openCursorsGauge] == 1)
        _ = try await connection.call(.DELETE, "records/cursor.json", body: ["id": .string(other)])
        #expect(await sandbox.stats().gauges[KintoneSandbox.openCursorsGauge] == 0)
    }

    /// cybozu.dev, "Delete Records" (DELETE /k/v1/records.json): `revisions` holds one expected revision per id;
    /// -1 or null there skips the check for that record, any other stale value fails with GAIA_CO02 and deletes nothing.
    @Test("DELETE records with revisions [null, -1, stale]: null and -1 skip the check, a stale one deletes nothing")
    func deleteWithNullRevisions() async throws {
        let sandbox = try await KintoneConnectorTests.sandbox()
        defer { Task { await sandbox.stop() } }
        let connection = try KintoneConnectorTests.connect(sandbox)
        let stale = try await #require(failure {
            _ = try await connection.call(.DELETE, "records.json", body: ["app": "2", "ids": [1, 2, 3], "revisions": [.null, -1, 999]])
        })
        #expect("\(stale)".contains("GAIA_CO02") || "\(stale)".contains("revision"), "\(stale)")
        let still = try await connection.call(.GET, "records.json", query: [("app", "2"), ("totalCount", "true")])
        #expect(still["totalCount"]?.idString == "3", "a failed batch deletes nothing")
        _ = try await connection.call(.DELETE, "records.json", body: ["app": "2", "ids": [1, 2], "revisions": [.null, -1]])
        let left = try await connection.call(.GET, "records.json", query: [("app", "2"), ("totalCount", "true")])
        #expect(left["totalCount"]?.idString == "1")
    }

    private func failure(_ body: () async throws -> Void) async -> (any Error)? {
        do {
            try await body()
            return nil
        } catch {
            return error
        }
    }

    @Test("comments page at most 10 with older/newer; a new comment answers its id and reads back with its mention")
    func comments() async throws {
        let sandbox = try await KintoneConnectorTests.sandbox()
        defer { Task { await sandbox.stop() } }
        let connection = try KintoneConnectorTests.connect(sandbox)
        // ORD-0003 (record 3 of app 2) has twelve comments.
        let page = try await connection.call(
            .GET, "record/comments.json", query: [("app", "2"), ("record", "3"), ("order", "asc"), ("offset", "0"), ("limit", "10")])
        #expect(page["comments"]?.arrayValue?.count == 10 && page["newer"] == true && page["older"] == false)
        await #expect(throws: HTTPFailure.self) {
            _ = try await connection.call(.GET, "record/comments.json", query: [("app", "2"), ("record", "3"), ("limit", "11")])
        }
        let added = try await connection.call(
            .POST, "record/comment.json",
            body: ["app": "2", "record": "3", "comment": ["text": "From the contract", "mentions": [["code": "sato", "type": "USER"]]]])
        let id = try #require(added["id"]?.idString)
        let newest = try await connection.call(
            .GET, "record/comments.json", query: [("app", "2"), ("record", "3"), ("order", "desc"), ("limit", "1")])
        let comment = try #require(newest["comments"]?.arrayValue?.first)
        #expect(comment["id"]?.idString == id && comment["text"]?.stringValue?.contains("From the contract") == true)
        #expect(comment["mentions"]?.arrayValue?.first?["code"] == "sato")
    }

    @Test("an upload answers a fileKey that is not a download key; the record's key downloads the same bytes")
    func files() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await KintoneConnectorTests.sandbox()
        defer { Task { await sandbox.stop() } }
        let connection = try KintoneConnectorTests.connect(sandbox)
        let bytes = Array("contract bytes \u{1F4CE}\n".utf8)
        let file = dir.appendingPathComponent("note.txt")
        try Data(bytes).write(to: file)
        let uploaded = try await connection.client.json(
            APIRequest(
                method: .POST, path: connection.pathPrefix + "file.json",
                multipartFile: MultipartFile(field: "file", fileName: "note.txt", contentType: "text/plain", file: file),
                route: "POST file.json"))
        let uploadKey = try #require(uploaded["fileKey"]?.idString)
        await #expect(throws: HTTPFailure.self) { _ = try await connection.call(.GET, "file.json", query: [("fileKey", uploadKey)]) }
        let order = try await connection.call(
            .POST, "record.json",
            body: ["app": "2", "record": ["Order_No": ["value": "FILE-1"], "Attachments": ["value": [["fileKey": .string(uploadKey)]]]]])
        let recordID = try #require(order["id"]?.idString)
        let record = try await connection.call(.GET, "record.json", query: [("app", "2"), ("id", recordID)])
        let downloadKey = try #require(record["record"]?["Attachments"]?["value"]?.arrayValue?.first?["fileKey"]?.idString)
        #expect(downloadKey != uploadKey)
        let box = ByteBox()
        _ = try await connection.client.download(connection.request(.GET, "file.json", query: [("fileKey", downloadKey)])) { chunk in
            box.append(Array(chunk.readableBytesView))
        }
        #expect(box.bytes == bytes)
    }
}

/// Collects downloaded chunks (the sink runs one chunk after another). `@unchecked`: only touched under the lock.
final class ByteBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [UInt8] = []
    func append(_ more: [UInt8]) {
        lock.lock()
        stored += more
        lock.unlock()
    }
    var bytes: [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}
