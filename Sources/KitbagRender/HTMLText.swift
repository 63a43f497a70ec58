import Foundation

/// HTML text under construction, with the escaping every piece of service text goes through.
///
/// `text(_:)` and `attribute(_:)` escape `&`, `<`, `>`, `"` and `'`, and drop C0/C1 controls (but tab and newline),
/// DEL, U+FFFE and U+FFFF, so service text can neither open markup nor leave an attribute value. Only `raw(_:)`
/// appends unescaped text, and it is used for kitbag's own markup and for values it built itself.
struct HTMLText {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    /// kitbag's own markup.
    mutating func raw(_ s: String) {
        bytes.append(contentsOf: s.utf8)
    }

    /// Service text in element content.
    mutating func text(_ s: String) {
        Self.escape(s, into: &bytes)
    }

    /// Service text flattened to one line (headings, cells, labels).
    mutating func line(_ s: String) {
        Self.escape(TextCleaning.oneLine(s), into: &bytes)
    }

    /// A number kitbag computed, with at most one decimal.
    mutating func number(_ d: Double) {
        raw(Self.format(d))
    }

    var data: Data { Data(bytes) }

    static func escape(_ s: String, into out: inout [UInt8]) {
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "&"): out.append(contentsOf: [0x26, 0x61, 0x6D, 0x70, 0x3B])  // &amp;
            case UInt8(ascii: "<"): out.append(contentsOf: [0x26, 0x6C, 0x74, 0x3B])  // &lt;
            case UInt8(ascii: ">"): out.append(contentsOf: [0x26, 0x67, 0x74, 0x3B])  // &gt;
            case UInt8(ascii: "\""): out.append(contentsOf: [0x26, 0x71, 0x75, 0x6F, 0x74, 0x3B])  // &quot;
            case UInt8(ascii: "'"): out.append(contentsOf: [0x26, 0x23, 0x33, 0x39, 0x3B])  // &#39;
            case 0x09, 0x0A: out.append(b)
            case 0x00...0x1F, 0x7F: continue
            default: out.append(b)
            }
        }
        // C1 controls and the two non-characters are multi-byte: strip them after the fact only when present.
        if s.unicodeScalars.contains(where: { (0x80...0x9F).contains($0.value) || $0.value == 0xFFFE || $0.value == 0xFFFF }) {
            var cleaned: [UInt8] = []
            let text = String(decoding: out, as: UTF8.self)
            for scalar in text.unicodeScalars
            where !((0x80...0x9F).contains(scalar.value) || scalar.value == 0xFFFE || scalar.value == 0xFFFF) {
                cleaned.append(contentsOf: String(scalar).utf8)
            }
            out = cleaned
        }
    }

    /// `s` escaped, as a String.
    static func escaped(_ s: String) -> String {
        var out: [UInt8] = []
        escape(s, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `12`, `12.5`, `-3`: rounded to one decimal, no trailing `.0`, no exponent; non-finite numbers read 0.
    static func format(_ d: Double) -> String {
        guard d.isFinite else { return "0" }
        let tenths = (min(max(d, -1e12), 1e12) * 10).rounded()
        let whole = Int64(tenths) / 10
        let frac = abs(Int64(tenths) % 10)
        if frac == 0 { return String(whole) }
        return (tenths < 0 && whole == 0 ? "-" : "") + "\(whole).\(frac)"
    }
}
