import Foundation
import KitbagCore
import Testing

@testable import KitbagRender

@Suite struct MarkdownRendererTests {
    static func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }
    static func lines(_ data: Data) -> [String] { text(data).components(separatedBy: "\n") }

    /// A line that CommonMark reads as an ATX heading (up to 3 spaces, 1–6 `#`, then space or end).
    static func isHeading(_ line: Substring) -> Bool {
        let trimmed = line.drop(while: { $0 == " " })
        guard line.count - trimmed.count <= 3 else { return false }
        let hashes = trimmed.prefix(while: { $0 == "#" }).count
        guard (1...6).contains(hashes) else { return false }
        let rest = trimmed.dropFirst(hashes)
        return rest.isEmpty || rest.first == " " || rest.first == "\t"
    }

    /// Number of `|` not escaped by a backslash.
    static func unescapedPipes(_ line: String) -> Int {
        var count = 0
        var escaped = false
        for ch in line {
            if escaped { escaped = false; continue }
            if ch == "\\" { escaped = true } else if ch == "|" { count += 1 }
        }
        return count
    }

    @Test(arguments: Hostile.all)
    func hostileTextCannotCreateHeadingsTableRowsOrHTML(_ hostileCase: HostileText) {
        let hostile = hostileCase.text
        let page = MarkdownRenderer.page(Sample.hostile(hostile), formats: Set(ReadableFormat.allCases))
        let lines = Self.lines(page)
        // Exactly the page's own headings: title, Fields, Tags, Box, item i1, Not in a group, item i2, Connections.
        let headings = lines.filter { Self.isHeading(Substring($0)) }
        #expect(headings.count == 8, "headings: \(headings.map { $0.prefix(40) })")
        #expect(headings.map { $0.prefix(while: { $0 == "#" }).count } == [1, 2, 2, 2, 3, 2, 3, 2])
        // Inside blockquotes no line becomes a heading either.
        for line in lines.map({ $0.drop(while: { $0 == " " }) }) where line.hasPrefix(">") {
            #expect(!Self.isHeading(line.dropFirst().drop(while: { $0 == " " })), "quoted heading: \(line.prefix(60))")
        }
        // Tables: the field table (3 lines, 4 pipes each) and the item's field table (3 lines, 3 pipes each).
        let tableLines = lines.filter { $0.hasPrefix("|") }
        #expect(tableLines.count == 6)
        #expect(tableLines.prefix(3).allSatisfy { Self.unescapedPipes($0) == 4 })
        #expect(tableLines.suffix(3).allSatisfy { Self.unescapedPipes($0) == 3 })
        // No raw HTML of any kind, and no control characters.
        #expect(!Self.text(page).contains("<"))
        #expect(!Self.text(page).unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        // Every list item is one line: the item's metadata lines stay `- ` lines.
        if !Self.flat(hostile).isEmpty { #expect(lines.contains { $0.hasPrefix("- Status: ") }) }
    }

    @Test func escapedTextStillReadsAsTheOriginal() throws {
        let lines = Self.lines(MarkdownRenderer.page(Sample.hostile(Hostile.script)))
        #expect(lines.first == "# &lt;script>alert(1)&lt;/script>")
        #expect(lines.contains("> &lt;script>alert(1)&lt;/script>"))
        let table = Self.lines(MarkdownRenderer.page(Sample.hostile(Hostile.table)))
        #expect(table.first == #"# \| table \| breakers \|"#)
        let heading = Self.lines(MarkdownRenderer.page(Sample.hostile(Hostile.heading)))
        #expect(heading.first == ##"# \# heading"##)
        #expect(heading.contains(##"> \# heading"##))
        let list = Self.lines(MarkdownRenderer.page(Sample.hostile(Hostile.list)))
        #expect(list.first == #"# \- item 1. first + plus \* star"#)
        #expect(list.contains("### \\- item 1. first + plus \\* star"))
        let long = Self.lines(MarkdownRenderer.page(Sample.hostile(Hostile.long)))
        #expect(long.first == "# " + Hostile.long)
    }

    @Test func oneLineEscapingNeutralisesLeadingBlockMarkers() {
        #expect(MarkdownRenderer.inline("1. first") == #"1\. first"#)
        #expect(MarkdownRenderer.inline("12) twelve") == #"12\) twelve"#)
        #expect(MarkdownRenderer.inline("+ plus") == #"\+ plus"#)
        #expect(MarkdownRenderer.inline("> quote") == "&gt; quote")
        #expect(MarkdownRenderer.inline("a\nb\r\nc\u{2028}d") == "a b c d")
        #expect(MarkdownRenderer.inline("[x](javascript:alert(1))") == #"\[x\](javascript:alert(1))"#)
        #expect(MarkdownRenderer.inline("&amp; &") == "&amp;amp; &")
    }

    @Test func plainTextKeepsItsLookWhereNothingCouldBecomeMarkup() {
        #expect(MarkdownRenderer.inline("snake_case_name") == "snake_case_name")
        #expect(MarkdownRenderer.inline("_emphasis_") == #"\_emphasis\_"#)
        #expect(MarkdownRenderer.inline("C# and issue #42") == "C# and issue #42")
        #expect(MarkdownRenderer.inline("Title ##") == "Title \\##", "a trailing run would close an ATX heading")
        #expect(MarkdownRenderer.inline("a < b > c") == "a < b > c")
        #expect(MarkdownRenderer.inline("<3 and <b>") == "<3 and &lt;b>")
        #expect(MarkdownRenderer.inline("Tom & Jerry, R&D") == "Tom & Jerry, R&D")
        #expect(MarkdownRenderer.inline("&#60;x") == "&amp;#60;x")
        #expect(MarkdownRenderer.inline("2*3*4") == #"2\*3\*4"#)
    }

    @Test func itemsAreListedInReadingOrderNotByID() throws {
        func card(_ id: String, x: Double, y: Double) -> ReadableItem {
            ReadableItem(id: id, title: "card \(id)", frame: ReadableFrame(x: x, y: y))
        }
        let page = MarkdownRenderer.page(
            ReadableContainer(
                id: "s", kind: "space", title: "S",
                items: [card("a", x: 500, y: 10), card("b", x: 0, y: 300), card("c", x: 10, y: 10)]))
        let order = Self.lines(page).filter { $0.hasPrefix("### card") }
        #expect(order == ["### card c", "### card a", "### card b"])
    }

    @Test func bodiesStayInsideTheirBlockquoteAndFencesStayVerbatim() {
        let body = "Intro <b>bold</b>\n```\n<b>raw</b>\n# inside fence\n```\nSetext\n===\n\n## two"
        let item = ReadableItem(id: "i", title: "T", body: body)
        let lines = Self.lines(MarkdownRenderer.page(ReadableContainer(id: "c", kind: "space", title: "C", items: [item])))
        let start = try! #require(lines.firstIndex(of: "> Intro &lt;b>bold&lt;/b>  "))
        #expect(Array(lines[start..<(start + 9)]) == [
            "> Intro &lt;b>bold&lt;/b>  ", "> ```", "> <b>raw</b>", "> # inside fence", "> ```", "> Setext  ", #"> \==="#,
            ">", "> \\## two",
        ])
        #expect(lines[start + 9] == "")
    }

    @Test func headingsNestedInQuotesOrListsInsideABodyAreEscaped() {
        let body = "> # nested\n> > ## deeper\n- # in list\n2. ### numbered\n\n---\n#tag\nText\n---"
        #expect(MarkdownRenderer.quoted(body) == [
            "> > \\# nested  ", "> > > \\## deeper  ", "> - \\# in list  ", "> 2. \\### numbered", ">", "> ---  ",
            "> \\#tag  ", "> Text  ", "> \\---",
        ])
    }

    @Test func pageLinksAreRelativeAndResolveInsideTheArchive() {
        let page = Self.text(
            MarkdownRenderer.page(Sample.space, allContainers: [Sample.space, Sample.other], formats: [.markdown, .rss, .canvas]))
        #expect(ReadablePaths.page(Sample.space) == "pages/spaces/garden-plans_HzVOgAct.md")
        #expect(page.contains("- [plan.png](../../attachments/sha256/ab/abcdef) — 2.0 KiB, image/png"))
        #expect(page.contains("- Links to: [Other space](other-space_OtherSpace1.md)"))
        #expect(page.contains("[RSS](../../feeds/spaces/garden-plans_HzVOgAct.xml)"))
        #expect(page.contains("[Canvas](../../canvas/garden-plans_HzVOgAct.canvas)"))
        #expect(page.contains("[Index](../../index.md)"))
        #expect(page.contains("- Tomatoes → Basil (then)"))
        #expect(page.contains("- Basil — Compost"))
        #expect(page.contains("## Box: Ideas"))
        #expect(page.contains("## Removed items"))
        let withoutTarget = Self.text(MarkdownRenderer.page(Sample.space, allContainers: [Sample.space]))
        #expect(withoutTarget.contains("- Links to: OtherSpace1 (not in this archive)"))
    }

    @Test func indexLinksEveryContainerAndItsRenderings() {
        let index = Self.text(
            MarkdownRenderer.index(
                service: "Kinopio", account: "ada@example.com", containers: [Sample.space, Sample.other],
                archiveStartedAt: Dates.d2024_05_03, formats: [.markdown, .rss]))
        #expect(index.hasPrefix("# Kinopio archive\n"))
        #expect(index.contains("## Spaces"))
        #expect(
            index.contains(
                "- [Garden plans](pages/spaces/garden-plans_HzVOgAct.md) · [RSS](feeds/spaces/garden-plans_HzVOgAct.xml) · data `data/spaces/HzVOgAct/` — updated 2024-05-03 12:00:00 UTC"))
        #expect(index.contains("- [Other space](pages/spaces/other-space_OtherSpace1.md) · [RSS]"))
        #expect(!index.contains("[Canvas]"))
    }

    @Test func renderingTwiceGivesIdenticalBytes() {
        let all = [Sample.space, Sample.other]
        #expect(MarkdownRenderer.page(Sample.space, allContainers: all) == MarkdownRenderer.page(Sample.space, allContainers: all))
        #expect(
            MarkdownRenderer.index(service: "Kinopio", account: nil, containers: all, archiveStartedAt: Dates.d2024_05_01)
                == MarkdownRenderer.index(service: "Kinopio", account: nil, containers: all, archiveStartedAt: Dates.d2024_05_01))
    }
}
