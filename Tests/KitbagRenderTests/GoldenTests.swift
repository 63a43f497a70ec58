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
                service: "Kinopio", account: "ada@example.com", containers: [Sample.space, Sample.other],
                archiveStartedAt: Dates.d2024_05_03, formats: Set(ReadableFormat.allCases)),
            "sample-index.md")
    }

    @Test func sampleFeedMatchesGolden() throws {
        try Self.check(try RSSRenderer.feed(Sample.space), "sample-feed.xml")
    }

    @Test func sampleHTMLPageMatchesGolden() throws {
        var space = Sample.space
        space.drawing = ReadableDrawing(
            lists: [ReadableList(id: "list1", title: "Later", frame: ReadableFrame(x: 700, y: 0, width: 220), color: "#b0d5f5", itemIDs: ["card4"])],
            guides: [ReadableGuide(id: "line1", title: "Below the beds", y: 450, color: "#d1d1d1")],
            strokes: [ReadableStroke(points: [ReadablePoint(x: 20, y: 470), ReadablePoint(x: 120, y: 480)], color: "#a0f7f0", diameter: 6)],
            linkPaths: ["conn1": "m140,100 q80,-40 160,-20"])
        space.items[3].frame = nil
        try Self.check(
            HTMLRenderer.page(space, allContainers: [Sample.space, Sample.other], formats: Set(ReadableFormat.allCases)),
            "sample-page.html")
    }

    @Test func sampleHTMLIndexMatchesGolden() throws {
        try Self.check(
            HTMLRenderer.index(
                service: "Kinopio", account: "ada@example.com", containers: [Sample.space, Sample.other],
                archiveStartedAt: Dates.d2024_05_03, formats: Set(ReadableFormat.allCases),
                entries: [Manifest.Entry(path: "data/spaces/HzVOgAct/cards.jsonl", size: 1, sha256: "", kind: "card", count: 5)]),
            "sample-index.html")
    }

    @Test func sampleCanvasMatchesGolden() throws {
        try Self.check(CanvasRenderer.canvas(Sample.space), "sample.canvas")
    }
}
