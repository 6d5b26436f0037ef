//! A sanity check of an access token before a mail login (decoded, not verified).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::scopes::{app_permission, delegated_permission};
use super::token::decode_jwt_claims;
use crate::json::{as_i64, get_str, Value};
use crate::Protocol;

/// Something about a token that will probably make the mail login fail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenWarning {
    /// The token is for Microsoft Graph, which IMAP/POP/SMTP servers reject.
    GraphAudience {
        /// The `aud` claim.
        audience: String,
    },
    /// The token is for another resource than Outlook / Exchange Online.
    UnexpectedAudience {
        /// The `aud` claim.
        audience: String,
    },
    /// Neither `scp` nor `roles` grants the protocol's permission.
    MissingPermission {
        /// The permission needed (`IMAP.AccessAsUser.All`, `SMTP.SendAsApp`, ...).
        needed: String,
        /// What the token has.
        granted: Vec<String>,
    },
    /// The token's user differs from the SASL user. Fine for a shared mailbox the user can
    /// access; otherwise Exchange answers "authenticated but not connected".
    UserMismatch {
        /// The user in the token.
        token_user: String,
        /// The SASL user.
        sasl_user: String,
    },
    /// The token has expired.
    Expired {
        /// Seconds since it expired.
        seconds_ago: i64,
    },
    /// Not a JWT (personal Microsoft accounts get opaque tokens): nothing could be checked.
    Opaque,
}

impl TokenWarning {
    /// The wire name of the variant (serde's `kind` tag): `graph_audience`, `expired`, ...
    pub fn name(&self) -> &'static str {
        match self {
            TokenWarning::GraphAudience { .. } => "graph_audience",
            TokenWarning::UnexpectedAudience { .. } => "unexpected_audience",
            TokenWarning::MissingPermission { .. } => "missing_permission",
            TokenWarning::UserMismatch { .. } => "user_mismatch",
            TokenWarning::Expired { .. } => "expired",
            TokenWarning::Opaque => "opaque",
        }
    }
}

impl fmt::Display for TokenWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenWarning::GraphAudience { audience } => write!(
                f,
                "the token is for Microsoft Graph ({audience}); mail servers reject it: request https://outlook.office.com/... scopes"
            ),
            TokenWarning::UnexpectedAudience { audience } => {
                write!(f, "the token's audience is {audience}, not Outlook / Exchange Online")
            }
            TokenWarning::MissingPermission { needed, granted } => write!(
                f,
                "the token lacks the {needed} permission (it has: {}); add it to the app registration and request it",
                if granted.is_empty() { "none".to_owned() } else { granted.join(" ") }
            ),
            TokenWarning::UserMismatch { token_user, sasl_user } => write!(
                f,
                "the token belongs to {token_user} but the login is for {sasl_user}; this only works for a mailbox {token_user} has full access to"
            ),
            TokenWarning::Expired { seconds_ago } => write!(f, "the token expired {seconds_ago} s ago: refresh it"),
            TokenWarning::Opaque => write!(f, "the token is not a JWT (normal for personal accounts); it could not be checked"),
        }
    }
}

const GRAPH: [&str; 3] =
    ["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000", "https://graph.microsoft.us"];
const OUTLOOK_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

fn list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// What an access token says about itself (decoded, not verified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenClaims {
    /// The first `aud`.
    pub audience: Option<String>,
    /// Delegated permissions (`scp`).
    pub scopes: Vec<String>,
    /// Application permissions (`roles`).
    pub roles: Vec<String>,
    /// The user (`upn`, `preferred_username`, `email` or `unique_name`).
    pub user: Option<String>,
    /// `exp` (Unix seconds).
    pub expires_at: Option<i64>,
}

impl TokenClaims {
    /// The claims of a JWT access token; `None` for an opaque token (personal accounts).
    pub fn decode(access_token: &str) -> Option<TokenClaims> {
        let claims = decode_jwt_claims(access_token)?;
        Some(TokenClaims {
            audience: list(claims.get("aud")).into_iter().next(),
            scopes: list(claims.get("scp")),
            roles: list(claims.get("roles")),
            user: ["upn", "preferred_username", "email", "unique_name"]
                .iter()
                .find_map(|n| get_str(&claims, n).filter(|s| !s.is_empty()))
                .map(str::to_owned),
            expires_at: claims.get("exp").and_then(as_i64),
        })
    }

    /// An app-only token: roles and no delegated scopes.
    pub fn app_only(&self) -> bool {
        self.scopes.is_empty() && !self.roles.is_empty()
    }
}

/// Checks a Microsoft access token for `protocol` and `sasl_user` at time `now` (Unix
/// seconds). An empty list means nothing suspicious was found.
pub fn check_access_token(access_token: &str, protocol: Protocol, sasl_user: &str, now: i64) -> Vec<TokenWarning> {
    let Some(claims) = TokenClaims::decode(access_token) else {
        return vec![TokenWarning::Opaque];
    };
    let mut out = Vec::new();
    if let Some(aud) = &claims.audience {
        let a = aud.trim_end_matches('/').to_ascii_lowercase();
        if GRAPH.iter().any(|g| a == *g) {
            out.push(TokenWarning::GraphAudience { audience: aud.clone() });
        } else if !(a.contains("outlook") || a == OUTLOOK_APP_ID || a.contains("mail.google.com")) {
            out.push(TokenWarning::UnexpectedAudience { audience: aud.clone() });
        }
    }
    let app_only = claims.app_only();
    let needed = if app_only { app_permission(protocol) } else { delegated_permission(protocol) };
    let granted: Vec<String> = if app_only { claims.roles } else { claims.scopes };
    if !granted
        .iter()
        .any(|g| g.eq_ignore_ascii_case(needed) || g.rsplit('/').next().is_some_and(|p| p.eq_ignore_ascii_case(needed)))
    {
        out.push(TokenWarning::MissingPermission { needed: needed.to_owned(), granted });
    }
    if !app_only {
        if let Some(u) = claims.user.filter(|u| !u.eq_ignore_ascii_case(sasl_user)) {
            out.push(TokenWarning::UserMismatch { token_user: u, sasl_user: sasl_user.to_owned() });
        }
    }
    if let Some(exp) = claims.expires_at.filter(|exp| *exp <= now) {
        out.push(TokenWarning::Expired { seconds_ago: now.saturating_sub(exp) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde_json::Value;

    fn jwt(claims: Value) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    #[test]
    fn extreme_expiry_claims_do_not_overflow() {
        for (exp, now) in [(i64::MIN, 1_700_000_000), (i64::MIN, i64::MAX), (0, i64::MAX)] {
            let t =
                jwt(serde_json::json!({"aud":"https://outlook.office.com","scp":"IMAP.AccessAsUser.All","exp":exp}));
            let w = check_access_token(&t, Protocol::Imap, "", now);
            assert!(w.contains(&TokenWarning::Expired { seconds_ago: now.saturating_sub(exp) }), "{w:?}");
        }
    }

    #[test]
    fn good_token_has_no_warnings() {
        let t = jwt(
            serde_json::json!({"aud":"https://outlook.office.com","scp":"IMAP.AccessAsUser.All SMTP.Send","upn":"Alice@Contoso.com","exp":200}),
        );
        assert!(check_access_token(&t, Protocol::Imap, "alice@contoso.com", 100).is_empty());
        assert_eq!(
            check_access_token(&t, Protocol::Pop3, "alice@contoso.com", 100),
            [TokenWarning::MissingPermission {
                needed: "POP.AccessAsUser.All".into(),
                granted: vec!["IMAP.AccessAsUser.All".into(), "SMTP.Send".into()]
            }]
        );
    }

    #[test]
    fn graph_expired_mismatch_and_app_only() {
        let t = jwt(
            serde_json::json!({"aud":"00000003-0000-0000-c000-000000000000","scp":"IMAP.AccessAsUser.All","upn":"bob@contoso.com","exp":50}),
        );
        let w = check_access_token(&t, Protocol::Imap, "alice@contoso.com", 100);
        assert!(matches!(w[0], TokenWarning::GraphAudience { .. }));
        assert!(matches!(w[1], TokenWarning::UserMismatch { .. }));
        assert_eq!(w[2], TokenWarning::Expired { seconds_ago: 50 });
        let app =
            jwt(serde_json::json!({"aud":"https://outlook.office365.com","roles":["IMAP.AccessAsApp"],"exp":500}));
        assert!(check_access_token(&app, Protocol::Imap, "shared@contoso.com", 100).is_empty());
        assert!(matches!(
            check_access_token(&app, Protocol::Smtp, "x", 100)[0],
            TokenWarning::MissingPermission { .. }
        ));
        assert_eq!(check_access_token("EwBAAl3BAAUF", Protocol::Imap, "x", 0), [TokenWarning::Opaque]);
    }

    #[test]
    fn names_are_the_serde_tags() {
        let all = [
            TokenWarning::GraphAudience { audience: "a".into() },
            TokenWarning::UnexpectedAudience { audience: "a".into() },
            TokenWarning::MissingPermission { needed: "n".into(), granted: vec![] },
            TokenWarning::UserMismatch { token_user: "t".into(), sasl_user: "s".into() },
            TokenWarning::Expired { seconds_ago: 1 },
            TokenWarning::Opaque,
        ];
        for w in all {
            assert_eq!(serde_json::to_value(&w).expect("json")["kind"], w.name(), "{w:?}");
        }
    }
}
