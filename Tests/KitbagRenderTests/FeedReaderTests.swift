import Foundation
import KitbagCore
import Testing

@testable import KitbagRender

@Suite struct FeedReaderTests {
    static let passwdMarker = "root:"

    @Test func externalEntityIsRefusedWithoutReadingTheFile() {
        let xxe = """
            <?xml version="1.0"?>
            <!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
            <rss version="2.0"><channel><title>&e;</title><link>https://x/</link><description>d</description></channel></rss>
            """
        #expect(throws: RenderError.feedDeclaresEntities) { try FeedReader.read(Data(xxe.utf8)) }
        do {
            _ = try FeedReader.read(Data(xxe.utf8))
        } catch {
            #expect(!"\(error)".contains(Self.passwdMarker))
        }
    }

    @Test func billionLaughsIsRefused() {
        var lol = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n"
        for i in 1...9 {
            let prev = i == 1 ? "lol" : "lol\(i - 1)"
            lol += "<!ENTITY lol\(i) \"" + String(repeating: "&\(prev);", count: 10) + "\">\n"
        }
        lol += "]>\n<rss version=\"2.0\"><channel><title>&lol9;</title></channel></rss>"
        #expect(throws: RenderError.feedDeclaresEntities) { try FeedReader.read(Data(lol.utf8)) }
    }

    @Test func entityDeclarationHiddenInUTF16IsNotParsedAsSuch() throws {
        let xxe = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><rss version=\"2.0\"><channel><title>&e;</title></channel></rss>"
        let utf16 = try #require(xxe.data(using: .utf16))
        do {
            let feed = try FeedReader.read(utf16)
            #expect(!feed.channelTitle.contains(Self.passwdMarker))
            Issue.record("a UTF-16 document was accepted: \(feed)")
        } catch {
            #expect(!"\(error)".contains(Self.passwdMarker))
        }
    }

    @Test func externalDTDIsNotLoaded() throws {
        let doc = """
            <?xml version="1.0"?>
            <!DOCTYPE rss SYSTEM "file:///etc/passwd">
            <rss version="2.0"><channel><title>T</title><link>https://x/</link><description>d</description></channel></rss>
            """
        let feed = try FeedReader.read(Data(doc.utf8))
        #expect(feed.channelTitle == "T")
        #expect(feed.itemCount == 0)
    }

    @Test func garbageAndNonRSSAreRefusedWithClearErrors() {
        #expect {
            try FeedReader.read(Data("not xml at all".utf8))
        } throws: { error in
            guard case RenderError.feedNotWellFormed(let line, let message) = error else { return false }
            return line >= 1 && !message.isEmpty && !"\(error)".contains("\n")
        }
        #expect(throws: RenderError.notRSS("the root element is not <rss>")) {
            try FeedReader.read(Data("<html><body/></html>".utf8))
        }
        #expect(throws: RenderError.notRSS("<rss> has no <channel>")) {
            try FeedReader.read(Data("<rss version=\"2.0\"/>".utf8))
        }
        #expect(throws: RenderError.feedTooLarge(size: 100, limit: 10)) {
            try FeedReader.read(Data(repeating: 0x20, count: 100), limit: 10)
        }
        #expect(throws: RenderError.self) { try FeedReader.read(Data("<rss><channel><title>x</channel></rss>".utf8)) }
    }

    /// Found by the fuzz-corpus mutations (Fuzz/regressions/feed/error-message-spans-lines.xml): libxml2's
    /// message for invalid UTF-8 spans two lines ("…indicate encoding !\nBytes: 0xC2 0xC2 …").
    @Test func libxml2MessagesSpanningLinesBecomeOneLine() {
        let doc = Data("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>".utf8)
            + Data(repeating: 0xC2, count: 24) + Data("</title></channel></rss>".utf8)
        #expect {
            try FeedReader.read(doc)
        } throws: { error in
            guard case RenderError.feedNotWellFormed(let line, let message) = error else { return false }
            return line == 2 && message.hasPrefix("Input is not proper UTF-8, indicate encoding ! Bytes: 0xC2 0xC2")
                && !"\(error)".contains("\n")
        }
    }

    @Test func cdataAndPredefinedEntitiesAreDecodedOnce() throws {
        let doc = """
            <rss version="2.0"><channel><title>A &amp;amp; B</title><item><title><![CDATA[<b>x</b> ]]></title><guid>g</guid></item></channel></rss>
            """
        let feed = try FeedReader.read(Data(doc.utf8))
        #expect(feed.channelTitle == "A &amp; B")
        #expect(feed.items == [FeedItemSummary(guid: "g", title: "<b>x</b> ")])
    }
}
