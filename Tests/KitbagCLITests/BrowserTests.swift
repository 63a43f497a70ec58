import Foundation
import KitbagArchive
import KitbagCore
import KitbagRender
import KitbagTestSupport
import Testing

/// The HTML rendering in a real browser (issue 22): the demo archives of all four services, extracted as a user
/// would, opened from `file://` in headless Chromium. Screenshots must not be blank, every card of a space must lie
/// inside the drawing and no two demo cards may overlap, every card must also be there as text, and no page may
/// load anything from the network. Screenshots of five pages are kept under `Screenshots/` and compared loosely
/// (size, and the share of inked pixels within a factor of two: fonts differ between machines);
/// `KITBAG_UPDATE_GOLDEN=1` rewrites them. Without Chromium the suite is skipped, except under `CI=true`, where it
/// fails with one line.
@Suite(.serialized, .enabled(if: Chromium.binary != nil || Chromium.inCI, "chromium is not installed (apt-get install chromium)"))
struct BrowserTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Screenshots")
    static let width = 1280
    static let height = 960
    /// Pages whose screenshots are kept, by service and the start of their file name.
    static let kept: [(service: String, page: String)] = [
        ("kinopio", "index.html"), ("kinopio", "garden-project_"), ("kintone", "orders_"), ("kitemaker", "acme-app_"),
        ("kona", "hiring_"),
    ]

    @Test func theDemoArchivesOpenFromFileURLsDrawnWholeAndLoadNothingFromTheNetwork() async throws {
        guard Chromium.binary != nil else {
            Issue.record(Comment(rawValue: Chromium.missing))
            return
        }
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let demo = try await CLI.run(["demo", "--directory", dir.appendingPathComponent("demo").path, "-q"])
        #expect(demo.status == 0, "kitbag demo: \(demo.stderr)")

        var keptShots: [String: Screenshot] = [:]
        var spacesChecked = 0
        for service in ["kinopio", "kintone", "kitemaker", "kona"] {
            let backups = dir.appendingPathComponent("demo/\(service)/backups")
            let archives = try FileManager.default.contentsOfDirectory(atPath: backups.path)
                .filter { $0.hasSuffix(".tar.zst") }.sorted()
            let archive = try #require(archives.first, "no \(service) demo archive")
            let root = dir.appendingPathComponent("open/\(service)")
            try SafeExtractor.extract(backups.appendingPathComponent(archive), to: root)
            let pages = try Self.htmlFiles(under: root.appendingPathComponent("html"))
            #expect(pages.contains("index.html"), "\(service): html/index.html")
            #expect(pages.count > 1, "\(service): a page per container")

            for page in pages {
                let url = root.appendingPathComponent("html/\(page)")
                let (png, netLog) = try await Chromium.screenshot(url, width: Self.width, height: Self.height, work: dir)
                let shot = try Screenshot(png)
                #expect(shot.width == Self.width && shot.height == Self.height, "\(service) \(page): screenshot size")
                #expect(shot.ink > 0.01 && shot.colours >= 8, "\(service) \(page): the screenshot is blank (ink \(shot.ink), \(shot.colours) colours)")
                #expect(try NetLog.pageRequests(netLog) == [], "\(service) \(page) loaded from the network")
                let name = (page as NSString).lastPathComponent
                if let k = Self.kept.first(where: { $0.service == service && name.hasPrefix($0.page) }) {
                    keptShots["\(k.service)-\(k.page.trimmingCharacters(in: CharacterSet(charactersIn: "_")).replacingOccurrences(of: ".html", with: "")).png"] = shot
                    if ProcessInfo.processInfo.environment["KITBAG_UPDATE_GOLDEN"] == "1" {
                        try FileManager.default.createDirectory(at: Self.fixtures, withIntermediateDirectories: true)
                        try png.write(to: Self.fixtures.appendingPathComponent(
                            "\(k.service)-\(k.page.trimmingCharacters(in: CharacterSet(charactersIn: "_")).replacingOccurrences(of: ".html", with: "")).png"))
                    }
                }
                if service == "kinopio", page.hasPrefix("spaces/") {
                    try await Self.checkDrawing(url, root: root, page: page, work: dir)
                    spacesChecked += 1
                }
            }
        }
        #expect(spacesChecked == 6, "every demo space's drawing was checked")
        #expect(keptShots.count == Self.kept.count, "every kept page was rendered: \(keptShots.keys.sorted())")
        if ProcessInfo.processInfo.environment["KITBAG_UPDATE_GOLDEN"] != "1" {
            for (name, shot) in keptShots.sorted(by: { $0.key < $1.key }) {
                let fixture = try Screenshot(try Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
                #expect(fixture.width == shot.width && fixture.height == shot.height, "\(name): size differs from the fixture")
                #expect(
                    shot.ink > fixture.ink / 2 && shot.ink < fixture.ink * 2,
                    "\(name): \(Int(shot.ink * 1000))‰ of the pixels inked, the fixture \(Int(fixture.ink * 1000))‰ (KITBAG_UPDATE_GOLDEN=1 to accept)")
            }
        }
    }

    /// The space's drawing as Chromium parsed it: every card of the archive drawn once, inside the drawing, no two
    /// overlapping, each also present as text below it; and no network load.
    static func checkDrawing(_ url: URL, root: URL, page: String, work: URL) async throws {
        let (dom, netLog) = try await Chromium.dom(url, work: work)
        #expect(try NetLog.pageRequests(netLog) == [], "\(page) loaded from the network")
        let parsed = ParsedPage.elements(dom).elements
        #expect(!parsed.contains { $0.name == "script" }, "\(page): a script element")
        let svg = try #require(parsed.first { $0.name == "svg" && $0.attributes["class"] == "drawing" }, "\(page): no drawing")
        let box = try #require(
            (svg.attributes["viewBox"] ?? svg.attributes["viewbox"])?.split(separator: " ").compactMap { Double($0) },
            "\(page): no viewBox")
        try #require(box.count == 4)
        // One unit per CSS pixel: the page is as large as the drawing (it scrolls and zooms, nothing is squeezed).
        #expect(svg.attributes["width"].flatMap(Double.init) == box[2] && svg.attributes["height"].flatMap(Double.init) == box[3],
                "\(page): the drawing is scaled (\(svg.attributes))")
        let cards = parsed.filter { $0.name == "rect" && $0.attributes["class"] == "card" }.compactMap { e -> DrawnCard? in
            guard let x = e.attributes["x"].flatMap(Double.init), let y = e.attributes["y"].flatMap(Double.init),
                let w = e.attributes["width"].flatMap(Double.init), let h = e.attributes["height"].flatMap(Double.init)
            else { return nil }
            return DrawnCard(x: x, y: y, width: w, height: h)
        }
        // The archive's own cards of this space (the page is named TITLE_ID.html; titles never hold `_`).
        let name = (page as NSString).lastPathComponent.dropLast(".html".count)
        let id = String(name[name.index(after: name.firstIndex(of: "_")!)...])
        let cardsFile = root.appendingPathComponent("data/spaces/\(ArchivePath.component(id))/cards.jsonl")
        var expected = 0
        if let text = try? String(contentsOf: cardsFile, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let card = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                if (card?["isRemoved"] as? Bool) != true { expected += 1 }
            }
        }
        #expect(cards.count == expected, "\(page): \(cards.count) cards drawn, the archive holds \(expected)")
        for (n, c) in cards.enumerated() {
            #expect(
                c.x >= box[0] && c.y >= box[1] && c.x + c.width <= box[0] + box[2] && c.y + c.height <= box[1] + box[3],
                "\(page): card \(n) at \(c.x),\(c.y) \(c.width)×\(c.height) lies outside the drawing \(box)")
            #expect(c.width > 0 && c.height > 0, "\(page): card \(n) has no size")
            for (m, o) in cards.enumerated() where m > n {
                #expect(!c.overlaps(o), "\(page): cards \(n) and \(m) overlap (\(c), \(o))")
            }
        }
        let articles = parsed.filter { $0.name == "article" }.count
        #expect(articles >= expected, "\(page): every card is also written out as text (\(articles) of \(expected))")
    }

    /// The detector can fail: a page that loads a remote image shows in the net log, and kitbag's
    /// Content-Security-Policy on the same page stops both the load and an inline script.
    @Test func theNetLogSeesARemoteLoadAndThePagePolicyStopsItAndScripts() async throws {
        guard Chromium.binary != nil else {
            Issue.record(Comment(rawValue: Chromium.missing))
            return
        }
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let body = "<img src=\"https://example.invalid/pixel.png\"><script>document.title='ran'</script>"
        let open = dir.appendingPathComponent("open.html")
        try Data("<!DOCTYPE html><html><head><title>quiet</title></head><body>\(body)</body></html>".utf8).write(to: open)
        let guarded = dir.appendingPathComponent("guarded.html")
        try Data(
            "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"\(HTMLRenderer.contentSecurityPolicy)\"><title>quiet</title></head><body>\(body)</body></html>"
                .utf8
        ).write(to: guarded)

        let (openDOM, openLog) = try await Chromium.dom(open, work: dir)
        #expect(try NetLog.pageRequests(openLog) == ["https://example.invalid/pixel.png"])
        #expect(String(decoding: openDOM, as: UTF8.self).contains("<title>ran</title>"), "the unguarded script ran")
        let (guardedDOM, guardedLog) = try await Chromium.dom(guarded, work: dir)
        #expect(try NetLog.pageRequests(guardedLog) == [])
        #expect(String(decoding: guardedDOM, as: UTF8.self).contains("<title>quiet</title>"), "the policy stops the script")
    }

    /// Hostile service text rendered by kitbag and parsed by Chromium: nothing runs, nothing loads, the text is
    /// shown as written.
    @Test func hostileServiceTextStaysTextInTheBrowser() async throws {
        guard Chromium.binary != nil else {
            Issue.record(Comment(rawValue: Chromium.missing))
            return
        }
        let dir = try CLI.tempDir()
        defer { Scratch.remove(dir) }
        let attack = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
        let container = ReadableContainer(
            id: "evil", kind: "space", title: "Evil " + attack, summary: attack,
            groups: [ReadableGroup(id: "b", kind: "box", title: attack, frame: ReadableFrame(x: 0, y: 0, width: 300, height: 200), color: "red\" onload=\"alert(1)")],
            items: [
                ReadableItem(
                    id: "c\"><script>x</script>", title: attack, body: "[x](javascript:alert(1))", labels: [attack],
                    frame: ReadableFrame(x: 20, y: 40, color: "#fff;background:url(https://example.invalid/a)"),
                    url: "javascript:alert(1)",
                    preview: ReadablePreview(
                        url: "https://example.invalid/p", embedHTML: "<iframe src=\"https://example.invalid/embed\"></iframe>" + attack,
                        iframeURL: "https://example.invalid/frame")),
            ],
            tags: [ReadableTag(name: attack, color: "url(https://example.invalid/t)")])
        let page = dir.appendingPathComponent("evil.html")
        try HTMLRenderer.page(container).write(to: page)
        let (dom, log) = try await Chromium.dom(page, work: dir)
        #expect(try NetLog.pageRequests(log) == [])
        let parsed = ParsedPage.elements(dom)
        #expect(parsed.elements.first { $0.name == "title" }?.text.hasPrefix("Evil <script>") == true)
        for bad in ["script", "iframe", "img", "object", "embed"] {
            #expect(!parsed.elements.contains { $0.name == bad }, "a \(bad) element reached the DOM")
        }
        #expect(!parsed.elements.contains { $0.attributes.keys.contains { $0.lowercased().hasPrefix("on") } })
        #expect(parsed.text.contains("<iframe src=\"https://example.invalid/embed\"></iframe>"), "the embed markup is shown as text")
    }

    static func htmlFiles(under root: URL) throws -> [String] {
        var out: [String] = []
        let base = root.standardizedFileURL.path + "/"
        guard let walk = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        for case let url as URL in walk where url.pathExtension == "html" {
            out.append(String(url.standardizedFileURL.path.dropFirst(base.count)))
        }
        return out.sorted()
    }
}
