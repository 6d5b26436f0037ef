//! Where tokens come from: provider, cloud, tenant, endpoints; and where the mail servers
//! of each cloud live.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{IdentityError, IdentityErrorKind};
use super::url::HttpUrl;
use crate::Protocol;

/// Who issues the tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// The Microsoft identity platform (Entra ID v2.0): Exchange Online and Outlook.com.
    Microsoft,
    /// Google (Gmail).
    Google,
    /// Another OpenID provider with explicitly given endpoints.
    Custom,
}

/// A Microsoft cloud.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// The global cloud (`login.microsoftonline.com`).
    #[default]
    Global,
    /// US Government GCC High (`login.microsoftonline.us`).
    UsGov,
    /// US Government DoD: same sign-in host as GCC High, other mail hosts.
    UsGovDod,
    /// China, operated by 21Vianet (`login.partner.microsoftonline.cn`).
    China,
}

impl Cloud {
    /// The sign-in host's base URL.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.partner.microsoftonline.cn",
        }
    }

    /// Parses `global`, `usgov`, `usgov-dod` / `dod`, `china`.
    pub fn parse(name: &str) -> Option<Cloud> {
        Some(match name.to_ascii_lowercase().as_str() {
            "global" | "public" | "worldwide" => Cloud::Global,
            "usgov" | "gcchigh" | "gcc-high" | "usgovernment" => Cloud::UsGov,
            "usgov-dod" | "dod" => Cloud::UsGovDod,
            "china" | "21vianet" => Cloud::China,
            _ => return None,
        })
    }
}

/// A host and port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPort {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// The mail servers and scope resource of a provider and cloud (protocol facts §3, §6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailHosts {
    /// IMAP with implicit TLS.
    pub imap: HostPort,
    /// POP3 with implicit TLS.
    pub pop: HostPort,
    /// SMTP submission with STARTTLS.
    pub smtp: HostPort,
    /// The resource of delegated scopes (`https://outlook.office.com`), or Google's scope.
    pub delegated_resource: String,
    /// The resource of app-only `.default` scopes (`https://outlook.office365.com`).
    pub app_resource: String,
    /// `false` where Microsoft's documentation does not confirm the values (national clouds'
    /// SMTP hosts and scope resources come from third-party code).
    pub verified: bool,
}

fn hp(host: &str, port: u16) -> HostPort {
    HostPort { host: host.to_owned(), port }
}

impl MailHosts {
    /// The table from provider and cloud to mail hosts.
    pub fn for_provider(provider: Provider, cloud: Cloud) -> MailHosts {
        match (provider, cloud) {
            (Provider::Google, _) => MailHosts {
                imap: hp("imap.gmail.com", 993),
                pop: hp("pop.gmail.com", 995),
                smtp: hp("smtp.gmail.com", 587),
                delegated_resource: super::scopes::GOOGLE_MAIL.to_owned(),
                app_resource: super::scopes::GOOGLE_MAIL.to_owned(),
                verified: true,
            },
            (_, Cloud::Global) => MailHosts {
                imap: hp("outlook.office365.com", 993),
                pop: hp("outlook.office365.com", 995),
                smtp: hp("smtp.office365.com", 587),
                delegated_resource: "https://outlook.office.com".to_owned(),
                app_resource: "https://outlook.office365.com".to_owned(),
                verified: true,
            },
            (_, Cloud::UsGov) => MailHosts {
                imap: hp("outlook.office365.us", 993),
                pop: hp("outlook.office365.us", 995),
                smtp: hp("smtp.office365.us", 587),
                delegated_resource: "https://outlook.office365.us".to_owned(),
                app_resource: "https://outlook.office365.us".to_owned(),
                verified: false,
            },
            (_, Cloud::UsGovDod) => MailHosts {
                imap: hp("outlook-dod.office365.us", 993),
                pop: hp("outlook-dod.office365.us", 995),
                smtp: hp("outlook-dod.office365.us", 587),
                delegated_resource: "https://outlook-dod.office365.us".to_owned(),
                app_resource: "https://outlook-dod.office365.us".to_owned(),
                verified: false,
            },
            (_, Cloud::China) => MailHosts {
                imap: hp("partner.outlook.cn", 993),
                pop: hp("partner.outlook.cn", 995),
                smtp: hp("smtp.partner.outlook.cn", 587),
                delegated_resource: "https://partner.outlook.cn".to_owned(),
                app_resource: "https://partner.outlook.cn".to_owned(),
                verified: false,
            },
        }
    }

    /// The server for one protocol.
    pub fn server(&self, protocol: Protocol) -> &HostPort {
        match protocol {
            Protocol::Imap => &self.imap,
            Protocol::Pop3 => &self.pop,
            Protocol::Smtp => &self.smtp,
        }
    }
}

/// A token issuer and its endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authority {
    provider: Provider,
    cloud: Cloud,
    tenant: String,
    /// Base URL without the tenant (`https://login.microsoftonline.com`).
    base: String,
    authorize_endpoint: String,
    token_endpoint: String,
    device_code_endpoint: Option<String>,
}

/// Whether `host` (from a URL) is a loopback name or address.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<core::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn config_error(msg: String) -> IdentityError {
    IdentityError::new(IdentityErrorKind::Configuration, msg)
}

/// Checks that `url` is https, or http to a loopback host. Returns the parsed URL.
pub(crate) fn check_url<'a>(url: &'a str, what: &str) -> Result<HttpUrl<'a>, IdentityError> {
    let parsed = HttpUrl::parse(url).map_err(|e| config_error(crate::cat!(what, " \"", url, "\" ", e)))?;
    match parsed.scheme.as_str() {
        "https" => {}
        "http" if is_loopback_host(&parsed.host) => {}
        "http" => {
            return Err(config_error(crate::cat!(
                what,
                " \"",
                url,
                "\" uses http:// for a host that is not loopback; only https:// is allowed there"
            )))
        }
        s => return Err(config_error(crate::cat!(what, " \"", url, "\" has scheme \"", s, "\"; use https://"))),
    }
    if parsed.host.is_empty() {
        return Err(config_error(crate::cat!(what, " \"", url, "\" has no host")));
    }
    Ok(parsed)
}

impl Authority {
    /// A Microsoft authority in `cloud` for `tenant` (`common`, `organizations`,
    /// `consumers`, a tenant GUID or a domain).
    pub fn microsoft(cloud: Cloud, tenant: &str) -> Authority {
        Self::microsoft_at(cloud, cloud.authority_host(), tenant)
    }

    fn microsoft_at(cloud: Cloud, base: &str, tenant: &str) -> Authority {
        let base = base.trim_end_matches('/').to_owned();
        let root = crate::cat!(base, "/", tenant);
        Authority {
            provider: Provider::Microsoft,
            cloud,
            tenant: tenant.to_owned(),
            authorize_endpoint: crate::cat!(root, "/oauth2/v2.0/authorize"),
            token_endpoint: crate::cat!(root, "/oauth2/v2.0/token"),
            device_code_endpoint: Some(crate::cat!(root, "/oauth2/v2.0/devicecode")),
            base,
        }
    }

    /// A Microsoft-layout authority from a full URL including the tenant, such as
    /// `https://login.microsoftonline.com/contoso.onmicrosoft.com` or the emulator's
    /// `http://127.0.0.1:8080/organizations`. `http://` is accepted for loopback hosts only.
    pub fn from_url(url: &str) -> Result<Authority, IdentityError> {
        let parsed = check_url(url, "authority")?;
        let path = parsed.path.trim_end_matches('/');
        let Some((base_path, tenant)) = path.rsplit_once('/') else {
            return Err(config_error(crate::cat!("authority \"", url, "\" has no tenant")));
        };
        if tenant.is_empty() {
            return Err(config_error(crate::cat!(
                "authority \"",
                url,
                "\" must end with a tenant (common, organizations, consumers, a GUID or a domain)"
            )));
        }
        let cloud = match parsed.host.as_str() {
            "login.microsoftonline.us" => Cloud::UsGov,
            "login.partner.microsoftonline.cn" | "login.chinacloudapi.cn" => Cloud::China,
            _ => Cloud::Global,
        };
        // An IPv6 host keeps its brackets.
        let mut base = crate::cat!(parsed.scheme, "://", parsed.host);
        if let Some(port) = parsed.port {
            base.push(':');
            base.push_str(&crate::text::decimal(port.into()));
        }
        base.push_str(base_path);
        Ok(Self::microsoft_at(cloud, &base, tenant))
    }

    /// Whether the token endpoint is plain `http://` on a loopback host: only a local
    /// emulator can be that (`http://` is refused for every other host), so test-only
    /// allowances (a device-code `interval` of 0) apply to it alone.
    pub fn is_loopback_http(&self) -> bool {
        HttpUrl::parse(&self.token_endpoint).is_ok_and(|u| u.scheme == "http" && is_loopback_host(&u.host))
    }

    /// Google's authority (accounts.google.com / oauth2.googleapis.com).
    pub fn google() -> Authority {
        Authority {
            provider: Provider::Google,
            cloud: Cloud::Global,
            tenant: String::new(),
            base: "https://accounts.google.com".to_owned(),
            authorize_endpoint: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
            token_endpoint: "https://oauth2.googleapis.com/token".to_owned(),
            device_code_endpoint: Some("https://oauth2.googleapis.com/device/code".to_owned()),
        }
    }

    /// Another provider with explicit endpoints (from its OpenID configuration).
    pub fn custom(
        issuer: &str,
        authorize_endpoint: &str,
        token_endpoint: &str,
        device_code_endpoint: Option<&str>,
    ) -> Result<Authority, IdentityError> {
        check_url(issuer, "issuer")?;
        check_url(authorize_endpoint, "authorization endpoint")?;
        check_url(token_endpoint, "token endpoint")?;
        if let Some(d) = device_code_endpoint {
            check_url(d, "device code endpoint")?;
        }
        Ok(Authority {
            provider: Provider::Custom,
            cloud: Cloud::Global,
            tenant: String::new(),
            base: issuer.trim_end_matches('/').to_owned(),
            authorize_endpoint: authorize_endpoint.to_owned(),
            token_endpoint: token_endpoint.to_owned(),
            device_code_endpoint: device_code_endpoint.map(str::to_owned),
        })
    }

    /// The authority described by the options every binding and the CLI take:
    /// `provider` (`microsoft` (default), `google`), a full `authority` URL (wins over the
    /// rest; the emulator's URL works), `tenant` (default `organizations`), `cloud`
    /// (`global` (default), `usgov`, `usgov-dod`, `china`).
    pub fn from_options(
        provider: Option<&str>,
        authority: Option<&str>,
        tenant: Option<&str>,
        cloud: Option<&str>,
    ) -> Result<Authority, IdentityError> {
        let provider = match provider.map(str::to_ascii_lowercase).as_deref() {
            None | Some("microsoft") | Some("entra") | Some("azure") | Some("outlook") => Provider::Microsoft,
            Some("google") | Some("gmail") => Provider::Google,
            Some(other) => {
                return Err(config_error(crate::cat!(
                    "unknown provider \"",
                    other,
                    "\" (expected microsoft or google)"
                )));
            }
        };
        if let Some(url) = authority.filter(|u| !u.trim().is_empty()) {
            return match provider {
                Provider::Google => Err(config_error("--authority is for Microsoft-style authorities".to_owned())),
                _ => Authority::from_url(url.trim()),
            };
        }
        match provider {
            Provider::Google => Ok(Authority::google()),
            _ => {
                let cloud = match cloud {
                    None => Cloud::Global,
                    Some(c) => Cloud::parse(c).ok_or_else(|| {
                        config_error(crate::cat!(
                            "unknown cloud \"",
                            c,
                            "\" (expected global, usgov, usgov-dod or china)"
                        ))
                    })?,
                };
                let tenant = tenant.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("organizations");
                if tenant.contains('/') || tenant.contains(' ') {
                    return Err(config_error(crate::cat!(
                        "tenant \"",
                        tenant,
                        "\" is not a tenant name, GUID or domain"
                    )));
                }
                Ok(Authority::microsoft(cloud, tenant))
            }
        }
    }

    /// The same authority for another tenant (Microsoft only; others are returned as is).
    pub fn with_tenant(&self, tenant: &str) -> Authority {
        if self.provider != Provider::Microsoft {
            return self.clone();
        }
        Self::microsoft_at(self.cloud, &self.base, tenant)
    }

    /// Microsoft, Google or custom.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The Microsoft cloud (Global for other providers).
    pub fn cloud(&self) -> Cloud {
        self.cloud
    }

    /// The tenant segment (empty for non-Microsoft providers).
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The authority URL (`{base}/{tenant}`), the key used by caches.
    pub fn url(&self) -> String {
        if self.tenant.is_empty() {
            self.base.clone()
        } else {
            crate::cat!(self.base, "/", self.tenant)
        }
    }

    /// The base URL without the tenant.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The authorization endpoint.
    pub fn authorize_endpoint(&self) -> &str {
        &self.authorize_endpoint
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> &str {
        &self.token_endpoint
    }

    /// The device authorization endpoint, if the provider has one.
    pub fn device_code_endpoint(&self) -> Option<&str> {
        self.device_code_endpoint.as_deref()
    }

    /// The OpenID configuration document's URL.
    pub fn openid_configuration_url(&self) -> String {
        match self.provider {
            Provider::Microsoft => crate::cat!(self.url(), "/v2.0/.well-known/openid-configuration"),
            _ => crate::cat!(self.base, "/.well-known/openid-configuration"),
        }
    }

    /// Where the mail servers of this provider and cloud are.
    pub fn mail_hosts(&self) -> MailHosts {
        MailHosts::for_provider(self.provider, self.cloud)
    }

    /// Tenant rules Microsoft enforces before any request: ROPC and client credentials do
    /// not work on `common` / `consumers`.
    pub(crate) fn require_org_tenant(&self, grant: &str) -> Result<(), IdentityError> {
        if self.provider == Provider::Microsoft {
            let t = self.tenant.to_ascii_lowercase();
            if t == "common" || t == "consumers" || t == "9188040d-6c67-4c5b-b112-36a304b66dad" {
                return Err(config_error(crate::cat!(
                    grant,
                    " does not work on the '",
                    self.tenant,
                    "' tenant: use 'organizations' or the tenant's GUID or domain"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_endpoints() {
        let a = Authority::microsoft(Cloud::Global, "organizations");
        assert_eq!(a.token_endpoint(), "https://login.microsoftonline.com/organizations/oauth2/v2.0/token");
        assert_eq!(
            a.openid_configuration_url(),
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
        );
        let cn = Authority::microsoft(Cloud::China, "contoso.partner.onmschina.cn");
        assert!(cn.authorize_endpoint().starts_with("https://login.partner.microsoftonline.cn/contoso"));
        assert_eq!(Authority::microsoft(Cloud::UsGov, "x").mail_hosts().imap.host, "outlook.office365.us");
    }

    #[test]
    fn from_url_rules() {
        let a = Authority::from_url("http://127.0.0.1:8080/organizations").expect("loopback http");
        assert_eq!(a.token_endpoint(), "http://127.0.0.1:8080/organizations/oauth2/v2.0/token");
        assert_eq!(a.url(), "http://127.0.0.1:8080/organizations");
        let a = Authority::from_url("http://localhost:1/prefix/common/").expect("localhost");
        assert_eq!(a.tenant(), "common");
        assert_eq!(a.device_code_endpoint(), Some("http://localhost:1/prefix/common/oauth2/v2.0/devicecode"));
        let a = Authority::from_url("http://[::1]:9/t").expect("v6 loopback");
        assert_eq!(a.token_endpoint(), "http://[::1]:9/t/oauth2/v2.0/token");
        for bad in ["http://login.microsoftonline.com/common", "ftp://x/common", "https://host", "not a url"] {
            let e = Authority::from_url(bad).expect_err(bad);
            assert_eq!(e.kind, IdentityErrorKind::Configuration, "{bad}");
        }
        let us = Authority::from_url("https://login.microsoftonline.us/contoso.us").expect("us");
        assert_eq!(us.cloud(), Cloud::UsGov);
    }

    #[test]
    fn from_options() {
        let a = Authority::from_options(None, None, None, None).expect("default");
        assert_eq!(a.url(), "https://login.microsoftonline.com/organizations");
        let a = Authority::from_options(Some("microsoft"), None, Some("contoso.com"), Some("china")).expect("cn");
        assert_eq!(a.url(), "https://login.partner.microsoftonline.cn/contoso.com");
        let a = Authority::from_options(None, Some("http://127.0.0.1:9/common"), Some("ignored"), None).expect("url");
        assert_eq!(a.tenant(), "common");
        assert_eq!(Authority::from_options(Some("google"), None, None, None).expect("g").provider(), Provider::Google);
        assert!(Authority::from_options(Some("yahoo"), None, None, None).is_err());
        assert!(Authority::from_options(None, None, None, Some("mars")).is_err());
        assert!(Authority::from_options(None, None, Some("a/b"), None).is_err());
    }

    #[test]
    fn org_tenant_rule() {
        assert!(Authority::microsoft(Cloud::Global, "common").require_org_tenant("ROPC").is_err());
        assert!(Authority::microsoft(Cloud::Global, "consumers").require_org_tenant("ROPC").is_err());
        assert!(Authority::microsoft(Cloud::Global, "organizations").require_org_tenant("ROPC").is_ok());
    }
}
