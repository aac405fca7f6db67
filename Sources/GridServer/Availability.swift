import GridApplication
import Foundation
import GridCore
import GridStore
import Hummingbird
import Localization
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// The HTTP/1 server with the settings' limits: Hummingbird's idle timeout,
/// and a deadline for each request to arrive (`RequestDeadlineHandler`); and
/// locates answered on the event loop (`EventLoopLocateHandler`).
func guardedHTTP1(_ settings: ServerSettings, service: GridService, serverName: String) -> HTTPServerBuilder {
    HTTPServerBuilder { responder in
        let configuration = HTTP1Channel.Configuration(additionalChannelHandlers: [RequestArrivalSignal()],
                                                       idleTimeout: TimeAmount(settings.idleTimeout))
        return GuardedHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: configuration),
                                   requestTimeout: TimeAmount(settings.requestTimeout),
                                   locate: settings.locatesOnEventLoop ? (service, serverName) : nil)
    }
}

struct GuardedHTTP1Channel: ServerChildChannel {
    let base: HTTP1Channel
    let requestTimeout: TimeAmount
    let locate: (service: GridService, serverName: String)?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RequestDeadlineHandler(timeout: requestTimeout))
        }.flatMap { base.setup(channel: channel, logger: logger) }.flatMapThrowing { value in
            // After Hummingbird's connection state (idle timeout, graceful shutdown), which must see every request.
            if let locate {
                let state = try channel.pipeline.syncOperations.handler(type: HTTPConnectionStateHandler.self)
                try channel.pipeline.syncOperations.addHandler(EventLoopLocateHandler(service: locate.service, serverName: locate.serverName),
                                                               position: .after(state))
            }
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Closes a connection whose request has not arrived whole within the
/// timeout, counted from its first byte: a body sent a byte at a time would
/// otherwise hold the connection for ever (the idle timeout counts only whole
/// request heads). Works on raw bytes, before HTTP decoding. The wait ends
/// when the request has arrived (`RequestArrivalSignal`) or the first byte is
/// written back; the server's own work on the request is not the client's
/// doing, so a slow answer on a loaded machine is never cut off.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if deadline == nil {
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                context.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        cancel()
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { cancel() }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is RequestArrivalSignal.Arrived else {
            return context.triggerUserOutboundEvent(event, promise: promise)
        }
        cancel()
        promise?.succeed()
    }

    private func cancel() {
        deadline?.cancel()
        deadline = nil
    }
}

/// Sits after HTTP decoding and tells `RequestDeadlineHandler` (nearer the
/// socket) when a request has arrived whole, by an outbound user event.
final class RequestArrivalSignal: ChannelInboundHandler, RemovableChannelHandler {
    // HTTP request parts as Hummingbird's pipeline carries them (NIOHTTPTypes' `HTTPRequestPart`).
    typealias InboundIn = HTTPConnectionStateHandler.InboundIn
    typealias InboundOut = HTTPConnectionStateHandler.InboundIn
    struct Arrived {}

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { context.triggerUserOutboundEvent(Arrived(), promise: nil) }
        context.fireChannelRead(data)
    }
}

/// Threads for request handlers and periodic work, which block: SQLite reads
/// and writes, and waits on another process's write lock (a long import).
/// A blocked handler holds one of these threads, not one of Swift's
/// cooperative threads (as many as cores: two here), so a slow request never
/// stalls the others. Threads start as work arrives, up to `maximum`.
final class BlockingWorkExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = BlockingWorkExecutor(maximum: 64)

    let maximum: Int
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var threads = 0
    private var idle = 0

    init(maximum: Int) { self.maximum = maximum }

    /// Whether the calling thread is one of these (a thread's name is not a
    /// sure sign: on Linux a new thread inherits its creator's).
    static var isCurrentThread: Bool { Thread.current.threadDictionary[threadMark] != nil }
    private static let threadMark = "wangge-blocking"

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        let startThread = jobs.count > idle && threads < maximum
        if startThread { threads += 1 }
        condition.signal()
        condition.unlock()
        if startThread {
            let thread = Thread { [self] in work() }
            thread.name = "wangge-blocking"
            thread.start()
        }
    }

    private func work() {
        Thread.current.threadDictionary[Self.threadMark] = true
        condition.lock()
        while true {
            while jobs.isEmpty {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
            condition.lock()
        }
    }
}

/// Opens when the server listens. Periodic work that writes waits for it, so
/// a server that cannot bind its port (already in use) changes nothing.
public final class ServerStarted: Sendable {
    private let state = Mutex<(open: Bool, waiting: [AsyncStream<Void>.Continuation])>((false, []))

    public init() {}

    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.finish() }
    }

    /// Returns once the server listens, or when the task is cancelled.
    func wait() async {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        let open = state.withLock { state in
            if !state.open { state.waiting.append(continuation) }
            return state.open
        }
        if open { return }
        for await _ in stream {}
    }
}

/// Runs the handlers on `BlockingWorkExecutor`, except GET /v1/locate when
/// its answer is in memory: the hop to another thread and back would cost
/// more than the answer (a table lookup, mostly).
struct BlockingWorkMiddleware: RouterMiddleware {
    typealias Context = WanggeContext
    let service: GridService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.answersFromMemory(request, service: service) { return try await next(request, context) }
        return try await withTaskExecutorPreference(BlockingWorkExecutor.shared) { try await next(request, context) }
    }

    /// GET /v1/locate in the active generation once it is loaded, in WGS84:
    /// another generation may have to be read, and another CRS's converter
    /// opens PROJ's database when none is free.
    static func answersFromMemory(_ request: Request, service: GridService) -> Bool {
        guard request.method == .get, request.uri.path == "/v1/locate", service.isActiveLoaded else { return false }
        return !names(request.uri.query ?? "", anyOf: ["generation", "crs"])
    }

    /// Whether a query string has a parameter of one of these names (as
    /// `URI.queryParameters` reads them: names are not percent-decoded).
    static func names(_ query: String, anyOf names: [String]) -> Bool {
        query.utf8.split(separator: UInt8(ascii: "&")).contains { pair in
            let name = pair.prefix { $0 != UInt8(ascii: "=") }
            return names.contains { name.elementsEqual($0.utf8) }
        }
    }
}

/// The outermost middleware. Answers every error as an RFC 9457 problem: unknown paths 404,
/// known paths with another method 405 with `Allow`, a database locked by
/// another writer 503 with `Retry-After`, anything else 500. Every 5xx is
/// logged with its cause; the client sees no internals.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = WanggeContext
    static let retryAfterSeconds = 5

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Texts in JSON answers (plan problems, reports) follow the request's
        // Accept-Language; without one they are in the server's language.
        guard request.headers[.acceptLanguage] != nil else { return try await answer(request, context: context, next: next) }
        return try await Language.$ofTask.withValue(ReaderLanguage.of(request)) {
            try await answer(request, context: context, next: next)
        }
    }

    private func answer(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            if response.status.code >= 500 {
                context.logger.error("\(request.method) \(request.uri.path) answered \(response.status.code)")
            }
            return response
        } catch {
            let problem = Self.problem(for: error, request: request)
            if problem.status.code >= 500 {
                let cause = (error as? WanggeError).map { $0.message + ($0.cause.map { " (\($0))" } ?? "") } ?? "\(error)"
                context.logger.error("\(request.method) \(request.uri.path) answered \(problem.status.code): \(cause)")
            }
            var response = try problem.response(from: request, context: context)
            if problem.status == .serviceUnavailable { response.headers[.retryAfter] = String(Self.retryAfterSeconds) }
            if problem.status == .methodNotAllowed, let allowed = Routes.shared.methods(for: request.uri.path) {
                response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
            }
            return response
        }
    }

    /// The one mapping of the application's error kinds to HTTP. An invalid
    /// query parameter is the request's fault (400); an invalid body field,
    /// a refusal by the rules, 422.
    static func problem(for error: WanggeError, request: Request) -> APIError {
        let inQuery = error.field.map { request.uri.queryParameters[Substring($0)] != nil } ?? false
        let status: HTTPResponse.Status = switch error.kind {
        case .notFound: inQuery ? .badRequest : .notFound
        case .invalid: inQuery ? .badRequest : .unprocessableContent
        case .conflict: .conflict
        case .refused: .unprocessableContent
        case .unauthorized: .forbidden
        case .unavailable: .serviceUnavailable
        }
        // Where the database lives (its host and port) is not the client's business: the log has it.
        if status == .serviceUnavailable, error.cause != nil {
            return APIError(status, tr("the database is unavailable or busy; try again in a few seconds"))
        }
        // A parameter's fault names the parameter first, as the server's own parsing does.
        let detail = status == .badRequest ? error.field.map { error.message.hasPrefix($0 + ":") ? error.text : tr("\($0): \(error.text)") } : nil
        return APIError(status, detail ?? error.text, parameter: error.field)
    }

    static func problem(for error: any Error, request: Request) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HTTPError where error.status == .notFound:
            if let allowed = Routes.shared.methods(for: request.uri.path), !allowed.contains(request.method) {
                return APIError(.methodNotAllowed, tr("\(request.uri.path) answers \(allowed.map(\.rawValue).joined(separator: ", ")), not \(request.method)"))
            }
            return APIError(.notFound, tr("no such path: \(request.uri.path) (the API is described at /openapi.json)"))
        case let error as HTTPError:
            return APIError(error.status, error.body.map(Localized.verbatim) ?? APIError.title(for: error.status))
        case let error:
            guard let known = WanggeError.from(error) else {
                return APIError(.internalServerError, tr("the server failed to answer; the cause is logged"))
            }
            return problem(for: known, request: request)
        }
    }
}

/// The paths and methods the API serves, from its OpenAPI document (the
/// tests check that it lists every route), to tell 405 from 404.
struct Routes: Sendable {
    static let shared = Routes()
    /// Path segments ("{…}" matches any one segment) and their methods.
    let routes: [(segments: [Substring], methods: [HTTPRequest.Method])]

    init() {
        var routes: [(segments: [Substring], methods: [HTTPRequest.Method])] = []
        if let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url),
           let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let paths = document["paths"] as? [String: [String: Any]] {
            for (path, item) in paths {
                let methods = item.keys.sorted().compactMap { HTTPRequest.Method($0.uppercased()) }
                    .filter { [.get, .post, .put, .patch, .delete].contains($0) }
                routes.append((path.split(separator: "/"), methods))
            }
        }
        self.routes = routes
    }

    /// The methods a path answers, or nil for a path that is not the API's.
    func methods(for path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        let matching = routes.filter { route in
            route.segments.count == segments.count
                && zip(route.segments, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
        guard !matching.isEmpty else { return nil }
        return Array(Set(matching.flatMap(\.methods))).sorted { $0.rawValue < $1.rawValue }
    }
}
