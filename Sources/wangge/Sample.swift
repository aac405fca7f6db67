import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import SampleCounty

extension Wangge {
    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate the sample county (deterministic, fixed seed).",
            subcommands: [Grids.self, Points.self])

        struct Grids: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Generate the 271 grids tiling the real 沅江市 boundary as GeoJSON.")

            @OptionGroup var county: CountyOptions

            @Option(help: "Where to write the grids.")
            var output = "GeoData/grids.geojson"

            func run() throws {
                let generator = try county.generator()
                let grids = try generator.makeGrids()
                try CountyGenerator.geoJSON(grids).write(toFile: output, atomically: true, encoding: .utf8)
                let towns = Set(grids.map(\.info.townCode)).count
                let villages = Set(grids.map(\.info.villageCode)).count
                print("wrote \(grids.count) grids in \(villages) villages and \(towns) towns to \(output)")
            }
        }

        struct Points: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Generate households, cameras and incidents as CSV files.")

            @OptionGroup var county: CountyOptions

            @Option(help: "The grids the points are addressed by.")
            var grids = "GeoData/grids.geojson"

            @Option(help: "The folder for the CSV files.")
            var outputDirectory = "GeoData/generated"

            @Option(help: "Number of households.")
            var households = PointGenerator.defaultHouseholdCount

            func run() throws {
                let generator = try county.generator()
                let document = try GeoJSONDocument(contentsOf: grids)
                try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
                let summary = try PointGenerator(county: generator, grids: document, householdCount: households)
                    .write(to: outputDirectory)
                print(summary)
            }
        }
    }
}

/// The county boundary and seed both sample commands start from.
struct CountyOptions: ParsableArguments {
    @Option(help: "The county boundary (GeoJSON, WGS84).")
    var boundary = "GeoData/yuanjiang_boundary_wgs84.geojson"

    @Option(help: "Random seed.")
    var seed: UInt64 = CountyGenerator.defaultSeed

    func generator() throws -> CountyGenerator {
        try CountyGenerator(countyGeoJSON: try String(contentsOfFile: boundary, encoding: .utf8), seed: seed)
    }
}
