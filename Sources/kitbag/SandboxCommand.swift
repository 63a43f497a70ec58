import ArgumentParser
import Dispatch
import Foundation
import KitbagCore
import KitbagSandbox

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Serve a local emulator of a service's API, for tests, demos and rehearsing a restore.",
        discussion: """
            Prints its base URL (http://127.0.0.1:PORT) as the first line of stdout and runs until interrupted.
            Example: kitbag sandbox kinopio --port 8080 --seed demo
            """)

    @Argument(help: ArgumentHelp("Service to emulate: \(ServiceCatalog.names()).", valueName: "service"))
    var service: ServiceName

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 0

    @Option(help: "API key or token the sandbox accepts (repeatable; the first owns the seeded data).")
    var apiKey: [String] = []

    @Option(help: "Kintone: an API token the sandbox accepts (repeatable; same as --api-key).")
    var apiToken: [String] = []

    @Option(help: "Kintone: login name accepted for X-Cybozu-Authorization (with --password).")
    var user: String?

    @Option(help: "Kintone: password for --user.")
    var password: String?

    @Option(help: "Seed data: empty, demo, or a number of cards to generate.")
    var seed = "demo"

    @Option(help: "Share of requests (0…1) that fail as a 500, 503, 429, reset connection or truncated body.")
    var faults = 0.0

    @Option(help: "Seconds every request is refused after a 429 (Kinopio: 30).")
    var penaltySeconds = 30.0

    @Flag(help: "Do not enforce the service's limit (Kinopio: 5 requests/s; Kintone: 100 at once; Kitemaker: an assumed 10 at once).")
    var noRateLimit = false

    @Option(help: "Milliseconds every request waits before it is answered, like a server that far away (one round trip).")
    var latency = 0.0

    @Option(help: "Up to this many milliseconds more per request, drawn at random (with --latency).")
    var jitter = 0.0

    @Option(help: "Milliseconds more for each other request in flight: a server that slows down under load.")
    var latencyUnderLoad = 0.0

    @Flag(help: "Kinopio: behave as an older server (the seed page's route names; the current document's new routes answer 404).")
    var legacy = false

    @Flag(help: "Kona: GET /spaces?hidden=true lists only hidden spaces (default: hidden ones too).")
    var hiddenOnly = false

    @Flag(help: "Kona: GET /tasks and /calendar_events ignore space_id (default: they filter by it).")
    var ignoresSpaceId = false

    @Option(help: "Kona: quietly lower a larger per_page to this many items (default: more than 100 is a 400).")
    var perPageCap: Int?

    @Flag(help: "Kona: a create takes only the first object of its array (default: all of them).")
    var noBatches = false

    @Option(help: "Kona: spread a generated seed's tasks over this many spaces (default: one space per 100 tasks).")
    var spaces: Int?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard SandboxSeed(argument: seed) != nil else { throw ValidationError("--seed takes empty, demo or a number of cards.") }
        guard (0...1).contains(faults) else { throw ValidationError("--faults takes a share between 0 and 1, e.g. 0.05.") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535.") }
        if (user == nil) != (password == nil) { throw ValidationError("--user and --password go together.") }
        if legacy && service != .kinopio { throw ValidationError("--legacy is a Kinopio option.") }
        if (user != nil || !apiToken.isEmpty) && service != .kintone {
            throw ValidationError("--api-token, --user and --password are Kintone options; use --api-key.")
        }
        if (hiddenOnly || ignoresSpaceId || perPageCap != nil || noBatches || spaces != nil) && service != .kona {
            throw ValidationError("--hidden-only, --ignores-space-id, --per-page-cap, --no-batches and --spaces are Kona options.")
        }
        if let spaces, spaces < 1 { throw ValidationError("--spaces takes a whole number from 1, e.g. 100.") }
        if let perPageCap, perPageCap < 1 { throw ValidationError("--per-page-cap takes a whole number from 1, e.g. 25.") }
        for (name, value) in [("--latency", latency), ("--jitter", jitter), ("--latency-under-load", latencyUnderLoad)]
        where !(0...600_000).contains(value) {
            throw ValidationError("\(name) takes milliseconds from 0 to 600000, e.g. 50.")
        }
    }

    func run() async throws {
        try await reportingErrors(json: global.json) {
            guard let entry = ServiceCatalog.entry(service), let sandboxEntry = entry.sandbox else {
                throw UserError("a \(service.rawValue) sandbox is not available in kitbag \(Kitbag.version) yet", exitStatus: .usage)
            }
            var options = SandboxOptions()
            options.host = host
            options.port = port
            if !(apiKey + apiToken).isEmpty { options.credentials = apiKey + apiToken }
            if let user { options.logins = [user: password ?? ""] }
            options.seed = SandboxSeed(argument: seed)!
            options.faultRate = faults
            options.penaltySeconds = penaltySeconds
            options.rateLimit = !noRateLimit
            options.latency = .milliseconds(latency)
            options.jitter = .milliseconds(jitter)
            options.latencyPerRequestInFlight = .milliseconds(latencyUnderLoad)
            options.kona = KonaServerBehaviour(
                hiddenOnly: hiddenOnly, ignoresSpaceID: ignoresSpaceId, perPageCap: perPageCap, noBatches: noBatches)
            options.kona.generatedSpaces = spaces
            let termination = TerminationSignal()
            let sandbox =
                legacy
                ? try await KinopioSandbox.start(options, logger: global.makeLogger("kitbag.sandbox"), legacy: true)
                : try await sandboxEntry.start(options, global.makeLogger("kitbag.sandbox"))
            printText("\(sandbox.baseURL.absoluteString)\n")
            if !global.quiet {
                let credential = options.credentials.first ?? sandboxEntry.defaultCredential
                // What to set in another shell to point kitbag at this sandbox.
                let exports = entry.environment(sandbox, credential).sorted { $0.key < $1.key }
                    .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                let line = "\(service.rawValue) sandbox ready; in another shell: export \(exports); then e.g. "
                    + "kitbag export \(service.rawValue). Ctrl-C to stop\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
            await termination.wait()
            await sandbox.stop()
        }
    }
}

/// SIGINT and SIGTERM, caught from the moment it is made (so a signal right after the sandbox printed its URL
/// still stops it cleanly); `wait()` suspends until one arrives.
/// `@unchecked`: its two fields change only under `lock`.
final class TerminationSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var arrived = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var sources: [DispatchSourceSignal] = []

    init() {
        var made: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            made.append(DispatchSource.makeSignalSource(signal: sig, queue: .global()))
        }
        sources = made
        for source in made {
            source.setEventHandler { [weak self] in self?.arrive() }
            source.resume()
        }
    }

    private func arrive() {
        let waiting = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            arrived = true
            defer { waiter = nil }
            return waiter
        }
        waiting?.resume()
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = lock.withLock { () -> Bool in
                if arrived { return true }
                waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}
