import CLibXML2
import Foundation
import KitbagCore

/// What `kitbag ls` and the tests need to know about an RSS 2.0 feed.
public struct FeedSummary: Sendable, Equatable {
    public var channelTitle: String
    public var channelLink: String?
    public var items: [FeedItemSummary]
    /// Number of `item` elements in the channel.
    public var itemCount: Int { items.count }

    public init(channelTitle: String, channelLink: String? = nil, items: [FeedItemSummary] = []) {
        self.channelTitle = channelTitle
        self.channelLink = channelLink
        self.items = items
    }
}

/// One `item` of a feed, as text (entities decoded once).
public struct FeedItemSummary: Sendable, Equatable {
    public var guid: String?
    public var title: String?
    public var description: String?
    public var pubDate: String?
    public var link: String?

    /// An empty item summary.
    public init(guid: String? = nil, title: String? = nil, description: String? = nil, pubDate: String? = nil, link: String? = nil) {
        self.guid = guid
        self.title = title
        self.description = description
        self.pubDate = pubDate
        self.link = link
    }
}

/// Reads RSS 2.0 with libxml2, safely: no network, no DTD loading, no entity substitution,
/// documents that declare entities are refused before parsing, and input is size-limited.
public enum FeedReader {
    /// Largest feed accepted by default (32 MiB).
    public static let defaultLimit = 32 << 20

    /// Parses `data` as UTF-8 XML and summarises its RSS 2.0 channel.
    public static func read(_ data: Data, limit: Int = defaultLimit) throws -> FeedSummary {
        guard data.count <= limit else { throw RenderError.feedTooLarge(size: data.count, limit: limit) }
        // Entity declarations can only live in a DTD; since the input is read as UTF-8 (forced below),
        // a byte search finds every one. Refusing here means nothing is ever expanded or fetched.
        if data.range(of: Data("<!ENTITY".utf8)) != nil { throw RenderError.feedDeclaresEntities }
        ensureLibXML()
        guard let ctxt = xmlNewParserCtxt() else { throw RenderError.feedNotWellFormed(line: 0, message: "out of memory") }
        defer { xmlFreeParserCtxt(ctxt) }
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOBLANKS.rawValue
            | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue | XML_PARSE_NOCDATA.rawValue)
        let doc: xmlDocPtr? = data.withUnsafeBytes { raw -> xmlDocPtr? in
            guard let base = raw.baseAddress else { return nil }
            return xmlCtxtReadMemory(
                ctxt, base.assumingMemoryBound(to: CChar.self), Int32(raw.count), "feed.xml", "UTF-8", options)
        }
        guard let doc else {
            let err = ctxt.pointee.lastError
            // libxml2's messages may span lines ("…indicate encoding !\nBytes: 0xC2 …"); errors are one line.
            let message = err.message.map { String(cString: $0) }?
                .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                .joined(separator: " ")
            throw RenderError.feedNotWellFormed(line: Int(err.line), message: message.flatMap { $0.isEmpty ? nil : $0 } ?? "empty document")
        }
        defer { xmlFreeDoc(doc) }
        if kitbag_dtdEntityCount(doc.pointee.intSubset) > 0 || kitbag_dtdEntityCount(doc.pointee.extSubset) > 0 {
            throw RenderError.feedDeclaresEntities
        }
        guard let root = xmlDocGetRootElement(doc), name(root) == "rss" else {
            throw RenderError.notRSS("the root element is not <rss>")
        }
        guard let channel = children(root).first(where: { name($0) == "channel" }) else {
            throw RenderError.notRSS("<rss> has no <channel>")
        }
        var summary = FeedSummary(channelTitle: "", channelLink: nil, items: [])
        for node in children(channel) {
            switch name(node) {
            case "title": summary.channelTitle = text(node)
            case "link": summary.channelLink = text(node)
            case "item":
                var item = FeedItemSummary()
                for field in children(node) {
                    switch name(field) {
                    case "guid": item.guid = text(field)
                    case "title": item.title = text(field)
                    case "description": item.description = text(field)
                    case "pubDate": item.pubDate = text(field)
                    case "link": item.link = text(field)
                    default: break
                    }
                }
                summary.items.append(item)
            default: break
            }
        }
        return summary
    }

    static func children(_ node: xmlNodePtr) -> [xmlNodePtr] {
        var out: [xmlNodePtr] = []
        var child = node.pointee.children
        while let c = child {
            if c.pointee.type == XML_ELEMENT_NODE { out.append(c) }
            child = c.pointee.next
        }
        return out
    }

    /// Local name of an element without namespace prefix handling (RSS 2.0 elements have none).
    static func name(_ node: xmlNodePtr) -> String {
        guard let n = node.pointee.name else { return "" }
        return String(cString: n)
    }

    /// The concatenated text and CDATA content directly under `node`.
    static func text(_ node: xmlNodePtr) -> String {
        var bytes: [UInt8] = []
        var child = node.pointee.children
        while let c = child {
            if c.pointee.type == XML_TEXT_NODE || c.pointee.type == XML_CDATA_SECTION_NODE, let content = c.pointee.content {
                var p = content
                while p.pointee != 0 {
                    bytes.append(p.pointee)
                    p += 1
                }
            }
            child = c.pointee.next
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
