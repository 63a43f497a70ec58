import Foundation
import Kinopio
import KitbagArchive
import KitbagCore
import KitbagRender
import KitbagSandbox
import KitbagTestSupport
import Testing

@Suite struct KinopioCanvasImportTests {
    static let canvas = #"""
        {"nodes":[
          {"id":"g1","type":"group","x":0,"y":0,"width":600,"height":400,"label":"Ideas","color":"4"},
          {"id":"n1","type":"text","x":20,"y":40,"width":250,"height":60,"text":"First <idea> & more"},
          {"id":"n2","type":"text","x":300,"y":40,"width":250,"height":60,"text":"Second\n\nwith a body","color":"#ff0000"},
          {"id":"n3","type":"link","x":20,"y":500,"width":250,"height":60,"url":"https://example.org/"},
          {"id":"n4","type":"text","x":-300,"y":-100,"width":200,"height":80,"text":"Up and to the left"}
        ],"edges":[
          {"id":"e1","fromNode":"n1","toNode":"n2","label":"leads to"},
          {"id":"e2","fromNode":"n2","toNode":"n3","toEnd":"none"},
          {"id":"e3","fromNode":"n3","toNode":"g1","label":"belongs"}
        ]}
        """#

    // Parity with Kinopio's own canvas import, kinopio-client src/utils.js `convertFromJsonCanvas` (commit
    // 8f10f48b55cef11c2d8b7cef7d7a8d73561600a7): every edge kept, positions shifted so none is negative (and nudged
    // by 150), edge labels as connection names; groups stay boxes, which connections may end at.
    @Test func aCanvasBecomesOneSpaceAndARerunCreatesNothing() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let file = dir.appendingPathComponent("Garden plan.canvas")
        try Data(Self.canvas.utf8).write(to: file)
        let target = try await Fixture.sandbox(seed: .empty, key: Fixture.targetKey)
        let conn = try Fixture.connection(target, key: Fixture.targetKey)

        let first = try await KinopioJobs.importCanvas(
            file, connection: conn, journalURL: nil, dryRun: false, progress: .silent)
        #expect(first.created["space"] == 1)
        #expect(first.created["card"] == 4)
        #expect(first.created["box"] == 1)
        #expect(first.created["connection"] == 3, "the edge to a group ends at its box")

        let out = dir.appendingPathComponent("after")
        let exported = try await Fixture.export(conn, to: out, format: .folder)
        #expect(exported.counts["space"] == 1)
        #expect(exported.counts["card"] == 4)
        #expect(exported.counts["box"] == 1)
        #expect(exported.counts["connection"] == 3)
        let reader = try SnapshotReader.open(out)
        defer { reader.close() }
        let spaceFolder = try #require(reader.jsonLinesEntries().first { $0.kind == "space" }).path
        let folder = (spaceFolder as NSString).deletingLastPathComponent
        let space = try reader.values(at: "\(folder)/space.jsonl")
        #expect(space.first?["name"] == "Garden plan")
        let names = Set(try reader.values(at: "\(folder)/cards.jsonl").compactMap { $0["name"]?.stringValue })
        #expect(names == ["First <idea> & more", "Second\n\nwith a body", "https://example.org/", "Up and to the left"])
        let cards = try reader.values(at: "\(folder)/cards.jsonl")
        #expect(cards.allSatisfy { ($0["x"]?.intValue ?? -1) >= 0 && ($0["y"]?.intValue ?? -1) >= 0 })
        #expect(cards.first { $0["name"] == "Up and to the left" }.map { $0["x"] == 150 && $0["y"] == 150 } == true)
        let boxes = try reader.values(at: "\(folder)/boxes.jsonl")
        #expect(boxes.first?["name"] == "Ideas")
        #expect(boxes.first?["color"] == "#44cf6e")
        #expect(boxes.first?["x"] == 450 && boxes.first?["y"] == 250)
        let boxID = boxes.first?["id"]
        let connections = try reader.values(at: "\(folder)/connections.jsonl")
        #expect(connections.filter { $0["directionIsVisible"]?.boolValue == true }.count == 2)
        #expect(connections.contains { $0["endItemId"] == boxID && $0["name"] == "belongs" })
        #expect(connections.contains { $0["name"] == "leads to" && $0["labelIsVisible"] == true })
        #expect(connections.allSatisfy { $0["color"]?.stringValue != nil && $0["connectionTypeId"] == nil })

        // The same canvas again: everything is in the journal beside it, nothing new is created.
        let again = try await KinopioJobs.importCanvas(
            file, connection: conn, journalURL: nil, dryRun: false, progress: .silent)
        #expect(again.created.values.reduce(0, +) == 0)
        #expect(again.alreadyPresent["card"] == 4)
        await conn.shutdown()
        await target.stop()
    }

    @Test func aBrokenCanvasIsRefusedBeforeAnyWrite() async throws {
        let dir = try Fixture.tempDir()
        defer { Scratch.remove(dir) }
        let file = dir.appendingPathComponent("broken.canvas")
        try Data(#"{"nodes":[{"id":"a","type":"text","x":"left"}]}"#.utf8).write(to: file)
        let target = try await Fixture.sandbox(seed: .empty, key: Fixture.targetKey)
        let conn = try Fixture.connection(target, key: Fixture.targetKey)
        var message = ""
        do {
            _ = try await KinopioJobs.importCanvas(file, connection: conn, journalURL: nil, dryRun: false, progress: .silent)
        } catch { message = String(describing: error) }
        #expect(message.contains("nodes[0]"), "\(message)")
        #expect(await target.stats().requestsByRoute.keys.allSatisfy { !$0.hasPrefix("POST") })
        await conn.shutdown()
        await target.stop()
    }
}
