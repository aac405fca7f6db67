import Foundation

/// The Chinese GCJ-02 ("Mars") and BD-09 (Baidu) coordinate systems, which
/// PROJ does not know. Forward formulas are the published ones (Krasovsky
/// ellipsoid); the inverses iterate the forward transform to 1e-12°.
public enum ChineseCoordinates {
    static let a = 6378245.0
    static let ee = 0.00669342162296594323
    static let bdFactor = Double.pi * 3000.0 / 180.0

    /// The rough box inside which GCJ-02 applies an offset; outside, points are unchanged.
    public static func isOutsideChina(lon: Double, lat: Double) -> Bool {
        lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271
    }

    private static func offsetLatitude(_ x: Double, _ y: Double) -> Double {
        var r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
        r += (20.0 * sin(6.0 * x * .pi) + 20.0 * sin(2.0 * x * .pi)) * 2.0 / 3.0
        r += (20.0 * sin(y * .pi) + 40.0 * sin(y / 3.0 * .pi)) * 2.0 / 3.0
        r += (160.0 * sin(y / 12.0 * .pi) + 320 * sin(y * .pi / 30.0)) * 2.0 / 3.0
        return r
    }

    private static func offsetLongitude(_ x: Double, _ y: Double) -> Double {
        var r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
        r += (20.0 * sin(6.0 * x * .pi) + 20.0 * sin(2.0 * x * .pi)) * 2.0 / 3.0
        r += (20.0 * sin(x * .pi) + 40.0 * sin(x / 3.0 * .pi)) * 2.0 / 3.0
        r += (150.0 * sin(x / 12.0 * .pi) + 300.0 * sin(x / 30.0 * .pi)) * 2.0 / 3.0
        return r
    }

    public static func wgs84ToGCJ02(lon: Double, lat: Double) -> (lon: Double, lat: Double) {
        if isOutsideChina(lon: lon, lat: lat) { return (lon, lat) }
        var dLat = offsetLatitude(lon - 105.0, lat - 35.0)
        var dLon = offsetLongitude(lon - 105.0, lat - 35.0)
        let radLat = lat / 180.0 * .pi
        var magic = sin(radLat)
        magic = 1 - ee * magic * magic
        let sqrtMagic = sqrt(magic)
        dLat = (dLat * 180.0) / ((a * (1 - ee)) / (magic * sqrtMagic) * .pi)
        dLon = (dLon * 180.0) / (a / sqrtMagic * cos(radLat) * .pi)
        return (lon + dLon, lat + dLat)
    }

    /// Inverts a forward transform that moves points by a small, smooth offset:
    /// fixed-point iteration until the forward image matches to 1e-12°.
    static func invert(_ forward: (Double, Double) -> (lon: Double, lat: Double), lon: Double, lat: Double,
                       start: (lon: Double, lat: Double)) -> (lon: Double, lat: Double) {
        var guess = start
        for _ in 0..<30 {
            let image = forward(guess.lon, guess.lat)
            let dLon = image.lon - lon, dLat = image.lat - lat
            guess = (guess.lon - dLon, guess.lat - dLat)
            if abs(dLon) < 1e-12 && abs(dLat) < 1e-12 { break }
        }
        return guess
    }

    /// Exact inverse of `wgs84ToGCJ02`.
    public static func gcj02ToWGS84(lon: Double, lat: Double) -> (lon: Double, lat: Double) {
        if isOutsideChina(lon: lon, lat: lat) { return (lon, lat) }
        return invert({ wgs84ToGCJ02(lon: $0, lat: $1) }, lon: lon, lat: lat, start: (lon, lat))
    }

    public static func gcj02ToBD09(lon: Double, lat: Double) -> (lon: Double, lat: Double) {
        let z = sqrt(lon * lon + lat * lat) + 0.00002 * sin(lat * bdFactor)
        let theta = atan2(lat, lon) + 0.000003 * cos(lon * bdFactor)
        return (z * cos(theta) + 0.0065, z * sin(theta) + 0.006)
    }

    /// Exact inverse of `gcj02ToBD09` by iteration (the usual one-step formula is off by up to ~1e-6°).
    public static func bd09ToGCJ02(lon: Double, lat: Double) -> (lon: Double, lat: Double) {
        // The classic closed-form approximation as a start, then refine.
        let x = lon - 0.0065, y = lat - 0.006
        let z = sqrt(x * x + y * y) - 0.00002 * sin(y * bdFactor)
        let theta = atan2(y, x) - 0.000003 * cos(x * bdFactor)
        return invert({ gcj02ToBD09(lon: $0, lat: $1) }, lon: lon, lat: lat, start: (z * cos(theta), z * sin(theta)))
    }

    public static func wgs84ToBD09(lon: Double, lat: Double) -> (lon: Double, lat: Double) {
        let g = wgs84ToGCJ02(lon: lon, lat: lat)
        return gcj02ToBD09(lon: g.lon, lat: g.lat)
    }

    public static func bd09ToWGS84(lon: Double, lat: Double) -> (lon: Double, lat: Double) {
        let g = bd09ToGCJ02(lon: lon, lat: lat)
        return gcj02ToWGS84(lon: g.lon, lat: g.lat)
    }
}
