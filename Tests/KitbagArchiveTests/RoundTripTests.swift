import Foundation
import KitbagCore
import Testing

@testable import KitbagArchive

@Suite("Round trip through every container kind")
struct RoundTripTests {
    @Test("what SnapshotWriter writes, SnapshotReader reads back equal", arguments: ArchiveFormat.allCases)
    func roundTrip(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let content = sampleContent()
            let (dest, url) = destination(for: format, in: folder)
            let (manifest, stored) = try writeSample(content, to: dest, format: format)

            // The duplicate attachment is stored once and reported with the same address.
            #expect(stored[0] == stored[2])
            #expect(stored[0].path == ArchivePath.attachment(sha256: stored[0].sha256))
            #expect(manifest.entries.filter { $0.path.hasPrefix("attachments/") }.count == 2)
            #expect(manifest.counts == ["user": 1, "space": 2, "card": 51])
            #expect(manifest.entries.first?.path == ArchivePath.info)

            let report = ArchiveVerifier.verify(url)
            #expect(report.status == .whole, "\(report.problems)")
            #expect(report.exitStatus == .success)
            #expect(report.entriesChecked == manifest.entries.count + 1)

            let reader = try SnapshotReader.open(url)
            defer { reader.close() }
            #expect(reader.info == sampleInfo())
            #expect(reader.manifest == manifest)
            #expect(reader.jsonLinesEntries().map(\.path) == content.lines.map(\.path))
            for group in content.lines {
                #expect(try reader.values(at: group.path) == group.values, "\(group.path)")
            }
            for (data, address) in zip(content.attachments, stored) {
                let file = try #require(reader.attachmentURL(sha256: address.sha256))
                #expect(try Data(contentsOf: file) == data)
            }
            for file in content.files {
                #expect(try Data(contentsOf: reader.fileURL(file.path)) == file.data)
            }
            #expect(reader.attachmentURL(sha256: String(repeating: "0", count: 64)) == nil)

            let summary = try ArchiveInspector.summary(of: url)
            #expect(summary.format == format)
            #expect(summary.manifestPresent)
            #expect(summary.counts == manifest.counts)
            #expect(summary.info == sampleInfo())
            #expect(summary.entryCount == manifest.entries.count + 1)
        }
    }

    @Test("the JSON Lines for non-ASCII and percent-encoded ids live in percent-encoded folders")
    func containerFolders() throws {
        let content = sampleContent()
        #expect(content.lines[3].path == "data/spaces/%E6%97%A5%E6%9C%AC%E8%AA%9E%20space%2F1/space.jsonl")
        #expect(content.lines[5].path == "data/spaces/100%25done../cards.jsonl")
    }

    @Test("bsdtar and GNU tar list exactly the entries kitbag wrote", arguments: [ArchiveFormat.tar, .tarGz, .tarZst])
    func externalTarTools(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: format, in: folder)
            let (manifest, _) = try writeSample(to: dest, format: format)
            let expected = expectedPaths(manifest)

            if let bsdtar = try runTool("bsdtar", ["-tf", url.path]) {
                #expect(bsdtar.status == 0)
                #expect(lines(bsdtar.output) == expected)
            } else {
                Issue.record("bsdtar is not installed; skipped the bsdtar listing")
            }
            let gnuArguments = (format == .tarZst ? ["--zstd"] : []) + ["--quoting-style=literal", "-tf", url.path]
            if let gnu = try runTool("tar", gnuArguments) {
                #expect(gnu.status == 0)
                #expect(lines(gnu.output) == expected)
            } else {
                Issue.record("GNU tar is not installed; skipped the GNU tar listing")
            }
            // GNU tar extracts the content byte for byte.
            let out = folder.appendingPathComponent("gnu-extract")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let extractArguments = (format == .tarZst ? ["--zstd"] : []) + ["-xf", url.path, "-C", out.path]
            if let result = try runTool("tar", extractArguments) {
                #expect(result.status == 0)
                let tree = try fileTree(out)
                #expect(Set(tree.keys) == Set(expected))
                #expect(tree["renderings/spaces/Café ☕.md"] == Data("# Café ☕\n".utf8))
            }
        }
    }

    @Test("unzip lists exactly the entries kitbag wrote and checks their CRCs")
    func externalUnzip() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .zip, in: folder)
            let (manifest, _) = try writeSample(to: dest, format: .zip)
            guard let listing = try runTool("unzip", ["-Z1", url.path]) else {
                Issue.record("unzip is not installed; skipped the unzip listing")
                return
            }
            #expect(listing.status == 0)
            #expect(lines(listing.output) == expectedPaths(manifest))
            let test = try #require(try runTool("unzip", ["-tq", url.path]))
            #expect(test.status == 0)
        }
    }

    @Test("the folder kind holds exactly the manifest's files, with 0644 files and the snapshot time as mtime")
    func folderTree() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .folder, in: folder)
            let (manifest, _) = try writeSample(to: dest, format: .folder)
            #expect(Set(try fileTree(url).keys) == Set(expectedPaths(manifest)))
            let attributes = try FileManager.default.attributesOfItem(atPath: url.appendingPathComponent("kitbag.json").path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o644)
            #expect((attributes[.modificationDate] as? Date) == snapshotTime)
            // Only the published folder remains: no staging or spool files beside it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["snap"])
        }
    }

    @Test("kitbag.json is the first entry and manifest.json the last, both sorted-key JSON")
    func recordsFirstAndLast() throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: .tar, in: folder)
            try writeSample(to: dest, format: .tar)
            let reader = try ArchiveReader(url: url)
            var names: [String] = []
            var first = Data()
            while let header = try reader.next() {
                if names.isEmpty { first = try reader.readAll(limit: 1 << 20) }
                names.append(header.path)
            }
            #expect(names.first == "kitbag.json")
            #expect(names.last == "manifest.json")
            let text = String(decoding: first, as: UTF8.self)
            #expect(text.hasSuffix("}\n"))
            let keys = ["format", "formatVersion", "kitbagVersion", "renderings", "service", "source", "startedAt"]
            let positions = keys.map { text.range(of: "\"\($0)\"")!.lowerBound }
            #expect(positions == positions.sorted())
        }
    }
}
