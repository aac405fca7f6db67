import Foundation
import GRDB
import GeoKit
import GridCore
import Localization

/// Rebuilds a table's SpatiaLite spatial index (an SQLite R*Tree) in one pass:
/// packed bottom-up by sort-tile-recursive and written straight into the
/// R*Tree's node, rowid and parent tables. Inserting point by point costs about
/// 10 µs a point (2 s for a county's 216,000 households); packing costs a
/// small part of that and gives full nodes that overlap less.
///
/// The layout is SQLite's own (ext/rtree/rtree.c): a node is a 2-byte tree
/// depth (read from the root only), a 2-byte cell count, then cells of a
/// 64-bit id and the box as four 32-bit floats (xmin, xmax, ymin, ymax), all
/// big-endian, padded to the node size of the root. Boxes are rounded outwards
/// to 32 bits exactly as the R*Tree rounds an insert, so the cells are the
/// ones a row-by-row build stores; SQLite's `rtreecheck` verifies the result.
enum PackedSpatialIndex {
    /// A cell: a row (leaf) or a child node (inner), and its box.
    private struct Cell {
        var id: Int64
        var minX: Float, maxX: Float, minY: Float, maxY: Float

        var centerX: Float { minX / 2 + maxX / 2 }
        var centerY: Float { minY / 2 + maxY / 2 }
    }

    /// Bytes of a cell of a two-dimensional 32-bit R*Tree: the id and four coordinates.
    private static let cellSize = 8 + 4 * 4

    /// Rebuilds `idx_<table>_geom` from every row of `table`. Runs inside the caller's transaction.
    static func rebuild(_ db: Database, table: String) throws {
        let index = "idx_\(table)_geom"
        let declaration = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = ?", arguments: [index]) ?? ""
        // SpatiaLite declares a 2-D float R*Tree; anything else is not a layout this writer knows.
        guard declaration.replacingOccurrences(of: " ", with: "").lowercased().hasSuffix("usingrtree(pkid,xmin,xmax,ymin,ymax)") else {
            throw WanggeError.invalid(tr("\(index) is not SpatiaLite's two-dimensional R*Tree (\(declaration))"))
        }
        guard let nodeSize = try Int.fetchOne(db, sql: "SELECT length(data) FROM \"\(index)_node\" WHERE nodeno = 1"),
              (nodeSize - 4) / cellSize >= 2 else {
            throw WanggeError.invalid(tr("\(index) has no root node"))
        }
        let capacity = (nodeSize - 4) / cellSize

        var leaves: [Cell] = []
        // The box is read from the geometry's own header, as MbrMinX() and the others read it, without
        // calling four SQL functions a row (216,000 rows: 0.08 → 0.06 s); a blob in another encoding asks them.
        let rows = try Row.fetchCursor(db, sql: "SELECT ROWID, geom FROM \"\(table)\" WHERE geom IS NOT NULL ORDER BY ROWID")
        let functions = try db.makeStatement(sql: """
            SELECT MbrMinX(geom), MbrMaxX(geom), MbrMinY(geom), MbrMaxY(geom) FROM "\(table)" WHERE ROWID = ?
            """)
        while let row = try rows.next() {
            let id: Int64 = row[0]
            let box = try row.withUnsafeData(atIndex: 1) { $0.flatMap(SpatiaLiteGeometryHeader.box) }
            guard let (minX, maxX, minY, maxY) = try box ?? Row.fetchOne(functions, arguments: [id]).flatMap({ row in
                guard let minX = row[0] as Double?, let maxX = row[1] as Double?, let minY = row[2] as Double?, let maxY = row[3] as Double? else { return nil }
                return (minX, maxX, minY, maxY)
            }) else { continue }
            leaves.append(Cell(id: id, minX: roundedDown(minX), maxX: roundedUp(maxX), minY: roundedDown(minY), maxY: roundedUp(maxY)))
        }

        for shadow in ["node", "rowid", "parent"] { try db.execute(sql: "DELETE FROM \"\(index)_\(shadow)\"") }
        // Node 1 is the root; the others are numbered as they are made, level by level.
        var nodes: [(number: Int64, data: Data)] = []
        var rowNodes: [(row: Int64, node: Int64)] = []
        var parents: [(child: Int64, parent: Int64)] = []
        var level = leaves
        var depth = 0
        func link(_ cells: some Swift.Collection<Cell>, to node: Int64) {
            for cell in cells {
                if depth == 0 { rowNodes.append((cell.id, node)) } else { parents.append((cell.id, node)) }
            }
        }
        while level.count > capacity {
            var above: [Cell] = []
            for group in packed(level, capacity: capacity) {
                let node = Int64(nodes.count + 2)
                nodes.append((node, nodeData(group, depth: 0, size: nodeSize)))
                link(group, to: node)
                above.append(bounds(of: group, id: node))
            }
            level = above
            depth += 1
        }
        nodes.append((1, nodeData(level, depth: depth, size: nodeSize)))
        link(level, to: 1)

        try BulkInsert(db, head: "INSERT INTO \"\(index)_node\" (nodeno, data)", row: "(?, ?)").insert(nodes) { row, node in
            row.bind(node.number)
            row.bind(node.data)
        }
        // In key order: appending to a B-tree costs far less than inserting at random (the cells are in spatial order).
        rowNodes.sort { $0.row < $1.row }
        parents.sort { $0.child < $1.child }
        try BulkInsert(db, head: "INSERT INTO \"\(index)_rowid\" (rowid, nodeno)", row: "(?, ?)").insert(rowNodes) { row, link in
            row.bind(link.row)
            row.bind(link.node)
        }
        try BulkInsert(db, head: "INSERT INTO \"\(index)_parent\" (nodeno, parentnode)", row: "(?, ?)").insert(parents) { row, link in
            row.bind(link.child)
            row.bind(link.parent)
        }
    }

    /// The box around every entry of `idx_<table>_geom`: the union of its root
    /// node's cells, as stored (rounded outwards to 32-bit floats, so it holds
    /// every point); nil when the index is empty.
    static func bounds(_ db: Database, table: String) throws -> Envelope? {
        guard let root = try Data.fetchOne(db, sql: "SELECT data FROM \"idx_\(table)_geom_node\" WHERE nodeno = 1"), root.count >= 4 else {
            return nil
        }
        let bytes = [UInt8](root)
        func integer<I: FixedWidthInteger>(_ type: I.Type, at offset: Int) -> I {
            bytes[offset..<offset + MemoryLayout<I>.size].reduce(0) { $0 << 8 | I($1) }
        }
        func coordinate(at offset: Int) -> Double { Double(Float(bitPattern: integer(UInt32.self, at: offset))) }
        let count = Int(integer(UInt16.self, at: 2))
        guard count > 0, 4 + count * cellSize <= bytes.count else { return nil }
        return (0..<count).map { cell in
            let offset = 4 + cell * cellSize + 8
            return Envelope(minX: coordinate(at: offset), minY: coordinate(at: offset + 8), maxX: coordinate(at: offset + 4), maxY: coordinate(at: offset + 12))
        }.reduce(nil) { union, box in union?.union(box) ?? box }
    }

    /// Sort-tile-recursive: vertical slices by x, each sorted by y, cut into
    /// full nodes. The sorts are of 64-bit keys, a centre's order-preserving
    /// bits above the cell's place in `cells`, not of the cells: the cells
    /// come in ascending id (rows by ROWID, nodes as numbered), so equal
    /// centres still go by id.
    private static func packed(_ cells: [Cell], capacity: Int) -> [ArraySlice<Cell>] {
        precondition(cells.count < 1 << 32 && zip(cells, cells.dropFirst()).allSatisfy { $0.id < $1.id },
                     "R*Tree cells come in ascending id")
        let nodes = (cells.count + capacity - 1) / capacity
        let slices = Int(Double(nodes).squareRoot().rounded(.up))
        let perSlice = slices * capacity
        func key(_ centre: Float, _ place: Int) -> UInt64 { UInt64(orderedBits(centre)) << 32 | UInt64(place) }
        func place(_ key: UInt64) -> Int { Int(key & 0xFFFF_FFFF) }
        var byX = cells.indices.map { key(cells[$0].centerX, $0) }
        byX.sort()
        var ordered: [Cell] = []
        ordered.reserveCapacity(cells.count)
        var groups: [Range<Int>] = []
        groups.reserveCapacity(nodes)
        for sliceStart in stride(from: 0, to: byX.count, by: perSlice) {
            var byY = byX[sliceStart..<min(sliceStart + perSlice, byX.count)].map { key(cells[place($0)].centerY, place($0)) }
            byY.sort()
            let first = ordered.count
            ordered.append(contentsOf: byY.lazy.map { cells[place($0)] })
            for start in stride(from: first, to: ordered.count, by: capacity) {
                groups.append(start..<min(start + capacity, ordered.count))
            }
        }
        return groups.map { ordered[$0] }
    }

    /// A float's bits as an unsigned number in the float's order (-0 as +0; no NaN here).
    private static func orderedBits(_ value: Float) -> UInt32 {
        let bits = (value == 0 ? 0 : value).bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    private static func bounds<C: Swift.Collection<Cell>>(of cells: C, id: Int64) -> Cell {
        var box = Cell(id: id, minX: .infinity, maxX: -.infinity, minY: .infinity, maxY: -.infinity)
        for cell in cells {
            box.minX = min(box.minX, cell.minX)
            box.maxX = max(box.maxX, cell.maxX)
            box.minY = min(box.minY, cell.minY)
            box.maxY = max(box.maxY, cell.maxY)
        }
        return box
    }

    private static func nodeData<C: Swift.Collection<Cell>>(_ cells: C, depth: Int, size: Int) -> Data {
        var bytes = [UInt8](repeating: 0, count: size)
        func put<I: FixedWidthInteger>(_ value: I, at offset: Int) {
            withUnsafeBytes(of: value.bigEndian) { bytes.replaceSubrange(offset..<offset + MemoryLayout<I>.size, with: $0) }
        }
        put(UInt16(depth), at: 0)
        put(UInt16(cells.count), at: 2)
        var offset = 4
        for cell in cells {
            put(cell.id, at: offset)
            put(cell.minX.bitPattern, at: offset + 8)
            put(cell.maxX.bitPattern, at: offset + 12)
            put(cell.minY.bitPattern, at: offset + 16)
            put(cell.maxY.bitPattern, at: offset + 20)
            offset += cellSize
        }
        return Data(bytes)
    }

    // The R*Tree's own rounding of a stored box (rtreeValueDown / rtreeValueUp):
    // the nearest float, or when that falls inside the box, the value moved out by one part in 2^23.
    private static let towards = 1 - 1.0 / 8_388_608, away = 1 + 1.0 / 8_388_608

    static func roundedDown(_ value: Double) -> Float {
        let nearest = Float(value)
        return Double(nearest) > value ? Float(value * (value < 0 ? away : towards)) : nearest
    }

    static func roundedUp(_ value: Double) -> Float {
        let nearest = Float(value)
        return Double(nearest) < value ? Float(value * (value < 0 ? towards : away)) : nearest
    }
}

/// The header of SpatiaLite's own geometry blob (its "BLOB-Geometry" format): 0x00, the byte
/// order (0 big-endian, 1 little-endian), the SRID, the box as four doubles (min x, min y,
/// max x, max y), 0x7C, the class, the coordinates and a closing 0xFE.
enum SpatiaLiteGeometryHeader {
    /// The box (min x, max x, min y, max y), or nil for anything not in that layout (a TinyPoint, a GeoPackage blob).
    static func box(_ blob: Data) -> (Double, Double, Double, Double)? {
        blob.withUnsafeBytes { bytes in
            guard bytes.count >= 45, bytes[0] == 0x00, bytes[38] == 0x7C, bytes[bytes.count - 1] == 0xFE, bytes[1] <= 1 else { return nil }
            let bigEndian = bytes[1] == 0
            func double(at offset: Int) -> Double {
                let bits = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                return Double(bitPattern: bigEndian ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits))
            }
            return (double(at: 6), double(at: 22), double(at: 14), double(at: 30))
        }
    }
}
