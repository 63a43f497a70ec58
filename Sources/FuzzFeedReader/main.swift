// A libFuzzer target; Fuzz/run.sh builds it with -sanitize=fuzzer,address and runs it (see Fuzz/README.md).
import CFuzzerDriver
import Foundation
import KitbagFuzz

/// One input; traps (so libFuzzer saves the input) when a promise is broken.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTargets.trapUnlessHeld("FuzzFeedReader", FuzzTargets.feed(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)))
    return 0
}

// Whichever main the linker keeps (libFuzzer's or this one), the driver runs the function above.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
