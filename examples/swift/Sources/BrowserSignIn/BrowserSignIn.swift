// For iOS (and macOS) apps: the split authorization-code flow with ASWebAuthenticationSession.
// mailoauth builds the sign-in URL (PKCE S256, random state), the system browser sheet shows
// Microsoft's sign-in page, and the callback URL is redeemed by mailoauth (state checked,
// `error=` redirects turned into MailOAuthError cases, the token kept in the cache).
//
// Register the redirect URI (e.g. "msauth.com.example.mail://auth") under "Mobile and desktop
// applications" in the app registration; its scheme is the callback scheme here.
//
//     let client = try PublicClient(
//         clientId: "<app id>",
//         cache: try TokenCache.custom(store: KeychainTokenStore(service: "com.example.mail")))
//     let signIn = BrowserSignIn(client: client, redirectUri: "msauth.com.example.mail://auth", anchor: window)
//     let token = try await signIn.signIn(scopes: try mailScopes(protocols: [.imap, .smtp]))
//     let imap = try await connectImap(user: token.account()!.username, accessToken: token.accessToken())
//
// Later launches: `try await client.acquireTokenSilent(scopes: scopes)` (refreshes when due);
// on `MailOAuthError.InteractionRequired`, call `signIn` again.

// ASWebAuthenticationSession exists on Apple platforms only: elsewhere this module is empty.
#if canImport(AuthenticationServices)
import AuthenticationServices
import Foundation
import MailOAuth

/// Signs a user in with `ASWebAuthenticationSession` and mailoauth's split flow.
public final class BrowserSignIn: NSObject, ASWebAuthenticationPresentationContextProviding, @unchecked Sendable {
    private let client: PublicClient
    private let redirectUri: String
    private let anchor: ASPresentationAnchor
    private var session: ASWebAuthenticationSession?

    /// `anchor` is the window the browser sheet is presented from.
    public init(client: PublicClient, redirectUri: String, anchor: ASPresentationAnchor) {
        self.client = client
        self.redirectUri = redirectUri
        self.anchor = anchor
    }

    /// Shows the sign-in page and returns the token. A user who closes the sheet gets
    /// `ASWebAuthenticationSessionError.canceledLogin`; a declined consent
    /// `MailOAuthError.Declined`.
    @MainActor
    public func signIn(scopes: [String], loginHint: String? = nil, prompt: String? = nil) async throws -> Token {
        // 1. The URL to open; the flow keeps the PKCE verifier and the state.
        let flow = try client.initiateAuthCodeFlow(
            scopes: scopes, redirectUri: redirectUri,
            options: AuthorizationOptions(loginHint: loginHint, prompt: prompt))
        guard let url = URL(string: flow.url()), let scheme = URL(string: redirectUri)?.scheme else {
            throw URLError(.badURL)
        }

        // 2. The browser sheet, until it comes back to the redirect URI.
        final class Once: @unchecked Sendable { var resumed = false }
        let once = Once()
        let callback: URL = try await withCheckedThrowingContinuation { continuation in
            let session = ASWebAuthenticationSession(url: url, callbackURLScheme: scheme) { callbackURL, error in
                // Called on the main thread, once; `start()` failing below resumes instead.
                guard !once.resumed else { return }
                once.resumed = true
                if let callbackURL {
                    continuation.resume(returning: callbackURL)
                } else {
                    continuation.resume(throwing: error ?? URLError(.cancelled))
                }
            }
            session.presentationContextProvider = self
            session.prefersEphemeralWebBrowserSession = false  // keep the browser's sign-in (SSO)
            self.session = session
            if !session.start(), !once.resumed {
                once.resumed = true
                self.session = nil
                continuation.resume(throwing: URLError(.cannotOpenFile))
            }
        }
        self.session = nil

        // 3. mailoauth checks the state and redeems the code (the token goes into the cache).
        return try await client.acquireTokenByAuthCodeFlow(flow: flow, callbackUrl: callback.absoluteString)
    }

    public func presentationAnchor(for session: ASWebAuthenticationSession) -> ASPresentationAnchor {
        anchor
    }
}
#endif
