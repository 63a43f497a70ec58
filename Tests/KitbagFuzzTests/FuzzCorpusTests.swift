import Foundation
import KitbagArchive
import KitbagCore
import KitbagFuzz
import KitbagTestSupport
import Testing

/// The fuzz targets' promises, checked in every `swift test` on the seed corpus, on every crash input
/// ever found (`Fuzz/regressions/`), and on seeded random mutations of the seeds (a short run here,
/// a long one under `KITBAG_PROOF=1`; the real fuzzing is `Fuzz/run.sh`).
@Suite("Fuzz targets: corpus, regressions and seeded mutations")
struct FuzzCorpusTests {
    static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    enum Target: String, CaseIterable, Sendable {
        case archive, jsonl, feed

        func run(_ data: Data) -> [String] {
            data.withUnsafeBytes { input in
                switch self {
                case .archive: return FuzzTargets.archive(input)
                case .jsonl: return FuzzTargets.jsonLines(input)
                case .feed: return FuzzTargets.feed(input)
                }
            }
        }
    }

    static func inputs(_ folder: String, _ target: Target) -> [(name: String, data: Data)] {
        let dir = fuzzRoot.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().compactMap { name in
            (try? Data(contentsOf: dir.appendingPathComponent(name))).map { (name, $0) }
        }
    }

    @Test("every seed and every past crash input keeps every promise", arguments: Target.allCases)
    func corpus(target: Target) {
        let seeds = Self.inputs("corpus", target)
        #expect(seeds.count >= 3, "Fuzz/corpus/\(target.rawValue) holds \(seeds.count) seeds")
        for (name, data) in seeds + Self.inputs("regressions", target) {
            let broken = target.run(data)
            #expect(broken.isEmpty, "\(target.rawValue) input \(name): \(broken)")
        }
    }

    @Test("seeded random mutations of the seeds keep every promise", .timeLimit(.minutes(20)), arguments: Target.allCases)
    func mutations(target: Target) {
        let seeds = Self.inputs("corpus", target).map(\.data)
        guard !seeds.isEmpty else {
            Issue.record("no seeds for \(target.rawValue)")
            return
        }
        let count = Proof.count(full: 3000, short: 150)
        var random = Proof.generator("mutate-\(target.rawValue)")
        for n in 0..<count {
            var bytes = [UInt8](seeds[n % seeds.count])
            // One to four edits: flip, overwrite with an interesting byte, insert, delete, or splice from another seed.
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<5, using: &random) {
                case 0 where !bytes.isEmpty: bytes[at] ^= UInt8.random(in: 1...255, using: &random)
                case 1 where !bytes.isEmpty: bytes[at] = [0x00, 0xFF, 0x7F, 0x80, 0x0A, 0x22, 0x3C, 0x5C].randomElement(using: &random)!
                case 2: bytes.insert(contentsOf: [UInt8](repeating: UInt8.random(in: 0...255, using: &random), count: Int.random(in: 1...64, using: &random)), at: at)
                case 3 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...512, using: &random)))
                default:
                    let other = seeds.randomElement(using: &random)!
                    let from = other.isEmpty ? 0 : Int.random(in: 0..<other.count, using: &random)
                    let piece = other[other.startIndex + from..<other.startIndex + min(other.count, from + Int.random(in: 1...256, using: &random))]
                    bytes.replaceSubrange(at..<min(bytes.count, at + piece.count), with: piece)
                }
            }
            let broken = target.run(Data(bytes))
            if !broken.isEmpty {
                let saved = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-fuzz-\(target.rawValue)-\(n).bin")
                try? Data(bytes).write(to: saved)
                Issue.record("\(target.rawValue) mutation #\(n) broke \(broken); input saved to \(saved.path); \(Proof.replay)")
                return
            }
        }
        if Proof.full { print("fuzz mutations \(target.rawValue): \(count) inputs kept every promise; \(Proof.replay)") }
    }

    /// Rewrites the archive seeds from kitbag's own writer: `KITBAG_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzCorpusTests`.
    @Test("archive seeds are written by kitbag", .enabled(if: ProcessInfo.processInfo.environment["KITBAG_WRITE_FUZZ_SEEDS"] != nil))
    func writeArchiveSeeds() throws {
        let dir = Self.fuzzRoot.appendingPathComponent("corpus/archive")
        for format in [ArchiveFormat.tar, .tarGz, .tarZst, .zip] {
            let url = dir.appendingPathComponent("kinopio.\(format.fileExtension)")
            try? FileManager.default.removeItem(at: url)
            let info = ArchiveInfo(
                service: .kinopio, source: .init(baseURL: "https://api.kinopio.club", account: .init(id: "u1", name: "Zoë")),
                startedAt: Date(timeIntervalSince1970: 1_763_850_000))
            let writer = try SnapshotWriter(
                destination: .file(url), format: format, info: info, snapshotTime: Date(timeIntervalSince1970: 1_763_850_000))
            try writer.writeJSONLines(
                container: ContainerRef(kind: "spaces", id: "s1"), file: "cards", kind: "card",
                values: [["id": "c1", "name": "Plan ✓"], ["id": "c2", "x": .number("1.50")]])
            try writer.writeJSONLines(container: .account, file: "user", kind: "user", values: [["id": "u1"]])
            let spool = try writer.attachmentSpool()
            try spool.write(Data("attachment bytes\n".utf8))
            _ = try writer.commit(spool)
            try writer.addFile(path: "renderings/spaces/s1.md", data: Data("# Plan\n".utf8))
            try writer.seal(notExported: [NotExported(kind: "notification", reason: "no route")], finishedAt: Date(timeIntervalSince1970: 1_763_850_100))
        }
    }
}
