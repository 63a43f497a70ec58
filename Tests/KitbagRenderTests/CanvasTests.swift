import Foundation
import KitbagCore
import Testing

@testable import KitbagRender

@Suite struct CanvasTests {
    static func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func sampleCanvasHasGroupsItemsAndEdgesInZOrder() throws {
        let data = CanvasRenderer.canvas(Sample.space)
        let top = try Self.json(data)
        let nodes = try #require(top["nodes"] as? [[String: Any]])
        let edges = try #require(top["edges"] as? [[String: Any]])
        #expect(nodes.count == 6)  // 2 boxes + 4 live cards; the removed card is left out
        #expect(nodes.map { $0["id"] as? String } == ["box1", "box2", "card3", "card4", "card2", "card1"])
        #expect(nodes.prefix(2).allSatisfy { $0["type"] as? String == "group" })
        #expect(nodes[0]["label"] as? String == "Ideas")
        #expect(nodes[1]["color"] as? String == "#008000")
        let card1 = try #require(nodes.last)
        #expect(card1["text"] as? String == "Tomatoes\n\nPlant in **May**.\nWater daily.")
        #expect(card1["x"] as? Int == 40)
        #expect(card1["y"] as? Int == 61)
        #expect(card1["width"] as? Int == 200)
        #expect(card1["color"] as? String == "#ff0000")
        #expect(nodes[4]["width"] as? Int == CanvasRenderer.defaultWidth)
        #expect(edges.count == 2)  // conn3 points at the removed card
        #expect(edges[0]["toEnd"] as? String == "arrow")
        #expect(edges[0]["label"] as? String == "then")
        #expect(edges[0]["color"] as? String == "#0080ff")
        #expect(edges[1]["toEnd"] as? String == "none")
        // Every coordinate is an integer.
        for n in nodes {
            for key in ["x", "y", "width", "height"] { #expect(n[key] is Int, "\(key) of \(n["id"] ?? "?")") }
        }
    }

    @Test func framelessGroupsAndItemsGetANonOverlappingLayoutBelowFramedContent() throws {
        let doc = CanvasRenderer.document(Sample.space)
        let box1 = try #require(doc.nodes.first { $0.id == "box1" })
        let box2 = try #require(doc.nodes.first { $0.id == "box2" })
        let card4 = try #require(doc.nodes.first { $0.id == "card4" })
        let card3 = try #require(doc.nodes.first { $0.id == "card3" })
        #expect(box2.y >= box1.y + box1.height)
        #expect(card4.x >= box2.x && card4.x + card4.width <= box2.x + box2.width)
        #expect(card4.y >= box2.y && card4.y + card4.height <= box2.y + box2.height)
        #expect(card3.y >= box2.y + box2.height)
    }

    @Test(arguments: Hostile.all)
    func hostileTextGivesValidJSONWithTheTextKept(_ hostileCase: HostileText) throws {
        let hostile = hostileCase.text
        let data = CanvasRenderer.canvas(Sample.hostile(hostile))
        let top = try Self.json(data)
        let nodes = try #require(top["nodes"] as? [[String: Any]])
        #expect(nodes.count == 3)
        #expect((top["edges"] as? [Any])?.count == 1)
        let doc = try CanvasReader.read(data)
        #expect(doc == CanvasRenderer.document(Sample.hostile(hostile)))
        if hostile == Hostile.script {
            guard case .text(let text) = doc.nodes[1].kind else { Issue.record("not text"); return }
            #expect(text == "\(Hostile.script)\n\n\(Hostile.script)")
        }
    }

    @Test func canvasRoundTripsThroughTheReader() throws {
        let data = CanvasRenderer.canvas(Sample.space)
        let doc = try CanvasReader.read(data)
        #expect(doc == CanvasRenderer.document(Sample.space))
        #expect(doc.serialized() == data)
        #expect(CanvasRenderer.canvas(Sample.space) == data)
    }

    @Test func readerAcceptsForeignCanvasesWithExtensionsAndFloats() throws {
        let text = """
            {"nodes":[{"id":"a","type":"text","text":"hi","x":1.6,"y":-2,"width":10,"height":20,"extra":true},
            {"id":"f","type":"file","file":"notes/x.md","subpath":"#h","x":0,"y":0,"width":1,"height":1,"color":"3"},
            {"id":"l","type":"link","url":"https://example.com","x":0,"y":0,"width":1,"height":1}],
            "edges":[{"id":"e","fromNode":"a","toNode":"f","fromSide":"right","toSide":"left"}],"meta":{}}
            """
        let doc = try CanvasReader.read(Data(text.utf8))
        #expect(doc.nodes.count == 3)
        #expect(doc.nodes[0].x == 2)
        #expect(doc.nodes[1].kind == .file("notes/x.md", subpath: "#h"))
        #expect(doc.edges == [CanvasEdge(id: "e", fromNode: "a", toNode: "f", fromSide: .right, toSide: .left)])
    }

    @Test(arguments: [
        ("", "not JSON"),
        ("{\"nodes\":[{\"id\":\"a\"", "not JSON"),
        ("[1,2]", "the top level must be an object"),
        ("{\"nodes\":{}}", "nodes must be an array"),
        ("{\"nodes\":[42]}", "nodes[0] must be an object"),
        ("{\"nodes\":[{\"type\":\"text\"}]}", "nodes[0].id is missing"),
        ("{\"nodes\":[{\"id\":\"a\",\"type\":\"blob\"}]}", "nodes[0].type is \"blob\""),
        ("{\"nodes\":[{\"id\":\"a\",\"type\":\"text\",\"text\":\"t\",\"x\":0,\"y\":0,\"width\":\"10\",\"height\":1}]}",
         "nodes[0].width must be a number, found a string"),
        ("{\"nodes\":[{\"id\":\"a\",\"type\":\"text\",\"x\":0,\"y\":0,\"width\":1,\"height\":1}]}", "nodes[0].text is missing"),
        ("{\"nodes\":[{\"id\":\"a\",\"type\":\"text\",\"text\":\"t\",\"x\":1e400,\"y\":0,\"width\":1,\"height\":1}]}",
         "nodes[0].x is out of range"),
        ("{\"nodes\":[{\"id\":\"a\",\"type\":\"group\",\"x\":0,\"y\":0,\"width\":1,\"height\":1},{\"id\":\"a\",\"type\":\"group\",\"x\":0,\"y\":0,\"width\":1,\"height\":1}]}",
         "nodes[1].id repeats the id \"a\""),
        ("{\"edges\":[{\"id\":\"e\",\"fromNode\":\"a\",\"toNode\":\"b\"}]}", "edges[0].fromNode names no node"),
        ("{\"nodes\":[{\"id\":\"a\",\"type\":\"group\",\"x\":0,\"y\":0,\"width\":1,\"height\":1}],\"edges\":[{\"id\":\"e\",\"fromNode\":\"a\",\"toNode\":\"a\",\"toEnd\":\"circle\"}]}",
         "edges[0].toEnd is \"circle\", expected one of none, arrow"),
    ])
    func readerRefusesGarbageNamingWhatIsWrong(_ input: String, _ expected: String) {
        #expect {
            try CanvasReader.read(Data(input.utf8))
        } throws: { error in
            let text = "\(error)"
            return error is RenderError && text.contains(expected) && !text.contains("\n")
        }
    }

    @Test func colorsAreNormalisedOrDropped() {
        #expect(CanvasRenderer.canvasColor("#ABC") == "#aabbcc")
        #expect(CanvasRenderer.canvasColor("#11223344") == "#112233")
        #expect(CanvasRenderer.canvasColor("rgba(255, 0, 16, 0.5)") == "#ff0010")
        #expect(CanvasRenderer.canvasColor("4") == "4")
        #expect(CanvasRenderer.canvasColor("Blue") == "#0000ff")
        #expect(CanvasRenderer.canvasColor("#12345g") == nil)
        #expect(CanvasRenderer.canvasColor(Hostile.script) == nil)
    }
}
