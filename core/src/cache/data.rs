//! The cache document (versioned JSON).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::resource_scopes;
use crate::identity::{Account, Authority, RefreshToken, Token};
use crate::AccessToken;

/// The schema version this library writes and reads.
pub const CACHE_SCHEMA_VERSION: u32 = 1;

/// The whole cache.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheData {
    /// Schema version ([`CACHE_SCHEMA_VERSION`]).
    pub version: u32,
    /// One entry per instance + client + account.
    pub entries: Vec<CacheEntry>,
}

/// One signed-in account of one client at one identity-platform instance.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The authority's base URL without the tenant (`https://login.microsoftonline.com`).
    pub environment: String,
    /// The application (client) id.
    pub client_id: String,
    /// The tenant segment of the last sign-in or refresh (`organizations`, a GUID, ...).
    pub tenant: String,
    /// Who.
    pub account: Account,
    /// The newest refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the entry last changed (Unix seconds).
    pub updated_at: i64,
    /// Access tokens, one per scope set.
    #[serde(default)]
    pub access_tokens: Vec<CachedAccessToken>,
}

impl std::fmt::Debug for CacheEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheEntry")
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("account", &self.account.username)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("access_tokens", &self.access_tokens.len())
            .finish()
    }
}

/// A cached access token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedAccessToken {
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The token.
    pub secret: String,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// When to refresh proactively (`refresh_in`), if the server said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_at: Option<i64>,
}

impl std::fmt::Debug for CachedAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedAccessToken")
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn same_account(a: &Account, b: &Account) -> bool {
    match (&a.home_account_id, &b.home_account_id) {
        (Some(x), Some(y)) => x == y,
        _ => !a.username.is_empty() && a.username.eq_ignore_ascii_case(&b.username),
    }
}

impl CacheData {
    /// Parses the document; the error says why it is unusable.
    pub fn from_bytes(bytes: &[u8]) -> Result<CacheData, String> {
        #[derive(Deserialize)]
        struct Version {
            version: Option<u32>,
        }
        let v: Version = serde_json::from_slice(bytes).map_err(|e| format!("not a JSON cache: {e}"))?;
        match v.version {
            Some(CACHE_SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(format!("schema version {other}, but this mailoauth reads version {CACHE_SCHEMA_VERSION}"))
            }
            None => return Err("no schema version".to_owned()),
        }
        serde_json::from_slice(bytes).map_err(|e| format!("malformed cache: {e}"))
    }

    /// Serializes the document.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut doc = self.clone();
        doc.version = CACHE_SCHEMA_VERSION;
        serde_json::to_vec_pretty(&doc).unwrap_or_default()
    }

    /// The entry for this authority, client and account, created if missing.
    pub(crate) fn entry_mut(
        &mut self,
        authority: &Authority,
        client_id: &str,
        account: &Account,
        now: i64,
    ) -> &mut CacheEntry {
        let env = authority.base_url();
        let pos = self.entries.iter().position(|e| {
            e.environment.eq_ignore_ascii_case(env) && e.client_id == client_id && same_account(&e.account, account)
        });
        let idx = match pos {
            Some(i) => i,
            None => {
                self.entries.push(CacheEntry {
                    environment: env.to_owned(),
                    client_id: client_id.to_owned(),
                    tenant: authority.tenant().to_owned(),
                    account: account.clone(),
                    refresh_token: None,
                    updated_at: now,
                    access_tokens: Vec::new(),
                });
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[idx];
        e.updated_at = now;
        e
    }

    /// Adds or replaces an entry (migration).
    pub(crate) fn upsert(&mut self, entry: CacheEntry) {
        if let Some(e) = self.entries.iter_mut().find(|e| {
            e.environment.eq_ignore_ascii_case(&entry.environment)
                && e.client_id == entry.client_id
                && same_account(&e.account, &entry.account)
        }) {
            *e = entry;
        } else {
            self.entries.push(entry);
        }
    }

    /// Records a token: the newest refresh token replaces the old one, the access token
    /// replaces any with the same scopes, expired ones are dropped.
    pub(crate) fn merge(&mut self, authority: &Authority, client_id: &str, token: &Token, now: i64) {
        let account = token.account.clone().unwrap_or_default();
        let e = self.entry_mut(authority, client_id, &account, now);
        if token.account.is_some() {
            // Keep what we knew if the new answer has less (a refresh without an id token).
            let old = std::mem::take(&mut e.account);
            e.account = Account {
                username: if account.username.is_empty() { old.username } else { account.username },
                email: account.email.or(old.email),
                name: account.name.or(old.name),
                oid: account.oid.or(old.oid),
                tid: account.tid.or(old.tid),
                home_account_id: account.home_account_id.or(old.home_account_id),
            };
        }
        e.tenant = authority.tenant().to_owned();
        if let Some(rt) = &token.refresh_token {
            e.refresh_token = Some(rt.expose_secret().to_owned());
        }
        let scopes = resource_scopes(&token.scopes);
        e.access_tokens.retain(|t| t.expires_at > now && resource_scopes(&t.scopes) != scopes);
        e.access_tokens.push(CachedAccessToken {
            scopes: token.scopes.clone(),
            secret: token.access_token.expose_secret().to_owned(),
            expires_at: token.expires_at,
            refresh_at: token.refresh_at,
        });
    }

    /// A cached access token covering `wanted` that stays valid for at least `margin` (and
    /// has not reached its `refresh_in` time).
    pub(crate) fn valid_token(
        &self,
        environment: &str,
        client_id: &str,
        account: Option<&str>,
        wanted: &[String],
        now: i64,
        margin: Duration,
    ) -> Option<Token> {
        let margin = i64::try_from(margin.as_secs()).unwrap_or(i64::MAX);
        let mut matching = self.entries.iter().filter(|e| super::entry_matches(e, environment, client_id, account));
        let entry = matching.next()?;
        if matching.next().is_some() {
            return None; // ambiguous: the slow path explains it
        }
        let at = entry.access_tokens.iter().find(|t| {
            let granted: Vec<String> = t.scopes.iter().map(|s| s.to_ascii_lowercase()).collect();
            t.expires_at.saturating_sub(margin) > now
                && t.refresh_at.is_none_or(|r| r > now)
                && wanted.iter().all(|w| granted.contains(w))
        })?;
        Some(Token {
            access_token: AccessToken::new(at.secret.clone()),
            expires_at: at.expires_at,
            refresh_at: at.refresh_at,
            scopes: at.scopes.clone(),
            refresh_token: entry.refresh_token.clone().map(RefreshToken::new),
            id_token: None,
            account: Some(entry.account.clone()),
        })
    }
}
