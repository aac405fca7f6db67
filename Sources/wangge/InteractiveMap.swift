import Foundation
import GridMap
import GridStore
struct InteractiveMap {
    let data: MapData
    let store: GridStore
    var options: MapOptions
    var metric: MapMetricKind
    var focus: MapFocus
    func run() throws {}
}
