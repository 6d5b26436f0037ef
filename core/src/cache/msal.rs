//! Reading MSAL's serialized token cache (msal-python `SerializableTokenCache`, msal-node):
//! sections `Account`, `RefreshToken`, `AccessToken`, `IdToken`, `AppMetadata`, each a map of
//! key → object with `home_account_id`, `environment`, `client_id`, `secret`, `realm`,
//! `target`, `expires_on` (string seconds).

use super::data::{CacheEntry, CachedAccessToken};
use super::store::{StoreError, StoreErrorKind};
use crate::identity::{decode_jwt_claims, Account};
use crate::json::{self, get_str, object, Object};
#[allow(unused_imports)]
use crate::prelude::*;

fn s<'a>(o: &'a Object, k: &str) -> Option<&'a str> {
    get_str(o, k).filter(|v| !v.is_empty())
}

fn secs(o: &Object, k: &str) -> Option<i64> {
    json::seconds(o.get(k)?)
}

fn section<'a>(root: &'a Object, name: &str) -> Vec<&'a Object> {
    root.get(name).and_then(object).map(|m| m.values().filter_map(object).collect()).unwrap_or_default()
}

/// The entries an MSAL cache describes (one per refresh token).
pub(super) fn parse(text: &str, now: i64) -> Result<Vec<CacheEntry>, StoreError> {
    let root = json::parse(text.as_bytes())
        .ok_or_else(|| StoreError::new(StoreErrorKind::Corrupt, "not an MSAL token cache: not JSON"))?;
    let root = object(&root)
        .ok_or_else(|| StoreError::new(StoreErrorKind::Corrupt, "not an MSAL token cache: not a JSON object"))?;
    if !root.contains_key("RefreshToken") && !root.contains_key("Account") {
        return Err(StoreError::new(
            StoreErrorKind::Corrupt,
            "not an MSAL token cache: no Account or RefreshToken section",
        ));
    }
    let accounts = section(root, "Account");
    let id_tokens = section(root, "IdToken");
    let access_tokens = section(root, "AccessToken");
    let mut out = Vec::new();
    for rt in section(root, "RefreshToken") {
        let (Some(home), Some(env), Some(client), Some(secret)) =
            (s(rt, "home_account_id"), s(rt, "environment"), s(rt, "client_id"), s(rt, "secret"))
        else {
            continue;
        };
        let acct = accounts.iter().find(|a| s(a, "home_account_id") == Some(home) && s(a, "environment") == Some(env));
        let realm = acct.and_then(|a| s(a, "realm")).map(str::to_owned);
        let id_claims = id_tokens
            .iter()
            .find(|t| s(t, "home_account_id") == Some(home) && s(t, "client_id") == Some(client))
            .and_then(|t| s(t, "secret"))
            .and_then(decode_jwt_claims);
        let claim = |k: &str| id_claims.as_ref().and_then(|c| get_str(c, k)).map(str::to_owned);
        let account = Account {
            username: acct
                .and_then(|a| s(a, "username"))
                .map(str::to_owned)
                .or_else(|| claim("preferred_username"))
                .unwrap_or_default(),
            email: claim("email"),
            name: acct.and_then(|a| s(a, "name")).map(str::to_owned).or_else(|| claim("name")),
            oid: acct.and_then(|a| s(a, "local_account_id")).map(str::to_owned).or_else(|| claim("oid")),
            tid: realm.clone(),
            home_account_id: Some(home.to_owned()),
        };
        let ats = access_tokens
            .iter()
            .filter(|t| {
                s(t, "home_account_id") == Some(home)
                    && s(t, "client_id") == Some(client)
                    && s(t, "environment") == Some(env)
            })
            .filter_map(|t| {
                let expires_at = secs(t, "expires_on")?;
                (expires_at > now).then(|| CachedAccessToken {
                    scopes: s(t, "target").unwrap_or("").split_whitespace().map(str::to_owned).collect(),
                    secret: s(t, "secret").unwrap_or("").to_owned(),
                    expires_at,
                    refresh_at: secs(t, "refresh_on"),
                })
            })
            .filter(|t| !t.secret.is_empty())
            .collect();
        let environment = if env.contains("://") { env.to_owned() } else { crate::cat!("https://", env) };
        out.push(CacheEntry {
            environment,
            client_id: client.to_owned(),
            tenant: realm.unwrap_or_else(|| "organizations".to_owned()),
            account,
            refresh_token: Some(secret.to_owned()),
            updated_at: now,
            access_tokens: ats,
        });
    }
    Ok(out)
}
