import Foundation
import KitbagCore
import Testing

@testable import KitbagArchive

/// Streams generated content through SnapshotWriter; run by `Benchmarks/archive/run.sh` (skipped unless KITBAG_BENCH=1).
/// KITBAG_BENCH_MB: approximate uncompressed size; KITBAG_BENCH_FORMAT: tar, tar.gz, tar.zst, zip or folder;
/// KITBAG_BENCH_MIX=attachments: attachments only; KITBAG_BENCH_OUT: output folder (the archive is kept there for the comparison with bsdtar).
@Suite("Archive benchmark", .enabled(if: ProcessInfo.processInfo.environment["KITBAG_BENCH"] == "1"))
struct ArchiveBenchmark {
    @Test("stream generated JSON Lines and attachments through SnapshotWriter")
    func streamThroughWriter() throws {
        let environment = ProcessInfo.processInfo.environment
        let megabytes = Int(environment["KITBAG_BENCH_MB"] ?? "100") ?? 100
        let format = ArchiveFormat(rawValue: environment["KITBAG_BENCH_FORMAT"] ?? "tar.zst") ?? .tarZst
        let out = URL(fileURLWithPath: environment["KITBAG_BENCH_OUT"] ?? NSTemporaryDirectory())
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let (dest, url) = destination(for: format, in: out, name: "bench-\(megabytes)")
        let target = Int64(megabytes) << 20
        // KITBAG_BENCH_MIX=attachments skips JSON Lines, isolating the archive layer from JSON serialisation.
        let attachmentsOnly = environment["KITBAG_BENCH_MIX"] == "attachments"

        // Half JSON Lines (~1.2 KB entities in 1 MiB-ish files), half 4 MiB attachments.
        let filler = String(repeating: "lorem ipsum dolor sit amet, ", count: 36)
        var attachment = [UInt8](pseudoRandomBytes(4 << 20, seed: 99))
        let started = Date()
        let writer = try SnapshotWriter(destination: dest, format: format, info: sampleInfo(), snapshotTime: snapshotTime)
        var jsonBytes: Int64 = 0
        var attachmentBytes: Int64 = 0
        var entity = 0
        var container = 0
        while jsonBytes + attachmentBytes < target {
            if !attachmentsOnly, jsonBytes <= attachmentBytes {
                let spool = try writer.jsonLines(
                    container: ContainerRef(kind: "spaces", id: "space-\(container)"), file: "cards", kind: "card")
                container += 1
                for _ in 0..<800 {
                    entity += 1
                    try spool.append(
                        .object(JSONObject([
                            ("id", .string("card-\(entity)")), ("name", .string("Card \(entity) ✓")),
                            ("x", .int(entity % 1000)), ("y", .number("12.5")), ("text", .string(filler)),
                        ])))
                }
                jsonBytes += spool.size
                try writer.commit(spool)
            } else {
                attachment.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(attachmentBytes), as: UInt64.self) }
                let spool = try writer.attachmentSpool()
                var offset = 0
                while offset < attachment.count {
                    try attachment[offset..<(offset + 64 << 10)].withUnsafeBytes { try spool.write($0) }
                    offset += 64 << 10
                }
                attachmentBytes += spool.size
                try writer.commit(spool)
            }
        }
        try writer.seal(notExported: [], finishedAt: finishTime)
        let seconds = Date().timeIntervalSince(started)
        let total = Double(jsonBytes + attachmentBytes) / 1_048_576
        let written = Double((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? 0) / 1_048_576
        print(String(format: "KITBAG_BENCH format=%@ input_MiB=%.0f output_MiB=%.0f seconds=%.2f MiB_per_s=%.1f entities=%d path=%@",
                     format.rawValue, total, written, seconds, total / seconds, entity, url.path))
        #expect(total >= Double(megabytes))
    }
}
