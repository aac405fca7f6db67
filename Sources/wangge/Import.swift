import GridApplication
import ArgumentParser
import Foundation
import GeoKit
import GeoFiles
import GridCore
import GridStore
import Localization

extension CoordinateSystem: ExpressibleByArgument {
    public init?(argument: String) {
        guard let value = try? CoordinateSystem(parsing: argument) else { return nil }
        self = value
    }
}

/// Progress lines on a terminal (stderr), silence otherwise.
func progressPrinter() -> (@Sendable (String) -> Void)? {
    guard standardErrorIsTerminal else { return nil }
    let start = Date()
    return { message in
        printError(String(format: "[%6.1f s] ", Date().timeIntervalSince(start)) + message)
    }
}

extension Wangge {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import",
            abstract: tr("Import grids, households, cameras or incidents (all or nothing).").rendered,
            subcommands: [Grids.self, Households.self, Cameras.self, Incidents.self])

        struct Grids: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "grids",
                abstract: tr("Import grid polygons (Shapefile, KML/KMZ, GeoPackage, DXF, GeoJSON) as the new active generation and re-assign every stored point.").rendered)

            @OptionGroup var store: StoreOptions

            @OptionGroup var file: GridFileArguments

            @Option(help: ArgumentHelp(tr("A name for the new generation.").rendered))
            var generationName: String?

            @Flag(help: ArgumentHelp(tr("Import even if the new grids leave most stored points outside every grid.").rendered))
            var force = false

            func run() throws {
                let service = try store.openService(creating: true)
                let report = try service.importGrids(path: file.file, file.options(service.config.gridFields), generationName: generationName, force: force, progress: progressPrinter())
                print(report)
            }
        }

        struct Households: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "households",
                abstract: tr("Import households (columns id, lon, lat, address, head, phone, id_number, members, tags).").rendered)
            @OptionGroup var options: PointImportOptions
            func run() throws { try options.run(.households) }
        }

        struct Cameras: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "cameras",
                abstract: tr("Import cameras (columns id, lon, lat, type, name, heading_deg, fov_deg, range_m, status).").rendered)
            @OptionGroup var options: PointImportOptions
            func run() throws { try options.run(.cameras) }
        }

        struct Incidents: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "incidents",
                abstract: tr("Import incidents (columns id, lon, lat, category, channel, severity, status, reported_at, description, reporter, satisfaction).").rendered)
            @OptionGroup var options: PointImportOptions
            func run() throws { try options.run(.incidents) }
        }
    }
}

extension TextEncoding: ExpressibleByArgument {
    public init?(argument: String) {
        guard let value = try? TextEncoding(parsing: argument) else { return nil }
        self = value
    }
}

/// A grid file and how to read it, for `import grids` and `plan import`.
struct GridFileArguments: ParsableArguments {
    @Argument(help: ArgumentHelp(tr("A file of Polygon/MultiPolygon grids: .shp (with its .shx and .dbf), .kml, .kmz, .gpkg, .dxf or .geojson.").rendered))
    var file: String

    @Option(help: ArgumentHelp(tr("CRS of the file (default: the one the file states): EPSG:<code> (4326, 4490, 4513–4554, …), gcj02 or bd09.").rendered))
    var crs: CoordinateSystem?

    @Option(help: ArgumentHelp(tr("The layer to read, for files with several (GeoPackage, KML folders).").rendered))
    var layer: String?

    @Option(help: ArgumentHelp(tr("Text encoding of a Shapefile's .dbf: gbk or utf-8 (default: its .cpg, else detected).").rendered))
    var encoding: TextEncoding?

    @Flag(help: ArgumentHelp(tr("Repair invalid polygons with GEOS MakeValid (each repair is reported).").rendered))
    var makeValid = false

    @OptionGroup var fields: GridFieldOptions

    func options(_ configured: GridFieldMapping) -> GridFileOptions {
        GridFileOptions(mapping: fields.mapping(configured), crs: crs, makeValid: makeValid, layer: layer, encoding: encoding)
    }
}

/// Which fields hold a grid's code, name, parents and worker, over the config's `grid_fields`.
struct GridFieldOptions: ParsableArguments {
    @Option(help: ArgumentHelp(tr("Field holding the grid code.").rendered)) var codeField: String?
    @Option(help: ArgumentHelp(tr("Field holding the grid name.").rendered)) var nameField: String?
    @Option(help: ArgumentHelp(tr("Field holding the village code.").rendered)) var villageCodeField: String?
    @Option(help: ArgumentHelp(tr("Field holding the village name.").rendered)) var villageNameField: String?
    @Option(help: ArgumentHelp(tr("Field holding the town code.").rendered)) var townCodeField: String?
    @Option(help: ArgumentHelp(tr("Field holding the town name.").rendered)) var townNameField: String?
    @Option(help: ArgumentHelp(tr("Field holding the grid worker's name.").rendered)) var workerNameField: String?
    @Option(help: ArgumentHelp(tr("Field holding the grid worker's phone.").rendered)) var workerPhoneField: String?

    func mapping(_ configured: GridFieldMapping) -> GridFieldMapping {
        var mapping = configured
        if let codeField { mapping.code = codeField }
        if let nameField { mapping.name = nameField }
        if let villageCodeField { mapping.villageCode = villageCodeField }
        if let villageNameField { mapping.villageName = villageNameField }
        if let townCodeField { mapping.townCode = townCodeField }
        if let townNameField { mapping.townName = townNameField }
        if let workerNameField { mapping.workerName = workerNameField }
        if let workerPhoneField { mapping.workerPhone = workerPhoneField }
        return mapping
    }
}

/// The file, CRS and store of a point import.
struct PointImportOptions: ParsableArguments {
    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp(tr("A CSV file with a header row (coordinates in lon,lat or x,y), an Excel workbook (.xlsx, its first sheet with rows) or a GeoJSON file of Point features.").rendered))
    var file: String

    @Option(help: ArgumentHelp(tr("CRS of the coordinates: EPSG:<code> (4326, 4490, 3857, 4513–4554, …), gcj02 or bd09.").rendered))
    var crs: CoordinateSystem = .wgs84

    @Option(help: ArgumentHelp(tr("Text encoding of a CSV: utf-8 or gbk (default: UTF-8, or GBK when the file is not UTF-8, as Excel on Chinese Windows saves it).").rendered))
    var encoding: TextEncoding?

    func run(_ layer: PointLayer) throws {
        // Points need grids: a path with no database is a mistake, not a new one.
        let report = try store.openService().importPoints(layer, path: file, crs: crs, encoding: encoding, progress: progressPrinter())
        print(report)
    }
}
