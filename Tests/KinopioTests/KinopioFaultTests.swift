import Foundation
import Kinopio
import KitbagArchive
import KitbagCore
import KitbagHTTP
import KitbagSandbox
import KitbagTestSupport
import Testing

@Suite struct KinopioFaultTests {
    @Test func anExportUnderFaultsIsByteIdenticalToAFaultFreeOne() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // Same seed, same port (the base URL is recorded in kitbag.json), same snapshot time.
        let clean = try await Fixture.sandbox(seed: .demo, key: Fixture.sourceKey)
        let port = clean.baseURL.port!
        let cleanConn = try Fixture.connection(clean, key: Fixture.sourceKey)
        let a = dir.appendingPathComponent("clean.tar")
        _ = try await Fixture.export(cleanConn, to: a, format: .tar)
        await cleanConn.shutdown()
        await clean.stop()

        let faulty = try await Fixture.sandbox(seed: .demo, key: Fixture.sourceKey, faults: 0.1, port: port)
        let faultyConn = try Fixture.connection(faulty, key: Fixture.sourceKey, maxAttempts: 10)
        let b = dir.appendingPathComponent("faulty.tar")
        _ = try await Fixture.export(faultyConn, to: b, format: .tar)
        let stats = await faulty.stats()
        await faultyConn.shutdown()
        await faulty.stop()

        #expect(stats.faultsInjected > 0, "the sandbox should have injected faults")
        #expect(try Data(contentsOf: a) == Data(contentsOf: b))
    }

    @Test func faultsOnEveryRequestFailClearlyAndLeaveNoArchive() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        // First a whole archive at the destination: a failed run must not damage it.
        let good = try await Fixture.sandbox(seed: .demo, key: Fixture.sourceKey)
        let goodConn = try Fixture.connection(good, key: Fixture.sourceKey)
        let out = dir.appendingPathComponent("backup.tar.zst")
        _ = try await Fixture.export(goodConn, to: out)
        let before = try Data(contentsOf: out)
        await goodConn.shutdown()
        await good.stop()

        let broken = try await Fixture.sandbox(seed: .demo, key: Fixture.sourceKey, faults: 1.0)
        let conn = try Fixture.connection(broken, key: Fixture.sourceKey, maxAttempts: 3)
        await #expect(throws: (any Error).self) {
            _ = try await KinopioJobs.export(
                connection: conn, user: ["id": "u", "name": "n"], destination: .file(out), format: .tarZst,
                progress: .silent, now: Fixture.snapshotTime)
        }
        var message = ""
        do { _ = try await conn.currentUser() } catch { message = String(describing: error) }
        #expect(message.contains("GET /user"), "the error names the route: \(message)")
        #expect(!message.contains(Fixture.sourceKey))
        #expect(try Data(contentsOf: out) == before, "the earlier archive is untouched")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(leftovers == ["backup.tar.zst"], "no partial files: \(leftovers)")
        await conn.shutdown()
        await broken.stop()
    }

    @Test func anInterruptedImportRerunLeavesExactlyOneCopyOfEveryEntity() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await Fixture.sandbox(seed: .generated(cards: 1500), key: Fixture.sourceKey)
        let target = try await Fixture.sandbox(seed: .empty, key: Fixture.targetKey)
        let sourceConn = try Fixture.connection(source, key: Fixture.sourceKey)
        let archive = dir.appendingPathComponent("big.tar.zst")
        let exported = try await Fixture.export(sourceConn, to: archive)
        let journal = dir.appendingPathComponent("j.sqlite")

        // Interrupt the first run once some cards are in.
        let first = Task {
            let conn = try Fixture.connection(target, key: Fixture.targetKey)
            defer { Task { await conn.shutdown() } }
            return try await KinopioJobs.importArchive(
                archive, connection: conn, journalURL: journal, dryRun: false, progress: .silent, batchSize: 20)
        }
        while await target.stats().requests("POST /card/multiple") < 10 {
            try await Task.sleep(for: .milliseconds(5))
        }
        first.cancel()
        _ = await first.result
        let created = await target.stats().requests("POST /card/multiple")
        #expect(created < (exported.counts["card"] ?? 0) / 20, "the first run should have stopped early")

        let conn = try Fixture.connection(target, key: Fixture.targetKey)
        let second = try await KinopioJobs.importArchive(
            archive, connection: conn, journalURL: journal, dryRun: false, progress: .silent, batchSize: 20)
        #expect((second.alreadyPresent["card"] ?? 0) > 0)

        let out = dir.appendingPathComponent("after.tar.zst")
        let reexported = try await Fixture.export(conn, to: out)
        #expect(reexported.counts["card"] == exported.counts["card"])
        #expect(reexported.counts["space"] == exported.counts["space"])
        #expect(reexported.counts["connection"] == exported.counts["connection"])
        let diffs = try KinopioRoundTrip.rules.compare(
            sourceArchive: archive, targetArchive: out, journal: journal, notImported: second.notImported)
        #expect(diffs.isEmpty, "differences: \(diffs.prefix(5))")
        await conn.shutdown()
        await sourceConn.shutdown()
        await source.stop()
        await target.stop()
    }
}

@Suite struct KinopioErrorTests {
    @Test func aWrongKeyGivesOneLineNamingTheVariableAndNeverTheKey() async throws {
        let sandbox = try await Fixture.sandbox(seed: .demo, key: Fixture.sourceKey)
        let wrong = "wrong-key-0123456789"
        let conn = try Fixture.connection(sandbox, key: wrong)
        var message = ""
        do { _ = try await conn.currentUser() } catch { message = String(describing: error) }
        #expect(message.contains("401"))
        #expect(message.contains("KINOPIO_API_KEY"))
        #expect(!message.contains(wrong))
        #expect(!message.contains("\n"))
        #expect(await sandbox.stats().totalRequests == 1, "a 401 is not retried")
        await conn.shutdown()
        await sandbox.stop()
    }

    @Test func anUnreachableHostGivesAClearConnectionMessage() async throws {
        // A port that was just bound and released: nothing listens there.
        let s = try await Fixture.sandbox(seed: .empty, key: Fixture.sourceKey)
        let port = s.baseURL.port!
        await s.stop()
        let conn = try KinopioConnection(
            baseURL: "http://127.0.0.1:\(port)", apiKey: Fixture.sourceKey, environment: [:], rateLimited: false,
            logger: Fixture.logger)
        var message = ""
        do { _ = try await conn.currentUser() } catch { message = String(describing: error) }
        #expect(message.contains("127.0.0.1:\(port)"), "\(message)")
        #expect(message.lowercased().contains("connect"), "\(message)")
        #expect(!message.contains(Fixture.sourceKey))
        await conn.shutdown()
    }

    @Test func aMissingKeyOrABadURLIsAUsageError() throws {
        #expect(throws: UserError.self) {
            _ = try KinopioConnection(baseURL: "http://127.0.0.1:1", apiKey: nil, environment: [:], logger: Fixture.logger)
        }
        #expect(throws: UserError.self) {
            _ = try KinopioConnection(baseURL: "ftp://x", apiKey: "k", environment: [:], logger: Fixture.logger)
        }
    }

    @Test func theKeyNeverAppearsInArchiveBytes() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await Fixture.sandbox(seed: .demo, key: Fixture.sourceKey)
        let conn = try Fixture.connection(sandbox, key: Fixture.sourceKey)
        let folder = dir.appendingPathComponent("plain")
        _ = try await Fixture.export(conn, to: folder, format: .folder)
        let files = FileManager.default.enumerator(atPath: folder.path)!.compactMap { $0 as? String }
        #expect(!files.isEmpty)
        for f in files {
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder.appendingPathComponent(f).path, isDirectory: &isDir)
            if isDir.boolValue { continue }
            let text = String(decoding: try Data(contentsOf: folder.appendingPathComponent(f)), as: UTF8.self)
            #expect(!text.contains(Fixture.sourceKey), "\(f) contains the API key")
            #expect(!text.contains("\"apiKey\""), "\(f) contains an apiKey field")
            #expect(!text.contains("\"collaboratorKey\""), "\(f) contains a collaboratorKey field")
        }
        await conn.shutdown()
        await sandbox.stop()
    }
}
