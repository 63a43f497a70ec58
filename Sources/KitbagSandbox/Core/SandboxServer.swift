import Foundation
import Hummingbird
import KitbagCore
import Logging
import NIOCore
import ServiceLifecycle

/// Request context that keeps the connection, so faults can reset or cut it.
struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// The shared front of every sandbox: statistics, rate limit, faults, body limit, routing,
/// and JSON errors in the service's dialect. Service-specific behaviour lives in the routes.
/// Order per request: count it → rate limit → injected fault (decided before the body is read,
/// so a faulted write never happens) → route lookup (404) → body limit (413) → handler.
struct SandboxResponder: HTTPResponder {
    typealias Context = SandboxRequestContext

    let router: SandboxRouter
    let dialect: any SandboxDialect
    let monitor: SandboxMonitor
    let limiter: SandboxRateLimiter?
    let maxBodyBytes: Int
    let logger: Logger
    /// For the 429 message, e.g. "5 requests per second".
    let limitDescription: String
    /// Requests allowed in flight at once (Kintone); nil for no limit.
    var concurrency: SandboxConcurrencyGate? = nil

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        let match = router.match(method: request.method, path: path)
        let label = match?.route.label ?? "\(request.method.rawValue) (unmatched)"
        let fault = await monitor.arrived(route: label)
        guard let concurrency else {
            return try await respond(to: request, context: context, match: match, label: label, fault: fault)
        }
        let running = await concurrency.enter()
        guard let running else {
            await monitor.concurrencyLimitedOne()
            var refused = await error(.tooManyRequests, "too many requests at once: at most \(concurrency.limit) may run at the same time; wait for some to finish and retry")
            concurrency.addHeaders(to: &refused.headers, running: concurrency.limit)
            return refused
        }
        do {
            var response = try await respond(to: request, context: context, match: match, label: label, fault: fault)
            await concurrency.leave()
            concurrency.addHeaders(to: &response.headers, running: running)
            return response
        } catch {
            await concurrency.leave()
            throw error
        }
    }

    private func respond(
        to request: Request, context: Context, match: (route: SandboxRoute, parameters: [String: String])?,
        label: String, fault: SandboxFault?
    ) async throws -> Response {
        let path = request.uri.path
        let credential = dialect.credential(of: request)

        if let limiter {
            let client = credential.map { "key:\($0)" } ?? "ip:\(context.channel.remoteAddress?.ipAddress ?? "unknown")"
            if case .limited = await limiter.admit(client) {
                await monitor.rateLimitedOne()
                return await error(.tooManyRequests, "rate limit exceeded: at most \(limitDescription); every request from this key fails for the penalty period, then wait and retry")
            }
        }

        if let fault {
            await monitor.injected(fault)
            logger.debug("sandbox fault injected", metadata: ["fault": "\(fault.rawValue)", "route": "\(label)"])
            switch fault {
            case .internalError:
                return await error(.internalServerError, "sandbox fault: internal server error; the request was not processed, retry it")
            case .unavailable:
                return await error(.serviceUnavailable, "sandbox fault: service unavailable; the request was not processed, retry it")
            case .tooManyRequests:
                return await error(.tooManyRequests, "sandbox fault: too many requests; the request was not processed, retry it")
            case .connectionReset:
                return await resetConnection(context.channel)
            case .truncatedBody:
                return truncatedResponse(context.channel)
            }
        }

        guard let match else {
            return await error(.notFound, "no route \(request.method.rawValue) \(path); check the method and path")
        }

        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes {
            return await error(.contentTooLarge, "request body of \(declared) bytes is over the \(maxBodyBytes)-byte limit; send smaller batches")
        }
        let body: [UInt8]
        do {
            var buffer = try await request.body.collect(upTo: maxBodyBytes)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            return await error(.contentTooLarge, "request body is over the \(maxBodyBytes)-byte limit; send smaller batches")
        }

        let sandboxRequest = SandboxRequest(
            method: request.method, path: path, pathParameters: match.parameters,
            query: SandboxRouter.parseQuery(request.uri.query), headers: request.headers,
            body: body, credential: credential, rawQuery: request.uri.query)
        do {
            let reply = try await match.route.handler(sandboxRequest)
            await monitor.responded(Int(reply.status.code))
            return reply.response()
        } catch {
            return await self.error(error.status, error.message)
        }
    }

    private func error(_ status: HTTPResponse.Status, _ message: String) async -> Response {
        await monitor.responded(Int(status.code))
        return sandboxJSONResponse(status, dialect.errorBody(status: status, message: message))
    }

    /// Closes the connection before anything is written.
    private func resetConnection(_ channel: any Channel) async -> Response {
        try? await channel.close().get()
        return Response(status: .internalServerError)
    }

    /// A 200 that promises a longer JSON body than it sends, then drops the connection.
    private func truncatedResponse(_ channel: any Channel) -> Response {
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

/// A sandbox that is listening; stop it when done.
public final class RunningSandbox: Sendable {
    /// Where it listens, e.g. `http://127.0.0.1:53117`.
    public let baseURL: URL
    private let monitor: SandboxMonitor
    private let group: ServiceGroup
    private let serverTask: Task<Void, Never>
    private let snapshotProvider: @Sendable () async -> JSONValue
    private let gaugeProvider: (@Sendable () async -> [String: Int])?

    /// How long `stop()` lets requests in flight finish before it cuts the connections.
    static let shutdownGrace: Duration = .seconds(5)

    init(baseURL: URL, monitor: SandboxMonitor, group: ServiceGroup, serverTask: Task<Void, Never>,
         snapshot: @escaping @Sendable () async -> JSONValue,
         gauges: (@Sendable () async -> [String: Int])? = nil) {
        self.baseURL = baseURL
        self.monitor = monitor
        self.group = group
        self.serverTask = serverTask
        self.snapshotProvider = snapshot
        self.gaugeProvider = gauges
    }

    /// Stops accepting connections, lets requests in flight finish (up to 5 s), and waits until the server is down.
    public func stop() async {
        await group.triggerGracefulShutdown()
        let task = serverTask
        let deadline = Task {
            try? await Task.sleep(for: Self.shutdownGrace)
            if !Task.isCancelled { task.cancel() }
        }
        await task.value
        deadline.cancel()
    }

    /// Request counts, 429s and faults so far.
    public func stats() async -> SandboxStats {
        var stats = await monitor.snapshot()
        if let gaugeProvider { stats.gauges = await gaugeProvider() }
        return stats
    }

    /// The whole stored state as JSON (users without API keys, spaces with every item, removed ones too).
    public func snapshot() async -> JSONValue { await snapshotProvider() }

    deinit { serverTask.cancel() }
}

/// Why a sandbox could not start.
public struct SandboxStartError: KitbagError {
    public let host: String
    public let port: Int
    public let reason: String
    public var description: String {
        "sandbox could not listen on \(host):\(port): \(reason); choose another port or use --port 0"
    }
}

/// Shared start-up for every sandbox.
public enum SandboxServer {
    /// A logger that only reports warnings and errors.
    public static func quietLogger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return logger
    }

    /// Binds, starts serving in the background, and returns once the port is known.
    /// `concurrencyLimit` caps requests in flight (Kintone); `perSecondLimit` is the service's default for
    /// `options.perSecondLimit`; `gauges` adds current levels to `RunningSandbox.stats()`.
    static func start(
        options: SandboxOptions, router: SandboxRouter, dialect: any SandboxDialect,
        logger: Logger, snapshot: @escaping @Sendable () async -> JSONValue,
        concurrencyLimit: Int? = nil, perSecondLimit: Bool = true,
        gauges: (@Sendable () async -> [String: Int])? = nil
    ) async throws -> RunningSandbox {
        let monitor = SandboxMonitor(faultRate: options.faultRate, faultSeed: options.faultSeed)
        let limiter = options.rateLimit && (options.perSecondLimit ?? perSecondLimit)
            ? SandboxRateLimiter(requestsPerSecond: options.requestsPerSecond, penaltySeconds: options.penaltySeconds)
            : nil
        var responder = SandboxResponder(
            router: router, dialect: dialect, monitor: monitor, limiter: limiter,
            maxBodyBytes: options.maxBodyBytes, logger: logger,
            limitDescription: "\(options.requestsPerSecond.formatted()) requests per second")
        if options.rateLimit, let limit = options.concurrencyLimit ?? concurrencyLimit {
            responder.concurrency = SandboxConcurrencyGate(limit: max(limit, 1))
        }

        let (events, continuation) = AsyncStream<Result<Int, any Error>>.makeStream()
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname(options.host, port: options.port)),
            onServerRunning: { channel in
                continuation.yield(.success(channel.localAddress?.port ?? options.port))
            },
            logger: logger)
        let group = ServiceGroup(services: [app], logger: logger)
        let task = Task {
            do {
                try await group.run()
                continuation.yield(.failure(SandboxStartError(host: options.host, port: options.port, reason: "the server stopped")))
            } catch {
                continuation.yield(.failure(error))
            }
            continuation.finish()
        }
        var started: Result<Int, any Error> = .failure(
            SandboxStartError(host: options.host, port: options.port, reason: "the server did not start"))
        for await event in events {
            started = event
            break
        }
        switch started {
        case .success(let port):
            let host = options.host.contains(":") ? "[\(options.host)]" : options.host
            guard let url = URL(string: "http://\(host):\(port)") else {
                task.cancel()
                throw SandboxStartError(host: options.host, port: port, reason: "the address does not form a URL")
            }
            return RunningSandbox(
                baseURL: url, monitor: monitor, group: group, serverTask: task, snapshot: snapshot, gauges: gauges)
        case .failure(let error):
            task.cancel()
            await task.value
            if let error = error as? SandboxStartError { throw error }
            throw SandboxStartError(host: options.host, port: options.port, reason: "\(error)")
        }
    }
}

/// Counts requests in flight and refuses those over the limit (Kintone: 100 per domain, then
/// 429 with `X-ConcurrencyLimit-Limit` and `X-ConcurrencyLimit-Running`).
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
