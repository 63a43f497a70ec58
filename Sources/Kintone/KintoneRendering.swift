import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// How a Kintone app reads into the readable model — for the export walk and for `kitbag render` alike: its
/// records up to `KintoneExporter.readableItemLimit`, with a note when the app holds more.
public enum KintoneRendering {
    /// An archive does not record the guest space an export reached, so `kitbag render` links the apps' pages
    /// to `/k/ID/`; the export itself knows it (`/k/guest/SPACE/ID/`).
    public static let source = RenderingSource(service: .kintone, containerKind: KintoneSchema.appContainer) { info, _ in
        reading(webBase: info.source.baseURL, guestSpaceID: nil)
    }

    static func reading(webBase: String, guestSpaceID: String?) -> ContainerReading {
        ContainerReading { files in
            guard let app = try files.values("app").first else { return nil }
            var settings: [String: JSONValue] = [:]
            for setting in KintoneSchema.settings where files.has(setting.file) {
                settings[setting.file] = try files.values(setting.file).first
            }
            var records: [JSONValue] = []
            if let lines = try files.lines("records") {
                while records.count < KintoneExporter.readableItemLimit, let record = try lines.next() { records.append(record) }
            }
            let total = files.count("records") ?? 0
            let ids = Set(records.compactMap(KintoneRecordReader.recordID))
            var comments: [String: [JSONValue]] = [:]
            if let lines = try files.lines("comments") {
                while let c = try lines.next() {
                    if let record = c["recordId"]?.idString, ids.contains(record) { comments[record, default: []].append(c) }
                }
            }
            var readable = KintoneReadable.container(
                app: app, settings: settings, records: records, comments: comments, webBase: webBase,
                guestSpaceID: guestSpaceID)
            if total > records.count, let id = app["appId"]?.idString {
                readable.summary = [readable.summary, "This page shows the first \(records.count) of \(total) records; all are in data/apps/\(ArchivePath.component(id))/records.jsonl."]
                    .compactMap { $0 }.joined(separator: "\n\n")
            }
            return readable
        }
    }
}
