import Foundation
import KitbagCore
import KitbagTestSupport
import Testing

@testable import KitbagArchive

/// Random single-byte flips and truncations of real archives of every kind.
///
/// What kitbag promises, and what these tests assert for every mutation:
/// 1. `verify` returns (never crashes or hangs) and, unless it says whole, reports at least one problem.
/// 2. A flip or cut inside an entry's stored data is named: the report lists that entry.
///    (tar and zip: the data ranges are read from the container's own headers; folder: the file.)
/// 3. Every entry that reads back with bytes different from what was written is named.
/// 4. `whole` means the content is unchanged: every entry other than `manifest.json` reads back byte for
///    byte as written. A flip verify may accept is one that changes no entry: ignored gzip/zip/zstd
///    header fields, a checksum field's terminator, the unused bits
///    at the end of a deflate stream. A truncation may pass only if it cut nothing but trailing padding.
///    `manifest.json` is the root of trust and carries no checksum of its own: a flip there is caught
///    when it changes anything verify checks (format, version, service, paths, sizes, digests, counts),
///    and may pass when it changes only `finishedAt`, the `notExported` text, the letter case of a hex
///    digest or JSON whitespace; such a pass is asserted to be exactly that.
@Suite("Random flips and truncations of every archive kind are caught", .serialized)
struct CorruptionTests {
    static let flips = Proof.count(full: 100, short: 8)
    static let truncations = Proof.count(full: 20, short: 3)

    /// A realistic, small archive: account data, three containers, three attachments (one binary), a rendering.
    /// Small so that headers, the zip central directory and the manifest are a fair share of the bytes.
    static func content() -> SampleContent {
        var content = sampleContent()
        content.attachments = [
            Data("hello attachment".utf8), pseudoRandomBytes(12_000, seed: 7), Data("a second, different attachment\n".utf8),
        ]
        content.files.append(("renderings/spaces/abc123.rss", Data("<rss version=\"2.0\"><channel/></rss>\n".utf8)))
        return content
    }

    /// One archive mutation and everything needed to judge the verdict.
    struct Mutation: CustomStringConvertible {
        var format: ArchiveFormat
        var label: String
        /// Byte offset of a flip, or length of a cut.
        var position: Int
        /// The entry whose stored data holds the position (nil: a header, padding, compressed stream, …).
        var damagedEntry: String?
        var description: String {
            "\(format.rawValue) \(label) at byte \(position)\(damagedEntry.map { " (inside '\($0)')" } ?? ""), \(Proof.replay)"
        }
    }

    /// What each kind of run found, printed so `make proof` shows the figures.
    struct Tally {
        var caught = 0
        var wholeUnchanged = 0
        var wholeManifestText = 0
        var summary: String {
            "\(caught) caught, \(wholeUnchanged) changed no entry (whole), \(wholeManifestText) changed only unchecked manifest text (whole)"
        }
    }

    @Test("random single-byte flips anywhere in the file", .timeLimit(.minutes(10)), arguments: ArchiveFormat.allCases)
    func flips(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: format, in: folder, name: "original")
            try writeSample(Self.content(), to: dest, format: format)
            let original = try ReadBack(url)
            try #require(original.failure == nil, "the unmutated archive must read back: \(original.failure ?? "")")
            try #require(ArchiveVerifier.verify(url).status == .whole)
            var random = Proof.generator("flip-\(format.rawValue)")
            var tally = Tally()

            if format == .folder {
                let files = try folderFiles(url)
                let total = files.reduce(0) { $0 + $1.size }
                for n in 0..<Self.flips {
                    let copy = folder.appendingPathComponent("flip-\(n)")
                    try FileManager.default.copyItem(at: url, to: copy)
                    defer { Scratch.remove(copy) }
                    var offset = Int.random(in: 0..<total, using: &random)
                    let file = files.first { f in
                        if offset < f.size { return true }
                        offset -= f.size
                        return false
                    }!
                    let target = copy.appendingPathComponent(file.path)
                    var bytes = try Data(contentsOf: target)
                    let mask = UInt8.random(in: 1...255, using: &random)
                    bytes[offset] ^= mask
                    try bytes.write(to: target)
                    let mutation = Mutation(
                        format: format, label: "flip #\(n) (xor 0x\(String(mask, radix: 16)))", position: offset,
                        damagedEntry: file.path)
                    judge(copy, mutation, original: original, tally: &tally)
                }
            } else {
                let bytes = try Data(contentsOf: url)
                let layout = try dataRanges(of: bytes, format: format, entries: original.entries.map(\.path))
                for n in 0..<Self.flips {
                    let copy = folder.appendingPathComponent("flip-\(n).\(format.fileExtension)")
                    var changed = bytes
                    let offset = Int.random(in: 0..<bytes.count, using: &random)
                    let mask = UInt8.random(in: 1...255, using: &random)
                    changed[offset] ^= mask
                    try changed.write(to: copy)
                    defer { Scratch.remove(copy) }
                    let mutation = Mutation(
                        format: format, label: "flip #\(n) (xor 0x\(String(mask, radix: 16)))", position: offset,
                        damagedEntry: layout.first { $0.range.contains(offset) }?.path)
                    judge(copy, mutation, original: original, tally: &tally)
                }
            }
            #expect(tally.caught + tally.wholeUnchanged + tally.wholeManifestText == Self.flips)
            print("corruption \(format.rawValue): \(Self.flips) flips — \(tally.summary); \(Proof.replay)")
        }
    }

    @Test("random truncations", .timeLimit(.minutes(10)), arguments: ArchiveFormat.allCases)
    func truncations(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let (dest, url) = destination(for: format, in: folder, name: "original")
            try writeSample(Self.content(), to: dest, format: format)
            let original = try ReadBack(url)
            try #require(original.failure == nil)
            var random = Proof.generator("cut-\(format.rawValue)")
            var tally = Tally()

            if format == .folder {
                // A folder is cut file by file: a random non-empty file loses a random tail.
                let files = try folderFiles(url).filter { $0.size > 0 }
                for n in 0..<Self.truncations {
                    let copy = folder.appendingPathComponent("cut-\(n)")
                    try FileManager.default.copyItem(at: url, to: copy)
                    defer { Scratch.remove(copy) }
                    let file = files.randomElement(using: &random)!
                    let length = Int.random(in: 0..<file.size, using: &random)
                    let target = copy.appendingPathComponent(file.path)
                    try Data(contentsOf: target).prefix(length).write(to: target)
                    judge(copy, Mutation(format: format, label: "cut #\(n)", position: length, damagedEntry: file.path),
                        original: original, tally: &tally)
                }
            } else {
                let bytes = try Data(contentsOf: url)
                let layout = try dataRanges(of: bytes, format: format, entries: original.entries.map(\.path))
                for n in 0..<Self.truncations {
                    let copy = folder.appendingPathComponent("cut-\(n).\(format.fileExtension)")
                    let length = Int.random(in: 0..<bytes.count, using: &random)
                    try bytes.prefix(length).write(to: copy)
                    defer { Scratch.remove(copy) }
                    // A cut strictly inside an entry's data damages that entry.
                    let inside = layout.first { $0.range.lowerBound < length && length < $0.range.upperBound }?.path
                    judge(copy, Mutation(format: format, label: "cut #\(n)", position: length, damagedEntry: inside),
                        original: original, tally: &tally)
                }
            }
            #expect(tally.caught + tally.wholeUnchanged == Self.truncations, "a truncation changed only manifest text?")
            print("corruption \(format.rawValue): \(Self.truncations) truncations — \(tally.summary); \(Proof.replay)")
        }
    }

    // MARK: - Judging one mutation

    func judge(_ url: URL, _ mutation: Mutation, original: ReadBack, tally: inout Tally) {
        let report = ArchiveVerifier.verify(url)
        let back = try? ReadBack(url)
        for problem in report.problems {
            #expect(!problem.problem.contains("\n") && !problem.path.contains("\n"), "\(mutation): a problem spans lines: \(problem)")
        }
        func named(_ path: String) -> Bool {
            report.problems.contains { $0.path == path || $0.problem.contains("'\(path)'") }
        }

        if report.status == .whole {
            #expect(report.problems.isEmpty, "\(mutation)")
            guard let back, back.failure == nil else {
                Issue.record("\(mutation): verify says whole but the archive does not read back: \(back?.failure ?? "cannot open")")
                return
            }
            let before = original.entries.filter { $0.path != ArchivePath.manifest }
            let after = back.entries.filter { $0.path != ArchivePath.manifest }
            #expect(after.map(\.path) == before.map(\.path), "\(mutation): whole, but the entries differ")
            for (a, b) in zip(before, after) where a.path == b.path {
                #expect(a.data == b.data, "\(mutation): whole, but '\(a.path)' changed")
            }
            let manifestBefore = original.manifest
            let manifestAfter = back.manifest
            if manifestBefore == manifestAfter {
                tally.wholeUnchanged += 1
            } else {
                // Only what verify does not check may differ.
                #expect(
                    normalised(manifestBefore) == normalised(manifestAfter),
                    "\(mutation): whole, but manifest.json changed in a field verify should check")
                tally.wholeManifestText += 1
            }
            // In tar and folder archives every byte of an entry's data is content, so a flip there must not pass.
            // A zip entry's data is a deflate stream whose last byte may end in unused padding bits; a flip there
            // changes no content, and the byte-for-byte comparison above is what decides.
            if mutation.format != .zip {
                #expect(mutation.damagedEntry == nil || mutation.damagedEntry == ArchivePath.manifest,
                    "\(mutation): the entry's data was changed, yet verify says whole")
            }
            return
        }

        tally.caught += 1
        #expect(report.exitStatus != .success, "\(mutation)")
        #expect(!report.problems.isEmpty, "\(mutation): not whole, yet no problem is named")
        if let damaged = mutation.damagedEntry, damaged != ArchivePath.manifest {
            #expect(named(damaged), "\(mutation): '\(damaged)' is not named in \(report.problems)")
        }
        guard let back else { return }
        // Without a readable manifest there is nothing to compare entries with (a flip early in a deflate stream
        // can garble every entry after it, the manifest too; libarchive does not check gzip's CRC): verify must
        // then say the manifest is unreadable, and cannot name the others.
        if report.problems.contains(where: { $0.path == ArchivePath.manifest && $0.problem.hasPrefix("is not a valid manifest record") }) {
            return
        }
        let written = Dictionary(original.entries.map { ($0.path, $0.data) }, uniquingKeysWith: { a, _ in a })
        for entry in back.entries where entry.path != ArchivePath.manifest {
            if let data = written[entry.path], data != entry.data {
                #expect(named(entry.path), "\(mutation): '\(entry.path)' reads back changed but is not named in \(report.problems)")
            }
        }
        if let failed = back.failedEntry, failed != ArchivePath.manifest {
            #expect(named(failed), "\(mutation): '\(failed)' cannot be read but is not named in \(report.problems)")
        }
    }

    /// The manifest with the fields verify does not check cleared, and digests in lower case.
    func normalised(_ manifest: Manifest?) -> Manifest? {
        guard var manifest else { return nil }
        manifest.finishedAt = ""
        manifest.notExported = []
        for i in manifest.entries.indices { manifest.entries[i].sha256 = manifest.entries[i].sha256.lowercased() }
        return manifest
    }

    // MARK: - Where entries' data lives

    struct DataRange {
        var path: String
        var range: Range<Int>
    }

    func dataRanges(of bytes: Data, format: ArchiveFormat, entries: [String]) throws -> [DataRange] {
        switch format {
        case .tar: return try tarRanges(Array(bytes), entries: entries)
        case .zip: return try zipRanges(Array(bytes))
        case .tarGz, .tarZst, .folder: return []  // compressed: positions do not map to entries
        }
    }

    /// Data ranges of a tar's regular entries, in order, from the ustar headers (pax headers skipped).
    func tarRanges(_ b: [UInt8], entries: [String]) throws -> [DataRange] {
        var ranges: [Range<Int>] = []
        var offset = 0
        while offset + 512 <= b.count, b[offset..<(offset + 512)].contains(where: { $0 != 0 }) {
            let sizeField = b[(offset + 124)..<(offset + 136)].prefix { $0 >= 0x30 && $0 <= 0x37 }
            let size = try #require(Int(String(decoding: sizeField, as: UTF8.self), radix: 8))
            let type = b[offset + 156]
            let start = offset + 512
            if type != UInt8(ascii: "x"), type != UInt8(ascii: "g") { ranges.append(start..<(start + size)) }
            offset = start + (size + 511) / 512 * 512
        }
        try #require(ranges.count == entries.count, "tar headers and entries disagree")
        return zip(entries, ranges).map { DataRange(path: $0, range: $1) }
    }

    /// Data ranges of a zip's entries, from its central directory.
    func zipRanges(_ b: [UInt8]) throws -> [DataRange] {
        func u16(_ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        let end = try #require(stride(from: b.count - 22, through: 0, by: -1).first {
            b[$0] == 0x50 && b[$0 + 1] == 0x4B && b[$0 + 2] == 5 && b[$0 + 3] == 6
        })
        var at = u32(end + 16)
        var out: [DataRange] = []
        for _ in 0..<u16(end + 10) {
            try #require(u32(at) == 0x0201_4B50, "central directory entry expected at \(at)")
            let compressed = u32(at + 20)
            let nameLength = u16(at + 28)
            let name = String(decoding: b[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            let local = u32(at + 42)
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            if !name.hasSuffix("/") { out.append(DataRange(path: name, range: start..<(start + compressed))) }
            at += 46 + nameLength + u16(at + 30) + u16(at + 32)
        }
        return out
    }

    /// Regular files of a folder archive, in a fixed order.
    func folderFiles(_ root: URL) throws -> [(path: String, size: Int)] {
        try fileTree(root).map { ($0.key, $0.value.count) }.sorted { $0.path < $1.path }
    }
}

/// An archive read entry by entry with the plain reader (no manifest checks), stopping at the first failure.
struct ReadBack {
    struct Entry {
        var path: String
        var data: Data
    }
    var entries: [Entry] = []
    /// Why reading stopped early, if it did.
    var failure: String?
    /// The entry being read when it failed (nil when a header or the archive itself failed).
    var failedEntry: String?

    var manifest: Manifest? {
        entries.last { $0.path == ArchivePath.manifest }.flatMap { try? JSONDecoder().decode(Manifest.self, from: $0.data) }
    }

    init(_ url: URL) throws {
        let reader: ArchiveReader
        do {
            reader = try ArchiveReader(url: url)
        } catch {
            failure = "\(error)"
            return
        }
        defer { reader.close() }
        while true {
            let header: ArchiveEntryHeader
            do {
                guard let next = try reader.next() else { return }
                header = next
            } catch {
                failure = "\(error)"
                return
            }
            guard header.type == .file else { continue }
            do {
                entries.append(Entry(path: header.path, data: try reader.readAll(limit: 64 << 20)))
            } catch {
                failure = "\(error)"
                failedEntry = header.path
                return
            }
        }
    }
}
