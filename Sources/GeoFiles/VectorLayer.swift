import CGDAL
import Foundation
import GeoKit
import Localization

/// One feature as read: its number in read order (1-based, as users count),
/// its set fields as UTF-8 text, and its geometry as 2D linear ISO WKB.
public struct VectorFeature: Sendable {
    public let number: Int
    /// The file's own id of the feature: in a spreadsheet, its row number.
    public let fid: Int64
    public let values: [String: String]
    /// nil when the feature has no geometry (or an empty one).
    public let wkb: [UInt8]?
}

/// A layer of a `VectorDataset`, which it keeps open. The layer handle belongs to the dataset (never freed here).
public final class VectorLayer {
    public let dataset: VectorDataset
    let handle: UnsafeMutableRawPointer
    public let name: String
    /// The field names as the file gives them (a name cut at a byte limit loses its cut last character).
    public let fieldNames: [String]
    /// The declared geometry type, e.g. "Polygon", "3D Multi Polygon", "Unknown (any)".
    public let geometryTypeName: String
    /// Whether the declared type is polygonal, or unknown (a KML folder, a DXF layer, a GeoJSON of mixed types).
    public let mayHoldPolygons: Bool
    /// nil when the driver cannot count without reading.
    public let featureCount: Int?

    init(dataset: VectorDataset, handle: UnsafeMutableRawPointer) throws {
        self.dataset = dataset
        self.handle = handle
        let layerName = OGR_L_GetName(handle).map { String(cString: $0) } ?? "?"
        name = layerName
        guard let definition = OGR_L_GetLayerDefn(handle) else { throw gdalError("\(dataset.path): layer \(layerName): no definition") }
        fieldNames = try (0..<OGR_FD_GetFieldCount(definition)).map { index in
            guard let field = OGR_FD_GetFieldDefn(definition, index), let name = OGR_Fld_GetNameRef(field) else {
                throw gdalError("\(dataset.path): field \(index + 1)")
            }
            guard let text = UTF8Text.decode(name, allowingCutEnd: true) else {
                throw GeoError(tr("\(dataset.path), layer \(layerName): field \(index + 1): its name is not valid UTF-8 (give the encoding, e.g. --encoding gbk)"))
            }
            return text
        }
        let type = OGR_L_GetGeomType(handle)
        geometryTypeName = OGRGeometryTypeToName(type).map { String(cString: $0) } ?? "?"
        let flat = OGR_GT_Flatten(type)
        mayHoldPolygons = [wkbUnknown, wkbGeometryCollection].contains(flat)
            || OGR_GT_IsSubClassOf(flat, wkbCurvePolygon) != 0 || OGR_GT_IsSubClassOf(flat, wkbMultiSurface) != 0
        let count = OGR_L_GetFeatureCount(handle, 1)
        featureCount = count >= 0 ? Int(count) : nil
    }

    /// Where messages say this layer is: "FILE, layer NAME".
    public var label: String { "\(dataset.path), layer \(name)" }

    /// The layer's CRS: its EPSG code when it has one or GDAL matches one with
    /// confidence (a .prj written by ArcGIS names no code), else its WKT for
    /// PROJ; nil when the file states none (a .shp without its .prj, a DXF).
    public func coordinateSystem() throws -> CoordinateSystem? {
        guard let srs = OGR_L_GetSpatialRef(handle) else { return nil }
        if let code = Self.epsgCode(srs) { return .epsg(code) }
        var count: Int32 = 0
        var confidences: UnsafeMutablePointer<Int32>?
        if let matches = OSRFindMatches(srs, nil, &count, &confidences) {
            defer {
                OSRFreeSRSArray(matches)
                VSIFree(confidences)
            }
            if count > 0, let confidences, confidences[0] >= 90, let best = matches[0], let code = Self.epsgCode(best) {
                return .epsg(code)
            }
        }
        var text: UnsafeMutablePointer<CChar>?
        let options = CStringList(["FORMAT=WKT2_2019"])
        guard OSRExportToWktEx(srs, &text, options.constPointer) == OGRERR_NONE, let text else {
            throw gdalError("\(label): its CRS cannot be written as WKT")
        }
        defer { VSIFree(text) }
        let name = OSRGetName(srs).map { String(cString: $0) } ?? "the file's CRS"
        return .definition(name: name, text: String(cString: text))
    }

    static func epsgCode(_ srs: UnsafeMutableRawPointer) -> Int? {
        guard let authority = OSRGetAuthorityName(srs, nil), String(cString: authority).uppercased() == "EPSG",
              let code = OSRGetAuthorityCode(srs, nil) else { return nil }
        return Int(String(cString: code))
    }

    /// Every feature, in the file's order. `closedLinesArePolygons` reads a
    /// closed line as the polygon it outlines (CAD draws areas as closed polylines).
    public func features(closedLinesArePolygons: Bool = false) throws -> [VectorFeature] {
        guard let definition = OGR_L_GetLayerDefn(handle) else { throw gdalError("\(label): no definition") }
        let fieldCount = OGR_FD_GetFieldCount(definition)
        var features: [VectorFeature] = []
        CPLErrorReset()
        OGR_L_ResetReading(handle)
        while let feature = OGR_L_GetNextFeature(handle) {
            defer { OGR_F_Destroy(feature) }
            let number = features.count + 1
            var values: [String: String] = [:]
            for index in 0..<fieldCount where OGR_F_IsFieldSetAndNotNull(feature, index) != 0 {
                let field = fieldNames[Int(index)]
                guard let pointer = OGR_F_GetFieldAsString(feature, index) else { throw gdalError("\(label): feature \(number): field \(field)") }
                guard let text = UTF8Text.decode(pointer) else {
                    throw GeoError(tr("\(label): feature \(number): field \(field): the text is not valid UTF-8 (give the encoding, e.g. --encoding gbk)"))
                }
                values[field] = text
            }
            let wkb = try OGR_F_GetGeometryRef(feature).flatMap {
                try Self.linearWKB($0, closedLinesArePolygons: closedLinesArePolygons, where: "\(label): feature \(number)")
            }
            features.append(VectorFeature(number: number, fid: OGR_F_GetFID(feature), values: values, wkb: wkb))
        }
        // GetNextFeature returns NULL at the end and on a read error alike.
        if CPLGetLastErrorType() == CE_Failure || CPLGetLastErrorType() == CE_Fatal {
            throw gdalError("\(label): reading stopped after feature \(features.count)")
        }
        return features
    }

    /// A copy of `geometry` (owned by its feature) made 2D and linear: Z and M
    /// dropped (KML polygons carry altitudes), curves approximated, a collection
    /// of polygons made a MultiPolygon; as ISO WKB, nil when empty.
    static func linearWKB(_ geometry: UnsafeMutableRawPointer, closedLinesArePolygons: Bool, where place: String) throws -> [UInt8]? {
        guard OGR_G_IsEmpty(geometry) == 0 else { return nil }
        guard let clone = OGR_G_Clone(geometry) else { throw gdalError("\(place): cannot copy the geometry") }
        // The one geometry this function owns; OGR_G_ForceTo* take theirs and return the result.
        var owned: UnsafeMutableRawPointer? = clone
        defer { if let owned { OGR_G_DestroyGeometry(owned) } }
        var copy = clone
        func replace(_ what: String, _ convert: (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer?, consuming: Bool) throws {
            if consuming { owned = nil }
            guard let result = convert(copy) else { throw gdalError("\(place): \(what)") }
            if !consuming { OGR_G_DestroyGeometry(copy) }
            owned = result
            copy = result
        }
        if OGR_G_HasCurveGeometry(copy, 1) != 0 {
            try replace("cannot approximate the curves", { OGR_G_GetLinearGeometry($0, 0, nil) }, consuming: false)
        }
        OGR_G_FlattenTo2D(copy)
        switch OGR_GT_Flatten(OGR_G_GetGeometryType(copy)) {
        case wkbGeometryCollection:
            // Returns the same geometry when a part is not a polygon; the type check then names it.
            try replace("cannot read the collection", { OGR_G_ForceToMultiPolygon($0) }, consuming: true)
        case wkbLineString where closedLinesArePolygons:
            let points = OGR_G_GetPointCount(copy)
            if points >= 4, OGR_G_GetX(copy, 0) == OGR_G_GetX(copy, points - 1), OGR_G_GetY(copy, 0) == OGR_G_GetY(copy, points - 1) {
                try replace("cannot make the closed line a polygon", { OGR_G_ForceTo($0, wkbPolygon, nil) }, consuming: true)
            }
        default: break
        }
        var bytes = [UInt8](repeating: 0, count: OGR_G_WkbSizeEx(copy))
        guard OGR_G_ExportToIsoWkb(copy, wkbNDR, &bytes) == OGRERR_NONE else { throw gdalError("\(place): cannot write the geometry as WKB") }
        return bytes
    }
}
