// Every recorded login transcript (testdata/transcripts/, shared by every language's tests)
// replayed by a scripted server against connectImap / connectSmtp / connectPop: the client must
// send exactly the transcript's lines, and a failure must arrive as the MailOAuthError case of its
// kind, with its stage and SASL challenge. This is how the mail kinds that only Exchange or Gmail
// produce (login disabled, token expired, not connected, ...) are checked from Swift. The
// transcripts with a TLS handshake are covered by the Dovecot tests (MailTests) instead.
// Also here: the network errors (closed port, silent server, garbage greeting).

import Foundation
import MailOAuth
import XCTest

private struct Transcript {
    let name: String
    let headers: [String: String]
    let steps: [(kind: String, text: String)]

    init(url: URL) throws {
        name = url.deletingPathExtension().lastPathComponent
        var headers: [String: String] = [:]
        var steps: [(String, String)] = []
        for raw in try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("# "), let colon = line.firstIndex(of: ":") {
                let key = line[line.index(line.startIndex, offsetBy: 2)..<colon].trimmingCharacters(in: .whitespaces)
                headers[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("S: ") || line == "S:" {
                steps.append(("S", String(line.dropFirst(3))))
            } else if line.hasPrefix("C: ") {
                steps.append(("C", String(line.dropFirst(3))))
            } else if line.trimmingCharacters(in: .whitespaces) == "TLS" {
                steps.append(("TLS", ""))
            }
        }
        if let token = headers["token"], token.hasPrefix("X*"), let n = Int(token.dropFirst(2)) {
            headers["token"] = String(repeating: "X", count: n)
        }
        self.headers = headers
        self.steps = steps
    }

    static func all() throws -> [Transcript] {
        let dir = Demo.repo.appendingPathComponent("testdata/transcripts")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".txt") }
            .sorted()
            .map { try Transcript(url: dir.appendingPathComponent($0)) }
    }
}

/// The MailOAuthError case of each mail kind.
private let caseOfKind = [
    "rejected": "MailRejected", "login_disabled": "MailLoginDisabled", "token_expired": "MailTokenExpired",
    "temporary": "MailTemporaryFailure", "not_connected": "MailNotConnected", "network": "MailNetworkError",
    "timeout": "MailTimeout", "tls": "MailTlsError", "greeting": "MailGreetingRefused",
    "starttls_unavailable": "MailStartTlsUnavailable", "mechanism_unsupported": "MailMechanismUnsupported",
    "protocol": "MailProtocolError",
]

private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

final class TranscriptTests: XCTestCase {
    private func replay(_ t: Transcript) async throws {
        let user = t.headers["user"]!, token = t.headers["token"]!
        let mechanism: Mechanism = t.headers["mechanism"] == "OAUTHBEARER" ? .oauthbearer : .xoauth2
        let steps = t.steps
        let stepsDone = Flag()
        let server = try ScriptedServer { conn in
            for step in steps {
                if step.kind == "S" {
                    try conn.send(line: step.text)
                } else if step.kind == "C" {
                    // The initial response for the host and port actually dialled (OAUTHBEARER).
                    let ir = mechanism == .xoauth2
                        ? xoauth2(user: user, accessToken: token)
                        : oauthbearer(user: user, accessToken: token, host: "127.0.0.1", port: conn.port)
                    let got = try conn.readLine() ?? "<closed>"
                    let want = step.text.replacingOccurrences(of: "{IR}", with: ir)
                    if got != want {
                        throw ScriptError(description: "client sent \(got.prefix(120)), transcript says \(want.prefix(120))")
                    }
                }
            }
            stepsDone.set()
            conn.drain()
        }
        let security: Security = t.headers["starttls"] == "true" ? .startTls : .plain
        let saslIr: SaslIr = ["always": .always, "never": .never][t.headers["sasl_ir"] ?? "auto"] ?? .auto
        let options = MailServerOptions(
            host: "127.0.0.1", port: server.port, security: security, mechanism: mechanism,
            probe: t.headers["probe"] == "true", saslIr: saslIr, ioTimeoutSecs: 5)
        let proto = t.headers["protocol"]!
        let connect: () async throws -> MailSession = {
            switch proto {
            case "imap": return try await connectImap(user: user, accessToken: token, options: options)
            case "smtp": return try await connectSmtp(user: user, accessToken: token, options: options)
            default: return try await connectPop(user: user, accessToken: token, options: options)
            }
        }
        let expect = t.headers["expect"]!.split(separator: " ").map(String.init)
        let where_ = "transcript \(t.name)"

        if expect[0] == "ok" {
            let session = try await connect()
            await session.close()
            XCTAssertTrue(server.wait(), where_)
            XCTAssertNil(server.mismatch, where_)
            XCTAssertTrue(stepsDone.isSet, where_)
            if let caps = t.headers["capabilities"] {
                // `|`-separated when a capability has spaces (POP3 CAPA)
                let want = caps.contains("|") ? caps.split(separator: "|").map(String.init)
                    : caps.split(separator: " ").map(String.init)
                XCTAssertEqual(session.capabilities(), want, where_)
            }
            return
        }

        let kind = expect[1], stage = expect[2]
        let d = await expectError(caseOfKind[kind]!) { try await connect() }
        XCTAssertNil(server.mismatch, where_)
        XCTAssertEqual(d?.kind, kind, where_)
        XCTAssertEqual(d?.stage, stage, where_)
        XCTAssertEqual(d?.mailProtocol, ["imap": MailProtocol.imap, "smtp": .smtp, "pop3": .pop3][proto], where_)
        XCTAssertFalse(d?.hint.isEmpty ?? true, where_)
        for extra in expect.dropFirst(3) where extra.hasPrefix("challenge-status=") {
            XCTAssertEqual(d?.challenge?.status, String(extra.dropFirst("challenge-status=".count)), where_)
        }
        if token.count > 8, let d {
            XCTAssertFalse(d.description.contains(token), where_)
            XCTAssertFalse(String(reflecting: d).contains(token), where_)
        }
    }

    func testEveryTranscriptWithoutTls() async throws {
        var replayed = 0
        for t in try Transcript.all() where !t.steps.contains(where: { $0.kind == "TLS" }) {
            try await replay(t)
            replayed += 1
        }
        XCTAssertGreaterThanOrEqual(replayed, 28)
    }

    func testEveryMailKindATranscriptProducesIsCovered() throws {
        let kinds = Set(try Transcript.all().compactMap { t -> String? in
            let expect = t.headers["expect"]!.split(separator: " ")
            return expect[0] == "ok" ? nil : String(expect[1])
        })
        XCTAssertTrue(kinds.isSuperset(of: [
            "rejected", "login_disabled", "token_expired", "temporary", "not_connected", "greeting",
            "starttls_unavailable", "mechanism_unsupported",
        ]), "\(kinds)")
    }

    // MARK: network errors

    func testClosedPortIsMailNetworkError() async throws {
        let server = try ScriptedServer { _ in }  // accepts nothing: closed once the thread gives up
        let port = server.port
        // Connect once so the script ends and the listener is closed, then dial the closed port.
        let probe = MailServerOptions(host: "127.0.0.1", port: port, security: .plain, ioTimeoutSecs: 2)
        _ = try? await connectImap(user: Demo.user, accessToken: "token", options: probe)
        XCTAssertTrue(server.wait())
        let options = MailServerOptions(host: "127.0.0.1", port: port, security: .plain)
        let d = await expectError("MailNetworkError") {
            try await connectImap(user: Demo.user, accessToken: "token", options: options)
        }
        XCTAssertEqual(d?.stage, "connect")
        XCTAssertEqual(d?.isTemporary, true)
    }

    func testSilentServerIsMailTimeout() async throws {
        let server = try ScriptedServer { conn in conn.drain() }
        let options = MailServerOptions(host: "127.0.0.1", port: server.port, security: .plain, ioTimeoutSecs: 0.5)
        let d = await expectError("MailTimeout") {
            try await connectImap(user: Demo.user, accessToken: "token", options: options)
        }
        XCTAssertEqual(d?.stage, "greeting")
    }

    func testGarbageGreetingIsMailProtocolError() async throws {
        let server = try ScriptedServer { conn in
            try conn.send(line: "HELLO there")
            conn.drain()
        }
        let options = MailServerOptions(host: "127.0.0.1", port: server.port, security: .plain)
        let d = await expectError("MailProtocolError") {
            try await connectImap(user: Demo.user, accessToken: "token", options: options)
        }
        XCTAssertEqual(d?.stage, "greeting")
    }

    func testUnknownProviderFailsBeforeAnyConnection() async throws {
        await expectError("ConfigurationError") {
            try await connectImap(user: Demo.user, accessToken: "token", options: MailServerOptions(provider: "yahoo"))
        }
    }
}
