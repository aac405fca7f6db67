import Foundation
import GridApplication
import GridCore
import GridMap
import GridStore
import Hummingbird
import Localization

/// The web map: its page at `/` (for browsers), its own files under `/web/`,
/// Leaflet from where Debian's libjs-leaflet puts it under `/web/leaflet/`,
/// and the answers made for the page (`/v1/me`, `/v1/map/choropleth`, `/v1/map/incidents`).
/// Nothing the page loads comes from outside this server.
struct WebMapRoutes {
    let service: GridService

    func add(to router: Router<WanggeContext>) {
        router.get("web/config.json") { request, _ in try configuration(request) }
        let v1 = router.group("v1")
        v1.get("me") { _, context in
            let caller = try context.requireCaller()
            return try JSON.response(Me(name: caller.name, role: caller.role.rawValue, grids: caller.role == .gridWorker ? caller.grids.sorted() : nil,
                                        expiresAt: caller.expiresAt.map(GridStore.timestamp)))
        }
        v1.get("map/choropleth") { request, context in
            _ = try context.requireCaller()
            let text = Query(request: request).string("metric") ?? MapMetricKind.households.rawValue
            guard let metric = MapMetricKind(rawValue: text) else {
                throw APIError.badParameter("metric", tr("\"\(text)\" is not one of \(MapMetricKind.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            return try JSON.response(try service.choropleth(metric))
        }
        v1.get("map/incidents") { request, context in
            let caller = try context.requireCaller()
            // Asked every few seconds by every open page: unchanged answers cost a 304.
            let body = try JSON.encode(try service.mapIncidents(for: caller))
            let tag = "\"\(Self.fingerprint(body))\""
            if JSON.notModified(request, etag: tag) { return Response(status: .notModified, headers: [.eTag: tag]) }
            return Response(status: .ok, headers: [.contentType: "application/json", .eTag: tag, .cacheControl: "no-cache"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        // Files answer only paths no route took (a route's 404 falls through to them).
        router.add(middleware: FileMiddleware<WanggeContext, LocalFileSystem>(
            service.config.webMap.leafletDirectory, urlBasePath: "/web/leaflet", cacheControl: WebMapPage.revalidate))
        if let directory = WebMapPage.directory {
            router.add(middleware: FileMiddleware<WanggeContext, LocalFileSystem>(directory, urlBasePath: "/web", cacheControl: WebMapPage.revalidate))
        }
    }

    /// FNV-1a over the answer: an ETag that changes whenever a byte does.
    static func fingerprint(_ bytes: Data) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return String(hash, radix: 16)
    }

    struct Me: Encodable {
        let name: String
        let role: String
        let grids: [String]?
        let expiresAt: String?
    }

    /// What the page needs before it logs in: its texts in the reader's
    /// language, how often to refresh, and the intranet base layer if any.
    struct PageConfiguration: Encodable {
        struct BaseTiles: Encodable {
            let url: String
            let attribution: String?
        }
        let language: String
        let texts: [String: String]
        let refreshSeconds: Double
        let baseTiles: BaseTiles?
    }

    func configuration(_ request: Request) throws -> Response {
        let language = ReaderLanguage.of(request)
        let settings = service.config.webMap
        let body = PageConfiguration(
            language: language.rawValue,
            texts: Catalogue.translations(of: WebMapPage.templates, in: language),
            refreshSeconds: settings.refresh.inSeconds,
            baseTiles: settings.baseTiles.map { .init(url: $0, attribution: settings.baseTilesAttribution) })
        var response = try JSON.response(body)
        response.headers[.vary] = "Accept-Language"
        response.headers[.cacheControl] = "no-cache"
        return response
    }
}

/// The page itself, shipped in the server's resources (Sources/GridServer/Web).
enum WebMapPage {
    static let directory: String? = Bundle.module.url(forResource: "Web", withExtension: nil)?.path

    /// Browsers revalidate (ETag) so a new server's files show at once.
    static let revalidate = CacheControl([(MediaType(type: .any), [.noCache])])

    static func file(_ name: String) -> String? {
        guard let directory else { return nil }
        return try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    }

    /// The catalogue templates the script uses, read from it once.
    static let templates: Set<String> = Set(file("app.js").map(ScriptTexts.templates(in:)) ?? [])

    /// `f=html`, or a client that accepts HTML and asks for no format: a browser.
    static func wanted(by request: Request) throws -> Bool {
        switch request.uri.queryParameters["f"].map(String.init) {
        case "html": return true
        case "json": return false
        case nil, "": return request.headers[.accept]?.contains("text/html") ?? false
        case let other?: throw APIError.badParameter("f", tr("\"\(other)\" is not html or json"))
        }
    }

    /// Read once: the page is asked for by every browser that opens the map.
    static let page = file("index.html")

    static func response(_ settings: WebMapSettings) throws -> Response {
        guard let page else {
            throw APIError(.internalServerError, tr("the web map's page is missing from the build"))
        }
        return Response(status: .ok, headers: [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-cache",
            // The page loads nothing from elsewhere, and says so to the browser.
            .contentSecurityPolicy: "default-src 'self'; img-src 'self' data: \(settings.baseTiles.flatMap(WebMapSettings.origin(ofTiles:)) ?? ""); style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            .xContentTypeOptions: "nosniff",
            .init("Referrer-Policy")!: "no-referrer",
        ], body: .init(byteBuffer: ByteBuffer(string: page)))
    }
}
