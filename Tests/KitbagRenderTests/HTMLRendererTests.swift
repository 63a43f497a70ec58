import CLibXML2
import Foundation
import KitbagCore
import Testing

@testable import KitbagRender

/// An element of an HTML page parsed back with libxml2's HTML parser (network off).
struct HTMLElement {
    var name: String
    var attributes: [String: String]
    var text: String
}

enum HTMLParse {
    static func elements(_ html: Data) -> (elements: [HTMLElement], text: String) {
        let options = Int32(HTML_PARSE_NONET.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue)
        let doc = html.withUnsafeBytes { buffer in
            htmlReadMemory(buffer.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(buffer.count), "page.html", "UTF-8", options)
        }
        guard let doc else { return ([], "") }
        defer { xmlFreeDoc(doc) }
        func string(_ p: UnsafeMutablePointer<xmlChar>?) -> String {
            guard let p else { return "" }
            defer { kitbag_xmlFree(p) }
            return String(cString: p)
        }
        var out: [HTMLElement] = []
        func walk(_ node: xmlNodePtr?) {
            var n = node
            while let current = n {
                if current.pointee.type == XML_ELEMENT_NODE {
                    var attributes: [String: String] = [:]
                    var a = current.pointee.properties
                    while let attr = a {
                        attributes[String(cString: attr.pointee.name)] =
                            string(xmlNodeGetContent(UnsafeMutablePointer<xmlNode>(OpaquePointer(attr))))
                        a = attr.pointee.next
                    }
                    out.append(
                        HTMLElement(
                            name: String(cString: current.pointee.name).lowercased(), attributes: attributes,
                            text: string(xmlNodeGetContent(current))))
                    walk(current.pointee.children)
                }
                n = current.pointee.next
            }
        }
        walk(xmlDocGetRootElement(doc))
        return (out, string(xmlNodeGetContent(xmlDocGetRootElement(doc))))
    }
}

@Suite struct HTMLRendererTests {
    static let colourAttributes = ["fill", "stroke"]

    /// What no page may hold, whatever the service sent: active elements, event handlers, scriptable or remote
    /// links, colours that are not `#rrggbb`, styles other than kitbag's own border colours.
    static func problems(_ page: Data) -> [String] {
        var out: [String] = []
        let parsed = HTMLParse.elements(page)
        for e in parsed.elements {
            if ["script", "iframe", "object", "embed", "img", "link", "base", "form", "frame", "frameset", "video", "audio", "image", "use", "foreignobject", "animate", "set"].contains(e.name) {
                out.append("element <\(e.name)>")
            }
            if e.name == "meta", let equiv = e.attributes["http-equiv"], equiv.lowercased() != "content-security-policy" {
                out.append("meta http-equiv \(equiv)")
            }
            for (k, v) in e.attributes {
                let key = k.lowercased()
                if key.hasPrefix("on") { out.append("event handler \(k) on <\(e.name)>") }
                if key == "href" || key == "src" || key == "xlink:href" {
                    let ok = v.hasPrefix("#") || v.hasPrefix("https://") || v.hasPrefix("http://")
                        || (!v.contains(":") && v.utf8.allSatisfy { $0 > 0x20 && $0 != UInt8(ascii: "\"") })
                    if !ok { out.append("link \(k)=\(v) on <\(e.name)>") }
                }
                if colourAttributes.contains(key), !isHexColour(v), v != "none" { out.append("colour \(k)=\(v)") }
                if key == "style" {
                    let parts = v.split(separator: ":", maxSplits: 1)
                    if parts.count != 2 || parts[0] != "border-left-color" || !isHexColour(String(parts[1])) {
                        out.append("style \(v)")
                    }
                }
            }
        }
        let policies = parsed.elements.filter { $0.name == "meta" && $0.attributes["http-equiv"]?.lowercased() == "content-security-policy" }
        if policies.map({ $0.attributes["content"] }) != [HTMLRenderer.contentSecurityPolicy] { out.append("policy \(policies)") }
        return out
    }

    static func isHexColour(_ s: String) -> Bool {
        s.count == 7 && s.hasPrefix("#") && s.dropFirst().allSatisfy { $0.isHexDigit && ($0.isNumber || $0.isLowercase) }
    }

    @Test(arguments: Hostile.all)
    func hostileTextStaysTextInEveryPart(_ hostile: HostileText) throws {
        let c = Sample.hostile(hostile.text)
        let page = HTMLRenderer.page(c, allContainers: [c])
        #expect(Self.problems(page) == [], "\(hostile.name)")
        let index = HTMLRenderer.index(service: "Kinopio", account: hostile.text, containers: [c], archiveStartedAt: Dates.d2024_05_01)
        #expect(Self.problems(index) == [], "\(hostile.name) in the index")
        // The text reads back as written (controls and non-characters dropped, lines flattened in one-line places).
        let text = HTMLParse.elements(page).text
        let visible = TextCleaning.oneLine(hostile.text)
        if !visible.isEmpty { #expect(text.contains(String(visible.prefix(200))), "\(hostile.name) is shown") }
    }

    @Test func scriptsJavascriptURLsAndAttributeBreakoutsAreInert() throws {
        let breakout = "x\" onmouseover=\"alert(1)"
        let container = ReadableContainer(
            id: "s\"1", kind: "space", title: "<script>alert(1)</script>", url: "javascript:alert(1)",
            groups: [
                ReadableGroup(
                    id: "g", kind: "box", title: breakout, frame: ReadableFrame(x: 0, y: 0, width: 400, height: 300),
                    color: "#fff\" onload=\"alert(1)"),
            ],
            items: [
                ReadableItem(
                    id: "i\"><script>", title: breakout, body: "<img src=x onerror=alert(1)>", labels: [breakout],
                    frame: ReadableFrame(x: 10, y: 20, color: "red;background:url(https://evil.example/x)"),
                    attachments: [ReadableAttachment(name: breakout, archivePath: "attachments/sha256/ab/ab\"><x")],
                    url: "JaVaScRiPt:alert(1)", preview: ReadablePreview(
                        url: "javascript:alert(2)", embedHTML: "<iframe src=\"https://evil.example\"></iframe>",
                        iframeURL: "https://evil.example/frame")),
                ReadableItem(id: "j", title: "target", frame: ReadableFrame(x: 300, y: 20)),
            ],
            links: [ReadableLink(id: "l", from: "i\"><script>", to: "j", label: breakout, color: "expression(alert(1))")],
            tags: [ReadableTag(name: breakout, color: "url(https://evil.example/t)")],
            drawing: ReadableDrawing(
                lists: [ReadableList(id: "L", title: breakout, frame: ReadableFrame(x: 600, y: 0), color: "\"><script>")],
                guides: [ReadableGuide(id: "g", title: breakout, y: 400, color: "#12345z")],
                strokes: [ReadableStroke(points: [ReadablePoint(x: 1, y: 2)], color: "javascript:1", diameter: .nan)],
                linkPaths: ["l": "m0,0 q10,10 20,20\"/><script>alert(1)</script><path d=\""]))
        let page = HTMLRenderer.page(container)
        #expect(Self.problems(page) == [])
        let html = String(decoding: page, as: UTF8.self)
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;iframe src=&quot;https://evil.example&quot;&gt;&lt;/iframe&gt;"), "the embed markup is shown as text")
        #expect(!html.contains("url(https://evil.example"))
    }

    @Test func coloursAreValidatedNotJustEscaped() {
        #expect(HTMLRenderer.color("#ABC") == "#aabbcc")
        #expect(HTMLRenderer.color("#c9f5b0") == "#c9f5b0")
        #expect(HTMLRenderer.color("#c9f5b0ff") == "#c9f5b0")
        #expect(HTMLRenderer.color("rgb(12, 155, 31)") == "#0c9b1f")
        #expect(HTMLRenderer.color(" Red ") == "#ff0000")
        for bad in ["#12345z", "#1234", "red\" onload=\"x", "url(https://x)", "expression(x)", "3", "", "rgb(300,0,0)", "#fff;x"] {
            #expect(HTMLRenderer.color(bad) == nil, "\(bad)")
        }
    }

    @Test func theSameContentGivesTheSameBytes() {
        let a = HTMLRenderer.page(Sample.space, allContainers: [Sample.space, Sample.other], formats: Set(ReadableFormat.allCases))
        var copy = Sample.space
        copy.drawing = ReadableDrawing(linkPaths: ["conn1": "m40,60 q100,10 260,0", "conn2": "bogus"])
        var again = Sample.space
        again.drawing = ReadableDrawing(linkPaths: ["conn2": "bogus", "conn1": "m40,60 q100,10 260,0"])
        #expect(HTMLRenderer.page(copy) == HTMLRenderer.page(again), "dictionary order does not leak into the page")
        #expect(a == HTMLRenderer.page(Sample.space, allContainers: [Sample.space, Sample.other], formats: Set(ReadableFormat.allCases)))
        #expect(!String(decoding: a, as: UTF8.self).contains("1970"), "no render time or epoch in the page")
    }

    /// Cards sit at their own x/y with their archived size; a card without one is as wide as its text (at most the
    /// wrap width 200, at least 58) and as tall as its wrapped lines; boxes are behind (drawn first).
    @Test func cardsSitWhereTheServicePutThemWithTheirOwnOrKinopiosSize() throws {
        let page = HTMLRenderer.page(Sample.space)
        let elements = HTMLParse.elements(page).elements
        let cards = elements.filter { $0.name == "rect" && $0.attributes["class"] == "card" }
        #expect(cards.count == 2, "the two framed cards are drawn; removed and frameless ones are text only")
        let tomatoes = try #require(cards.first { $0.attributes["x"] == "40.4" })
        #expect(tomatoes.attributes["y"] == "60.6" && tomatoes.attributes["width"] == "200" && tomatoes.attributes["height"] == "80")
        #expect(tomatoes.attributes["fill"] == "#ff0000")
        let basil = try #require(cards.first { $0.attributes["x"] == "300" })
        let width = try #require(basil.attributes["width"].flatMap(Double.init))
        #expect(width >= 58 && width < 100, "a one-word card is narrow: \(width)")
        #expect(basil.attributes["height"] == "33", "one line of 17 px and padding 8 above and below")
        let names = elements.map(\.name)
        #expect(try #require(names.firstIndex(of: "rect")) < names.lastIndex(of: "path") ?? 0, "boxes are drawn before connections")
        #expect(elements.contains { $0.name == "polygon" && $0.attributes["class"] == "arrow" }, "a directed link has an arrow")
        #expect(elements.filter { $0.name == "article" }.count == 5, "every item is written out as text (the removed one apart)")
    }

    @Test func aLongCardWrapsInsideItsWidthAndAStoredPathIsRedrawnFromItsNumbers() throws {
        let long = String(repeating: "word ", count: 80) + String(repeating: "x", count: 120)
        let c = ReadableContainer(
            id: "s", kind: "space", title: "S",
            items: [
                ReadableItem(id: "a", title: long, frame: ReadableFrame(x: 0, y: 0)),
                ReadableItem(id: "b", title: "B", frame: ReadableFrame(x: 400, y: 400, width: 100, height: 40)),
            ],
            links: [ReadableLink(id: "l", from: "a", to: "b", label: "next")],
            drawing: ReadableDrawing(linkPaths: ["l": "m100,100 q150,150 320,300"]))
        let elements = HTMLParse.elements(HTMLRenderer.page(c)).elements
        let a = try #require(elements.first { $0.name == "rect" && $0.attributes["class"] == "card" && $0.attributes["x"] == "0" })
        #expect(a.attributes["width"] == "200")
        let lines = elements.filter { $0.name == "tspan" }.map(\.text)
        for line in lines { #expect(HTMLDrawing.width(line) <= 200 - 16, "\(line) overflows its card") }
        #expect(Double(a.attributes["height"] ?? "") == Double(lines.count - 1) * 17 + 16, "as tall as its lines")
        let path = try #require(elements.first { $0.name == "path" && $0.attributes["stroke-width"] == "5" })
        #expect(path.attributes["d"] == "M100,100 Q250,250 420,400")
        let b = try #require(elements.first { $0.name == "rect" && $0.attributes["x"] == "400" })
        #expect(b.attributes["width"] == "100" && b.attributes["height"] == "40")
    }

    @Test func listsStackTheirCardsAndLinesCrossTheDrawing() throws {
        let c = ReadableContainer(
            id: "s", kind: "space", title: "S",
            items: [
                ReadableItem(id: "a", title: "first", frame: ReadableFrame(x: 900, y: 900)),
                ReadableItem(id: "b", title: "second", frame: ReadableFrame(x: 0, y: 0)),
            ],
            drawing: ReadableDrawing(
                lists: [ReadableList(id: "L", title: "Todo", frame: ReadableFrame(x: 100, y: 100, width: 206), itemIDs: ["b", "a"])],
                guides: [ReadableGuide(id: "g", title: "Divider", y: 500, color: "#d1d1d1")]))
        let elements = HTMLParse.elements(HTMLRenderer.page(c)).elements
        let cards = elements.filter { $0.name == "rect" && $0.attributes["class"] == "card" }
        #expect(cards.map { $0.attributes["x"] } == ["108", "108"], "inside the list, at its padding")
        #expect(cards.map { $0.attributes["y"] } == ["134", "175"], "below its title, in list order")
        #expect(cards.map { $0.attributes["width"] } == ["190", "190"])
        #expect(elements.contains { $0.name == "line" && $0.attributes["y1"] == "500" && $0.attributes["stroke"] == "#d1d1d1" })
        #expect(elements.contains { $0.name == "text" && $0.text == "Divider" })
    }

    @Test func recordsAreATableWithNestedSubtablesLinkedFilesAndCommentsUnderTheirRecord() throws {
        let app = ReadableContainer(
            id: "2", kind: "app", title: "Orders",
            fields: [
                ReadableFieldDefinition(code: "no", label: "Order number", type: "SINGLE_LINE_TEXT"),
                ReadableFieldDefinition(code: "items", label: "Items", type: "SUBTABLE"),
                ReadableFieldDefinition(code: "files", label: "Attachments", type: "FILE"),
            ],
            items: [
                ReadableItem(
                    id: "1", title: "ORD-1",
                    fields: [
                        ReadableFieldValue(name: "Order number", value: .text("ORD-1")),
                        ReadableFieldValue(name: "Items", value: .table(columns: ["Product", "Qty"], rows: [["Widget", "3"]])),
                        ReadableFieldValue(name: "Attachments", value: .list(["readme.txt"])),
                    ],
                    comments: [ReadableComment(author: "Sato", body: "Order received.")],
                    attachments: [ReadableAttachment(name: "readme.txt", archivePath: "attachments/sha256/ab/ab12")]),
            ])
        let elements = HTMLParse.elements(HTMLRenderer.page(app)).elements
        let headers = elements.filter { $0.name == "th" }.map(\.text)
        #expect(Array(headers.prefix(4)) == ["Record", "Order number", "Items", "Attachments"])
        #expect(elements.filter { $0.name == "table" }.count >= 2, "the subtable is a table inside the records table")
        #expect(elements.contains { $0.name == "a" && $0.attributes["href"] == "../../attachments/sha256/ab/ab12" && $0.text == "readme.txt" })
        let comments = try #require(elements.first { $0.name == "tr" && $0.attributes["class"] == "comments" })
        #expect(comments.text.contains("Order received."))
    }

    @Test func statusesBecomeBoardColumnsLinkingEachItemsOwnSection() throws {
        let space = ReadableContainer(
            id: "k", kind: "space", title: "Acme",
            groups: [ReadableGroup(id: "todo", kind: "status", title: "Todo"), ReadableGroup(id: "done", kind: "status", title: "Done")],
            items: [
                ReadableItem(id: "w1", title: "ACM-1 Sign in", labels: ["bug"], status: "Todo", groupID: "todo",
                             comments: [ReadableComment(author: "ada", body: "Seen on Safari")]),
                ReadableItem(id: "w2", title: "ACM-2 Dark mode", status: "Done", groupID: "done"),
            ],
            tags: [ReadableTag(name: "bug", color: "#e91e63")])
        let elements = HTMLParse.elements(HTMLRenderer.page(space)).elements
        let columns = elements.filter { $0.name == "section" && $0.attributes["class"] == "column" }
        #expect(columns.count == 2)
        #expect(columns[0].text.contains("ACM-1 Sign in") && columns[1].text.contains("ACM-2 Dark mode"))
        #expect(elements.contains { $0.name == "a" && $0.attributes["href"] == "#item-w1" })
        let article = try #require(elements.first { $0.name == "article" && $0.attributes["id"] == "item-w1" })
        #expect(article.text.contains("Seen on Safari"))
        #expect(elements.contains { $0.attributes["style"] == "border-left-color:#e91e63" })
    }

    @Test func theIndexListsEveryContainerWithItsCountsAndLinks() throws {
        let entries = [
            Manifest.Entry(path: "data/spaces/HzVOgAct/cards.jsonl", size: 10, sha256: "", kind: "card", count: 12),
            Manifest.Entry(path: "data/spaces/HzVOgAct/boxes.jsonl", size: 10, sha256: "", kind: "box", count: 2),
            Manifest.Entry(path: "index.md", size: 10, sha256: ""),
        ]
        let index = HTMLRenderer.index(
            service: "Kinopio", account: "ada", containers: [Sample.space, Sample.other], archiveStartedAt: Dates.d2024_05_01,
            formats: [.html, .markdown], entries: entries)
        let elements = HTMLParse.elements(index).elements
        #expect(elements.contains { $0.name == "a" && $0.attributes["href"] == "spaces/garden-plans_HzVOgAct.html" })
        #expect(elements.contains { $0.name == "a" && $0.attributes["href"] == "../pages/spaces/garden-plans_HzVOgAct.md" })
        #expect(elements.contains { $0.name == "td" && $0.text == "2 box · 12 card" })
        #expect(elements.filter { $0.name == "tr" }.count == 3, "a header row and one row per container")
    }
}
