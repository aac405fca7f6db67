import Foundation
import GeoKit
import GridCore
import GridStore
import Localization

/// `wangge locate --input`: reads id,lon,lat rows, assigns them in bulk on
/// every core, and writes id,grid,method,distance_m,runner_up in input order.
///
/// The file is mapped, cut into chunks at line ends, and each core parses,
/// assigns and formats whole chunks (raw bytes, no per-row strings: a general
/// CSV reader and `String(format:)` cost far more than the assignment). The
/// chunks' output goes out in input order (`OrderedOutput`), and a bad row
/// prints its line and leaves no output behind.
public struct BatchLocate {
    let crs: CoordinateSystem
    /// The configuration's names for columns (`point_columns:`), besides the built-in English and Chinese ones.
    let columnNames: PointColumnNames
    /// Opens the grids and builds their assigner (on a worker, while the others read rows).
    let makeAssigner: @Sendable () throws -> GridAssigner

    /// - Parameter makeAssigner: opens the store and builds the assigner of
    ///   the grids, while the rows are read (opening a store takes a
    ///   hundredth of a second).
    public init(crs: CoordinateSystem, columnNames: PointColumnNames = PointColumnNames(),
                makeAssigner: @escaping @Sendable () throws -> GridAssigner) {
        self.crs = crs
        self.columnNames = columnNames
        self.makeAssigner = makeAssigner
    }

    static let header = "id,grid,method,distance_m,runner_up\n"
    /// Input bytes per chunk: small enough to share the work out evenly, large
    /// enough that handing out chunks costs nothing.
    public static let chunkBytes = 1 << 20

    struct Rows {
        var ids: [String] = []
        var points: [LonLat] = []
    }

    /// Locates every row of the file at `path` and writes the CSV answer to
    /// `descriptor` (standard output by default). Into a regular file, the
    /// lines go out as the chunks are done, and the file is cut back to where
    /// it was should a row fail; anywhere else, once every row is good.
    public func run(path: String, to descriptor: Int32 = STDOUT_FILENO, chunkBytes: Int = chunkBytes) throws {
        let output = OrderedOutput(descriptor: descriptor)
        do {
            // A workbook or GeoJSON file is read whole into the CSV the rest reads; its rows keep their places.
            if let converted = try PointFile.locatableCSV(path: path, columnNames: columnNames) {
                try converted.bytes.withUnsafeBufferPointer { bytes in
                    try Self.locate(bytes, path: path, crs: crs, assigner: PendingAssigner(makeAssigner), chunkBytes: chunkBytes,
                                    rowPlace: { converted.places[$0 - 2] }, into: output)
                }
            } else {
                let file = try MappedFile(path: path)
                try Self.locate(file.bytes, path: path, crs: crs, columnNames: columnNames, assigner: PendingAssigner(makeAssigner),
                                chunkBytes: chunkBytes, into: output)
            }
            try output.finish()
        } catch {
            output.cutBack()
            throw error
        }
    }

    /// `locate` with an assigner at hand, every chunk kept.
    static func locate(_ bytes: UnsafeBufferPointer<UInt8>, path: String, crs: CoordinateSystem,
                       assigner: GridAssigner, chunkBytes: Int = chunkBytes) throws -> [OutputBuffer] {
        try locate(bytes, path: path, crs: crs, assigner: PendingAssigner { assigner }, chunkBytes: chunkBytes)
    }

    /// The CSV output of every row, in chunks in input order, the header first.
    static func locate(_ bytes: UnsafeBufferPointer<UInt8>, path: String, crs: CoordinateSystem,
                       assigner pending: PendingAssigner, chunkBytes: Int = chunkBytes) throws -> [OutputBuffer] {
        let output = OrderedOutput(descriptor: nil)
        try locate(bytes, path: path, crs: crs, assigner: pending, chunkBytes: chunkBytes, into: output)
        return output.kept()
    }

    /// Every row's line, chunk by chunk, into `output` (the header first).
    ///
    /// Building the assigner's index takes a few hundredths of a second on
    /// one core: the first worker builds it while the others parse chunks
    /// and keep their rows. Once it is ready, the kept rows are assigned
    /// first (they are the first chunks, which the output waits for), then
    /// each further chunk is parsed, assigned and formatted.
    /// `rowPlace` names the place of the row on a line (2 and on) when the bytes are a
    /// workbook's or GeoJSON file's rows written as CSV ("sheet 户籍, row 5").
    static func locate(_ bytes: UnsafeBufferPointer<UInt8>, path: String, crs: CoordinateSystem, columnNames: PointColumnNames = PointColumnNames(),
                       assigner pending: PendingAssigner, chunkBytes: Int = chunkBytes, rowPlace: ((Int) -> String)? = nil,
                       into outputs: OrderedOutput) throws {
        let (columns, bodyStart) = try readHeader(bytes, path: path, columnNames: columnNames)
        let boundaries = chunkBoundaries(bytes, from: bodyStart, chunkBytes: chunkBytes)
        let chunkCount = boundaries.count - 1
        let head = OutputBuffer(capacity: header.utf8.count)
        head.append(header)
        outputs.begin(chunks: chunkCount, header: head)
        let parsed = ParsedChunks()
        let failure = FirstRowError()
        let counter = SliceCounter(total: chunkCount, sliceLength: 1)
        let input = SendableBytes(bytes)
        /// The next chunk to work on, unless a row before it failed (a row in an earlier chunk may fail first).
        @Sendable func nextChunk() -> Int? {
            while let slice = counter.next() {
                if !failure.precedes(chunk: slice.lowerBound) { return slice.lowerBound }
            }
            return nil
        }
        DispatchQueue.concurrentPerform(iterations: min(GridAssigner.coreCount, max(chunkCount, 1))) { worker in
            do {
                if worker == 0 { _ = try pending.value() }
                var parser = try RowParser(columns: columns, crs: crs)
                while !pending.isSettled, let chunk = nextChunk() {
                    do {
                        var kept = ParsedRows()
                        try kept.parse(input.base, boundaries[chunk]..<boundaries[chunk + 1], parser: &parser)
                        parsed.add(chunk, kept)
                    } catch let error as RowError {
                        failure.record(chunk: chunk, offset: error.offset, message: error.text)
                    }
                }
                let assigner = try pending.value()
                var located = ChunkLocator(assigner)
                while let (chunk, kept) = parsed.next() {
                    if failure.precedes(chunk: chunk) { continue }
                    outputs.set(chunk, try located.locate(kept, in: input.base, reusing: outputs.spare()))
                }
                var rows = ParsedRows()
                while let chunk = nextChunk() {
                    do {
                        try rows.parse(input.base, boundaries[chunk]..<boundaries[chunk + 1], parser: &parser)
                        outputs.set(chunk, try located.locate(rows, in: input.base, reusing: outputs.spare()))
                    } catch let error as RowError {
                        failure.record(chunk: chunk, offset: error.offset, message: error.text)
                    }
                }
            } catch {
                failure.record(chunk: -1, offset: 0, message: (error as? LocalizedConvertible)?.text ?? .verbatim("\(error)"))
            }
        }
        // Grids that cannot be loaded: that error, not a row's.
        _ = try pending.value()
        if let (offset, message) = failure.first {
            if offset < 0 { throw WanggeError.invalid(tr("\(path): \(message)")) }
            let line = lineNumber(bytes, at: offset)
            if let rowPlace, line >= 2 { throw WanggeError.invalid(tr("\(path): \(rowPlace(line)): \(message)")) }
            throw WanggeError.invalid(tr("\(path): line \(line): \(message)"))
        }
    }

    /// All rows as ids and WGS84 points (tests, and callers that want them in memory).
    static func read(path: String, crs: CoordinateSystem) throws -> Rows {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        let (columns, bodyStart) = try readHeader(bytes, path: path)
        var parser = try RowParser(columns: columns, crs: crs)
        var rows = Rows()
        do {
            try parser.forEachRow(bytes, bodyStart..<bytes.count) { idStart, idEnd, lon, lat in
                rows.ids.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[idStart..<idEnd]), as: UTF8.self))
                rows.points.append(LonLat(lon, lat))
            }
        } catch let error as RowError {
            throw WanggeError.invalid(tr("\(path): line \(lineNumber(bytes, at: error.offset)): \(error.text)"))
        }
        return rows
    }

    /// The columns of id, lon and lat from the first non-empty line, named as an
    /// import names them (English or Chinese names such as 编号, 经度, 纬度, or the
    /// configuration's; a BOM, spaces and case ignored; a GBK header read as GBK),
    /// and where the rows start.
    static func readHeader(_ bytes: UnsafeBufferPointer<UInt8>, path: String,
                           columnNames: PointColumnNames = PointColumnNames()) throws -> (RowParser.Columns, Int) {
        var start = 0
        while start < bytes.count {
            let end = lineEnd(bytes, from: start)
            var contentEnd = end
            if contentEnd > start && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            guard contentEnd > start else {
                start = end + 1
                continue
            }
            let names = RowParser.splitFields(bytes, start, contentEnd).map {
                TextDecoding.string(utf8OrGB18030: UnsafeBufferPointer(rebasing: bytes[$0.0..<$0.1]))
                    .replacingOccurrences(of: "\u{FEFF}", with: "").trimmingCharacters(in: .whitespaces)
            }
            let columns = try PointColumns(names, path: path, place: tr("line \(lineNumber(bytes, at: start))").rendered, configured: columnNames)
            return (RowParser.Columns(id: columns.id, x: columns.x, y: columns.y), end + 1)
        }
        throw WanggeError.invalid(tr("\(path): empty file, expected the header id,lon,lat"))
    }

    /// The offset of the line feed ending the line at `start`, or the end of the bytes.
    @inline(__always)
    static func lineEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard start < bytes.count, let base = bytes.baseAddress else { return bytes.count }
        guard let found = memchr(base + start, 0x0A, bytes.count - start) else { return bytes.count }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base)
    }

    /// Chunk starts from `start` on, each at a line start, and the end: about
    /// `chunkBytes` apart, closer towards the end (an eighth of what is left
    /// a worker, down to `chunkBytes / 16`), so that the workers finish
    /// together: with whole chunks to the end, one worker located the last
    /// one alone, up to 13 ms of 1M points 69% outside the county.
    static func chunkBoundaries(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, chunkBytes: Int,
                                workers: Int = GridAssigner.coreCount) -> [Int] {
        var boundaries = [min(start, bytes.count)]
        var next = start
        let smallest = max(1, chunkBytes / 16)
        while next < bytes.count {
            let size = min(chunkBytes, max(smallest, (bytes.count - next) / (8 * max(workers, 1))))
            next = min(bytes.count, lineEnd(bytes, from: min(next + size, bytes.count - 1)) + 1)
            boundaries.append(next)
        }
        return boundaries
    }

    /// The 1-based line of a byte offset (only on the way to an error message).
    static func lineNumber(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Int {
        var line = 1
        var start = 0
        while start < offset {
            let end = lineEnd(bytes, from: start)
            guard end < offset else { break }
            line += 1
            start = end + 1
        }
        return line
    }

    /// Writes every byte of the buffer, or throws.
    static func write(_ chunk: OutputBuffer, to descriptor: Int32) throws {
        var written = 0
        while written < chunk.count {
            let n = Glibc.write(descriptor, chunk.base + written, chunk.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                throw WanggeError.invalid(tr("cannot write the output: \(String(cString: strerror(errno)))"))
            }
            written += n
        }
    }
}

/// A row the reader refuses, at the byte offset of its line.
struct RowError: Error {
    let offset: Int
    let text: Localized
}

/// Parses the rows of one range of the file: fields split on commas (a field
/// in double quotes loses its quotes; ids with embedded quotes or commas are
/// not expected in this format), numbers read from the bytes, and the point
/// converted to WGS84. One per thread (it owns a PROJ context).
struct RowParser {
    struct Columns: Sendable {
        let id: Int, x: Int, y: Int
    }

    let columns: Columns
    let converter: WGS84Converter
    private let needed: Int

    init(columns: Columns, crs: CoordinateSystem) throws {
        self.columns = columns
        // Copied from one built per CRS: each build searches PROJ's database (a tenth of a second for a Gauss-Krüger zone).
        converter = try WGS84ConverterCache.shared.converter(from: crs)
        needed = max(columns.id, columns.x, columns.y) + 1
    }

    /// Calls `body` with the id's byte range and the WGS84 point of every
    /// non-empty line in `range` (which starts at a line start).
    mutating func forEachRow(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                             _ body: (_ idStart: Int, _ idEnd: Int, _ lon: Double, _ lat: Double) throws -> Void) throws {
        var lineStart = range.lowerBound
        while lineStart < range.upperBound {
            let end = min(BatchLocate.lineEnd(bytes, from: lineStart), range.upperBound)
            var contentEnd = end
            if contentEnd > lineStart && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            if contentEnd > lineStart {
                // The three fields' ranges, kept in locals while the line is split (no array written per field).
                var fieldCount = 0
                var id = (0, 0), x = (0, 0), y = (0, 0)
                Self.forEachField(bytes, lineStart, contentEnd) { fieldStart, fieldEnd in
                    if fieldCount == columns.id { id = (fieldStart, fieldEnd) }
                    if fieldCount == columns.x { x = (fieldStart, fieldEnd) }
                    if fieldCount == columns.y { y = (fieldStart, fieldEnd) }
                    fieldCount += 1
                }
                guard fieldCount >= needed else {
                    throw RowError(offset: lineStart, text: tr("\(fieldCount) fields, expected id,lon,lat"))
                }
                // An id that needs its quotes (a comma or a quote in it) goes out with them, as it came.
                if id.0 > lineStart && bytes[id.0 - 1] == 0x22 && id.1 < contentEnd
                    && UnsafeBufferPointer(rebasing: bytes[id.0..<id.1]).contains(where: { $0 == 0x2C || $0 == 0x22 }) {
                    id = (id.0 - 1, id.1 + 1)
                }
                func text(_ field: (Int, Int)) -> String {
                    String(decoding: UnsafeBufferPointer(rebasing: bytes[field.0..<field.1]), as: UTF8.self)
                }
                guard let lon = Self.parseDouble(bytes, x.0, x.1) else {
                    throw RowError(offset: lineStart, text: tr("field lon: \"\(text(x))\" is not a number"))
                }
                guard let lat = Self.parseDouble(bytes, y.0, y.1) else {
                    throw RowError(offset: lineStart, text: tr("field lat: \"\(text(y))\" is not a number"))
                }
                let p: (lon: Double, lat: Double)
                do {
                    p = try converter.toWGS84(x: lon, y: lat)
                } catch let error as GeoError {
                    throw RowError(offset: lineStart, text: error.text)
                }
                try body(id.0, id.1, p.lon, p.lat)
            }
            lineStart = end + 1
        }
    }

    /// Field ranges of one line (the header's).
    static func splitFields(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> [(Int, Int)] {
        var fields: [(Int, Int)] = []
        forEachField(bytes, start, end) { fields.append(($0, $1)) }
        return fields
    }

    /// Calls `body` with the byte range of each comma-separated field of a
    /// line; a field in double quotes loses its quotes (a doubled quote inside
    /// it, CSV's escape, stays doubled in the range).
    @inline(__always)
    static func forEachField(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ body: (Int, Int) -> Void) {
        var i = start
        while i <= end {
            if i < end && bytes[i] == 0x22 {
                var j = i + 1
                while j < end && (bytes[j] != 0x22 || (j + 1 < end && bytes[j + 1] == 0x22)) { j += bytes[j] == 0x22 ? 2 : 1 }
                body(i + 1, j)
                i = j + 1
                while i < end && bytes[i] != 0x2C { i += 1 }
                i += 1
            } else {
                var j = i
                while j < end && bytes[j] != 0x2C { j += 1 }
                body(i, j)
                i = j + 1
            }
        }
    }

    /// Exact powers of ten (each a double without rounding).
    private static let powersOfTen: [Double] = (0...22).map { k in (0..<k).reduce(1.0) { x, _ in x * 10 } }

    /// The number in a field (spaces around it allowed), exactly as `strtod`
    /// reads it, or nil when the field is not a finite number. Plain decimals
    /// of up to 15 digits are read directly: one exact integer divided by an
    /// exact power of ten, which rounds once, as `strtod` does (Clinger's
    /// fast path); anything else (exponents, long mantissas) goes to `strtod`.
    @inline(__always)
    static func parseDouble(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        var s = start, e = end
        while s < e && bytes[s] == 0x20 { s += 1 }
        while e > s && bytes[e - 1] == 0x20 { e -= 1 }
        guard s < e, e - s < 64 else { return nil }
        var i = s
        var negative = false
        if bytes[i] == 0x2D {
            negative = true
            i += 1
        } else if bytes[i] == 0x2B {
            i += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0, fractionDigits = 0
        var seenPoint = false
        while i < e {
            let c = bytes[i]
            if c &- 0x30 < 10 {
                mantissa = mantissa &* 10 &+ UInt64(c &- 0x30)
                digits += 1
                if seenPoint { fractionDigits += 1 }
            } else if c == 0x2E && !seenPoint {
                seenPoint = true
            } else {
                break
            }
            i += 1
        }
        if i == e && digits > 0 && digits <= 15 && fractionDigits <= 22 {
            let value = Double(mantissa) / powersOfTen[fractionDigits]
            return negative ? -value : value
        }
        return strtodField(bytes, s, e)
    }

    private static func strtodField(_ bytes: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Double? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: e - s + 1) { buffer -> Double? in
            for k in s..<e { buffer[k - s] = CChar(bitPattern: bytes[k]) }
            buffer[e - s] = 0
            var endPointer: UnsafeMutablePointer<CChar>?
            let value = strtod(buffer.baseAddress!, &endPointer)
            guard let endPointer, endPointer == buffer.baseAddress! + (e - s), value.isFinite else { return nil }
            return value
        }
    }
}

/// The bytes each answer is written with: grid codes and method names,
/// prepared once in one block read through a pointer (no array retained
/// per line).
final class OutputTable: Sendable {
    /// The codes, then the method names, back to back.
    private let text: FrozenBuffer<UInt8>
    /// Where each code (then each method name) starts in `text`, and the end.
    private let starts: FrozenBuffer<Int>
    private let codeCount: Int
    let longestCode: Int

    init(codes: [String]) {
        let words = codes.map { Array($0.utf8) } + AssignmentMethod.allCases.map { Array($0.rawValue.utf8) }
        var bytes: [UInt8] = [], start = [0]
        for word in words {
            bytes += word
            start.append(bytes.count)
        }
        text = FrozenBuffer(bytes)
        starts = FrozenBuffer(start)
        codeCount = codes.count
        longestCode = codes.map(\.utf8.count).max() ?? 0
    }

    /// The bytes a line may take beyond its id (`append(row:…)` writes
    /// into room reserved for it: the odd distance that `String(format:)`
    /// writes reserves its own).
    var lineRoomBeyondId: Int { 2 * longestCode + 48 }

    /// One output line: id,grid,method,distance_m,runner_up, into the
    /// `idLength + lineRoomBeyondId` bytes the caller has reserved.
    @inline(__always)
    func append(row a: PointAssignment, id: UnsafePointer<UInt8>, idLength: Int, to out: OutputBuffer) {
        out.append(id, idLength)
        out.append(0x2C)
        if a.grid >= 0 { appendWord(Int(a.grid)) }
        out.append(0x2C)
        let method = a.method
        appendWord(codeCount + (method == .inside ? 0 : method == .boundary ? 1 : method == .nearest ? 2 : 3))
        out.append(0x2C)
        if let d = a.distanceMeters { Self.appendCentimetres(d, to: out) }
        out.append(0x2C)
        if a.runnerUp >= 0 { appendWord(Int(a.runnerUp)) }
        out.append(0x0A)

        @inline(__always)
        func appendWord(_ word: Int) {
            out.append(text.base + starts.base[word], starts.base[word + 1] - starts.base[word])
        }
    }

    /// `d` as `String(format: "%.2f", d)` writes it: rounded to the nearest
    /// hundredth of its exact binary value, ties to even. The product
    /// d × 100 and its rounding error (a fused multiply-add) hold the exact
    /// value, so the rounding is decided exactly; odd values (negative,
    /// huge, not finite) go to `String(format:)` itself.
    @inline(__always)
    static func appendCentimetres(_ d: Double, to out: OutputBuffer) {
        guard d.sign == .plus, d < 1e13 else {
            out.append(String(format: "%.2f", d))
            return
        }
        let product = d * 100
        let error = (-product).addingProduct(d, 100) // d × 100 = product + error exactly
        let whole = product.rounded(.down)
        // Exact: product < 2^52, so the fraction and the half are multiples of its last place.
        let aboveHalf = (product - whole) - 0.5
        var hundredths = UInt64(whole)
        if aboveHalf > 0 || (aboveHalf == 0 && (error > 0 || (error == 0 && hundredths & 1 == 1))) { hundredths += 1 }
        out.appendDecimal(hundredths / 100)
        out.append(0x2E)
        let cents = hundredths % 100
        out.append(UInt8(0x30 + cents / 10))
        out.append(UInt8(0x30 + cents % 10))
    }
}

/// A byte buffer written through a raw pointer (no bounds or uniqueness
/// checks per byte: it is made with room for what its caller writes; only
/// `append(_: String)` grows it).
final class OutputBuffer: @unchecked Sendable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// This buffer, emptied, with room for `room` bytes.
    func emptied(room: Int) -> OutputBuffer {
        count = 0
        spareRoom = 0
        if capacity < room {
            base.deallocate()
            capacity = room
            base = .allocate(capacity: room)
        }
        return self
    }

    /// Room added by `append(_: String)` beyond what its texts took so far.
    private var spareRoom = 0

    private func grow(to grown: Int) {
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        new.update(from: base, count: count)
        base.deallocate()
        base = new
        capacity = grown
    }

    @inline(__always)
    func append(_ byte: UInt8) {
        assert(count < capacity, "OutputBuffer: a byte beyond the room reserved")
        base[count] = byte
        count += 1
    }

    @inline(__always)
    func append(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        assert(count + length <= capacity, "OutputBuffer: bytes beyond the room reserved")
        (base + count).update(from: bytes, count: length)
        count += length
    }

    /// Text on top of the room already reserved: the buffer has room for
    /// all of it beyond that, so that the room reserved for later lines
    /// stays theirs (grown by half at least, to copy seldom).
    func append(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            if spareRoom < utf8.count {
                let added = max(utf8.count - spareRoom, capacity / 2)
                grow(to: capacity + added)
                spareRoom += added
            }
            spareRoom -= utf8.count
            append(utf8.baseAddress!, utf8.count)
        }
    }

    /// A non-negative integer in decimal (the caller has reserved 20 bytes).
    @inline(__always)
    func appendDecimal(_ value: UInt64) {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var v = value
        for k in stride(from: digits - 1, through: 0, by: -1) {
            base[count + k] = UInt8(0x30 + v % 10)
            v /= 10
        }
        count += digits
    }

    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// Each chunk's output, set by whichever thread made it, and written in
/// input order as soon as the chunks before it are: by the thread that sets
/// the chunk the output was waiting for, while the others go on working.
/// Only into a regular file, at its end, which can be cut back to where it
/// started should a row fail (a pipe or a terminal cannot take back what it
/// has been given): elsewhere every chunk is kept until `finish`.
final class OrderedOutput: @unchecked Sendable {
    private let lock = NSLock()
    /// Where the output goes (nil: kept for the caller).
    private let descriptor: Int32?
    /// Whether chunks are written as they come.
    private let streams: Bool
    /// The file's length before the first byte, to cut back to.
    private var start: off_t = 0
    /// The header, then each chunk: set and not yet written.
    private var waiting: [OutputBuffer?] = []
    /// The first of `waiting` not yet written.
    private var next = 0
    /// Whether a thread is writing (it writes whatever else comes ready).
    private var writing = false
    private var writeError: (any Error)?
    /// Written buffers, for the next chunks (their pages are already mapped).
    private var spares: [OutputBuffer] = []
    private static let maximumSpares = 2 * GridAssigner.coreCount

    init(descriptor: Int32?) {
        self.descriptor = descriptor
        var status = stat()
        guard let descriptor, fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            streams = false
            return
        }
        // At the file's end only: cutting back must not take what was there before. Not
        // when standard error goes to the same file (`> out.csv 2>&1`): a warning would
        // land between the chunks.
        let position = fcntl(descriptor, F_GETFL) & O_APPEND != 0 ? status.st_size : lseek(descriptor, 0, SEEK_CUR)
        var errors = stat()
        let sharedWithErrors = descriptor != STDERR_FILENO && fstat(STDERR_FILENO, &errors) == 0
            && errors.st_dev == status.st_dev && errors.st_ino == status.st_ino
        streams = position == status.st_size && !sharedWithErrors
        start = status.st_size
    }

    /// The header and the number of chunks to come.
    func begin(chunks: Int, header: OutputBuffer) {
        lock.withLock { waiting = Array(repeating: nil, count: chunks + 1) }
        put(0, header)
    }

    func set(_ chunk: Int, _ output: OutputBuffer) { put(chunk + 1, output) }

    /// A written buffer to fill again, if there is one.
    func spare() -> OutputBuffer? { lock.withLock { spares.popLast() } }

    private func put(_ slot: Int, _ output: OutputBuffer) {
        lock.lock()
        waiting[slot] = output
        guard let descriptor, streams, !writing, slot == next else {
            lock.unlock()
            return
        }
        writing = true
        while writeError == nil, next < waiting.count, let ready = waiting[next] {
            lock.unlock()
            let written = Result { try BatchLocate.write(ready, to: descriptor) }
            lock.lock()
            if case .failure(let error) = written { writeError = error }
            waiting[next] = nil
            next += 1
            if spares.count < Self.maximumSpares { spares.append(ready) }
        }
        writing = false
        lock.unlock()
    }

    /// Writes what is left, in order (every chunk is set by now), or throws the first write's failure.
    func finish() throws {
        let (error, left) = lock.withLock { (writeError, waiting[next...].map { $0! }) }
        if let error { throw error }
        guard let descriptor else { return }
        for output in left { try BatchLocate.write(output, to: descriptor) }
    }

    /// Every chunk, the header first (when nothing was written).
    func kept() -> [OutputBuffer] { lock.withLock { waiting.map { $0! } } }

    /// Takes back what was written: the file's length as it was.
    func cutBack() {
        // Only what went out as chunks finished: `next` counts it.
        guard let descriptor, lock.withLock({ next > 0 }) else { return }
        // A file that cannot be cut back keeps the lines of the good rows; the error says which row failed.
        if ftruncate(descriptor, start) == 0 { _ = lseek(descriptor, start, SEEK_SET) }
    }
}

/// The failing row that comes first in the file, among those found.
final class FirstRowError: @unchecked Sendable {
    private let lock = NSLock()
    private var chunk = Int.max
    private var stored: (offset: Int, message: Localized)?

    /// `chunk` -1: a failure before any row (offset -1 is reported without a line).
    func record(chunk: Int, offset: Int, message: Localized) {
        lock.lock()
        if chunk < self.chunk {
            self.chunk = chunk
            stored = (chunk < 0 ? -1 : offset, message)
        }
        lock.unlock()
    }

    /// Whether a failure was found before `chunk`.
    func precedes(chunk: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return self.chunk < chunk
    }

    var first: (Int, Localized)? {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}

/// The assigner, made once by the first worker that asks for it; the
/// others wait for it only once they have nothing else to do.
final class PendingAssigner: @unchecked Sendable {
    private let condition = NSCondition()
    private var make: (() throws -> GridAssigner)?
    private var result: Result<GridAssigner, any Error>?

    init(_ make: @escaping @Sendable () throws -> GridAssigner) { self.make = make }

    /// Whether it is made (or failed).
    var isSettled: Bool { condition.withLock { result != nil } }

    /// The assigner: made here if no worker is making it, else waited for.
    func value() throws -> GridAssigner {
        condition.lock()
        if let result {
            condition.unlock()
            return try result.get()
        }
        if let make {
            self.make = nil
            condition.unlock()
            let made = Result { try make() }
            condition.withLock {
                result = made
                condition.broadcast()
            }
            return try made.get()
        }
        while result == nil { condition.wait() }
        let settled = result!
        condition.unlock()
        return try settled.get()
    }
}

/// One chunk's rows: each id's byte range in the file and the WGS84 point.
struct ParsedRows: Sendable {
    /// Start and end of each id, interleaved.
    private(set) var idBounds: [Int] = []
    /// lon, lat interleaved.
    private(set) var points: [Double] = []
    var count: Int { points.count / 2 }

    /// Replaces the rows with those of `range` (keeping the arrays' room).
    mutating func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, parser: inout RowParser) throws {
        var idBounds = self.idBounds, points = self.points
        self.idBounds = []
        self.points = []
        idBounds.removeAll(keepingCapacity: true)
        points.removeAll(keepingCapacity: true)
        // About 32 bytes a row in the sample files.
        idBounds.reserveCapacity(range.count / 16)
        points.reserveCapacity(range.count / 16)
        try parser.forEachRow(bytes, range) { idStart, idEnd, lon, lat in
            idBounds.append(idStart)
            idBounds.append(idEnd)
            points.append(lon)
            points.append(lat)
        }
        self.idBounds = idBounds
        self.points = points
    }
}

/// One worker's means to locate parsed rows: its fast assigner, the
/// output table and room for a chunk's assignments.
struct ChunkLocator: ~Copyable {
    private var fast: FastAssigner
    private let table: OutputTable
    private var results: [PointAssignment] = []

    init(_ assigner: GridAssigner) {
        fast = assigner.makeFastAssigner()
        table = OutputTable(codes: assigner.codes)
    }

    /// The output lines of the rows.
    /// - Parameter spare: a buffer to write them into instead of a new one.
    mutating func locate(_ rows: ParsedRows, in bytes: UnsafeBufferPointer<UInt8>, reusing spare: OutputBuffer? = nil) throws -> OutputBuffer {
        let count = rows.count
        if results.count < count { results = Array(repeating: PointAssignment(grid: -1, method: .none), count: count) }
        var idBytes = 0
        for row in 0..<count { idBytes += rows.idBounds[2 * row + 1] - rows.idBounds[2 * row] }
        // Room for every line at once: no check and no growth per line.
        let room = count > 0 ? idBytes + count * table.lineRoomBeyondId : 0
        let out = spare?.emptied(room: room) ?? OutputBuffer(capacity: room)
        guard count > 0 else { return out }
        // A local reference: read through `self`, the table was retained and released on every line.
        let table = table
        try results.withUnsafeMutableBufferPointer { results in
            try rows.points.withUnsafeBufferPointer { try fast.assign($0.baseAddress!, count: count, into: results.baseAddress!) }
            rows.idBounds.withUnsafeBufferPointer { idBounds in
                for row in 0..<count {
                    table.append(row: results[row], id: bytes.baseAddress! + idBounds[2 * row], idLength: idBounds[2 * row + 1] - idBounds[2 * row], to: out)
                }
            }
        }
        return out
    }
}

/// The chunks parsed while the assigner was being built, waiting for it.
final class ParsedChunks: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: [(chunk: Int, rows: ParsedRows)] = []

    func add(_ chunk: Int, _ rows: ParsedRows) { lock.withLock { waiting.append((chunk, rows)) } }

    /// The first kept chunk in the file (the output waits for it).
    func next() -> (chunk: Int, rows: ParsedRows)? {
        lock.withLock {
            guard let first = waiting.indices.min(by: { waiting[$0].chunk < waiting[$1].chunk }) else { return nil }
            return waiting.remove(at: first)
        }
    }
}

struct SendableBytes: @unchecked Sendable {
    let base: UnsafeBufferPointer<UInt8>
    init(_ base: UnsafeBufferPointer<UInt8>) { self.base = base }
}

/// A file mapped read-only into memory for as long as this object lives.
final class MappedFile {
    let bytes: UnsafeBufferPointer<UInt8>
    private let mapping: UnsafeMutableRawPointer?
    /// The copy of a file that cannot be mapped.
    private var owned: UnsafeMutableRawPointer?

    init(path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw WanggeError.invalid(tr("\(path): cannot read file (\(String(cString: strerror(errno))))")) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw WanggeError.invalid(tr("\(path): cannot read file (\(String(cString: strerror(errno))))")) }
        let size = Int(status.st_size)
        guard status.st_mode & S_IFMT == S_IFREG else {
            // A pipe or a device (`--input /dev/stdin`): read it whole.
            guard let data = FileManager.default.contents(atPath: path) else { throw WanggeError.invalid(tr("\(path): cannot read file")) }
            let copy = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
            data.copyBytes(to: copy.assumingMemoryBound(to: UInt8.self), count: data.count)
            mapping = nil
            owned = copy
            bytes = UnsafeBufferPointer(start: copy.assumingMemoryBound(to: UInt8.self), count: data.count)
            return
        }
        guard size > 0 else {
            mapping = nil
            bytes = UnsafeBufferPointer(start: nil, count: 0)
            return
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw WanggeError.invalid(tr("\(path): cannot map file (\(String(cString: strerror(errno))))"))
        }
        // Read front to back: let the kernel read ahead.
        _ = madvise(mapped, size, MADV_SEQUENTIAL)
        mapping = mapped
        bytes = UnsafeBufferPointer(start: mapped.assumingMemoryBound(to: UInt8.self), count: size)
    }

    deinit {
        if let mapping { munmap(mapping, bytes.count) }
        owned?.deallocate()
    }
}

