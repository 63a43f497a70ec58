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
        Self.append(d, to: &bytes)
    }

    var data: Data { Data(bytes) }

    static func escape(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { escape($0, into: &out) }
    }

    /// One pass over UTF-8: the five markup characters become entities; C0 controls (but tab and newline), DEL,
    /// C1 controls (`C2 80`…`C2 9F`) and U+FFFE/U+FFFF (`EF BF BE`/`EF BF BF`) are dropped.
    static func escape(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "&"): out.append(contentsOf: [0x26, 0x61, 0x6D, 0x70, 0x3B])  // &amp;
            case UInt8(ascii: "<"): out.append(contentsOf: [0x26, 0x6C, 0x74, 0x3B])  // &lt;
            case UInt8(ascii: ">"): out.append(contentsOf: [0x26, 0x67, 0x74, 0x3B])  // &gt;
            case UInt8(ascii: "\""): out.append(contentsOf: [0x26, 0x71, 0x75, 0x6F, 0x74, 0x3B])  // &quot;
            case UInt8(ascii: "'"): out.append(contentsOf: [0x26, 0x23, 0x33, 0x39, 0x3B])  // &#39;
            case 0x09, 0x0A: out.append(b)
            case 0x00...0x1F, 0x7F: break
            case 0xC2 where i + 1 < n && (0x80...0x9F).contains(bytes[i + 1]):
                i += 1
            case 0xEF where i + 2 < n && bytes[i + 1] == 0xBF && (bytes[i + 2] == 0xBE || bytes[i + 2] == 0xBF):
                i += 2
            default: out.append(b)
            }
            i += 1
        }
    }

    /// Appends ` name="number"`.
    mutating func attribute(_ name: StaticString, _ d: Double) {
        bytes.append(0x20)
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [0x3D, 0x22])
        Self.append(d, to: &bytes)
        bytes.append(0x22)
    }

    /// Appends kitbag's own markup given as a static string (no allocation).
    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `format(d)` written straight into `out`.
    static func append(_ d: Double, to out: inout [UInt8]) {
        guard d.isFinite else {
            out.append(0x30)
            return
        }
        var tenths = Int64((min(max(d, -1e12), 1e12) * 10).rounded())
        if tenths < 0 {
            out.append(UInt8(ascii: "-"))
            tenths = -tenths
        }
        let whole = tenths / 10, frac = tenths % 10
        appendDigits(whole, to: &out)
        if frac != 0 {
            out.append(UInt8(ascii: "."))
            out.append(UInt8(0x30 + frac))
        }
    }

    static func appendDigits(_ v: Int64, to out: inout [UInt8]) {
        if v >= 10 { appendDigits(v / 10, to: &out) }
        out.append(UInt8(0x30 + v % 10))
    }

    /// `s` escaped, as a String.
    static func escaped(_ s: String) -> String {
        var out: [UInt8] = []
        escape(s, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `12`, `12.5`, `-3`: rounded to one decimal, no trailing `.0`, no exponent; non-finite numbers read 0.
    static func format(_ d: Double) -> String {
        var out: [UInt8] = []
        append(d, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
