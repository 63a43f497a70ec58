import Foundation
import KitbagArchive
import KitbagCore

/// One container as a connector lists it before the walk: where it goes in the archive, its readable kind and
/// title (pages link to it by them), its change marker when the listing carries one (Kinopio's `updatedAt`), and
/// what the listing said about it, which the connector gets back when the walk reaches the container. The entry is
/// kept as compact JSON text, not as a tree, so that thousands of listed containers cost little until the walk
/// spools them.
public struct ListedContainer: Sendable {
    public var ref: ContainerRef
    /// Singular kind in the readable model (`space`, `app`).
    public var kind: String
    public var title: String
    /// The service's change marker from the listing; nil when only fetching tells (Kona, Kintone).
    public var marker: String?
    /// The listing's entry as compact JSON (`JSONValue.serialized()`); empty for none.
    public var listingJSON: [UInt8]

    public init(ref: ContainerRef, kind: String, title: String, marker: String? = nil, listing: JSONValue = .null) {
        self.init(ref: ref, kind: kind, title: title, marker: marker, listingJSON: listing.isNull ? [] : listing.serialized())
    }

    public init(ref: ContainerRef, kind: String, title: String, marker: String? = nil, listingJSON: [UInt8]) {
        self.ref = ref
        self.kind = kind
        self.title = title
        self.marker = marker
        self.listingJSON = listingJSON
    }

    /// The listing's entry (`.null` for none).
    public var listing: JSONValue {
        listingJSON.isEmpty ? .null : (try? JSONValue(parsing: listingJSON)) ?? .null
    }

    /// The container's id (every listed container has one).
    public var id: String { ref.id ?? "" }
}

/// What fetching one container found out: the marker to compare next time (nil: keep the listing's, or none), and
/// whether the connector copied the container from the previous archive after all (a change check said so).
public struct FetchedContainer: Sendable, Equatable {
    public var marker: String?
    public var reused: Bool

    public init(marker: String? = nil, reused: Bool = false) {
        self.marker = marker
        self.reused = reused
    }
}

/// A container's copy in the previous archive of an incremental backup, with the marker it had then.
public struct PreviousContainer {
    public let base: ChangeBase
    public let container: ContainerRef

    public init(base: ChangeBase, container: ContainerRef) {
        self.base = base
        self.container = container
    }

    public var reader: SnapshotReader { base.previous }
    /// The change marker recorded when the previous archive was written.
    public var marker: String? { base.markers[container.archiveFolder] }
    /// The container's files in the previous archive (none when it was not there).
    public var files: ArchivedContainer { ArchivedContainer(base.previous, container) }
}

/// How one run reads a container's files into the readable model (nil: the container is not rendered, e.g. a
/// Kinopio space whose contents the API did not return).
public struct ContainerReading {
    public var read: (any ContainerFiles) throws -> ReadableContainer?

    public init(read: @escaping (any ContainerFiles) throws -> ReadableContainer?) {
        self.read = read
    }
}

/// What a connector supplies to the shared export walk (`ExportWalk`) for one run: the account-level entities, its
/// containers in archive order, how to fetch and write one, and how to read one into the readable model. The walk
/// does the rest — copy-or-fetch for incremental backups, progress, renderings, the indexes — and asks for the
/// not-exported list at the end. One instance serves one run, from one task.
public protocol ExportSource: AnyObject {
    /// Progress stage of the container walk (`spaces`), counted one per container; nil when the connector reports
    /// its own stages while fetching (Kintone: records per app).
    var containerStage: String? { get }
    /// Containers the walk hands to `prefetch` together (Kinopio reads 60 spaces in one request); 1 by default.
    var batchSize: Int { get }

    /// Writes the account-level entities that come before the containers and lists the containers, in the order
    /// their files go into the archive.
    func begin(into account: ContainerOutput) async throws -> [ListedContainer]

    /// Reads at once what a batch of containers to be fetched needs (Kinopio's `GET /space/multiple`).
    func prefetch(_ batch: [ListedContainer]) async throws

    /// Fetches one container and writes its files into `output`. `previous` is its copy in the previous archive
    /// when the run is incremental: a connector whose listing has no marker checks for changes here and may copy.
    func fetch(_ container: ListedContainer, into output: ContainerOutput, previous: PreviousContainer?) async throws
        -> FetchedContainer

    /// Writes a container whose listing marker equals the previous archive's from that archive (default: every
    /// JSON Lines file verbatim, with no request).
    func reuse(_ container: ListedContainer, from previous: PreviousContainer, into output: ContainerOutput) throws

    /// Writes the account-level entities that come after the containers (Kitemaker's roadmaps, Kintone's spaces).
    func finish(into account: ContainerOutput) async throws

    /// Everything the run could not export, with reasons, in the order found.
    func notExported() -> [NotExported]

    /// How this run reads its containers into the readable model; `account` holds the account-level files
    /// written so far (Kona reads user names from them).
    func reading(account: any ContainerFiles) throws -> ContainerReading
}

extension ExportSource {
    public var containerStage: String? { "spaces" }
    public var batchSize: Int { 1 }
    public func prefetch(_ batch: [ListedContainer]) async throws {}
    public func reuse(_ container: ListedContainer, from previous: PreviousContainer, into output: ContainerOutput) throws {
        try output.copyFiles(from: previous.reader)
    }
    public func finish(into account: ContainerOutput) async throws {}
}
