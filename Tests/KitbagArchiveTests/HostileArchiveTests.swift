import Foundation
import KitbagCore
import Testing

@testable import KitbagArchive

@Suite("Hostile archives are refused")
struct HostileArchiveTests {
    struct Case: Sendable, CustomStringConvertible {
        var label: String
        var named: String
        var build: @Sendable (URL) throws -> Void
        var description: String { label }
    }

    static let marker = "kitbag-hostile-\(UUID().uuidString.prefix(8))"
    static let benign = RawEntry("kitbag.json", Data("{}\n".utf8))

    static let cases: [Case] = [
        Case(label: "parent climb ../x", named: "../\(marker)") { url in
            try buildTar([benign, RawEntry("../\(marker)", Data("escaped".utf8))], to: url)
        },
        Case(label: "absolute /etc/x", named: "/etc/\(marker)") { url in
            try buildTar([benign, RawEntry("/etc/\(marker)", Data("escaped".utf8))], to: url)
        },
        Case(label: "nested climb a/../../x", named: "a/../../\(marker)") { url in
            try buildTar([benign, RawEntry("a/../../\(marker)", Data("escaped".utf8))], to: url)
        },
        Case(label: "symlink", named: "data/link") { url in
            var link = RawEntry("data/link")
            link.type = 0o120000
            link.symlink = "/etc/passwd"
            try buildTar([benign, link, RawEntry("data/link/x", Data("through the link".utf8))], to: url)
        },
        Case(label: "hard link", named: "data/hard") { url in
            var link = RawEntry("data/hard")
            link.hardlink = "/etc/passwd"
            try buildTar([benign, link], to: url)
        },
        Case(label: "character device", named: "data/null") { url in
            var device = RawEntry("data/null")
            device.type = 0o020000
            try buildTar([benign, device], to: url)
        },
        Case(label: "FIFO", named: "data/pipe") { url in
            var fifo = RawEntry("data/pipe")
            fifo.type = 0o010000
            try buildTar([benign, fifo], to: url)
        },
        Case(label: "absurd declared size", named: "data/huge.jsonl") { url in
            var bytes = ustarHeader(name: "data/huge.jsonl", octalSize: "77777777777")
            bytes += [UInt8](repeating: 0x7B, count: 4096)
            try Data(bytes).write(to: url)
        },
        // Found by the fuzz-corpus mutations (Fuzz/regressions/archive/path-with-newline.zip).
        Case(label: "newline in a name", named: "data\\x0Aevil.jsonl") { url in
            try buildTar([benign, RawEntry("data\nevil.jsonl", Data("{}\n".utf8))], to: url)
        },
        Case(label: "invalid UTF-8 name", named: "bad\\xFF\\xFEname.jsonl") { url in
            try buildTar([benign, RawEntry(rawName: Array("bad".utf8) + [0xFF, 0xFE] + Array("name.jsonl".utf8), Data("{}\n".utf8))], to: url)
        },
    ]

    @Test("SafeExtractor refuses the entry, names it, and writes nothing outside (or inside) the target", arguments: cases)
    func refused(hostile: Case) throws {
        try withTempFolder { folder in
            let archive = folder.appendingPathComponent("hostile.tar")
            try hostile.build(archive)
            let sandbox = folder.appendingPathComponent("sandbox")
            let target = sandbox.appendingPathComponent("target")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)

            let error = try #require(throws: ArchiveError.self) { try SafeExtractor.extract(archive, to: target) }
            #expect(error.description.contains(hostile.named), "\(error)")
            #expect(!error.description.contains("\n"))

            #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.path) == ["target"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == [])
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent(Self.marker).path))
            #expect(!FileManager.default.fileExists(atPath: "/etc/\(Self.marker)"))
            #expect(!FileManager.default.fileExists(atPath: FileManager.default.temporaryDirectory.appendingPathComponent(Self.marker).path))

            // verify and import refuse it too, naming the entry.
            let report = ArchiveVerifier.verify(archive)
            #expect(report.status == .corrupt)
            #expect(report.problems.contains { $0.problem.contains(hostile.named) || $0.path.contains(hostile.named) }, "\(report.problems)")
            #expect(throws: ArchiveError.self) { try SnapshotReader.open(archive) }
        }
    }

    @Test("a declared size over the configured limit is refused before any data is read")
    func sizeLimit() throws {
        try withTempFolder { folder in
            let archive = folder.appendingPathComponent("big.tar")
            try buildTar([Self.benign, RawEntry("data/big.bin", Data(count: 10_000))], to: archive)
            let limits = ArchiveLimits(maxEntrySize: 4096, maxTotalSize: 1 << 20, maxEntries: 100)
            let reader = try ArchiveReader(url: archive, limits: limits)
            _ = try reader.next()
            let error = try #require(throws: ArchiveError.self) { try reader.next() }
            #expect(error.description.contains("data/big.bin"))
            #expect(error.description.contains("4096"))
        }
    }

    /// A zip bomb: 64 MiB of zeros packed into a few dozen KiB, once with sizes in the local header and once
    /// written to a pipe (sizes only in a trailing data descriptor, so nothing is declared up front).
    @Test("a zip bomb is refused at the size limit, declared or not, and nothing past it is written", arguments: [false, true])
    func zipBomb(streamed: Bool) throws {
        try withTempFolder { folder in
            let source = folder.appendingPathComponent("src/data")
            try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
            let big = source.appendingPathComponent("bomb.bin")
            _ = FileManager.default.createFile(atPath: big.path, contents: nil)
            let handle = try FileHandle(forWritingTo: big)
            try handle.truncate(atOffset: 64 << 20)
            try handle.close()
            let bomb = folder.appendingPathComponent("bomb.zip")
            let script = streamed
                ? "cd '\(folder.path)/src' && bsdtar --format zip -cf - data | cat > '\(bomb.path)'"
                : "cd '\(folder.path)/src' && bsdtar --format zip -cf '\(bomb.path)' data"
            guard let made = try runTool("sh", ["-c", script]), made.status == 0 else {
                Issue.record("bsdtar is not installed; skipped")
                return
            }
            let packed = try #require(try FileManager.default.attributesOfItem(atPath: bomb.path)[.size] as? Int)
            #expect(packed < 1 << 20, "the bomb is small: \(packed) bytes")
            let out = folder.appendingPathComponent("out")
            let limits = ArchiveLimits(maxEntrySize: 1 << 20, maxTotalSize: 2 << 20, maxEntries: 100)
            let error = try #require(throws: ArchiveError.self) { try SafeExtractor.extract(bomb, to: out, limits: limits) }
            #expect(error.description.contains("bomb.bin"), "\(error)")
            let written = (FileManager.default.enumerator(at: out, includingPropertiesForKeys: [.fileSizeKey])?.allObjects as? [URL] ?? [])
                .compactMap { try? $0.resourceValues(forKeys: [.fileSizeKey]).fileSize }.reduce(0, +)
            #expect(written <= 2 << 20, "no more than the limit reaches the disk: \(written) bytes")
        }
    }

    @Test("more entries than the limit are refused")
    func entryLimit() throws {
        try withTempFolder { folder in
            let archive = folder.appendingPathComponent("many.tar")
            try buildTar((0..<5).map { RawEntry("f\($0)", Data("x".utf8)) }, to: archive)
            let error = try #require(throws: ArchiveError.self) {
                try SafeExtractor.extract(archive, to: folder.appendingPathComponent("out"), limits: ArchiveLimits(maxEntries: 3))
            }
            #expect(error.description.contains("f3"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("out").path) == [])
        }
    }

    @Test("a symlink inside a folder archive is refused")
    func folderSymlink() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .folder, in: folder)
            try writeSample(to: dest, format: .folder)
            try FileManager.default.createSymbolicLink(
                atPath: url.appendingPathComponent("data/evil").path, withDestinationPath: "/etc")
            let report = ArchiveVerifier.verify(url)
            #expect(report.status == .corrupt)
            #expect(report.problems.contains { $0.path == "data/evil" }, "\(report.problems)")
        }
    }

    @Test("a well-formed archive extracts into place")
    func benignExtract() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tarZst, in: folder)
            let (manifest, _) = try writeSample(to: dest, format: .tarZst)
            let target = folder.appendingPathComponent("out")
            try SafeExtractor.extract(url, to: target)
            #expect(Set(try fileTree(target).keys) == Set(expectedPaths(manifest)))
        }
    }

    @Test("writing refuses unsafe and duplicate paths")
    func writerRefusesBadPaths() throws {
        try withTempFolder { folder in
            let (dest, _) = destination(for: .tar, in: folder)
            let writer = try SnapshotWriter(destination: dest, format: .tar, info: sampleInfo(), snapshotTime: snapshotTime)
            for bad in ["../x", "/abs", "a//b", "a/./b", "", "manifest.json", "a\u{0}b"] {
                #expect(throws: ArchiveError.self, "\(bad)") { try writer.addFile(path: bad, data: Data()) }
            }
            try writer.addFile(path: "notes/a.md", data: Data("a".utf8))
            #expect(throws: ArchiveError.self) { try writer.addFile(path: "notes/a.md", data: Data("b".utf8)) }
            writer.abandon()
        }
    }
}
