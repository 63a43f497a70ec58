import Foundation
import Hummingbird
import KitbagCore
import Logging
import NIOCore
import ServiceLifecycle

/// A sandbox that is listening; stop it when done.
public final class RunningSandbox: Sendable {
    /// Where it listens, e.g. `http://127.0.0.1:53117`.
    public let baseURL: URL
    /// The label of every route the emulator serves, in the order it declared them (`GET /space/:spaceId`).
    package let routeLabels: [String]
    private let monitor: SandboxMonitor
    private let group: ServiceGroup
    private let serverTask: Task<Void, Never>
    private let store: any SandboxStoreView
    private let gaugeProvider: (@Sendable () async -> [String: Int])?

    /// How long `stop()` lets requests in flight finish before it cuts the connections.
    static let shutdownGrace: Duration = .seconds(5)

    init(baseURL: URL, routeLabels: [String], monitor: SandboxMonitor, group: ServiceGroup, serverTask: Task<Void, Never>,
         store: any SandboxStoreView, gauges: (@Sendable () async -> [String: Int])? = nil) {
        self.baseURL = baseURL
        self.routeLabels = routeLabels
        self.monitor = monitor
        self.group = group
        self.serverTask = serverTask
        self.store = store
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
    public func snapshot() async -> JSONValue { await store.snapshot() }

    /// The writes the sandbox accepted after the `mark`-th, oldest first: each with its method, route and the
    /// entities it created, changed or removed (all of them by default). Take a mark with `writeMark()` before the
    /// requests under test to see exactly what they wrote.
    public func writes(since mark: Int = 0) async -> [SandboxWrite] { await store.writes(since: mark) }

    /// The sequence number of the last accepted write (0 before the first), for `writes(since:)`.
    public func writeMark() async -> Int { await store.writeMark() }

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

    /// Binds, starts serving in the background, and returns once the port is known. The router's middleware runs in
    /// this order for every request: note it as running (`peakRunning`) → latency (if asked) → count it and draw its
    /// fault → concurrency limit (Kintone, Kitemaker)
    /// → rate limit → injected fault (decided before the body is read, so a faulted write never happens) → 404 in
    /// the service's error shape → body limit (413) → the route's handler.
    /// `concurrencyLimit` caps requests in flight (Kintone, Kitemaker), with `X-ConcurrencyLimit-*` on every answer
    /// when `reportsConcurrency`; `perSecondLimit` is the service's default for `options.perSecondLimit`; `gauges`
    /// adds current levels to `RunningSandbox.stats()`.
    package static func start<State: SandboxState>(
        options: SandboxOptions, router routes: SandboxRouter, dialect: any SandboxDialect,
        logger: Logger, store: SandboxStore<State>,
        concurrencyLimit: Int? = nil, perSecondLimit: Bool = true, reportsConcurrency: Bool = true,
        gauges: (@Sendable () async -> [String: Int])? = nil
    ) async throws -> RunningSandbox {
        let monitor = SandboxMonitor(faultRate: options.faultRate, faultSeed: options.faultSeed)
        let edge = SandboxEdge(dialect: dialect, monitor: monitor)
        let router = Router(context: SandboxRequestContext.self)
        router.add(middleware: SandboxRunningMiddleware(monitor: monitor))
        if options.latency > .zero || options.jitter > .zero || options.latencyPerRequestInFlight > .zero {
            router.add(middleware: SandboxLatencyMiddleware(
                latency: options.latency, jitter: options.jitter, perRequestInFlight: options.latencyPerRequestInFlight,
                seed: options.faultSeed, clock: options.clock))
        }
        router.add(middleware: SandboxCountingMiddleware(monitor: monitor, labels: routes.labels))
        if options.rateLimit, let limit = options.concurrencyLimit ?? concurrencyLimit {
            router.add(middleware: SandboxConcurrencyMiddleware(
                gate: SandboxConcurrencyGate(limit: max(limit, 1)), edge: edge, reportsCounts: reportsConcurrency))
        }
        if options.rateLimit && (options.perSecondLimit ?? perSecondLimit) {
            router.add(middleware: SandboxRateLimitMiddleware(
                limiter: SandboxRateLimiter(
                    requestsPerSecond: options.requestsPerSecond, penaltySeconds: options.penaltySeconds, clock: options.clock),
                edge: edge, limitDescription: "\(options.requestsPerSecond.formatted()) requests per second"))
        }
        router.add(middleware: SandboxFaultMiddleware(edge: edge, logger: logger))
        router.add(middleware: SandboxNotFoundMiddleware(edge: edge))
        router.add(middleware: SandboxBodyLimitMiddleware(edge: edge, maxBodyBytes: options.maxBodyBytes))
        routes.register(on: router, edge: edge)

        let (events, continuation) = AsyncStream<Result<Int, any Error>>.makeStream()
        let app = Application(
            router: router,
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
                baseURL: url, routeLabels: routes.routes.map(\.label), monitor: monitor, group: group, serverTask: task,
                store: store, gauges: gauges)
        case .failure(let error):
            task.cancel()
            await task.value
            if let error = error as? SandboxStartError { throw error }
            throw SandboxStartError(host: options.host, port: options.port, reason: "\(error)")
        }
    }
}

/// What a running sandbox reads from its store, whatever the emulator's state.
protocol SandboxStoreView: Sendable {
    func snapshot() async -> JSONValue
    func writes(since mark: Int) async -> [SandboxWrite]
    func writeMark() async -> Int
}

extension SandboxStore: SandboxStoreView {}
