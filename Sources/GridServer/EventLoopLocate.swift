import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GridApplication
import GridCore
import HTTPTypes
import HummingbirdCore
import NIOCore

/// Answers `GET /v1/locate?lon=…&lat=…` on the connection's event loop when everything
/// the answer needs is in memory: a bearer token the cache knows to be valid, `lon` and
/// `lat` only, as plain in-range numbers (WGS84), and the active generation loaded. Any
/// other request, and any of these that would be an error, goes on to the router as it
/// came, so its answer (and every error's) stays the router's. Most of a locate's cost
/// was the hop from the event loop to a Swift concurrency thread and back.
///
/// It sits after Hummingbird's connection-state handler (idle timeout, graceful
/// shutdown) and answers only while no earlier request of the connection is still with
/// the router, so pipelined answers keep their order.
final class EventLoopLocateHandler: ChannelDuplexHandler, RemovableChannelHandler {
    // HTTP parts as Hummingbird's pipeline carries them (NIOHTTPTypes' request and response parts).
    typealias InboundIn = HTTPConnectionStateHandler.InboundIn
    typealias InboundOut = HTTPConnectionStateHandler.InboundIn
    typealias OutboundIn = HTTPConnectionStateHandler.OutboundIn
    typealias OutboundOut = HTTPConnectionStateHandler.OutboundIn

    let service: GridService
    let serverName: String
    /// Requests passed to the router whose answers have not been written whole.
    private var withRouter = 0
    /// The answer of the request being read, written once its end arrives.
    private var pending: (body: [UInt8], close: Bool)?
    private var date = HTTPDate()

    init(service: GridService, serverName: String) {
        self.service = service
        self.serverName = serverName
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if withRouter == 0, let body = Self.answer(head, service: service) {
                pending = (body, head.headerFields[.connection] == "close")
                return
            }
            withRouter += 1
            context.fireChannelRead(data)
        case .body:
            if pending == nil { context.fireChannelRead(data) }
        case .end:
            guard let (body, close) = pending else { return context.fireChannelRead(data) }
            pending = nil
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            fields[.contentLength] = String(body.count)
            fields[.date] = date.now()
            fields[.server] = serverName
            context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
            context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: nil)
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if close {
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                written.whenComplete { _ in bound.value.close(promise: nil) }
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { withRouter -= 1 }
        context.write(data, promise: promise)
    }

    /// The answer's JSON, or nil when the router must answer: anything but a plain,
    /// valid locate in the active generation with a token known to be valid.
    static func answer(_ head: HTTPRequest, service: GridService) -> [UInt8]? {
        guard head.method == .get, var target = head.path, service.isActiveLoaded,
              let (lon, lat) = target.withUTF8(coordinates),
              let authorization = head.headerFields[.authorization] else { return nil }
        // Split as AuthMiddleware splits it, so that both read the same token.
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].utf8.elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 }),
              case .valid = service.tokens.cached(String(parts[1])) else { return nil }
        return try? service.locate(x: lon, y: lat, crs: .wgs84).json()
    }

    private static let locatePath = Array("/v1/locate?".utf8)

    /// `lon` and `lat` of `/v1/locate?lon=…&lat=…` (either order, nothing else), when both
    /// are numbers in range as the router reads them; nil for anything else (percent
    /// escapes and `+` included: the router decodes those). Read byte by byte: this runs
    /// for every locate.
    static func coordinates(_ target: UnsafeBufferPointer<UInt8>) -> (lon: Double, lat: Double)? {
        guard target.count > locatePath.count, target.starts(with: locatePath) else { return nil }
        var lon: Double?, lat: Double?
        var start = locatePath.count
        while start <= target.count {
            var end = start
            while end < target.count, target[end] != UInt8(ascii: "&") { end += 1 }
            let pair = UnsafeBufferPointer(rebasing: target[start..<end])
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")),
                  !pair.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }),
                  let value = Double(String(decoding: pair[(equals + 1)...], as: UTF8.self)), value.isFinite else { return nil }
            let name = pair[..<equals]
            if name.elementsEqual("lon".utf8), lon == nil, (-180...180).contains(value) {
                lon = value
            } else if name.elementsEqual("lat".utf8), lat == nil, (-90...90).contains(value) {
                lat = value
            } else {
                return nil
            }
            start = end + 1
        }
        guard let lon, let lat else { return nil }
        return (lon, lat)
    }
}

/// The `Date` header's text (RFC 9110, IMF-fixdate, always in English), made once a second.
struct HTTPDate {
    private var second = -1
    private var text = ""
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func now() -> String {
        var clock = time(nil)
        guard Int(clock) != second else { return text }
        var t = tm()
        gmtime_r(&clock, &t)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        second = Int(clock)
        text = "\(Self.days[Int(t.tm_wday)]), \(two(t.tm_mday)) \(Self.months[Int(t.tm_mon)]) \(t.tm_year + 1900) "
            + "\(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)) GMT"
        return text
    }
}
