import Foundation
import KitbagArchive
import KitbagCore
import KitbagRender

/// What an incremental export may reuse: the previous archive of the same account and the change marker each
/// of its containers had then.
public struct ChangeBase: Sendable {
    public let previous: SnapshotReader
    /// Container key (`ContainerRef.archiveFolder`) → the service's change marker when `previous` was written.
    public let markers: [String: String]

    public init(previous: SnapshotReader, markers: [String: String]) {
        self.previous = previous
        self.markers = markers
    }

    /// True when `container` is in the previous archive and its marker is unchanged.
    public func canReuse(_ container: ContainerRef, marker: String?) -> Bool {
        guard let marker, !marker.isEmpty, markers[container.archiveFolder] == marker else { return false }
        return !previous.jsonLinesEntries(in: container).isEmpty
    }
}

/// The change markers an export saw, and which containers it copied rather than fetched.
public struct ExportChanges: Sendable, Codable, Equatable {
    /// Container key → change marker, for the next incremental run.
    public var markers: [String: String] = [:]
    public var reused: [String] = []
    public var fetched: [String] = []

    public init() {}
}

/// A connector that can copy unchanged containers from the previous archive instead of fetching them, judged by
/// the service's own change markers (Kinopio space `updatedAt`, Kintone `Updated_datetime`, Kitemaker/Kona
/// `updatedAt`). The archive it writes is complete and equal to a full export of the same content.
public protocol IncrementalConnector: Connector {
    /// Like `export`; `base` nil means fetch everything (markers are still reported).
    func export(
        account: AccountProbe, selection: ExportSelection, renderings: Set<ReadableFormat>, into writer: SnapshotWriter,
        progress: ProgressReporter, base: ChangeBase?
    ) async throws -> (notExported: [NotExported], changes: ExportChanges)
}

extension IncrementalConnector {
    /// A plain export is an incremental one without a base.
    public func export(
        account: AccountProbe, selection: ExportSelection, renderings: Set<ReadableFormat>, into writer: SnapshotWriter,
        progress: ProgressReporter
    ) async throws -> [NotExported] {
        try await export(
            account: account, selection: selection, renderings: renderings, into: writer, progress: progress, base: nil
        ).notExported
    }
}

extension SnapshotWriter {
    /// Copies every JSON Lines file of `container` from `previous` verbatim (same values, same order, same kinds),
    /// with the attachments they reference. Returns the values per file name for renderings.
    public func copyContainer(_ container: ContainerRef, from previous: SnapshotReader) throws -> [String: [JSONValue]] {
        var out: [String: [JSONValue]] = [:]
        let prefix = container.archiveFolder + "/"
        for entry in previous.jsonLinesEntries(in: container) {
            guard entry.path.hasPrefix(prefix), entry.path.hasSuffix(".jsonl") else { continue }
            let file = String(entry.path.dropFirst(prefix.count).dropLast(".jsonl".count))
            guard !file.contains("/") else { continue }
            let values = try previous.values(at: entry.path)
            try writeJSONLines(container: container, file: file, kind: entry.kind ?? file, values: values)
            out[file] = values
        }
        return out
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
