import CLibPNG
import CLibXML2
import Foundation
import KitbagTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Headless Chromium (Debian package `chromium`, installed by `.ci/run`) for the browser tests: screenshots,
/// the DOM after parsing, and a net log of every request the network stack saw.
enum Chromium {
    /// `KITBAG_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH (or in /usr/bin).
    static let binary: URL? = {
        let env = ProcessInfo.processInfo.environment
        // KITBAG_CHROMIUM names the browser; a name that is not an executable counts as no browser.
        if let p = env["KITBAG_CHROMIUM"] {
            return FileManager.default.isExecutableFile(atPath: p) ? URL(fileURLWithPath: p) : nil
        }
        let path = (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin"]
        for dir in path {
            for name in ["chromium", "chromium-browser"] {
                let candidate = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
            }
        }
        return nil
    }()

    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The one line a CI run fails with when the browser is missing.
    static let missing = "chromium is not installed: the HTML rendering tests need it (apt-get install chromium, as .ci/run does)"

    struct Run {
        var status: Int32
        var stdout: Data
        var stderr: String
    }

    /// Runs Chromium headless on `page` with a fresh profile under `work`; no request can leave the machine
    /// (every HTTP(S) request would go to a proxy on a closed local port).
    static func run(_ extra: [String], page: URL, work: URL) async throws -> Run {
        guard let binary else { throw BrowserError.missing }
        let profile = work.appendingPathComponent("profile-\(UUID().uuidString.prefix(8))")
        let arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
            "--force-device-scale-factor=1", "--proxy-server=http://127.0.0.1:9", "--user-data-dir=\(profile.path)",
        ] + extra + [page.absoluteString]
        let p = try ChildProcess(binary.path, arguments)
        async let o = ChildProcess.readToEnd(p.standardOutput)
        async let e = ChildProcess.readToEnd(p.standardError)
        let timeout = Task {
            try await Task.sleep(for: .seconds(90))
            p.signal(SIGKILL)
        }
        let (stdout, stderr) = await (o, e)
        await p.wait()
        timeout.cancel()
        try? FileManager.default.removeItem(at: profile)
        return Run(status: p.terminationStatus, stdout: stdout, stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A screenshot of `page` at `width`×`height`, with the net log of the visit.
    static func screenshot(_ page: URL, width: Int, height: Int, work: URL) async throws -> (png: Data, netLog: Data) {
        let name = UUID().uuidString.prefix(8)
        let png = work.appendingPathComponent("shot-\(name).png")
        let log = work.appendingPathComponent("net-\(name).json")
        let r = try await run(
            ["--window-size=\(width),\(height)", "--screenshot=\(png.path)", "--log-net-log=\(log.path)"], page: page,
            work: work)
        guard r.status == 0, let data = try? Data(contentsOf: png) else {
            throw BrowserError.failed("chromium --screenshot of \(page.lastPathComponent) exited \(r.status): \(r.stderr.suffix(400))")
        }
        return (data, (try? Data(contentsOf: log)) ?? Data())
    }

    /// The DOM of `page` after parsing, serialised by Chromium (`--dump-dom`), and the net log of the visit.
    static func dom(_ page: URL, work: URL) async throws -> (dom: Data, netLog: Data) {
        let log = work.appendingPathComponent("net-\(UUID().uuidString.prefix(8)).json")
        let r = try await run(["--dump-dom", "--log-net-log=\(log.path)"], page: page, work: work)
        guard r.status == 0, !r.stdout.isEmpty else {
            throw BrowserError.failed("chromium --dump-dom of \(page.lastPathComponent) exited \(r.status): \(r.stderr.suffix(400))")
        }
        return (r.stdout, (try? Data(contentsOf: log)) ?? Data())
    }
}

enum BrowserError: Error, CustomStringConvertible {
    case missing
    case failed(String)

    var description: String {
        switch self {
        case .missing: return Chromium.missing
        case .failed(let why): return why
        }
    }
}

/// What Chromium's `--log-net-log` recorded that a page asked for. Chromium's own traffic (component updates,
/// sign-in, network time) carries the initiator "not an origin"; anything a page loads carries the page's origin
/// ("null" for a `file://` page). `file:` loads never reach the network stack, so any request listed is a network load.
enum NetLog {
    static func pageRequests(_ data: Data) throws -> [String] {
        var data = data
        if (try? JSONSerialization.jsonObject(with: data)) == nil {
            data.append(contentsOf: Array("]}".utf8))  // a log cut short at exit lacks its closing brackets
        }
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let events = root["events"] as? [[String: Any]]
        else { throw BrowserError.failed("the net log is not Chromium's JSON") }
        var urls: [String] = []
        for e in events {
            guard let params = e["params"] as? [String: Any], let url = params["url"] as? String,
                let initiator = params["initiator"] as? String
            else { continue }
            if initiator != "not an origin" && !url.hasPrefix("file:") && !urls.contains(url) { urls.append(url) }
        }
        return urls
    }
}

/// A decoded PNG (8-bit RGBA) and the measures the tests judge screenshots by.
struct Screenshot {
    var width: Int
    var height: Int
    var rgba: [UInt8]

    init(_ png: Data) throws {
        var w: UInt32 = 0, h: UInt32 = 0
        var pixels: UnsafeMutablePointer<UInt8>?
        var message = [CChar](repeating: 0, count: 64)
        let status = png.withUnsafeBytes { buffer in
            kitbag_png_decode_rgba(buffer.baseAddress, buffer.count, &w, &h, &pixels, &message)
        }
        guard status == 0, let pixels else {
            throw BrowserError.failed("not a PNG: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        defer { free(pixels) }
        width = Int(w)
        height = Int(h)
        rgba = Array(UnsafeBufferPointer(start: pixels, count: width * height * 4))
    }

    /// The colour of most pixels (the page background).
    var background: UInt32 {
        var counts: [UInt32: Int] = [:]
        for i in stride(from: 0, to: rgba.count, by: 4 * 7) { counts[pixel(i), default: 0] += 1 }
        return counts.max { $0.value < $1.value }?.key ?? 0
    }

    func pixel(_ i: Int) -> UInt32 {
        UInt32(rgba[i]) << 24 | UInt32(rgba[i + 1]) << 16 | UInt32(rgba[i + 2]) << 8 | UInt32(rgba[i + 3])
    }

    /// Share of pixels that differ from the background: text, lines, cards.
    var ink: Double {
        let bg = background
        var n = 0
        for i in stride(from: 0, to: rgba.count, by: 4) where pixel(i) != bg { n += 1 }
        return Double(n) / Double(max(1, width * height))
    }

    /// Number of distinct colours (capped), sampled.
    var colours: Int {
        var seen = Set<UInt32>()
        for i in stride(from: 0, to: rgba.count, by: 4 * 3) {
            seen.insert(pixel(i))
            if seen.count >= 256 { break }
        }
        return seen.count
    }
}

/// An element of a page parsed back with libxml2's HTML parser (network off): its name, attributes and text.
struct ParsedElement {
    var name: String
    var attributes: [String: String]
    var text: String
}

enum ParsedPage {
    /// Every element of `html` in document order, and the page's whole text.
    static func elements(_ html: Data) -> (elements: [ParsedElement], text: String) {
        let options = Int32(HTML_PARSE_NONET.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue)
        let doc = html.withUnsafeBytes { buffer in
            htmlReadMemory(buffer.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(buffer.count), "page.html", "UTF-8", options)
        }
        guard let doc else { return ([], "") }
        defer { xmlFreeDoc(doc) }
        var out: [ParsedElement] = []
        func string(_ p: UnsafeMutablePointer<xmlChar>?) -> String {
            guard let p else { return "" }
            defer { kitbag_xmlFree(p) }
            return String(cString: p)
        }
        func walk(_ node: xmlNodePtr?) {
            var n = node
            while let current = n {
                if current.pointee.type == XML_ELEMENT_NODE {
                    var attributes: [String: String] = [:]
                    var a = current.pointee.properties
                    while let attr = a {
                        let name = String(cString: attr.pointee.name)
                        attributes[name] = string(xmlNodeGetContent(UnsafeMutablePointer<xmlNode>(OpaquePointer(attr))))
                        a = attr.pointee.next
                    }
                    out.append(
                        ParsedElement(
                            name: String(cString: current.pointee.name).lowercased(), attributes: attributes,
                            text: string(xmlNodeGetContent(current))))
                    walk(current.pointee.children)
                }
                n = current.pointee.next
            }
        }
        walk(xmlDocGetRootElement(doc))
        let text = string(xmlNodeGetContent(xmlDocGetRootElement(doc)))
        return (out, text)
    }
}

/// The cards of a drawing as the SVG places them.
struct DrawnCard {
    var x, y, width, height: Double
    func overlaps(_ o: DrawnCard) -> Bool {
        x < o.x + o.width && o.x < x + width && y < o.y + o.height && o.y < y + height
    }
}
