import CLibXML2
import Foundation
import KitbagCore
import Testing

@testable import KitbagRender

@Suite struct RSSRendererTests {
    /// Strict libxml2 parse: no recovery, pedantic, no network; returns the first error message if any.
    static func strictParseError(_ data: Data) -> String? {
        guard let ctxt = xmlNewParserCtxt() else { return "no context" }
        defer { xmlFreeParserCtxt(ctxt) }
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_PEDANTIC.rawValue | XML_PARSE_NOERROR.rawValue
            | XML_PARSE_NOWARNING.rawValue)
        let doc = data.withUnsafeBytes { raw in
            xmlCtxtReadMemory(ctxt, raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(raw.count), nil, nil, options)
        }
        if let doc { xmlFreeDoc(doc) }
        if ctxt.pointee.wellFormed == 0 || doc == nil || ctxt.pointee.lastError.code != 0 {
            return ctxt.pointee.lastError.message.map { String(cString: $0) } ?? "not well-formed"
        }
        return nil
    }

    @Test(arguments: Hostile.all)
    func hostileTextGivesAValidFeedThatReadsBackExactly(_ hostileCase: HostileText) throws {
        let hostile = hostileCase.text
        let container = Sample.hostile(hostile)
        var withHostileID = container
        withHostileID.items[1].id = hostile
        let data = try RSSRenderer.feed(withHostileID)
        #expect(Self.strictParseError(data) == nil)
        let feed = try FeedReader.read(data)
        #expect(feed.itemCount == 2)
        // Guids carry the id exactly, minus what XML cannot carry (CR survives as a character reference).
        #expect(Set(feed.items.compactMap(\.guid)) == ["i1", Hostile.xmlVisible(hostile)])
        // One-line texts: exact text, with controls dropped and line breaks as spaces.
        let expectedTitle = MarkdownRendererTests.flat(hostile)
        #expect(feed.channelTitle == (expectedTitle.isEmpty ? "(untitled space)" : expectedTitle))
        #expect(feed.items.allSatisfy { $0.title == (expectedTitle.isEmpty ? "(untitled)" : expectedTitle) })
        // Descriptions are HTML: the body escaped once more, so `<script>` reaches a reader as text.
        let xml = String(decoding: data, as: UTF8.self)
        #expect(!xml.contains("<script"))
        #expect(!xml.contains("]]>"))
        if hostile == Hostile.script {
            #expect(feed.items.first?.description == "&lt;script&gt;alert(1)&lt;/script&gt;")
        }
    }

    @Test func itemsAreNewestFirstUndatedLastThenByID() throws {
        let c = ReadableContainer(
            id: "c", kind: "space", title: "Order",
            items: [
                ReadableItem(id: "old", title: "old", createdAt: Dates.d2024_05_01),
                ReadableItem(id: "z-undated", title: "z"),
                ReadableItem(id: "new", title: "new", createdAt: Dates.d2024_05_01, updatedAt: Dates.d2024_05_03),
                ReadableItem(id: "a-undated", title: "a"),
                ReadableItem(id: "mid", title: "mid", createdAt: Dates.d2024_05_02),
                ReadableItem(id: "gone", title: "gone", createdAt: Dates.d2024_05_03, isRemoved: true),
            ])
        let feed = try FeedReader.read(try RSSRenderer.feed(c))
        #expect(feed.items.map(\.guid) == ["new", "mid", "old", "a-undated", "z-undated"])
    }

    @Test func pubDateIsRFC822InUTC() throws {
        let c = ReadableContainer(
            id: "c", kind: "space", title: "Dates", items: [ReadableItem(id: "i", title: "t", createdAt: Dates.d2024_05_01)])
        let feed = try FeedReader.read(try RSSRenderer.feed(c))
        #expect(feed.items.first?.pubDate == "Wed, 01 May 2024 12:00:00 +0000")
        let xml = String(decoding: try RSSRenderer.feed(c), as: UTF8.self)
        #expect(xml.contains(#"<guid isPermaLink="false">i</guid>"#))
        #expect(xml.hasPrefix(#"<?xml version="1.0" encoding="UTF-8"?>"#))
    }

    @Test func dateFormattingAgreesWithFoundationAcrossEras() {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let seconds: [Double] = [
            0, -1, -86_400.5, 951_782_400, 951_868_799.9, 1_709_208_000, 4_107_542_399, -2_208_988_800, 253_402_300_799,
        ]
        for s in seconds {
            let date = Date(timeIntervalSince1970: s)
            #expect(TextCleaning.rfc822(date) == f.string(from: date), "at \(s)")
        }
        #expect(TextCleaning.humanDate(Dates.d2024_05_01) == "2024-05-01 12:00:00 UTC")
    }

    @Test func channelLinkFallsBackToCallerThenInvalidDomain() throws {
        var c = ReadableContainer(id: "c", kind: "space", title: "Links")
        #expect(try FeedReader.read(try RSSRenderer.feed(c)).channelLink == "https://kitbag.invalid/")
        #expect(
            try FeedReader.read(try RSSRenderer.feed(c, channelLink: "https://kinopio.club/x")).channelLink
                == "https://kinopio.club/x")
        c.url = "https://kinopio.club/links-c"
        #expect(try FeedReader.read(try RSSRenderer.feed(c)).channelLink == "https://kinopio.club/links-c")
        c.url = "javascript:alert(1)"
        #expect(try FeedReader.read(try RSSRenderer.feed(c)).channelLink == "https://kitbag.invalid/")
    }

    @Test func sampleFeedLeavesOutRemovedItemsAndIsDeterministic() throws {
        let a = try RSSRenderer.feed(Sample.space)
        let b = try RSSRenderer.feed(Sample.space)
        #expect(a == b)
        let feed = try FeedReader.read(a)
        #expect(feed.channelTitle == "Garden plans")
        #expect(feed.itemCount == 4)
        #expect(!feed.items.contains { $0.guid == "card5" })
        #expect(feed.items.first { $0.guid == "card1" }?.description == "Plant in **May**.<br/>\nWater daily.")
    }
}

extension MarkdownRendererTests {
    /// The hostile text as one line: line breaks and tabs → spaces, other controls and non-characters dropped, trimmed.
    static func flat(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var lastCR = false
        for s in text.unicodeScalars {
            defer { lastCR = s == "\r" }
            switch s.value {
            case 0x0A where lastCR: continue
            case 0x09, 0x0A, 0x0D, 0x85, 0x2028, 0x2029: out.append(" ")
            case 0..<0x20, 0x7F...0x9F, 0xFFFE, 0xFFFF: continue
            default: out.append(s)
            }
        }
        return String(out).trimmingCharacters(in: .whitespaces)
    }
}
