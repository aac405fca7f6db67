import Foundation

/// How the server guards itself against slow, idle or too many clients
/// (the `server:` section of Config/wangge.yaml), and the address its links use.
public struct ServerSettings: Sendable {
    /// The scheme, host and port clients reach the server at, for OGC links
    /// (nil: http://HOST:PORT of the bind address). Never the request's Host header.
    public var publicURL: String?
    /// A connection that has sent no whole request head for this long (idle
    /// keep-alive, or a head trickled in byte by byte) is closed.
    public var idleTimeout: Duration = .seconds(10)
    /// A request must arrive whole within this long of its first byte.
    public var requestTimeout: Duration = .seconds(30)
    /// Connections served at once (nil: 1,000, fewer when the open-file limit
    /// is lower); more wait in the listen backlog until one closes.
    public var maxConnections: Int?
    /// Plain locates (`GET /v1/locate?lon=…&lat=…`, a token known valid) answered on the
    /// connection's event loop, without the router; off, the router answers them as any other
    /// request (tests and benchmarks compare the two).
    public var locatesOnEventLoop = true
    /// Where exports are written before they are sent, each in a directory of its own removed once sent
    /// (nil: the system's temporary directory).
    public var exportDirectory: String?
    /// With a read database (`--read-db`): beyond this far behind its primary, /healthz fails
    /// (503), so that a load balancer sends readers elsewhere.
    public var maxStandbyLag: Duration = .seconds(30)
    /// With PostgreSQL: the longest one statement of a request may run, and the longest the server waits
    /// for the database's answer (this and 5 s) before it gives the connection up and answers 503.
    /// Command-line imports have no such limit.
    public var databaseTimeout: Duration = .seconds(30)

    public init() {}

    /// File descriptors kept free of connections, for the database, its WAL and logs.
    public static let reservedFileDescriptors = 64

    /// `maxConnections`, or the default, never above what the open-file limit allows.
    public var connectionLimit: Int {
        var limit = rlimit()
        // No limit (RLIM_INFINITY, all bits set) clamps to Int.max.
        let openFiles = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(clamping: limit.rlim_cur) : Int.max
        return max(1, min(maxConnections ?? 1_000, openFiles - Self.reservedFileDescriptors))
    }

    /// The base of OGC links: `publicURL` without a trailing slash, else http://HOST:PORT.
    public func baseURL(host: String, port: Int) -> String {
        if let publicURL, !publicURL.isEmpty {
            return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        }
        return "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}

/// The web map `wangge serve` shows at `/` (the `web_map:` section).
public struct WebMapSettings: Sendable {
    /// Where Leaflet's files are: Debian's libjs-leaflet puts them here. Nothing is fetched from the internet.
    public var leafletDirectory = "/usr/share/javascript/leaflet"
    /// A tile server on the centre's network drawn under the grids ({z}/{x}/{y} URL); nil: none, the grids alone.
    public var baseTiles: String?
    public var baseTilesAttribution: String?
    /// How often an open page asks for changed incidents.
    public var refresh: Duration = .seconds(3)

    public init() {}

    /// The scheme, host and port of an http(s) tile URL template ({z}/{x}/{y} taken out), or nil when it is none.
    public static func origin(ofTiles template: String) -> String? {
        guard let url = URL(string: template.replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "")),
              let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty else { return nil }
        return "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")"
    }
}
