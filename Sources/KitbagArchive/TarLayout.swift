import Foundation

/// The bytes of an uncompressed tar that no reader looks at: the padding of each entry's data to a 512-byte block,
/// the two zero blocks that end the archive, and the zero fill of the last record. kitbag writes them all as
/// zeros, so `verify` can tell a changed or cut file from a whole one even where no entry's content moved.
///
/// Only the block structure is walked here (header sizes and pax `size=` overrides); libarchive reads the entries.
enum TarLayout {
    static let block = 512

    static func problems(_ url: URL) -> [VerifyReport.Problem] {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return [] }
        defer { try? handle.close() }
        guard var reader = BlockReader(handle: handle) else { return [] }
        var problems: [VerifyReport.Problem] = []
        var paxSize: Int64?
        var lastPath = "(archive start)"
        while true {
            guard let header = reader.read(block) else {
                return [.init(path: "(archive)", problem: "ends without tar's end-of-archive blocks: the file was cut short")]
            }
            if header.count < block {
                return [.init(path: "(archive)", problem: "ends inside a tar block after '\(lastPath)': the file was cut short")]
            }
            if header.allSatisfy({ $0 == 0 }) { break }
            guard let declared = size(header) else { return problems }  // libarchive has judged the header already
            let type = header[156]
            let dataSize = (type == UInt8(ascii: "x") || type == UInt8(ascii: "g")) ? declared : (paxSize ?? declared)
            if type != UInt8(ascii: "x") && type != UInt8(ascii: "g") {
                paxSize = nil
                lastPath = name(header)
            }
            // Only pax records are read (for `size=`); entry data is libarchive's to check and is seeked over.
            let cut = [VerifyReport.Problem(path: lastPath, problem: "ends before its data does: the file was cut short")]
            if type == UInt8(ascii: "x"), dataSize <= 1 << 20 {
                let records = dataSize == 0 ? [] : reader.read(Int(dataSize))
                guard let records, records.count == Int(dataSize) else { return problems + cut }
                paxSize = paxRecordSize(records)
            } else if !reader.skip(dataSize) {
                return problems + cut
            }
            let padding = (block - Int(dataSize % Int64(block))) % block
            if padding > 0 {
                guard let pad = reader.read(padding), pad.count == padding else {
                    return problems + [.init(path: lastPath, problem: "ends inside its block padding: the file was cut short")]
                }
                if !pad.allSatisfy({ $0 == 0 }) {
                    problems.append(.init(path: lastPath, problem: "is followed by padding that is not zero: the file was changed after it was written"))
                }
            }
        }
        // The first zero block is read; a second must follow, then nothing but zeros.
        guard let second = reader.read(block), second.count == block else {
            return problems + [.init(path: "(archive)", problem: "ends without tar's second end-of-archive block: the file was cut short")]
        }
        var rest = second
        while true {
            if !rest.allSatisfy({ $0 == 0 }) {
                problems.append(.init(path: "(archive)", problem: "holds bytes that are not zero after tar's end-of-archive blocks: the file was changed after it was written"))
                break
            }
            guard let more = reader.read(1 << 20), !more.isEmpty else { break }
            rest = more
        }
        if reader.offset % Int64(block) != 0 {
            problems.append(.init(path: "(archive)", problem: "is not a whole number of 512-byte tar blocks: the file was cut short"))
        }
        return problems
    }

    /// The size field: octal digits, or base-256 when its first byte has the high bit set.
    static func size(_ header: [UInt8]) -> Int64? {
        let field = header[124..<136]
        if let first = field.first, first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x7f)
            for byte in field.dropFirst() {
                guard value < Int64.max >> 8 else { return nil }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        var value: Int64 = 0
        var seen = false
        for byte in field {
            if byte == 0 || byte == UInt8(ascii: " ") { if seen { break } else { continue } }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7"), value < Int64.max >> 3 else { return nil }
            value = value << 3 | Int64(byte - UInt8(ascii: "0"))
            seen = true
        }
        return value
    }

    static func name(_ header: [UInt8]) -> String {
        let raw = header[0..<100].prefix { $0 != 0 }
        let prefix = header[345..<500].prefix { $0 != 0 }
        let bytes = prefix.isEmpty ? Array(raw) : Array(prefix) + [UInt8(ascii: "/")] + Array(raw)
        return EntryPath.display(bytes)
    }

    /// `size=` from pax records ("LEN key=value\\n"), which overrides the next header's size field.
    static func paxRecordSize(_ data: [UInt8]) -> Int64? {
        var found: Int64?
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { continue }
            let record = line[line.index(after: space)...]
            if record.starts(with: Array("size=".utf8)) {
                found = Int64(String(decoding: record.dropFirst(5), as: UTF8.self))
            }
        }
        return found
    }

    /// Reads a file in exact-size pieces, or skips over them.
    struct BlockReader {
        let handle: FileHandle
        let size: Int64
        var offset: Int64 = 0

        init?(handle: FileHandle) {
            guard let end = try? handle.seekToEnd(), (try? handle.seek(toOffset: 0)) != nil else { return nil }
            self.handle = handle
            size = Int64(end)
        }

        mutating func read(_ count: Int) -> [UInt8]? {
            guard let data = try? handle.read(upToCount: count), !data.isEmpty else { return nil }
            offset += Int64(data.count)
            return [UInt8](data)
        }

        /// False (and nothing moved) when fewer than `count` bytes are left.
        mutating func skip(_ count: Int64) -> Bool {
            guard count <= size - offset, (try? handle.seek(toOffset: UInt64(offset + count))) != nil else { return false }
            offset += count
            return true
        }
    }
}
