// The rest of the FFI contract from Swift: refresh tokens from elsewhere, client properties,
// the device-code handler cancelling, calls of different kinds in flight at once, the token
// store's rotation / corruption / file form / MSAL import, and the plain values.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailOAuth
import XCTest

final class MoreIdentityTests: EmulatorTestCase {
    func testRefreshTokenFromElsewhereIsRedeemedAndCached() async throws {
        let token = try await signIn(client)
        let other = try PublicClient(clientId: Demo.publicClientId, options: ClientOptions(authority: emulator.authority))
        let fresh = try await other.acquireTokenByRefreshToken(refreshToken: token.refreshToken()!, scopes: [Demo.imapScope])
        XCTAssertEqual(fresh.account()?.username, Demo.user)
        XCTAssertEqual(try other.accounts().map(\.username), [Demo.user])
    }

    func testClientPropertiesAndDefaultAuthority() throws {
        let plain = try PublicClient(clientId: Demo.publicClientId)
        XCTAssertEqual(plain.clientId(), Demo.publicClientId)
        XCTAssertEqual(plain.authority(), "https://login.microsoftonline.com/organizations")
        let usgov = try PublicClient(clientId: Demo.publicClientId, options: ClientOptions(tenant: "contoso.us", cloud: "usgov"))
        XCTAssertEqual(usgov.authority(), "https://login.microsoftonline.us/contoso.us")
    }

    func testUnusableCertificateIsAConfigurationError() async throws {
        let d = await expectError("ConfigurationError") {
            try ConfidentialClient.withCertificate(clientId: Demo.confidentialClientId, certificatePem: "not a certificate")
        }
        XCTAssertEqual(d?.kind, "configuration")
    }

    func testHandlerCanCancelTheOneCallFlow() async throws {
        final class CancelAtOnce: DeviceCodeHandler, @unchecked Sendable {
            func showDeviceCode(flow: DeviceFlow) { flow.cancel() }
        }
        await expectError("Cancelled") {
            try await self.client.acquireTokenByDeviceCode(scopes: [Demo.imapScope], handler: CancelAtOnce())
        }
        let polls = try await emulator.grants("device_code")
        XCTAssertEqual(polls, 0)
    }

    func testSignInWithDeviceCodeShowsTheFlowFirst() async throws {
        final class Shown: @unchecked Sendable {
            let lock = NSLock()
            var codes: [String] = []
            func add(_ code: String) { lock.lock(); codes.append(code); lock.unlock() }
        }
        let shown = Shown()
        let emulator = self.emulator!
        async let approved = emulator.approveWhenPending()
        let token = try await client.signInWithDeviceCode(scopes: [Demo.imapScope]) { shown.add($0.userCode()) }
        let code = try await approved
        XCTAssertEqual(shown.codes, [code])
        XCTAssertEqual(token.account()?.username, Demo.user)
    }

    /// A slow token request (the emulator delays it 1.5 s) does not hold up three device-code
    /// starts on the same client, and the caller's task keeps running meanwhile.
    func testDifferentCallsRunConcurrently() async throws {
        try await emulator.fault(["endpoint": "token", "grant_type": "password", "kind": "delay", "millis": 1500])
        let client = self.client!
        let start = Date()
        async let slow = client.acquireTokenByUsernamePassword(
            username: Demo.user, password: Demo.password, scopes: [Demo.imapScope])
        let flows = try await withThrowingTaskGroup(of: (String, Double).self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let flow = try await client.startDeviceFlow(scopes: [Demo.imapScope])
                    return (flow.userCode(), Date().timeIntervalSince(start))
                }
            }
            return try await group.reduce(into: [(String, Double)]()) { $0.append($1) }
        }
        var ticks = 0
        while Date().timeIntervalSince(start) < 1.0 {  // this task runs while the slow call is pending
            try await Task.sleep(nanoseconds: 50_000_000)
            ticks += 1
        }
        let token = try await slow
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(token.account()?.username, Demo.user)
        XCTAssertEqual(Set(flows.map(\.0)).count, 3)
        XCTAssertTrue(flows.allSatisfy { $0.1 < 1.4 }, "a device-code start waited for the slow request: \(flows)")
        XCTAssertGreaterThan(elapsed, 1.4)
        XCTAssertLessThan(elapsed, 5)
        XCTAssertGreaterThanOrEqual(ticks, 10)
    }

    // MARK: the token store

    func testRefreshThroughTheForeignStoreSavesTheRotatedToken() async throws {
        try await emulator.settings(["token_lifetime_secs": 120])
        let store = IdentityTests.MemoryStore()
        let client = try PublicClient(clientId: Demo.publicClientId, options: ClientOptions(authority: emulator.authority),
                                      cache: try TokenCache.custom(store: store))
        let first = try await signIn(client)
        let saves = store.saves
        let refreshed = try await client.acquireTokenSilent(scopes: [Demo.imapScope], account: Demo.user)
        XCTAssertGreaterThan(store.saves, saves)
        let document = String(decoding: store.data ?? Data(), as: UTF8.self)
        XCTAssertTrue(document.contains(refreshed.refreshToken()!))
        XCTAssertFalse(document.contains(first.refreshToken()!))
    }

    func testStoreMessagesReachTheCaller() async throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom in the app's store" } }
        final class Broken: TokenStoreCallback, @unchecked Sendable {
            func load() throws -> Data? { throw Boom() }
            func save(data: Data) throws { throw Boom() }
        }
        final class Locked: TokenStoreCallback, @unchecked Sendable {
            func load() throws -> Data? { throw TokenStoreError.Failed(message: "errSecInteractionNotAllowed") }
            func save(data: Data) throws { throw TokenStoreError.Failed(message: "errSecInteractionNotAllowed") }
        }
        let d = await expectError("Storage") { try TokenCache.custom(store: Broken()).entries() }
        XCTAssertEqual(d?.kind, "storage")
        XCTAssertTrue(d?.message.contains("boom in the app's store") ?? false, "\(String(describing: d?.message))")
        let locked = try PublicClient(clientId: Demo.publicClientId, options: ClientOptions(authority: emulator.authority),
                                      cache: try TokenCache.custom(store: Locked()))
        await expectError("Storage") { try await locked.acquireTokenSilent(scopes: [Demo.imapScope], account: Demo.user) }
    }

    func testCorruptStoredCacheIsReported() async throws {
        let store = IdentityTests.MemoryStore()
        try store.save(data: Data("{not json".utf8))
        let d = await expectError("Storage") { try TokenCache.custom(store: store).entries() }
        XCTAssertEqual(d?.storeKind, "corrupt")
        XCTAssertTrue(try TokenCache.custom(store: store).describe().contains("app's token store"))
    }

    func testFileCacheAndMsalImport() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mailoauth-xctest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tokens.json").path
        let msal = try String(contentsOf: Demo.repo.appendingPathComponent("testdata/msal/token_cache.json"), encoding: .utf8)
        let imported = try await TokenCache.file(path: path).importMsal(msalJson: msal)
        XCTAssertGreaterThanOrEqual(imported, 1)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertEqual(UInt64(try TokenCache.file(path: path).entries().count), imported)
    }

    func testNegativeRefreshMarginIsAConfigurationError() async throws {
        await expectError("ConfigurationError") { try TokenCache.memory(refreshMarginSecs: -1) }
    }

    // MARK: values

    func testXoauth2Layout() throws {
        let raw = Data(base64Encoded: xoauth2(user: Demo.user, accessToken: "tok"))!
        XCTAssertEqual(String(decoding: raw, as: UTF8.self), "user=\(Demo.user)\u{1}auth=Bearer tok\u{1}\u{1}")
    }

    func testMailScopesForEveryCloud() throws {
        let all = try mailScopes(protocols: [.imap, .smtp, .pop3])
        XCTAssertTrue(all.contains("offline_access"))
        XCTAssertTrue(all.contains("https://outlook.office.com/SMTP.Send"))
        XCTAssertTrue(try mailScopes(protocols: [.imap], cloud: "china", refresh: false)[0].hasPrefix("https://partner.outlook.cn/"))
    }

    func testDecodeChallenge() async throws {
        let text = #"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#
        let c = try decodeChallenge(challenge: Data(text.utf8).base64EncodedString())
        XCTAssertEqual(c.status, "401")
        XCTAssertEqual(c.schemes, "bearer")
        XCTAssertEqual(c.scope, "https://mail.google.com/")
        XCTAssertEqual(c.raw, text)
        await expectError("ConfigurationError") { try decodeChallenge(challenge: "%%% not base64") }
    }

    func testVersion() {
        XCTAssertEqual(mailoauthVersion().split(separator: ".").count, 3)
    }
}

/// Walks core's full list of error kinds against the parity table every language reads
/// (testdata/parity/errors.json): each kind arrives as its own case, with core's group.
final class ErrorParityTests: XCTestCase {
    func testEveryCoreKindHasItsCaseAndGroup() throws {
        let url = Demo.repo.appendingPathComponent("testdata/parity/errors.json")
        let table = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var rows: [String: [String: Any]] = [:]
        var order: [String] = []
        for section in ["identity", "mail", "store"] {
            for row in table[section] as! [[String: Any]] {
                let key = "\(section).\(row["kind"] as! String)"
                rows[key] = row
                order.append(key)
            }
        }
        XCTAssertEqual(errorKinds(), order, "core's kinds and testdata/parity/errors.json differ")
        let groups = Set((table["groups"] as! [[String: Any]]).map { $0["group"] as! String })
        for kind in errorKinds() {
            let row = rows[kind]!
            let error = errorOfKind(kind: kind)
            XCTAssertEqual(caseName(error), row["swift"] as? String, kind)
            let wantKind = kind.hasPrefix("store.") ? "storage" : row["kind"] as! String
            XCTAssertEqual(error.details.kind, wantKind, kind)
            if kind.hasPrefix("store.") { XCTAssertEqual(error.details.storeKind, row["kind"] as? String, kind) }
            XCTAssertEqual(error.details.group, row["group"] as? String, kind)
            XCTAssertTrue(groups.contains(error.details.group), kind)
            if let temporary = row["temporary"] as? Bool {
                XCTAssertEqual(error.details.isTemporary, temporary, kind)
            }
            XCTAssertFalse(error.details.hint.isEmpty, kind)
        }
        XCTAssertEqual(caseName(errorOfKind(kind: "identity.no_such_kind")), "ConfigurationError")
    }

    /// The server connectImap/Smtp/Pop dial, for every case of testdata/parity/servers.json that
    /// Swift's types can express (protocol and security are enums here, so the cases of
    /// aliases and unknown names are the other languages').
    func testServerDefaultsParityTable() async throws {
        let url = Demo.repo.appendingPathComponent("testdata/parity/servers.json")
        let table = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let protocols: [String: MailProtocol] = ["imap": .imap, "smtp": .smtp, "pop3": .pop3]
        let securities: [String: Security] = ["tls": .tls, "starttls": .startTls, "plain": .plain]
        var checked = 0
        for case let c as [String: Any] in table["cases"] as! [Any] {
            let input = c["input"] as! [String: Any]
            guard let proto = protocols[input["protocol"] as! String] else { continue }
            var options = MailServerOptions(host: input["host"] as? String, port: (input["port"] as? Int).map { UInt16($0) },
                                            provider: input["provider"] as? String, cloud: input["cloud"] as? String)
            if let name = input["security"] as? String {
                guard let security = securities[name] else { continue }
                options.security = security
            }
            if let want = c["expect"] as? [String: Any] {
                let got = try mailServer(protocol: proto, options: options)
                XCTAssertEqual(got.host, want["host"] as? String, "\(input)")
                XCTAssertEqual(Int(got.port), want["port"] as? Int, "\(input)")
                XCTAssertEqual(got.security, securities[want["security"] as! String], "\(input)")
            } else {
                await expectError("ConfigurationError") { try mailServer(protocol: proto, options: options) }
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 20)
    }
}

/// Why a login failed, in the core's words, for every case of testdata/parity/diagnoses.json.
final class DiagnosisParityTests: XCTestCase {
    func testDiagnosesParityTable() async throws {
        let url = Demo.repo.appendingPathComponent("testdata/parity/diagnoses.json")
        let table = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let now = Int64(table["now"] as! Int)
        let cases = table["cases"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(cases.count, 8)
        let protocols: [String: MailProtocol] = ["imap": .imap, "smtp": .smtp, "pop3": .pop3]
        for c in cases {
            let name = c["name"] as! String
            // A mail error of the case's kind and protocol, as a failed login throws it.
            var details = errorOfKind(kind: "mail.\(c["kind"] as! String)").details
            details.mailProtocol = protocols[c["protocol"] as! String]
            let error = MailOAuthError.MailRejected(details: details)
            let d = try diagnose(error: error, accessToken: c["token"] as! String, user: c["user"] as! String,
                                 host: c["host"] as? String, now: now)
            XCTAssertEqual(d.cause, c["cause"] as? String, name)
            XCTAssertEqual(d.fix, c["fix"] as? String, name)
        }
        await expectError("ConfigurationError") {
            try diagnose(error: errorOfKind(kind: "identity.invalid_grant"), accessToken: "t", user: "u")
        }
    }
}
