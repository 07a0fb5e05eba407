import Coordinator
import Foundation
import HostAgent
import Shared

// The libFuzzer driver; built only by scripts/fuzz.sh (FIELDMEDIC_FUZZ=1, -sanitize=fuzzer).
// The parser is picked with FIELDMEDIC_FUZZ_TARGET (a ParserEntryPoint name, from Shared's,
// the agent's or the coordinator's list).
//
// SwiftPM links an executable's entry point as `<Module>_main` (main is aliased to it), so
// libFuzzer's own main is never pulled in: this one starts libFuzzer's driver instead.

let target: ParserEntryPoint = {
    let name = ProcessInfo.processInfo.environment["FIELDMEDIC_FUZZ_TARGET"] ?? ""
    let all = ParserEntryPoint.all + ParserEntryPoint.agent + ParserEntryPoint.coordinator
    guard let target = all.first(where: { $0.name == name }) else {
        FileHandle.standardError.write(Data("FIELDMEDIC_FUZZ_TARGET must be one of: \(all.map(\.name).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return target
}()

typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: FuzzCallback) -> CInt

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    target.run(Data(bytes: start, count: count))
    return 0
}

@_cdecl("FieldMedicFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    _ = target
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, { start, size in fuzzOneInput(start, size) })
}
