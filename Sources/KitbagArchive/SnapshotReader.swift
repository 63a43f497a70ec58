import Foundation
import KitbagCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A verified archive, extracted to a private temp folder, for import. Reads are safe from any task;
/// `close()` must come after the last read.
public final class SnapshotReader: @unchecked Sendable {
    public let info: ArchiveInfo
    public let manifest: Manifest
    /// The archive this reader was opened from.
    public let archiveURL: URL
    private let lock = NSLock()
    private var _root: URL?
    private var root: URL? {
        get { lock.withLock { _root } }
        set { lock.withLock { _root = newValue } }
    }

    /// Every entry path, and the JSON Lines entries of each folder in archive order: looked up per container, so an
    /// incremental backup of thousands of containers does not scan the whole manifest for each.
    private let paths: Set<String>
    private let jsonLinesByFolder: [String: [Manifest.Entry]]

    private init(info: ArchiveInfo, manifest: Manifest, archiveURL: URL, root: URL) {
        self.info = info
        self.manifest = manifest
        self.archiveURL = archiveURL
        self._root = root
        paths = Set(manifest.entries.map(\.path))
        var byFolder: [String: [Manifest.Entry]] = [:]
        for entry in manifest.entries where entry.kind != nil {
            guard let slash = entry.path.lastIndex(of: "/") else { continue }
            byFolder[String(entry.path[..<slash]), default: []].append(entry)
        }
        jsonLinesByFolder = byFolder
    }

    /// Verifies the archive fully and extracts it safely in the same pass; throws `ArchiveError.notWhole`
    /// (exit status incomplete or failure) naming every problem unless the archive is whole.
    public static func open(_ url: URL, limits: ArchiveLimits = .default, workDirectory: URL? = nil) throws -> SnapshotReader {
        let parent = workDirectory ?? FileManager.default.temporaryDirectory
        let root = parent.appendingPathComponent("kitbag-read-\(UUID().uuidString.prefix(12))")
        guard mkdir(root.path, 0o700) == 0 else {
            throw ArchiveError.io(path: root.path, message: "cannot create a private temp folder: \(LibArchive.errnoMessage())")
        }
        let scan = ArchiveScan.run(url, limits: limits, extractTo: root)
        guard scan.report.status == .whole, let info = scan.info, let manifest = scan.manifest else {
            try? FileManager.default.removeItem(at: root)
            throw ArchiveError.notWhole(scan.report)
        }
        return SnapshotReader(info: info, manifest: manifest, archiveURL: url, root: root)
    }

    deinit { close() }

    /// The JSON Lines entries in archive order (the manifest lists them in commit order).
    public func jsonLinesEntries() -> [Manifest.Entry] {
        manifest.entries.filter { $0.kind != nil }
    }

    /// The JSON Lines entries of one container, in archive order.
    public func jsonLinesEntries(in container: ContainerRef) -> [Manifest.Entry] {
        jsonLinesByFolder[container.archiveFolder] ?? []
    }

    /// Whether the archive holds a JSON Lines entry at `path` (a set lookup, not a scan of the manifest).
    public func hasJSONLines(at path: String) -> Bool {
        guard let slash = path.lastIndex(of: "/") else { return false }
        return jsonLinesByFolder[String(path[..<slash])]?.contains { $0.path == path } ?? false
    }

    /// Streams the entities of a JSON Lines entry, one per line; a malformed line throws naming the entry and line.
    public func lines(at path: String) throws -> JSONLinesSequence {
        try JSONLinesSequence(url: try fileURL(path), entry: path)
    }

    /// Reads all entities of a JSON Lines entry into memory (small entries only).
    public func values(at path: String) throws -> [JSONValue] {
        var out: [JSONValue] = []
        let sequence = try lines(at: path)
        while let value = try sequence.next() { out.append(value) }
        return out
    }

    /// The extracted file of an attachment, or nil if the archive does not hold it.
    public func attachmentURL(sha256: String) -> URL? {
        let hex = sha256.lowercased()
        guard hex.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return try? fileURL(ArchivePath.attachment(sha256: hex))
    }

    /// The extracted file of any entry listed in the manifest (renderings etc.).
    public func fileURL(_ path: String) throws -> URL {
        guard let root else { throw ArchiveError.misuse("snapshot reader for \(archiveURL.path) is closed") }
        guard path == ArchivePath.info || paths.contains(path) else {
            throw ArchiveError.entryNotFound(entry: path, archive: archiveURL.path)
        }
        return root.appendingPathComponent(path)
    }

    /// Removes the temp folder; the reader cannot be used afterwards.
    public func close() {
        if let root {
            try? FileManager.default.removeItem(at: root)
            self.root = nil
        }
    }
}

/// The entities of one JSON Lines entry, read line by line from disk (memory stays flat).
/// Use `next()`/`for try await` to get errors as throws; plain `for … in` is also offered because
/// `SnapshotReader.open` has already parsed every line: only a disk read error can then stop it (and traps).
public final class JSONLinesSequence: AsyncSequence, AsyncIteratorProtocol, Sequence {
    public typealias Element = JSONValue
    public typealias Failure = any Error

    /// The archive path, used in error messages.
    public let entry: String
    /// Number of the line returned last (1-based).
    public private(set) var lineNumber = 0
    private var fd: Int32
    /// Where the next read starts (positioned reads: a spool file's own offset stays where its writer left it).
    private var offset: off_t = 0
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    package init(url: URL, entry: String) throws {
        self.entry = entry
        fd = Glibc.open(url.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw ArchiveError.io(path: url.path, message: "cannot open entry '\(entry)': \(LibArchive.errnoMessage())") }
    }

    /// Lines of bytes already in memory.
    init(bytes: [UInt8], entry: String) {
        self.entry = entry
        fd = -1
        buffer = bytes
        atEnd = true
    }

    /// Lines of an open file from its start; the sequence closes the descriptor.
    init(descriptor: Int32, entry: String) {
        self.entry = entry
        fd = descriptor
    }

    deinit {
        if fd >= 0 { posixClose(fd) }
    }

    /// The next entity, or nil after the last line.
    public func next() throws -> JSONValue? {
        guard let line = try nextSlice() else { return nil }
        return try parse(line)
    }

    /// The next line's bytes as they are, without parsing them; nil after the last line.
    public func nextLine() throws -> [UInt8]? {
        try nextSlice().map(Array.init)
    }

    private func nextSlice() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = buffer[start..<newline]
                start = newline + 1
                lineNumber += 1
                return line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                start = buffer.count
                lineNumber += 1
                return line
            }
            try fill()
        }
    }

    /// Async form of `next()`, for `for try await value in sequence`.
    public func next(isolation actor: isolated (any Actor)?) async throws -> JSONValue? {
        try next()
    }

    public func makeAsyncIterator() -> JSONLinesSequence { self }

    /// Iterates without `try`; see the type's note on errors.
    public struct Iterator: IteratorProtocol {
        let lines: JSONLinesSequence
        public mutating func next() -> JSONValue? {
            do {
                return try lines.next()
            } catch {
                preconditionFailure("reading a verified archive failed: \(error)")
            }
        }
    }

    public func makeIterator() -> Iterator { Iterator(lines: self) }

    private func parse(_ line: ArraySlice<UInt8>) throws -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line)
        } catch {
            throw ArchiveError.malformedLine(entry: entry, line: lineNumber, reason: "\(error)")
        }
        if let offset = line.withUnsafeBytes({ ArchiveScan.JSONLineCheck.invalidUTF8Offset($0) }) {
            throw ArchiveError.malformedLine(entry: entry, line: lineNumber, reason: "invalid UTF-8 at byte \(offset)")
        }
        return value
    }

    private static let chunkSize = 256 << 10
    /// Read buffer, allocated once per sequence.
    private lazy var scratch = [UInt8](repeating: 0, count: JSONLinesSequence.chunkSize)

    private func fill() throws {
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        var n: Int
        let at = offset
        repeat {
            n = scratch.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, Self.chunkSize, at) }
        } while n < 0 && errno == EINTR
        if n < 0 {
            throw ArchiveError.io(path: entry, message: "cannot read: \(LibArchive.errnoMessage())")
        }
        buffer.append(contentsOf: scratch[0..<n])
        offset += off_t(n)
        if n == 0 { atEnd = true }
    }
}

/// What an archive holds, read without checking digests.
public struct ArchiveSummary: Codable, Sendable, Equatable {
    public var archive: String
    public var format: ArchiveFormat?
    public var info: ArchiveInfo?
    public var manifestPresent: Bool
    /// Entity counts per kind from the manifest (empty without one).
    public var counts: [String: Int]
    public var notExported: [NotExported]
    public var finishedAt: String?
    public var entryCount: Int
    /// Size of the archive file (sum of file sizes for a folder).
    public var archiveSize: Int64
}

/// Quick look at an archive: its records and entry count, without verifying digests.
public enum ArchiveInspector {
    /// Reads `kitbag.json` and `manifest.json` and counts entries; throws if the archive cannot be read at all.
    public static func summary(of url: URL, limits: ArchiveLimits = .default) throws -> ArchiveSummary {
        let format = ArchiveFormat.detect(at: url)
        let reader = try ArchiveReader(url: url, limits: limits)
        defer { reader.close() }
        var summary = ArchiveSummary(
            archive: url.path, format: format, info: nil, manifestPresent: false, counts: [:], notExported: [],
            finishedAt: nil, entryCount: 0, archiveSize: 0)
        var lastWasManifest = false
        var folderBytes: Int64 = 0
        while let header = try reader.next() {
            guard header.type == .file else { continue }
            summary.entryCount += 1
            folderBytes += max(header.size, 0)
            lastWasManifest = false
            if header.path == ArchivePath.info, summary.entryCount == 1 {
                summary.info = try? JSONDecoder().decode(ArchiveInfo.self, from: reader.readAll(limit: 16 << 20))
            } else if header.path == ArchivePath.manifest {
                if let manifest = try? JSONDecoder().decode(Manifest.self, from: reader.readAll(limit: ArchiveScan.recordLimit)) {
                    lastWasManifest = true
                    summary.counts = manifest.counts
                    summary.notExported = manifest.notExported
                    summary.finishedAt = manifest.finishedAt
                }
            }
        }
        summary.manifestPresent = lastWasManifest
        if format == .folder {
            summary.archiveSize = folderBytes
        } else {
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value
            summary.archiveSize = size ?? 0
        }
        return summary
    }
}
