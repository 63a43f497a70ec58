import Foundation
import KitbagCore
import Testing

@testable import KitbagArchive

@Suite("verify catches damaged and incomplete archives")
struct VerifyTests {
    static let target = "data/spaces/abc123/cards.jsonl"

    /// Flips one byte in the middle of the first occurrence of `needle` in `bytes`.
    func flip(_ bytes: inout Data, inside needle: String) throws {
        let range = try #require(bytes.range(of: Data(needle.utf8)))
        let index = range.lowerBound + needle.utf8.count / 2
        bytes[index] ^= 0x20
    }

    @Test("a flipped byte inside an entry's data is reported against that entry", arguments: ArchiveFormat.allCases)
    func flippedByte(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: format, in: folder)
            try writeSample(to: dest, format: format)
            let needle = "Card 17 ✓"
            switch format {
            case .tar:
                var bytes = try Data(contentsOf: url)
                try flip(&bytes, inside: needle)
                try bytes.write(to: url)
            case .tarGz, .tarZst:
                let tool = format == .tarGz ? "gzip" : "zstd"
                guard var plain = try runTool(tool, ["-dc", url.path])?.output else {
                    Issue.record("\(tool) is not installed; skipped")
                    return
                }
                try flip(&plain, inside: needle)
                let packed = try #require(try runTool(tool, format == .tarGz ? ["-nc"] : ["-qc"], input: plain))
                try packed.output.write(to: url)
            case .zip:
                // Flip a byte in the compressed data of the entry (its local header ends with its name).
                var bytes = try Data(contentsOf: url)
                let name = try #require(bytes.range(of: Data(Self.target.utf8)))
                let extraLength = Int(bytes[name.lowerBound - 4]) | Int(bytes[name.lowerBound - 3]) << 8
                bytes[name.upperBound + extraLength + 40] ^= 0x55
                try bytes.write(to: url)
            case .folder:
                let file = url.appendingPathComponent(Self.target)
                var bytes = try Data(contentsOf: file)
                try flip(&bytes, inside: needle)
                try bytes.write(to: file)
            }
            let report = ArchiveVerifier.verify(url)
            #expect(report.status != .whole)
            if format != .zip { #expect(report.status == .corrupt) }
            #expect(report.exitStatus != .success)
            #expect(report.problems.contains { $0.path == Self.target }, "\(report.problems)")
            #expect(throws: ArchiveError.self) { try SnapshotReader.open(url) }
        }
    }

    @Test("a truncated archive is not whole and the report names where it broke", arguments: ArchiveFormat.allCases.filter { $0 != .folder })
    func truncated(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: format, in: folder)
            try writeSample(to: dest, format: format)
            let bytes = try Data(contentsOf: url)
            try bytes.prefix(bytes.count / 2).write(to: url)
            let report = ArchiveVerifier.verify(url)
            #expect(report.status != .whole)
            #expect(report.exitStatus != .success)
            #expect(!report.problems.isEmpty)
            if format != .zip {
                // A stream cut in the middle of an entry names that entry.
                #expect(report.problems.contains { $0.path.hasPrefix("attachments/") }, "\(report.problems)")
            }
            let error = try #require(throws: ArchiveError.self) { try SnapshotReader.open(url) }
            #expect(error.exitStatus != .success)
        }
    }

    /// Bytes no tar reader looks at — an entry's block padding, the end-of-archive blocks, the record's zero
    /// fill — are zeros in what kitbag writes; a change there is a changed file, even though every entry reads
    /// back as written.
    @Test("a tar whose padding, end blocks or trailing fill changed is corrupt; one cut in its end blocks is cut short")
    func tarPadding() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tar, in: folder)
            try writeSample(to: dest, format: .tar)
            let original = try Data(contentsOf: url)
            #expect(ArchiveVerifier.verify(url).status == .whole)
            #expect(original.count % 10240 == 0, "libarchive fills the last 10 KiB record")

            // The first entry whose data does not fill its last block: flip a byte of its padding.
            let bytes = [UInt8](original)
            var offset = 0
            var target: (name: String, padding: Int)?
            while target == nil, offset + 512 <= bytes.count, bytes[offset..<(offset + 512)].contains(where: { $0 != 0 }) {
                let header = Array(bytes[offset..<(offset + 512)])
                let size = Int(try #require(TarLayout.size(header)))
                let dataEnd = offset + 512 + size
                if header[156] != UInt8(ascii: "x"), size % 512 != 0 { target = (TarLayout.name(header), dataEnd) }
                offset = offset + 512 + (size + 511) / 512 * 512
            }
            let (name, padding) = try #require(target)
            var padded = original
            padded[padding] = 0x20
            try padded.write(to: url)
            let r1 = ArchiveVerifier.verify(url)
            #expect(r1.status == .corrupt)
            #expect(r1.problems.contains { $0.path == name && $0.problem.contains("padding that is not zero") }, "\(name): \(r1.problems)")

            var trailing = original
            trailing[trailing.count - 100] = 0x41
            try trailing.write(to: url)
            let r2 = ArchiveVerifier.verify(url)
            #expect(r2.status == .corrupt)
            #expect(r2.problems.contains { $0.problem.contains("not zero after tar's end-of-archive blocks") }, "\(r2.problems)")

            // Cut after the entries but inside the two end blocks: every entry still reads.
            let lastData = try #require(original.lastIndex { $0 != 0 })
            let endStart = (lastData / 512 + 1) * 512
            try original.prefix(endStart + 700).write(to: url)
            let r3 = ArchiveVerifier.verify(url)
            #expect(r3.status != .whole)
            #expect(r3.problems.contains { $0.problem.contains("cut short") }, "\(r3.problems)")
        }
    }

    /// A zip keeps each entry's header twice — before the data and in the central directory — and a reader uses
    /// one of them; a change to the other copy is found by comparing the two.
    @Test("a zip whose central directory or data descriptor disagrees with the local header is corrupt, naming the entry")
    func zipCopiesDisagree() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .zip, in: folder)
            try writeSample(to: dest, format: .zip)
            let original = try Data(contentsOf: url)
            #expect(ArchiveVerifier.verify(url).status == .whole)
            let bytes = [UInt8](original)
            let central = try #require(bytes.firstRange(of: [0x50, 0x4B, 0x01, 0x02])?.lowerBound)
            let nameLength = Int(bytes[central + 28]) | Int(bytes[central + 29]) << 8
            let name = String(decoding: bytes[(central + 46)..<(central + 46 + nameLength)], as: UTF8.self)

            var renamed = original
            renamed[central + 46 + nameLength - 1] ^= 0x01  // the last letter of the name in the central copy
            try renamed.write(to: url)
            let r1 = ArchiveVerifier.verify(url)
            #expect(r1.status == .corrupt)
            #expect(r1.problems.contains { $0.problem.contains("disagree (name") }, "\(r1.problems)")

            // The first data descriptor's CRC (flag bit 3: sizes and CRC follow the data).
            let descriptor = try #require(bytes.firstRange(of: [0x50, 0x4B, 0x07, 0x08])?.lowerBound)
            var recrc = original
            recrc[descriptor + 5] ^= 0x10
            try recrc.write(to: url)
            let r2 = ArchiveVerifier.verify(url)
            #expect(r2.status == .corrupt)
            #expect(r2.problems.contains { $0.path == name && $0.problem.contains("data descriptor") }, "\(name): \(r2.problems)")
        }
    }

    /// The container checks hold kitbag's archives to what tar and zip tools write too: an archive extracted and
    /// packed again, in kitbag's entry order, by the common tools verifies whole.
    @Test("a tar or zip repacked by bsdtar, GNU tar or Info-ZIP from an extracted archive still verifies whole", arguments: [
        (ArchiveFormat.tar, "bsdtar -n -cf"), (.tar, "tar --no-recursion -cf"), (.zip, "bsdtar --format zip -n -cf"),
        (.zip, "zip -q -X"),
    ])
    func repacked(format: ArchiveFormat, command: String) throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: format, in: folder)
            try writeSample(to: dest, format: format)
            let out = folder.appendingPathComponent("x")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            guard try runTool("bsdtar", ["-xf", url.path, "-C", out.path])?.status == 0 else {
                Issue.record("bsdtar is not installed; skipped")
                return
            }
            // The entries in kitbag's order: kitbag.json first, manifest.json last.
            let listed = try #require(try runTool("bsdtar", ["-tf", url.path]))
            let names = String(decoding: listed.output, as: UTF8.self).split(separator: "\n").map(String.init)
                .filter { !$0.hasSuffix("/") }
            let repacked = folder.appendingPathComponent("repacked.\(format.fileExtension)")
            let script = "cd '\(out.path)' && \(command) '\(repacked.path)' " + names.map { "'\($0)'" }.joined(separator: " ")
            guard let made = try runTool("sh", ["-c", script]), made.status == 0 else {
                Issue.record("\(command) could not repack the archive (make deps installs the tools)")
                return
            }
            let report = ArchiveVerifier.verify(repacked)
            #expect(report.status == .whole, "\(command): \(report.problems)")
        }
    }

    @Test("an archive without manifest.json is incomplete (exit 3)")
    func missingManifest() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tar, in: folder)
            try writeSample(to: dest, format: .tar)
            let cut = folder.appendingPathComponent("cut.tar")
            try rewriteAsTar(url, to: cut) { $0.filter { $0.0 != ArchivePath.manifest } }
            let report = ArchiveVerifier.verify(cut)
            #expect(report.status == .incomplete)
            #expect(report.exitStatus == .incomplete)
            #expect(report.problems.map(\.path) == [ArchivePath.manifest])
            let error = try #require(throws: ArchiveError.self) { try SnapshotReader.open(cut) }
            #expect(error.exitStatus == .incomplete)
            #expect(error.description.contains("manifest.json"))
            #expect(try ArchiveInspector.summary(of: cut).manifestPresent == false)
        }
    }

    @Test("an abandoned folder write and a folder missing its manifest are incomplete")
    func folderWithoutManifest() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .folder, in: folder)
            try writeSample(to: dest, format: .folder)
            try FileManager.default.removeItem(at: url.appendingPathComponent(ArchivePath.manifest))
            #expect(ArchiveVerifier.verify(url).status == .incomplete)
        }
    }

    @Test("an entry after manifest.json is named")
    func entryAfterManifest() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tar, in: folder)
            try writeSample(to: dest, format: .tar)
            let extended = folder.appendingPathComponent("extended.tar")
            try rewriteAsTar(url, to: extended) { $0 + [("data/spaces/abc123/sneaky.jsonl", Data("{}\n".utf8))] }
            let report = ArchiveVerifier.verify(extended)
            #expect(report.status == .corrupt)
            #expect(report.problems.contains { $0.path == "data/spaces/abc123/sneaky.jsonl" && $0.problem.contains("after manifest.json") })
        }
    }

    @Test("an entry missing from the archive, an unlisted entry and a line-count mismatch are each named")
    func countMismatchAndMissing() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tar, in: folder)
            try writeSample(to: dest, format: .tar)
            let changed = folder.appendingPathComponent("changed.tar")
            try rewriteAsTar(url, to: changed) { entries in
                entries.compactMap { (path, data) -> (String, Data)? in
                    if path == "data/account/user.jsonl" { return nil }  // listed but missing
                    if path == ArchivePath.manifest {
                        var manifest = try! JSONDecoder().decode(Manifest.self, from: data)
                        let i = manifest.entries.firstIndex { $0.path == Self.target }!
                        manifest.entries[i].count = 49
                        manifest.counts["card"] = 50
                        return (path, try! SnapshotWriter.recordBytes(manifest))
                    }
                    return (path, data)
                }
            }
            let report = ArchiveVerifier.verify(changed)
            #expect(report.status == .corrupt)
            #expect(report.problems.contains { $0.path == Self.target && $0.problem.contains("holds 50 lines but manifest.json counts 49") })
            #expect(report.problems.contains { $0.path == "data/account/user.jsonl" && $0.problem.contains("missing") })
            #expect(report.summaryLine.hasPrefix("corrupt: "))
        }
    }

    @Test("manifest counts that do not add up are reported")
    func countsDoNotAddUp() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tar, in: folder)
            try writeSample(to: dest, format: .tar)
            let changed = folder.appendingPathComponent("changed.tar")
            try rewriteAsTar(url, to: changed) { entries in
                entries.map { path, data in
                    guard path == ArchivePath.manifest else { return (path, data) }
                    var manifest = try! JSONDecoder().decode(Manifest.self, from: data)
                    manifest.counts["card"] = 99
                    return (path, try! SnapshotWriter.recordBytes(manifest))
                }
            }
            let report = ArchiveVerifier.verify(changed)
            #expect(report.status == .corrupt)
            #expect(report.problems == [.init(path: ArchivePath.manifest, problem: "counts 99 card but its JSON Lines entries add up to 51")])
        }
    }

    @Test("an entry not listed in the manifest is named")
    func unlistedEntry() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tar, in: folder)
            try writeSample(to: dest, format: .tar)
            let changed = folder.appendingPathComponent("changed.tar")
            try rewriteAsTar(url, to: changed) { entries in
                var out = entries
                out.insert(("renderings/extra.md", Data("# extra\n".utf8)), at: 1)
                return out
            }
            let report = ArchiveVerifier.verify(changed)
            #expect(report.problems == [.init(path: "renderings/extra.md", problem: "is not listed in manifest.json")])
        }
    }

    @Test("a file that is not an archive is corrupt, not a crash")
    func notAnArchive() throws {
        try withTempFolder { folder in
            let url = folder.appendingPathComponent("junk.tar")
            try Data("this is not an archive at all".utf8).write(to: url)
            let report = ArchiveVerifier.verify(url)
            #expect(report.status == .corrupt)
            #expect(report.problems.first?.problem.contains(url.path) == true)
        }
    }
}
