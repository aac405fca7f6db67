import Foundation
import GeoFiles
import GridApplication
import GridCore
import GridStore
import Hummingbird
import Localization

/// GET /v1/export/{dataset}: a dataset as a file (`wangge export` over HTTP), masked for the caller as
/// every other read is; a Shapefile always zipped. The file is written on a blocking-work thread into
/// a directory of its own, sent in chunks, and removed once sent (or when the client goes away).
struct ExportRoutes {
    let service: GridService
    /// Where each export's directory is made (nil: the system's temporary directory).
    let directory: String?
    static let chunkBytes = 256 * 1024

    func add(to router: Router<WanggeContext>) {
        router.group("v1").get("export/{dataset}") { request, context in try export(request, context) }
    }

    func export(_ request: Request, _ context: WanggeContext) throws -> Response {
        let caller = try context.requireCaller()
        let q = Query(request: request)
        let asked = try exportRequest(request, q, dataset: try context.pathParameter("dataset"))
        let directory = try ExportDirectory(in: self.directory)
        let name = asked.fileName(day: GridStore.timePolicy.day(Date()))
        let result: ExportResult
        do {
            result = try service.export(asked, to: directory.file(name.file), for: caller, action: "GET /v1/export/\(asked.dataset.name)")
        } catch let error as WanggeError where error.field == "dataset" {
            // A draft's generation comes as `generation`.
            throw error.blaming("generation")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: result.path)[.size] as? Int) ?? nil
        let path = result.path
        let body = ResponseBody(contentLength: size) { writer in
            // The directory goes with this closure: after the last chunk, or when the client went away.
            let owner = directory
            guard let file = FileHandle(forReadingAtPath: path) else { throw APIError(.internalServerError, tr("the export vanished")) }
            defer { try? file.close() }
            // Disk reads, like every blocking call, off the cooperative threads.
            func nextChunk() async throws -> Data? {
                try await withTaskExecutorPreference(BlockingWorkExecutor.shared) { try file.read(upToCount: Self.chunkBytes) }
            }
            while let chunk = try await nextChunk(), !chunk.isEmpty {
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
            _ = owner
        }
        let headers: HTTPFields = [
            .contentType: asked.format.mediaType,
            .contentDisposition: Self.contentDisposition(name.file, ascii: name.ascii),
        ]
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The request from the path and `f`, `crs`, `town`, `village`, `grid`, `generation` (for draft) or `Accept`;
    /// each fault named by its parameter.
    func exportRequest(_ request: Request, _ q: Query, dataset name: String) throws -> ExportRequest {
        do {
            let dataset = try ExportDataset(name: name, generation: q.string("generation"))
            let format = try q.string("f").map { try ExportRequest.format($0, output: nil) } ?? Self.negotiated(request.headers[.accept])
            return try ExportRequest(dataset: dataset, scope: AreaScope(town: q.string("town"), village: q.string("village"), grid: q.string("grid")),
                                     format: format, crs: q.string("crs"))
        } catch let error as ExportError {
            switch error {
            case .unknownDataset: throw APIError.notFound(error.text)
            case .draftNeedsGeneration, .unexpectedGeneration: throw APIError.badParameter("generation", error.reason)
            case .unknownFormat: throw APIError.badParameter("f", error.reason)
            default: throw APIError.badParameter(error.field, error.reason)
            }
        }
    }

    /// The format the `Accept` header asks for, best quality first; GeoJSON for none or `*/*`; 406 when none is one.
    static func negotiated(_ accept: String?) throws -> VectorFormat {
        guard let accept, !accept.isEmpty else { return .geojson }
        let ranges = accept.split(separator: ",").map { item -> (type: String, quality: Double) in
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return (parts.first ?? "", quality)
        }
        for range in ranges.filter({ $0.quality > 0 }).sorted(by: { $0.quality > $1.quality }) {
            if range.type == "*/*" || range.type == "application/*" || range.type == "application/json" { return .geojson }
            if let format = VectorFormat.allCases.first(where: { $0.mediaType.hasPrefix(range.type) && !range.type.isEmpty }) { return format }
            if range.type == "text/*" { return .csv }
            if range.type == "application/x-shapefile" { return .shp }
        }
        let types = VectorFormat.allCases.map { $0.mediaType.split(separator: ";")[0] }.joined(separator: ", ")
        throw APIError(.notAcceptable, tr("Accept: none of \(accept) can be given; ask for \(types), or use ?f="))
    }

    /// `attachment` with the name as ASCII (RFC 6266) and, when it is not, in UTF-8 too (RFC 5987's `filename*`).
    static func contentDisposition(_ name: String, ascii: String) -> String {
        guard name != ascii else { return "attachment; filename=\"\(ascii)\"" }
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}
