import Foundation
import KitbagCore

/// The items of one list of one space, kept in a temporary file as they arrive and read back in id order. The
/// archive holds every list sorted by id (so it does not depend on the order the server answers in); memory holds
/// a small entry per item instead of the items, so a space of ten thousand tasks no longer sits in memory while it
/// is written.
final class KonaItemFile {
    struct Entry {
        /// The item's `id` as the answer gave it, and as text.
        var id: JSONValue
        var key: String
        /// Its `updated_at` in Unix ms (`KonaSpaceMarker.stamp`).
        var stamp: Int64?
        var offset: UInt64
        var length: Int
        var arrival: Int
    }

    private let handle: FileHandle
    private(set) var entries: [Entry] = []
    private var end: UInt64 = 0
    private var line: [UInt8] = []

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-kona-items-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw UserError("kona: cannot create a temporary file in \(url.deletingLastPathComponent().path); check TMPDIR")
        }
        handle = try FileHandle(forUpdating: url)
        // The open handle keeps the file until it is closed; nothing is left behind, even if kitbag is killed.
        try? FileManager.default.removeItem(at: url)
    }

    deinit { try? handle.close() }

    func append(_ item: JSONValue) throws {
        line.removeAll(keepingCapacity: true)
        item.write(into: &line)
        try handle.seek(toOffset: end)
        try handle.write(contentsOf: line)
        let id = item["id"] ?? .null
        entries.append(
            Entry(
                id: id, key: id.idString ?? "", stamp: KonaSpaceMarker.stamp(item), offset: end, length: line.count,
                arrival: entries.count))
        end += UInt64(line.count)
    }

    /// The entries in id order (`KonaSchema.idOrder`; equal ids in the order they came).
    func sorted() -> [Entry] {
        entries.sorted { a, b in a.key == b.key ? a.arrival < b.arrival : KonaSchema.idOrder(a.key, b.key) }
    }

    /// One item, read back.
    func item(_ entry: Entry) throws -> JSONValue {
        try handle.seek(toOffset: entry.offset)
        guard let data = try handle.read(upToCount: entry.length), data.count == entry.length else {
            throw UserError("kona: a temporary file of this export was cut short; run the export again")
        }
        return try JSONValue(parsing: data)
    }

    /// Every item in the order it came.
    func all() throws -> [JSONValue] { try entries.map(item) }

    /// What the space's change marker keeps of this list (as `KonaSpaceMarker.init(items:commentsFetchedAt:)`).
    var resource: KonaSpaceMarker.Resource? {
        entries.contains { $0.stamp == nil } ? nil : .init(count: entries.count, newest: entries.compactMap(\.stamp).max())
    }
}
