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
    /// 1 MiB: an export writes a few containers at once, each with a few files, so this is what their spools may
    /// hold in memory together (a Kona export of 100,000 tasks in 10 spaces peaked at 74 MiB with 4 MiB, 71 with 1;
    /// issue 17).
    static let memoryLimit = 1 << 20
    static let chunkSize = 256 << 10

    private let directory: URL
    /// Bytes kept in memory before the spool moves to a temp file.
    private let limit: Int
    private var memory: [UInt8] = []
    private var fd: Int32 = -1
    private(set) var size: Int64 = 0

    init(directory: URL, memoryLimit: Int = ByteSpool.memoryLimit) {
        self.directory = directory
        self.limit = memoryLimit
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        if fd < 0, memory.count + bytes.count <= limit {
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

    /// A file with no name in `directory`, so nothing can be left behind whenever the process dies: Linux's
    /// `O_TMPFILE` where the file system has it, else `mkstemp` and an `unlink` at once (a window of microseconds in
    /// which a name exists).
    static func anonymousFile(in directory: URL) throws -> Int32 {
        #if os(Linux)
            // O_TMPFILE is __O_TMPFILE | O_DIRECTORY; Swift does not import the composite macro.
            let nameless = open(directory.path, O_RDWR | O_CLOEXEC | O_DIRECTORY | 0o20000000, 0o600)
            if nameless >= 0 { return nameless }
        #endif
        var template = Array(directory.appendingPathComponent(".kitbag-spool-XXXXXX").path.utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if descriptor < 0 {
            throw ArchiveError.io(
                path: directory.path,
                message: "cannot create a spool file: \(LibArchive.errnoMessage()); pass a writable spool folder")
        }
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        return descriptor
    }

    private func spill() throws {
        fd = try Self.anonymousFile(in: directory)
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

    /// True once the bytes live in the temp file.
    var spilled: Bool { fd >= 0 }

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
        // Positioned reads: the file offset stays at the end, where further appends go.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while offset < size {
            let n = pread(fd, buffer.baseAddress!, Int(min(Int64(Self.chunkSize), size - offset)), off_t(offset))
            if n < 0, errno == EINTR { continue }
            if n <= 0 {
                throw ArchiveError.io(path: directory.path, message: "cannot read spool file back: \(n < 0 ? LibArchive.errnoMessage() : "it is shorter than written")")
            }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            offset += Int64(n)
        }
    }

    /// True when `needle` occurs in the spooled bytes (a chunk boundary may split it).
    func contains(_ needle: [UInt8]) throws -> Bool {
        guard !needle.isEmpty else { return true }
        var window: [UInt8] = []
        var found = false
        try forEachChunk { chunk in
            guard !found else { return }
            window.append(contentsOf: chunk)
            if window.count >= needle.count {
                var i = 0
                while i + needle.count <= window.count {
                    if window[i] == needle[0], window[i..<(i + needle.count)].elementsEqual(needle) {
                        found = true
                        return
                    }
                    i += 1
                }
                window.removeFirst(window.count - (needle.count - 1))
            }
        }
        return found
    }

    /// A reader of the spooled bytes as JSON Lines (an in-memory copy, or the spool file read at its own offsets).
    func lines(entry: String) throws -> JSONLinesSequence {
        if fd < 0 { return JSONLinesSequence(bytes: memory, entry: entry) }
        let copy = dup(fd)
        if copy < 0 { throw ArchiveError.io(path: directory.path, message: "cannot reopen spool file: \(LibArchive.errnoMessage())") }
        return JSONLinesSequence(descriptor: copy, entry: entry)
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
    /// Committed with `retaining: true`: the bytes stay until `release()`.
    var retained = false
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

    /// Appends one entity already written as compact JSON text (no newline in it), e.g. a line of a
    /// `ScratchJSONLines`: the same bytes `append(_:)` would write for the value it holds.
    public func append(json text: [UInt8]) throws {
        guard !committed else { throw ArchiveError.misuse("JSON Lines entry \(path) was already committed; open a new spool") }
        try bytes.append(text)
        try bytes.append([0x0A])
        count += 1
    }

    /// Bytes spooled so far.
    public var size: Int64 { bytes.size }

    /// The entities of a spool committed with `retaining: true`, read back line by line.
    public func lines() throws -> JSONLinesSequence {
        guard committed, retained else {
            throw ArchiveError.misuse("JSON Lines entry \(path) can be read back only once committed with retaining: true")
        }
        return try bytes.lines(entry: path)
    }

    /// Frees the bytes a retaining commit kept.
    public func release() {
        retained = false
        bytes.discard()
    }
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

/// The `entries` array of a manifest being written, one entry at a time, printed exactly as `JSONEncoder` with
/// `.sortedKeys, .prettyPrinted, .withoutEscapingSlashes` prints it inside the manifest, and spooled (to a temp file
/// past a few MiB). `SnapshotWriter.seal` puts it into the encoder's output for a manifest without entries.
final class ManifestEntryLog {
    private let bytes: ByteSpool
    private(set) var count = 0
    private var line: [UInt8] = []

    init(directory: URL, memoryLimit: Int = ByteSpool.memoryLimit) {
        bytes = ByteSpool(directory: directory, memoryLimit: memoryLimit)
    }

    /// True once the entries live in a temp file rather than in memory.
    var spilled: Bool { bytes.spilled }

    /// Bytes of the entries with their separators (none without entries).
    var size: Int64 { bytes.size }

    func append(_ entry: Manifest.Entry) throws {
        line.removeAll(keepingCapacity: true)
        if count > 0 { line += Array(",\n".utf8) }
        line += Array("    {\n".utf8)
        if let c = entry.count { field("count", Array(String(c).utf8)) }
        if let kind = entry.kind { field("kind", try Self.string(kind)) }
        field("path", try Self.string(entry.path))
        field("sha256", try Self.string(entry.sha256))
        field("size", Array(String(entry.size).utf8), last: true)
        line += Array("\n    }".utf8)
        try bytes.append(line)
        count += 1
    }

    private func field(_ key: String, _ value: [UInt8], last: Bool = false) {
        line += Array("      \"\(key)\" : ".utf8)
        line += value
        if !last { line += Array(",\n".utf8) }
    }

    /// True when an entry with exactly this path was appended.
    func contains(path: String) throws -> Bool {
        try bytes.contains(Array("      \"path\" : ".utf8) + Self.string(path) + Array(",\n".utf8))
    }

    func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws { try bytes.forEachChunk(body) }

    func discard() { bytes.discard() }

    /// A JSON string as the encoder writes it: printable ASCII (but `"` and `\`) and all non-ASCII as is; anything
    /// else is left to the encoder itself, so escapes are its own.
    static func string(_ text: String) throws -> [UInt8] {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) {
            return [0x22] + Array(text.utf8) + [0x22]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(text))
    }

    /// The encoder's manifest without entries, split where the entries go: after `"entries" : [` and its newline.
    static func split(_ skeleton: Data) throws -> (head: Data, tail: Data) {
        let marker = Data("\"entries\" : [\n\n  ]".utf8)
        guard let range = skeleton.range(of: marker) else {
            throw ArchiveError.misuse("the manifest encoder wrote no empty entries array to fill")
        }
        let cut = range.lowerBound + marker.count - 4
        return (skeleton[skeleton.startIndex..<cut], skeleton[cut...])
    }
}

/// What a sealed archive's manifest holds, without its entry list.
public struct ManifestTotals: Sendable, Equatable {
    /// Entity count per kind, summed over all JSON Lines entries.
    public var counts: [String: Int]
    /// Entries listed (`kitbag.json` included, `manifest.json` not).
    public var entryCount: Int
    public var notExported: [NotExported]
}

/// JSON values set aside for later, in order: in memory up to a few MiB, then in an unlinked temp file. The export
/// walk keeps each container's listing here instead of in memory for the whole run.
public final class ScratchJSONLines {
    private let bytes: ByteSpool
    private var line: [UInt8] = []
    public private(set) var count = 0

    public init(directory: URL = FileManager.default.temporaryDirectory) {
        bytes = ByteSpool(directory: directory)
    }

    public func append(_ value: JSONValue) throws {
        line.removeAll(keepingCapacity: true)
        value.write(into: &line)
        try append(json: line)
    }

    /// Appends one value already written as compact JSON text (no newline in it).
    public func append(json text: [UInt8]) throws {
        try bytes.append(text)
        try bytes.append([0x0A])
        count += 1
    }

    /// The values appended so far, read back in order (`next()` parses a line, `nextLine()` gives its text).
    public func lines() throws -> JSONLinesSequence { try bytes.lines(entry: "scratch") }
}
