import Foundation
import KitbagArchive
import KitbagCore

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
/// the service's own change markers (Kinopio space `updatedAt`, Kintone `Updated_datetime`, Kona `updatedAt`
/// counts). Its export source gets the previous archive from the walk; the archive it writes is complete and equal
/// to a full export of the same content.
public protocol IncrementalConnector: Connector {}
