import AsyncHTTPClient
import Foundation
import KitbagCore
import Logging
import NIOCore

/// Talks to one service: paces every attempt, retries what is worth retrying, counts everything,
/// and turns failures into one-line `HTTPFailure`s without secrets.
public final class APIClient: Sendable {
    public let endpoint: ServiceEndpoint
    public let retry: RetryPolicy
    public let timeouts: HTTPTimeouts
    public let maxBodySize: Int
    /// How many requests a walk should offer at once to keep this client's pacing busy (`RateLimit.parallelism`);
    /// the gate still decides when each one goes.
    public let parallelism: Int

    private let gate: RequestGate
    private let clock: any GateClock
    private let recorder = StatsRecorder()
    private let http: HTTPClient
    private let ownsClient: Bool
    private let logger: Logger
    private let progress: ProgressReporter?
    private let errorMessage: @Sendable (Int, [UInt8]) -> String?

    /// One HTTP client for the whole process: no redirects (they could carry credentials elsewhere),
    /// no connect retries inside the pool (a wrong URL fails fast), a 10 s connect timeout.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(300)),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = APIClient.connectionsPerHost
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Connections per host the pool may open: room for `--concurrency` up to Kintone's whole domain limit, so
    /// requests the pacing lets go are not queued again inside the pool.
    static let connectionsPerHost = 100

    /// - Parameters:
    ///   - httpClient: a client to use; nil uses `sharedHTTPClient`. Neither is shut down by `shutdown()`
    ///     unless `ownsHTTPClient` is true.
    ///   - errorMessage: pulls the service's own message out of an error body; a generic reader is used when it returns nil.
    public convenience init(
        endpoint: ServiceEndpoint, rateLimit: RateLimit?, retry: RetryPolicy = RetryPolicy(),
        httpClient: HTTPClient? = nil, ownsHTTPClient: Bool = false, logger: Logger,
        progress: ProgressReporter? = nil, maxBodySize: Int = 256 << 20, timeouts: HTTPTimeouts = HTTPTimeouts(),
        errorMessage: @escaping @Sendable (Int, [UInt8]) -> String? = { _, _ in nil }
    ) {
        self.init(
            endpoint: endpoint, rateLimit: rateLimit, retry: retry, httpClient: httpClient, ownsHTTPClient: ownsHTTPClient,
            logger: logger, progress: progress, maxBodySize: maxBodySize, timeouts: timeouts, errorMessage: errorMessage,
            clock: SystemGateClock())
    }

    /// As the public initialiser, with the clock that paces, pauses and times retries (tests move it by hand).
    init(
        endpoint: ServiceEndpoint, rateLimit: RateLimit?, retry: RetryPolicy = RetryPolicy(),
        httpClient: HTTPClient? = nil, ownsHTTPClient: Bool = false, logger: Logger,
        progress: ProgressReporter? = nil, maxBodySize: Int = 256 << 20, timeouts: HTTPTimeouts = HTTPTimeouts(),
        errorMessage: @escaping @Sendable (Int, [UInt8]) -> String? = { _, _ in nil }, clock: any GateClock
    ) {
        self.endpoint = endpoint
        self.retry = retry
        self.timeouts = timeouts
        self.maxBodySize = maxBodySize
        self.parallelism = rateLimit?.parallelism ?? RateLimit.unpacedParallelism
        self.clock = clock
        let announce: RequestGate.Announce? = progress.map { progress in
            { @Sendable reason, seconds in progress.waiting(reason, seconds: seconds) }
        }
        self.gate = RequestGate(limit: rateLimit, clock: clock, slowCeiling: timeouts.request / 4, announce: announce)
        self.http = httpClient ?? Self.sharedHTTPClient
        self.ownsClient = httpClient != nil && ownsHTTPClient
        var logger = logger
        logger[metadataKey: "service"] = .string(endpoint.service)
        self.logger = logger
        logger.debug("pacing: \(rateLimit?.summary ?? "off")")
        self.progress = progress
        self.errorMessage = errorMessage
    }

    /// Sends a request and buffers the answer (at most `maxBodySize` bytes). Any 2xx is returned;
    /// everything else is retried per policy or thrown as `HTTPFailure`.
    public func send(_ request: APIRequest) async throws -> APIResponse {
        let limit = maxBodySize
        let service = endpoint.service
        return try await run(request, deadlineCoversBody: true) { response, watch in
            let status = Int(response.status.code)
            let headers = response.headers.map { ($0.name, $0.value) }
            let expected = response.headers.first(name: "content-length").flatMap { Int64($0) }
            if status / 100 == 2, let expected, expected > Int64(limit) {
                throw HTTPFailure.bodyTooLarge(service: service, route: request.route, limit: limit)
            }
            let cap = status / 100 == 2 ? limit : 64 << 10
            var body: [UInt8] = []
            body.reserveCapacity(Int(min(expected ?? 0, Int64(cap))))
            var received: Int64 = 0
            for try await chunk in response.body {
                watch.activity()
                received += Int64(chunk.readableBytes)
                if body.count + chunk.readableBytes > cap {
                    if status / 100 == 2 {
                        throw HTTPFailure.bodyTooLarge(service: service, route: request.route, limit: limit)
                    }
                    body.append(contentsOf: chunk.readableBytesView.prefix(cap - body.count))
                } else {
                    body.append(contentsOf: chunk.readableBytesView)
                }
            }
            if let expected, received < expected { throw ShortBody() }
            let answer = APIResponse(status: status, headers: headers, body: body, service: service, route: request.route)
            return status / 100 == 2
                ? .done(answer, status: status, bytes: received) : .status(status, headers, body, bytes: received)
        }
    }

    /// Sends a request and parses the JSON answer; an empty body (e.g. 204) gives `.null`.
    public func json(_ request: APIRequest) async throws -> JSONValue {
        let response = try await send(request)
        if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .null }
        do {
            return try response.json()
        } catch let failure as HTTPFailure {
            if case .invalidBody(let service, let route, let reason) = failure {
                throw HTTPFailure.invalidBody(
                    service: service, route: route, reason: redact(reason))
            }
            throw failure
        }
    }

    /// Streams a 2xx body to `sink` chunk by chunk and returns the byte count. An attempt that fails before
    /// anything reached the sink is retried from scratch; one that fails later throws `downloadInterrupted`.
    public func download(
        _ request: APIRequest, to sink: @escaping @Sendable (ByteBuffer) async throws -> Void
    ) async throws -> Int64 {
        try await run(request, deadlineCoversBody: false) { response, watch in
            let status = Int(response.status.code)
            let headers = response.headers.map { ($0.name, $0.value) }
            let expected = response.headers.first(name: "content-length").flatMap { Int64($0) }
            var received: Int64 = 0
            if status / 100 != 2 {
                var body: [UInt8] = []
                for try await chunk in response.body {
                    watch.activity()
                    received += Int64(chunk.readableBytes)
                    body.append(contentsOf: chunk.readableBytesView.prefix(max(0, (64 << 10) - body.count)))
                }
                return .status(status, headers, body, bytes: received)
            }
            for try await chunk in response.body {
                watch.activity()
                received += Int64(chunk.readableBytes)
                watch.enterSink()
                do {
                    try await sink(chunk)
                } catch {
                    watch.leaveSink(delivered: 0)
                    throw SinkFailure(underlying: error)
                }
                watch.leaveSink(delivered: chunk.readableBytes)
            }
            if let expected, received < expected { throw ShortBody() }
            return .done(received, status: status, bytes: received)
        }
    }

    /// Attempts per route label (every attempt, retries included).
    public func requestCounts() async -> [String: Int] {
        await recorder.snapshot().perRoute
    }

    /// All counters: attempts, retries, 429s, bytes, per-route attempts, time paused, and how the pacing went.
    public func stats() async -> ClientStats {
        var stats = await recorder.snapshot()
        let counters = await gate.counters
        stats.peakInFlight = counters.peakInFlight
        stats.concurrencyCuts = counters.cuts
        stats.concurrencyWindow = counters.window
        return stats
    }

    /// The gate, for tests that move the clock by hand.
    var requestGate: RequestGate { gate }

    /// Shuts down the HTTP client if this client owns it; the shared client stays up.
    public func shutdown() async throws {
        if ownsClient { try await http.shutdown() }
    }

    // MARK: - The retry loop

    enum BodyOutcome<T: Sendable>: Sendable {
        case done(T, status: Int, bytes: Int64)
        case status(Int, [(String, String)], [UInt8], bytes: Int64)
    }

    struct ShortBody: Error {}

    struct SinkFailure: Error {
        let underlying: any Error
    }

    private enum AttemptResult<T: Sendable> {
        case outcome(BodyOutcome<T>)
        case transport(TransportProblem, delivered: Int64)
    }

    private func run<T: Sendable>(
        _ request: APIRequest, deadlineCoversBody: Bool,
        handle: @escaping @Sendable (HTTPClientResponse, AttemptWatch) async throws -> BodyOutcome<T>
    ) async throws -> T {
        let service = endpoint.service
        let route = request.route
        var attempt = 0
        var failures = 0
        var waits429 = 0
        var connectFailures = 0
        var renewed = false
        var waitShown = false
        if let upload = request.multipartFile, !FileManager.default.isReadableFile(atPath: upload.file.path) {
            throw UserError("\(service): cannot read \(upload.file.path) to upload it; check that the file exists")
        }
        while true {
            try Task.checkCancellation()
            // Built per attempt: renewed credentials and streamed bodies cannot be reused.
            var auth = try await endpoint.credentials?.headers() ?? []
            var prepared: HTTPClientRequest
            do {
                prepared = try makeRequest(request)
            } catch {
                throw HTTPFailure.invalidURL(service: service, url: redact(endpoint.baseURL.absoluteString))
            }
            for (name, value) in auth { prepared.headers.replaceOrAdd(name: name, value: value) }
            let (ticket, announced) = try await gate.acquire(route: route)
            // Read again once the gate lets the attempt go: with requests queued behind the pacing, a token renewed
            // while this one waited is the one to send (a stale one would spend the request's one renewal).
            if let credentials = endpoint.credentials, let fresh = try? await credentials.headers() {
                auth = fresh
                for (name, value) in fresh { prepared.headers.replaceOrAdd(name: name, value: value) }
            }
            if announced || waitShown {
                progress?.endWaiting()
                waitShown = false
            }
            attempt += 1
            await recorder.attempt(route: route, isRetry: attempt > 1)
            progress?.countRequest()
            let started = ContinuousClock.now
            let result = await perform(prepared, ticket: ticket, deadlineCoversBody: deadlineCoversBody, handle: handle)
            logCut(await gate.finished(ticket, ending: Self.ending(of: result)))
            let ms = (ContinuousClock.now - started).milliseconds
            if Task.isCancelled { throw CancellationError() }

            let problem: TransportProblem
            switch try result.get() {
            case .outcome(.done(let value, let status, let bytes)):
                await recorder.received(bytes)
                logger.debug("\(route) → \(status) in \(ms) ms", metadata: ["attempt": "\(attempt)"])
                return value
            case .outcome(.status(let status, let headers, let body, let bytes)):
                await recorder.received(bytes)
                logger.debug("\(route) → \(status) in \(ms) ms", metadata: ["attempt": "\(attempt)"])
                let message = serviceMessage(status, body)
                if status == 429 {
                    waits429 += 1
                    await recorder.rateLimited(route: route)
                    let wait = Self.retryAfter(headers) ?? retry.penaltyAfter429 ?? retry.backoff(retry: waits429)
                    if waits429 > retry.max429Waits || wait > retry.maxRetryAfter {
                        throw HTTPFailure.rateLimited(service: service, route: route, attempts: attempt)
                    }
                    let until = clock.now + wait
                    await gate.pause(until: until)
                    await recorder.paused(wait)
                    progress?.waiting("rate-limited by the server", seconds: wait.seconds)
                    waitShown = true
                    logger.info(
                        "\(route) → 429 Too Many Requests; pausing all \(service) requests for \(wait.milliseconds) ms",
                        metadata: ["attempt": "\(attempt)"])
                    continue
                }
                if status == 401, !renewed, let credentials = endpoint.credentials {
                    renewed = true
                    if try await credentials.renew(after: auth) {
                        logger.info("\(route) → 401; credentials renewed, retrying", metadata: ["attempt": "\(attempt)"])
                        continue
                    }
                }
                let transient = status == 408 || (status >= 500 && status != 501 && status != 505)
                if transient && request.retryable {
                    failures += 1
                    if failures < retry.maxAttempts {
                        var delay = retry.backoff(retry: failures)
                        if let after = Self.retryAfter(headers) { delay = min(after, retry.maxDelay) }
                        logger.info(
                            "\(route) → \(status); retrying in \(delay.milliseconds) ms",
                            metadata: ["attempt": "\(attempt)"])
                        progress?.waiting("the server answered \(status), retrying", seconds: delay.seconds)
                        try await clock.sleep(for: delay)
                        waitShown = true
                        continue
                    }
                }
                throw failure(status: status, route: route, attempts: attempt, message: message, headers: headers)
            case .transport(let found, let delivered):
                if delivered > 0 {
                    throw HTTPFailure.downloadInterrupted(
                        service: service, route: route, bytesDelivered: delivered, reason: found.reason)
                }
                problem = found
            }

            logger.debug("\(route) failed after \(ms) ms: \(problem.reason)", metadata: ["attempt": "\(attempt)"])
            switch problem {
            case .invalidURL:
                throw HTTPFailure.invalidURL(service: service, url: redact(endpoint.baseURL.absoluteString))
            case .unreachable(let reason):
                connectFailures += 1
                if connectFailures >= retry.maxConnectAttempts {
                    throw HTTPFailure.unreachable(service: service, host: hostDescription, reason: reason)
                }
                progress?.waiting("cannot reach \(hostDescription), retrying", seconds: retry.connectRetryDelay.seconds)
                try await clock.sleep(for: retry.connectRetryDelay)
                waitShown = true
            case .connectionLost, .timedOut, .truncated:
                failures += 1
                if !request.retryable || failures >= retry.maxAttempts {
                    switch problem {
                    case .timedOut: throw HTTPFailure.timeout(service: service, route: route, attempts: attempt)
                    case .truncated: throw HTTPFailure.truncatedBody(service: service, route: route, attempts: attempt)
                    default:
                        throw HTTPFailure.connectionLost(
                            service: service, route: route, attempts: attempt, reason: problem.reason)
                    }
                }
                let delay = retry.backoff(retry: failures)
                logger.info(
                    "\(route) failed (\(problem.reason)); retrying in \(delay.milliseconds) ms",
                    metadata: ["attempt": "\(attempt)"])
                progress?.waiting("\(problem.reason), retrying", seconds: delay.seconds)
                try await clock.sleep(for: delay)
                waitShown = true
            }
        }
    }

    /// One attempt under the watchdog; HTTPFailures and sink errors pass through, the rest is classified.
    private func perform<T: Sendable>(
        _ prepared: HTTPClientRequest, ticket: RequestGate.Ticket, deadlineCoversBody: Bool,
        handle: @escaping @Sendable (HTTPClientResponse, AttemptWatch) async throws -> BodyOutcome<T>
    ) async -> Result<AttemptResult<T>, any Error> {
        let watch = AttemptWatch(request: timeouts.request, idle: timeouts.idle, deadlineCoversBody: deadlineCoversBody)
        let http = self.http
        let gate = self.gate
        let deadline = NIODeadline.now() + TimeAmount(timeouts.request + .seconds(1))
        do {
            let outcome = try await watch.guarding {
                let response = try await http.execute(prepared, deadline: deadline)
                watch.head()
                let change = await gate.answered(
                    ticket, status: Int(response.status.code),
                    domainLimit: response.headers.first(name: "X-ConcurrencyLimit-Limit").flatMap { Int($0) },
                    domainRunning: response.headers.first(name: "X-ConcurrencyLimit-Running").flatMap { Int($0) })
                self.logCut(change)
                return try await handle(response, watch)
            }
            return .success(.outcome(outcome))
        } catch let failure as HTTPFailure {
            return .failure(failure)
        } catch let sink as SinkFailure {
            return .failure(sink.underlying)
        } catch is AttemptWatch.TimedOut {
            return .success(.transport(.timedOut, delivered: watch.deliveredBytes))
        } catch is ShortBody {
            return .success(.transport(.truncated("body shorter than Content-Length"), delivered: watch.deliveredBytes))
        } catch {
            if Task.isCancelled { return .failure(CancellationError()) }
            let problem = TransportProblem.classify(error, duringBody: watch.hasHead)
            return .success(.transport(problem, delivered: watch.deliveredBytes))
        }
    }

    // MARK: - Helpers

    /// How an attempt ended, for the gate's adaptation.
    private static func ending<T>(of result: Result<AttemptResult<T>, any Error>) -> Pacing.Ending {
        switch result {
        case .success(.outcome): return .answered
        case .success(.transport(.timedOut, _)): return .timedOut
        case .success(.transport(.connectionLost, _)), .success(.transport(.truncated, _)): return .connectionLost
        case .success(.transport(.unreachable, _)), .success(.transport(.invalidURL, _)): return .notSent
        case .failure: return .answered
        }
    }

    /// Says in the log (-v) when the adaptive concurrency was cut, and why.
    private func logCut(_ change: Pacing.Change?) {
        guard let change else { return }
        logger.info("\(change.reason); \(change.to) requests in flight at most (was \(change.from))")
    }

    private func makeRequest(_ request: APIRequest) throws -> HTTPClientRequest {
        var base = endpoint.baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var path = request.path.hasPrefix("/") ? request.path : "/" + request.path
        path = path.addingPercentEncoding(withAllowedCharacters: Self.pathAllowed) ?? path
        var url = base + path
        if !request.query.isEmpty {
            url += "?" + request.query.map { Self.escape($0.0) + "=" + Self.escape($0.1) }.joined(separator: "&")
        }
        guard URL(string: url)?.host != nil else { throw HTTPFailure.invalidURL(service: endpoint.service, url: "") }
        var out = HTTPClientRequest(url: url)
        out.method = .init(rawValue: request.method.rawValue)
        out.headers.add(name: "User-Agent", value: "kitbag/1")
        out.headers.add(name: "Accept", value: "application/json")
        for (name, value) in endpoint.headers + request.extraHeaders {
            out.headers.replaceOrAdd(name: name, value: value)
        }
        if let upload = request.multipartFile {
            let boundary = "kitbag-" + UUID().uuidString
            let (head, tail) = upload.envelope(boundary: boundary)
            let size = (try? FileManager.default.attributesOfItem(atPath: upload.file.path)[.size] as? NSNumber)?
                .int64Value ?? 0
            out.headers.replaceOrAdd(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
            let chunks = FileChunks(url: upload.file, chunkSize: 256 << 10)
            let sequence = AsyncMultipartBody(head: head, file: chunks, tail: tail)
            out.body = .stream(sequence, length: .known(Int64(head.count + tail.count) + size))
        } else if let raw = request.rawBody {
            out.headers.replaceOrAdd(name: "Content-Type", value: raw.contentType)
            out.body = .bytes(raw.bytes)
        } else if let body = request.body {
            out.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            out.body = .bytes(body.serialized())
        }
        return out
    }

    private static let pathAllowed: CharacterSet = {
        var set = CharacterSet.urlPathAllowed
        set.insert("%")
        return set
    }()

    private static let queryAllowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: queryAllowed) ?? s
    }

    private var hostDescription: String {
        let url = endpoint.baseURL
        let host = url.host ?? url.absoluteString
        let shownHost = host.contains(":") ? "[\(host)]" : host
        if let port = url.port { return redact("\(shownHost):\(port)") }
        return redact(shownHost)
    }

    func redact(_ text: String) -> String {
        let live = endpoint.credentials?.currentSecrets().filter { $0.count >= 4 } ?? []
        return Redactor.redact(text, secrets: live.isEmpty ? endpoint.secrets : endpoint.secrets + live)
    }

    /// The service's message for an error body: the service-specific reader, else common JSON shapes; one line, redacted.
    private func serviceMessage(_ status: Int, _ body: [UInt8]) -> String? {
        var message = errorMessage(status, body)
        if message == nil, let json = try? JSONValue(parsing: body) {
            message =
                json["message"]?.stringValue ?? json["error"]?.stringValue
                ?? json["error"]?["message"]?.stringValue ?? json["errors"]?.arrayValue?.first?["message"]?.stringValue
        }
        guard var text = message else { return nil }
        text = text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        if text.count > 300 { text = String(text.prefix(300)) + "…" }
        text = redact(text)
        return text.isEmpty ? nil : text
    }

    private func failure(
        status: Int, route: String, attempts: Int, message: String?, headers: [(String, String)]
    ) -> HTTPFailure {
        let service = endpoint.service
        switch status {
        case 401:
            return .unauthorized(
                service: service, route: route, status: status, message: message, hint: endpoint.credentialHint)
        case 403: return .forbidden(service: service, route: route, status: status, message: message)
        case 404, 410: return .notFound(service: service, route: route, status: status, message: message)
        case 408: return .timeout(service: service, route: route, attempts: attempts)
        case 500...599:
            return .serverError(service: service, route: route, status: status, attempts: attempts, message: message)
        case 300...399:
            let location = headers.first { $0.0.lowercased() == "location" }.flatMap { URL(string: $0.1)?.host }
            let note = "redirected" + (location.map { " to \($0)" } ?? "") + "; kitbag does not follow redirects"
            return .clientError(service: service, route: route, status: status, message: redact(note))
        default:
            return .clientError(service: service, route: route, status: status, message: message)
        }
    }

    /// `Retry-After` as seconds or an HTTP date.
    static func retryAfter(_ headers: [(String, String)]) -> Duration? {
        guard let value = headers.first(where: { $0.0.lowercased() == "retry-after" })?.1
            .trimmingCharacters(in: .whitespaces)
        else { return nil }
        if let seconds = Double(value), seconds >= 0, seconds.isFinite { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: value) {
                return .seconds(max(0, date.timeIntervalSinceNow))
            }
        }
        return nil
    }
}

extension TransportProblem {
    var reason: String {
        switch self {
        case .unreachable(let r), .connectionLost(let r), .truncated(let r): return r
        case .timedOut: return "timed out"
        case .invalidURL: return "invalid URL"
        }
    }
}

/// Counters behind `APIClient.stats()`.
actor StatsRecorder {
    private var stats = ClientStats()

    func attempt(route: String, isRetry: Bool) {
        stats.requests += 1
        stats.perRoute[route, default: 0] += 1
        if isRetry {
            stats.retries += 1
            stats.retriesPerRoute[route, default: 0] += 1
        }
    }

    func rateLimited(route: String) {
        stats.rateLimited += 1
        stats.rateLimitedPerRoute[route, default: 0] += 1
    }
    func received(_ bytes: Int64) { stats.bytesReceived += bytes }
    func paused(_ d: Duration) { stats.secondsPaused += d.seconds }
    func snapshot() -> ClientStats { stats }
}
