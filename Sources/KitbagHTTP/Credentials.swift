import Foundation
import NIOCore

/// Auth headers that can change during a run (OAuth access tokens) and can be renewed after a 401.
///
/// `APIClient` asks for `headers()` before every attempt; after a 401 it calls `renew(after:)` once per request
/// and retries when that returns true. Implementations coalesce concurrent renewals: when `failed` no longer
/// matches the current headers, another request already renewed them and the answer is simply true.
public protocol CredentialSource: Sendable {
    /// The auth headers to send now.
    func headers() async throws -> [(String, String)]
    /// Renews the credentials after a 401 to a request sent with `failed`; false when nothing can be renewed.
    func renew(after failed: [(String, String)]) async throws -> Bool
    /// Every secret the source holds now (tokens, refresh tokens, client secrets); redacted from all messages.
    func currentSecrets() -> [String]
}

/// A file sent as the one part of a `multipart/form-data` body, streamed from disk (never held in memory).
public struct MultipartFile: Sendable {
    /// Form field name (Kintone: `file`).
    public var field: String
    /// File name sent in `Content-Disposition`.
    public var fileName: String
    public var contentType: String
    public var file: URL

    public init(field: String, fileName: String, contentType: String, file: URL) {
        self.field = field
        self.fileName = fileName
        self.contentType = contentType
        self.file = file
    }

    /// The part's header block and the closing boundary around the file bytes.
    func envelope(boundary: String) -> (head: [UInt8], tail: [UInt8]) {
        func quoted(_ s: String) -> String {
            let cleaned = s.unicodeScalars.filter { $0 != "\r" && $0 != "\n" && $0 != "\0" }
            return String(String.UnicodeScalarView(cleaned))
                .replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        }
        let type = contentType.isEmpty || contentType.contains("\r") || contentType.contains("\n")
            ? "application/octet-stream" : contentType
        let head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quoted(field))\"; filename=\"\(quoted(fileName))\"\r\n"
            + "Content-Type: \(type)\r\n\r\n"
        return (Array(head.utf8), Array("\r\n--\(boundary)--\r\n".utf8))
    }
}

/// Reads a file in chunks for a streamed request body.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let url: URL
    let chunkSize: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        let chunkSize: Int
        var done = false

        mutating func next() async throws -> [UInt8]? {
            guard !done, let handle else { return nil }
            let data = try handle.read(upToCount: chunkSize) ?? Data()
            if data.isEmpty {
                done = true
                try? handle.close()
                return nil
            }
            return [UInt8](data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(handle: try? FileHandle(forReadingFrom: url), chunkSize: chunkSize)
    }
}

/// Head bytes, then the file's chunks, then tail bytes, as `ByteBuffer`s for AsyncHTTPClient.
struct AsyncMultipartBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let head: [UInt8]
    let file: FileChunks
    let tail: [UInt8]

    struct AsyncIterator: AsyncIteratorProtocol {
        var stage = 0
        var head: [UInt8]
        var file: FileChunks.AsyncIterator
        var tail: [UInt8]

        mutating func next() async throws -> ByteBuffer? {
            while true {
                switch stage {
                case 0:
                    stage = 1
                    return ByteBuffer(bytes: head)
                case 1:
                    if let chunk = try await file.next() { return ByteBuffer(bytes: chunk) }
                    stage = 2
                case 2:
                    stage = 3
                    return ByteBuffer(bytes: tail)
                default:
                    return nil
                }
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(head: head, file: file.makeAsyncIterator(), tail: tail)
    }
}
