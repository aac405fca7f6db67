import Foundation
import GeoKit
import GridApplication
import GridCore
import GridStore
import Synchronization

/// The parsers a user's files reach, each fed arbitrary bytes. An input may
/// be refused with an error; it must never crash, hang or leak. The same
/// function serves libFuzzer (`make fuzz`, `scripts/fuzz.sh`) and the corpus
/// replay that runs in the test command.
enum FuzzTarget: String, CaseIterable {
    case geojson, csv, wkb, yaml

    func run(_ data: Data) {
        switch self {
        case .geojson: Self.geoJSON(data)
        case .csv: Self.pointFile(data, suffix: "csv")
        case .wkb: Self.wkb(data)
        case .yaml: Self.configuration(data)
        }
    }

    /// A grid or point file as GeoJSON: the document, each geometry through
    /// GEOS and back, and the whole file as a point import reads and checks it.
    static func geoJSON(_ data: Data) {
        pointFile(data, suffix: "geojson")
        guard let document = try? GeoJSONDocument(data: data, source: "fuzz"), let context = try? GEOSContext() else { return }
        for feature in document.features.prefix(64) {
            guard let geometry = try? Geometry(geoJSON: feature.geometryJSON, context: context) else { continue }
            roundTrip(geometry, context: context)
        }
    }

    /// A point file read and checked as an import of each layer does before it
    /// writes (the import reads files by path, so the bytes go to one).
    static func pointFile(_ data: Data, suffix: String) {
        let path = scratchFile(suffix)
        guard FileManager.default.createFile(atPath: path, contents: data) else { fatalError("cannot write \(path)") }
        for layer in PointLayer.allCases {
            _ = try? GridStore.checkPointFile(layer, path: path)
        }
    }

    /// One scratch file per suffix and process, removed at exit.
    static func scratchFile(_ suffix: String) -> String {
        let path = NSTemporaryDirectory() + "wangge-fuzz-\(getpid()).\(suffix)"
        scratchFiles.withLock { files in
            if files.isEmpty { atexit { scratchFiles.withLock { $0.forEach { unlink($0) } } } }
            files.insert(path)
        }
        return path
    }

    /// A configuration file as `wangge` and `serve` read it (every section checked).
    static func configuration(_ data: Data) {
        _ = try? WanggeConfig.decode(yaml: String(decoding: data, as: UTF8.self), source: "fuzz.yaml")
    }

    /// WKB as SpatiaLite's AsBinary gives it and as a user's tools may write it.
    static func wkb(_ data: Data) {
        guard let context = try? GEOSContext(), let geometry = try? Geometry(wkb: [UInt8](data), context: context) else { return }
        roundTrip(geometry, context: context)
    }

    /// Writes a geometry read from hostile input back out and reads it again:
    /// what one writer produces its reader must take, unchanged.
    static func roundTrip(_ geometry: Geometry, context: GEOSContext) {
        guard let bytes = try? geometry.wkb() else { return }
        guard let again = try? Geometry(wkb: bytes, context: context), let bytesAgain = try? again.wkb() else {
            fatalError("GEOS cannot read back the WKB it wrote: \(bytes.count) bytes")
        }
        precondition(bytes == bytesAgain, "WKB changed on a round trip")
        _ = try? geometry.validity()
    }
}

private let scratchFiles = Mutex<Set<String>>([])
