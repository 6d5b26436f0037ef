// Mail logins from Swift against a real Dovecot validating the emulator's tokens (IMAP with
// STARTTLS and implicit TLS, XOAUTH2 and OAUTHBEARER, SMTP submission, POP3, each returning a
// usable session), Dovecot's failures, and the SASL strings against the shared vectors.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailOAuth
import XCTest

final class MailTests: XCTestCase {
    var emulator: Emulator!
    var dovecot: Dovecot!
    var token: Token!

    override func setUp() async throws {
        emulator = try Emulator.shared()
        try await emulator.reset()
        dovecot = try Dovecot.shared()
        let client = try PublicClient(clientId: Demo.publicClientId, options: ClientOptions(authority: emulator.authority))
        token = try await client.acquireTokenByUsernamePassword(
            username: Demo.user, password: Demo.password, scopes: Demo.mailScopes)
    }

    override func tearDown() async throws {
        try await emulator?.reset()
    }

    private func readUntil(_ session: MailSession, _ prefix: String) async throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try await session.readLine()
            lines.append(line)
            if line.hasPrefix(prefix) { return lines }
        }
    }

    func testImapLoginReturnsCapabilitiesAndAUsableSession() async throws {
        for tls in [false, true] {
            let session = try await connectImap(
                user: Demo.user, accessToken: token.accessToken(), options: dovecot.options("imap", tls: tls))
            XCTAssertEqual(session.mailProtocol(), .imap)
            XCTAssertTrue(session.isTls())
            XCTAssertTrue(session.capabilities().contains("IMAP4rev1"))
            try await session.sendLine(line: "a1 SELECT INBOX")
            let selected = try await readUntil(session, "a1 ")
            XCTAssertTrue(selected.last!.hasPrefix("a1 OK"), "\(selected)")
            try await session.sendLine(line: "a2 LOGOUT")
            _ = try await readUntil(session, "a2 ")
            await session.close()
            let d = await expectError("MailNetworkError") { try await session.sendLine(line: "a3 NOOP") }
            XCTAssertEqual(d?.stage, "session")
        }
    }

    func testImapWithOauthbearerAndProbe() async throws {
        let session = try await connectImap(
            user: Demo.user, accessToken: token.accessToken(),
            options: dovecot.options("imap", mechanism: .oauthbearer, probe: true))
        XCTAssertTrue(session.capabilities().contains("IMAP4rev1"))
    }

    func testSmtpSubmission() async throws {
        let session = try await connectSmtp(
            user: Demo.user, accessToken: token.accessToken(), options: dovecot.options("smtp"))
        XCTAssertEqual(session.mailProtocol(), .smtp)
        try await session.sendLine(line: "MAIL FROM:<\(Demo.user)>")
        let reply = try await session.readLine()
        XCTAssertTrue(reply.hasPrefix("250"), reply)
    }

    func testPop3() async throws {
        for tls in [false, true] {
            let session = try await connectPop(
                user: Demo.user, accessToken: token.accessToken(), options: dovecot.options("pop3", tls: tls))
            try await session.sendLine(line: "STAT")
            let stat = try await session.readLine()
            XCTAssertTrue(stat.hasPrefix("+OK"), stat)
        }
    }

    func testRejectedTokenCarriesServerLineAndChallenge() async throws {
        try await emulator.revoke()
        let d = await expectError("MailRejected") {
            try await connectImap(user: Demo.user, accessToken: self.token.accessToken(),
                                  options: self.dovecot.options("imap"))
        }
        XCTAssertEqual(d?.mailProtocol, .imap)
        XCTAssertEqual(d?.stage, "auth")
        XCTAssertNotNil(d?.challenge?.status)
        XCTAssertEqual(d?.challengeJson, d?.challenge?.raw)
        XCTAssertFalse(String(reflecting: d as Any).contains(token.accessToken()))
    }

    func testValidatorOutageIsTemporary() async throws {
        try await emulator.fault(["endpoint": "introspect", "kind": "status", "status": 503, "times": 5])
        let d = await expectError("MailTemporaryFailure") {
            try await connectImap(user: Demo.user, accessToken: self.token.accessToken(),
                                  options: self.dovecot.options("imap"))
        }
        XCTAssertEqual(d?.isTemporary, true)
    }

    func testUntrustedCertificateIsTlsError() async throws {
        let d = await expectError("MailTlsError") {
            try await connectImap(user: Demo.user, accessToken: self.token.accessToken(),
                                  options: self.dovecot.options("imap", tls: true, trustCA: false))
        }
        XCTAssertEqual(d?.stage, "tls")
    }

    func testSaslStringsMatchTheSharedVectors() throws {
        let url = Demo.repo.appendingPathComponent("testdata/sasl/vectors.json")
        let vectors = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var checked = 0
        for v in vectors["xoauth2"] as! [[String: Any]] {
            XCTAssertEqual(xoauth2(user: v["user"] as! String, accessToken: v["token"] as! String),
                           v["expected"] as? String)
            checked += 1
        }
        for v in vectors["oauthbearer"] as! [[String: Any]] {
            let port = (v["port"] as? Int).map { UInt16($0) }
            XCTAssertEqual(oauthbearer(user: v["user"] as! String, accessToken: v["token"] as! String,
                                       host: v["host"] as? String, port: port),
                           v["expected"] as? String)
            checked += 1
        }
        for v in vectors["challenges"] as! [[String: Any]] {
            let c = try decodeChallenge(challenge: v["base64"] as! String)
            XCTAssertEqual(c.status, v["status"] as? String)
            XCTAssertEqual(c.scope, v["scope"] as? String)
            checked += 1
        }
        XCTAssertEqual(checked, 12)
    }

    func testScopes() async throws {
        XCTAssertEqual(try mailScopes(protocols: [.imap], refresh: false), [Demo.imapScope])
        XCTAssertEqual(try mailScopes(protocols: [.imap], provider: "google"), ["https://mail.google.com/"])
        XCTAssertEqual(try appOnlyScope(), "https://outlook.office365.com/.default")
        await expectError("ConfigurationError") { try mailScopes(protocols: [.imap], provider: "yahoo") }
    }
}
