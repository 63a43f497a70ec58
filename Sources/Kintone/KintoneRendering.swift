import Foundation
import KitbagArchive
import KitbagConnector
import KitbagCore

/// Kintone for `kitbag render`: each archived app read back into the model its exporter renders (records up to
/// the exporter's page limit, with the same note when an app holds more).
public enum KintoneRendering {
    public static let source = RenderingSource(service: .kintone) { archive in
        let present = Set(archive.jsonLinesEntries().map(\.path))
        var out: [ReadableContainer] = []
        for entry in archive.jsonLinesEntries() where entry.kind == "app" {
            let folder = (entry.path as NSString).deletingLastPathComponent
            func path(_ file: String) -> String? {
                let p = "\(folder)/\(file).jsonl"
                return present.contains(p) ? p : nil
            }
            for app in try archive.values(at: entry.path) {
                var settings: [String: JSONValue] = [:]
                for setting in KintoneSchema.settings {
                    if let p = path(setting.file) { settings[setting.file] = try archive.values(at: p).first }
                }
                var records: [JSONValue] = []
                var total = 0
                if let p = path("records") {
                    let lines = try archive.lines(at: p)
                    while let record = try lines.next() {
                        if total < KintoneExporter.readableItemLimit { records.append(record) }
                        total += 1
                    }
                }
                let ids = Set(records.compactMap(KintoneRecordReader.recordID))
                var comments: [String: [JSONValue]] = [:]
                if let p = path("comments") {
                    let lines = try archive.lines(at: p)
                    while let c = try lines.next() {
                        if let record = c["recordId"]?.idString, ids.contains(record) { comments[record, default: []].append(c) }
                    }
                }
                var readable = KintoneReadable.container(
                    app: app, settings: settings, records: records, comments: comments,
                    webBase: archive.info.source.baseURL, guestSpaceID: nil)
                if total > records.count, let id = app["appId"]?.idString {
                    readable.summary = [readable.summary, "This page shows the first \(records.count) of \(total) records; all are in data/apps/\(ArchivePath.component(id))/records.jsonl."]
                        .compactMap { $0 }.joined(separator: "\n\n")
                }
                out.append(readable)
            }
        }
        return out
    }
}
