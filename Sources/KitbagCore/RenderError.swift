import Foundation

/// Why a rendering could not be written or a feed/canvas file could not be read (here in KitbagCore with the JSON
/// Canvas reader, which connectors use to import canvases; KitbagRender writes and reads the feeds).
public enum RenderError: KitbagError, Equatable {
    /// libxml2's writer failed at `step` while writing the feed of `container`.
    case feedWriterFailed(container: String, step: String)
    /// The feed file is larger than the reader accepts.
    case feedTooLarge(size: Int, limit: Int)
    /// The feed declares entities in a DTD (XXE / "billion laughs" shape) and was not parsed.
    case feedDeclaresEntities
    /// libxml2 could not parse the feed.
    case feedNotWellFormed(line: Int, message: String)
    /// The XML parsed but is not an RSS 2.0 feed.
    case notRSS(String)
    /// The canvas file is larger than the reader accepts.
    case canvasTooLarge(size: Int, limit: Int)
    /// The canvas file is not JSON at all.
    case canvasNotJSON(String)
    /// The canvas JSON has the wrong shape at `path` (e.g. `nodes[3].width`).
    case canvasInvalid(path: String, problem: String)

    public var description: String {
        switch self {
        case .feedWriterFailed(let container, let step):
            return "could not write the RSS feed of \(container): libxml2 failed at \(step); this is a bug in kitbag, please report it"
        case .feedTooLarge(let size, let limit):
            return "feed is \(size) bytes, more than the \(limit)-byte limit; it was not read"
        case .feedDeclaresEntities:
            return "feed declares XML entities in a DTD (an XXE or billion-laughs shape); refused without expanding anything"
        case .feedNotWellFormed(let line, let message):
            return "feed is not well-formed XML (line \(line): \(message)); re-export it or check the file"
        case .notRSS(let why):
            return "file is not an RSS 2.0 feed: \(why)"
        case .canvasTooLarge(let size, let limit):
            return "canvas file is \(size) bytes, more than the \(limit)-byte limit; it was not read"
        case .canvasNotJSON(let why):
            return "canvas file is not JSON (\(why)); pass a .canvas file written by Obsidian, Kinopio or kitbag"
        case .canvasInvalid(let path, let problem):
            return "canvas file is not valid JSON Canvas 1.0: \(path) \(problem); fix the file or export it again"
        }
    }
}
