import Foundation
import Kinopio
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import Logging

/// Shared helpers for the Kinopio connector tests: real sandboxes on 127.0.0.1, real archives in temp folders.
enum Fixture {
    static let sourceKey = "test-source-key-6f1d2c"
    static let targetKey = "test-target-key-9a8b7c"
    static let logger = Logger(label: "kitbag.tests")
    /// A fixed snapshot time so exports can be compared byte for byte.
    static let snapshotTime = Date(timeIntervalSince1970: 1_790_000_000)

    static func sandbox(
        seed: SandboxSeed, key: String, faults: Double = 0, rateLimit: Bool = false, port: Int = 0, penalty: Double = 30
    ) async throws -> RunningSandbox {
        var o = SandboxOptions()
        o.seed = seed
        o.credentials = [key]
        o.faultRate = faults
        o.rateLimit = rateLimit
        o.port = port
        o.penaltySeconds = penalty
        return try await KinopioSandbox.start(o, logger: logger)
    }

    /// Fast retries so fault tests finish quickly; the pacing is the real one when `rateLimited`.
    static func connection(_ sandbox: RunningSandbox, key: String, rateLimited: Bool = false, maxAttempts: Int = 8)
        throws -> KinopioConnection
    {
        var retry = RetryPolicy()
        retry.baseDelay = .milliseconds(5)
        retry.maxDelay = .milliseconds(50)
        retry.maxAttempts = maxAttempts
        retry.penaltyAfter429 = .milliseconds(20)
        return try KinopioConnection(
            baseURL: sandbox.baseURL.absoluteString, apiKey: key, environment: [:], rateLimited: rateLimited,
            retry: rateLimited ? nil : retry, logger: logger)
    }

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-kinopio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func export(
        _ connection: KinopioConnection, to url: URL, format: ArchiveFormat = .tarZst
    ) async throws -> ExportSummary {
        let user = try await connection.currentUser()
        return try await KinopioJobs.export(
            connection: connection, user: user, destination: format == .folder ? .folder(url) : .file(url),
            format: format, progress: .silent, now: snapshotTime, finishedAt: snapshotTime)
    }
}
