import Foundation

/// The parts of a zip that a reader may skip: a zip holds two copies of each entry's header (the local header
/// before its data, the central directory record at the end) plus a data descriptor after the data, and a
/// reader uses one or the other. kitbag checks that the copies agree — name, method, flags, time, CRC, sizes,
/// extra fields where both copies have the same shape — and that the entries, the central directory and its end
/// record follow one another without gaps. A change in a copy no reader used is then still a changed file.
///
/// Zip64 archives are left to libarchive (their sizes live in extra fields this check does not follow).
enum ZipLayout {
    struct Central {
        var name: [UInt8]
        var versionNeeded: UInt16
        var flags: UInt16
        var method: UInt16
        var time: UInt16
        var date: UInt16
        var crc: UInt32
        var compressed: UInt32
        var uncompressed: UInt32
        var extra: [UInt8]
        var diskStart: UInt16
        var localOffset: UInt32
    }

    static func problems(_ url: URL) -> [VerifyReport.Problem] {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return [] }
        defer { try? handle.close() }
        guard let fileSize = try? handle.seekToEnd() else { return [] }
        let noEndRecord: [VerifyReport.Problem] = [.init(path: "(archive)", problem: "has no zip end-of-central-directory record: the file was cut short, and other zip tools cannot open it")]
        guard fileSize >= 22 else { return noEndRecord }
        func read(_ offset: UInt64, _ count: Int) -> [UInt8]? {
            guard offset + UInt64(count) <= fileSize, (try? handle.seek(toOffset: offset)) != nil,
                let data = try? handle.read(upToCount: count), data.count == count
            else { return nil }
            return [UInt8](data)
        }
        func corrupt(_ path: String, _ what: String) -> [VerifyReport.Problem] {
            [.init(path: path, problem: what + ": the file was changed after it was written")]
        }

        // The end record lies in the last 22 bytes plus at most a 64 KiB comment (kitbag writes none).
        let tailLength = Int(min(fileSize, 65_557))
        guard let tail = read(fileSize - UInt64(tailLength), tailLength) else { return [] }
        guard let at = stride(from: tail.count - 22, through: 0, by: -1).first(where: { tail[$0..<($0 + 4)] == [0x50, 0x4B, 0x05, 0x06] })
        else { return noEndRecord }
        let end = Array(tail[at..<(at + 22)])
        let endOffset = fileSize - UInt64(tailLength) + UInt64(at)
        if at >= 20, tail[(at - 20)..<(at - 16)] == [0x50, 0x4B, 0x06, 0x07] { return [] }  // zip64
        let disk = u16(end, 4), cdDisk = u16(end, 6), onDisk = u16(end, 8), total = u16(end, 10)
        let cdSize = u32(end, 12), cdOffset = u32(end, 16), commentLength = u16(end, 20)
        if total == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF { return [] }  // zip64
        if disk != 0 || cdDisk != 0 || onDisk != total {
            return corrupt("(archive)", "its end-of-central-directory record names other disks of a split archive")
        }
        if endOffset + 22 + UInt64(commentLength) != fileSize {
            return corrupt("(archive)", "its end-of-central-directory record does not end the file")
        }
        if UInt64(cdOffset) + UInt64(cdSize) != endOffset {
            return corrupt("(archive)", "its central directory does not end where the end record begins")
        }
        guard let directory = read(UInt64(cdOffset), Int(cdSize)) else {
            return corrupt("(archive)", "its central directory lies outside the file")
        }

        // The central directory records, back to back.
        var centrals: [Central] = []
        var p = 0
        while p < directory.count {
            guard p + 46 <= directory.count, directory[p..<(p + 4)] == [0x50, 0x4B, 0x01, 0x02] else {
                return corrupt("(archive)", "its central directory holds something that is not an entry record")
            }
            let r = Array(directory[p..<(p + 46)])
            let n = Int(u16(r, 28)), e = Int(u16(r, 30)), c = Int(u16(r, 32))
            guard p + 46 + n + e + c <= directory.count else {
                return corrupt("(archive)", "its central directory ends inside an entry record")
            }
            centrals.append(
                Central(
                    name: Array(directory[(p + 46)..<(p + 46 + n)]), versionNeeded: u16(r, 6), flags: u16(r, 8),
                    method: u16(r, 10), time: u16(r, 12), date: u16(r, 14), crc: u32(r, 16), compressed: u32(r, 20),
                    uncompressed: u32(r, 24), extra: Array(directory[(p + 46 + n)..<(p + 46 + n + e)]),
                    diskStart: u16(r, 34), localOffset: u32(r, 42)))
            p += 46 + n + e + c
        }
        if centrals.count != Int(total) {
            return corrupt("(archive)", "its end record counts \(total) entries but the central directory holds \(centrals.count)")
        }

        // Each local header and data descriptor against its central record; the entries follow one another.
        var problems: [VerifyReport.Problem] = []
        var expectedOffset: UInt64 = 0
        for c in centrals {
            let name = EntryPath.display(c.name)
            if c.compressed == 0xFFFF_FFFF || c.uncompressed == 0xFFFF_FFFF || c.localOffset == 0xFFFF_FFFF { return problems }
            if UInt64(c.localOffset) != expectedOffset {
                problems += corrupt(name, "its local header is not where the previous entry ends")
                return problems
            }
            guard let l = read(UInt64(c.localOffset), 30), l[0..<4] == [0x50, 0x4B, 0x03, 0x04] else {
                problems += corrupt(name, "its local header is missing")
                return problems
            }
            let n = Int(u16(l, 26)), e = Int(u16(l, 28))
            guard let rest = read(UInt64(c.localOffset) + 30, n + e) else { return problems }
            let localName = Array(rest[0..<n]), localExtra = Array(rest[n...])
            var disagree: [String] = []
            if localName != c.name { disagree.append("name") }
            if u16(l, 4) != c.versionNeeded { disagree.append("version needed") }
            if u16(l, 6) != c.flags { disagree.append("flags") }
            if u16(l, 8) != c.method { disagree.append("compression method") }
            if u16(l, 10) != c.time || u16(l, 12) != c.date { disagree.append("time") }
            if localExtra.count == c.extra.count, localExtra != c.extra { disagree.append("extra fields") }
            if c.diskStart != 0 { disagree.append("disk") }
            let descriptor = c.flags & 0x8 != 0
            let localCRC = u32(l, 14), localCompressed = u32(l, 18), localUncompressed = u32(l, 22)
            if !(descriptor && localCRC == 0) && localCRC != c.crc { disagree.append("CRC") }
            if !(descriptor && localCompressed == 0) && localCompressed != c.compressed { disagree.append("compressed size") }
            if !(descriptor && localUncompressed == 0) && localUncompressed != c.uncompressed { disagree.append("size") }
            var next = UInt64(c.localOffset) + 30 + UInt64(n + e) + UInt64(c.compressed)
            if descriptor {
                // The descriptor: an optional signature, then CRC, compressed and uncompressed size.
                guard let d = read(next, 16) ?? read(next, 12) else { return problems + corrupt(name, "its data descriptor is missing") }
                let signed = d.count == 16 && d[0..<4] == [0x50, 0x4B, 0x07, 0x08]
                let base = signed ? 4 : 0
                if u32(d, base) != c.crc || u32(d, base + 4) != c.compressed || u32(d, base + 8) != c.uncompressed {
                    disagree.append("data descriptor")
                }
                next += UInt64(base + 12)
            }
            if !disagree.isEmpty {
                problems += corrupt(name, "its local header and central directory record disagree (\(disagree.joined(separator: ", ")))")
            }
            expectedOffset = next
        }
        if expectedOffset != UInt64(cdOffset) {
            problems += corrupt("(archive)", "holds bytes between its last entry and its central directory")
        }
        return problems
    }

    static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}
