import Foundation
import Kinopio
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@testable import KitbagBackup

/// `kitbag backup` against a real Kinopio sandbox on 127.0.0.1: incremental fetch, full archives, lock, crash.
@Suite struct BackupTests {
    static let key = "backup-test-key-77aa"
    static let logger = SandboxServer.quietLogger("kitbag.tests.backup")

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-backup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func sandbox(seed: SandboxSeed, faults: Double = 0, port: Int = 0) async throws -> RunningSandbox {
        var o = SandboxOptions()
        o.seed = seed
        o.credentials = [key]
        o.rateLimit = false
        o.faultRate = faults
        o.port = port
        return try await KinopioSandbox.start(o, logger: logger)
    }

    static func connection(_ sandbox: RunningSandbox, maxAttempts: Int = 6) throws -> KinopioConnection {
        var retry = RetryPolicy()
        retry.baseDelay = .milliseconds(2)
        retry.maxDelay = .milliseconds(20)
        retry.maxAttempts = maxAttempts
        return try KinopioConnection(
            baseURL: sandbox.baseURL.absoluteString, apiKey: key, environment: [:], rateLimited: false, retry: retry,
            logger: logger)
    }

    static func options(at seconds: TimeInterval, full: Bool = false) -> BackupOptions {
        var o = BackupOptions()
        o.now = Date(timeIntervalSince1970: seconds)
        o.finishedAt = o.now
        o.full = full
        return o
    }

    /// Renames one card of `spaceIndex`-th space through the API (the sandbox bumps the space's updatedAt).
    static func renameACard(_ connection: KinopioConnection, spaceIndex: Int) async throws -> String {
        let spaces = try await connection.client.json(APIRequest(method: .GET, path: "/user/spaces"))
        let ids = (spaces.arrayValue ?? []).compactMap { $0["id"]?.idString }.sorted()
        let space = try await connection.client.json(APIRequest(method: .GET, path: "/space/\(ids[spaceIndex])"))
        let card = try #require(space["cards"]?.arrayValue?.first?["id"]?.idString)
        _ = try await connection.client.json(
            APIRequest(method: .PATCH, path: "/card", body: ["id": .string(card), "name": "renamed between backups"]))
        return ids[spaceIndex]
    }

    @Test func aSecondBackupFetchesOnlyTheChangedSpaceAndEqualsAFullExport() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox(seed: .generated(cards: 2_000))
        let conn = try Self.connection(sandbox)
        let folder = BackupFolder(dir.appendingPathComponent("backups"))

        let first = try await BackupJob.run(conn, to: folder, options: Self.options(at: 1_800_000_000), progress: .silent)
        #expect(first.full)
        #expect(first.fullReason?.hasPrefix("first backup") == true)
        let spaces = first.fetchedContainers
        #expect(spaces >= 20)

        let changed = try await Self.renameACard(conn, spaceIndex: 3)
        let before = await sandbox.stats()
        let second = try await BackupJob.run(conn, to: folder, options: Self.options(at: 1_800_086_400), progress: .silent)
        let after = await sandbox.stats()
        #expect(!second.full)
        #expect(second.fetchedContainers == 1)
        #expect(second.reusedContainers == spaces - 1)
        #expect(second.previous == URL(fileURLWithPath: first.export.archive).lastPathComponent)
        // Only the changed space's contents are requested (one GET /space/:id, one removed-cards).
        #expect(after.requests("GET /space/:spaceId") - before.requests("GET /space/:spaceId") == 1)
        #expect(after.requests("GET /space/multiple") == before.requests("GET /space/multiple"))
        #expect(after.requests("GET /space/:spaceId/removed-cards") - before.requests("GET /space/:spaceId/removed-cards") == 1)
        let incrementalRequests = after.totalRequests - before.totalRequests
        let fullRequests = first.export.requests.values.reduce(0, +)
        // The fixed part (GET /user, 5 account lists, 5 space lists, the inbox) plus the changed space and its
        // removed cards: 14, against one /space/multiple page per 60 spaces and one removed-cards per space.
        #expect(incrementalRequests == 14, "incremental \(incrementalRequests) vs full \(fullRequests)")
        #expect(fullRequests == 12 + (spaces + 59) / 60 + spaces)

        // The incremental archive is byte-identical to a full export of the same content at the same time.
        let fullURL = dir.appendingPathComponent("full.tar.zst")
        _ = try await ConnectorJobs.export(
            conn, account: try await conn.probe(), destination: .file(fullURL), format: .tarZst, progress: .silent,
            now: Date(timeIntervalSince1970: 1_800_086_400), finishedAt: Date(timeIntervalSince1970: 1_800_086_400))
        #expect(try Data(contentsOf: URL(fileURLWithPath: second.export.archive)) == Data(contentsOf: fullURL))

        // And kitbag diff names exactly the renamed card.
        let a = try SnapshotReader.open(URL(fileURLWithPath: first.export.archive))
        let b = try SnapshotReader.open(URL(fileURLWithPath: second.export.archive))
        defer {
            a.close()
            b.close()
        }
        let diff = try ArchiveDiff.compare(a, b)
        #expect(diff.entries.count == 2, "the card and its space's updatedAt: \(diff.entries)")
        #expect(diff.kinds["card"]?.changed == 1)
        #expect(diff.kinds["space"]?.changed == 1)
        #expect(
            diff.entries.allSatisfy { $0.container == ContainerRef(kind: "spaces", id: changed).archiveFolder }, "\(diff.entries)")
        await sandbox.stop()
    }

    @Test func fullAndFullEveryForceAFullFetch() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Self.sandbox(seed: .demo)
        let conn = try Self.connection(sandbox)
        let folder = BackupFolder(dir)
        _ = try await BackupJob.run(conn, to: folder, options: Self.options(at: 1_800_000_000), progress: .silent)
        let forced = try await BackupJob.run(conn, to: folder, options: Self.options(at: 1_800_000_100, full: true), progress: .silent)
        #expect(forced.full && forced.fullReason == "--full" && forced.reusedContainers == 0)
        var every = Self.options(at: 1_800_000_000 + 8 * 86_400)
        every.fullEvery = 7 * 86_400
        let periodic = try await BackupJob.run(conn, to: folder, options: every, progress: .silent)
        #expect(periodic.full && periodic.fullReason?.contains("--full-every") == true)
        let quiet = try await BackupJob.run(conn, to: folder, options: Self.options(at: 1_800_000_000 + 9 * 86_400), progress: .silent)
        #expect(!quiet.full && quiet.fetchedContainers == 0 && quiet.reusedContainers > 0)
        await sandbox.stop()
    }

    @Test func aSecondRunOnTheSameFolderIsRefusedWhileTheFirstHoldsTheLock() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let folder = BackupFolder(dir)
        try folder.prepare()
        let held = try BackupLock(folder.lockFile, purpose: "kitbag backup kinopio")
        let sandbox = try await Self.sandbox(seed: .demo)
        let conn = try Self.connection(sandbox)
        var message = ""
        do {
            _ = try await BackupJob.run(conn, to: folder, options: Self.options(at: 1_800_000_000), progress: .silent)
        } catch let error as UserError {
            message = error.description
            #expect(error.exitStatus == .failure)
        }
        #expect(message.contains("another kitbag run holds"), "\(message)")
        #expect(message.contains("pid \(ProcessInfo.processInfo.processIdentifier)"), "\(message)")
        #expect(await sandbox.stats().totalRequests == 0, "nothing is requested without the lock")
        held.release()
        let ok = try await BackupJob.run(conn, to: folder, options: Self.options(at: 1_800_000_000), progress: .silent)
        #expect(ok.full)
        await sandbox.stop()
    }

    @Test func aLockHeldByAProcessThatDiedIsFree() throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let folder = BackupFolder(dir)
        try folder.prepare()
        // A child takes the lock with flock(1) and is killed with SIGKILL while holding it.
        let child = try ChildProcess("/usr/bin/flock", ["--exclusive", folder.lockFile.path, "sleep", "30"], output: .null, error: .null)
        var refused = false
        for _ in 0..<200 {
            do {
                let probe = try BackupLock(folder.lockFile, purpose: "probe")
                probe.release()
                usleep(10_000)
            } catch {
                refused = true
                break
            }
        }
        #expect(refused, "the child should hold the lock")
        child.signal(SIGKILL)
        child.waitUntilExit()
        // flock(1) runs sleep as a child that keeps the lock's file description open; wait for it to go too.
        var taken = false
        for _ in 0..<300 where !taken {
            if let lock = try? BackupLock(folder.lockFile, purpose: "after") {
                lock.release()
                taken = true
            } else {
                usleep(100_000)
            }
        }
        #expect(taken, "the lock is free once its holder is gone")
    }

    @Test func aBackupThatFailsLeavesThePreviousArchiveAndBookmarksUntouched() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let folder = BackupFolder(dir)
        let good = try await Self.sandbox(seed: .demo)
        let port = good.baseURL.port!
        let first = try await BackupJob.run(
            try Self.connection(good), to: folder, options: Self.options(at: 1_800_000_000), progress: .silent)
        await good.stop()
        let archiveBytes = try Data(contentsOf: URL(fileURLWithPath: first.export.archive))
        let state = try BackupState(url: folder.stateDatabase)
        let marks = try state.bookmarks(service: "kinopio", account: first.export.account.id)
        #expect(!marks.isEmpty)

        // Every request fails after the probe: the run dies mid-walk.
        let broken = try await Self.sandbox(seed: .demo, faults: 0.9, port: port)
        await #expect(throws: (any Error).self) {
            _ = try await BackupJob.run(
                try Self.connection(broken, maxAttempts: 1), to: folder, options: Self.options(at: 1_800_000_500),
                progress: .silent)
        }
        await broken.stop()
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }
        #expect(names == [URL(fileURLWithPath: first.export.archive).lastPathComponent], "no partial archive: \(names)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.export.archive)) == archiveBytes)
        #expect(try state.bookmarks(service: "kinopio", account: first.export.account.id) == marks)
        #expect(try state.all().count == 1)
    }
}
