import Foundation
import Hummingbird
import KitbagCore

/// One request as a sandbox route handler sees it: body already collected, path parameters decoded.
package struct SandboxRequest: Sendable {
    package let method: HTTPRequest.Method
    package let path: String
    package let pathParameters: [String: String]
    package let query: [String: String]
    package let headers: HTTPFields
    package let body: [UInt8]
    /// The credential the dialect found on the request (header or query), if any.
    package let credential: String?
    /// The undecoded query string, for services whose parameters repeat (`ids=1&ids=2`).
    package var rawQuery: String? = nil
    /// The label of the route serving it (`POST /card/multiple`), under which a write it makes is recorded.
    package var route: String = ""

    package init(
        method: HTTPRequest.Method, path: String, pathParameters: [String: String], query: [String: String],
        headers: HTTPFields, body: [UInt8], credential: String?, rawQuery: String? = nil, route: String = ""
    ) {
        self.method = method
        self.path = path
        self.pathParameters = pathParameters
        self.query = query
        self.headers = headers
        self.body = body
        self.credential = credential
        self.rawQuery = rawQuery
        self.route = route
    }

    package func parameter(_ name: String) -> String { pathParameters[name] ?? "" }

    /// The body parsed as JSON; a missing or malformed body is a 400.
    package func json() throws(SandboxHTTPError) -> JSONValue {
        guard !body.isEmpty else { throw SandboxHTTPError(.badRequest, "the request body is empty; send a JSON body") }
        do {
            return try JSONValue(parsing: body)
        } catch {
            throw SandboxHTTPError(.badRequest, "the request body is not valid JSON (\(error))")
        }
    }
}

/// An answer from a route handler: JSON by default, raw bytes for downloads, nothing for 204.
package struct SandboxReply: Sendable {
    /// Bytes sent as they are (a file download) instead of the JSON body.
    package struct Raw: Sendable {
        package var bytes: [UInt8]
        package var contentType: String
    }

    package var status: HTTPResponse.Status
    package var body: JSONValue
    /// Extra response headers (`Location`, `X-ConcurrencyLimit-*`, …).
    package var headers: HTTPFields
    package var raw: Raw?

    package init(_ body: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) {
        self.status = status
        self.body = body
        self.headers = headers
        self.raw = nil
    }

    /// A download: `bytes` with `contentType` (and e.g. `Content-Disposition` in `headers`).
    package static func bytes(_ bytes: [UInt8], contentType: String, headers: HTTPFields = [:]) -> SandboxReply {
        var reply = SandboxReply(.null, headers: headers)
        reply.raw = Raw(bytes: bytes, contentType: contentType)
        return reply
    }

    /// 204 No Content (or another bodiless status).
    package static func empty(status: HTTPResponse.Status = .noContent, headers: HTTPFields = [:]) -> SandboxReply {
        var reply = SandboxReply(.null, status: status, headers: headers)
        reply.raw = Raw(bytes: [], contentType: "")
        return reply
    }

    /// The HTTP response this reply becomes.
    package func response() -> Response {
        guard let raw else { return sandboxJSONResponse(status, body, headers: headers) }
        var fields = headers
        if !raw.contentType.isEmpty { fields[.contentType] = raw.contentType }
        if status == .noContent || status == .notModified { return Response(status: status, headers: fields) }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: raw.bytes)))
    }
}

/// An HTTP failure a handler answers with; the dialect turns it into the service's JSON error shape.
package struct SandboxHTTPError: Error, CustomStringConvertible {
    package let status: HTTPResponse.Status
    package let message: String
    package init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
    package var description: String { "\(status.code) \(message)" }
}

/// What differs between the four emulated services at the HTTP edge.
package protocol SandboxDialect: Sendable {
    /// The credential a request carries (API key, token), or nil.
    func credential(of request: Request) -> String?
    /// The service's JSON error body for a status and message.
    func errorBody(status: HTTPResponse.Status, message: String) -> JSONValue
}

package typealias SandboxHandler = @Sendable (SandboxRequest) async throws(SandboxHTTPError) -> SandboxReply

/// A method + path pattern (`/space/:spaceId`) and its handler.
package struct SandboxRoute: Sendable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }
    package let method: HTTPRequest.Method
    let segments: [Segment]
    /// Label used in statistics and the write log, e.g. `GET /space/:spaceId`.
    package let label: String
    let handler: SandboxHandler

    package init(_ method: HTTPRequest.Method, _ pattern: String, _ handler: @escaping SandboxHandler) {
        self.method = method
        self.segments = pattern.split(separator: "/").map {
            $0.hasPrefix(":") ? .parameter(String($0.dropFirst())) : .literal(String($0))
        }
        self.label = "\(method.rawValue) \(pattern)"
        self.handler = handler
    }

    var literalCount: Int { segments.reduce(0) { if case .literal = $1 { $0 + 1 } else { $0 } } }

    /// The path parameters of a request path this route serves, percent-decoded.
    func parameters(in path: String) -> [String: String] {
        var out: [String: String] = [:]
        for (segment, part) in zip(segments, SandboxRouter.pathSegments(path)) {
            if case .parameter(let name) = segment { out[name] = part }
        }
        return out
    }
}

/// An emulator's routes, served by a Hummingbird `Router`.
///
/// Hummingbird's trie picks the path first, literal segments before parameters, and the method second; the
/// hand-written router it replaced picked, among the routes of the request's method, the one with the most literal
/// segments. So that every request still reaches the route it reached before, each node of the trie also gets, for
/// each method it lacks, the route that method matches there by the old rule (`GET /card/search` is served and
/// counted as `GET /card/:cardId`, as before).
package struct SandboxRouter: Sendable {
    package let routes: [SandboxRoute]
    /// What is registered on the Hummingbird router: a node's path pattern, a method, and the route serving it.
    let endpoints: [(pattern: String, route: SandboxRoute)]
    /// `METHOD endpointPath` (Hummingbird's spelling of the node, `/space/{spaceId}`) → the label counted.
    let labels: [String: String]

    package init(routes: [SandboxRoute]) {
        self.routes = routes
        var endpoints: [(pattern: String, route: SandboxRoute)] = []
        var taken = Set<String>()
        var nodes: [(pattern: String, segments: ArraySlice<SandboxRoute.Segment>)] = []
        var seenNodes = Set<String>()
        for route in routes {
            for length in 0..<route.segments.count {
                let prefix = route.segments.prefix(length + 1)
                if seenNodes.insert(Self.pattern(prefix)).inserted { nodes.append((Self.pattern(prefix), prefix)) }
            }
            // The first of two routes with the same method and pattern wins, as it did.
            let pattern = Self.pattern(route.segments[...])
            if taken.insert("\(route.method.rawValue) \(pattern)").inserted { endpoints.append((pattern, route)) }
        }
        var methods: [HTTPRequest.Method] = []
        for route in routes where !methods.contains(route.method) { methods.append(route.method) }
        for node in nodes {
            for method in methods where !taken.contains("\(method.rawValue) \(node.pattern)") {
                // The route the old rule picks for this node: same length, every literal equal, most literals.
                var best: SandboxRoute?
                for route in routes where route.method == method && route.segments.count == node.segments.count {
                    let fits = zip(route.segments, node.segments).allSatisfy { candidate, at in
                        if case .parameter = candidate { return true }
                        return candidate == at
                    }
                    if fits, route.literalCount > (best?.literalCount ?? -1) { best = route }
                }
                if let best {
                    taken.insert("\(method.rawValue) \(node.pattern)")
                    endpoints.append((node.pattern, best))
                }
            }
        }
        self.endpoints = endpoints
        var labels: [String: String] = [:]
        for endpoint in endpoints {
            labels["\(endpoint.route.method.rawValue) \(RouterPath(endpoint.pattern).description)"] = endpoint.route.label
        }
        self.labels = labels
    }

    /// `/space/:spaceId`: the segments as Hummingbird reads a path pattern.
    static func pattern(_ segments: ArraySlice<SandboxRoute.Segment>) -> String {
        "/" + segments.map {
            switch $0 {
            case .literal(let text): text
            case .parameter(let name): ":" + name
            }
        }.joined(separator: "/")
    }

    /// Adds every endpoint to `router` (after its middleware, which applies to endpoints added later).
    func register(on router: Router<SandboxRequestContext>, edge: SandboxEdge) {
        for endpoint in endpoints {
            router.on(RouterPath(endpoint.pattern), method: endpoint.route.method, responder: SandboxEndpoint(route: endpoint.route, edge: edge))
        }
    }

    /// Splits a raw path into percent-decoded segments.
    package static func pathSegments(_ path: String) -> [String] {
        path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
    }

    /// Parses a raw query string (`a=1&b=x%20y`) into decoded pairs; the last value of a repeated name wins.
    package static func parseQuery(_ query: String?) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in queryPairs(query) { out[name] = value }
        return out
    }

    /// The decoded name–value pairs of a raw query string, in order (`+` is a space; a name alone has value "").
    package static func queryPairs(_ query: String?) -> [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        func decode(_ s: Substring) -> String {
            let plusless = s.replacingOccurrences(of: "+", with: " ")
            return plusless.removingPercentEncoding ?? plusless
        }
        return query.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }
}

extension JSONValue {
    /// Body of a JSON response.
    package func byteBuffer() -> ByteBuffer { ByteBuffer(bytes: serialized()) }
}

/// Builds a JSON response with the right content type and length.
package func sandboxJSONResponse(_ status: HTTPResponse.Status, _ body: JSONValue, headers extra: HTTPFields = [:]) -> Response {
    var headers = extra
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body.byteBuffer()))
}
