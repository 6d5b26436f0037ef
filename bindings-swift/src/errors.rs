//! The one error type every call throws ([`MailOAuthError`]: a Swift `Error` enum with a case
//! per kind) and the one conversion from each core error to it.
//!
//! Every case carries the same [`ErrorDetails`] record: the kind's name, the message, a
//! one-line hint, the server's OAuth details (AADSTS codes, correlation id, claims,
//! Retry-After) for token requests, and the protocol, stage, server line and decoded SASL
//! challenge for mail logins. None of it ever holds a secret: the core errors never do.

use mailoauth::cache::StoreError;
use mailoauth::identity::kind_hint;
use mailoauth::proto::mail_hint;
use mailoauth::{
    AnyErrorKind, ErrorChallenge, ErrorGroup, IdentityError, IdentityErrorKind, MailAuthError, MailErrorKind, Protocol,
    Stage,
};

use crate::mail::MailProtocol;

/// A server's decoded SASL error challenge (the JSON Gmail, Dovecot and RFC 7628 servers send
/// before failing an XOAUTH2 / OAUTHBEARER login).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SaslChallenge {
    /// `status`: `"401"`, `"400"` (XOAUTH2) or `invalid_token`, `insufficient_scope` (OAUTHBEARER).
    pub status: Option<String>,
    /// `schemes`, e.g. `"bearer"`.
    pub schemes: Option<String>,
    /// The `scope` the server wants the token to carry.
    pub scope: Option<String>,
    /// `openid-configuration`: where the server says its identity provider lives.
    pub openid_configuration: Option<String>,
    /// The decoded JSON text (for a challenge that was not base64 JSON: the text as sent).
    pub raw: String,
}

impl From<&ErrorChallenge> for SaslChallenge {
    fn from(c: &ErrorChallenge) -> Self {
        SaslChallenge {
            status: c.status.clone(),
            schemes: c.schemes.clone(),
            scope: c.scope.clone(),
            openid_configuration: c.openid_configuration.clone(),
            raw: c.raw.clone(),
        }
    }
}

/// What went wrong, in detail. Token-request fields are empty for mail errors and the other
/// way round.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct ErrorDetails {
    /// The kind as a snake_case name (`invalid_grant`, `rejected`, `corrupt`, ...).
    pub kind: String,
    /// What to do, as the core groups the kinds: `configuration`, `sign_in`, `mail_rejected`,
    /// `connection` or `identity` (the CLI's exit codes 1-5; `testdata/parity/errors.json`).
    pub group: String,
    /// What happened, in words.
    pub message: String,
    /// One line naming what to change (from the AADSTS code when there is one, else the kind).
    pub hint: String,
    /// The full one-line description (kind, message, AADSTS code, correlation id, hint).
    pub description: String,
    /// Whether retrying the same thing later can help (throttling, network, temporary failures).
    pub is_temporary: bool,
    /// Token requests: the OAuth `error` value (`invalid_grant`, `authorization_pending`, ...).
    pub error: Option<String>,
    /// Token requests: the server's `error_description`.
    pub error_description: Option<String>,
    /// Token requests: Microsoft's AADSTS codes (`error_codes`), e.g. `[70000]`.
    pub codes: Vec<u32>,
    /// Token requests: `suberror` (`consent_required`, `bad_token`, ...).
    pub suberror: Option<String>,
    /// Token requests: `correlation_id`, for support requests.
    pub correlation_id: Option<String>,
    /// Token requests: `trace_id`.
    pub trace_id: Option<String>,
    /// Token requests: a claims challenge to pass to the next interactive sign-in.
    pub claims: Option<String>,
    /// Token requests: how long the server asked to wait (HTTP `Retry-After`), in seconds.
    pub retry_after_secs: Option<f64>,
    /// Token requests: the HTTP status of the answer.
    pub http_status: Option<u16>,
    /// Mail: the protocol of the failed login or session.
    pub mail_protocol: Option<MailProtocol>,
    /// Mail: where it failed (`connect`, `tls`, `greeting`, `capabilities`, `starttls`, `auth`,
    /// `probe`; `session` for a command after the login).
    pub stage: Option<String>,
    /// Mail: the server's last line, if it said something.
    pub server_line: Option<String>,
    /// Mail: the server's decoded SASL error challenge, if it sent one.
    pub challenge: Option<SaslChallenge>,
    /// Mail: the challenge's JSON text, if it sent one.
    pub challenge_json: Option<String>,
    /// Token store: the store's failure kind (`corrupt`, `permissions`, `io`, `lock_timeout`,
    /// `command`, `unavailable`).
    pub store_kind: Option<String>,
}

/// Every error of the library, one case per kind; each carries [`ErrorDetails`].
///
/// Token acquisition: `InteractionRequired` ... `Storage`. Mail login and session:
/// `Mail...`. The mapping from the core's kinds is exhaustive: a kind the core adds does not
/// compile here until it has its case.
#[derive(Clone, Debug, thiserror::Error, uniffi::Error)]
pub enum MailOAuthError {
    /// A person must sign in interactively (browser or device code).
    #[error("{}", details.description)]
    InteractionRequired { details: ErrorDetails },
    /// The user or a tenant admin must consent to the app's mail permissions (AADSTS65001).
    #[error("{}", details.description)]
    ConsentRequired { details: ErrorDetails },
    /// Multi-factor authentication is required: use the browser or device-code flow.
    #[error("{}", details.description)]
    MfaRequired { details: ErrorDetails },
    /// The app registration or the client's configuration is wrong (client id, tenant, secret,
    /// certificate, redirect URI, public/confidential mismatch).
    #[error("{}", details.description)]
    InvalidClient { details: ErrorDetails },
    /// The refresh token, code or password is invalid, expired or revoked: sign in again.
    #[error("{}", details.description)]
    InvalidGrant { details: ErrorDetails },
    /// The user declined the sign-in.
    #[error("{}", details.description)]
    Declined { details: ErrorDetails },
    /// The device code or authorization code expired before it was used.
    #[error("{}", details.description)]
    Expired { details: ErrorDetails },
    /// The identity platform asks to slow down: wait `retryAfterSecs`, then retry.
    #[error("{}", details.description)]
    Throttled { details: ErrorDetails },
    /// A tenant policy (Conditional Access, AADSTS53003) blocks the sign-in.
    #[error("{}", details.description)]
    BlockedByPolicy { details: ErrorDetails },
    /// The identity platform could not be reached, or answered 5xx after retries.
    #[error("{}", details.description)]
    NetworkError { details: ErrorDetails },
    /// The identity platform's answer was malformed, or a redirect's state did not match.
    #[error("{}", details.description)]
    ProtocolError { details: ErrorDetails },
    /// The input is unusable (bad authority URL, `http://` to a non-loopback host, Graph
    /// scopes, both or neither credential, ...).
    #[error("{}", details.description)]
    ConfigurationError { details: ErrorDetails },
    /// The sign-in was cancelled or timed out waiting for the user.
    #[error("{}", details.description)]
    Cancelled { details: ErrorDetails },
    /// The token store failed (a foreign store threw, a corrupt cache, permissions).
    #[error("{}", details.description)]
    Storage { details: ErrorDetails },
    /// The mail server rejected the token (IMAP NO, SMTP 535, POP3 -ERR).
    #[error("{}", details.description)]
    MailRejected { details: ErrorDetails },
    /// The server or tenant has this kind of login switched off (SMTP 5.7.139).
    #[error("{}", details.description)]
    MailLoginDisabled { details: ErrorDetails },
    /// The server ended the session because the access token expired.
    #[error("{}", details.description)]
    MailTokenExpired { details: ErrorDetails },
    /// A temporary server failure: retry later.
    #[error("{}", details.description)]
    MailTemporaryFailure { details: ErrorDetails },
    /// Logged in, but the mailbox cannot be used ("authenticated but not connected").
    #[error("{}", details.description)]
    MailNotConnected { details: ErrorDetails },
    /// The connection could not be opened, or broke.
    #[error("{}", details.description)]
    MailNetworkError { details: ErrorDetails },
    /// A connect, read or write took longer than its time-out.
    #[error("{}", details.description)]
    MailTimeout { details: ErrorDetails },
    /// The TLS handshake failed (untrusted certificate, wrong name).
    #[error("{}", details.description)]
    MailTlsError { details: ErrorDetails },
    /// The server refused service in its greeting.
    #[error("{}", details.description)]
    MailGreetingRefused { details: ErrorDetails },
    /// STARTTLS was asked for but the server does not offer it; nothing secret was sent.
    #[error("{}", details.description)]
    MailStartTlsUnavailable { details: ErrorDetails },
    /// The server does not offer the SASL mechanism; nothing secret was sent.
    #[error("{}", details.description)]
    MailMechanismUnsupported { details: ErrorDetails },
    /// The server's answer broke the protocol.
    #[error("{}", details.description)]
    MailProtocolError { details: ErrorDetails },
}

/// The error a foreign token store ([`crate::TokenStoreCallback`]) throws. Any other error
/// thrown by the foreign code arrives as `Failed` with its description.
#[derive(Clone, Debug, thiserror::Error, uniffi::Error)]
pub enum TokenStoreError {
    /// Loading or saving failed (Keychain error, file error, ...); the message is shown to the
    /// caller in a `MailOAuthError.Storage`.
    #[error("{message}")]
    Failed { message: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TokenStoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TokenStoreError::Failed { message: format!("unexpected error from the foreign token store: {}", e.reason) }
    }
}

/// Details with only the common fields set.
fn base(
    kind: String,
    group: ErrorGroup,
    message: String,
    hint: String,
    description: String,
    is_temporary: bool,
) -> ErrorDetails {
    ErrorDetails {
        kind,
        group: group.name().to_owned(),
        message,
        hint,
        description,
        is_temporary,
        error: None,
        error_description: None,
        codes: Vec::new(),
        suberror: None,
        correlation_id: None,
        trace_id: None,
        claims: None,
        retry_after_secs: None,
        http_status: None,
        mail_protocol: None,
        stage: None,
        server_line: None,
        challenge: None,
        challenge_json: None,
        store_kind: None,
    }
}

impl From<IdentityError> for MailOAuthError {
    fn from(e: IdentityError) -> Self {
        use IdentityErrorKind as K;
        let details = ErrorDetails {
            error: e.error.clone(),
            error_description: e.error_description.clone(),
            codes: e.codes.clone(),
            suberror: e.suberror.clone(),
            correlation_id: e.correlation_id.clone(),
            trace_id: e.trace_id.clone(),
            claims: e.claims.clone(),
            retry_after_secs: e.retry_after.map(|d| d.as_secs_f64()),
            http_status: e.http_status,
            ..base(
                e.kind.name().to_owned(),
                e.kind.group(),
                e.message.clone(),
                e.hint().to_owned(),
                e.to_string(),
                e.is_temporary(),
            )
        };
        match e.kind {
            K::InteractionRequired => MailOAuthError::InteractionRequired { details },
            K::ConsentRequired => MailOAuthError::ConsentRequired { details },
            K::MfaRequired => MailOAuthError::MfaRequired { details },
            K::InvalidClient => MailOAuthError::InvalidClient { details },
            K::InvalidGrant => MailOAuthError::InvalidGrant { details },
            K::Declined => MailOAuthError::Declined { details },
            K::Expired => MailOAuthError::Expired { details },
            K::Throttled => MailOAuthError::Throttled { details },
            K::BlockedByPolicy => MailOAuthError::BlockedByPolicy { details },
            K::Network => MailOAuthError::NetworkError { details },
            K::Protocol => MailOAuthError::ProtocolError { details },
            K::Configuration => MailOAuthError::ConfigurationError { details },
            K::Cancelled => MailOAuthError::Cancelled { details },
            K::Storage => MailOAuthError::Storage { details },
        }
    }
}

impl From<MailAuthError> for MailOAuthError {
    fn from(e: MailAuthError) -> Self {
        use MailErrorKind as K;
        let details = ErrorDetails {
            mail_protocol: Some(e.protocol.into()),
            stage: Some(e.stage.name().to_owned()),
            server_line: e.server_line.clone(),
            challenge: e.challenge.as_deref().map(SaslChallenge::from),
            challenge_json: e.challenge.as_ref().map(|c| c.raw.clone()),
            ..base(
                e.kind.name().to_owned(),
                e.kind.group(),
                e.message.clone(),
                e.hint().to_owned(),
                e.to_string(),
                e.is_temporary(),
            )
        };
        match e.kind {
            K::Rejected => MailOAuthError::MailRejected { details },
            K::LoginDisabled => MailOAuthError::MailLoginDisabled { details },
            K::TokenExpired => MailOAuthError::MailTokenExpired { details },
            K::Temporary => MailOAuthError::MailTemporaryFailure { details },
            K::NotConnected => MailOAuthError::MailNotConnected { details },
            K::Network => MailOAuthError::MailNetworkError { details },
            K::Timeout => MailOAuthError::MailTimeout { details },
            K::Tls => MailOAuthError::MailTlsError { details },
            K::Greeting => MailOAuthError::MailGreetingRefused { details },
            K::StartTlsUnavailable => MailOAuthError::MailStartTlsUnavailable { details },
            K::MechanismUnsupported => MailOAuthError::MailMechanismUnsupported { details },
            K::Protocol => MailOAuthError::MailProtocolError { details },
        }
    }
}

impl From<StoreError> for MailOAuthError {
    fn from(e: StoreError) -> Self {
        let hint = kind_hint(IdentityErrorKind::Storage);
        let details = ErrorDetails {
            store_kind: Some(e.kind.name().to_owned()),
            ..base(
                IdentityErrorKind::Storage.name().to_owned(),
                e.kind.group(),
                e.message.clone(),
                hint.to_owned(),
                e.to_string(),
                false,
            )
        };
        MailOAuthError::Storage { details }
    }
}

/// The details every case carries.
pub(crate) fn details(e: &MailOAuthError) -> &ErrorDetails {
    match e {
        MailOAuthError::InteractionRequired { details }
        | MailOAuthError::ConsentRequired { details }
        | MailOAuthError::MfaRequired { details }
        | MailOAuthError::InvalidClient { details }
        | MailOAuthError::InvalidGrant { details }
        | MailOAuthError::Declined { details }
        | MailOAuthError::Expired { details }
        | MailOAuthError::Throttled { details }
        | MailOAuthError::BlockedByPolicy { details }
        | MailOAuthError::NetworkError { details }
        | MailOAuthError::ProtocolError { details }
        | MailOAuthError::ConfigurationError { details }
        | MailOAuthError::Cancelled { details }
        | MailOAuthError::Storage { details }
        | MailOAuthError::MailRejected { details }
        | MailOAuthError::MailLoginDisabled { details }
        | MailOAuthError::MailTokenExpired { details }
        | MailOAuthError::MailTemporaryFailure { details }
        | MailOAuthError::MailNotConnected { details }
        | MailOAuthError::MailNetworkError { details }
        | MailOAuthError::MailTimeout { details }
        | MailOAuthError::MailTlsError { details }
        | MailOAuthError::MailGreetingRefused { details }
        | MailOAuthError::MailStartTlsUnavailable { details }
        | MailOAuthError::MailMechanismUnsupported { details }
        | MailOAuthError::MailProtocolError { details } => details,
    }
}

/// Every error kind of the core as `section.kind` (`identity.interaction_required`,
/// `mail.rejected`, `store.corrupt`, ...), in core's order: what an app's error handling (and
/// its tests) must be ready for.
#[uniffi::export]
pub fn error_kinds() -> Vec<String> {
    AnyErrorKind::all().into_iter().map(AnyErrorKind::name).collect()
}

/// The error a failure of `kind` (one of [`error_kinds`]) arrives as, through the same
/// conversion every call uses: for testing an app's error handling without provoking each
/// failure. `ConfigurationError` for a name that is not a kind.
#[uniffi::export]
pub fn error_of_kind(kind: String) -> MailOAuthError {
    match AnyErrorKind::from_name(&kind) {
        Some(AnyErrorKind::Identity(k)) => IdentityError::new(k, "example").into(),
        Some(AnyErrorKind::Mail(k)) => MailAuthError::new(Protocol::Imap, Stage::Auth, k, "example").into(),
        Some(AnyErrorKind::Store(k)) => StoreError::new(k, "example").into(),
        None => {
            IdentityError::new(IdentityErrorKind::Configuration, format!("no error kind {:?}", kind.as_str())).into()
        }
    }
}

/// Why a mail login failed and what fixes it (the same words as `mailoauth check` and every
/// other binding).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Diagnosis {
    /// What most likely went wrong.
    pub cause: String,
    /// What to do about it.
    pub fix: String,
}

/// The likely cause of a failed mail login and its fix: `error` is the `Mail...` error,
/// `access_token` the token used, `user` the login user, `host` the mail host (for the
/// wrong-cloud check); `now` (Unix seconds) defaults to the clock. `ConfigurationError` for an
/// error that is not a mail login's.
#[uniffi::export(default(host = None, now = None))]
pub fn diagnose(
    error: MailOAuthError,
    access_token: String,
    user: String,
    host: Option<String>,
    now: Option<i64>,
) -> Result<Diagnosis, MailOAuthError> {
    let d = details(&error);
    let not_mail =
        || IdentityError::new(IdentityErrorKind::Configuration, "diagnose explains failed mail logins").into();
    let (Some(kind), Some(protocol)) = (MailErrorKind::from_name(&d.kind), d.mail_protocol) else {
        return Err(not_mail());
    };
    let now = now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX))
    });
    let found = mailoauth::diagnose::diagnose(
        kind,
        protocol.into(),
        &access_token,
        host.as_deref().unwrap_or(""),
        &user,
        None,
        now,
    );
    Ok(Diagnosis { cause: found.cause, fix: found.fix })
}

/// An I/O failure of an authenticated session (a command after the login), as the mail error
/// of its kind, with stage `session`.
pub(crate) fn session_io(protocol: Protocol, e: std::io::Error) -> MailOAuthError {
    let kind = match e.kind() {
        std::io::ErrorKind::TimedOut => MailErrorKind::Timeout,
        std::io::ErrorKind::InvalidData => MailErrorKind::Protocol,
        _ => MailErrorKind::Network,
    };
    let details = ErrorDetails {
        mail_protocol: Some(protocol.into()),
        stage: Some("session".to_owned()),
        ..base(
            kind.name().to_owned(),
            kind.group(),
            e.to_string(),
            mail_hint(kind, protocol).to_owned(),
            format!("{protocol} session: {kind}: {e}"),
            kind.is_temporary(),
        )
    };
    match kind {
        MailErrorKind::Timeout => MailOAuthError::MailTimeout { details },
        MailErrorKind::Protocol => MailOAuthError::MailProtocolError { details },
        _ => MailOAuthError::MailNetworkError { details },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use mailoauth::cache::StoreErrorKind;

    use super::*;

    fn case(e: &MailOAuthError) -> String {
        format!("{e:?}").split([' ', '{']).next().unwrap_or_default().to_owned()
    }

    #[test]
    fn every_identity_kind_has_its_own_case_and_name() {
        let kinds = IdentityErrorKind::ALL;
        let cases: HashSet<String> = kinds
            .iter()
            .map(|k| {
                let e = MailOAuthError::from(IdentityError::new(*k, "m"));
                assert_eq!(details(&e).kind, k.name());
                assert_eq!(details(&e).hint, kind_hint(*k));
                case(&e)
            })
            .collect();
        assert_eq!(cases.len(), kinds.len());
    }

    #[test]
    fn identity_details_cross_over() {
        let mut e = IdentityError::new(IdentityErrorKind::Throttled, "slow down");
        e.codes = vec![90055];
        e.correlation_id = Some("corr".to_owned());
        e.retry_after = Some(Duration::from_millis(1500));
        e.http_status = Some(429);
        let converted = MailOAuthError::from(e.clone());
        let d = details(&converted);
        assert_eq!(case(&converted), "Throttled");
        assert_eq!(d.kind, "throttled");
        assert_eq!((d.codes.as_slice(), d.correlation_id.as_deref()), (&[90055][..], Some("corr")));
        assert_eq!((d.retry_after_secs, d.http_status, d.is_temporary), (Some(1.5), Some(429), true));
        assert_eq!(d.description, e.to_string());
        assert_eq!(converted.to_string(), e.to_string());
        assert!(d.mail_protocol.is_none() && d.store_kind.is_none());
    }

    #[test]
    fn every_mail_kind_has_its_own_case() {
        let kinds = MailErrorKind::ALL;
        let cases: HashSet<String> =
            kinds.iter().map(|k| case(&MailAuthError::new(Protocol::Smtp, Stage::Auth, *k, "m").into())).collect();
        assert_eq!(cases.len(), kinds.len());
        assert!(cases.iter().all(|c| c.starts_with("Mail")));
    }

    #[test]
    fn mail_details_cross_over() {
        let mut e = MailAuthError::new(Protocol::Imap, Stage::Auth, MailErrorKind::Rejected, "no")
            .with_server_line("a1 NO AUTHENTICATE failed");
        e.challenge = Some(Box::new(ErrorChallenge::decode("eyJzdGF0dXMiOiI0MDEifQ==").expect("challenge")));
        let converted = MailOAuthError::from(e);
        let d = details(&converted);
        assert_eq!(case(&converted), "MailRejected");
        assert_eq!((d.mail_protocol, d.stage.as_deref()), (Some(MailProtocol::Imap), Some("auth")));
        assert_eq!(d.server_line.as_deref(), Some("a1 NO AUTHENTICATE failed"));
        assert_eq!(d.challenge.as_ref().and_then(|c| c.status.as_deref()), Some("401"));
        assert_eq!(d.challenge_json.as_deref(), Some(r#"{"status":"401"}"#));
    }

    #[test]
    fn store_and_session_errors() {
        let store = MailOAuthError::from(StoreError::new(StoreErrorKind::Corrupt, "not JSON"));
        assert_eq!(case(&store), "Storage");
        assert_eq!(details(&store).store_kind.as_deref(), Some("corrupt"));
        let timeout = session_io(Protocol::Pop3, std::io::Error::new(std::io::ErrorKind::TimedOut, "late"));
        assert_eq!(case(&timeout), "MailTimeout");
        assert_eq!(details(&timeout).stage.as_deref(), Some("session"));
        assert!(details(&timeout).is_temporary);
        let eof = session_io(Protocol::Imap, std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed"));
        assert_eq!(case(&eof), "MailNetworkError");
    }
}
