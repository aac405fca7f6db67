import Testing
@testable import GeoKit

/// The MVT 2.1 command stream: winding, commands, zigzag deltas, degenerate rings.
@Suite struct VectorTileEncodingTests {
    /// Rings of a command stream in tile coordinates (MoveTo, LineTo, ClosePath; deltas from a running cursor).
    static func rings(_ commands: [UInt32]) -> [[(x: Int, y: Int)]] {
        var rings: [[(x: Int, y: Int)]] = [], cursor = (x: 0, y: 0), i = 0
        func unzigzag(_ n: UInt32) -> Int { Int(Int32(bitPattern: n >> 1) ^ -Int32(bitPattern: n & 1)) }
        while i < commands.count {
            let id = commands[i] & 7, count = Int(commands[i] >> 3)
            i += 1
            switch id {
            case 1, 2:
                if id == 1 { rings.append([]) }
                for _ in 0..<count {
                    cursor = (cursor.x + unzigzag(commands[i]), cursor.y + unzigzag(commands[i + 1]))
                    rings[rings.count - 1].append(cursor)
                    i += 2
                }
            default: #expect(id == 7 && count == 1)
            }
        }
        return rings
    }

    @Test func exteriorsAreClockwiseOnScreenAndHolesCounterClockwise() throws {
        let geos = try GEOSContext()
        let encoder = VectorTileEncoder(address: TileAddress(zoom: 10, column: 836, row: 425))
        let tile = encoder.address.envelope
        let unit = tile.width / 4096
        func at(_ x: Double, _ y: Double) -> (Double, Double) { (tile.minX + x * unit, tile.maxY - y * unit) }
        // Given counter-clockwise on screen (y down) with a clockwise hole: both must be turned.
        let square = try Geometry.polygon([
            [at(100, 100), at(100, 900), at(900, 900), at(900, 100), at(100, 100)],
            [at(300, 300), at(600, 300), at(600, 600), at(300, 600), at(300, 300)],
        ], context: geos)
        // A sliver thinner than half a unit rounds to a line: dropped.
        let sliver = try Geometry.polygon([[at(2000, 2000), at(2100, 2000), at(2100, 2000.2), at(2000, 2000)]], context: geos)
        let commands = try encoder.polygonCommands(try Geometry.collection(.multiPolygon, [square, sliver], context: geos))
        // Reversed, the exterior starts at its last corner: MoveTo (900, 100), then three LineTo.
        #expect(Array(commands.prefix(4)) == [VectorTileEncoder.command(1, count: 1), VectorTileEncoder.zigzag(900), VectorTileEncoder.zigzag(100),
                                               VectorTileEncoder.command(2, count: 3)])
        let rings = Self.rings(commands)
        #expect(rings.count == 2)
        #expect(rings.map { VectorTileEncoder.surveyorArea($0) } == [2 * 800 * 800, -2 * 300 * 300])
        #expect(VectorTileEncoder.zigzag(-1) == 1 && VectorTileEncoder.zigzag(1) == 2 && VectorTileEncoder.zigzag(-2048) == 4095)
    }

    @Test func tilesAndMercatorAgreeWithTheTileScheme() {
        // Web Mercator of 180°E is half the world; the tile of 112.356°E 28.8425°N at zoom 10 is 10/831/426 (XYZ, the slippy-map formula).
        #expect(abs(WebMercator.project(lon: 180, lat: 0).x - WebMercator.halfWorld) < 1e-6)
        let p = WebMercator.project(lon: 112.356, lat: 28.8425)
        #expect(TileAddress.covering(Envelope(minX: p.x, minY: p.y, maxX: p.x, maxY: p.y), zoom: 10) == [TileAddress(zoom: 10, column: 831, row: 426)])
    }
}
