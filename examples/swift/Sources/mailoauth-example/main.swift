// A command-line tool for macOS and Linux: sign in with the device-code flow (the sign-in is
// kept in the Keychain on Apple platforms, in a token file elsewhere, so the next run is silent),
// then log in to IMAP with XOAUTH2 and keep using the session. The path MSAL for Apple platforms
// does not offer (no device-code flow).
//
//   MAILOAUTH_CLIENT_ID=<app id> swift run mailoauth-example
//
// Environment: MAILOAUTH_CLIENT_ID (required: a public client registration with "Allow public
// client flows" on and the IMAP.AccessAsUser.All permission), MAILOAUTH_TENANT (default
// organizations), MAILOAUTH_CLOUD (global, usgov, usgov-dod, china), MAILOAUTH_AUTHORITY (a
// full authority URL; the emulator's works), MAILOAUTH_IMAP (host:port, default the cloud's
// IMAP server with implicit TLS), MAILOAUTH_SECURITY (tls or starttls), MAILOAUTH_CA_FILE (an
// extra CA to trust), MAILOAUTH_KEYCHAIN_SERVICE (Apple platforms; default
// mailoauth-swift-example; "none" keeps the sign-in in memory only), MAILOAUTH_TOKEN_FILE
// (other platforms; default ~/.cache/mailoauth-swift-example/tokens.json, the CLI's file format,
// mode 0600; "none" keeps the sign-in in memory only), MAILOAUTH_FLOW=browser (the system browser with a
// loopback redirect instead of the device code).

import Foundation
import MailOAuth

func env(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(1)
}

guard let clientId = env("MAILOAUTH_CLIENT_ID") else {
    fail("set MAILOAUTH_CLIENT_ID to the application (client) id of your app registration")
}

do {
    #if canImport(Security)
    let keychainService = env("MAILOAUTH_KEYCHAIN_SERVICE") ?? "mailoauth-swift-example"
    let cache = try keychainService == "none"
        ? TokenCache.memory()
        : TokenCache.custom(store: KeychainTokenStore(service: keychainService))
    let kept = "in the Keychain"
    #else
    let tokenFile = env("MAILOAUTH_TOKEN_FILE")
        ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/mailoauth-swift-example/tokens.json").path
    let cache = try tokenFile == "none" ? TokenCache.memory() : TokenCache.file(path: tokenFile)
    let kept = "in \(tokenFile)"
    #endif
    let client = try PublicClient(
        clientId: clientId,
        options: ClientOptions(
            authority: env("MAILOAUTH_AUTHORITY"), tenant: env("MAILOAUTH_TENANT"), cloud: env("MAILOAUTH_CLOUD"),
            caFile: env("MAILOAUTH_CA_FILE")),
        cache: cache)
    let scopes = try mailScopes(protocols: [.imap], cloud: env("MAILOAUTH_CLOUD"))

    // 1. The cached sign-in (refreshed when due), else the device-code flow.
    let token: Token
    do {
        token = try await client.acquireTokenSilent(scopes: scopes)
        print("using the sign-in kept \(kept)")
    } catch MailOAuthError.InteractionRequired {
        if env("MAILOAUTH_FLOW") == "browser" {
            // The system browser and a loopback redirect (register http://localhost).
            final class PrintURL: SignInUrlHandler, Sendable {
                func showSignInUrl(url: String) { print("Sign in in your browser (opened for you):\n\(url)") }
            }
            token = try await client.acquireTokenInteractive(scopes: scopes, handler: PrintURL())
        } else {
            token = try await client.signInWithDeviceCode(scopes: scopes) { flow in
                print(flow.message())
            }
        }
    }
    guard let user = token.account()?.username else { fail("the token names no account") }
    print("signed in as \(user); the access token is valid for \(token.expiresIn()) s")

    // 2. IMAP with XOAUTH2; the session stays open for commands.
    var server = MailServerOptions(cloud: env("MAILOAUTH_CLOUD"), caFile: env("MAILOAUTH_CA_FILE"))
    if let imap = env("MAILOAUTH_IMAP") {
        let parts = imap.split(separator: ":", maxSplits: 1).map(String.init)
        server.host = parts[0]
        server.port = parts.count > 1 ? UInt16(parts[1]) : nil
    }
    switch env("MAILOAUTH_SECURITY") {
    case "starttls": server.security = .startTls
    case "tls": server.security = .tls
    default: break
    }
    let session = try await connectImap(user: user, accessToken: token.accessToken(), options: server)
    print("IMAP login OK; capabilities: \(session.capabilities().joined(separator: " "))")

    try await session.sendLine(line: "a1 STATUS INBOX (MESSAGES UNSEEN)")
    while true {
        let line = try await session.readLine()
        if line.hasPrefix("* STATUS") { print(line) }
        if line.hasPrefix("a1 ") { break }
    }
    try await session.sendLine(line: "a2 LOGOUT")
    await session.close()
} catch let error as MailOAuthError {
    // Every error names its kind, the AADSTS codes or the server's line, and a hint.
    fail("\(error.details.description)")
}
