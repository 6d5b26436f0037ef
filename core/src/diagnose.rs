//! Why a mail login failed, and what fixes it: from the error's kind and protocol, the access
//! token that was used (its claims, decoded, not verified), the mail host and the SASL user.
//! `mailoauth check` prints it; Python, JS and Swift expose the same function, so a user who
//! gets `AUTHENTICATE failed` anywhere reads the same words. The cases are in
//! `testdata/parity/diagnoses.json`, checked by every language's suite.

use crate::identity::{check_access_token, MailHosts, TokenClaims, TokenWarning};
#[allow(unused_imports)]
use crate::prelude::*;
use crate::proto::mail_hint;
use crate::{Authority, Cloud, MailErrorKind, Protocol, Provider};

/// The likely cause of a failed login and its fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    /// What most likely went wrong.
    pub cause: String,
    /// What to do about it.
    pub fix: String,
}

const CLOUDS: [Cloud; 4] = [Cloud::Global, Cloud::UsGov, Cloud::UsGovDod, Cloud::China];

/// The Microsoft cloud a mail host belongs to, if it is a known one.
fn cloud_of_host(host: &str) -> Option<Cloud> {
    CLOUDS.into_iter().find(|c| {
        let h = MailHosts::for_provider(Provider::Microsoft, *c);
        [&h.imap, &h.pop, &h.smtp].iter().any(|hp| hp.host.eq_ignore_ascii_case(host))
    })
}

/// The Microsoft cloud a token audience belongs to, if it is a known one.
fn cloud_of_audience(aud: &str) -> Option<Cloud> {
    let a = aud.trim_end_matches('/');
    CLOUDS.into_iter().find(|c| {
        let h = MailHosts::for_provider(Provider::Microsoft, *c);
        a.eq_ignore_ascii_case(&h.delegated_resource) || a.eq_ignore_ascii_case(&h.app_resource)
    })
}

/// A warning when the mail host is in another Microsoft cloud than the token (from its
/// audience, else from the `authority` it came from).
pub fn wrong_cloud(host: &str, audience: Option<&str>, authority: Option<&Authority>) -> Option<String> {
    let host_cloud = cloud_of_host(host)?;
    let token_cloud = audience.and_then(cloud_of_audience).or_else(|| {
        authority
            .filter(|a| a.provider() == Provider::Microsoft && !a.base_url().starts_with("http://"))
            .map(Authority::cloud)
    })?;
    // UsGov and UsGovDod share their sign-in host; only a different resource is a mismatch.
    (host_cloud != token_cloud).then(|| {
        format!(
            "wrong cloud: {host} is in the {host_cloud:?} cloud but the token is for the {token_cloud:?} cloud; \
             sign in with --cloud {} or use that cloud's mail host",
            match host_cloud {
                Cloud::Global => "global",
                Cloud::UsGov => "usgov",
                Cloud::UsGovDod => "usgov-dod",
                Cloud::China => "china",
            }
        )
    })
}

/// The likely cause of a failed `protocol` login of `kind` with `access_token` as `user` at
/// `host`, and its fix. `authority`: where the token came from, if known.
pub fn diagnose(
    kind: MailErrorKind,
    protocol: Protocol,
    access_token: &str,
    host: &str,
    user: &str,
    authority: Option<&Authority>,
    now: i64,
) -> Diagnosis {
    // The words quote the token's claims (user, audience): text from the identity platform,
    // made safe for a terminal like every other network text.
    let d = |cause: String, fix: String| Diagnosis {
        cause: crate::text::safe_text(&cause).into_owned(),
        fix: crate::text::safe_text(&fix).into_owned(),
    };
    let claims = TokenClaims::decode(access_token);
    let app_only = claims.as_ref().is_some_and(TokenClaims::app_only);
    let token_user = claims.as_ref().and_then(|c| c.user.clone()).unwrap_or_else(|| "<token user>".to_owned());
    let audience = claims.as_ref().and_then(|c| c.audience.clone());
    if matches!(kind, MailErrorKind::Rejected | MailErrorKind::NotConnected) {
        if let Some(c) = wrong_cloud(host, audience.as_deref(), authority) {
            return d(c, "sign in at the mail host's cloud, or connect to your cloud's host".to_owned());
        }
        let warnings = check_access_token(access_token, protocol, user, now);
        let pick = |f: fn(&TokenWarning) -> bool| warnings.iter().find(|w| f(w));
        if let Some(w) =
            pick(|w| matches!(w, TokenWarning::GraphAudience { .. } | TokenWarning::UnexpectedAudience { .. }))
        {
            return d(
                w.to_string(),
                "sign in again asking for https://outlook.office.com/... scopes (`mailoauth login` does by default)"
                    .to_owned(),
            );
        }
        if let Some(w) = pick(|w| matches!(w, TokenWarning::MissingPermission { .. })) {
            return d(
                format!("missing scope: {w}"),
                "add the permission to the app registration (`mailoauth doctor`), then sign in again with it"
                    .to_owned(),
            );
        }
        if let Some(w) = pick(|w| matches!(w, TokenWarning::Expired { .. })) {
            return d(w.to_string(), "get a fresh token: `mailoauth token <account>` refreshes it".to_owned());
        }
        if let Some(w) = pick(|w| matches!(w, TokenWarning::UserMismatch { .. })) {
            return d(
                format!("user mismatch: {w}"),
                format!(
                    "log in as the token's user, or grant it FullAccess: Add-MailboxPermission -Identity {user} \
                     -User {token_user} -AccessRights FullAccess"
                ),
            );
        }
        if app_only {
            return d(
                "app-only token without mailbox permission or Exchange service principal".to_owned(),
                format!(
                    "in Exchange Online PowerShell: New-ServicePrincipal -AppId <app id> -ObjectId <enterprise app object id>; \
                     Add-MailboxPermission -Identity {user} -User <service principal id> -AccessRights FullAccess \
                     (`mailoauth doctor --flow app-only` prints them filled in)"
                ),
            );
        }
    }
    let cause = match (kind, protocol) {
        (MailErrorKind::LoginDisabled, _) => "SMTP AUTH is disabled for the tenant or the mailbox (5.7.139)".to_owned(),
        (MailErrorKind::NotConnected, _) => {
            "authenticated but not connected: the login user cannot open this mailbox".to_owned()
        }
        (MailErrorKind::Rejected, Protocol::Imap) => {
            "the token looks right, so IMAP is probably disabled for the mailbox (or the account has no mailbox)"
                .to_owned()
        }
        (MailErrorKind::Rejected, Protocol::Pop3) => {
            "the token looks right, so POP is probably disabled for the mailbox (or the account has no mailbox)"
                .to_owned()
        }
        (MailErrorKind::Rejected, Protocol::Smtp) => {
            "the token looks right, so SMTP AUTH is probably disabled for the mailbox or the tenant".to_owned()
        }
        _ => kind.to_string(),
    };
    d(cause, mail_hint(kind, protocol).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{self, Value};

    #[test]
    fn claims_with_escapes_do_not_reach_the_words() {
        use base64::Engine as _;
        let b64 = |t: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t);
        let claims = r#"{"aud":"https://outlook.office.com","scp":"IMAP.AccessAsUser.All","upn":"evil\u001b]0;pwned\u0007@x.com"}"#;
        let token = format!("{}.{}.sig", b64(r#"{"alg":"none"}"#), b64(claims));
        let d =
            diagnose(MailErrorKind::Rejected, Protocol::Imap, &token, "outlook.office365.com", "alice@x.com", None, 0);
        assert!(d.cause.contains("user mismatch"), "{}", d.cause);
        for text in [&d.cause, &d.fix] {
            assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
        }
    }

    #[test]
    fn clouds_of_hosts_and_audiences() {
        assert_eq!(cloud_of_host("outlook.office365.us"), Some(Cloud::UsGov));
        assert_eq!(cloud_of_host("smtp.office365.com"), Some(Cloud::Global));
        assert_eq!(cloud_of_host("127.0.0.1"), None);
        assert_eq!(cloud_of_audience("https://outlook.office.com/"), Some(Cloud::Global));
        assert_eq!(cloud_of_audience("https://partner.outlook.cn"), Some(Cloud::China));
        let global = Authority::microsoft(Cloud::Global, "organizations");
        assert!(wrong_cloud("outlook.office365.us", Some("https://outlook.office.com"), Some(&global)).is_some());
        assert!(wrong_cloud("outlook.office365.com", Some("https://outlook.office.com"), Some(&global)).is_none());
        assert!(wrong_cloud("outlook.office365.us", None, Some(&global)).is_some());
        assert!(wrong_cloud("outlook.office365.us", None, None).is_none());
    }

    /// Every case of the table the other languages read, with the same words.
    #[test]
    fn parity_table() {
        let text = include_str!("../../testdata/parity/diagnoses.json");
        let Some(Value::Array(cases)) = json::parse_object(text.as_bytes()).and_then(|o| o.get("cases").cloned())
        else {
            panic!("testdata/parity/diagnoses.json has no cases");
        };
        assert!(cases.len() >= 8);
        let now = json::parse_object(text.as_bytes()).and_then(|o| o.get("now").and_then(json::as_i64)).expect("now");
        for case in &cases {
            let c = json::object(case).expect("case");
            let s = |n: &str| json::get_str(c, n).unwrap_or_else(|| panic!("case without {n}"));
            let kind = MailErrorKind::from_name(s("kind")).expect("kind");
            let protocol = Protocol::parse(s("protocol")).expect("protocol");
            let got = diagnose(kind, protocol, s("token"), s("host"), s("user"), None, now);
            assert_eq!(got.cause, s("cause"), "{}", s("name"));
            assert_eq!(got.fix, s("fix"), "{}", s("name"));
        }
    }
}
