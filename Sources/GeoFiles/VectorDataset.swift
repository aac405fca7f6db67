import CGDAL
import GDALLoader
import Foundation
import GeoKit
import Localization

/// GDAL is loaded and set up once per process, by the first vector file
/// read or written: every driver registered, its messages kept off stderr
/// (each failed call is reported by the error it throws instead), and KML
/// ExtendedData names kept as written (LIBKML would turn 网格编码 into
/// underscores). Not linked but loaded: the other commands start without
/// GDAL's 60-odd libraries.
let gdalReady: Result<Void, GeoError> = {
    if let failure = wangge_gdal_load() {
        return .failure(GeoError(tr("GDAL cannot be loaded (\(String(cString: failure))); it reads and writes Shapefile, KML, GeoPackage and Excel files: install it with apt-get install libgdal32")))
    }
    CPLSetConfigOption("LIBKML_LAUNDER_FIELD_NAMES", "NO")
    GDALAllRegister()
    _ = CPLSetErrorHandler(CPLQuietErrorHandler)
    return .success(())
}()

/// The message GDAL gave for the call that just failed (cleared on read).
func gdalError(_ what: String) -> GeoError {
    let message = CPLGetLastErrorMsg().map { String(cString: $0) } ?? ""
    CPLErrorReset()
    return GeoError(message.isEmpty ? .verbatim(what) : tr("\(what): \(message)"))
}

/// The text encoding of a Shapefile's .dbf.
public enum TextEncoding: String, Sendable, CaseIterable {
    case gbk
    case utf8 = "utf-8"

    /// Parses gbk (or gb2312, gb18030, cp936) and utf-8 (or utf8).
    public init(parsing text: String) throws {
        switch text.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "") {
        case "gbk", "gb2312", "gb18030", "cp936", "936": self = .gbk
        case "utf8": self = .utf8
        default: throw GeoError(tr("unknown encoding '\(text)': use gbk or utf-8"))
        }
    }

    /// The name GDAL's Shapefile driver (and iconv) knows it by.
    var gdalName: String {
        switch self {
        case .gbk: "CP936"
        case .utf8: "UTF-8"
        }
    }

    public var name: String { self == .gbk ? "GBK" : "UTF-8" }
}

/// A C string list (`char **`) built with CSLAddString and freed once with CSLDestroy.
final class CStringList {
    private(set) var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?

    init(_ items: [String]) {
        for item in items { pointer = CSLAddString(pointer, item) }
    }

    deinit { CSLDestroy(pointer) }

    var constPointer: UnsafePointer<UnsafePointer<CChar>?>? {
        pointer.map { UnsafeRawPointer($0).assumingMemoryBound(to: UnsafePointer<CChar>?.self) }
    }
}

/// A vector file opened read-only with GDAL (Shapefile, KML/KMZ, GeoPackage,
/// DXF, GeoJSON, …): the dataset handle is owned by this object and closed
/// once in deinit; its layers keep it alive. Like GDAL's datasets it belongs
/// to one thread.
public final class VectorDataset {
    public let path: String
    /// GDAL's short name of the driver that opened the file, e.g. "ESRI Shapefile".
    public let driver: String
    /// How a Shapefile's text was decoded, and why (nil for other formats).
    public let encodingNote: String?
    let handle: UnsafeMutableRawPointer

    /// Opens `path`. For a Shapefile, `encoding` overrides the .cpg; without
    /// either, the .dbf is read as UTF-8 when all its text is valid UTF-8, else as GBK.
    public init(path: String, encoding: TextEncoding? = nil) throws {
        try gdalReady.get()
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw GeoError(tr("\(path): no such file")) }
        let isShapefile = Self.isShapefile(path)
        if isShapefile { try Self.checkShapefileParts(path) }
        guard encoding == nil || isShapefile else {
            throw GeoError(tr("\(path): --encoding applies to Shapefiles (their .dbf); this file states its own encoding"))
        }
        var note: String?
        var chosen: UnsafeMutableRawPointer
        if let encoding {
            chosen = try Self.open(path, options: ["ENCODING=\(encoding.gdalName)"])
            note = tr("\(encoding.name) (as given)").rendered
        } else if isShapefile, let cpg = Self.sibling(of: path, extension: "cpg") {
            chosen = try Self.open(path, options: [])
            let declared = (try? String(contentsOfFile: cpg, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            note = tr("\(declared) (from \((cpg as NSString).lastPathComponent))").rendered
        } else if isShapefile {
            // No .cpg: read the bytes as they are, and decide by whether they are valid UTF-8.
            chosen = try Self.open(path, options: ["ENCODING="])
            if try Self.allTextIsUTF8(chosen, path: path) {
                note = tr("UTF-8 (no .cpg; the text is valid UTF-8)").rendered
            } else {
                GDALClose(chosen)
                chosen = try Self.open(path, options: ["ENCODING=\(TextEncoding.gbk.gdalName)"])
                note = tr("GBK (no .cpg; the text is not valid UTF-8)").rendered
            }
        } else {
            chosen = try Self.open(path, options: [])
        }
        handle = chosen
        encodingNote = note
        driver = GDALGetDatasetDriver(chosen).flatMap { GDALGetDriverShortName($0) }.map { String(cString: $0) } ?? "?"
    }

    deinit { GDALClose(handle) }

    /// The drivers a grid file may be read with. Others stay closed: a VRT or CSV
    /// could point GDAL at other files or at the network.
    public static let drivers = ["ESRI Shapefile", "LIBKML", "KML", "GPKG", "DXF", "GeoJSON"]

    /// Opens an Excel workbook (.xlsx) read-only: each sheet a layer, the first row its column names.
    public init(spreadsheet path: String) throws {
        try gdalReady.get()
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw GeoError(tr("\(path): no such file")) }
        // The first row holds the column names (GDAL 3.6's XLSX driver takes this as a configuration option, not an open option).
        CPLSetConfigOption("OGR_XLSX_HEADERS", "FORCE")
        handle = try Self.open(path, options: [], drivers: ["XLSX"])
        driver = "XLSX"
        encodingNote = nil
    }

    /// Opens one Mapbox Vector Tile read-only with GDAL's MVT driver: named …/z/x/y.pbf,
    /// its features come in Web Mercator metres. `options` are the driver's open options
    /// (CLIP=NO keeps the geometry beyond the tile's edge).
    public init(vectorTile path: String, options: [String] = []) throws {
        try gdalReady.get()
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw GeoError(tr("\(path): no such file")) }
        handle = try Self.open(path, options: options, drivers: ["MVT"])
        driver = "MVT"
        encodingNote = nil
    }

    static func open(_ path: String, options: [String], drivers: [String] = drivers) throws -> UnsafeMutableRawPointer {
        let list = CStringList(options)
        let allowed = CStringList(drivers)
        CPLErrorReset()
        let flags = UInt32(GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR)
        guard let handle = GDALOpenEx(path, flags, allowed.constPointer, list.constPointer, nil) else {
            throw gdalError("\(path): GDAL cannot open it as a vector file (Shapefile, KML, KMZ, GeoPackage, DXF or GeoJSON)")
        }
        return handle
    }

    /// Whether `path` names a Shapefile's .shp.
    public static func isShapefile(_ path: String) -> Bool { (path as NSString).pathExtension.lowercased() == "shp" }

    /// The file beside `path` with another extension (lower or upper case), if it exists.
    static func sibling(of path: String, extension ext: String) -> String? {
        let base = (path as NSString).deletingPathExtension
        return [ext.lowercased(), ext.uppercased()].map { "\(base).\($0)" }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// GDAL opens a .shp without its .dbf (the fields silently missing); say which part is missing instead.
    static func checkShapefileParts(_ path: String) throws {
        for (ext, role) in [("shx", "index"), ("dbf", "attribute table")] where sibling(of: path, extension: ext) == nil {
            throw GeoError(tr("\(path): the Shapefile's .\(ext) (its \(role)) is missing: a Shapefile is the .shp, .shx and .dbf files together, with .prj for its CRS and .cpg for its encoding"))
        }
    }

    /// Whether every field name and text value of every layer is valid UTF-8. A field
    /// name may end in a cut character: the .dbf keeps only 10 bytes of a name.
    static func allTextIsUTF8(_ handle: UnsafeMutableRawPointer, path: String) throws -> Bool {
        for index in 0..<GDALDatasetGetLayerCount(handle) {
            guard let layer = GDALDatasetGetLayer(handle, index) else { throw gdalError("\(path): layer \(index + 1)") }
            guard let definition = OGR_L_GetLayerDefn(layer) else { throw gdalError("\(path): layer \(index + 1): no definition") }
            var textFields: [Int32] = []
            for field in 0..<OGR_FD_GetFieldCount(definition) {
                guard let fieldDefinition = OGR_FD_GetFieldDefn(definition, field), let name = OGR_Fld_GetNameRef(fieldDefinition) else { continue }
                if UTF8Text.decode(name, allowingCutEnd: true) == nil { return false }
                if OGR_Fld_GetType(fieldDefinition) == OFTString { textFields.append(field) }
            }
            OGR_L_ResetReading(layer)
            while let feature = OGR_L_GetNextFeature(layer) {
                defer { OGR_F_Destroy(feature) }
                for field in textFields where OGR_F_IsFieldSetAndNotNull(feature, field) != 0 {
                    guard let value = OGR_F_GetFieldAsString(feature, field), UTF8Text.decode(value) != nil else { return false }
                }
            }
            OGR_L_ResetReading(layer)
        }
        return true
    }

    /// Every layer, in the file's order.
    public func layers() throws -> [VectorLayer] {
        try (0..<GDALDatasetGetLayerCount(handle)).map { index in
            guard let layer = GDALDatasetGetLayer(handle, index) else { throw gdalError("\(path): layer \(index + 1)") }
            return try VectorLayer(dataset: self, handle: layer)
        }
    }

    /// The layer named `name`; without a name, the only layer that may hold
    /// polygons. Errors list the layers to choose from.
    public func polygonLayer(named name: String?) throws -> VectorLayer {
        let all = try layers()
        let listing = all.map { "\($0.name) (\($0.geometryTypeName), \($0.featureCount.map(String.init) ?? "?") features)" }.joined(separator: ", ")
        if let name {
            guard let layer = all.first(where: { $0.name == name }) else {
                throw GeoError(tr("\(path): no layer \"\(name)\"; its layers are: \(listing)"))
            }
            return layer
        }
        guard !all.isEmpty else { throw GeoError(tr("\(path): the file has no layers")) }
        if all.count == 1 { return all[0] }
        let candidates = all.filter { $0.mayHoldPolygons && $0.featureCount != 0 }
        guard candidates.count == 1 else {
            throw GeoError(tr("\(path): \(candidates.isEmpty ? "no layer holds polygons" : "more than one layer may hold polygons"); choose one with --layer NAME; the layers are: \(listing)"))
        }
        return candidates[0]
    }

    /// GDAL's release, or why it cannot be loaded.
    public static var gdalVersion: String {
        switch gdalReady {
        case .success: String(cString: GDALVersionInfo("RELEASE_NAME"))
        case .failure(let error): error.description
        }
    }
}

/// UTF-8 checks of C strings from GDAL.
enum UTF8Text {
    /// The text if `pointer` holds valid UTF-8. With `allowingCutEnd`, a last character
    /// cut short (a name truncated to a byte limit) is dropped instead of failing.
    static func decode(_ pointer: UnsafePointer<CChar>, allowingCutEnd: Bool = false) -> String? {
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer))
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        guard allowingCutEnd else { return nil }
        // A cut character is a lead byte (0b11xxxxxx) followed by fewer continuation bytes than it announces.
        for cut in 1...3 where bytes.count > cut && bytes[bytes.count - cut] >= 0xC0 {
            if let text = String(validating: UnsafeBufferPointer(rebasing: bytes[..<(bytes.count - cut)]), as: UTF8.self),
               bytes[(bytes.count - cut + 1)...].allSatisfy({ $0 & 0xC0 == 0x80 }) {
                return text
            }
        }
        return nil
    }
}
