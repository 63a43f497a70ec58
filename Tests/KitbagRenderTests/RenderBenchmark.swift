import Foundation
import KitbagCore
import Testing

@testable import KitbagRender

/// HTML against Markdown on one generated space; run by `Benchmarks/render/run.sh` (skipped unless KITBAG_BENCH=1).
/// KITBAG_BENCH_CARDS: cards in the space (default 10,000), with a box per 100 cards, a connection per 4 cards,
/// tags on every tenth card and two-line bodies. Each rendering runs KITBAG_BENCH_RUNS times (default 5); the
/// fastest run of each counts. The issue asks HTML to stay within 2× of Markdown.
@Suite("Render benchmark", .enabled(if: ProcessInfo.processInfo.environment["KITBAG_BENCH"] == "1"))
struct RenderBenchmark {
    static func space(cards: Int) -> ReadableContainer {
        var items: [ReadableItem] = []
        var groups: [ReadableGroup] = []
        var links: [ReadableLink] = []
        let perRow = 100
        for n in 0..<cards {
            let (col, row) = (n % perRow, n / perRow)
            items.append(
                ReadableItem(
                    id: "card-\(n)", title: "Card \(n): plant & water bed \(n % 37) <soon>",
                    body: "Second line with **markdown** and a [[tag\(n % 13)]].\nThird line \(n).",
                    createdAt: Date(timeIntervalSince1970: 1_714_564_800 + Double(n)),
                    labels: n % 10 == 0 ? ["tag\(n % 13)"] : [], groupID: "box-\(n / 100)",
                    frame: ReadableFrame(x: Double(col * 260), y: Double(row * 140), color: n % 7 == 0 ? "#c9f5b0" : nil)))
            if n % 4 == 0, n + 1 < cards {
                links.append(ReadableLink(id: "conn-\(n)", from: "card-\(n)", to: "card-\(n + 1)", label: n % 8 == 0 ? "then" : nil))
            }
        }
        for b in 0..<(cards + 99) / 100 {
            groups.append(
                ReadableGroup(
                    id: "box-\(b)", kind: "box", title: "Box \(b)",
                    frame: ReadableFrame(x: -20, y: Double(b * 140) - 20, width: Double(perRow * 260), height: 130),
                    color: "#f5eeb0"))
        }
        return ReadableContainer(
            id: "bench", kind: "space", title: "Benchmark space", groups: groups, items: items, links: links,
            tags: (0..<13).map { ReadableTag(name: "tag\($0)", color: "#b0d5f5") })
    }

    @Test("render one large space as HTML and as Markdown")
    func htmlAgainstMarkdown() {
        let env = ProcessInfo.processInfo.environment
        let cards = Int(env["KITBAG_BENCH_CARDS"] ?? "10000") ?? 10_000
        let runs = Int(env["KITBAG_BENCH_RUNS"] ?? "5") ?? 5
        let space = Self.space(cards: cards)
        func best(_ body: () -> Data) -> (seconds: Double, bytes: Int) {
            var fastest = Double.infinity
            var bytes = 0
            for _ in 0..<runs {
                let start = DispatchTime.now().uptimeNanoseconds
                bytes = body().count
                fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return (fastest, bytes)
        }
        let markdown = best { MarkdownRenderer.page(space) }
        let html = best { HTMLRenderer.page(space) }
        let ratio = html.seconds / markdown.seconds
        print(
            "KITBAG_BENCH cards=\(cards) markdown_s=\(String(format: "%.3f", markdown.seconds)) markdown_bytes=\(markdown.bytes)"
                + " html_s=\(String(format: "%.3f", html.seconds)) html_bytes=\(html.bytes) ratio=\(String(format: "%.2f", ratio))")
        #expect(ratio <= 2, "HTML took \(ratio)× the Markdown time")
    }
}
