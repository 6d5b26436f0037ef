//! The cache document (versioned JSON).

#[allow(unused_imports)]
use crate::prelude::*;
use core::time::Duration;

use crate::json::{as_i64, parse_object, Object, Value};
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

impl core::fmt::Debug for CacheEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
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

impl core::fmt::Debug for CachedAccessToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CachedAccessToken")
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

// Reading: what the serde derives accept (unknown fields ignored, `null` or a missing field
// is `None` for an `Option`, `access_tokens` may be missing), with the core's JSON `Value`.

fn missing(k: &str) -> String {
    crate::cat!("missing field `", k, "`")
}

fn invalid(k: &str) -> String {
    crate::cat!("invalid type for field `", k, "`")
}

fn req<'a>(o: &'a Object, k: &str) -> Result<&'a Value, String> {
    o.get(k).ok_or_else(|| missing(k))
}

fn string(o: &Object, k: &str) -> Result<String, String> {
    match req(o, k)? {
        Value::String(s) => Ok(s.clone()),
        _ => Err(invalid(k)),
    }
}

fn opt_string(o: &Object, k: &str) -> Result<Option<String>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(k)),
    }
}

fn int(o: &Object, k: &str) -> Result<i64, String> {
    as_i64(req(o, k)?).ok_or_else(|| invalid(k))
}

fn opt_int(o: &Object, k: &str) -> Result<Option<i64>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_i64(v).map(Some).ok_or_else(|| invalid(k)),
    }
}

/// The array `o[k]`; a missing one is empty unless `required`.
fn list<'a>(o: &'a Object, k: &str, required: bool) -> Result<&'a [Value], String> {
    match o.get(k) {
        None if !required => Ok(&[]),
        None => Err(missing(k)),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(invalid(k)),
    }
}

fn object<'a>(v: &'a Value, k: &str) -> Result<&'a Object, String> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(invalid(k)),
    }
}

fn read_cache(root: &Object) -> Result<CacheData, String> {
    let entries = list(root, "entries", true)?.iter().map(|e| read_entry(object(e, "entries")?));
    Ok(CacheData { version: CACHE_SCHEMA_VERSION, entries: entries.collect::<Result<_, String>>()? })
}

fn read_entry(o: &Object) -> Result<CacheEntry, String> {
    let a = object(req(o, "account")?, "account")?;
    let account = Account {
        username: string(a, "username")?,
        email: opt_string(a, "email")?,
        name: opt_string(a, "name")?,
        oid: opt_string(a, "oid")?,
        tid: opt_string(a, "tid")?,
        home_account_id: opt_string(a, "home_account_id")?,
    };
    let access_tokens = list(o, "access_tokens", false)?
        .iter()
        .map(|t| {
            let t = object(t, "access_tokens")?;
            let scopes = list(t, "scopes", true)?
                .iter()
                .map(|s| match s {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(invalid("scopes")),
                })
                .collect::<Result<_, String>>()?;
            Ok(CachedAccessToken {
                scopes,
                secret: string(t, "secret")?,
                expires_at: int(t, "expires_at")?,
                refresh_at: opt_int(t, "refresh_at")?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(CacheEntry {
        environment: string(o, "environment")?,
        client_id: string(o, "client_id")?,
        tenant: string(o, "tenant")?,
        account,
        refresh_token: opt_string(o, "refresh_token")?,
        updated_at: int(o, "updated_at")?,
        access_tokens,
    })
}

// Writing: serde_json's pretty layout (two-space indent), fields in declaration order,
// `None` as `null` except the fields the derives skip (`refresh_token`, `refresh_at`).

/// A JSON value to write; object keys keep their order (the JSON `Object` sorts them).
enum Json<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    List(Vec<Json<'a>>),
    Obj(Vec<(&'static str, Json<'a>)>),
}

impl Json<'_> {
    fn opt_str(s: Option<&str>) -> Json<'_> {
        s.map_or(Json::Null, Json::Str)
    }

    fn write(&self, depth: usize, out: &mut String) {
        /// Before the `i`th item of a list or object at `depth`.
        fn item(out: &mut String, i: usize, depth: usize) {
            if i > 0 {
                out.push(',');
            }
            out.push('\n');
            for _ in 0..depth {
                out.push_str("  ");
            }
        }
        match self {
            Json::Null => out.push_str("null"),
            Json::Str(s) => crate::json::write_str(s, out),
            Json::Int(n) => out.push_str(&crate::text::decimal(*n)),
            Json::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    item(out, i, depth + 1);
                    v.write(depth + 1, out);
                }
                if !items.is_empty() {
                    item(out, 0, depth);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    item(out, i, depth + 1);
                    crate::json::write_str(k, out);
                    out.push_str(": ");
                    v.write(depth + 1, out);
                }
                if !fields.is_empty() {
                    item(out, 0, depth);
                }
                out.push('}');
            }
        }
    }
}

fn write_entry(e: &CacheEntry) -> Json<'_> {
    let a = &e.account;
    let account = Json::Obj(vec![
        ("username", Json::Str(&a.username)),
        ("email", Json::opt_str(a.email.as_deref())),
        ("name", Json::opt_str(a.name.as_deref())),
        ("oid", Json::opt_str(a.oid.as_deref())),
        ("tid", Json::opt_str(a.tid.as_deref())),
        ("home_account_id", Json::opt_str(a.home_account_id.as_deref())),
    ]);
    let tokens = e
        .access_tokens
        .iter()
        .map(|t| {
            let mut fields = vec![
                ("scopes", Json::List(t.scopes.iter().map(|s| Json::Str(s)).collect())),
                ("secret", Json::Str(&t.secret)),
                ("expires_at", Json::Int(t.expires_at)),
            ];
            if let Some(r) = t.refresh_at {
                fields.push(("refresh_at", Json::Int(r)));
            }
            Json::Obj(fields)
        })
        .collect();
    let mut fields = vec![
        ("environment", Json::Str(&e.environment)),
        ("client_id", Json::Str(&e.client_id)),
        ("tenant", Json::Str(&e.tenant)),
        ("account", account),
    ];
    if let Some(rt) = &e.refresh_token {
        fields.push(("refresh_token", Json::Str(rt)));
    }
    fields.push(("updated_at", Json::Int(e.updated_at)));
    fields.push(("access_tokens", Json::List(tokens)));
    Json::Obj(fields)
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
        let root = parse_object(bytes).ok_or("not a JSON cache")?;
        let version = match root.get("version") {
            None | Some(Value::Null) => return Err("no schema version".to_owned()),
            Some(v) => as_i64(v)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or("not a JSON cache: the version is not an integer")?,
        };
        if version != CACHE_SCHEMA_VERSION {
            return Err(crate::cat!(
                "schema version ",
                crate::text::decimal(version.into()),
                ", but this mailoauth reads version ",
                crate::text::decimal(CACHE_SCHEMA_VERSION.into())
            ));
        }
        read_cache(&root).map_err(|e| crate::cat!("malformed cache: ", e))
    }

    /// Serializes the document (pretty-printed JSON, fields in declaration order: the layout
    /// `serde_json::to_vec_pretty` gives the serde derives).
    pub fn to_bytes(&self) -> Vec<u8> {
        let entries = self.entries.iter().map(write_entry).collect();
        let doc =
            Json::Obj(vec![("version", Json::Int(CACHE_SCHEMA_VERSION.into())), ("entries", Json::List(entries))]);
        let mut out = String::new();
        doc.write(0, &mut out);
        out.into_bytes()
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
            let old = core::mem::take(&mut e.account);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CacheData {
        let mut entry = CacheEntry {
            environment: "https://login.microsoftonline.com".into(),
            client_id: "c".into(),
            tenant: "organizations".into(),
            account: Account {
                username: "alice@contoso.com".into(),
                name: Some("Alice \"A\" \u{e9}\n\u{1}".into()),
                home_account_id: Some("u.t".into()),
                ..Account::default()
            },
            refresh_token: Some("rt".into()),
            updated_at: 1_700_000_000,
            access_tokens: vec![
                CachedAccessToken {
                    scopes: vec!["a".into(), "b".into()],
                    secret: "at".into(),
                    expires_at: -5,
                    refresh_at: Some(7),
                },
                CachedAccessToken { scopes: Vec::new(), secret: "at2".into(), expires_at: i64::MAX, refresh_at: None },
            ],
        };
        let mut bare = entry.clone();
        bare.refresh_token = None;
        bare.access_tokens.clear();
        entry.account.email = Some("alice@contoso.com".into());
        CacheData { version: CACHE_SCHEMA_VERSION, entries: vec![entry, bare] }
    }

    #[test]
    fn writes_what_serde_json_wrote() {
        for data in [sample(), CacheData::default()] {
            let mut doc = data.clone();
            doc.version = CACHE_SCHEMA_VERSION;
            let serde = serde_json::to_vec_pretty(&doc).expect("serde_json");
            assert_eq!(String::from_utf8(data.to_bytes()).expect("utf-8"), String::from_utf8(serde).expect("utf-8"));
        }
    }

    #[test]
    fn reads_what_serde_json_wrote() {
        let data = sample();
        for bytes in [serde_json::to_vec_pretty(&data).expect("pretty"), serde_json::to_vec(&data).expect("compact")] {
            assert_eq!(CacheData::from_bytes(&bytes), Ok(data.clone()));
        }
        assert_eq!(CacheData::from_bytes(&data.to_bytes()), Ok(data));
    }

    #[test]
    fn explains_unusable_documents() {
        let err = |text: &str| CacheData::from_bytes(text.as_bytes()).expect_err(text);
        assert!(err("\u{0}not json").starts_with("not a JSON cache"));
        assert!(err("[1]").starts_with("not a JSON cache"));
        assert!(err(r#"{"version":"1","entries":[]}"#).starts_with("not a JSON cache"));
        assert_eq!(err(r#"{"entries":[]}"#), "no schema version");
        assert!(err(r#"{"version":99,"entries":[]}"#).starts_with("schema version 99,"));
        assert_eq!(err(r#"{"version":1}"#), "malformed cache: missing field `entries`");
        let entry = r#"{"environment":"e","client_id":"c","tenant":"t","account":{"username":"u"},"updated_at":1}"#;
        let ok = CacheData::from_bytes(format!(r#"{{"version":1,"x":{{}},"entries":[{entry}]}}"#).as_bytes());
        let ok = ok.expect("minimal entry");
        assert_eq!(ok.entries[0].account.username, "u");
        assert!(ok.entries[0].refresh_token.is_none() && ok.entries[0].access_tokens.is_empty());
        let bad = entry.replace(r#""updated_at":1"#, r#""updated_at":1.5"#);
        assert_eq!(
            err(&format!(r#"{{"version":1,"entries":[{bad}]}}"#)),
            "malformed cache: invalid type for field `updated_at`"
        );
        let bad = entry.replace(r#""username":"u""#, r#""username":null"#);
        assert!(err(&format!(r#"{{"version":1,"entries":[{bad}]}}"#)).contains("`username`"));
    }
}
