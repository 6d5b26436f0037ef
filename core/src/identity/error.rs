//! The error of token acquisition, with a hint per AADSTS code.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;
use core::time::Duration;

use serde::{Deserialize, Serialize};

/// What went wrong, grouped by what the caller should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityErrorKind {
    /// A person must sign in interactively (no usable refresh token, `interaction_required`,
    /// `login_required`, a claims challenge).
    InteractionRequired,
    /// The user or an admin must consent to the app's permissions (AADSTS65001).
    ConsentRequired,
    /// Multi-factor authentication is required (AADSTS50076, 50079): use an interactive
    /// flow (browser or device code), not ROPC.
    MfaRequired,
    /// The app registration or the client's configuration is wrong: unknown client id,
    /// wrong secret or certificate, public/confidential mismatch, redirect URI not
    /// registered, wrong tenant.
    InvalidClient,
    /// The grant (refresh token, code, password) is invalid, expired or revoked: sign in
    /// again.
    InvalidGrant,
    /// The user declined the sign-in (device code or browser).
    Declined,
    /// The device code or the authorization code expired before it was used.
    Expired,
    /// The identity platform asks to slow down (HTTP 429 / 503 with Retry-After).
    Throttled,
    /// A tenant policy blocks the sign-in (Conditional Access, AADSTS53003).
    BlockedByPolicy,
    /// The identity platform could not be reached, or answered 5xx after retries.
    Network,
    /// The answer was not what the protocol allows (malformed JSON, missing fields, a
    /// state mismatch on the redirect).
    Protocol,
    /// The caller's input is unusable (bad authority URL, `http://` to a non-loopback
    /// host, a scope set that cannot work).
    Configuration,
    /// The operation was cancelled or timed out waiting for the user.
    Cancelled,
    /// The token store failed (unreadable or corrupt cache file, wrong permissions, a store
    /// command or the keyring failed). Nothing was lost: the message says what to fix.
    Storage,
}

impl IdentityErrorKind {
    /// Whether retrying the same request later can help.
    pub fn is_temporary(self) -> bool {
        matches!(self, IdentityErrorKind::Throttled | IdentityErrorKind::Network)
    }
}

impl fmt::Display for IdentityErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl IdentityErrorKind {
    /// What [`Display`](fmt::Display) shows: `interaction required`, `throttled`, ...
    pub fn label(self) -> &'static str {
        match self {
            IdentityErrorKind::InteractionRequired => "interaction required",
            IdentityErrorKind::ConsentRequired => "consent required",
            IdentityErrorKind::MfaRequired => "MFA required",
            IdentityErrorKind::InvalidClient => "invalid client configuration",
            IdentityErrorKind::InvalidGrant => "invalid grant (sign in again)",
            IdentityErrorKind::Declined => "declined by the user",
            IdentityErrorKind::Expired => "expired",
            IdentityErrorKind::Throttled => "throttled",
            IdentityErrorKind::BlockedByPolicy => "blocked by policy",
            IdentityErrorKind::Network => "network error",
            IdentityErrorKind::Protocol => "protocol error",
            IdentityErrorKind::Configuration => "configuration error",
            IdentityErrorKind::Cancelled => "cancelled",
            IdentityErrorKind::Storage => "token store error",
        }
    }
}

/// A failed token request. Carries the server's `error`, `error_description`, AADSTS codes,
/// correlation and trace ids and any claims challenge — never a secret. The fields live in
/// [`IdentityErrorDetails`] (reachable through `Deref`), boxed to keep `Result`s small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityError(Box<IdentityErrorDetails>);

impl core::ops::Deref for IdentityError {
    type Target = IdentityErrorDetails;
    fn deref(&self) -> &IdentityErrorDetails {
        &self.0
    }
}

impl core::ops::DerefMut for IdentityError {
    fn deref_mut(&mut self) -> &mut IdentityErrorDetails {
        &mut self.0
    }
}

impl From<IdentityErrorDetails> for IdentityError {
    fn from(details: IdentityErrorDetails) -> Self {
        IdentityError(Box::new(details))
    }
}

/// The fields of an [`IdentityError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityErrorDetails {
    /// What kind of failure it is.
    pub kind: IdentityErrorKind,
    /// What happened, in words.
    pub message: String,
    /// The OAuth `error` value (`invalid_grant`, `authorization_pending`, ...).
    pub error: Option<String>,
    /// The server's `error_description`.
    pub error_description: Option<String>,
    /// Microsoft's AADSTS codes (`error_codes`).
    pub codes: Vec<u32>,
    /// `suberror` (`consent_required`, `bad_token`, ...).
    pub suberror: Option<String>,
    /// `correlation_id`, for support requests.
    pub correlation_id: Option<String>,
    /// `trace_id`.
    pub trace_id: Option<String>,
    /// A claims challenge to pass to the next interactive sign-in.
    pub claims: Option<String>,
    /// How long the server asked us to wait (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
    /// The HTTP status, if the error came from an HTTP answer.
    pub http_status: Option<u16>,
}

impl IdentityError {
    /// An error without server details.
    pub fn new(kind: IdentityErrorKind, message: impl Into<String>) -> Self {
        IdentityError::from(IdentityErrorDetails {
            kind,
            message: crate::text::safe_string(message.into()),
            error: None,
            error_description: None,
            codes: Vec::new(),
            suberror: None,
            correlation_id: None,
            trace_id: None,
            claims: None,
            retry_after: None,
            http_status: None,
        })
    }

    /// Whether retrying later can help.
    pub fn is_temporary(&self) -> bool {
        self.kind.is_temporary()
    }

    /// A one-line hint naming what to change, from the first AADSTS code that has one, else
    /// from the kind.
    pub fn hint(&self) -> &'static str {
        self.codes.iter().find_map(|c| aadsts_hint(*c)).unwrap_or_else(|| kind_hint(self.kind))
    }
}

impl IdentityError {
    /// What [`Display`](fmt::Display) shows before `. Hint: ` and the [`hint`](Self::hint): the
    /// kind, the message, the first AADSTS code and the correlation id. (The browser's JS adds a
    /// hint it loads on demand to this; see [`aadsts_hint`].)
    pub fn summary(&self) -> String {
        // The message can quote the server: printed safe even if a caller built it by hand.
        let mut out = crate::cat!(self.kind.label(), ": ", crate::text::safe_text(&self.message));
        if let Some(code) = self.codes.first() {
            out.push_str(" (AADSTS");
            out.push_str(&crate::text::decimal(i64::from(*code)));
            if let Some(c) = &self.correlation_id {
                out.push_str(", correlation id ");
                out.push_str(&crate::text::safe_text(c));
            }
            out.push(')');
        }
        out
    }

    /// What [`Display`](fmt::Display) shows: the [`summary`](Self::summary), `. Hint: ` and the
    /// [`hint`](Self::hint) (without `core::fmt`, for the browser's wasm).
    pub fn text(&self) -> String {
        crate::cat!(self.summary(), ". Hint: ", self.hint())
    }
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl core::error::Error for IdentityError {}

/// The one-line hint for a kind.
pub fn kind_hint(kind: IdentityErrorKind) -> &'static str {
    match kind {
        IdentityErrorKind::InteractionRequired => "sign in again interactively (browser or device code)",
        IdentityErrorKind::ConsentRequired => "have the user (or a tenant admin) consent to the app's mail permissions",
        IdentityErrorKind::MfaRequired => "use an interactive flow (browser or device code); ROPC cannot do MFA",
        IdentityErrorKind::InvalidClient => {
            "check the client id, tenant, secret or certificate and the app registration's platform settings"
        }
        IdentityErrorKind::InvalidGrant => "the refresh token or code is no longer valid: sign in again",
        IdentityErrorKind::Declined => "the user declined; start the sign-in again if that was a mistake",
        IdentityErrorKind::Expired => {
            "the code expired before it was used: start the sign-in again and finish it sooner"
        }
        IdentityErrorKind::Throttled => "wait for the Retry-After time, then try again",
        IdentityErrorKind::BlockedByPolicy => {
            "a tenant policy (Conditional Access) blocks this sign-in: ask the tenant admin"
        }
        IdentityErrorKind::Network => "check the network connection and the authority URL, then retry",
        IdentityErrorKind::Protocol => "the identity platform answered unexpectedly: check the authority URL",
        IdentityErrorKind::Configuration => "fix the configuration named in the message",
        IdentityErrorKind::Cancelled => "start the sign-in again",
        IdentityErrorKind::Storage => {
            "fix the token store named in the message (file permissions, store command, keyring)"
        }
    }
}

/// Hints for the AADSTS codes mail apps meet (protocol facts §2.7 and the grant sections), by
/// code. Without the `hint-texts` feature (the browser's wasm) the texts are left out: the JS
/// package loads them on demand (`dist/aadsts-hints.js`, generated from this table by the Node
/// build's `aadstsHints()`) when an error carries AADSTS codes.
#[cfg(feature = "hint-texts")]
pub const AADSTS_HINTS: &[(u32, &str)] = &[
    (50076, "MFA is required: sign in with the browser or device-code flow (not username/password)"),
    (50079, "the user must register for MFA: sign in interactively once in a browser"),
    (50078, "the MFA registration or claim expired: sign in interactively again"),
    (65001, "no consent for the app: sign in interactively to consent, or have an admin grant tenant-wide consent (see `mailoauth doctor`)"),
    (700016, "the client id is not registered in this tenant: check --client-id and --tenant, or have an admin add the app to the tenant"),
    (7000218, "the app expects a client secret or certificate: for public flows enable 'Allow public client flows' and add a Mobile and desktop platform in the app registration"),
    (700025, "this is a public client: do not send a client secret, or register the app as a confidential (web) client"),
    (7000215, "the client secret is wrong: copy the secret's Value (not its ID) from Certificates & secrets"),
    (7000222, "the client secret expired: create a new one under Certificates & secrets"),
    (700027, "the client assertion signature does not match: upload the certificate used for signing to the app registration"),
    (50126, "wrong username or password (ROPC)"),
    (53003, "blocked by Conditional Access: ask the tenant admin to allow this app, device or location"),
    (70000, "the grant is invalid: sign in again"),
    (70008, "the refresh token expired or was revoked: sign in again"),
    (700082, "the refresh token expired after inactivity: sign in again"),
    (700084, "the refresh token of a single-page app expired after 24 hours: sign in again"),
    (50173, "the grant was revoked (password change or admin action): sign in again"),
    (50089, "the sign-in flow expired: sign in again"),
    (70043, "a Conditional Access sign-in frequency policy requires a fresh sign-in: sign in again"),
    (90002, "tenant not found: check --tenant (GUID or domain) and the cloud (--cloud global|usgov|china)"),
    (50020, "the account does not belong to this tenant: use the user's own tenant, or invite the user as a guest"),
    (50034, "the user does not exist in this directory: check the username and the tenant"),
    (50053, "the account is locked after too many sign-in attempts: wait and retry, or contact the admin"),
    (50055, "the password expired: change it, then sign in again"),
    (50057, "the account is disabled: contact the tenant admin"),
    (50058, "no signed-in session for a silent request: sign in interactively"),
    (500011, "the resource (Office 365 Exchange Online) is not in the tenant: check the scope and that the tenant has Exchange Online"),
    (50011, "the redirect URI is not registered: add http://localhost (Mobile and desktop platform) to the app registration"),
    (50194, "a single-tenant app cannot use /common: use --tenant with the tenant GUID or domain"),
    (700005, "the code was issued for another tenant: redeem it against the same tenant as the authorize request"),
    (54005, "the authorization code was already redeemed: start the sign-in again"),
    (70011, "invalid scope: use the full Outlook scopes (https://outlook.office.com/IMAP.AccessAsUser.All ...), or .default for app-only"),
    (700022, "app-only scopes must name a single resource: use https://outlook.office365.com/.default"),
    (9002332, "this app does not accept personal Microsoft accounts: use --tenant organizations or register the app for personal accounts"),
    (9001023, "this grant is not allowed on /common or /consumers: use organizations or the tenant"),
    (90130, "this app or resource cannot be used on /common or /consumers: use the tenant"),
    (90124, "this app or resource cannot be used on /common or /consumers: use the tenant"),
    (501481, "the PKCE code verifier does not match: this is a client bug, start the sign-in again"),
    (70016, "the user has not finished signing in yet"),
    (70018, "wrong user code entered: start the device-code sign-in again"),
    (70019, "the device code expired: start the device-code sign-in again"),
    (9002326, "cross-origin token redemption needs a Single-page application platform in the app registration"),
];

/// Whether this build has the AADSTS hint texts (the `hint-texts` feature).
pub const HINT_TEXTS: bool = cfg!(feature = "hint-texts");

/// The hint for an AADSTS code, if the table has one (never, without the `hint-texts` feature).
pub fn aadsts_hint(code: u32) -> Option<&'static str> {
    #[cfg(feature = "hint-texts")]
    {
        AADSTS_HINTS.iter().find(|(c, _)| *c == code).map(|(_, h)| *h)
    }
    #[cfg(not(feature = "hint-texts"))]
    {
        let _ = code;
        None
    }
}
