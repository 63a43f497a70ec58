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

        // The round-trip job `kitbag demo` runs: import into the empty account, export it again, compare.
        let journal = dir.appendingPathComponent("import.journal.sqlite")
        let second = dir.appendingPathComponent("roundtrip.tar.zst")
        let roundTrip = try await RoundTripJob.run(
            archive: first, into: to, journalURL: journal, output: second, progress: .silent,
            now: ConformanceSubject.snapshotTime, finishedAt: ConformanceSubject.snapshotTime)
        #expect(roundTrip.imported.created.values.reduce(0, +) > 0)
        #expect(ArchiveVerifier.verify(second).exitStatus == .success)
        #expect(roundTrip.differences.isEmpty, "\(subject) round trip differences: \(roundTrip.differences.prefix(10))")

        // Pacing kept both sandboxes within their limits.
        #expect(await source.stats().tooManyRequestsSent == 0, "\(subject) source drew 429s")
        #expect(await target.stats().tooManyRequestsSent == 0, "\(subject) target drew 429s")

        // The same import again finds everything in the journal and creates nothing.
        let again = try await ConnectorJobs.importArchive(
            first, into: to, journalURL: journal, options: ImportOptions(), progress: .silent)
        #expect(again.created.values.reduce(0, +) == 0, "\(subject) rerun created \(again.created)")
        let third = dir.appendingPathComponent("after-rerun.tar.zst")
        let reexported = try await Self.export(to, to: third)
        let once = try from.roundTripDifferences(
            sourceArchive: first, targetArchive: third, journal: journal, notImported: again.notImported)
        #expect(once.isEmpty, "\(subject) after rerun: \(once.prefix(10))")
        #expect(reexported.counts.values.reduce(0, +) > 0)

        await from.shutdown()
        await to.shutdown()
        await source.stop()
        await target.stop()
    }

    /// rclone's fstests skip what a backend lacks; here a connector with incremental exports (`IncrementalConnector`)
    /// must show that an unchanged account gives an archive byte-equal to a full export, copying every container,
    /// and that one edited item fetches exactly its container.
    @Test(arguments: ConformanceSubject.all)
    func anIncrementalExportOfAnUnchangedAccountIsAFullExportAndOneEditFetchesOneContainer(_ subject: ConformanceSubject)
        async throws
    {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await subject.startSandbox(.demo, ConformanceSubject.sourceCredential, false, 0, 0)
        let connector = try subject.connect(sandbox, ConformanceSubject.sourceCredential, false, nil)
        defer { Task { await sandbox.stop() } }
        guard let edit = subject.editOneItem else {
            #expect(!(connector is any IncrementalConnector), "\(subject) has incremental exports: give it an editOneItem")
            await connector.shutdown()
            return
        }
        #expect(connector is any IncrementalConnector, "\(subject) has an editOneItem but no incremental exports")
        // Snapshot times an hour ahead, whole seconds: every edit lies in a settled minute (Kintone's markers).
        let base = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 3600).rounded(.down))
        func export(_ name: String, at seconds: TimeInterval, from previous: (URL, ExportSummary)? = nil) async throws
            -> (URL, ExportSummary)
        {
            let url = dir.appendingPathComponent(name)
            let time = base.addingTimeInterval(seconds)
            var reader: SnapshotReader?
            if let previous { reader = try SnapshotReader.open(previous.0) }
            defer { reader?.close() }
            let changeBase = try reader.map { ChangeBase(previous: $0, markers: try #require(previous?.1.changes?.markers)) }
            let summary = try await ConnectorJobs.export(
                connector, account: try await connector.probe(), destination: .file(url), format: .tarZst,
                progress: .silent, now: time, finishedAt: time, base: changeBase)
            return (url, summary)
        }
        let first = try await export("1.tar.zst", at: 0)
        let containers = try #require(first.1.changes?.fetched)
        #expect(!containers.isEmpty)

        let quiet = try await export("2.tar.zst", at: 60, from: first)
        #expect(quiet.1.changes?.fetched == [], "\(subject) fetched unchanged containers")
        #expect(quiet.1.changes?.reused.sorted() == containers.sorted())
        let fullThen = try await export("2-full.tar.zst", at: 60)
        #expect(try Data(contentsOf: quiet.0) == Data(contentsOf: fullThen.0), "\(subject): unchanged ≠ full export")

        let edited = try await edit(connector, first.0)
        let changed = try await export("3.tar.zst", at: 120, from: quiet)
        #expect(changed.1.changes?.fetched == [edited], "\(subject) after one edit in \(edited)")
        #expect(changed.1.changes?.reused.count == containers.count - 1)
        let fullNow = try await export("3-full.tar.zst", at: 120)
        #expect(try Data(contentsOf: changed.0) == Data(contentsOf: fullNow.0), "\(subject): incremental ≠ full export")
        #expect(try Data(contentsOf: changed.0) != Data(contentsOf: quiet.0), "the edit is in the archive")
        await connector.shutdown()
    }

    /// Restore (issue 19), for every connector that can (`descriptor.restores`): after a container is deleted, items
    /// of a second are deleted and an item of a third is edited, a restore brings back what is gone and leaves the
    /// edit alone (reported); `--revert` sets the edit back; then the account no longer differs from the backup, the
    /// sandbox's write log shows nothing else was touched, and a further restore writes nothing.
    @Test(arguments: ConformanceSubject.all)
    func aRestorePutsBackWhatWasDeletedLeavesEditsAloneUntilRevertAndASecondRestoreWritesNothing(
        _ subject: ConformanceSubject
    ) async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let sandbox = try await subject.startSandbox(.demo, ConformanceSubject.sourceCredential, false, 0, 0)
        let connector = try subject.connect(sandbox, ConformanceSubject.sourceCredential, false, nil)
        defer { Task { await sandbox.stop() } }
        guard connector.descriptor.restores, let damageAccount = subject.damageAccount else {
            #expect(!connector.descriptor.restores, "\(subject) restores: give it a damageAccount")
            #expect(subject.damageAccount == nil, "\(subject) has a damageAccount but does not restore")
            await connector.shutdown()
            return
        }
        let target = try RestoreJobs.target(connector)
        let backup = dir.appendingPathComponent("backup.tar.zst")
        let journal = dir.appendingPathComponent("restore.sqlite")
        _ = try await Self.export(connector, to: backup)
        let damage = try await damageAccount(connector, backup)
        let containers = [damage.deletedContainer, damage.itemsContainer, damage.editedContainer].compactMap { $0 }
        #expect(Set(containers).count == containers.count && containers.count >= 2)

        func diff() async throws -> LiveDiff {
            try await RestoreJobs.diffLive(backup, connector: target, scope: RestoreScope(), journalURL: journal, progress: .silent)
        }
        let lost = try await diff()
        if let deleted = damage.deletedContainer {
            #expect(lost.entries.contains { $0.change == .deleted && $0.id == deleted && $0.container == nil }, "\(subject): \(lost.entries)")
        }
        for item in damage.deletedItems {
            #expect(lost.entries.contains { $0.change == .deleted && $0.id == item && $0.container == damage.itemsContainer }, "\(subject) \(item): \(lost.entries)")
        }
        let edit = { (e: LiveDiff.Entry) in e.kind == damage.editedKind && e.id == damage.editedItem && e.change == .changed }
        #expect(lost.entries.contains(where: edit), "\(subject): \(lost.entries)")

        // Without --revert: what is gone comes back, the edit is left alone and said so.
        func restore(revert: Bool) async throws -> (RestoreReport, [SandboxEntityChange]) {
            let mark = await sandbox.writeMark()
            let report = try await RestoreJobs.restore(
                backup, connector: target, options: RestoreOptions(revert: revert), journalURL: journal, progress: .silent)
            let writes = await sandbox.writes(since: mark)
            #expect(writes.count == report.writeRequests, "\(subject): every write request is counted")
            return (report, writes.flatMap(\.changes))
        }
        let (first, changes) = try await restore(revert: false)
        #expect(first.plan.skipped.contains { edit($0.entry) }, "\(subject): \(first.plan.skipped)")
        #expect(!first.plan.steps.contains { $0.id == damage.editedItem })
        // What the restore itself created may move as it fills it (a comment posted to a task it created again).
        let made = Set(changes.filter { $0.action == .created }.map { "\($0.kind)/\($0.id)" })
        let others = changes.filter {
            $0.action != .created && $0.kind != "user" && !made.contains("\($0.kind)/\($0.id)") && !damage.mayTouch($0.id, revert: false)
        }
        #expect(others.isEmpty, "\(subject) changed what it did not put back: \(others)")
        #expect(changes.contains { $0.action == .created })
        let afterFirst = try await diff()
        #expect(afterFirst.entries.count == 1 && afterFirst.entries.allSatisfy(edit), "\(subject) still differs: \(afterFirst.entries.prefix(5))")

        // --revert: the edit is set back, nothing else is written.
        let (second, reverted) = try await restore(revert: true)
        #expect(second.plan.steps.map(\.id) == [damage.editedItem] && second.plan.steps.first?.action == .revert, "\(subject): \(second.plan.steps)")
        #expect(reverted.filter { !damage.mayTouch($0.id, revert: true) && $0.kind != "user" }.isEmpty, "\(subject): \(reverted)")
        let after = try await diff()
        #expect(after.isEmpty, "\(subject) still differs from the backup: \(after.entries.prefix(5))")

        let mark = await sandbox.writeMark()
        let again = try await RestoreJobs.restore(
            backup, connector: target, options: RestoreOptions(revert: true), journalURL: journal, progress: .silent)
        #expect(again.plan.steps.isEmpty && again.writeRequests == 0)
        #expect(await sandbox.writes(since: mark).isEmpty)
        await connector.shutdown()
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
        let diffs = try from.roundTripDifferences(
            sourceArchive: archive, targetArchive: out, journal: journal, notImported: second.notImported)
        #expect(diffs.isEmpty, "\(subject) after interrupt + rerun: \(diffs.prefix(5))")
        await from.shutdown()
        await to.shutdown()
        await source.stop()
        await target.stop()
    }
}
