import CGDAL
import Foundation
import GeoKit
import Localization

/// The file formats data is exported to, each written by one GDAL driver.
public enum VectorFormat: String, Sendable, CaseIterable {
    case geojson, csv, xlsx, gpkg, shp, kml

    /// GDAL's short name of the driver that writes it.
    var driverName: String {
        switch self {
        case .geojson: "GeoJSON"
        case .csv: "CSV"
        case .xlsx: "XLSX"
        case .gpkg: "GPKG"
        case .shp: "ESRI Shapefile"
        case .kml: "KML"
        }
    }

    /// The file name extension (a Shapefile's main file; zipped, it is `.shp.zip`).
    public var fileExtension: String { rawValue }

    public var mediaType: String {
        switch self {
        case .geojson: "application/geo+json"
        case .csv: "text/csv; charset=utf-8"
        case .xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case .gpkg: "application/geopackage+sqlite3"
        case .shp: "application/zip"
        case .kml: "application/vnd.google-earth.kml+xml"
        }
    }

    /// Whether the format is text a terminal or a pipe can take.
    public var isText: Bool { self == .geojson || self == .csv || self == .kml }

    /// The format a file name's extension names (`.json` is GeoJSON, `.zip` a zipped Shapefile), nil for another.
    public init?(fileName: String) {
        let name = fileName.lowercased()
        let ext = (name as NSString).pathExtension
        switch ext {
        case "geojson", "json": self = .geojson
        case "zip": self = .shp
        default:
            guard let format = VectorFormat(rawValue: ext) else { return nil }
            self = format
        }
    }
}

/// How a layer holds its places.
public enum LayerGeometry: Sendable {
    /// No places: a table.
    case none
    /// Points; in a CSV or a workbook, two number columns with these names instead of a geometry.
    case point(columns: (x: String, y: String))
    /// Polygons and multipolygons (written as multipolygons); in a CSV, a WKT column.
    case polygon
}

/// A field of an exported layer.
public struct FieldDefinition: Sendable, Equatable {
    public enum Kind: Sendable { case text, integer, real }
    public let name: String
    public let kind: Kind
    public init(_ name: String, _ kind: Kind) {
        self.name = name
        self.kind = kind
    }
}

/// One value of a field (nil in a row: the field is null).
public enum FieldValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case real(Double)
}

/// A spatial reference owned here (released once) in traditional lon/lat, x/y axis order.
final class SpatialReference {
    let handle: UnsafeMutableRawPointer

    init(epsg code: Int) throws {
        guard let handle = OSRNewSpatialReference(nil) else { throw gdalError("cannot make a spatial reference") }
        self.handle = handle
        guard OSRImportFromEPSG(handle, Int32(clamping: code)) == OGRERR_NONE else {
            CPLErrorReset()
            throw GeoError(tr("EPSG:\(code) is not a CRS PROJ knows"))
        }
        guard OSRIsGeographic(handle) != 0 || OSRIsProjected(handle) != 0 else {
            throw GeoError(tr("EPSG:\(code) is neither a geographic nor a projected CRS: give one with x and y (or lon and lat)"))
        }
        OSRSetAxisMappingStrategy(handle, OAMS_TRADITIONAL_GIS_ORDER)
    }

    deinit { OSRRelease(handle) }

    var isGeographic: Bool { OSRIsGeographic(handle) != 0 }
}

/// A coordinate transformation owned here (destroyed once), from WGS84 to a target CRS.
final class CoordinateTransformation {
    let handle: UnsafeMutableRawPointer
    // The references it was built from: kept alive as long as it is.
    let source: SpatialReference, target: SpatialReference

    init(from source: SpatialReference, to target: SpatialReference) throws {
        guard let handle = OCTNewCoordinateTransformation(source.handle, target.handle) else {
            throw gdalError("no transformation from WGS84 to the CRS asked for")
        }
        self.handle = handle
        self.source = source
        self.target = target
    }

    deinit { OCTDestroyCoordinateTransformation(handle) }
}

/// Writes one layer of features to a new file through GDAL: WGS84 (GeoJSON)
/// geometries in, reprojected to `epsg` when it is another CRS. The dataset handle
/// is owned here: `finish()` closes it (and reports what closing found), deinit
/// closes it when `finish()` was not reached. Like GDAL's datasets it belongs to one thread.
public final class VectorWriter {
    public let path: String
    public let format: VectorFormat
    private var dataset: UnsafeMutableRawPointer?
    private let layer: UnsafeMutableRawPointer
    private let fields: [FieldDefinition]
    /// Each field's index in the layer as the driver made it (KML keeps the placemark's name apart), -1 for none.
    private var fieldIndexes: [Int32] = []
    private let geometry: LayerGeometry
    private let transformation: CoordinateTransformation?
    private let inTransaction: Bool
    /// Features written so far.
    public private(set) var count = 0

    /// Creates `path` (which must not exist) with one layer `layerName` of `fields`.
    /// `placemarkName` is the field KML shows as each placemark's name.
    public init(path: String, format: VectorFormat, layerName: String, geometry: LayerGeometry, epsg: Int = 4326,
                fields: [FieldDefinition], placemarkName: String? = nil) throws {
        try gdalReady.get()
        self.path = path
        self.format = format
        self.geometry = geometry
        let target = try SpatialReference(epsg: epsg)
        transformation = epsg == 4326 ? nil : try CoordinateTransformation(from: try SpatialReference(epsg: 4326), to: target)
        var datasetOptions: [String] = []
        var layerOptions: [String] = []
        var geometryType = wkbNone
        switch geometry {
        case .none: break
        case .point: geometryType = wkbPoint
        case .polygon: geometryType = wkbMultiPolygon
        }
        var columns = fields
        switch format {
        case .csv:
            // Excel on Chinese Windows reads a CSV as GBK unless it starts with a BOM.
            layerOptions += ["WRITE_BOM=YES", "LINEFORMAT=CRLF"]
            if case .polygon = geometry { layerOptions.append("GEOMETRY=AS_WKT") }
        case .shp:
            // UTF-8 text with a .cpg saying so; text fields as wide as their longest value.
            layerOptions += ["ENCODING=UTF-8", "RESIZE=YES"]
        case .kml:
            if let placemarkName { datasetOptions.append("NameField=\(placemarkName)") }
        case .geojson:
            layerOptions += ["WRITE_NAME=NO"]
        case .gpkg, .xlsx:
            break
        }
        // A workbook or a CSV holds points as two number columns (the CSV driver would name them X and Y).
        if case .point(let names) = geometry, format == .csv || format == .xlsx {
            columns = [FieldDefinition(names.x, .real), FieldDefinition(names.y, .real)] + fields
            geometryType = wkbNone
        }
        if format == .xlsx, case .polygon = geometry { geometryType = wkbNone }
        self.fields = columns
        guard let driver = GDALGetDriverByName(format.driverName) else {
            throw GeoError(tr("GDAL here has no \(format.driverName) driver to write \(format.rawValue)"))
        }
        let options = CStringList(datasetOptions)
        CPLErrorReset()
        guard let dataset = GDALCreate(driver, path, 0, 0, 0, GDT_Unknown, options.pointer) else {
            throw gdalError("\(path): GDAL cannot create it as \(format.rawValue)")
        }
        self.dataset = dataset
        let layerOptionList = CStringList(layerOptions)
        guard let layer = GDALDatasetCreateLayer(dataset, layerName, geometryType == wkbNone ? nil : target.handle, geometryType,
                                                 layerOptionList.pointer) else {
            GDALClose(dataset)
            self.dataset = nil
            throw gdalError("\(path): cannot create the layer \(layerName)")
        }
        self.layer = layer
        guard let layerDefinition = OGR_L_GetLayerDefn(layer) else { throw gdalError("\(path): the layer has no definition") }
        var indexes: [Int32] = []
        for field in columns {
            let type: OGRFieldType = switch field.kind {
            case .text: OFTString
            case .integer: OFTInteger
            case .real: OFTReal
            }
            guard let definition = OGR_Fld_Create(field.name, type) else { throw gdalError("\(path): field \(field.name)") }
            defer { OGR_Fld_Destroy(definition) }
            // A Shapefile's text is at most 254 bytes; RESIZE shrinks each field to its longest value.
            if format == .shp, field.kind == .text { OGR_Fld_SetWidth(definition, 254) }
            let before = OGR_FD_GetFieldCount(layerDefinition)
            guard OGR_L_CreateField(layer, definition, 1) == OGRERR_NONE else {
                throw gdalError("\(path): cannot create the field \(field.name)")
            }
            // The new field is the last (a Shapefile may have cut its name); a driver may keep one apart instead (KML's name).
            let after = OGR_FD_GetFieldCount(layerDefinition)
            indexes.append(after > before ? after - 1 : OGR_FD_GetFieldIndex(layerDefinition, field.name))
        }
        fieldIndexes = indexes
        // One transaction for every feature (a GeoPackage would otherwise commit each one); not every driver has them.
        let started = GDALDatasetStartTransaction(dataset, 0)
        guard started == OGRERR_NONE || started == OGRERR_UNSUPPORTED_OPERATION else { throw gdalError("\(path): cannot start a transaction") }
        CPLErrorReset()
        inTransaction = started == OGRERR_NONE
    }

    deinit { if let dataset { GDALClose(dataset) } }

    /// Whether GDAL can write in the CRS of this EPSG code (an error says why not), and whether it is geographic.
    public static func isGeographic(epsg code: Int) throws -> Bool {
        try gdalReady.get()
        return try SpatialReference(epsg: code).isGeographic
    }

    /// Adds a feature: `values` in the order of the fields given, `geoJSON` its WGS84 geometry (nil or "null": none).
    public func add(_ values: [FieldValue?], geoJSON: String?) throws {
        let place = "\(path): feature \(count + 1)"
        guard let definition = OGR_L_GetLayerDefn(layer), let feature = OGR_F_Create(definition) else { throw gdalError("\(place): cannot make it") }
        defer { OGR_F_Destroy(feature) }
        var offset = 0
        if let geoJSON, geoJSON != "null" {
            guard let parsed = OGR_G_CreateGeometryFromJson(geoJSON) else { throw gdalError("\(place): its geometry cannot be read") }
            // The one geometry owned here until the feature takes it.
            var owned: UnsafeMutableRawPointer? = parsed
            defer { if let owned { OGR_G_DestroyGeometry(owned) } }
            if let transformation {
                guard OGR_G_Transform(parsed, transformation.handle) == OGRERR_NONE else {
                    throw gdalError("\(place): cannot be put in the CRS asked for")
                }
            }
            switch geometry {
            case .point where format == .csv || format == .xlsx:
                OGR_F_SetFieldDouble(feature, fieldIndexes[0], OGR_G_GetX(parsed, 0))
                OGR_F_SetFieldDouble(feature, fieldIndexes[1], OGR_G_GetY(parsed, 0))
            case .polygon where format == .xlsx, .none:
                break
            case .polygon:
                owned = nil
                guard let multi = OGR_G_ForceToMultiPolygon(parsed) else { throw gdalError("\(place): not a polygon") }
                owned = multi
                guard OGR_F_SetGeometryDirectly(feature, multi) == OGRERR_NONE else { throw gdalError("\(place): cannot set its geometry") }
                owned = nil
            case .point:
                guard OGR_F_SetGeometryDirectly(feature, parsed) == OGRERR_NONE else { throw gdalError("\(place): cannot set its geometry") }
                owned = nil
            }
        }
        if case .point = geometry, format == .csv || format == .xlsx { offset = 2 }
        guard values.count + offset == fields.count else { throw GeoError(tr("\(place): \(values.count) values for \(fields.count - offset) fields")) }
        for (index, value) in values.enumerated() {
            let field = fieldIndexes[index + offset]
            guard field >= 0 else { throw GeoError(tr("\(place): the layer has no field \(fields[index + offset].name)")) }
            switch value {
            case nil: OGR_F_SetFieldNull(feature, field)
            case .text(let text)?: OGR_F_SetFieldString(feature, field, text)
            case .integer(let number)?: OGR_F_SetFieldInteger64(feature, field, number)
            case .real(let number)?: OGR_F_SetFieldDouble(feature, field, number)
            }
        }
        guard OGR_L_CreateFeature(layer, feature) == OGRERR_NONE else { throw gdalError("\(place): GDAL cannot write it") }
        count += 1
    }

    /// Commits and closes the file; an error when GDAL reports one while writing it out.
    public func finish() throws {
        guard let dataset else { return }
        self.dataset = nil
        if inTransaction {
            guard GDALDatasetCommitTransaction(dataset) == OGRERR_NONE else {
                GDALClose(dataset)
                throw gdalError("\(path): cannot commit the features")
            }
        }
        CPLErrorReset()
        // GDAL 3.6's GDALClose returns nothing: a failure while flushing shows as the last error.
        GDALClose(dataset)
        if CPLGetLastErrorType() == CE_Failure || CPLGetLastErrorType() == CE_Fatal { throw gdalError("\(path): writing it out failed") }
        guard FileManager.default.fileExists(atPath: path) else { throw GeoError(tr("\(path): GDAL wrote no file")) }
    }
}
