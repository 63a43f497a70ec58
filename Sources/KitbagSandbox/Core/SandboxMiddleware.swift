import Foundation
import Hummingbird
import KitbagCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Request context that keeps the connection (so faults can reset or cut it) and what the middleware in front of a
/// route has found out: the route label it was counted under, the fault drawn for it, and its collected body.
struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel
    /// The label the request was counted under (`GET /space/:spaceId`, `POST (unmatched)`).
    var route = ""
    /// The fault drawn for this request when it arrived, injected after the rate limit.
    var fault: SandboxFault?
    /// The request body, collected once it has passed the body limit.
    var body: [UInt8] = []

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// What every stage that answers a request needs: the service's error dialect and the statistics.
struct SandboxEdge: Sendable {
    let dialect: any SandboxDialect
    let monitor: SandboxMonitor

    /// An error in the service's JSON shape, counted by status.
    func error(_ status: HTTPResponse.Status, _ message: String) async -> Response {
        await monitor.responded(Int(status.code))
        return sandboxJSONResponse(status, dialect.errorBody(status: status, message: message))
    }
}

/// Counts the requests the sandbox holds at once, for `SandboxStats.peakRunning`; the first stage of every request.
struct SandboxRunningMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext

    let monitor: SandboxMonitor

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        await monitor.entered()
        do {
            let response = try await next(request, context)
            await monitor.left()
            return response
        } catch {
            await monitor.left()
            throw error
        }
    }
}

/// Delays every request like a server `latency` away (one round trip, before anything else happens and so before
/// the response head is sent), plus up to `jitter`, plus `perRequestInFlight` for each other request in flight (a
/// server that slows down under load). Sleeping does not hold up other requests.
struct SandboxLatencyMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext

    private struct State: Sendable {
        var random: SplitMix64
        var inFlight = 0
    }

    let latency: Duration
    let jitter: Duration
    let perRequestInFlight: Duration
    let clock: any SandboxClock
    private let state: NIOLockedValueBox<State>

    init(latency: Duration, jitter: Duration, perRequestInFlight: Duration, seed: UInt64, clock: any SandboxClock) {
        self.latency = latency
        self.jitter = jitter
        self.perRequestInFlight = perRequestInFlight
        self.clock = clock
        state = NIOLockedValueBox(State(random: SplitMix64(seed: seed ^ 0x4C41_5445_4E43_5921)))
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let delay = state.withLockedValue { state -> Duration in
            state.inFlight += 1
            let spread = jitter > .zero ? jitter * state.random.nextUnit() : .zero
            return latency + spread + perRequestInFlight * (state.inFlight - 1)
        }
        defer { state.withLockedValue { $0.inFlight -= 1 } }
        try await clock.sleep(for: delay)
        return try await next(request, context)
    }
}

/// Counts the request under its route label (from the route Hummingbird matched, `context.endpointPath`) and draws
/// its fault, both before anything can refuse it.
struct SandboxCountingMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext

    let monitor: SandboxMonitor
    /// `METHOD endpointPath` → route label.
    let labels: [String: String]

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let matched = context.endpointPath.flatMap { labels["\(request.method.rawValue) \($0)"] }
        context.route = matched ?? "\(request.method.rawValue) (unmatched)"
        context.fault = await monitor.arrived(route: context.route)
        return try await next(request, context)
    }
}

/// Refuses requests over the number allowed in flight at once (Kintone: 100 per domain, then 429 with
/// `X-ConcurrencyLimit-Limit` and `X-ConcurrencyLimit-Running`); with `reportsCounts` every answer carries both
/// headers (a service that documents no limit sends neither).
struct SandboxConcurrencyMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext

    let gate: SandboxConcurrencyGate
    let edge: SandboxEdge
    var reportsCounts = true

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let running = await gate.enter() else {
            await edge.monitor.concurrencyLimitedOne()
            var refused = await edge.error(.tooManyRequests, "too many requests at once: at most \(gate.limit) may run at the same time; wait for some to finish and retry")
            if reportsCounts { gate.addHeaders(to: &refused.headers, running: gate.limit) }
            return refused
        }
        do {
            var response = try await next(request, context)
            await gate.leave()
            if reportsCounts { gate.addHeaders(to: &response.headers, running: running) }
            return response
        } catch {
            await gate.leave()
            throw error
        }
    }
}

/// The per-key rate limit with its penalty box (Kinopio: 5 per second, then 30 s of 429s); a request without a key
/// is counted by its address.
struct SandboxRateLimitMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext

    let limiter: SandboxRateLimiter
    let edge: SandboxEdge
    /// For the 429 message, e.g. "5 requests per second".
    let limitDescription: String

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let client = edge.dialect.credential(of: request).map { "key:\($0)" }
            ?? "ip:\(context.channel.remoteAddress?.ipAddress ?? "unknown")"
        if case .limited = await limiter.admit(client) {
            await edge.monitor.rateLimitedOne()
            return await edge.error(.tooManyRequests, "rate limit exceeded: at most \(limitDescription); every request from this key fails for the penalty period, then wait and retry")
        }
        return try await next(request, context)
    }
}

/// Injects the fault drawn on arrival instead of handling the request; the body is not read yet, so a faulted write
/// never happens.
struct SandboxFaultMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext

    let edge: SandboxEdge
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let fault = context.fault else { return try await next(request, context) }
        await edge.monitor.injected(fault)
        logger.debug("sandbox fault injected", metadata: ["fault": "\(fault.rawValue)", "route": "\(context.route)"])
        switch fault {
        case .internalError:
            return await edge.error(.internalServerError, "sandbox fault: internal server error; the request was not processed, retry it")
        case .unavailable:
            return await edge.error(.serviceUnavailable, "sandbox fault: service unavailable; the request was not processed, retry it")
        case .tooManyRequests:
            return await edge.error(.tooManyRequests, "sandbox fault: too many requests; the request was not processed, retry it")
        case .connectionReset:
            // Closes the connection before anything is written.
            try? await context.channel.close().get()
            return Response(status: .internalServerError)
        case .truncatedBody:
            return Self.truncatedResponse(context.channel)
        }
    }

    /// A 200 that promises a longer JSON body than it sends, then drops the connection.
    static func truncatedResponse(_ channel: any Channel) -> Response {
        let partial = ByteBuffer(string: #"{"message":"sandbox fault: this body is cut short before its end"#)
        let promised = partial.readableBytes + 512
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody(contentLength: promised) { writer in
                try await writer.write(partial)
                try? await channel.close().get()
                throw SandboxHTTPError(.internalServerError, "truncated body fault")
            })
    }
}

/// A request no route matched gets 404 in the service's own error shape (after faults, before the body is read).
struct SandboxNotFoundMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext

    let edge: SandboxEdge

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard context.endpointPath != nil else {
            return await edge.error(.notFound, "no route \(request.method.rawValue) \(request.uri.path); check the method and path")
        }
        return try await next(request, context)
    }
}

/// Refuses a body over `maxBodyBytes` with 413 (by its declared length, else while reading it) and hands the
/// collected body on to the route.
struct SandboxBodyLimitMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext

    let edge: SandboxEdge
    let maxBodyBytes: Int

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes {
            return await edge.error(.contentTooLarge, "request body of \(declared) bytes is over the \(maxBodyBytes)-byte limit; send smaller batches")
        }
        var context = context
        do {
            var buffer = try await request.body.collect(upTo: maxBodyBytes)
            context.body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            return await edge.error(.contentTooLarge, "request body is over the \(maxBodyBytes)-byte limit; send smaller batches")
        }
        return try await next(request, context)
    }
}

/// One route's handler behind the middleware: builds the `SandboxRequest` and answers its reply (or its error in the
/// service's shape).
struct SandboxEndpoint: HTTPResponder {
    typealias Context = SandboxRequestContext

    let route: SandboxRoute
    let edge: SandboxEdge

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        let sandboxRequest = SandboxRequest(
            method: request.method, path: path, pathParameters: route.parameters(in: path),
            query: SandboxRouter.parseQuery(request.uri.query), headers: request.headers, body: context.body,
            credential: edge.dialect.credential(of: request), rawQuery: request.uri.query, route: route.label)
        do {
            let reply = try await route.handler(sandboxRequest)
            await edge.monitor.responded(Int(reply.status.code))
            return reply.response()
        } catch {
            return await edge.error(error.status, error.message)
        }
    }
}

/// Counts requests in flight and refuses those over the limit.
actor SandboxConcurrencyGate {
    nonisolated let limit: Int
    private var running = 0

    init(limit: Int) { self.limit = limit }

    /// Admits one request and returns how many now run, or nil when the limit is reached.
    func enter() -> Int? {
        guard running < limit else { return nil }
        running += 1
        return running
    }

    func leave() { running = max(running - 1, 0) }

    nonisolated func addHeaders(to headers: inout HTTPFields, running: Int) {
        headers[HTTPFields.Element.Name("X-ConcurrencyLimit-Limit")!] = String(limit)
        headers[HTTPFields.Element.Name("X-ConcurrencyLimit-Running")!] = String(running)
    }
}
