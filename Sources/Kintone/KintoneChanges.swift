import Foundation
import KitbagArchive
import KitbagCore

/// The change marker of one Kintone app's records: how many there are, the newest value of the app's
/// UPDATED_TIME field (`Updated_datetime` unless renamed), and when the app's comments were last fetched.
///
/// A record create raises the count or the newest time, an edit or status change moves the newest time, a delete
/// lowers the count (or, with a create, moves the newest time). Kintone keeps that time to the minute, so a marker
/// whose newest minute is the minute of the export or the one before is not trusted ("unsettled"): another edit in
/// the same minute would not move it. A new comment does not touch its record's updated time in Kintone, so an
/// app's comments are fetched whole again once they are older than `maxCopyAge` (as for Kona).
struct KintoneAppMarker: Equatable, Sendable {
    var count: Int
    /// The newest UPDATED_TIME value as Kintone writes it (`2026-11-23T05:49:00Z`); nil for an empty app.
    var newest: String?
    /// Unix seconds of the run that last fetched every comment of the app.
    var commentsFetchedAt: Int64

    static let maxCopyAge: Int64 = 7 * 24 * 3600

    /// `n=9;u=2026-11-23T05:49:00Z;c=1800000000`.
    var text: String { "n=\(count);u=\(newest ?? "-");c=\(commentsFetchedAt)" }

    init(count: Int, newest: String?, commentsFetchedAt: Int64) {
        self.count = count
        self.newest = newest
        self.commentsFetchedAt = commentsFetchedAt
    }

    init?(text: String?) {
        guard let text else { return nil }
        var fields: [String: String] = [:]
        for part in text.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return nil }
            fields[String(pair[0])] = String(pair[1])
        }
        guard fields.count == 3, let n = fields["n"].flatMap({ Int($0) }), let u = fields["u"],
            let c = fields["c"].flatMap({ Int64($0) })
        else { return nil }
        self.init(count: n, newest: u == "-" ? nil : u, commentsFetchedAt: c)
    }

    /// True when no edit can still land in the newest minute unseen: it ended before the export's previous minute.
    func isSettled(now: Int64) -> Bool {
        guard let newest else { return true }
        guard let time = Timestamp.parse(newest) else { return false }
        let minute = now - ((now % 60) + 60) % 60
        return Int64(time.timeIntervalSince1970) < minute - 60
    }

    /// The code of the app's UPDATED_TIME field, from its `formFields` document.
    static func updatedTimeCode(_ formFields: JSONValue?) -> String? {
        guard let properties = formFields?["properties"]?.objectValue else { return nil }
        return properties.first { $0.value["type"]?.stringValue == "UPDATED_TIME" }?.key
    }

    /// The later of two Kintone date-times (same format, so text order is time order), nil-tolerant.
    static func later(_ a: String?, _ b: String?) -> String? {
        guard let a else { return b }
        guard let b else { return a }
        return Timestamp.parse(a).flatMap { ta in Timestamp.parse(b).map { tb in ta >= tb ? a : b } } ?? max(a, b)
    }
}
