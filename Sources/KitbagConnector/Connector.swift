import Foundation
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagJournal

/// Who a set of credentials reaches: the identity recorded in `kitbag.json`, plus the service's raw answer
/// (for connectors that need it again during the export, e.g. Kinopio's `GET /user`).
public struct AccountProbe: Sendable {
    public var account: ArchiveInfo.Account
    public var raw: JSONValue

    public init(account: ArchiveInfo.Account, raw: JSONValue = .null) {
        self.account = account
        self.raw = raw
    }
}

/// Which part of an account an export walks.
public struct ExportSelection: Sendable, Equatable {
    /// Only these top-level containers (Kinopio spaces, Kintone apps, Kitemaker spaces, Kona spaces), by id;
    /// every container the credentials can see when empty.
    public var containers: [String]
    /// Only the containers, not the account-level entities, and a named container that is gone is left out instead
    /// of failing the run (the live side of `kitbag diff --live` and `kitbag restore`). Connectors that do not
    /// know it export as usual.
    public var containersOnly: Bool

    public init(containers: [String] = [], containersOnly: Bool = false) {
        self.containers = containers
        self.containersOnly = containersOnly
    }
}

/// How an import writes.
public struct ImportOptions: Sendable, Equatable {
    /// Count requests and entities; write nothing.
    public var dryRun: Bool
    /// Entities per batch write request; nil takes the connector's default.
    public var batchSize: Int?
    /// Existing target containers to import into, source id → target id (Kintone `--app-map SRC=DST`).
    public var containerMap: [String: String]
    /// Field whose value identifies a record for upserts (Kintone `--update-key FIELD`).
    public var updateKey: String?
    /// Create what the target lacks (Kitemaker statuses) instead of stopping with an error.
    public var createMissing: Bool

    public init(
        dryRun: Bool = false, batchSize: Int? = nil, containerMap: [String: String] = [:], updateKey: String? = nil,
        createMissing: Bool = false
    ) {
        self.dryRun = dryRun
        self.batchSize = batchSize
        self.containerMap = containerMap
        self.updateKey = updateKey
        self.createMissing = createMissing
    }
}

/// One service's connector, as the CLI, the jobs and the shared conformance suite drive it
/// (rclone's `fs.Fs`: nothing outside the connector knows the service's wire format).
public protocol Connector: Sendable {
    /// What kitbag knows about the service: its name, display name, options and how to make a connector.
    var descriptor: ConnectorDescriptor { get }
    /// The API base URL (recorded in `kitbag.json` and the journal binding).
    var baseURL: URL { get }
    /// The paced, retrying client every request goes through (its counts feed the summaries).
    var client: APIClient { get }

    /// Asks the service who the credentials belong to; the first request of every job, so a wrong token fails fast.
    func probe() async throws -> AccountProbe

    /// One export run of the selected containers, for the shared walk (`ExportWalk`) to drive.
    func exportSource(account: AccountProbe, selection: ExportSelection, progress: ProgressReporter) throws
        -> any ExportSource

    /// Replays a verified archive into the account; every created entity goes through `journal` (nil on a dry run).
    func importArchive(
        _ archive: SnapshotReader, journal: ImportJournal?, options: ImportOptions, progress: ProgressReporter
    ) async throws -> ImportSummary

    /// Releases the connection's resources.
    func shutdown() async
}

extension Connector {
    /// The service this connector talks to.
    public var service: ServiceName { descriptor.service }

    /// Differences between a source export and the export of the account it was imported into, once ids are
    /// mapped back through the journal and server-owned keys are set aside (the descriptor's `roundTrip` rules);
    /// empty when the round trip is exact.
    public func roundTripDifferences(
        source: SnapshotReader, target: SnapshotReader, journal: ImportJournal, notImported: [NotExported]
    ) throws -> [RoundTripDifference] {
        try RoundTripOracle.compare(
            source: source, target: target, journal: journal, notImported: notImported, rules: descriptor.roundTrip)
    }

    /// The same on two archive files and the journal file of the import between them.
    public func roundTripDifferences(sourceArchive: URL, targetArchive: URL, journal: URL, notImported: [NotExported])
        throws -> [RoundTripDifference]
    {
        try descriptor.roundTrip.compare(
            sourceArchive: sourceArchive, targetArchive: targetArchive, journal: journal, notImported: notImported)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }
}

public extension Connector {
    /// `probe()`, where an answer that no server of this service would give (a bare 404, a body that is not the
    /// service's JSON, bytes that are not HTTP) is reported as a wrong base URL rather than as a failed route.
    func identify() async throws -> AccountProbe {
        do {
            return try await probe()
        } catch let failure as HTTPFailure {
            let answer: String
            switch failure {
            case .notFound(_, let route, _, nil): answer = "404 Not Found to \(route)"
            case .invalidBody(_, let route, _): answer = "\(route) with a body that is not the service's JSON"
            case .connectionLost(_, let route, _, "malformed HTTP answer"): answer = "\(route) with bytes that are not HTTP"
            default: throw failure
            }
            var shown = URLComponents(url: baseURL, resolvingAgainstBaseURL: false)
            shown?.user = nil
            shown?.password = nil
            let name = descriptor.displayName
            throw UserError(
                "\(shown?.string ?? service.rawValue) answered \(answer): this does not look like the \(name) API — "
                    + "check --base-url (or \(service.rawValue.uppercased())_BASE_URL)", exitStatus: .failure)
        }
    }
}
