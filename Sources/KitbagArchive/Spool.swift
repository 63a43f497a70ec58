import Crypto
import Foundation
import KitbagCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bytes kept in memory up to a threshold, then in an anonymous (already unlinked) temp file.
final class ByteSpool {
    static let memoryLimit = 4 << 20
    static let chunkSize = 256 << 10

    private let directory: URL
    private var memory: [UInt8] = []
    private var fd: Int32 = -1
    private(set) var size: Int64 = 0

    init(directory: URL) {
        self.directory = directory
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        if fd < 0, memory.count + bytes.count <= Self.memoryLimit {
            memory.append(contentsOf: bytes)
            size += Int64(bytes.count)
            return
        }
        if fd < 0 { try spill() }
        var offset = 0
        while offset < bytes.count {
            let n = posixWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.io(path: directory.path, message: "cannot write spool file: \(LibArchive.errnoMessage())")
            }
            offset += n
        }
        size += Int64(bytes.count)
    }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    private func spill() throws {
        var template = Array(directory.appendingPathComponent(".kitbag-spool-XXXXXX").path.utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if descriptor < 0 {
            throw ArchiveError.io(
                path: directory.path,
                message: "cannot create a spool file: \(LibArchive.errnoMessage()); pass a writable spool folder")
        }
        // Unlinked at once: nothing is left behind even if the process dies.
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        fd = descriptor
        try memory.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = posixWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveError.io(path: directory.path, message: "cannot write spool file: \(LibArchive.errnoMessage())")
                }
                offset += n
            }
        }
        memory = []
    }

    /// Calls `body` with the spooled bytes in order, in chunks.
    func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if fd < 0 {
            try memory.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = min(Self.chunkSize, buffer.count - offset)
                    try body(UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)]))
                    offset += n
                }
            }
            return
        }
        if lseek(fd, 0, SEEK_SET) < 0 {
            throw ArchiveError.io(path: directory.path, message: "cannot rewind spool file: \(LibArchive.errnoMessage())")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var remaining = size
        while remaining > 0 {
            let n = posixRead(fd, buffer.baseAddress!, Int(min(Int64(Self.chunkSize), remaining)))
            if n < 0, errno == EINTR { continue }
            if n <= 0 {
                throw ArchiveError.io(path: directory.path, message: "cannot read spool file back: \(n < 0 ? LibArchive.errnoMessage() : "it is shorter than written")")
            }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            remaining -= Int64(n)
        }
    }

    /// Frees memory and the temp file.
    func discard() {
        memory = []
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }
}

/// Collects one JSON Lines entry (one compact JSON value per line) until it is committed to its writer.
public final class JSONLinesSpool {
    /// The archive path the entry will have, e.g. `data/spaces/abc/cards.jsonl`.
    public let path: String
    /// The entity kind counted in the manifest, e.g. `card`.
    public let kind: String
    /// Number of lines appended so far.
    public private(set) var count = 0
    let bytes: ByteSpool
    weak var owner: SnapshotWriter?
    var committed = false
    private var line: [UInt8] = []

    init(path: String, kind: String, directory: URL, owner: SnapshotWriter) {
        self.path = path
        self.kind = kind
        self.bytes = ByteSpool(directory: directory)
        self.owner = owner
    }

    /// Appends one entity as a compact JSON line.
    public func append(_ value: JSONValue) throws {
        guard !committed else { throw ArchiveError.misuse("JSON Lines entry \(path) was already committed; open a new spool") }
        line.removeAll(keepingCapacity: true)
        value.write(into: &line)
        line.append(0x0A)
        try bytes.append(line)
        count += 1
    }

    /// Bytes spooled so far.
    public var size: Int64 { bytes.size }
}

/// Collects one attachment's bytes, hashing them with SHA-256 as they arrive.
public final class AttachmentSpool {
    let bytes: ByteSpool
    weak var owner: SnapshotWriter?
    var committed = false
    private var hasher = SHA256()

    init(directory: URL, owner: SnapshotWriter) {
        self.bytes = ByteSpool(directory: directory)
        self.owner = owner
    }

    /// Appends downloaded bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !committed else { throw ArchiveError.misuse("attachment spool was already committed; open a new one") }
        hasher.update(bufferPointer: bytes)
        try self.bytes.append(bytes)
    }

    /// Appends downloaded bytes.
    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Bytes spooled so far.
    public var size: Int64 { bytes.size }

    func finalizeDigest() -> String {
        hasher.finalize().hexString
    }
}

/// Where an attachment was stored in the archive.
public struct StoredAttachment: Sendable, Equatable, Hashable, Codable {
    /// Lowercase hex SHA-256 of the content.
    public var sha256: String
    /// Archive path, `attachments/sha256/<2 hex>/<64 hex>`.
    public var path: String
    public var size: Int64

    public init(sha256: String, path: String, size: Int64) {
        self.sha256 = sha256
        self.path = path
        self.size = size
    }
}

extension Digest {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
