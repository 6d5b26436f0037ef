//! Mail scopes: the delegated IMAP / POP / SMTP permissions with the full Outlook resource,
//! `.default` for app-only, and Google's mail scope.

use super::authority::{Cloud, MailHosts, Provider};
use super::error::{IdentityError, IdentityErrorKind};
#[allow(unused_imports)]
use crate::prelude::*;
use crate::Protocol;

/// Google's scope for IMAP, POP and SMTP.
pub const GOOGLE_MAIL: &str = "https://mail.google.com/";
/// Asks for a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The permission name of a protocol's delegated scope.
pub fn delegated_permission(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Imap => "IMAP.AccessAsUser.All",
        Protocol::Pop3 => "POP.AccessAsUser.All",
        Protocol::Smtp => "SMTP.Send",
    }
}

/// The permission name of a protocol's app-only role.
pub fn app_permission(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Imap => "IMAP.AccessAsApp",
        Protocol::Pop3 => "POP.AccessAsApp",
        Protocol::Smtp => "SMTP.SendAsApp",
    }
}

/// Delegated scopes for the given protocols, with the full resource URL of the cloud
/// (`https://outlook.office.com/IMAP.AccessAsUser.All`), plus `offline_access` when a
/// refresh token is wanted. For Google: `https://mail.google.com/` (Google always returns
/// refresh tokens to installed apps, so `offline_access` is not sent).
pub fn mail_scopes(provider: Provider, cloud: Cloud, protocols: &[Protocol], refresh: bool) -> Vec<String> {
    if provider == Provider::Google {
        return vec![GOOGLE_MAIL.to_owned()];
    }
    let resource = MailHosts::for_provider(provider, cloud).delegated_resource;
    let mut out = Vec::new();
    if refresh {
        out.push(OFFLINE_ACCESS.to_owned());
    }
    for p in protocols {
        let s = crate::cat!(resource, "/", delegated_permission(*p));
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The app-only (client credentials) scope: `https://outlook.office365.com/.default`.
pub fn app_only_scope(provider: Provider, cloud: Cloud) -> String {
    if provider == Provider::Google {
        return GOOGLE_MAIL.to_owned();
    }
    crate::cat!(MailHosts::for_provider(provider, cloud).app_resource, "/.default")
}

/// Fixes and checks scopes before a request.
///
/// A bare `IMAP.AccessAsUser.All` (which Microsoft resolves to Graph, giving a token the
/// mail servers reject) becomes the Outlook URL; a Graph-audience mail scope is refused with
/// an explanation.
pub fn normalize(provider: Provider, cloud: Cloud, scopes: &[String]) -> Result<Vec<String>, IdentityError> {
    if provider != Provider::Microsoft {
        return Ok(scopes.to_vec());
    }
    let resource = MailHosts::for_provider(provider, cloud).delegated_resource;
    let mail = ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send"];
    let mut out = Vec::with_capacity(scopes.len());
    for s in scopes.iter().flat_map(|s| s.split_whitespace()) {
        let lower = s.to_ascii_lowercase();
        if let Some(perm) = lower.strip_prefix("https://graph.microsoft.com/") {
            if mail.iter().any(|m| m.eq_ignore_ascii_case(perm)) {
                return Err(IdentityError::new(
                    IdentityErrorKind::Configuration,
                    crate::cat!(
                        "scope \"",
                        s,
                        "\" asks Microsoft Graph for a mail permission; IMAP, POP and SMTP servers reject Graph tokens. Use ",
                        resource,
                        "/",
                        // the prefix matched in ASCII lowercase: a boundary of `s` too
                        s.get("https://graph.microsoft.com/".len()..).unwrap_or_default()
                    ),
                ));
            }
        }
        let fixed = match mail.iter().find(|m| m.eq_ignore_ascii_case(s)) {
            Some(m) => crate::cat!(resource, "/", m),
            None => s.to_owned(),
        };
        if !out.contains(&fixed) {
            out.push(fixed);
        }
    }
    if out.is_empty() {
        return Err(IdentityError::new(IdentityErrorKind::Configuration, "no scopes given"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlook_scopes() {
        let s = mail_scopes(Provider::Microsoft, Cloud::Global, &[Protocol::Imap, Protocol::Smtp], true);
        assert_eq!(
            s,
            [
                "offline_access",
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "https://outlook.office.com/SMTP.Send"
            ]
        );
        assert_eq!(app_only_scope(Provider::Microsoft, Cloud::Global), "https://outlook.office365.com/.default");
        assert_eq!(mail_scopes(Provider::Google, Cloud::Global, &[Protocol::Imap], true), [GOOGLE_MAIL]);
    }

    #[test]
    fn normalizing() {
        let got = normalize(Provider::Microsoft, Cloud::Global, &["offline_access IMAP.AccessAsUser.All".into()])
            .expect("ok");
        assert_eq!(got, ["offline_access", "https://outlook.office.com/IMAP.AccessAsUser.All"]);
        let e = normalize(
            Provider::Microsoft,
            Cloud::Global,
            &["https://graph.microsoft.com/IMAP.AccessAsUser.All".into()],
        )
        .expect_err("graph");
        assert!(e.message.contains("https://outlook.office.com/IMAP.AccessAsUser.All"), "{}", e.message);
        assert!(normalize(Provider::Microsoft, Cloud::Global, &[]).is_err());
    }
}
