// The FFI contract from Swift, against the identity-platform emulator: device code (flow
// object, callback, stream, declined, expired, cancellation both ways), silent acquisition and
// refresh, the split authorization-code flow, the loopback browser sign-in, confidential
// clients, one error of every identity kind, and the token store as a foreign trait.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MailOAuth
import XCTest

final class IdentityTests: EmulatorTestCase {
    // MARK: device code

    func testDeviceFlowObjectShowsTheCodeThenWaitReturnsTheToken() async throws {
        let flow = try await client.startDeviceFlow(scopes: [Demo.imapScope])
        XCTAssertTrue(flow.message().contains(flow.userCode()))
        XCTAssertTrue(flow.verificationUri().hasPrefix(emulator.base))
        XCTAssertTrue(flow.scopes().contains("offline_access"))
        XCTAssertGreaterThan(flow.expiresAt(), Int64(Date().timeIntervalSince1970) + 60)
        let pending = try await emulator.pendingCodes()
        XCTAssertEqual(pending, [flow.userCode()])
        try await emulator.approve(flow.userCode())
        let token = try await flow.wait()
        XCTAssertEqual(token.account()?.username, Demo.user)
        XCTAssertTrue(token.scopes().contains(Demo.imapScope))
        XCTAssertNotNil(token.refreshToken())
        XCTAssertEqual(token.accessToken().split(separator: ".").count, 3)
        XCTAssertEqual(try client.accounts().map(\.username), [Demo.user])
        let issued = try await emulator.issued("device_code")
        XCTAssertEqual(issued, 1)
    }

    func testDeviceCodeHandlerReceivesTheFlowBeforePolling() async throws {
        final class Handler: DeviceCodeHandler, @unchecked Sendable {
            var shown: [String] = []
            func showDeviceCode(flow: DeviceFlow) { shown.append(flow.userCode()) }
        }
        let handler = Handler()
        let emulator = self.emulator!
        async let approved = emulator.approveWhenPending()
        let token = try await client.acquireTokenByDeviceCode(scopes: [Demo.imapScope], handler: handler)
        let code = try await approved
        XCTAssertEqual(handler.shown, [code])
        XCTAssertEqual(token.account()?.username, Demo.user)
    }

    func testDeviceCodeSignInStream() async throws {
        var events: [String] = []
        for try await event in client.deviceCodeSignIn(scopes: [Demo.imapScope]) {
            switch event {
            case .code(let flow):
                events.append("code")
                try await emulator.approve(flow.userCode())
            case .signedIn(let token):
                events.append("signedIn")
                XCTAssertEqual(token.account()?.username, Demo.user)
            }
        }
        XCTAssertEqual(events, ["code", "signedIn"])
    }

    func testDeclinedCode() async throws {
        let flow = try await client.startDeviceFlow(scopes: [Demo.imapScope])
        try await emulator.deny(flow.userCode())
        let d = await expectError("Declined") { try await flow.wait() }
        XCTAssertEqual(d?.error, "authorization_declined")
    }

    func testExpiredCode() async throws {
        let flow = try await client.startDeviceFlow(scopes: [Demo.imapScope])
        try await emulator.request("POST", "/_emulator/clock", ["advance_secs": 3600])
        let d = await expectError("Expired") { try await flow.wait() }
        XCTAssertEqual(d?.error, "expired_token")
    }

    /// Polls the emulator's counter while a wait is pending, stops it, and checks polling stopped.
    private func assertPollingStops(stop: (Task<Token, Error>, DeviceFlow) async -> Void) async throws {
        try await emulator.settings(["device_code_interval_secs": 1])
        let flow = try await client.startDeviceFlow(scopes: [Demo.imapScope])
        let task = Task { try await flow.waitCancellable() }
        var whileWaiting = 0
        var tries = 0
        while whileWaiting < 2 && tries < 200 {  // until it has polled twice (interval 1 s), 20 s at most
            tries += 1
            try await Task.sleep(nanoseconds: 100_000_000)
            whileWaiting = try await emulator.grants("device_code")
        }
        XCTAssertGreaterThanOrEqual(whileWaiting, 2)
        await stop(task, flow)
        let atStop = try await emulator.grants("device_code")
        try await Task.sleep(nanoseconds: 3_200_000_000)
        let later = try await emulator.grants("device_code")
        XCTAssertEqual(later, atStop, "polling went on after stopping")
    }

    func testCancellingTheTaskStopsPolling() async throws {
        try await assertPollingStops { task, _ in
            task.cancel()
            let result = await task.result
            if case .failure(let error) = result {
                XCTAssertEqual(caseName(error), "Cancelled")
            } else {
                XCTFail("the cancelled wait returned a token")
            }
        }
    }

    func testCancelMethodStopsPolling() async throws {
        try await assertPollingStops { task, flow in
            flow.cancel()
            await expectError("Cancelled") { try await task.value }
        }
    }

    // MARK: silent, refresh, accounts

    func testSilentReturnsTheCachedToken() async throws {
        let token = try await signIn()
        try await emulator.request("DELETE", "/_emulator/counters")
        let again = try await client.acquireTokenSilent(scopes: [Demo.imapScope], account: Demo.user)
        XCTAssertEqual(again.accessToken(), token.accessToken())
        let requests = try await emulator.requests("token")
        XCTAssertEqual(requests, 0)
    }

    func testSilentRefreshesInsideTheMargin() async throws {
        try await emulator.settings(["token_lifetime_secs": 120])
        let token = try await signIn()
        let refreshed = try await client.acquireTokenSilent(scopes: [Demo.imapScope])
        XCTAssertNotEqual(refreshed.accessToken(), token.accessToken())
        XCTAssertNotEqual(refreshed.refreshToken(), token.refreshToken())
        let issued = try await emulator.issued("refresh_token")
        XCTAssertEqual(issued, 1)
    }

    func testConcurrentSilentCallsShareOneRefresh() async throws {
        try await emulator.settings(["token_lifetime_secs": 120])  // inside the 300 s margin: due at once
        let first = try await signIn()
        try await emulator.settings(["token_lifetime_secs": 3599])  // the refreshed token is not due
        try await emulator.request("DELETE", "/_emulator/counters")
        let client = self.client!
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask { try await client.acquireTokenSilent(scopes: [Demo.imapScope]).accessToken() }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        XCTAssertEqual(tokens.count, 1)
        XCTAssertFalse(tokens.contains(first.accessToken()))
        let refreshes = try await emulator.grants("refresh_token")
        XCTAssertEqual(refreshes, 1)
    }

    func testSilentWithoutSignInNeedsInteraction() async throws {
        let d = await expectError("InteractionRequired") {
            try await self.client.acquireTokenSilent(scopes: [Demo.imapScope], account: Demo.user)
        }
        XCTAssertEqual(d?.kind, "interaction_required")
    }

    func testRevokedRefreshToken() async throws {
        try await emulator.settings(["token_lifetime_secs": 120])
        let token = try await signIn()
        try await emulator.revoke()
        let silent = await expectError("InteractionRequired") {
            try await self.client.acquireTokenSilent(scopes: [Demo.imapScope], account: Demo.user)
        }
        XCTAssertEqual(silent?.codes, [50173])
        XCTAssertNotNil(silent?.correlationId)
        XCTAssertEqual(silent?.httpStatus, 400)
        let direct = await expectError("InvalidGrant") {
            try await self.client.acquireTokenByRefreshToken(refreshToken: token.refreshToken()!, scopes: [Demo.imapScope])
        }
        XCTAssertEqual(direct?.codes, [50173])
    }

    func testRemoveAccount() async throws {
        _ = try await signIn()
        let removed = try await client.removeAccount(account: Demo.user)
        XCTAssertTrue(removed)
        XCTAssertEqual(try client.accounts(), [])
    }

    // MARK: split authorization-code flow (ASWebAuthenticationSession)

    private static let iosClientId = "c0ffee00-0000-4000-8000-00000000a105"
    private static let iosRedirect = "msauth.com.example.mailoauth://auth"

    private func iosClient() async throws -> PublicClient {
        try await emulator.request("POST", "/_emulator/apps", [
            "client_id": Self.iosClientId, "name": "iOS mail app", "tenant": Demo.tenantId,
            "public_client": true, "allow_public_client_flows": true,
            "redirect_uris": [Self.iosRedirect], "sign_in_audience": "AzureADandPersonalMicrosoftAccount",
        ])
        return try PublicClient(clientId: Self.iosClientId, options: ClientOptions(authority: emulator.authority))
    }

    func testSplitFlowWithCustomSchemeRedirect() async throws {
        let client = try await iosClient()
        let flow = try client.initiateAuthCodeFlow(
            scopes: [Demo.imapScope], redirectUri: Self.iosRedirect, options: AuthorizationOptions(loginHint: Demo.user))
        let query = URLComponents(string: flow.url())!.queryItems!
        XCTAssertEqual(query.first { $0.name == "code_challenge_method" }?.value, "S256")
        XCTAssertEqual(query.first { $0.name == "state" }?.value, flow.state())
        let restored = try AuthCodeFlow.fromJson(json: try flow.toJson())
        try await emulator.settings(["auto_approve_as": Demo.user])
        let callback = try await emulator.redirectLocation(flow.url())
        XCTAssertTrue(callback.hasPrefix(Self.iosRedirect + "?"))
        let token = try await client.acquireTokenByAuthCodeFlow(flow: restored, callbackUrl: callback)
        XCTAssertEqual(token.account()?.username, Demo.user)
    }

    func testSplitFlowRejectsForeignState() async throws {
        let client = try await iosClient()
        let flow = try client.initiateAuthCodeFlow(scopes: [Demo.imapScope], redirectUri: Self.iosRedirect)
        await expectError("ProtocolError") {
            try await client.acquireTokenByAuthCodeFlow(flow: flow, callbackUrl: Self.iosRedirect + "?code=x&state=other")
        }
    }

    func testSplitFlowErrorRedirectIsDeclined() async throws {
        let client = try await iosClient()
        let flow = try client.initiateAuthCodeFlow(scopes: [Demo.imapScope], redirectUri: Self.iosRedirect)
        var callback = URLComponents(string: Self.iosRedirect)!
        callback.queryItems = [
            URLQueryItem(name: "error", value: "access_denied"),
            URLQueryItem(name: "error_description", value: "AADSTS65004: User declined to consent."),
            URLQueryItem(name: "state", value: flow.state()),
        ]
        let d = await expectError("Declined") {
            try await client.acquireTokenByAuthCodeFlow(flow: flow, callbackUrl: callback.string!)
        }
        XCTAssertEqual(d?.codes, [65004])
    }

    // MARK: browser sign-in with a loopback redirect

    func testInteractiveLoopbackSignIn() async throws {
        final class Browser: SignInUrlHandler, @unchecked Sendable {
            var shown: [String] = []
            func showSignInUrl(url: String) {
                shown.append(url)
                // The "browser" follows the authorize URL to the loopback redirect.
                Task.detached { _ = try? await URLSession.shared.data(from: URL(string: url)!) }
            }
        }
        try await emulator.settings(["auto_approve_as": Demo.user])
        let browser = Browser()
        let token = try await client.acquireTokenInteractive(
            scopes: [Demo.imapScope],
            options: InteractiveOptions(loginHint: Demo.user, openBrowser: false, timeoutSecs: 20),
            handler: browser)
        XCTAssertEqual(token.account()?.username, Demo.user)
        XCTAssertEqual(browser.shown.count, 1)
        XCTAssertTrue(browser.shown[0].contains("code_challenge_method=S256"))
    }

    func testInteractiveWithoutRedirectTimesOut() async throws {
        await expectError("Cancelled") {
            try await self.client.acquireTokenInteractive(
                scopes: [Demo.imapScope], options: InteractiveOptions(openBrowser: false, timeoutSecs: 0.5))
        }
    }

    // MARK: confidential clients

    func testConfidentialClientWithSecret() async throws {
        let app = try ConfidentialClient.withSecret(
            clientId: Demo.confidentialClientId, clientSecret: Demo.clientSecret,
            options: ClientOptions(authority: emulator.tenantAuthority))
        let token = try await app.acquireTokenForClient(scopes: [try appOnlyScope()])
        XCTAssertNil(token.account())
        XCTAssertNil(token.refreshToken())
    }

    func testConfidentialClientWithCertificate() async throws {
        let keys = Demo.repo.appendingPathComponent("emulator/keys")
        let cert = try String(contentsOf: keys.appendingPathComponent("demo-client-cert.pem"), encoding: .utf8)
        let key = try String(contentsOf: keys.appendingPathComponent("demo-client-cert-key.pem"), encoding: .utf8)
        for algorithm in [AssertionAlgorithm.ps256, .rs256] {
            let app = try ConfidentialClient.withCertificate(
                clientId: Demo.confidentialClientId, certificatePem: cert, privateKeyPem: key, algorithm: algorithm,
                options: ClientOptions(authority: emulator.tenantAuthority))
            let token = try await app.acquireTokenForClient(scopes: ["https://outlook.office365.com/.default"])
            XCTAssertNil(token.account())
        }
    }

    func testWrongSecretIsInvalidClientWithoutTheSecret() async throws {
        let wrong = "not-the-secret~0123456789"
        let app = try ConfidentialClient.withSecret(
            clientId: Demo.confidentialClientId, clientSecret: wrong,
            options: ClientOptions(authority: emulator.tenantAuthority))
        let d = await expectError("InvalidClient") { try await app.acquireTokenForClient(scopes: [try appOnlyScope()]) }
        XCTAssertEqual(d?.codes, [7000215])
        XCTAssertFalse(String(reflecting: d as Any).contains(wrong))
    }

    // MARK: one error of every identity kind

    func testErrorKinds() async throws {
        let ropc = { (user: String, password: String) in
            try await self.client.acquireTokenByUsernamePassword(
                username: user, password: password, scopes: [Demo.imapScope])
        }
        _ = try await ropc(Demo.user, Demo.password)

        let mfa = await expectError("MfaRequired") { try await ropc(Demo.mfaUser, Demo.mfaPassword) }
        XCTAssertTrue(mfa?.codes.contains(50076) ?? false)

        let grant = await expectError("InvalidGrant") { try await ropc(Demo.user, "wrong-password-4711") }
        XCTAssertEqual(grant?.codes, [50126])
        XCTAssertFalse(grant?.description.contains("wrong-password-4711") ?? true)

        try await emulator.request("POST", "/_emulator/consent",
                                   ["username": Demo.user, "client_id": Demo.publicClientId, "granted": false])
        let consent = await expectError("ConsentRequired") { try await ropc(Demo.user, Demo.password) }
        XCTAssertTrue(consent?.codes.contains(65001) ?? false)
        try await emulator.request("POST", "/_emulator/consent",
                                   ["username": Demo.user, "client_id": Demo.publicClientId, "granted": true])

        try await emulator.fault(["endpoint": "token", "kind": "aadsts", "code": 53003])
        let policy = await expectError("BlockedByPolicy") { try await ropc(Demo.user, Demo.password) }
        XCTAssertEqual(policy?.codes, [53003])

        try await emulator.fault(["endpoint": "token", "kind": "status", "status": 429, "retry_after": 120])
        let throttled = await expectError("Throttled") { try await ropc(Demo.user, Demo.password) }
        XCTAssertEqual(throttled?.retryAfterSecs, 120)
        XCTAssertEqual(throttled?.isTemporary, true)

        try await emulator.fault(["endpoint": "token", "kind": "status", "status": 503, "times": 3])
        let network = await expectError("NetworkError") { try await ropc(Demo.user, Demo.password) }
        XCTAssertEqual(network?.httpStatus, 503)

        await expectError("ConfigurationError") {
            try PublicClient(clientId: Demo.publicClientId,
                             options: ClientOptions(authority: "http://login.example.com/organizations"))
        }
        await expectError("ConfigurationError") {
            try PublicClient(clientId: Demo.publicClientId, options: ClientOptions(cloud: "mars"))
        }
    }

    // MARK: the token store as a foreign trait

    final class MemoryStore: TokenStoreCallback, @unchecked Sendable {
        private let lock = NSLock()
        private var item: Data?
        private(set) var saves = 0
        var data: Data? {
            lock.lock()
            defer { lock.unlock() }
            return item
        }
        func load() throws -> Data? { data }
        func save(data: Data) throws {
            lock.lock()
            defer { lock.unlock() }
            item = data
            saves += 1
        }
    }

    func testForeignStoreKeepsTheSignInForTheNextClient() async throws {
        let store = MemoryStore()
        let options = ClientOptions(authority: emulator.authority)
        let first = try PublicClient(clientId: Demo.publicClientId, options: options,
                                     cache: try TokenCache.custom(store: store))
        let token = try await signIn(first)
        XCTAssertGreaterThan(store.saves, 0)
        XCTAssertTrue(String(decoding: store.data ?? Data(), as: UTF8.self).contains(token.refreshToken()!))

        try await emulator.request("DELETE", "/_emulator/counters")
        let second = try PublicClient(clientId: Demo.publicClientId, options: options,
                                      cache: try TokenCache.custom(store: store))
        XCTAssertEqual(try second.accounts().map(\.username), [Demo.user])
        let again = try await second.acquireTokenSilent(scopes: [Demo.imapScope])
        XCTAssertEqual(again.accessToken(), token.accessToken())
        let requests = try await emulator.requests("token")
        XCTAssertEqual(requests, 0)
    }

    func testStoreErrorsArriveAsStorage() async throws {
        final class Locked: TokenStoreCallback, @unchecked Sendable {
            func load() throws -> Data? { throw TokenStoreError.Failed(message: "errSecInteractionNotAllowed") }
            func save(data: Data) throws { throw TokenStoreError.Failed(message: "errSecInteractionNotAllowed") }
        }
        struct Unexpected: Error {}
        final class Broken: TokenStoreCallback, @unchecked Sendable {
            func load() throws -> Data? { throw Unexpected() }
            func save(data: Data) throws { throw Unexpected() }
        }
        let locked = try PublicClient(clientId: Demo.publicClientId, options: ClientOptions(authority: emulator.authority),
                                      cache: try TokenCache.custom(store: Locked()))
        let d = await expectError("Storage") { try locked.accounts() }
        XCTAssertTrue(d?.message.contains("errSecInteractionNotAllowed") ?? false)
        let broken = await expectError("Storage") { try TokenCache.custom(store: Broken()).entries() }
        XCTAssertEqual(broken?.storeKind, "io")
    }

    #if os(macOS)
    func testKeychainTokenStoreRoundTrip() async throws {
        let store = KeychainTokenStore(service: "mailoauth-xctest-\(UUID().uuidString)")
        defer { try? store.delete() }
        XCTAssertNil(try store.load())
        let client = try PublicClient(clientId: Demo.publicClientId, options: ClientOptions(authority: emulator.authority),
                                      cache: try TokenCache.custom(store: store))
        _ = try await signIn(client)
        XCTAssertNotNil(try store.load())
        let restarted = try TokenCache.custom(store: store)
        XCTAssertEqual(try restarted.entries().map(\.account.username), [Demo.user])
    }
    #endif

    // MARK: values

    func testTokenDescriptionHidesSecrets() async throws {
        let token = try await signIn()
        let text = String(reflecting: token) + String(describing: token)
        XCTAssertFalse(text.contains(token.accessToken()))
        XCTAssertFalse(text.contains(token.refreshToken()!))
        XCTAssertFalse(text.contains(token.idToken()!))
        XCTAssertTrue(text.contains(Demo.user))
    }
}
