import Foundation
import KitbagTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The tests' own child processes (ChildProcess, which replaced Foundation's Process): exit codes, signals, and what
/// the child inherits.
@Suite struct ChildProcessTests {
    @Test func anExitCodeAndOutputComeBack() async throws {
        let r = try await ChildProcess.run("/bin/sh", ["-c", "printf out; printf err >&2; exit 3"])
        #expect(r.status == 3 && r.reason == .exit)
        #expect(String(decoding: r.stdout, as: UTF8.self) == "out")
        #expect(String(decoding: r.stderr, as: UTF8.self) == "err")
    }

    @Test func aKilledChildReportsItsSignalAndASignalAfterTheEndReachesNobody() async throws {
        let child = try ChildProcess("/bin/sleep", ["30"], output: .null, error: .null)
        #expect(child.isRunning)
        child.signal(SIGKILL)
        await child.wait()
        #expect(child.terminationReason == .uncaughtSignal && child.terminationStatus == SIGKILL)
        child.signal(SIGTERM)  // its process id is free again: nothing may be sent to it
        #expect(!child.isRunning)
    }

    @Test func theChildInheritsOnlyItsThreeStandardDescriptorsAndDefaultSignals() async throws {
        // A descriptor the test process holds without close-on-exec, as a lock file or a socket may be.
        let held = open("/dev/null", O_RDONLY)
        defer { close(held) }
        #expect(held > 2)
        let old = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, old) }
        // ls opens /proc/self/fd itself: one descriptor more than it inherited, numbered 3.
        let r = try await ChildProcess.run("/bin/ls", ["/proc/self/fd"])
        let fds = Set(String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").compactMap { Int32($0) })
        #expect(fds.isSubset(of: [0, 1, 2, 3]), "inherited: \(fds.sorted())")
        #expect(!fds.contains(held) || held == 3)
        let status = try await ChildProcess.run("/bin/sh", ["-c", "grep '^SigIgn' /proc/self/status"])
        let ignored = String(decoding: status.stdout, as: UTF8.self).split(separator: "\t").last.map(String.init) ?? ""
        // Signals 1 to 31 (SIGPIPE among them) are at their defaults; 32 and 33 belong to glibc itself.
        let mask = UInt64(ignored.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16)
        #expect(mask.map { $0 & 0x7fff_ffff } == 0, "ignored: \(ignored)")
    }

    @Test func stdinComesFromAFileAndAMissingProgramIsOneError() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kitbag-child-\(UUID().uuidString)")
        try Data("line one\nline two\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try ChildProcess.runBlocking("/usr/bin/wc", ["-l"], input: .file(file.path))
        #expect(r.status == 0 && String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespaces) == "2\n")
        #expect(throws: ChildProcess.SpawnError.self) { try ChildProcess("/nonexistent/kitbag-tool", []) }
    }
}
