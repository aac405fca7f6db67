extension Duration {
    /// The duration in seconds, for APIs that take a `TimeInterval` or print one.
    public var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}
