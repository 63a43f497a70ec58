import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore
import KitbagTestSupport
import Testing

/// A connector's side of the walk, without a service: spaces of items, written from their listing.
final class FakeSource: ExportSource {
    let listed: [ListedContainer]
    let batchSize: Int
    var fetched: [String] = []
    var reused: [String] = []
    var prefetched: [[String]] = []
    var readings = 0

    init(_ listed: [ListedContainer], batchSize: Int = 1) {
        self.listed = listed
        self.batchSize = batchSize
    }

    /// `count` spaces, each listed with `payload` bytes of text (the walk spools listings past 1 MiB).
    static func spaces(_ count: Int, payload: Int = 16, marker: (Int) -> String? = { _ in nil }) -> [ListedContainer] {
        (0..<count).map { i in
            let id = String(format: "s%03d", i)
            let listing: JSONValue = .object(
                JSONObject([
                    ("id", .string(id)), ("name", .string("Space \(i)")),
                    ("note", .string(String(repeating: "x", count: payload))),
                ]))
            return ListedContainer(
                ref: ContainerRef(kind: "spaces", id: id), kind: "space", title: "Space \(i)", marker: marker(i),
                listing: listing)
        }
    }

    func begin(into account: ContainerOutput) async throws -> [ListedContainer] {
        try account.write("user", kind: "user", values: [["id": "u1", "name": "Ada"]])
        return listed
    }

    func prefetch(_ batch: [ListedContainer]) async throws { prefetched.append(batch.map(\.id)) }

    func fetch(_ container: ListedContainer, into output: ContainerOutput, previous: PreviousContainer?) async throws
        -> FetchedContainer
    {
        fetched.append(container.id)
        let original = listed.first { $0.id == container.id }?.listing
        #expect(container.listing == original, "the listing comes back as it was listed")
        try output.write("space", kind: "space", values: [container.listing])
        let n = Int(container.id.dropFirst()) ?? 0
        try output.write("items", kind: "item", values: (0..<(n % 3 + 1)).map { .object(JSONObject([("id", .string("i\($0)"))])) })
        return FetchedContainer(marker: "fetched-\(container.id)")
    }

    func reuse(_ container: ListedContainer, from previous: PreviousContainer, into output: ContainerOutput) throws {
        reused.append(container.id)
        try output.copyFiles(from: previous.reader)
    }

    func finish(into account: ContainerOutput) async throws {
        try account.write("after", kind: "after", values: [["id": "z"]])
    }

    func notExported() -> [NotExported] { [NotExported(kind: "thing", reason: "no route")] }

    func reading(account: any ContainerFiles) throws -> ContainerReading {
        readings += 1
        let user = try account.values("user").first?["name"]?.stringValue
        return Self.reading(user: user)
    }

    static func reading(user: String?) -> ContainerReading {
        ContainerReading { files in
            guard let meta = try files.values("space").first, let id = meta["id"]?.stringValue else { return nil }
            return ReadableContainer(
                id: id, kind: "space", title: meta["name"]?.stringValue ?? id, summary: user.map { "Owner \($0)" },
                items: try files.values("items").map { ReadableItem(id: $0["id"]?.stringValue ?? "", title: "Item") })
        }
    }
}

@Suite struct ExportWalkTests {
    static let time = Date(timeIntervalSince1970: 1_790_000_000)

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-walk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
    static let info = ArchiveInfo(
        service: .kinopio, source: .init(baseURL: "http://127.0.0.1:1", account: .init(id: "u1", name: "Ada")),
        startedAt: time, renderings: ReadableFormat.allCases.map(\.rawValue))

    /// Walks `source` into a folder archive at `url` and seals it.
    static func walk(
        _ source: FakeSource, to url: URL, renderings: Set<ReadableFormat> = Set(ReadableFormat.allCases),
        base: ChangeBase? = nil, format: ArchiveFormat = .folder
    ) async throws -> (ExportWalk.Result, ManifestTotals) {
        var info = Self.info
        info.renderings = ReadableFormat.allCases.filter(renderings.contains).map(\.rawValue)
        let destination: ArchiveDestination = format == .folder ? .folder(url) : .file(url)
        let writer = try SnapshotWriter(destination: destination, format: format, info: info, snapshotTime: time)
        let result = try await ExportWalk.run(
            source, into: writer, renderings: renderings, base: base, displayName: "Kinopio", progress: .silent)
        return (result, try writer.sealStreamed(notExported: result.notExported, finishedAt: time))
    }

    @Test func theAccountComesFirstThenEachContainerWithItsRenderingsThenWhatFollowsAndTheIndexes() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let source = FakeSource(FakeSource.spaces(2))
        let (result, totals) = try await Self.walk(source, to: dir.appendingPathComponent("a"))
        let reader = try SnapshotReader.open(dir.appendingPathComponent("a"))
        defer { reader.close() }
        let paths = reader.manifest.entries.map(\.path)
        #expect(
            paths == [
                "kitbag.json", "data/account/user.jsonl",
                "data/spaces/s000/space.jsonl", "data/spaces/s000/items.jsonl", "pages/spaces/space-0_s000.md",
                "feeds/spaces/space-0_s000.xml", "canvas/space-0_s000.canvas", "html/spaces/space-0_s000.html",
                "data/spaces/s001/space.jsonl", "data/spaces/s001/items.jsonl", "pages/spaces/space-1_s001.md",
                "feeds/spaces/space-1_s001.xml", "canvas/space-1_s001.canvas", "html/spaces/space-1_s001.html",
                "data/account/after.jsonl", "index.md", "html/index.html",
            ])
        #expect(totals.counts == ["user": 1, "space": 2, "item": 3, "after": 1])
        #expect(result.notExported == [NotExported(kind: "thing", reason: "no route")])
        #expect(result.changes.fetched == ["data/spaces/s000", "data/spaces/s001"])
        #expect(result.changes.markers == ["data/spaces/s000": "fetched-s000", "data/spaces/s001": "fetched-s001"])
        #expect(source.readings == 1, "the reading is set up once, from the account's files")
        let page = String(decoding: try Data(contentsOf: dir.appendingPathComponent("a/pages/spaces/space-1_s001.md")), as: UTF8.self)
        #expect(page.contains("Owner Ada"), "the reading saw the account-level files")
    }

    @Test func theRenderingsOfTheWalkAreThoseKitbagRenderMakesFromTheJSON() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        _ = try await Self.walk(FakeSource(FakeSource.spaces(3)), to: dir.appendingPathComponent("full"))
        _ = try await Self.walk(FakeSource(FakeSource.spaces(3)), to: dir.appendingPathComponent("json"), renderings: [])
        let reader = try SnapshotReader.open(dir.appendingPathComponent("json"))
        defer { reader.close() }
        #expect(!reader.manifest.entries.contains { $0.path.hasPrefix("pages/") || $0.path == "index.md" })
        let source = RenderingSource(service: .kinopio, containerKind: "spaces") { _, account in
            FakeSource.reading(user: try account.values("user").first?["name"]?.stringValue)
        }
        var info = reader.info
        info.renderings = ReadableFormat.allCases.map(\.rawValue)
        let files = try ArchiveRendering.files(
            containers: try source.read(reader), info: info, displayName: "Kinopio", entries: reader.manifest.entries,
            formats: Set(ReadableFormat.allCases), linked: Set(ReadableFormat.allCases))
        #expect(files.count == 3 * 4 + 2)
        for file in files {
            let exported = try Data(contentsOf: dir.appendingPathComponent("full").appendingPathComponent(file.path))
            #expect(exported == file.data, "\(file.path) differs between the walk and kitbag render")
        }
    }

    @Test func unchangedContainersAreCopiedAndTheArchiveEqualsAFullExport() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        let first = dir.appendingPathComponent("first.tar")
        let listed = FakeSource.spaces(5, marker: { "v\($0)" })
        let (walked, _) = try await Self.walk(FakeSource(listed), to: first, format: .tar)
        #expect(walked.changes.markers["data/spaces/s002"] == "fetched-s002", "a fetch's marker wins over the listing's")

        // The listing says s001 and s003 changed; the markers of the previous run are the listing's.
        var markers = Dictionary(uniqueKeysWithValues: listed.map { ($0.ref.archiveFolder, $0.marker ?? "") })
        markers["data/spaces/s001"] = "old"
        markers["data/spaces/s003"] = "old"
        let previous = try SnapshotReader.open(first)
        defer { previous.close() }
        let source = FakeSource(listed, batchSize: 2)
        let (result, _) = try await Self.walk(
            source, to: dir.appendingPathComponent("second.tar"), base: ChangeBase(previous: previous, markers: markers),
            format: .tar)
        #expect(source.fetched == ["s001", "s003"])
        #expect(source.reused == ["s000", "s002", "s004"])
        #expect(source.prefetched == [["s001"], ["s003"], []], "windows of 2, without the containers copied")
        #expect(result.changes.reused == ["data/spaces/s000", "data/spaces/s002", "data/spaces/s004"])
        #expect(result.changes.fetched == ["data/spaces/s001", "data/spaces/s003"])
        #expect(result.changes.markers["data/spaces/s000"] == "v0")

        _ = try await Self.walk(FakeSource(listed), to: dir.appendingPathComponent("full.tar"), format: .tar)
        #expect(
            try Data(contentsOf: dir.appendingPathComponent("second.tar"))
                == Data(contentsOf: dir.appendingPathComponent("full.tar")))
    }

    @Test func listingsLargerThanMemoryComeBackIntactAndJSONOnlyRendersNothing() async throws {
        let dir = try Self.tempDir()
        defer { Scratch.remove(dir) }
        // 60 listings of 100 kB: past the 1 MiB the walk keeps in memory.
        let source = FakeSource(FakeSource.spaces(60, payload: 100_000), batchSize: 7)
        let (result, totals) = try await Self.walk(source, to: dir.appendingPathComponent("a.tar"), renderings: [], format: .tar)
        #expect(source.fetched.count == 60)
        #expect(source.readings == 0)
        #expect(totals.entryCount == 1 + 1 + 60 * 2 + 1)
        #expect(source.prefetched.map(\.count) == [7, 7, 7, 7, 7, 7, 7, 7, 4])
        #expect(result.changes.fetched.count == 60)
    }
}
