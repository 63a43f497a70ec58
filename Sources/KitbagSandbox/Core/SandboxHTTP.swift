import Foundation
import Hummingbird
import KitbagCore

/// One request as a sandbox route handler sees it: body already collected, path parameters decoded.
struct SandboxRequest: Sendable {
    let method: HTTPRequest.Method
    let path: String
    let pathParameters: [String: String]
    let query: [String: String]
    let headers: HTTPFields
    let body: [UInt8]
    /// The credential the dialect found on the request (header or query), if any.
    let credential: String?
    /// The undecoded query string, for services whose parameters repeat (`ids=1&ids=2`).
    var rawQuery: String? = nil

    func parameter(_ name: String) -> String { pathParameters[name] ?? "" }

    /// The body parsed as JSON; a missing or malformed body is a 400.
    func json() throws(SandboxHTTPError) -> JSONValue {
        guard !body.isEmpty else { throw SandboxHTTPError(.badRequest, "the request body is empty; send a JSON body") }
        do {
            return try JSONValue(parsing: body)
        } catch {
            throw SandboxHTTPError(.badRequest, "the request body is not valid JSON (\(error))")
        }
    }
}

/// An answer from a route handler: JSON by default, raw bytes for downloads, nothing for 204.
struct SandboxReply: Sendable {
    /// Bytes sent as they are (a file download) instead of the JSON body.
    struct Raw: Sendable {
        var bytes: [UInt8]
        var contentType: String
    }

    var status: HTTPResponse.Status
    var body: JSONValue
    /// Extra response headers (`Location`, `X-ConcurrencyLimit-*`, …).
    var headers: HTTPFields
    var raw: Raw?

    init(_ body: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) {
        self.status = status
        self.body = body
        self.headers = headers
        self.raw = nil
    }

    /// A download: `bytes` with `contentType` (and e.g. `Content-Disposition` in `headers`).
    static func bytes(_ bytes: [UInt8], contentType: String, headers: HTTPFields = [:]) -> SandboxReply {
        var reply = SandboxReply(.null, headers: headers)
        reply.raw = Raw(bytes: bytes, contentType: contentType)
        return reply
    }

    /// 204 No Content (or another bodiless status).
    static func empty(status: HTTPResponse.Status = .noContent, headers: HTTPFields = [:]) -> SandboxReply {
        var reply = SandboxReply(.null, status: status, headers: headers)
        reply.raw = Raw(bytes: [], contentType: "")
        return reply
    }

    /// The HTTP response this reply becomes.
    func response() -> Response {
        guard let raw else { return sandboxJSONResponse(status, body, headers: headers) }
        var fields = headers
        if !raw.contentType.isEmpty { fields[.contentType] = raw.contentType }
        if status == .noContent || status == .notModified { return Response(status: status, headers: fields) }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: raw.bytes)))
    }
}

/// An HTTP failure a handler answers with; the dialect turns it into the service's JSON error shape.
struct SandboxHTTPError: Error, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
    var description: String { "\(status.code) \(message)" }
}

/// What differs between the four emulated services at the HTTP edge.
protocol SandboxDialect: Sendable {
    /// The credential a request carries (API key, token), or nil.
    func credential(of request: Request) -> String?
    /// The service's JSON error body for a status and message.
    func errorBody(status: HTTPResponse.Status, message: String) -> JSONValue
}

typealias SandboxHandler = @Sendable (SandboxRequest) async throws(SandboxHTTPError) -> SandboxReply

/// A method + path pattern (`/space/:spaceId`) and its handler.
struct SandboxRoute: Sendable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }
    let method: HTTPRequest.Method
    let segments: [Segment]
    /// Label used in statistics, e.g. `GET /space/:spaceId`.
    let label: String
    let handler: SandboxHandler

    init(_ method: HTTPRequest.Method, _ pattern: String, _ handler: @escaping SandboxHandler) {
        self.method = method
        self.segments = pattern.split(separator: "/").map {
            $0.hasPrefix(":") ? .parameter(String($0.dropFirst())) : .literal(String($0))
        }
        self.label = "\(method.rawValue) \(pattern)"
        self.handler = handler
    }

    var literalCount: Int { segments.reduce(0) { if case .literal = $1 { $0 + 1 } else { $0 } } }
}

/// Finds the route for a request; literal segments win over parameters (`/card/multiple` before `/card/:cardId`).
struct SandboxRouter: Sendable {
    let routes: [SandboxRoute]

    func match(method: HTTPRequest.Method, path: String) -> (route: SandboxRoute, parameters: [String: String])? {
        let parts = SandboxRouter.pathSegments(path)
        var best: (route: SandboxRoute, parameters: [String: String])?
        for route in routes where route.method == method && route.segments.count == parts.count {
            var params: [String: String] = [:]
            var ok = true
            for (segment, part) in zip(route.segments, parts) {
                switch segment {
                case .literal(let text): if text != part { ok = false }
                case .parameter(let name): params[name] = part
                }
                if !ok { break }
            }
            guard ok else { continue }
            if best == nil || route.literalCount > best!.route.literalCount { best = (route, params) }
        }
        return best
    }

    /// Splits a raw path into percent-decoded segments.
    static func pathSegments(_ path: String) -> [String] {
        path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
    }

    /// Parses a raw query string (`a=1&b=x%20y`) into decoded pairs; the last value of a repeated name wins.
    static func parseQuery(_ query: String?) -> [String: String] {
        guard let query, !query.isEmpty else { return [:] }
        var out: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let plusless = s.replacingOccurrences(of: "+", with: " ")
                return plusless.removingPercentEncoding ?? plusless
            }
            let name = decode(kv[0])
            out[name] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return out
    }
}

extension JSONValue {
    /// Body of a JSON response.
    func byteBuffer() -> ByteBuffer { ByteBuffer(bytes: serialized()) }
}

/// Builds a JSON response with the right content type and length.
func sandboxJSONResponse(_ status: HTTPResponse.Status, _ body: JSONValue, headers extra: HTTPFields = [:]) -> Response {
    var headers = extra
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body.byteBuffer()))
}
