import Foundation

/// The proof-size knob, shared by the slow suites of every test target (KitbagTestSupport): `make proof` sets `KITBAG_PROOF=1` and the slow suites run at full size;
/// without it they run a short version so `make test` (and CI) stays fast.
/// `KITBAG_PROOF_SEED=<n>` (decimal or 0x-hex) replays a run; otherwise each run draws a fresh seed,
/// and every failure message names the seed it used.
public enum Proof {
    static let environment = ProcessInfo.processInfo.environment

    /// True when `KITBAG_PROOF` is set to anything but empty or `0`.
    public static let full: Bool = {
        guard let value = environment["KITBAG_PROOF"] else { return false }
        return !value.isEmpty && value != "0"
    }()

    /// `full` when the proof suites run at full size, else `short`.
    public static func count(full fullCount: Int, short shortCount: Int) -> Int {
        full ? fullCount : shortCount
    }

    /// The run's base seed: `KITBAG_PROOF_SEED` if given, else random.
    public static let seed: UInt64 = {
        if let text = environment["KITBAG_PROOF_SEED"]?.lowercased() {
            let parsed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            if let parsed { return parsed }
        }
        return UInt64.random(in: 1...UInt64.max)
    }()

    /// How to replay this run, for failure messages.
    public static var replay: String { "seed 0x\(String(seed, radix: 16)) (replay: KITBAG_PROOF_SEED=0x\(String(seed, radix: 16)))" }

    /// A generator for one part of a run, derived from the base seed and a label, so parts do not share streams.
    public static func generator(_ label: String) -> SeededGenerator {
        var mix = seed
        for byte in label.utf8 { mix = (mix ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return SeededGenerator(seed: mix)
    }
}

/// SplitMix64: small, fast, and the same sequence on every platform for a given seed.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
