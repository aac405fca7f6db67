import Foundation
#if FUZZING
import CLibFuzzer
#endif

#if FUZZING
/// The target libFuzzer drives, chosen by `WANGGE_FUZZ_TARGET` (one process fuzzes one parser);
/// libFuzzer calls in from one thread.
nonisolated(unsafe) private var selectedTarget: FuzzTarget?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    if selectedTarget == nil {
        let name = ProcessInfo.processInfo.environment["WANGGE_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("set WANGGE_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        selectedTarget = target
    }
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    selectedTarget!.run(data)
    return 0
}

/// The process entry point under the fuzzer (SwiftPM aliases `main` to it): hands over to libFuzzer.
@_cdecl("WanggeFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in fuzzOneInput(bytes, count) }
}
#else
/// Without the fuzzer: replays a corpus, `wangge-fuzz TARGET FILE|FOLDER…`,
/// so the test command checks every saved input on every build.
@main
struct Replay {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("usage: wangge-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE|FOLDER…\n".utf8))
            exit(2)
        }
        var inputs = 0
        for path in arguments.dropFirst() {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                FileHandle.standardError.write(Data("wangge-fuzz: \(path): no such file or folder\n".utf8))
                exit(2)
            }
            let files = isFolder.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run(data)
                inputs += 1
            }
        }
        print("wangge-fuzz \(name): replayed \(inputs) inputs, no crash")
    }
}
#endif
