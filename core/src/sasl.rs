//! SASL XOAUTH2 and OAUTHBEARER (RFC 7628) as pure functions.
//!
//! Both mechanisms are client-first: the client sends one response carrying the bearer
//! token. On failure the server answers with a base64 JSON *error challenge*; the client must
//! answer it with a dummy reply (an empty line for XOAUTH2, `AQ==` for OAUTHBEARER) and then
//! receives the final failure. The token is never sent twice.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

/// A SASL mechanism that carries an OAuth 2.0 bearer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mechanism {
    /// Google's and Microsoft's `XOAUTH2`.
    #[serde(rename = "XOAUTH2")]
    XOAuth2,
    /// `OAUTHBEARER` from RFC 7628.
    #[serde(rename = "OAUTHBEARER")]
    OAuthBearer,
}

impl Mechanism {
    /// The mechanism's name as servers advertise it (`XOAUTH2`, `OAUTHBEARER`).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The raw (not yet base64-encoded) initial client response.
    ///
    /// `host` and `port` are used by OAUTHBEARER only (both optional in RFC 7628).
    pub fn initial_response(self, user: &str, token: &str, host: Option<&str>, port: Option<u16>) -> Vec<u8> {
        match self {
            Mechanism::XOAuth2 => xoauth2_raw(user, token),
            Mechanism::OAuthBearer => oauthbearer_raw(user, token, host, port),
        }
    }

    /// The line to send (without CRLF) in answer to a server's error challenge: empty for
    /// XOAUTH2, `AQ==` (a single `0x01`) for OAUTHBEARER.
    pub fn challenge_reply(self) -> &'static str {
        match self {
            Mechanism::XOAuth2 => "",
            Mechanism::OAuthBearer => "AQ==",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given to [`Mechanism::from_str`] is not a supported mechanism.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SASL mechanism {0:?} (expected XOAUTH2 or OAUTHBEARER)")]
pub struct UnknownMechanism(pub String);

impl FromStr for Mechanism {
    type Err = UnknownMechanism;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("xoauth2") {
            Ok(Mechanism::XOAuth2)
        } else if s.eq_ignore_ascii_case("oauthbearer") {
            Ok(Mechanism::OAuthBearer)
        } else {
            Err(UnknownMechanism(s.to_owned()))
        }
    }
}

/// `user=<user>^Aauth=Bearer <token>^A^A`, not yet base64-encoded.
pub fn xoauth2_raw(user: &str, token: &str) -> Vec<u8> {
    crate::cat!("user=", user, "\x01auth=Bearer ", token, "\x01\x01").into_bytes()
}

/// The base64 XOAUTH2 client response for `user` and `access_token`.
///
/// ```
/// assert_eq!(
///     mailoauth::sasl::xoauth2("alice@example.com", "good-token-alice"),
///     "dXNlcj1hbGljZUBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciBnb29kLXRva2VuLWFsaWNlAQE="
/// );
/// ```
pub fn xoauth2(user: &str, access_token: &str) -> String {
    crate::base64::encode(xoauth2_raw(user, access_token))
}

/// Escapes a SASL authorization identity for the GS2 header (RFC 5801): `,` → `=2C`,
/// `=` → `=3D`.
pub fn gs2_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            ',' => out.push_str("=2C"),
            '=' => out.push_str("=3D"),
            c => out.push(c),
        }
    }
    out
}

/// The OAUTHBEARER client response before base64:
/// `n,a=<user>,^Ahost=<host>^Aport=<port>^Aauth=Bearer <token>^A^A`.
pub fn oauthbearer_raw(user: &str, token: &str, host: Option<&str>, port: Option<u16>) -> Vec<u8> {
    let mut s = crate::cat!("n,a=", gs2_escape(user), ",\x01");
    if let Some(host) = host {
        s.push_str("host=");
        s.push_str(host);
        s.push('\x01');
    }
    if let Some(port) = port {
        s.push_str("port=");
        s.push_str(&crate::text::decimal(port.into()));
        s.push('\x01');
    }
    s.push_str("auth=Bearer ");
    s.push_str(token);
    s.push_str("\x01\x01");
    s.into_bytes()
}

/// The base64 OAUTHBEARER client response (RFC 7628).
pub fn oauthbearer(user: &str, access_token: &str, host: Option<&str>, port: Option<u16>) -> String {
    crate::base64::encode(oauthbearer_raw(user, access_token, host, port))
}

/// A server's decoded SASL error challenge: the JSON Gmail, Dovecot and RFC 7628 servers send
/// before failing an XOAUTH2 or OAUTHBEARER login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorChallenge {
    /// `status`: `"401"`, `"400"` (XOAUTH2) or `invalid_token`, `insufficient_scope`,
    /// `invalid_request` (OAUTHBEARER).
    pub status: Option<String>,
    /// `schemes`, e.g. `"bearer"` or `"bearer mac"`.
    pub schemes: Option<String>,
    /// `scope` the server wants the token to carry.
    pub scope: Option<String>,
    /// `openid-configuration`: where the server says its identity provider lives.
    pub openid_configuration: Option<String>,
    /// The decoded JSON text; for a challenge that was not base64 JSON, the text as sent.
    pub raw: String,
}

/// A challenge that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Not base64.
    #[error("server challenge is not base64")]
    NotBase64,
    /// base64, but not a JSON object.
    #[error("server challenge is not a JSON object: {0}")]
    NotJson(String),
}

impl ErrorChallenge {
    /// Decodes a base64 challenge (the text after `+ ` or `334 `). Lenient: surrounding
    /// whitespace, a trailing newline inside the JSON, unknown fields and numbers where
    /// strings are expected are all accepted.
    pub fn decode(base64_text: &str) -> Result<ErrorChallenge, ChallengeError> {
        let bytes = crate::base64::decode(base64_text.trim()).ok_or(ChallengeError::NotBase64)?;
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        Self::from_json(&raw)
    }

    /// Parses the decoded JSON text of a challenge.
    pub fn from_json(raw: &str) -> Result<ErrorChallenge, ChallengeError> {
        use crate::json::{self, Value};
        let Some(obj) = json::parse_object(raw.trim().as_bytes()) else {
            return Err(ChallengeError::NotJson(crate::text::safe_text(raw.trim()).into_owned()));
        };
        let field = |name: &str| -> Option<String> {
            match obj.get(name)? {
                Value::String(s) => Some(crate::text::safe_text(s).into_owned()),
                Value::Null => None,
                other => Some(crate::text::safe_string(json::to_string(other))),
            }
        };
        Ok(ErrorChallenge {
            status: field("status"),
            schemes: field("schemes"),
            scope: field("scope"),
            openid_configuration: field("openid-configuration"),
            raw: crate::text::safe_text(raw.trim_end()).into_owned(),
        })
    }

    /// A one-line summary for error messages, e.g. `status=401 scope=mail`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.status {
            parts.push(format!("status={s}"));
        }
        if let Some(s) = &self.scope {
            parts.push(format!("scope={s}"));
        }
        if let Some(s) = &self.schemes {
            parts.push(format!("schemes={s}"));
        }
        if let Some(s) = &self.openid_configuration {
            parts.push(format!("openid-configuration={s}"));
        }
        // Fields a caller filled in by hand are made safe here too.
        let summary = if parts.is_empty() { self.raw.clone() } else { parts.join(" ") };
        crate::text::safe_string(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_round_trip() {
        for m in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
            assert_eq!(m.name().parse::<Mechanism>(), Ok(m));
            assert_eq!(m.name().to_lowercase().parse::<Mechanism>(), Ok(m));
        }
        assert!("PLAIN".parse::<Mechanism>().is_err());
    }

    #[test]
    fn gs2_escaping() {
        assert_eq!(gs2_escape("a,b=c"), "a=2Cb=3Dc");
        let raw = oauthbearer_raw("x,y", "t", None, None);
        assert_eq!(raw, b"n,a=x=2Cy,\x01auth=Bearer t\x01\x01");
    }

    #[test]
    fn challenge_with_numbers_and_newline() {
        let c = ErrorChallenge::from_json("{\"status\":401,\"extra\":[1]}\n").expect("json");
        assert_eq!(c.status.as_deref(), Some("401"));
        assert_eq!(c.summary(), "status=401");
        assert!(ErrorChallenge::decode("!!!").is_err());
        assert!(matches!(ErrorChallenge::decode(&crate::base64::encode("[1,2]")), Err(ChallengeError::NotJson(_))));
    }
}
