// Test peers for the XCTest suite: the identity-platform emulator and a real Dovecot
// (mailoauth-testkit), started once per test run from the binaries cargo builds:
//
//   cargo build -p mailoauth-emulator -p mailoauth-testkit --bins
//   export MAILOAUTH_EMULATOR_BIN=$PWD/target/debug/mailoauth-emulator
//   export MAILOAUTH_TESTKIT_BIN=$PWD/target/debug/mailoauth-testkit   # needs dovecot on PATH
//
// A missing binary fails the tests that need it (nothing is skipped).

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailOAuth
import XCTest

struct SetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Demo {
    static let publicClientId = "c0ffee00-0000-4000-8000-000000000002"
    static let confidentialClientId = "c0ffee00-0000-4000-8000-000000000003"
    static let clientSecret = "demo~secret~value~not~a~real~secret"
    static let tenantId = "c0ffee00-0000-4000-8000-000000000001"
    static let user = "alice@contoso.example"
    static let password = "alice-password"
    static let mfaUser = "bob@contoso.example"
    static let mfaPassword = "bob-password"
    static let imapScope = "https://outlook.office.com/IMAP.AccessAsUser.All"
    static let mailScopes = [
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/POP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
    ]
    /// The repository root (this file is bindings-swift/Tests/MailOAuthTests/Peers.swift).
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}

private func requiredEnv(_ name: String) throws -> String {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
        throw SetupError("\(name) is not set (see the top of Tests/MailOAuthTests/Peers.swift)")
    }
    return value
}

/// Reads one line from a pipe (the peers print their address or JSON line first).
private func firstLine(_ handle: FileHandle) throws -> String {
    var bytes = Data()
    while true {
        let chunk = handle.readData(ofLength: 1)
        if chunk.isEmpty { throw SetupError("the process ended before printing a line") }
        if chunk.first == UInt8(ascii: "\n") { break }
        bytes.append(chunk)
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Stops the peers when the test bundle finishes.
private final class PeerObserver: NSObject, XCTestObservation, @unchecked Sendable {
    private let lock = NSLock()
    private var processes: [Process] = []
    func add(_ process: Process) {
        lock.lock()
        defer { lock.unlock() }
        processes.append(process)
    }
    func testBundleDidFinish(_ testBundle: Bundle) {
        lock.lock()
        defer { lock.unlock() }
        for p in processes where p.isRunning { p.terminate() }
    }
}

private let observer: PeerObserver = {
    let o = PeerObserver()
    XCTestObservationCenter.shared.addTestObserver(o)
    return o
}()

final class Emulator: @unchecked Sendable {
    let base: String

    var authority: String { "\(base)/organizations" }
    var tenantAuthority: String { "\(base)/\(Demo.tenantId)" }

    private static let started: Result<Emulator, Error> = Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try requiredEnv("MAILOAUTH_EMULATOR_BIN"))
        process.arguments = ["--port", "0", "--device-code-interval", "0"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        observer.add(process)
        let base = try firstLine(out.fileHandleForReading)
        guard base.hasPrefix("http://") else { throw SetupError("the emulator printed \(base)") }
        return Emulator(base: base)
    }

    static func shared() throws -> Emulator { try started.get() }

    private init(base: String) { self.base = base }

    @discardableResult
    func request(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        var req = URLRequest(url: URL(string: base + path)!)
        req.httpMethod = method
        req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let body { req.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let (data, response) = try await URLSession.shared.data(for: req)
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
            throw SetupError("\(method) \(path): \(String(decoding: data, as: UTF8.self))")
        }
        if data.isEmpty { return nil }
        return try JSONSerialization.jsonObject(with: data)
    }

    /// Default settings, no faults, the real clock, no pending device codes, zeroed counters.
    func reset() async throws {
        try await request("DELETE", "/_emulator/faults")
        for code in try await pendingCodes() {
            try await deny(code)
        }
        try await settings([
            "token_lifetime_secs": 3599, "device_code_interval_secs": 0,
            "device_code_lifetime_secs": 900, "auto_approve_as": "",
        ])
        let clock = try await request("POST", "/_emulator/clock", ["advance_secs": 0]) as? [String: Any]
        if let offset = clock?["clock_offset_secs"] as? Int, offset != 0 {
            try await request("POST", "/_emulator/clock", ["advance_secs": -offset])
        }
        try await request("DELETE", "/_emulator/counters")
    }

    func settings(_ values: [String: Any]) async throws { try await request("POST", "/_emulator/settings", values) }
    func fault(_ fault: [String: Any]) async throws { try await request("POST", "/_emulator/faults", fault) }
    func approve(_ userCode: String) async throws {
        try await request("POST", "/_emulator/device/approve", ["user_code": userCode, "username": Demo.user])
    }
    func deny(_ userCode: String) async throws {
        try await request("POST", "/_emulator/device/deny", ["user_code": userCode])
    }
    func revoke(_ username: String = Demo.user) async throws {
        try await request("POST", "/_emulator/revoke", ["username": username])
    }
    func pendingCodes() async throws -> [String] {
        let list = try await request("GET", "/_emulator/device/pending") as? [[String: Any]] ?? []
        return list.compactMap { $0["user_code"] as? String }
    }

    private func counters() async throws -> [String: Any] {
        try await request("GET", "/_emulator/counters") as? [String: Any] ?? [:]
    }
    func grants(_ grant: String) async throws -> Int {
        (try await counters()["grants"] as? [String: Any])?[grant] as? Int ?? 0
    }
    func issued(_ grant: String) async throws -> Int {
        (try await counters()["issued"] as? [String: Any])?[grant] as? Int ?? 0
    }
    func requests(_ endpoint: String) async throws -> Int {
        (try await counters()["requests"] as? [String: Any])?[endpoint] as? Int ?? 0
    }

    /// Approves the next device code that becomes pending (as the user on the device page).
    @discardableResult
    func approveWhenPending(deny: Bool = false) async throws -> String {
        for _ in 0..<400 {
            if let code = try await pendingCodes().first {
                if deny { try await self.deny(code) } else { try await approve(code) }
                return code
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw SetupError("no device code became pending")
    }

    /// The `Location` of the authorize endpoint's redirect (auto-approve on).
    func redirectLocation(_ url: String) async throws -> String {
        // A session-level delegate with the completion-handler method: swift-corelibs-foundation
        // (Linux) asks only that one, and so does Apple's Foundation.
        final class NoRedirect: NSObject, URLSessionTaskDelegate, Sendable {
            func urlSession(
                _ session: URLSession, task: URLSessionTask,
                willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
                completionHandler: @escaping @Sendable (URLRequest?) -> Void
            ) { completionHandler(nil) }
        }
        let session = URLSession(configuration: .ephemeral, delegate: NoRedirect(), delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let (_, response) = try await session.data(for: URLRequest(url: URL(string: url)!))
        guard let http = response as? HTTPURLResponse, http.statusCode == 302,
              let location = http.value(forHTTPHeaderField: "Location") else {
            throw SetupError("no redirect from \(url)")
        }
        return location
    }
}

final class Dovecot: @unchecked Sendable {
    let host: String
    let caFile: String
    let ports: [String: UInt16]
    private let stdin: Pipe

    private static let started: Result<Dovecot, Error> = Result {
        let emulator = try Emulator.shared()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try requiredEnv("MAILOAUTH_TESTKIT_BIN"))
        process.arguments = ["dovecot", "--validator-url", "\(emulator.base)/_emulator/introspect"]
        let out = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        observer.add(process)
        let line = try firstLine(out.fileHandleForReading)
        guard let info = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw SetupError("mailoauth-testkit printed \(line)")
        }
        var ports: [String: UInt16] = [:]
        for key in ["imap_port", "imaps_port", "pop3_port", "pop3s_port", "submission_port"] {
            ports[key] = (info[key] as? Int).map { UInt16($0) }
        }
        return Dovecot(host: info["host"] as? String ?? "127.0.0.1", caFile: info["ca_file"] as? String ?? "",
                       ports: ports, stdin: input)
    }

    static func shared() throws -> Dovecot { try started.get() }

    private init(host: String, caFile: String, ports: [String: UInt16], stdin: Pipe) {
        self.host = host
        self.caFile = caFile
        self.ports = ports
        self.stdin = stdin
    }

    func options(_ protocolName: String, tls: Bool = false, mechanism: Mechanism? = nil, probe: Bool = false,
                 trustCA: Bool = true) -> MailServerOptions {
        let key: String
        let security: Security
        switch (protocolName, tls) {
        case ("imap", false): (key, security) = ("imap_port", .startTls)
        case ("imap", true): (key, security) = ("imaps_port", .tls)
        case ("pop3", false): (key, security) = ("pop3_port", .startTls)
        case ("pop3", true): (key, security) = ("pop3s_port", .tls)
        default: (key, security) = ("submission_port", .startTls)
        }
        return MailServerOptions(host: host, port: ports[key], security: security, mechanism: mechanism,
                                 caFile: trustCA ? caFile : nil, probe: probe)
    }
}

/// The UniFFI case name of an error (`InvalidGrant`, `MailRejected`, ...).
func caseName(_ error: Error) -> String? {
    guard let e = error as? MailOAuthError else { return nil }
    return Mirror(reflecting: e).children.first?.label
}

/// Runs `body`, which must throw `MailOAuthError.<expected>`; returns the error's details.
@discardableResult
func expectError<T>(
    _ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
) async -> ErrorDetails? {
    do {
        _ = try await body()
        XCTFail("expected MailOAuthError.\(expected), got a value", file: file, line: line)
    } catch let error as MailOAuthError {
        XCTAssertEqual(caseName(error), expected, "\(error)", file: file, line: line)
        return error.details
    } catch {
        XCTFail("expected MailOAuthError.\(expected), got \(error)", file: file, line: line)
    }
    return nil
}

/// The shared set-up of the identity tests: the emulator reset before and after each test, a
/// public client on it, and a device-code sign-in the emulator approves.
class EmulatorTestCase: XCTestCase {
    var emulator: Emulator!
    var client: PublicClient!

    override func setUp() async throws {
        emulator = try Emulator.shared()
        try await emulator.reset()
        client = try PublicClient(clientId: Demo.publicClientId, options: ClientOptions(authority: emulator.authority))
    }

    override func tearDown() async throws {
        try await emulator?.reset()
    }

    /// Signs in `client` (default: the test's client) with the device code, approved at once.
    func signIn(_ client: PublicClient? = nil) async throws -> Token {
        let target: PublicClient = client ?? self.client!
        let flow = try await target.startDeviceFlow(scopes: [Demo.imapScope])
        try await emulator.approve(flow.userCode())
        return try await flow.wait()
    }
}
