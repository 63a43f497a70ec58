import Foundation
import KitbagCore
import KitbagTestSupport
import Testing

@testable import KitbagArchive

@Suite("Publishing is atomic")
struct PublishingTests {
    @Test("abandoning a write leaves the existing archive untouched and no temp files", arguments: ArchiveFormat.allCases)
    func abandonKeepsOldArchive(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: format, in: folder)
            try writeSample(to: dest, format: format)
            let before = format == .folder ? try fileTree(url) : ["": try Data(contentsOf: url)]

            let writer = try SnapshotWriter(destination: dest, format: format, info: sampleInfo(), snapshotTime: finishTime)
            try writer.writeJSONLines(container: .account, file: "user", kind: "user", values: [["id": "other"]])
            let spool = try writer.attachmentSpool()
            try spool.write(pseudoRandomBytes(6 << 20, seed: 7))  // spills to a temp file
            try writer.commit(spool)
            writer.abandon()

            let after = format == .folder ? try fileTree(url) : ["": try Data(contentsOf: url)]
            #expect(after == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [url.lastPathComponent])
            #expect(ArchiveVerifier.verify(url).status == .whole)
        }
    }

    @Test("a writer dropped without seal (a failed run) removes its partial output")
    func deinitWithoutSeal() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tarGz, in: folder)
            try Data("previous archive".utf8).write(to: url)
            do {
                let writer = try SnapshotWriter(destination: dest, format: .tarGz, info: sampleInfo(), snapshotTime: snapshotTime)
                try writer.writeJSONLines(container: .account, file: "user", kind: "user", values: [["id": "u"]])
                // A failing step: the same entry twice.
                #expect(throws: ArchiveError.self) {
                    try writer.writeJSONLines(container: .account, file: "user", kind: "user", values: [])
                }
            }
            #expect(try Data(contentsOf: url) == Data("previous archive".utf8))
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [url.lastPathComponent])
        }
    }

    @Test("seal replaces an existing archive of the same name with the new one")
    func sealReplaces() throws {
        try withTempFolder { folder in
            for format in [ArchiveFormat.zip, .folder] {
                let (dest, url) = destination(for: format, in: folder)
                try writeSample(to: dest, format: format)
                let writer = try SnapshotWriter(destination: dest, format: format, info: sampleInfo(), snapshotTime: finishTime)
                try writer.writeJSONLines(container: .account, file: "user", kind: "user", values: [["id": "new"]])
                try writer.seal(notExported: [], finishedAt: finishTime)
                let reader = try SnapshotReader.open(url)
                #expect(try reader.values(at: "data/account/user.jsonl") == [["id": "new"]])
                #expect(reader.manifest.entries.count == 2)
                reader.close()
            }
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder.path)) == ["snap.zip", "snap"])
        }
    }

    @Test("a sealed writer refuses further entries")
    func sealedRefuses() throws {
        try withTempFolder { folder in
            let (dest, _) = destination(for: .tar, in: folder)
            let writer = try SnapshotWriter(destination: dest, format: .tar, info: sampleInfo(), snapshotTime: snapshotTime)
            try writer.seal(notExported: [], finishedAt: finishTime)
            let error = try #require(throws: ArchiveError.self) { try writer.addFile(path: "late.md", data: Data()) }
            #expect(error.description.contains("sealed"))
        }
    }

    @Test("spools spill to the given spool folder and leave nothing behind")
    func spoolFolderClean() throws {
        try withTempFolder { folder in
            let spool = folder.appendingPathComponent("spool")
            let out = folder.appendingPathComponent("out")
            try FileManager.default.createDirectory(at: spool, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let (dest, url) = destination(for: .tarZst, in: out)
            try writeSample(to: dest, format: .tarZst, spool: spool)
            #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path) == [])
            #expect(ArchiveVerifier.verify(url).status == .whole)
        }
    }

    @Test("a file name infers its container kind")
    func inferFormat() throws {
        #expect(ArchiveFormat.infer(from: "a/b.tar.zst") == .tarZst)
        #expect(ArchiveFormat.infer(from: "b.TGZ") == .tarGz)
        #expect(ArchiveFormat.infer(from: "b.tar.gz") == .tarGz)
        #expect(ArchiveFormat.infer(from: "b.tar") == .tar)
        #expect(ArchiveFormat.infer(from: "b.zip") == .zip)
        #expect(ArchiveFormat.infer(from: "backups/") == .folder)
        #expect(ArchiveFormat.infer(from: FileManager.default.temporaryDirectory.path) == .folder)
        #expect(ArchiveFormat.infer(from: "b.rar") == nil)
        #expect(ArchiveFormat.tarZst.fileExtension == "tar.zst")
    }
}

@Suite("JSON Lines reading")
struct JSONLinesReadingTests {
    @Test("an archive with a malformed JSON line is refused, naming the entry and the line number")
    func malformedLineRefused() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tarGz, in: folder)
            let writer = try SnapshotWriter(destination: dest, format: .tarGz, info: sampleInfo(), snapshotTime: snapshotTime)
            try writer.addFile(path: "data/spaces/s1/cards.jsonl", data: Data("{\"id\":1}\n{\"id\":2}\n{\"id\": oops}\n{\"id\":4}\n".utf8))
            try writer.seal(notExported: [], finishedAt: finishTime)
            let report = ArchiveVerifier.verify(url)
            #expect(report.status == .corrupt)
            #expect(report.problems.count == 1)
            #expect(report.problems.first?.path == "data/spaces/s1/cards.jsonl")
            #expect(report.problems.first?.problem.hasPrefix("line 3 is not valid JSON") == true)
            let error = try #require(throws: ArchiveError.self) { try SnapshotReader.open(url) }
            #expect(error.description.contains("data/spaces/s1/cards.jsonl: line 3 is not valid JSON"))
        }
    }

    @Test("reading a malformed line throws an error naming the entry and the line number")
    func malformedLineWhileReading() throws {
        try withTempFolder { folder in
            let file = folder.appendingPathComponent("cards.jsonl")
            try Data("{\"id\":1}\n{\"id\":2}\n{\"id\": oops}\n".utf8).write(to: file)
            let lines = try JSONLinesSequence(url: file, entry: "data/spaces/s1/cards.jsonl")
            #expect(try lines.next() == ["id": 1])
            #expect(try lines.next() == ["id": 2])
            let error = try #require(throws: ArchiveError.self) { try lines.next() }
            #expect(error.description == "data/spaces/s1/cards.jsonl, line 3: not valid JSON (invalid JSON at byte 7: unexpected character); the archive is damaged")
        }
    }

    @Test("a final line without a newline is still read, and plain for-in iteration works")
    func lastLineWithoutNewline() throws {
        try withTempFolder { folder in
            let file = folder.appendingPathComponent("x.jsonl")
            try Data("[1]\n[2]".utf8).write(to: file)
            #expect(Array(try JSONLinesSequence(url: file, entry: "x.jsonl")) == [[1], [2]])
        }
    }

    @Test("lines stream with for-try-await across spool chunk boundaries")
    func asyncIteration() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-archive-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { Scratch.remove(folder) }
        let (dest, url) = destination(for: .tar, in: folder)
        let writer = try SnapshotWriter(destination: dest, format: .tar, info: sampleInfo(), snapshotTime: snapshotTime)
        let values: [JSONValue] = (0..<20_000).map { ["id": .int($0), "text": .string(String(repeating: "é", count: $0 % 97))] }
        try writer.writeJSONLines(container: ContainerRef(kind: "apps", id: "7"), file: "records", kind: "record", values: values)
        try writer.seal(notExported: [], finishedAt: finishTime)
        let reader = try SnapshotReader.open(url)
        defer { reader.close() }
        var read: [JSONValue] = []
        for try await value in try reader.lines(at: "data/apps/7/records.jsonl") { read.append(value) }
        #expect(read == values)
        #expect(reader.manifest.counts == ["record": 20_000])
    }

    @Test("a closed reader removes its temp folder")
    func closeRemovesTemp() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tar, in: folder)
            try writeSample(to: dest, format: .tar)
            let work = folder.appendingPathComponent("work")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            let reader = try SnapshotReader.open(url, workDirectory: work)
            #expect(try FileManager.default.contentsOfDirectory(atPath: work.path).count == 1)
            reader.close()
            #expect(try FileManager.default.contentsOfDirectory(atPath: work.path) == [])
        }
    }
}
