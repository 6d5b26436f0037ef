// A one-connection TCP server on 127.0.0.1 that plays a script on its own thread (POSIX sockets:
// the tests need no package beyond the toolchain). The transcript replay and the network-error
// tests use it as the mail server.

import Foundation
#if canImport(Glibc)
import Glibc
private let streamSocket = Int32(SOCK_STREAM.rawValue)
#elseif canImport(Darwin)
import Darwin
private let streamSocket = SOCK_STREAM
#endif

struct ScriptError: Error, CustomStringConvertible {
    let description: String
}

/// The accepted connection, as the script sees it.
final class ScriptedConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// The server's port (what the client dialled).
    let port: UInt16

    fileprivate init(fd: Int32, port: UInt16) {
        self.fd = fd
        self.port = port
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends `line` with CRLF.
    func send(line: String) throws {
        try send(bytes: Array((line + "\r\n").utf8))
    }

    func send(bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { throw ScriptError(description: "write failed (errno \(errno))") }
            offset += n
        }
    }

    /// The next line the client sent, without CRLF; nil at the end of the stream.
    func readLine() throws -> String? {
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<end])
                buffer.removeFirst(end + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return nil }
            if n < 0 { throw ScriptError(description: "read failed or timed out (errno \(errno))") }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Reads until the client closes the connection (or 10 s pass without a byte).
    func drain() {
        while (try? readLine()) != nil {}
    }
}

final class ScriptedServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var failure: String?

    /// What went wrong in the script (a mismatch, an I/O error), if anything.
    var mismatch: String? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    /// Listens on a free loopback port and runs `script` for the first connection.
    init(_ script: @escaping @Sendable (ScriptedConnection) throws -> Void) throws {
        signal(SIGPIPE, SIG_IGN)  // a client that hangs up must not end the test process
        let listener = socket(AF_INET, streamSocket, 0)
        self.listener = listener
        guard listener >= 0 else { throw ScriptError(description: "socket() failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard bound == 0, listen(listener, 1) == 0 else {
            close(listener)
            throw ScriptError(description: "bind/listen failed (errno \(errno))")
        }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = UInt16(bigEndian: addr.sin_port)
        let port = self.port
        Thread.detachNewThread { [self] in
            defer {
                close(listener)
                finished.signal()
            }
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 10_000) == 1 else { return record("no client connected within 10 s") }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return record("accept failed (errno \(errno))") }
            defer { close(fd) }
            do {
                try script(ScriptedConnection(fd: fd, port: port))
            } catch {
                record("\(error)")
            }
        }
    }

    private func record(_ message: String) {
        lock.lock()
        defer { lock.unlock() }
        if failure == nil { failure = message }
    }

    /// Records a deviation from the script (first one wins).
    func fail(_ message: String) { record(message) }

    /// Waits until the script has finished (the client closed, or it gave up).
    func wait(seconds: Double = 15) -> Bool {
        finished.wait(timeout: .now() + seconds) == .success
    }
}
