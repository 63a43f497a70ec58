import Foundation
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Logging

/// One connector and its sandbox, as the shared conformance suite drives them (rclone's fstests: every
/// backend passes the same suite). Each connector adds one subject to `ConformanceSubject.all`.
struct ConformanceSubject: Sendable, CustomStringConvertible {
    let service: ServiceName
    /// Starts the service's sandbox on 127.0.0.1 with `seed`, owned by `credential`, limits and faults as asked.
    let startSandbox: @Sendable (_ seed: SandboxSeed, _ credential: String, _ limits: Bool, _ faults: Double, _ port: Int)
        async throws -> RunningSandbox
    /// A connector for `sandbox` with `credential`; `paced` keeps the service's documented pacing on.
    let connect: @Sendable (_ sandbox: RunningSandbox, _ credential: String, _ paced: Bool, _ retry: RetryPolicy?)
        throws -> any Connector
    /// Kinds the demo seed must hold at least one of.
    let demoKinds: [String]
    /// A seed big enough that an import takes many write requests (for the interrupted-import test).
    let volumeSeed: SandboxSeed
    /// Requests the target must have answered before the interrupted import is cancelled.
    let interruptAfterRequests: Int
    /// For a connector with incremental exports: edits one item of the account through the service's API, choosing
    /// it from `archive` (a full export of the account), and returns its container's archive folder. Nil for a
    /// connector without incremental exports (the suite checks the two go together).
    var editOneItem: (@Sendable (_ connector: any Connector, _ archive: URL) async throws -> String)? = nil
    /// For a connector that restores (`descriptor.restores`): damages the account through the service's API as a
    /// user might, in three different containers chosen from `archive` (a full export of it). Nil for one that
    /// does not restore (the suite checks the two go together).
    var damageAccount: (@Sendable (_ connector: any Connector, _ archive: URL) async throws -> AccountDamage)? = nil

    var description: String { service.rawValue }

    /// What `damageAccount` did to the live account, for the restore conformance test (ids as archived).
    struct AccountDamage: Sendable {
        /// A container deleted for good (through the sandbox's stand-in for the service's app where its API deletes
        /// none); nil where the service can neither delete nor create one (Kitemaker).
        var deletedContainer: String?
        /// A second container, in which `deletedItems` (one to three) were deleted for good.
        var itemsContainer: String
        var deletedItems: [String]
        /// A third container, in which `editedItem` (of `editedKind`, as `kitbag diff --live` names it) was edited
        /// through the API: one field that `--revert` can set back.
        var editedContainer: String
        var editedItem: String
        var editedKind: String
        /// Entities outside those containers that linked a deleted item (Kitemaker's initiatives and feedback): a
        /// restore links them to the item's copy, and touches them for that only.
        var relinked: [String] = []

        /// Ids a write of the restore may touch other than by creating: the containers written into, and the edited
        /// item and its container (only under `--revert`). Sandboxes name an item inside its container (`3/42`), so a
        /// prefix or suffix counts.
        func mayTouch(_ id: String, revert: Bool) -> Bool {
            let allowed = [deletedContainer, itemsContainer].compactMap { $0 } + relinked + (revert ? [editedItem, editedContainer] : [])
            return allowed.contains { id == $0 || id.hasSuffix("/\($0)") || id.hasPrefix("\($0)/") }
        }
    }

    static let logger = SandboxServer.quietLogger("kitbag.tests.conformance")
    static let sourceCredential = "conformance-source-credential-4d1e"
    static let targetCredential = "conformance-target-credential-8c2f"
    /// A fixed snapshot time so exports can be compared byte for byte.
    static let snapshotTime = Date(timeIntervalSince1970: 1_790_000_000)

    /// The fault pattern of sandboxes started in this task (nil: the subject's default), so a proof run can
    /// replay an export under many different patterns.
    @TaskLocal static var faultSeed: UInt64?

    /// How many times the proof suites repeat: `full` with `KITBAG_PROOF=1` (`make proof`), else `short`.
    static func runs(short: Int, full: Int) -> Int { Proof.count(full: full, short: short) }

    /// Fast retries so fault tests finish quickly.
    static func fastRetry(maxAttempts: Int = 10) -> RetryPolicy {
        var retry = RetryPolicy()
        retry.baseDelay = .milliseconds(5)
        retry.maxDelay = .milliseconds(50)
        retry.maxAttempts = maxAttempts
        retry.penaltyAfter429 = .milliseconds(20)
        return retry
    }

    static func options(seed: SandboxSeed, credential: String, limits: Bool, faults: Double, port: Int) -> SandboxOptions {
        var o = SandboxOptions()
        o.seed = seed
        o.credentials = [credential]
        o.rateLimit = limits
        o.faultRate = faults
        o.port = port
        if let seed = faultSeed { o.faultSeed = seed }
        return o
    }
}
