import Foundation
import KitbagCore
import Testing

@testable import KitbagRender

/// The sample space's renderings are compared byte for byte with files under `Fixtures/`.
/// Run with `KITBAG_UPDATE_GOLDEN=1` to rewrite them after an intended change, then review the diff.
@Suite struct GoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func check(_ data: Data, _ name: String) throws {
        let url = fixtures.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["KITBAG_UPDATE_GOLDEN"] == "1" {
            try data.write(to: url)
            return
        }
        let golden = try Data(contentsOf: url)
        #expect(data == golden, "\(name) differs from its golden file; rerun with KITBAG_UPDATE_GOLDEN=1 if intended")
    }

    @Test func samplePageMatchesGolden() throws {
        try Self.check(
            MarkdownRenderer.page(Sample.space, allContainers: [Sample.space, Sample.other], formats: Set(ReadableFormat.allCases)),
            "sample-page.md")
    }

    @Test func sampleIndexMatchesGolden() throws {
        try Self.check(
            MarkdownRenderer.index(
                service: .kinopio, account: "ada@example.com", containers: [Sample.space, Sample.other],
                archiveStartedAt: Dates.d2024_05_03, formats: Set(ReadableFormat.allCases)),
            "sample-index.md")
    }

    @Test func sampleFeedMatchesGolden() throws {
        try Self.check(try RSSRenderer.feed(Sample.space), "sample-feed.xml")
    }

    @Test func sampleCanvasMatchesGolden() throws {
        try Self.check(CanvasRenderer.canvas(Sample.space), "sample.canvas")
    }
}
