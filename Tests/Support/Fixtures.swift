import Foundation
import GeoKit
import Localization
@_exported import SampleCounty
// SeededRandom lives in GridCore; tests of every target use it.
@_exported import GridCore

/// Paths to the project's data and its reference data (`Tests/Fixtures/reference`,
/// provenance in its README), found from this file's location so that tests run
/// from any directory. Nothing outside the repository is read.
public enum Fixtures {
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func path(_ relative: String) -> String { packageRoot.appendingPathComponent(relative).path }

    /// `Tests/Fixtures/reference/NAME`: real data nobody on the project made.
    public static func reference(_ name: String) -> String {
        path("Tests/Fixtures/reference/\(name)")
    }

    public static var sampleGrids: String { path("GeoData/grids.geojson") }
    public static var countyBoundary: String { path("GeoData/yuanjiang_boundary_wgs84.geojson") }
    public static var northCarolina: String { reference("libpysal_sids2_nc_counties.geojson") }

    /// Grid shapes from a GeoJSON file, the code taken from `codeField`.
    public static func shapes(_ path: String, codeField: String = "code") throws -> [GridShape] {
        let context = try GEOSContext()
        return try GeoJSONDocument(contentsOf: path).features.map { feature in
            GridShape(code: feature.properties[codeField]?.text ?? "?",
                      wkb: try Geometry(geoJSON: feature.geometryJSON, context: context).wkb())
        }.sorted { $0.code < $1.code }
    }

    /// One folder per test process for every temporary file, removed when the
    /// process exits, so a failing test (or a database's -wal/-shm) leaves nothing behind.
    public static let temporaryDirectory: String = {
        let directory = NSTemporaryDirectory() + "wangge-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: Fixtures.temporaryDirectory) }
        return directory
    }()

    /// A fresh temporary file path inside `temporaryDirectory`.
    public static func temporaryPath(_ name: String) -> String {
        temporaryDirectory + "/\(UUID().uuidString)-\(name)"
    }

    /// A product built beside the test bundle (e.g. `wangge`), if it exists.
    public static func executable(_ name: String) -> String? {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
        for candidate in [besideTests, path(".build/debug/\(name)")] where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return nil
    }

    /// Runs a program to completion: its exit status, standard output and standard error.
    /// `wangge` speaks English here, whatever the shipped configuration says, so
    /// that tests can read its words (LanguageCommandTests checks the Chinese).
    /// `environment` is added to this process's (and wins over it).
    public static func runCapturing(_ program: String, _ arguments: [String],
                                    environment: [String: String] = [:]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["WANGGE_LANGUAGE": "en"].merging(environment) { _, given in given }) { _, ours in ours }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }

    /// Runs a program to completion; its standard output, or an error with its standard error.
    public static func run(_ program: String, _ arguments: [String]) throws -> String {
        let done = try runCapturing(program, arguments)
        guard done.status == 0 else {
            throw GeoError(.verbatim("\(program) \(arguments.joined(separator: " ")) exited \(done.status): \(done.errors)"))
        }
        return done.output
    }

    /// "Feature Count: N" of each layer, as `ogrinfo -ro -so -al` prints them (gdal-bin is installed by scripts/setup.sh);
    /// a workbook's first row read as its header (GDAL guesses none when every column is text).
    public static func ogrinfoCounts(_ path: String) throws -> [String: Int] {
        let header = path.hasSuffix(".xlsx") ? ["--config", "OGR_XLSX_HEADERS", "FORCE"] : []
        let output = try run("/usr/bin/ogrinfo", header + ["-ro", "-so", "-al", path])
        var counts: [String: Int] = [:]
        var layer = ""
        for line in output.split(separator: "\n") {
            if line.hasPrefix("Layer name: ") { layer = String(line.dropFirst("Layer name: ".count)) }
            if line.hasPrefix("Feature Count: ") { counts[layer] = Int(line.dropFirst("Feature Count: ".count)) }
        }
        return counts
    }

    public static func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}

extension SeededRandom {
    /// A uniform point in an envelope.
    public mutating func point(in e: Envelope) -> LonLat {
        LonLat(e.minX + unit() * e.width, e.minY + unit() * e.height)
    }
}
