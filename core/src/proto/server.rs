//! Which mail server to log in to: the provider's defaults per protocol and cloud, the TLS mode
//! a port implies, and the standard ports — plain data and rules, outside the `net` feature,
//! so every front end (the native driver, the Node driver, the bindings, the CLI) resolves a
//! server the same way. The cases are listed in `testdata/parity/servers.json`, which the Rust,
//! Python, JS and Swift suites all check.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

use super::Protocol;
use crate::identity::{Authority, IdentityError, IdentityErrorKind};

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465).
    Tls,
    /// Plaintext connect, then STARTTLS / STLS before anything secret is sent. Fails if the
    /// server does not offer it (no downgrade).
    StartTls,
    /// No TLS at all. The token crosses the network in the clear: only for loopback test
    /// servers or connections already protected otherwise. Never chosen by default.
    Plain,
}

impl Security {
    /// Parses `tls`, `starttls`, `plain`.
    pub fn parse(name: &str) -> Option<Security> {
        Some(match name.to_ascii_lowercase().as_str() {
            "tls" | "ssl" | "implicit" => Security::Tls,
            "starttls" | "stls" => Security::StartTls,
            "plain" | "none" | "plaintext" => Security::Plain,
            _ => return None,
        })
    }
}

/// A mail server to log in to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailServer {
    /// IMAP, SMTP or POP3.
    pub protocol: Protocol,
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS mode.
    pub security: Security,
}

impl MailServer {
    /// A server description.
    pub fn new(protocol: Protocol, host: impl Into<String>, port: u16, security: Security) -> Self {
        MailServer { protocol, host: host.into(), port, security }
    }

    /// Whether a login here would send the token in the clear to another machine: no TLS, to a
    /// host that is not loopback. Front ends that let a user ask for plaintext (the CLI's
    /// `--plain`, a `security = "plain"` account, the proxy's upstream) refuse it.
    pub fn is_plain_to_remote(&self) -> bool {
        self.security == Security::Plain && !crate::identity::is_loopback_host(&self.host)
    }

    /// The provider's server for `protocol` (Exchange Online's or Gmail's, per cloud), with
    /// its usual TLS mode (IMAP and POP3 implicit TLS, SMTP STARTTLS), unless `host`, `port`
    /// or `security` are given. A port of 465/993/995 implies implicit TLS, 587/143/110
    /// STARTTLS.
    pub fn for_authority(
        protocol: Protocol,
        authority: &Authority,
        host: Option<&str>,
        port: Option<u16>,
        security: Option<Security>,
    ) -> Self {
        let hosts = authority.mail_hosts();
        let default = hosts.server(protocol);
        let security = security.unwrap_or(match (protocol, port) {
            (_, Some(465 | 993 | 995)) => Security::Tls,
            (_, Some(587 | 143 | 110 | 25)) => Security::StartTls,
            (Protocol::Smtp, _) => Security::StartTls,
            _ => Security::Tls,
        });
        let port = port.unwrap_or_else(|| {
            if host.is_none() && security == Security::Tls && protocol != Protocol::Smtp {
                default.port
            } else {
                Self::default_port(protocol, security)
            }
        });
        MailServer::new(protocol, host.unwrap_or(&default.host), port, security)
    }

    /// The standard port for a protocol and TLS mode (IMAP 993/143, SMTP 465/587, POP3 995/110).
    pub fn default_port(protocol: Protocol, security: Security) -> u16 {
        match (protocol, security) {
            (Protocol::Imap, Security::Tls) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Smtp, Security::Tls) => 465,
            (Protocol::Smtp, _) => 587,
            (Protocol::Pop3, Security::Tls) => 995,
            (Protocol::Pop3, _) => 110,
        }
    }
}

impl MailServer {
    /// The server from the names a front end receives: `protocol` (`imap`, `smtp`, `pop3`,
    /// also `submission`, `pop`), `provider` (`microsoft`, `google`), `cloud` (`global`,
    /// `usgov`, `usgov-dod`, `china`), and optional `host`, `port` and `security` (`tls`,
    /// `starttls`, `plain`), with [`MailServer::for_authority`]'s defaults. A name it does not
    /// know is a configuration error.
    pub fn from_names(
        protocol: &str,
        provider: Option<&str>,
        cloud: Option<&str>,
        host: Option<&str>,
        port: Option<u16>,
        security: Option<&str>,
    ) -> Result<MailServer, IdentityError> {
        let config = |m: String| IdentityError::new(IdentityErrorKind::Configuration, m);
        let protocol = Protocol::parse(protocol)
            .ok_or_else(|| config(format!("unknown protocol \"{protocol}\" (expected imap, smtp or pop3)")))?;
        let security = security
            .map(|s| {
                Security::parse(s)
                    .ok_or_else(|| config(format!("unknown security \"{s}\" (expected tls, starttls or plain)")))
            })
            .transpose()?;
        let authority = Authority::from_options(provider, None, None, cloud)?;
        Ok(MailServer::for_authority(protocol, &authority, host, port, security))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{self, Value};

    #[test]
    fn plaintext_only_to_loopback() {
        let plain = |host: &str| MailServer::new(Protocol::Imap, host, 143, Security::Plain);
        assert!(plain("outlook.office365.com").is_plain_to_remote());
        assert!(plain("10.0.0.1").is_plain_to_remote());
        for host in ["localhost", "127.0.0.1", "::1"] {
            assert!(!plain(host).is_plain_to_remote(), "{host}");
        }
        assert!(!MailServer::new(Protocol::Imap, "outlook.office365.com", 143, Security::StartTls).is_plain_to_remote());
    }

    /// Every case of the parity table every language reads.
    #[test]
    fn parity_table() {
        let text = include_str!("../../../testdata/parity/servers.json");
        let Some(Value::Array(cases)) = json::parse_object(text.as_bytes()).and_then(|o| o.get("cases").cloned())
        else {
            panic!("testdata/parity/servers.json has no cases");
        };
        assert!(cases.len() >= 20);
        for case in &cases {
            let c = json::object(case).expect("a case is an object");
            let input = json::object(c.get("input").expect("input")).expect("input object");
            let s = |n: &str| json::get_str(input, n);
            let port = input.get("port").and_then(json::as_u64).map(|p| u16::try_from(p).expect("port"));
            let got = MailServer::from_names(
                s("protocol").expect("protocol"),
                s("provider"),
                s("cloud"),
                s("host"),
                port,
                s("security"),
            );
            match c.get("expect").and_then(json::object) {
                Some(want) => {
                    let got = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                    assert_eq!(Some(got.host.as_str()), json::get_str(want, "host"), "{input:?}");
                    assert_eq!(Some(u64::from(got.port)), want.get("port").and_then(json::as_u64), "{input:?}");
                    assert_eq!(Some(got.security.name()), json::get_str(want, "security"), "{input:?}");
                }
                None => {
                    let e = got.expect_err("the case expects a configuration error");
                    assert_eq!(e.kind, IdentityErrorKind::Configuration, "{input:?}");
                }
            }
        }
    }
}
