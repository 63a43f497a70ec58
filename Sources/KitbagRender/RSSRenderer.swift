import CLibXML2
import Foundation
import KitbagCore

/// Renders a container as an RSS 2.0 feed with libxml2's `xmlTextWriter` (which does all XML escaping).
///
/// - One channel per container; items newest first by `updatedAt ?? createdAt`, undated last, ties by id.
/// - `guid isPermaLink="false"` is the item's id; `pubDate` is RFC 822 in UTC; labels become `category`.
/// - `description`s (channel and items) are HTML: the text HTML-escaped, line breaks as `<br/>`, so readers show it inert.
/// - Removed (trashed) items are left out. Characters XML 1.0 cannot carry are removed first.
/// - The channel link is the container URL, else `channelLink`, else `https://kitbag.invalid/`
///   (a reserved name: the feed is valid, and the link plainly goes nowhere).
public enum RSSRenderer {
    /// Channel link used when neither the container nor the caller knows one.
    public static let fallbackLink = "https://kitbag.invalid/"
    static let dcNamespace = "http://purl.org/dc/elements/1.1/"

    /// The feed of `container`; throws only if libxml2 itself fails.
    public static func feed(_ container: ReadableContainer, channelLink: String? = nil) throws -> Data {
        ensureLibXML()
        let name = "\(container.kind) \(container.id)"
        guard let buffer = xmlBufferCreate() else { throw RenderError.feedWriterFailed(container: name, step: "buffer") }
        defer { xmlBufferFree(buffer) }
        guard let writer = xmlNewTextWriterMemory(buffer, 0) else {
            throw RenderError.feedWriterFailed(container: name, step: "writer")
        }
        let w = Writer(writer: writer, container: name)
        do {
            try w.check(xmlTextWriterSetIndent(writer, 1), "indent")
            try w.check(xmlChars("  ") { xmlTextWriterSetIndentString(writer, $0) }, "indent")
            try w.check(xmlTextWriterStartDocument(writer, "1.0", "UTF-8", nil), "document")
            try w.start("rss")
            try w.attribute("version", "2.0")
            try w.attribute("xmlns:dc", dcNamespace)
            try w.start("channel")
            let title = TextCleaning.oneLine(container.title)
            try w.element("title", title.isEmpty ? "(untitled \(container.kind))" : title)
            try w.element(
                "link", container.url.flatMap(TextCleaning.webURL) ?? channelLink.flatMap(TextCleaning.webURL) ?? fallbackLink)
            let about = "kitbag export of the \(TextCleaning.oneLine(container.kind)) “\(title)” (\(container.id))"
            try w.element("description", html(container.summary ?? "", fallback: about))
            try w.element("generator", "kitbag \(Kitbag.version)")
            if let d = container.updatedAt ?? container.createdAt { try w.element("lastBuildDate", TextCleaning.rfc822(d)) }
            for item in ordered(container.items.filter { !$0.isRemoved }) {
                try w.start("item")
                let t = TextCleaning.oneLine(item.title)
                try w.element("title", t.isEmpty ? "(untitled)" : t)
                if let link = item.url.flatMap(TextCleaning.webURL) { try w.element("link", link) }
                try w.element("description", html(item.body, fallback: item.title))
                if let a = item.author.map(TextCleaning.oneLine), !a.isEmpty { try w.element("dc:creator", a) }
                for label in item.labels.map(TextCleaning.oneLine) where !label.isEmpty {
                    try w.element("category", label)
                }
                try w.start("guid")
                try w.attribute("isPermaLink", "false")
                try w.text(item.id)
                try w.end("guid")
                if let d = item.updatedAt ?? item.createdAt { try w.element("pubDate", TextCleaning.rfc822(d)) }
                try w.end("item")
            }
            try w.end("channel")
            try w.end("rss")
            try w.check(xmlTextWriterEndDocument(writer), "end of document")
        } catch {
            xmlFreeTextWriter(writer)
            throw error
        }
        xmlFreeTextWriter(writer)  // flushes into `buffer`
        guard let content = xmlBufferContent(buffer) else { return Data() }
        return Data(bytes: content, count: Int(xmlBufferLength(buffer)))
    }

    /// Items newest first (`updatedAt ?? createdAt`), undated last, then by id, then by input order.
    public static func ordered(_ items: [ReadableItem]) -> [ReadableItem] {
        items.enumerated().sorted { a, b in
            let da = a.element.updatedAt ?? a.element.createdAt
            let db = b.element.updatedAt ?? b.element.createdAt
            switch (da, db) {
            case (let x?, let y?) where x != y: return x > y
            case (.some, nil): return true
            case (nil, .some): return false
            default:
                if a.element.id != b.element.id { return a.element.id < b.element.id }
                return a.offset < b.offset
            }
        }.map(\.element)
    }

    /// The item's body as HTML text: escaped, with `<br/>` line breaks; empty bodies give the title.
    static func html(_ body: String, fallback: String) -> String {
        let body = TextCleaning.withoutControls(TextCleaning.normalizeNewlines(body))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let text = body.isEmpty ? TextCleaning.oneLine(fallback) : body
        return htmlEscape(text).replacingOccurrences(of: "\n", with: "<br/>\n")
    }

    /// Escapes `&`, `<`, `>`, `"` and `'` for HTML text.
    public static func htmlEscape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// A thin checked wrapper around one `xmlTextWriterPtr`.
    struct Writer {
        let writer: xmlTextWriterPtr
        let container: String

        func check(_ rc: Int32, _ step: String) throws {
            if rc < 0 { throw RenderError.feedWriterFailed(container: container, step: step) }
        }
        func start(_ name: String) throws {
            try check(xmlChars(name) { xmlTextWriterStartElement(writer, $0) }, "<\(name)>")
        }
        func end(_ name: String) throws {
            try check(xmlTextWriterEndElement(writer), "</\(name)>")
        }
        func attribute(_ name: String, _ value: String) throws {
            let rc = xmlChars(name) { n in
                xmlChars(TextCleaning.xmlSafe(value)) { v in xmlTextWriterWriteAttribute(writer, n, v) }
            }
            try check(rc, "attribute \(name)")
        }
        func text(_ value: String) throws {
            try check(xmlChars(TextCleaning.xmlSafe(value)) { xmlTextWriterWriteString(writer, $0) }, "text")
        }
        func element(_ name: String, _ value: String) throws {
            try start(name)
            try text(value)
            try end(name)
        }
    }
}

/// Calls `body` with `text` as a NUL-terminated `xmlChar` string.
func xmlChars<R>(_ text: String, _ body: (UnsafePointer<xmlChar>) -> R) -> R {
    var bytes = Array(text.utf8)
    bytes.append(0)
    return bytes.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// libxml2 must be initialised once before it is used from several threads.
private let libXMLInitialised: Bool = {
    xmlInitParser()
    return true
}()

func ensureLibXML() {
    _ = libXMLInitialised
}
