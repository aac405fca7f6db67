import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A TCP forwarder on 127.0.0.1 between a client and a server (the test cluster) that can
/// stall: `stall()` stops forwarding in both directions but keeps every socket open, as a
/// frozen host or a partition that drops packets silently does (no RST, no FIN); new
/// connections are accepted and left unanswered. `resume()` forwards again. Its threads
/// are its own, so a stall never holds the threads the code under test needs.
public final class StallingProxy: Sendable {
    public let port: Int
    private let listener: Int32
    private let target: (host: String, port: Int)
    private let state = Mutex<(stalled: Bool, stopped: Bool, sockets: [Int32])>((false, false, []))

    /// Listens on a free loopback port and forwards to `host`:`port`.
    public init(to host: String, port targetPort: Int) throws {
        target = (host, targetPort)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in accepting() }.start()
    }

    /// A PostgreSQL URL with its host and port replaced by this proxy's.
    public static func through(_ url: String) throws -> (proxy: StallingProxy, url: String) {
        guard var parts = URLComponents(string: url), let host = parts.host, let port = parts.port else {
            throw POSIXError(.EINVAL)
        }
        let proxy = try StallingProxy(to: host, port: port)
        parts.host = "127.0.0.1"
        parts.port = proxy.port
        return (proxy, parts.string ?? url)
    }

    public func stall() { state.withLock { $0.stalled = true } }
    public func resume() { state.withLock { $0.stalled = false } }

    /// Stops accepting and closes every forwarded connection (call it: the threads keep the proxy alive until then).
    public func stop() {
        let sockets = state.withLock { state in
            state.stopped = true
            defer { state.sockets = [] }
            return state.sockets
        }
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    deinit { close(listener) }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private var stopped: Bool { state.withLock { $0.stopped } }
    private var stalled: Bool { state.withLock { $0.stalled } }

    private func accepting() {
        while !stopped {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 100) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: target.port)
            address.sin_addr.s_addr = inet_addr(target.host == "localhost" ? "127.0.0.1" : target.host)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard server >= 0, connected == 0 else {
                close(client)
                if server >= 0 { close(server) }
                continue
            }
            state.withLock { $0.sockets += [client, server] }
            Thread { [self] in forward(client, server) }.start()
        }
    }

    /// Copies bytes both ways until either side closes; while stalled, reads nothing (the bytes wait in the kernel).
    private func forward(_ client: Int32, _ server: Int32) {
        defer {
            state.withLock { $0.sockets.removeAll { $0 == client || $0 == server } }
            close(client)
            close(server)
        }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !stopped {
            if stalled {
                usleep(20_000)
                continue
            }
            var descriptors = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
            guard poll(&descriptors, 2, 50) > 0 else { continue }
            for (from, to) in [(0, 1), (1, 0)] where descriptors[from].revents != 0 {
                // Stalled between the poll and the read: leave the bytes where they are.
                if stalled { break }
                let n = recv(descriptors[from].fd, &buffer, buffer.count, 0)
                guard n > 0 else { return }
                var sent = 0
                while sent < n {
                    let m = buffer[sent..<n].withUnsafeBytes { send(descriptors[to].fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    guard m > 0 else { return }
                    sent += m
                }
            }
        }
    }
}
