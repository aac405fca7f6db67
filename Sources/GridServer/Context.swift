import GridApplication
import Foundation
import GridCore
import GridStore
import Hummingbird
import Localization

/// The request context: Hummingbird's core storage plus the authenticated caller.
public struct WanggeContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: Caller?

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// The caller, or 401 when the request carried no valid token.
    func requireCaller() throws -> Caller {
        guard let caller else { throw APIError.unauthorized() }
        return caller
    }

    /// A path parameter as the client meant it: percent-decoded (an id from an
    /// imported file may hold spaces, Chinese or markup), 400 naming it when the encoding is broken.
    func pathParameter(_ name: String) throws -> String {
        let raw = try parameters.require(name)
        guard let decoded = raw.removingPercentEncoding else {
            throw APIError.badParameter(name, tr("\"\(TextLimits.shown(raw))\" is not valid percent-encoding"))
        }
        return decoded
    }
}

/// Errors as RFC 9457 problem details (application/problem+json), in the
/// language the request's `Accept-Language` asks for (else the server's).
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let detail: Localized
    /// The query parameter or field at fault, for 400s.
    public let parameter: String?

    public init(_ status: HTTPResponse.Status, _ detail: Localized, parameter: String? = nil) {
        self.status = status
        self.detail = detail
        self.parameter = parameter
    }

    public static func badParameter(_ name: String, _ detail: Localized) -> APIError {
        APIError(.badRequest, tr("\(name): \(detail)"), parameter: name)
    }

    public static func unauthorized() -> APIError {
        APIError(.unauthorized, tr("a bearer token is required: Authorization: Bearer <token> (an admin creates one: POST /v1/tokens)"))
    }

    public static func notFound(_ what: Localized) -> APIError { APIError(.notFound, what) }

    /// The problem's `title`: the status's reason phrase in the reader's language.
    var title: Localized { Self.title(for: status) }

    static func title(for status: HTTPResponse.Status) -> Localized {
        switch status.code {
        case 400: tr("Bad Request")
        case 401: tr("Unauthorized")
        case 403: tr("Forbidden")
        case 404: tr("Not Found")
        case 405: tr("Method Not Allowed")
        case 406: tr("Not Acceptable")
        case 408: tr("Request Timeout")
        case 409: tr("Conflict")
        case 412: tr("Precondition Failed")
        case 413: tr("Content Too Large")
        case 415: tr("Unsupported Media Type")
        case 422: tr("Unprocessable Content")
        case 428: tr("Precondition Required")
        case 429: tr("Too Many Requests")
        case 431: tr("Request Header Fields Too Large")
        case 500: tr("Internal Server Error")
        case 503: tr("Service Unavailable")
        default: .verbatim(status.reasonPhrase)
        }
    }

    struct ProblemBody: Encodable {
        let type: String, title: String, status: Int, detail: String, instance: String
        let invalidParams: [Param]?
        struct Param: Encodable { let name: String, reason: String }
        enum CodingKeys: String, CodingKey {
            case type, title, status, detail, instance, invalidParams = "invalid-params"
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let language = ReaderLanguage.of(request)
        let detail = detail.rendered(in: language)
        let body = ProblemBody(type: "about:blank", title: title.rendered(in: language), status: status.code, detail: detail,
                               instance: request.uri.path, invalidParams: parameter.map { [.init(name: $0, reason: detail)] })
        var headers: HTTPFields = [.contentType: "application/problem+json", .contentLanguage: language.rawValue, .vary: "Accept-Language"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"wangge\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try JSON.encode(body))))
    }
}

/// The language a request is answered in: the one its `Accept-Language` prefers
/// among those Wangge speaks, else the server's own (`language:` in the configuration).
enum ReaderLanguage {
    static func of(_ request: Request) -> Language {
        let fallback = ProcessLanguage.current
        guard let header = request.headers[.acceptLanguage] else { return fallback }
        return Language.preferred(acceptLanguage: header, fallback: fallback) ?? fallback
    }
}

enum JSON {
    /// Sorted keys, snake_case, no escaped slashes: stable output for clients and tests.
    static func encode<T: Encodable>(_ value: T) throws -> Data { try WanggeJSON.encode(value) }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, contentType: String = "application/json") throws -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(bytes: try encode(value))))
    }

    /// A response from JSON already written as bytes (GET /v1/locate's answer).
    static func response(bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A response from a JSONSerialization object (the OGC documents built as dictionaries).
    static func object(_ object: Any, contentType: String = "application/json") throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return raw(String(decoding: data, as: UTF8.self), contentType: contentType)
    }

    /// Whether the request's If-None-Match names `etag` (one of a list, or `*`): the answer is then a 304.
    static func notModified(_ request: Request, etag: String) -> Bool {
        guard let header = request.headers[.ifNoneMatch] else { return false }
        return header.split(separator: ",").contains { ["*", etag].contains($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// A response from JSON text already built (GeoJSON pieces from SpatiaLite).
    static func raw(_ text: String, contentType: String = "application/json") -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Authenticates `Authorization: Bearer …`; the landing page (or the web map's),
/// the web map's files under /web/, /healthz and /openapi.json are open,
/// everything else needs a valid token. A token the
/// cache knows is answered on the request's own thread; any other is read
/// from the database on `BlockingWorkExecutor`.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = WanggeContext
    let tokens: TokenCache
    static let openPaths: Set<String> = ["/", "/healthz", "/openapi.json"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer", let caller = try await caller(for: String(parts[1])) else {
                throw APIError(.unauthorized, tr("the bearer token is not valid, has expired or has been revoked"))
            }
            context.caller = caller
        } else if !Self.openPaths.contains(request.uri.path), !request.uri.path.hasPrefix("/web/") {
            throw APIError.unauthorized()
        }
        return try await next(request, context)
    }

    func caller(for token: String) async throws -> Caller? {
        switch tokens.cached(token) {
        case .valid(let caller): caller
        case .refused: nil
        case .unknown: try await withTaskExecutorPreference(BlockingWorkExecutor.shared) { try tokens.caller(for: token) }
        }
    }
}
