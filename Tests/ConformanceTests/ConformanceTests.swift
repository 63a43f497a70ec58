import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagHTTP
import KitbagJournal
import KitbagSandbox
import KitbagTestSupport
import Testing

/// The shared connector conformance suite: what every connector must do against its own sandbox.
@Suite struct ConformanceTests {
    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-conformance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func export(_ connector: any Connector, to url: URL, format: ArchiveFormat = .tarZst) async throws -> ExportSummary {
        let account = try await connector.probe()
        return try await ConnectorJobs.export(
            connector, account: account, destination: format == .folder ? .folder(url) : .file(url), format: format,
            progress: .silent, now: ConformanceSubject.snapshotTime, finishedAt: ConformanceSubject.snapshotTime)
    }

    static func differences(_ connector: any Connector, _ a: URL, _ b: URL, journal: URL, notImported: [NotExported])
        throws -> [String]
    {
        let source = try SnapshotReader.open(a)
        let target = try SnapshotReader.open(b)
        defer {
            source.close()
            target.close()
        }
        return try connector.roundTripDifferences(
            source: source, target: target, journal: try ImportJournal(readingFrom: journal), notImported: notImported)
    }

    @Test(arguments: ConformanceSubject.all)
    func demoSeedRoundTripsThroughAnEmptyAccountWithLimitsOnAndNoDuplicatesOnRerun(_ subject: ConformanceSubject)
        async throws
    {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await subject.startSandbox(.demo, ConformanceSubject.sourceCredential, true, 0, 0)
        let target = try await subject.startSandbox(.empty, ConformanceSubject.targetCredential, true, 0, 0)
        let from = try subject.connect(source, ConformanceSubject.sourceCredential, true, nil)
        let to = try subject.connect(target, ConformanceSubject.targetCredential, true, nil)

        let first = dir.appendingPathComponent("source.tar.zst")
        let exported = try await Self.export(from, to: first)
        #expect(ArchiveVerifier.verify(first).exitStatus == .success)
        for kind in subject.demoKinds {
            #expect((exported.counts[kind] ?? 0) > 0, "the \(subject) demo seed should hold some \(kind)")
        }

        let journal = dir.appendingPathComponent("import.journal.sqlite")
        let imported = try await ConnectorJobs.importArchive(
            first, into: to, journalURL: journal, options: ImportOptions(), progress: .silent)
        #expect(imported.created.values.reduce(0, +) > 0)

        let second = dir.appendingPathComponent("roundtrip.tar.zst")
        _ = try await Self.export(to, to: second)
        #expect(ArchiveVerifier.verify(second).exitStatus == .success)
        let diffs = try Self.differences(from, first, second, journal: journal, notImported: imported.notImported)
        #expect(diffs.isEmpty, "\(subject) round trip differences: \(diffs.prefix(10))")

        // Pacing kept both sandboxes within their limits.
        #expect(await source.stats().tooManyRequestsSent == 0, "\(subject) source drew 429s")
        #expect(await target.stats().tooManyRequestsSent == 0, "\(subject) target drew 429s")

        // The same import again finds everything in the journal and creates nothing.
        let again = try await ConnectorJobs.importArchive(
            first, into: to, journalURL: journal, options: ImportOptions(), progress: .silent)
        #expect(again.created.values.reduce(0, +) == 0, "\(subject) rerun created \(again.created)")
        let third = dir.appendingPathComponent("after-rerun.tar.zst")
        let reexported = try await Self.export(to, to: third)
        let once = try Self.differences(from, first, third, journal: journal, notImported: again.notImported)
        #expect(once.isEmpty, "\(subject) after rerun: \(once.prefix(10))")
        #expect(reexported.counts.values.reduce(0, +) > 0)

        await from.shutdown()
        await to.shutdown()
        await source.stop()
        await target.stop()
    }

    /// One reading for both (issue 18): the renderings an export writes are, byte for byte, those `kitbag render`
    /// makes later from the same archive's JSON alone.
    @Test(arguments: ConformanceSubject.all)
    func theRenderingsOfAnExportAreThoseKitbagRenderMakesFromItsJSON(_ subject: ConformanceSubject) async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await subject.startSandbox(.demo, ConformanceSubject.sourceCredential, false, 0, 0)
        let connector = try subject.connect(sandbox, ConformanceSubject.sourceCredential, false, nil)
        let full = dir.appendingPathComponent("full")
        let plain = dir.appendingPathComponent("plain")
        _ = try await Self.export(connector, to: full, format: .folder)
        let account = try await connector.probe()
        _ = try await ConnectorJobs.export(
            connector, account: account, destination: .folder(plain), format: .folder, renderings: [], progress: .silent,
            now: ConformanceSubject.snapshotTime, finishedAt: ConformanceSubject.snapshotTime)
        await connector.shutdown()
        await sandbox.stop()

        let summary = try ArchiveRendering.render(
            plain, formats: Set(ReadableFormat.allCases), descriptor: { _ in connector.descriptor })
        #expect(summary.insideArchive && summary.containers > 0)
        #expect(ArchiveVerifier.verify(plain).exitStatus == .success)
        func renderings(_ root: URL) throws -> [String: Data] {
            var out: [String: Data] = [:]
            let base = root.standardizedFileURL.path + "/"
            for case let url as URL in FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)! {
                let path = String(url.standardizedFileURL.path.dropFirst(base.count))
                guard !url.hasDirectoryPath, !path.hasPrefix("data/"), !path.hasPrefix("attachments/"), path.hasSuffix(".json") == false
                else { continue }
                out[path] = try Data(contentsOf: url)
            }
            return out
        }
        let exported = try renderings(full)
        let rendered = try renderings(plain)
        #expect(!exported.isEmpty && Set(exported.keys) == Set(rendered.keys), "\(subject): \(Set(exported.keys).symmetricDifference(rendered.keys))")
        for (path, data) in exported.sorted(by: { $0.key < $1.key }) {
            #expect(rendered[path] == data, "\(subject): \(path) differs between the export and kitbag render")
        }
    }

    /// Proof: `runs` exports under `--faults 0.1`, each with a different fault pattern, are each byte-identical to
    /// a fault-free export (3 runs in CI, 20 with KITBAG_PROOF=1).
    @Test(arguments: ConformanceSubject.all)
    func anExportUnderFaultsIsByteIdenticalToAFaultFreeOne(_ subject: ConformanceSubject) async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        // Same seed, same port (the base URL is recorded in kitbag.json), same snapshot time.
        let clean = try await subject.startSandbox(.demo, ConformanceSubject.sourceCredential, false, 0, 0)
        let port = clean.baseURL.port!
        let cleanConn = try subject.connect(clean, ConformanceSubject.sourceCredential, false, ConformanceSubject.fastRetry())
        let a = dir.appendingPathComponent("clean.tar")
        _ = try await Self.export(cleanConn, to: a, format: .tar)
        await cleanConn.shutdown()
        await clean.stop()
        let expected = try Data(contentsOf: a)

        let runs = ConformanceSubject.runs(short: 3, full: 20)
        var faults = 0
        for run in 0..<runs {
            // Run 0 keeps the subject's own pattern; the others draw new ones.
            let pattern: UInt64? = run == 0 ? nil : 1_000 + UInt64(run) * 7_919
            let (bytes, injected) = try await ConformanceSubject.$faultSeed.withValue(pattern) {
                let faulty = try await subject.startSandbox(.demo, ConformanceSubject.sourceCredential, false, 0.1, port)
                let faultyConn = try subject.connect(
                    faulty, ConformanceSubject.sourceCredential, false, ConformanceSubject.fastRetry(maxAttempts: 12))
                let b = dir.appendingPathComponent("faulty-\(run).tar")
                _ = try await Self.export(faultyConn, to: b, format: .tar)
                let stats = await faulty.stats()
                await faultyConn.shutdown()
                await faulty.stop()
                defer { Scratch.remove(b) }
                return (try Data(contentsOf: b), stats.faultsInjected)
            }
            faults += injected
            #expect(bytes == expected, "\(subject) export \(run + 1) of \(runs) under faults (pattern \(pattern.map(String.init) ?? "default")) differs")
        }
        // A short export (Kitemaker's demo is six requests) may draw no fault in some runs; the runs together must.
        #expect(faults > 0, "the \(subject) sandboxes should have injected faults: \(faults) in \(runs) exports")
    }

    @Test(arguments: ConformanceSubject.all)
    func faultsOnEveryRequestFailClearlyAndLeaveTheEarlierArchiveUntouched(_ subject: ConformanceSubject) async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let good = try await subject.startSandbox(.demo, ConformanceSubject.sourceCredential, false, 0, 0)
        let goodConn = try subject.connect(good, ConformanceSubject.sourceCredential, false, ConformanceSubject.fastRetry())
        let out = dir.appendingPathComponent("backup.tar.zst")
        let account = try await goodConn.probe()
        _ = try await Self.export(goodConn, to: out)
        let before = try Data(contentsOf: out)
        await goodConn.shutdown()
        await good.stop()

        let broken = try await subject.startSandbox(.demo, ConformanceSubject.sourceCredential, false, 1.0, 0)
        let conn = try subject.connect(broken, ConformanceSubject.sourceCredential, false, ConformanceSubject.fastRetry(maxAttempts: 3))
        var message = ""
        do {
            _ = try await ConnectorJobs.export(
                conn, account: account, destination: .file(out), format: .tarZst, progress: .silent,
                now: ConformanceSubject.snapshotTime)
            Issue.record("\(subject): an export against a sandbox failing every request succeeded")
        } catch {
            message = String(describing: error)
        }
        #expect(message.hasPrefix(subject.service.rawValue), "the error names the service: \(message)")
        #expect(!message.contains(ConformanceSubject.sourceCredential), "the credential leaked: \(message)")
        #expect(!message.contains("\n"), "one line: \(message)")
        #expect(try Data(contentsOf: out) == before, "the earlier archive is untouched")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(leftovers == ["backup.tar.zst"], "no partial files: \(leftovers)")
        await conn.shutdown()
        await broken.stop()
    }

    @Test(arguments: ConformanceSubject.all)
    func anInterruptedImportRerunLeavesExactlyOneCopyOfEveryEntity(_ subject: ConformanceSubject) async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let source = try await subject.startSandbox(subject.volumeSeed, ConformanceSubject.sourceCredential, false, 0, 0)
        let target = try await subject.startSandbox(.empty, ConformanceSubject.targetCredential, false, 0, 0)
        let from = try subject.connect(source, ConformanceSubject.sourceCredential, false, ConformanceSubject.fastRetry())
        let archive = dir.appendingPathComponent("volume.tar.zst")
        _ = try await Self.export(from, to: archive)
        let journal = dir.appendingPathComponent("j.sqlite")

        let options = ImportOptions(batchSize: 20)
        let first = Task {
            let to = try subject.connect(target, ConformanceSubject.targetCredential, false, ConformanceSubject.fastRetry())
            return try await ConnectorJobs.importArchive(
                archive, into: to, journalURL: journal, options: options, progress: .silent)
        }
        while await target.stats().totalRequests < subject.interruptAfterRequests {
            try await Task.sleep(for: .milliseconds(2))
        }
        first.cancel()
        let firstResult = await first.result
        if case .success = firstResult {
            Issue.record("\(subject): the import finished before it could be interrupted; raise volumeSeed")
        }

        let to = try subject.connect(target, ConformanceSubject.targetCredential, false, ConformanceSubject.fastRetry())
        let second = try await ConnectorJobs.importArchive(
            archive, into: to, journalURL: journal, options: options, progress: .silent)
        #expect(second.alreadyPresent.values.reduce(0, +) > 0, "\(subject): the rerun should find earlier work")

        let out = dir.appendingPathComponent("after.tar.zst")
        _ = try await Self.export(to, to: out)
        let diffs = try Self.differences(from, archive, out, journal: journal, notImported: second.notImported)
        #expect(diffs.isEmpty, "\(subject) after interrupt + rerun: \(diffs.prefix(5))")
        await from.shutdown()
        await to.shutdown()
        await source.stop()
        await target.stop()
    }
}
