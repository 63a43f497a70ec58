import Foundation
import KitbagCore
import Testing

@testable import KitbagArchive

/// Proof of corruption detection: seeded random single-byte flips anywhere in an archive file (headers, data,
/// compressed stream, zip directory) and random truncations, for every archive kind. 8 flips and 3 truncations
/// per kind in CI; 100 and 20 with KITBAG_PROOF=1 (`make proof`).
///
/// The promise checked: `verify` never calls a damaged archive whole unless the damage changed no byte of any entry
/// (a flip in tar padding or an unused header field, say — then bsdtar extracts exactly the original files), and it
/// never crashes or hangs on one. A truncated archive is never whole.
@Suite("proof: verify catches random flips and truncations")
struct CorruptionProofTests {
    static var proof: Bool { ProcessInfo.processInfo.environment["KITBAG_PROOF"].map { !$0.isEmpty && $0 != "0" } == true }
    static var flips: Int { proof ? 100 : 8 }
    static var truncations: Int { proof ? 20 : 3 }

    /// SplitMix64: the same positions on every machine; the seed is in every failure message.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    /// The archive's files as bsdtar extracts them (path → bytes), nil when bsdtar refuses the archive.
    static func extracted(_ url: URL, format: ArchiveFormat) throws -> [String: Data]? {
        let root: URL
        var cleanup: URL?
        if format == .folder {
            root = url
        } else {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-proof-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            cleanup = dir
            guard let run = try runTool("bsdtar", ["-xf", url.path, "-C", dir.path]), run.status == 0 else {
                try? FileManager.default.removeItem(at: dir)
                return nil
            }
            root = dir
        }
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        var files: [String: Data] = [:]
        let base = root.resolvingSymlinksInPath().path + "/"
        if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let file as URL in walker where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                let path = String(file.resolvingSymlinksInPath().path.dropFirst(base.count))
                files[path] = try Data(contentsOf: file)
            }
        }
        return files
    }

    static func copy(_ from: URL, to: URL) throws {
        try? FileManager.default.removeItem(at: to)
        try FileManager.default.copyItem(at: from, to: to)
    }

    /// The file a flip or cut goes into: the archive, or one file of a folder archive.
    static func victim(_ url: URL, format: ArchiveFormat, _ random: inout Random) throws -> URL {
        guard format == .folder else { return url }
        let files = (FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true && ((try? Data(contentsOf: $0).count) ?? 0) > 0 }
            .sorted { $0.path < $1.path }
        return files[random.below(files.count)]
    }

    @Test("random single-byte flips: never whole unless no entry changed", arguments: ArchiveFormat.allCases)
    func flips(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let (dest, original) = destination(for: format, in: folder, name: "original")
            try writeSample(to: dest, format: format)
            let want = try #require(try Self.extracted(original, format: format), "bsdtar reads the undamaged archive")
            let seed: UInt64 = 0xF11F_0000 + UInt64(format.rawValue.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF)
            var random = Random(state: seed)
            var caught = 0
            var harmless = 0
            for flip in 0..<Self.flips {
                let (_, damaged) = destination(for: format, in: folder, name: "damaged")
                try Self.copy(original, to: damaged)
                let file = try Self.victim(damaged, format: format, &random)
                var bytes = try Data(contentsOf: file)
                let position = random.below(bytes.count)
                bytes[position] ^= UInt8(1 + random.below(255))
                try bytes.write(to: file)
                let label = "\(format) flip \(flip + 1) of \(Self.flips) (seed \(seed)) at byte \(position) of \(file.lastPathComponent)"
                let report = ArchiveVerifier.verify(damaged)
                if report.status == .whole {
                    #expect(try Self.extracted(damaged, format: format) == want, "\(label): called whole but an entry changed")
                    harmless += 1
                } else {
                    #expect(!report.problems.isEmpty && report.exitStatus != .success, "\(label): \(report.status) without a problem")
                    caught += 1
                }
            }
            print("proof: \(format) — \(caught) of \(Self.flips) flips caught by verify, \(harmless) changed no entry")
            #expect(caught + harmless == Self.flips)
            #expect(caught > 0, "\(format): no flip was caught")
        }
    }

    @Test("random truncations are never whole", arguments: ArchiveFormat.allCases)
    func truncations(format: ArchiveFormat) throws {
        try withTempFolder { folder in
            let (dest, original) = destination(for: format, in: folder, name: "original")
            try writeSample(to: dest, format: format)
            let seed: UInt64 = 0x7C07_0000 + UInt64(format.rawValue.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF)
            var random = Random(state: seed)
            for cut in 0..<Self.truncations {
                let (_, damaged) = destination(for: format, in: folder, name: "damaged")
                try Self.copy(original, to: damaged)
                let file = try Self.victim(damaged, format: format, &random)
                let bytes = try Data(contentsOf: file)
                let length = random.below(bytes.count)
                try bytes.prefix(length).write(to: file)
                let report = ArchiveVerifier.verify(damaged)
                #expect(
                    report.status != .whole && report.exitStatus != .success && !report.problems.isEmpty,
                    "\(format) truncation \(cut + 1) of \(Self.truncations) (seed \(seed)) of \(file.lastPathComponent) to \(length) of \(bytes.count) bytes: \(report.status)")
            }
        }
    }
}
