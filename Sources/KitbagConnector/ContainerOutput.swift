import Foundation
import KitbagArchive
import KitbagCore

/// Where a connector writes one container during the export walk (or the account-level files). Every write of a
/// connector goes through one, so the walk knows what each container holds: it reads the files back for the
/// renderings and counts their entities for the index, and nothing of a container is kept once its turn is over.
public final class ContainerOutput {
    /// The container this output writes (`.account` for account-level files).
    public let container: ContainerRef
    let writer: SnapshotWriter
    /// Keep the bytes of the container's own JSON Lines files after they are written, to read them back.
    let retaining: Bool
    private var written: [ContainerFile] = []
    private var retained: [String: JSONLinesSpool] = [:]
    /// File name of every spool opened for this container's own folder.
    private var ownSpools: [ObjectIdentifier: String] = [:]

    init(_ container: ContainerRef, writer: SnapshotWriter, retaining: Bool) {
        self.container = container
        self.writer = writer
        self.retaining = retaining
    }

    /// `kitbag.json` of the archive being written (its `startedAt` is the export's time).
    public var info: ArchiveInfo { writer.info }

    /// When the export started, in whole seconds since 1970 (the time incremental markers are taken at).
    public var startedAtSeconds: Int64 {
        Int64((Timestamp.parse(writer.info.startedAt) ?? Date()).timeIntervalSince1970.rounded(.down))
    }

    /// Bytes written to the archive so far, by everyone.
    public var bytesWritten: Int64 { writer.bytesWritten }

    /// The container's own JSON Lines files written so far, in order.
    public var filesWritten: [ContainerFile] { written }

    // MARK: - JSON Lines

    /// Writes one whole JSON Lines file of this container, or of `other` (Kintone writes its spaces at the end).
    public func write(_ file: String, kind: String, values: [JSONValue], in other: ContainerRef? = nil) throws {
        let spool = try lines(file, kind: kind, in: other)
        for value in values { try spool.append(value) }
        try commit(spool)
    }

    /// Opens a JSON Lines file of this container (or of `other`) to fill line by line; `commit` writes it.
    public func lines(_ file: String, kind: String, in other: ContainerRef? = nil) throws -> JSONLinesSpool {
        let target = other ?? container
        let spool = try writer.jsonLines(container: target, file: file, kind: kind)
        if target == container { ownSpools[ObjectIdentifier(spool)] = file }
        return spool
    }

    /// Writes a spool from `lines` as the next entry of the archive.
    public func commit(_ spool: JSONLinesSpool) throws {
        guard let file = ownSpools.removeValue(forKey: ObjectIdentifier(spool)) else {
            try writer.commit(spool)
            return
        }
        try writer.commit(spool, retaining: retaining)
        written.append(ContainerFile(name: file, kind: spool.kind, count: spool.count))
        if retaining { retained[file] = spool }
    }

    /// Copies every JSON Lines file of this container from `previous` verbatim (same values, order and kinds).
    public func copyFiles(from previous: SnapshotReader) throws {
        let old = ArchivedContainer(previous, container)
        for file in old.files {
            let spool = try lines(file.name, kind: file.kind)
            if let lines = try old.lines(file.name) {
                while let value = try lines.next() { try spool.append(value) }
            }
            try commit(spool)
        }
    }

    // MARK: - Attachments

    /// Opens a spool for one attachment's bytes; `commit` stores it content-addressed.
    public func attachmentSpool() throws -> AttachmentSpool { try writer.attachmentSpool() }

    /// Stores an attachment once per distinct content (`attachments/sha256/…`).
    @discardableResult
    public func commit(_ attachment: AttachmentSpool) throws -> StoredAttachment { try writer.commit(attachment) }

    /// Copies one attachment from `previous`, streaming it in 1 MiB chunks.
    @discardableResult
    public func copyAttachment(sha256: String, from previous: SnapshotReader) throws -> StoredAttachment {
        try writer.copyAttachment(sha256: sha256, from: previous)
    }

    // MARK: - For the walk

    /// Entity count per kind of this container's own files, as the HTML index shows them.
    var counts: [String: Int] {
        var out: [String: Int] = [:]
        for file in written { out[file.kind, default: 0] += file.count }
        return out
    }

    /// The container's files as written, readable while they are retained.
    var files: some ContainerFiles { WrittenContainer(container: container, files: written, spools: retained) }

    /// Frees the retained bytes; the output is done.
    func release() {
        for spool in retained.values { spool.release() }
        retained = [:]
    }
}

/// The files a `ContainerOutput` retained.
struct WrittenContainer: ContainerFiles {
    let container: ContainerRef
    let files: [ContainerFile]
    let spools: [String: JSONLinesSpool]

    func lines(_ file: String) throws -> JSONLinesSequence? {
        try spools[file]?.lines()
    }
}

extension SnapshotWriter {
    /// Copies one content-addressed attachment from `previous`, streaming it in 1 MiB chunks.
    @discardableResult
    public func copyAttachment(sha256: String, from previous: SnapshotReader) throws -> StoredAttachment {
        guard let url = previous.attachmentURL(sha256: sha256) else {
            throw UserError("the previous archive \(previous.archiveURL.lastPathComponent) lacks attachment \(sha256)")
        }
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let spool = try attachmentSpool()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            try spool.write(chunk)
        }
        return try commit(spool)
    }
}
