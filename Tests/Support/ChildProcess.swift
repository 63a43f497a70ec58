import CSpawn
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process for the tests (the kitbag binary, bsdtar, tar, unzip, openssl, chromium …), started with
/// posix_spawn(3).
///
/// Foundation's `Process` is not used. Before it spawns, swift-corelibs-foundation finds the highest open descriptor
/// by scanning /proc/self/fd, and that scan copies 256 bytes out of each directory entry's name whatever the name's
/// length: when the entry buffer ends at the edge of a mapping, the whole test process dies with SIGSEGV
/// (swift-corelibs-foundation pull request 5472, not in the Foundation of Swift 6.3). It did so in about one full test
/// run in four here, each time in a different test.
///
/// Here the child closes every descriptor above stderr itself (`posix_spawn_file_actions_addclosefrom_np`, glibc 2.34; Tests/CSpawn),
/// starts with every signal at its default action and none blocked, as a child of a shell would, and is reaped by a
/// thread of its own, which first waits without reaping (`waitid` with `WNOWAIT`): until the reaper has recorded the
/// end, the process id still names this child, so `signal(_:)` can never reach a stranger that reuses it.
public final class ChildProcess: Sendable {
    public enum Input: Sendable {
        case null
        case file(String)
    }

    public enum Output: Sendable {
        /// A pipe the test reads (`standardOutput` / `standardError`).
        case pipe
        /// /dev/null.
        case null
        /// stderr only: the same pipe as stdout, interleaved as on a terminal.
        case standardOutput
    }

    public enum TerminationReason: Sendable, Equatable {
        case exit
        case uncaughtSignal
    }

    public enum SpawnError: Error, CustomStringConvertible {
        case failed(String, Int32)
        public var description: String {
            switch self {
            case .failed(let what, let code): "could not start \(what): \(String(cString: strerror(code)))"
            }
        }
    }

    public let processIdentifier: pid_t
    /// The read end of stdout's pipe when it was `.pipe`.
    public let standardOutput: FileHandle?
    /// The read end of stderr's pipe when it was `.pipe`.
    public let standardError: FileHandle?

    private struct State {
        var status: Int32?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let ended = DispatchGroup()

    /// Starts `executable` (a path; `/usr/bin/env NAME` looks a name up on the PATH) with `arguments`, in `directory`
    /// when given, with `environment` (the test process's own when nil).
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: Input = .null, output: Output = .pipe, error: Output = .pipe
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        switch input {
        case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .file(let path): posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0)
        }
        // Both ends are close-on-exec in the test process, so no other child inherits them; dup2 onto 1 or 2 clears
        // the flag on the child's copy only.
        var opened: [Int32] = []
        func pipeEnds() throws -> (read: Int32, write: Int32) {
            var ends: [Int32] = [-1, -1]
            guard kitbag_spawn_pipe_cloexec(&ends) == 0 else { throw SpawnError.failed(executable, errno) }
            opened += ends
            return (ends[0], ends[1])
        }
        var stdoutRead: Int32?, stdoutWrite: Int32?, stderrRead: Int32?
        do {
            switch output {
            case .pipe:
                let ends = try pipeEnds()
                (stdoutRead, stdoutWrite) = (ends.read, ends.write)
                posix_spawn_file_actions_adddup2(&actions, ends.write, 1)
            case .null, .standardOutput:
                posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            }
            switch error {
            case .pipe:
                let ends = try pipeEnds()
                stderrRead = ends.read
                posix_spawn_file_actions_adddup2(&actions, ends.write, 2)
            case .null:
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            case .standardOutput:
                if let stdoutWrite {
                    posix_spawn_file_actions_adddup2(&actions, stdoutWrite, 2)
                } else {
                    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
                }
            }
        } catch {
            for fd in opened { close(fd) }
            throw error
        }
        if let directory { kitbag_spawn_add_chdir(&actions, directory) }
        kitbag_spawn_add_closefrom(&actions, 3)

        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        // The child has its copies (or never started): the parent keeps only the read ends.
        for fd in opened where fd != stdoutRead && fd != stderrRead { close(fd) }
        guard code == 0 else {
            for fd in [stdoutRead, stderrRead].compactMap({ $0 }) { close(fd) }
            throw SpawnError.failed(executable, code)
        }
        processIdentifier = pid
        standardOutput = stdoutRead.map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        standardError = stderrRead.map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        ended.enter()
        let reaper = Thread { [self] in reap() }
        reaper.name = "reaper \(pid)"
        reaper.start()
    }

    private func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(processIdentifier), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
        let waiters = state.withLock { (state: inout State) -> [CheckedContinuation<Void, Never>] in
            var status: Int32 = 0
            while waitpid(processIdentifier, &status, 0) < 0, errno == EINTR {}
            state.status = status
            defer { state.waiters = [] }
            return state.waiters
        }
        ended.leave()
        for waiter in waiters { waiter.resume() }
    }

    public var isRunning: Bool { state.withLock { $0.status == nil } }

    /// The exit code, or the signal's number when a signal ended it (as Foundation's `Process` has it); -1 while
    /// it runs.
    public var terminationStatus: Int32 {
        guard let status = state.withLock({ $0.status }) else { return -1 }
        return Self.signalled(status) ? status & 0x7f : (status >> 8) & 0xff
    }

    public var terminationReason: TerminationReason {
        guard let status = state.withLock({ $0.status }) else { return .exit }
        return Self.signalled(status) ? .uncaughtSignal : .exit
    }

    private static func signalled(_ status: Int32) -> Bool { (status & 0x7f) != 0 && (status & 0x7f) != 0x7f }

    /// Sends `signal` while the child runs; after it ended, nothing.
    public func signal(_ signal: Int32) {
        state.withLock { state in
            if state.status == nil { _ = kill(processIdentifier, signal) }
        }
    }

    /// Returns once the child has ended, without holding a thread of the async pool.
    public func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.status != nil { return true }
                state.waiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    /// Blocks the calling thread until the child has ended: for synchronous helpers only.
    public func waitUntilExit() { ended.wait() }

    /// Reads a pipe to its end on a thread of its own: blocking reads must not hold the async thread pool, which also
    /// serves the in-process sandboxes the child talks to.
    public static func readToEnd(_ handle: FileHandle?) async -> Data {
        guard let handle else { return Data() }
        return await withCheckedContinuation { (c: CheckedContinuation<Data, Never>) in
            let t = Thread { c.resume(returning: handle.readDataToEndOfFile()) }
            t.start()
        }
    }

    /// Runs to the end, reading stdout and stderr as the child writes them.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: Input = .null, error: Output = .pipe
    ) async throws -> (status: Int32, reason: TerminationReason, stdout: Data, stderr: Data) {
        let child = try ChildProcess(
            executable, arguments, environment: environment, directory: directory, input: input, error: error)
        async let out = readToEnd(child.standardOutput)
        async let err = readToEnd(child.standardError)
        let (stdout, stderr) = await (out, err)
        await child.wait()
        return (child.terminationStatus, child.terminationReason, stdout, stderr)
    }

    /// `run` for synchronous callers: blocks the calling thread.
    public static func runBlocking(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, input: Input = .null,
        error: Output = .pipe
    ) throws -> (status: Int32, stdout: Data) {
        let child = try ChildProcess(executable, arguments, environment: environment, input: input, error: error)
        // stderr is drained on a thread of its own, so neither pipe can fill up and stall the child.
        if let handle = child.standardError { Thread { _ = handle.readDataToEndOfFile() }.start() }
        let stdout = child.standardOutput?.readDataToEndOfFile() ?? Data()
        child.waitUntilExit()
        return (child.terminationStatus, stdout)
    }
}
