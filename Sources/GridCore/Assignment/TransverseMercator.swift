import Foundation
import GeoKit

/// The grids' metric CRS computed in Swift, to within a micrometre of PROJ:
/// Krüger's series to sixth order in n (Karney 2011, "Transverse Mercator
/// with an accuracy of a few nanometers"), the algorithm PROJ's `tmerc`
/// and `utm` use by default. A call to PROJ costs about a microsecond and
/// dominates the work for a point outside every grid; this costs a fifth
/// of that. It never replaces PROJ's answer: a point is decided from it
/// only when every comparison and the rounding of every reported distance
/// come out the same anywhere within `bound` of it (see
/// `FastAssigner.rankOutsideApproximately`); otherwise PROJ's coordinates decide.
///
/// Made only for a PROJ pipeline it recognises (degrees to radians, then
/// `tmerc` or `utm` on GRS80 or WGS84), and only after agreeing with PROJ
/// to `bound / 20` at every node of a lattice over the area it serves.
struct TransverseMercator: Sendable {
    /// How far (metres) PROJ's coordinates of a point may be from these, at most.
    static let bound = 1e-6

    let centralMeridian: Double // radians
    let scale: Double
    let falseEasting: Double, falseNorthing: Double
    let eccentricity: Double
    /// k0 · A, the rectifying radius scaled.
    let radius: Double
    let alpha: [Double]

    /// From a PROJ definition such as `proj=pipeline step proj=unitconvert
    /// xy_in=deg xy_out=rad step proj=tmerc lat_0=0 lon_0=111 k=1 x_0=500000
    /// y_0=0 ellps=GRS80`; nil for anything else.
    init?(definition: String) {
        let steps = definition.components(separatedBy: " step ")
        guard steps.count == 3, steps[0] == "proj=pipeline",
              Set(steps[1].split(separator: " ")) == ["proj=unitconvert", "xy_in=deg", "xy_out=rad"] else { return nil }
        var parameters: [String: String] = [:]
        for word in steps[2].split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            parameters[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        let flattening: Double
        switch parameters.removeValue(forKey: "ellps") {
        case "GRS80": flattening = 1 / 298.257222101
        case "WGS84": flattening = 1 / 298.257223563
        default: return nil
        }
        var lon0 = 0.0, k0 = 1.0, x0 = 0.0, y0 = 0.0
        switch parameters.removeValue(forKey: "proj") {
        case "tmerc":
            guard parameters.removeValue(forKey: "lat_0").flatMap(Double.init) == 0,
                  let lon = parameters.removeValue(forKey: "lon_0").flatMap(Double.init),
                  let k = parameters.removeValue(forKey: "k").flatMap(Double.init),
                  let x = parameters.removeValue(forKey: "x_0").flatMap(Double.init),
                  let y = parameters.removeValue(forKey: "y_0").flatMap(Double.init) else { return nil }
            (lon0, k0, x0, y0) = (lon, k, x, y)
        case "utm":
            guard let zone = parameters.removeValue(forKey: "zone").flatMap(Int.init), (1...60).contains(zone) else { return nil }
            let south = parameters.removeValue(forKey: "south") != nil
            (lon0, k0, x0, y0) = (Double(zone) * 6 - 183, 0.9996, 500_000, south ? 10_000_000 : 0)
        default:
            return nil
        }
        guard parameters.isEmpty else { return nil }
        centralMeridian = lon0 * .pi / 180
        scale = k0
        falseEasting = x0
        falseNorthing = y0
        let a = 6_378_137.0, f = flattening
        eccentricity = (f * (2 - f)).squareRoot()
        let n = f / (2 - f), n2 = n * n, n3 = n2 * n, n4 = n3 * n, n5 = n4 * n, n6 = n5 * n
        radius = k0 * a / (1 + n) * (1 + n2 / 4 + n4 / 64 + n6 / 256)
        alpha = [
            n / 2 - 2 * n2 / 3 + 5 * n3 / 16 + 41 * n4 / 180 - 127 * n5 / 288 + 7891 * n6 / 37800,
            13 * n2 / 48 - 3 * n3 / 5 + 557 * n4 / 1440 + 281 * n5 / 630 - 1_983_433 * n6 / 1_935_360,
            61 * n3 / 240 - 103 * n4 / 140 + 15061 * n5 / 26880 + 167_603 * n6 / 181_440,
            49561 * n4 / 161_280 - 179 * n5 / 168 + 6_601_661 * n6 / 7_257_600,
            34729 * n5 / 80640 - 3_418_889 * n6 / 1_995_840,
            212_378_941 * n6 / 319_334_400,
        ]
    }

    /// The projection of the transformer's target, if recognised and within
    /// `bound / 20` of PROJ at every node of a 41 × 41 lattice over `area`.
    init?(matching transformer: CoordinateTransformer, over area: Envelope) {
        guard let definition = transformer.definition, let projection = TransverseMercator(definition: definition) else { return nil }
        let steps = 40
        for i in 0...steps {
            for j in 0...steps {
                let lon = area.minX + area.width * Double(i) / Double(steps)
                let lat = area.minY + area.height * Double(j) / Double(steps)
                guard let exact = try? transformer.transform(x: lon, y: lat) else { return nil }
                let mine = projection.project(lon, lat)
                guard abs(mine.x - exact.x) <= Self.bound / 20, abs(mine.y - exact.y) <= Self.bound / 20 else { return nil }
            }
        }
        self = projection
    }

    @inline(__always)
    func project(_ lon: Double, _ lat: Double) -> (x: Double, y: Double) {
        let phi = lat * .pi / 180
        let lambda = lon * .pi / 180 - centralMeridian
        let tau = tan(phi)
        let sigma = sinh(eccentricity * atanh(eccentricity * tau / (1 + tau * tau).squareRoot()))
        let tauPrime = tau * (1 + sigma * sigma).squareRoot() - sigma * (1 + tau * tau).squareRoot()
        let cosLambda = cos(lambda)
        let xiPrime = atan2(tauPrime, cosLambda)
        let etaPrime = asinh(sin(lambda) / (tauPrime * tauPrime + cosLambda * cosLambda).squareRoot())
        // Σ α_j sin(2j ζ) for ζ = ξ' + iη', by Clenshaw's recurrence in complex numbers.
        let sinA = sin(2 * xiPrime), cosA = cos(2 * xiPrime)
        let expB = exp(2 * etaPrime)
        let sinhB = (expB - 1 / expB) / 2, coshB = (expB + 1 / expB) / 2
        let sinRe = sinA * coshB, sinIm = cosA * sinhB
        let twoCosRe = 2 * cosA * coshB, twoCosIm = -2 * sinA * sinhB
        var b1Re = 0.0, b1Im = 0.0, b2Re = 0.0, b2Im = 0.0
        for k in stride(from: alpha.count - 1, through: 0, by: -1) {
            let re = alpha[k] + twoCosRe * b1Re - twoCosIm * b1Im - b2Re
            let im = twoCosRe * b1Im + twoCosIm * b1Re - b2Im
            (b2Re, b2Im) = (b1Re, b1Im)
            (b1Re, b1Im) = (re, im)
        }
        let xi = xiPrime + (b1Re * sinRe - b1Im * sinIm)
        let eta = etaPrime + (b1Re * sinIm + b1Im * sinRe)
        return (falseEasting + radius * eta, falseNorthing + radius * xi)
    }
}
