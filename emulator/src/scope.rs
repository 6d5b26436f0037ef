//! Scope parsing: OIDC scopes, resources and permissions.

use crate::aad::AadError;

/// OIDC scopes that do not name a resource.
const OIDC: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Delegated permissions the emulator knows for the Exchange Online resources.
const OUTLOOK_DELEGATED: [&str; 9] = [
    "IMAP.AccessAsUser.All",
    "POP.AccessAsUser.All",
    "SMTP.Send",
    "EWS.AccessAsUser.All",
    "Mail.Read",
    "Mail.ReadWrite",
    "Mail.Send",
    "User.Read",
    "full_access_as_user",
];

/// What `.default` expands to for delegated requests per resource.
const OUTLOOK_DEFAULT: [&str; 3] = ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send"];

/// Resources the emulator knows (and that Exchange Online would accept tokens for).
const EXCHANGE_RESOURCES: [&str; 5] = [
    "https://outlook.office.com",
    "https://outlook.office365.com",
    "https://ps.outlook.com",
    "https://outlook.office365.us",
    "https://partner.outlook.cn",
];
const GRAPH: &str = "https://graph.microsoft.com";

/// A parsed `scope` parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scopes {
    /// `openid`, `profile`, `email`, `offline_access` as requested (lower case).
    pub(crate) oidc: Vec<String>,
    /// Resource scopes in request order: (resource, permission as requested).
    pub(crate) resource_scopes: Vec<(String, String)>,
}

impl Scopes {
    pub(crate) fn parse(raw: &str) -> Self {
        let mut out = Self::default();
        for s in raw.split_whitespace() {
            let lower = s.to_ascii_lowercase();
            if OIDC.contains(&lower.as_str()) {
                if !out.oidc.contains(&lower) {
                    out.oidc.push(lower);
                }
                continue;
            }
            let (resource, perm) = split_resource(s);
            if !out.resource_scopes.iter().any(|(r, p)| r == &resource && p.eq_ignore_ascii_case(&perm)) {
                out.resource_scopes.push((resource, perm));
            }
        }
        out
    }

    pub(crate) fn has(&self, oidc: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc)
    }

    /// Distinct resources, in order of first appearance.
    pub(crate) fn resources(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for (r, _) in &self.resource_scopes {
            if !v.contains(r) {
                v.push(r.clone());
            }
        }
        v
    }

    /// The original scope string form (space separated), OIDC scopes last.
    pub(crate) fn to_scope_string(&self) -> String {
        let mut parts: Vec<String> = self.resource_scopes.iter().map(|(r, p)| full_scope(r, p)).collect();
        parts.extend(self.oidc.iter().cloned());
        parts.join(" ")
    }

    /// Checks every resource and permission: unknown resource → AADSTS500011, unknown
    /// Exchange permission → AADSTS70011.
    pub(crate) fn validate(&self, tenant_name: &str, extra_resources: &[String]) -> Result<(), AadError> {
        for (resource, perm) in &self.resource_scopes {
            if !is_known_resource(resource, extra_resources) {
                return Err(AadError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "invalid_resource",
                    500_011,
                    format!("The resource principal named {resource} was not found in the tenant named {tenant_name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."),
                ));
            }
            if is_exchange(resource)
                && perm != ".default"
                && !OUTLOOK_DELEGATED.iter().any(|p| p.eq_ignore_ascii_case(perm))
            {
                return Err(AadError::invalid_scope(
                    70_011,
                    format!(
                        "The provided value for the input parameter 'scope' is not valid. The scope {} is not valid.",
                        full_scope(resource, perm)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The token's resource (the first resource scope's; Graph when only OIDC scopes were
    /// requested) and its delegated permissions (`scp`, canonical spelling, `.default` expanded).
    pub(crate) fn delegated_grant(&self) -> (String, Vec<String>) {
        let Some((resource, _)) = self.resource_scopes.first() else {
            let scp = self
                .oidc
                .iter()
                .filter(|s| *s != "offline_access")
                .cloned()
                .chain(std::iter::once("User.Read".to_owned()))
                .collect();
            return (GRAPH.to_owned(), scp);
        };
        let mut scp: Vec<String> = Vec::new();
        for (r, p) in &self.resource_scopes {
            if r != resource {
                continue;
            }
            let expanded: Vec<String> = if p == ".default" {
                if is_exchange(r) {
                    OUTLOOK_DEFAULT.iter().map(|s| (*s).to_owned()).collect()
                } else {
                    vec!["User.Read".to_owned()]
                }
            } else {
                vec![OUTLOOK_DELEGATED
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(p))
                    .map_or_else(|| p.clone(), |k| (*k).to_owned())]
            };
            for s in expanded {
                if !scp.contains(&s) {
                    scp.push(s);
                }
            }
        }
        (resource.clone(), scp)
    }
}

/// `resource/permission` as Microsoft echoes it: Graph permissions stay bare.
pub(crate) fn full_scope(resource: &str, perm: &str) -> String {
    if resource == GRAPH {
        perm.to_owned()
    } else {
        format!("{resource}/{perm}")
    }
}

/// Splits `https://outlook.office.com/IMAP.AccessAsUser.All` into resource and permission;
/// a bare permission belongs to Microsoft Graph, as at Microsoft.
fn split_resource(scope: &str) -> (String, String) {
    if scope.contains("://") {
        if let Some((r, p)) = scope.rsplit_once('/') {
            if !r.ends_with('/') && !r.ends_with(':') {
                return (r.trim_end_matches('/').to_owned(), p.to_owned());
            }
        }
        return (scope.to_owned(), String::new());
    }
    if let Some((r, p)) = scope.rsplit_once('/') {
        // e.g. a GUID resource "00000002-0000-0ff1-ce00-000000000000/.default"
        return (r.to_owned(), p.to_owned());
    }
    (GRAPH.to_owned(), scope.to_owned())
}

pub(crate) fn is_exchange(resource: &str) -> bool {
    EXCHANGE_RESOURCES.iter().any(|r| r.eq_ignore_ascii_case(resource))
}

fn is_known_resource(resource: &str, extra: &[String]) -> bool {
    is_exchange(resource)
        || resource.eq_ignore_ascii_case(GRAPH)
        || resource == "00000003-0000-0000-c000-000000000000"
        || resource == "00000002-0000-0ff1-ce00-000000000000"
        || extra.iter().any(|r| r.eq_ignore_ascii_case(resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_outlook_scopes() {
        let s = Scopes::parse(
            "offline_access https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/smtp.send openid",
        );
        assert!(s.has("offline_access") && s.has("openid"));
        assert_eq!(s.resources(), vec!["https://outlook.office.com".to_owned()]);
        let (aud, scp) = s.delegated_grant();
        assert_eq!(aud, "https://outlook.office.com");
        assert_eq!(scp, vec!["IMAP.AccessAsUser.All", "SMTP.Send"]);
        assert!(s.validate("t", &[]).is_ok());
    }

    #[test]
    fn default_and_graph() {
        let s = Scopes::parse("https://outlook.office365.com/.default");
        assert_eq!(s.delegated_grant().0, "https://outlook.office365.com");
        let g = Scopes::parse("IMAP.AccessAsUser.All");
        assert_eq!(g.delegated_grant().0, GRAPH);
        assert!(Scopes::parse("https://nope.example/x").validate("t", &[]).is_err());
        assert!(Scopes::parse("https://outlook.office.com/SMTP.SendAsApp").validate("t", &[]).is_err());
    }
}
