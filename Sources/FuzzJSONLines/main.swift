// libFuzzer entry point; build and run with Fuzz/run.sh (needs -parse-as-library and -sanitize=fuzzer).
import KitbagFuzz

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    FuzzTargets.trapUnlessHeld("FuzzJSONLines", FuzzTargets.jsonLines(input))
    return 0
}
