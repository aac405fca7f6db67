import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GridCore
import GridStore
import SampleCounty
import Localization

extension Wangge {
    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sample",
            abstract: tr("Generate the sample county (deterministic, fixed seed).").rendered,
            subcommands: [Grids.self, Points.self, Province.self])

        struct Grids: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "grids",
                abstract: tr("Generate the 271 grids tiling the real 沅江市 boundary as GeoJSON.").rendered)

            @OptionGroup var county: CountyOptions

            @Option(help: ArgumentHelp(tr("Where to write the grids.").rendered))
            var output = "GeoData/grids.geojson"

            func run() throws {
                let generator = try county.generator()
                let grids = try generator.makeGrids()
                try CountyGenerator.geoJSON(grids).write(toFile: output, atomically: true, encoding: .utf8)
                let towns = Set(grids.map(\.info.townCode)).count
                let villages = Set(grids.map(\.info.villageCode)).count
                print(tr("wrote \(grids.count) grids in \(villages) villages and \(towns) towns to \(output)").rendered)
            }
        }

        struct Points: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "points",
                abstract: tr("Generate households, cameras and incidents as CSV files.").rendered)

            @OptionGroup var county: CountyOptions

            @Option(help: ArgumentHelp(tr("The grids the points are addressed by.").rendered))
            var grids = "GeoData/grids.geojson"

            @Option(help: ArgumentHelp(tr("The folder for the CSV files.").rendered))
            var outputDirectory = "GeoData/generated"

            @Option(help: ArgumentHelp(tr("Number of households.").rendered))
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

extension Wangge.Sample {
    struct Province: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "province",
            abstract: tr("Generate a province of grids (the benchmark's, deterministic) and import it as the active generation, with villages and towns.").rendered)

        @OptionGroup var store: StoreOptions

        @Option(help: ArgumentHelp(tr("Number of grids.").rendered))
        var grids = 20_000

        @Option(help: ArgumentHelp(tr("Random seed.").rendered))
        var seed: UInt64 = ProvinceGenerator.defaultSeed

        @Option(help: ArgumentHelp(tr("Households spread over the province's grids, imported after them (0: none).").rendered))
        var households = 0

        func validate() throws {
            guard (2...200_000).contains(grids) else { throw ValidationError(tr("--grids: \(grids) is outside 2…200000").rendered) }
            guard (0...50_000_000).contains(households) else { throw ValidationError(tr("--households: \(households) is outside 0…50000000").rendered) }
        }

        func run() throws {
            let generator = ProvinceGenerator(gridCount: grids, seed: seed)
            let shapes = try generator.makeGrids()
            // Through the grid import, as a file would come: the same checks, villages and towns.
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("wangge-province-\(ProcessInfo.processInfo.processIdentifier).geojson").path
            try generator.geoJSON(shapes).write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let service = try store.openService(creating: true)
            let report = try service.importGrids(path: file, GridFileOptions(), generationName: tr("province of \(shapes.count) grids").rendered,
                                                 progress: progressPrinter())
            print(report)
            guard households > 0 else { return }
            let points = file.replacingOccurrences(of: ".geojson", with: "-households.csv")
            try generator.writeHouseholds(count: households, in: shapes, to: points)
            defer { try? FileManager.default.removeItem(atPath: points) }
            print(try service.importPoints(.households, path: points, progress: progressPrinter()))
        }
    }
}

/// The county boundary and seed both sample commands start from.
struct CountyOptions: ParsableArguments {
    @Option(help: ArgumentHelp(tr("The county boundary (GeoJSON, WGS84).").rendered))
    var boundary = "GeoData/yuanjiang_boundary_wgs84.geojson"

    @Option(help: ArgumentHelp(tr("Random seed.").rendered))
    var seed: UInt64 = CountyGenerator.defaultSeed

    func generator() throws -> CountyGenerator {
        try CountyGenerator(countyGeoJSON: try String(contentsOfFile: boundary, encoding: .utf8), seed: seed)
    }
}
