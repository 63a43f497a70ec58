import Crypto
import Foundation
import KitbagCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes one kitbag v1 archive, streaming: `kitbag.json` first, entries in commit order, `manifest.json` last.
/// Not thread-safe: use from one task.
public final class SnapshotWriter {
    private enum State { case open, sealed, abandoned, failed }

    /// The container kind actually written (stdout is always tar-based).
    public let format: ArchiveFormat
    public let info: ArchiveInfo
    private let destination: ArchiveDestination
    /// Where spools larger than a few MiB spill (beside the output unless told otherwise).
    public let spoolDirectory: URL
    private let mtime: time_t
    private let displayName: String
    private var sink: EntrySink
    private var output: FileDescriptorOutput?
    /// Temp file or folder that becomes the destination on seal.
    private var stagingURL: URL?
    private var state = State.open
    /// The manifest's entry list as it will be written, spooled (to disk past a few MiB) so that memory does not grow
    /// with the number of entries; `counts` and `pathHashes` are all that is kept in memory per entry.
    private var entryLog: ManifestEntryLog
    private var counts: [String: Int] = [:]
    private var pathHashes: Set<Int> = []
    private var storedAttachments: [String: StoredAttachment] = [:]

    /// Bytes written to the destination so far (compressed bytes for compressed kinds).
    public var bytesWritten: Int64 { sink.bytesWritten }

    /// Starts the archive and writes `kitbag.json` as its first entry.
    /// - Parameter spoolDirectory: where spools larger than a few MiB spill; default next to the output
    ///   (the system temp folder for stdout).
    public init(
        destination: ArchiveDestination, format: ArchiveFormat, info: ArchiveInfo, snapshotTime: Date,
        spoolDirectory: URL? = nil
    ) throws {
        _ = LibArchive.ready
        entryLog = ManifestEntryLog(directory: spoolDirectory ?? FileManager.default.temporaryDirectory)
        self.destination = destination
        self.info = info
        self.mtime = time_t(snapshotTime.timeIntervalSince1970.rounded(.down))
        let stamp = mtime
        switch destination {
        case .standardOutput:
            let kind: ArchiveFormat = (format == .zip || format == .folder) ? .tar : format
            self.format = kind
            displayName = "<stdout>"
            self.spoolDirectory = spoolDirectory ?? FileManager.default.temporaryDirectory
            let out = FileDescriptorOutput(fd: STDOUT_FILENO, closeOnFinish: false)
            output = out
            sink = try LibArchiveSink(format: kind, output: out, mtime: stamp, name: "<stdout>")
        case .file(let url):
            let kind: ArchiveFormat = format == .folder ? (ArchiveFormat.infer(from: url.path) ?? .tar) : format
            self.format = kind
            displayName = url.path
            let parent = url.deletingLastPathComponent()
            self.spoolDirectory = spoolDirectory ?? parent
            StagingFiles.removeAbandoned(in: parent)
            let staging = StagingFiles.name(for: url)
            // Listed as live before it exists: an interrupt at any moment removes it.
            StagingFiles.register(staging.path, descriptor: -1)
            let fd = open(staging.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd < 0 {
                StagingFiles.unregister(staging.path)
                throw ArchiveError.io(
                    path: url.path, message: "cannot create the archive: \(LibArchive.errnoMessage()); check the folder exists and is writable")
            }
            stagingURL = staging
            StagingFiles.register(staging.path, descriptor: fd)
            let out = FileDescriptorOutput(fd: fd, closeOnFinish: true)
            output = out
            do {
                sink = try LibArchiveSink(format: kind, output: out, mtime: stamp, name: url.path)
            } catch {
                StagingFiles.unregister(staging.path)
                close(fd)
                unlink(staging.path)
                throw error
            }
        case .folder(let url):
            self.format = .folder
            let target = url.standardizedFileURL
            displayName = target.path
            let parent = target.deletingLastPathComponent()
            self.spoolDirectory = spoolDirectory ?? parent
            StagingFiles.removeAbandoned(in: parent)
            let staging = StagingFiles.name(for: target)
            StagingFiles.register(staging.path, descriptor: -1)
            do {
                sink = try FolderSink(root: staging, mtime: stamp)
            } catch {
                StagingFiles.unregister(staging.path)
                throw error
            }
            stagingURL = staging
            StagingFiles.register(staging.path)
        }
        entryLog = ManifestEntryLog(directory: self.spoolDirectory)
        do {
            try writeEntry(path: ArchivePath.info, data: try Self.recordBytes(info))
        } catch {
            abandon()
            throw error
        }
    }

    deinit {
        if state == .open || state == .failed { abandon() }
    }

    /// Pretty-printed JSON with sorted keys and a final newline: the form of `kitbag.json` and `manifest.json`.
    static func recordBytes(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(0x0A)
        return data
    }

    private func checkOpen() throws {
        switch state {
        case .open: return
        case .sealed: throw ArchiveError.misuse("archive \(displayName) is already sealed; nothing more can be added")
        case .abandoned: throw ArchiveError.misuse("archive \(displayName) was abandoned; nothing more can be added")
        case .failed: throw ArchiveError.misuse("archive \(displayName) failed earlier and cannot be continued; start a new export")
        }
    }

    private func claim(_ path: String) throws {
        if let reason = EntryPath.problem(path) { throw ArchiveError.unsafePath(entry: path, reason: reason) }
        if path == ArchivePath.manifest || (path == ArchivePath.info && entryLog.count > 0) {
            throw ArchiveError.unsafePath(entry: path, reason: "the name is reserved for kitbag's own records")
        }
        // A hash seen before is only a hint: the spooled entry list says whether the path itself was written.
        if pathHashes.contains(path.hashValue), try entryLog.contains(path: path) { throw ArchiveError.duplicatePath(entry: path) }
    }

    /// Streams one entry into the sink, hashing as it goes, and records it for the manifest.
    private func writeEntry(
        path: String, size: Int64, kind: String? = nil, count: Int? = nil,
        chunks: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        try checkOpen()
        try claim(path)
        var hasher = SHA256()
        var written: Int64 = 0
        do {
            try sink.beginEntry(path: path, size: size)
            try chunks { buffer in
                hasher.update(bufferPointer: buffer)
                written += Int64(buffer.count)
                try sink.write(buffer)
            }
            guard written == size else {
                throw ArchiveError.library(archive: displayName, entry: path, message: "spool yielded \(written) bytes, expected \(size)")
            }
            try sink.finishEntry()
        } catch {
            state = .failed
            throw error
        }
        pathHashes.insert(path.hashValue)
        if let kind { counts[kind, default: 0] += count ?? 0 }
        do {
            try entryLog.append(Manifest.Entry(path: path, size: size, sha256: hasher.finalize().hexString, kind: kind, count: count))
        } catch {
            state = .failed
            throw error
        }
    }

    private func writeEntry(path: String, data: Data) throws {
        try writeEntry(path: path, size: Int64(data.count)) { body in
            try data.withUnsafeBytes { try body($0) }
        }
    }

    /// Opens a spool for one JSON Lines entry at `data/<kind>/<id>/<file>.jsonl`; nothing is written until `commit`.
    public func jsonLines(container: ContainerRef, file: String, kind: String) throws -> JSONLinesSpool {
        try checkOpen()
        let path = ArchivePath.jsonLines(container: container, file: file)
        try claim(path)
        return JSONLinesSpool(path: path, kind: kind, directory: spoolDirectory, owner: self)
    }

    /// Writes a JSON Lines spool as the next entry. With `retaining`, the spool keeps its bytes afterwards so that
    /// `JSONLinesSpool.lines()` can read the entry back (the export walk renders from them); else they are freed.
    public func commit(_ spool: JSONLinesSpool, retaining: Bool = false) throws {
        guard spool.owner === self, !spool.committed else {
            throw ArchiveError.misuse("JSON Lines spool \(spool.path) belongs to another writer or was already committed")
        }
        spool.committed = true
        defer { if !retaining { spool.bytes.discard() } }
        try writeEntry(path: spool.path, size: spool.bytes.size, kind: spool.kind, count: spool.count) { body in
            try spool.bytes.forEachChunk(body)
        }
        spool.retained = retaining
    }

    /// Writes a whole JSON Lines entry from values already in memory; returns the committed spool (see `commit`).
    @discardableResult
    public func writeJSONLines(
        container: ContainerRef, file: String, kind: String, values: [JSONValue], retaining: Bool = false
    ) throws -> JSONLinesSpool {
        let spool = try jsonLines(container: container, file: file, kind: kind)
        for value in values { try spool.append(value) }
        try commit(spool, retaining: retaining)
        return spool
    }

    /// Opens a spool for one attachment's bytes; `commit` stores it content-addressed.
    public func attachmentSpool() throws -> AttachmentSpool {
        try checkOpen()
        return AttachmentSpool(directory: spoolDirectory, owner: self)
    }

    /// Stores the attachment at `attachments/sha256/<2 hex>/<64 hex>`, once per distinct content.
    @discardableResult
    public func commit(_ attachment: AttachmentSpool) throws -> StoredAttachment {
        guard attachment.owner === self, !attachment.committed else {
            throw ArchiveError.misuse("attachment spool belongs to another writer or was already committed")
        }
        attachment.committed = true
        defer { attachment.bytes.discard() }
        let digest = attachment.finalizeDigest()
        if let stored = storedAttachments[digest] {
            try checkOpen()
            return stored
        }
        let stored = StoredAttachment(sha256: digest, path: ArchivePath.attachment(sha256: digest), size: attachment.bytes.size)
        try writeEntry(path: stored.path, size: stored.size) { body in
            try attachment.bytes.forEachChunk(body)
        }
        storedAttachments[digest] = stored
        return stored
    }

    /// Stores attachment bytes already in memory (see `commit(_:)` for attachments).
    @discardableResult
    public func addAttachment(_ data: Data) throws -> StoredAttachment {
        let spool = try attachmentSpool()
        try spool.write(data)
        return try commit(spool)
    }

    /// Adds any other file (renderings etc.) at a relative path.
    public func addFile(path: String, data: Data) throws {
        try writeEntry(path: path, data: data)
    }

    /// Copies one entry of another archive byte for byte from its extracted file, streaming in 1 MiB chunks, with the
    /// manifest's kind and count (`kitbag render` rewrites a folder archive this way).
    public func copyEntry(_ entry: Manifest.Entry, from file: URL) throws {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        try writeEntry(path: entry.path, size: entry.size, kind: entry.kind, count: entry.count) { body in
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                try chunk.withUnsafeBytes { try body($0) }
            }
        }
    }

    /// Writes `manifest.json` as the last entry, closes the archive and publishes it at the destination; returns the
    /// manifest with its whole entry list (read back from the spool: for archives of modest size).
    @discardableResult
    public func seal(notExported: [NotExported], finishedAt: Date) throws -> Manifest {
        var manifest = Manifest(service: info.service, entries: [], counts: [:], notExported: [], finishedAt: finishedAt)
        _ = try sealStreamed(notExported: notExported, finishedAt: finishedAt) { data in
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        }
        return manifest
    }

    /// Like `seal`, but returns only the totals: the manifest streams from the spooled entry list into the archive,
    /// so memory stays flat however many entries it lists.
    @discardableResult
    public func sealStreamed(notExported: [NotExported], finishedAt: Date) throws -> ManifestTotals {
        try sealStreamed(notExported: notExported, finishedAt: finishedAt, readBack: nil)
    }

    private func sealStreamed(notExported: [NotExported], finishedAt: Date, readBack: ((Data) throws -> Void)?) throws
        -> ManifestTotals
    {
        try checkOpen()
        let totals = ManifestTotals(counts: counts, entryCount: entryLog.count, notExported: notExported)
        do {
            // The manifest without entries, from the same encoder as always; the spooled list goes where its
            // empty `entries` array is, so the bytes are those of the whole manifest encoded at once.
            let skeleton = try Self.recordBytes(
                Manifest(service: info.service, entries: [], counts: counts, notExported: notExported, finishedAt: finishedAt))
            let (head, tail) = try ManifestEntryLog.split(skeleton)
            let size = Int64(head.count) + entryLog.size + Int64(tail.count)
            try checkOpen()
            try sink.beginEntry(path: ArchivePath.manifest, size: size)
            var whole: Data? = readBack == nil ? nil : Data()
            func emit(_ buffer: UnsafeRawBufferPointer) throws {
                try sink.write(buffer)
                whole?.append(contentsOf: buffer)
            }
            try head.withUnsafeBytes { try emit($0) }
            try entryLog.forEachChunk(emit)
            try tail.withUnsafeBytes { try emit($0) }
            try sink.finishEntry()
            try sink.finish()
            try publish()
            entryLog.discard()
            state = .sealed
            if let whole, let readBack { try readBack(whole) }
        } catch {
            if state != .sealed {
                state = .failed
                abandon()
            }
            throw error
        }
        return totals
    }

    private func publish() throws {
        if let output, output.closeOnFinish {
            if fsync(output.fd) != 0 || close(output.fd) != 0 {
                self.output = nil
                throw ArchiveError.io(path: displayName, message: "cannot finish writing: \(LibArchive.errnoMessage())")
            }
            self.output = nil
        }
        guard let staging = stagingURL else { return }
        switch destination {
        case .file(let url):
            if rename(staging.path, url.path) != 0 {
                throw ArchiveError.io(path: url.path, message: "cannot move the finished archive into place: \(LibArchive.errnoMessage())")
            }
        case .folder(let url):
            let target = url.standardizedFileURL
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: target.path, isDirectory: &isDir) {
                // Move the old tree aside, put the new one in place, then delete the old one.
                let old = target.deletingLastPathComponent()
                    .appendingPathComponent(".\(target.lastPathComponent).kitbag-\(UUID().uuidString.prefix(8)).old")
                if rename(target.path, old.path) != 0 {
                    throw ArchiveError.io(path: target.path, message: "cannot replace the existing folder: \(LibArchive.errnoMessage())")
                }
                if rename(staging.path, target.path) != 0 {
                    let message = LibArchive.errnoMessage()
                    _ = rename(old.path, target.path)
                    throw ArchiveError.io(path: target.path, message: "cannot move the finished folder into place: \(message)")
                }
                try? FileManager.default.removeItem(at: old)
            } else if rename(staging.path, target.path) != 0 {
                throw ArchiveError.io(path: target.path, message: "cannot move the finished folder into place: \(LibArchive.errnoMessage())")
            }
        case .standardOutput:
            break
        }
        StagingFiles.unregister(staging.path)
        stagingURL = nil
    }

    /// Closes without a manifest and removes the partial output (a stream to stdout simply ends without one).
    public func abandon() {
        if state == .sealed || state == .abandoned { return }
        state = .abandoned
        if case .standardOutput = destination {
            try? sink.finish()
        } else {
            sink.release()
        }
        if let output, output.closeOnFinish { close(output.fd) }
        output = nil
        if let staging = stagingURL {
            StagingFiles.unregister(staging.path)
            try? FileManager.default.removeItem(at: staging)
            stagingURL = nil
        }
    }

    /// Number of entries written so far (`kitbag.json` included).
    public var entryCount: Int { entryLog.count }
}

