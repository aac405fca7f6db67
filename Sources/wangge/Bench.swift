import ArgumentParser
extension Wangge {
    struct Bench: ParsableCommand {
        func run() throws {}
    }
}
