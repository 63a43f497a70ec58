import Foundation
import KitbagCore

/// What an export did, for the summary line and `--json`.
public struct ExportSummary: Sendable, Codable {
    public var archive: String
    public var service: ServiceName
    public var account: ArchiveInfo.Account
    public var counts: [String: Int]
    public var notExported: [NotExported]
    public var bytes: Int64
    public var requests: [String: Int]
    public var seconds: Double
    /// Change markers and reused containers, for connectors that export incrementally.
    public var changes: ExportChanges?

    public init(
        archive: String, service: ServiceName, account: ArchiveInfo.Account, counts: [String: Int],
        notExported: [NotExported], bytes: Int64, requests: [String: Int], seconds: Double
    ) {
        self.archive = archive
        self.service = service
        self.account = account
        self.counts = counts
        self.notExported = notExported
        self.bytes = bytes
        self.requests = requests
        self.seconds = seconds
    }
}

/// What an import did or would do, per kind.
public struct ImportSummary: Sendable, Codable {
    public var created: [String: Int] = [:]
    /// Entities already in the target from an earlier run (found in the journal).
    public var alreadyPresent: [String: Int] = [:]
    /// Dry run after an interrupted import: entities the earlier run sent without seeing the answer; the rerun
    /// checks the target for them first, so up to this many of `created` may turn out to be there already.
    public var unconfirmed: [String: Int]?
    public var requests: [String: Int] = [:]
    /// What could not be carried into the target, with the reason.
    public var notImported: [NotExported] = []
    public var dryRun = false

    public init(dryRun: Bool = false) {
        self.dryRun = dryRun
    }

    /// Adds what `part` created and found present (an import's part done in a child task, merged in order).
    public mutating func addCounts(of part: ImportSummary) {
        for (kind, n) in part.created { created[kind, default: 0] += n }
        for (kind, n) in part.alreadyPresent { alreadyPresent[kind, default: 0] += n }
    }
}
