//! Token cache and silent acquisition against the emulator: hits, refresh, single flight
//! across threads and processes, revocation, corrupt and truncated files, SIGKILL during a
//! write, permissions, the command and keyring stores, MSAL migration, and the store lock
//! shared with Node (live, dead and old holders, the lock wait's limit).
//!
//! This test binary has its own `main` (libtest-mimic) so that it can re-run itself as the
//! worker processes of the multi-process tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use mailoauth::cache::{CacheData, CommandStore, FileStore, StoreErrorKind, TokenCache, TokenStore};
use mailoauth::identity::{scopes, IdentityErrorKind, Platform, RefreshToken};
use mailoauth::net::{ReqwestHttp, TokioPlatform};
use mailoauth::{Authority, Protocol, PublicClient, SilentOptions};
use mailoauth_emulator::config::{DEMO_MFA_PASSWORD, DEMO_MFA_USER, DEMO_PASSWORD, DEMO_PUBLIC_CLIENT_ID, DEMO_USER};
use mailoauth_emulator::Emulator;

type TestResult = Result<(), Failed>;

fn check(cond: bool, msg: impl Into<String>) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg.into().into())
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime")
}

fn wanted() -> Vec<String> {
    scopes::mail_scopes(
        mailoauth::Provider::Microsoft,
        mailoauth::Cloud::Global,
        &[Protocol::Imap, Protocol::Smtp],
        true,
    )
}

fn client(authority_url: &str, cache: Arc<TokenCache>) -> PublicClient {
    PublicClient::new(
        DEMO_PUBLIC_CLIENT_ID,
        Authority::from_url(authority_url).expect("authority"),
        ReqwestHttp::new().expect("http").shared(),
        Arc::new(TokioPlatform),
    )
    .with_cache(cache)
}

fn file_cache(path: &Path, margin: Duration) -> Arc<TokenCache> {
    Arc::new(TokenCache::new(Arc::new(FileStore::new(path))).with_refresh_margin(margin))
}

async fn emulator(lifetime: Duration) -> Emulator {
    Emulator::builder().token_lifetime(lifetime).start().await.expect("emulator")
}

// ---- tests -------------------------------------------------------------------------------

fn silent_hits_then_refreshes() -> TestResult {
    rt().block_on(async {
        let emu = emulator(Duration::from_secs(3600)).await;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state/tokens.json");
        let c = client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(300)));
        let e = c.acquire_token_silent(&wanted(), None).await.expect_err("empty cache");
        check(e.kind == IdentityErrorKind::InteractionRequired, format!("{e}"))?;

        let first = c.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
        let before = emu.counters().endpoint("token");
        let hit = c.acquire_token_silent(&wanted(), None).await?;
        check(hit.access_token == first.access_token, "cache hit returns the cached token")?;
        check(emu.counters().endpoint("token") == before, "a hit makes no request")?;
        // A subset of the scopes is a hit too; a fresh process (new cache over the file) also hits.
        let c2 = client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(300)));
        let sub = c2.acquire_token_silent(&[wanted()[1].clone()], Some(DEMO_USER)).await?;
        check(sub.access_token == first.access_token, "subset hit from the file")?;
        check(emu.counters().endpoint("token") == before, "still no request")?;

        // The file is private.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
            check(mode == 0o600, format!("cache file mode {mode:o}"))?;
            let dmode = std::fs::metadata(path.parent().expect("dir"))?.permissions().mode() & 0o777;
            check(dmode == 0o700, format!("cache dir mode {dmode:o}"))?;
        }
        let text = std::fs::read_to_string(&path)?;
        let data = CacheData::from_bytes(text.as_bytes()).map_err(Failed::from)?;
        check(data.version == 1 && data.entries.len() == 1, "one entry, schema 1")?;

        // With a margin larger than the lifetime left, the next call refreshes (and rotates).
        let c3 = client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(4000)));
        let rt_before = data.entries[0].refresh_token.clone();
        let refreshed = c3.acquire_token_silent(&wanted(), None).await?;
        check(refreshed.access_token != first.access_token, "refreshed")?;
        check(emu.counters().grant("refresh_token") == 1, "one refresh")?;
        let after = CacheData::from_bytes(&std::fs::read(&path)?).map_err(Failed::from)?;
        check(after.entries[0].refresh_token != rt_before, "the rotated refresh token was stored")?;
        Ok(())
    })
}

fn revoked_sign_in_needs_interaction_and_keeps_the_cache() -> TestResult {
    rt().block_on(async {
        let emu = emulator(Duration::from_secs(3600)).await;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("tokens.json");
        let c = client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(4000)));
        c.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
        let stored = std::fs::read(&path)?;
        emu.revoke_user(DEMO_USER)?;
        let e = c.acquire_token_silent(&wanted(), None).await.expect_err("revoked");
        check(e.kind == IdentityErrorKind::InteractionRequired, format!("{e}"))?;
        check(std::fs::read(&path)? == stored, "the stored data is left intact")?;

        // Network trouble is not turned into "sign in again" either.
        emu.shutdown().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let e = c.acquire_token_silent(&wanted(), None).await.expect_err("emulator gone");
        check(e.kind == IdentityErrorKind::Network, format!("{e}"))?;
        check(std::fs::read(&path)? == stored, "still intact")?;
        Ok(())
    })
}

fn accounts_selection_export_import_and_logout() -> TestResult {
    rt().block_on(async {
        let emu = emulator(Duration::from_secs(3600)).await;
        emu.add_user(mailoauth_emulator::UserConfig::new("carol@contoso.example", "carol-pw"))?;
        let cache = Arc::new(TokenCache::in_memory());
        let c = client(&emu.authority("organizations"), cache.clone());
        c.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
        c.acquire_token_by_username_password("carol@contoso.example", "carol-pw", &wanted()).await?;
        let names: Vec<String> = c.accounts()?.into_iter().map(|a| a.username).collect();
        check(names.len() == 2, format!("{names:?}"))?;
        let e = c.acquire_token_silent(&wanted(), None).await.expect_err("ambiguous");
        check(e.kind == IdentityErrorKind::Configuration, format!("{e}"))?;
        let t = c.acquire_token_silent(&wanted(), Some("carol@contoso.example")).await?;
        check(t.account.as_ref().map(|a| a.username.as_str()) == Some("carol@contoso.example"), "named account")?;

        // Export carol's refresh token, log her out, import it back: silent works again.
        let authority = c.authority().clone();
        let rt = cache.export_refresh_token(&authority, DEMO_PUBLIC_CLIENT_ID, "carol@contoso.example")?.expect("rt");
        let account = t.account.clone().expect("account");
        check(c.remove_account("carol@contoso.example").await?, "removed")?;
        let e = c.acquire_token_silent(&wanted(), Some("carol@contoso.example")).await.expect_err("logged out");
        check(e.kind == IdentityErrorKind::InteractionRequired, format!("{e}"))?;
        cache.import_refresh_token(&authority, DEMO_PUBLIC_CLIENT_ID, account, rt, &TokioPlatform).await?;
        c.acquire_token_silent(&wanted(), Some("carol@contoso.example")).await?;
        let e =
            c.acquire_token_by_username_password(DEMO_MFA_USER, DEMO_MFA_PASSWORD, &wanted()).await.expect_err("mfa");
        check(e.kind == IdentityErrorKind::MfaRequired, "MFA user is not cached")?;
        check(c.accounts()?.len() == 2, "no entry for the failed sign-in")?;
        let _ = RefreshToken::new("x");
        Ok(())
    })
}

fn corrupt_and_truncated_files_are_kept_aside() -> TestResult {
    rt().block_on(async {
        let emu = emulator(Duration::from_secs(3600)).await;
        for (name, damage) in
            [("garbage", b"\x00\x01not json".to_vec()), ("truncated", Vec::new()), ("future", Vec::new())]
        {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("tokens.json");
            let c = client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(300)));
            c.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
            let good = std::fs::read(&path)?;
            let bad = match name {
                "truncated" => good[..good.len() / 2].to_vec(),
                "future" => String::from_utf8(good.clone())?.replace("\"version\": 1", "\"version\": 99").into_bytes(),
                _ => damage,
            };
            std::fs::write(&path, &bad)?;
            let fresh = client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(300)));
            let e = fresh.acquire_token_silent(&wanted(), None).await.expect_err("corrupt");
            check(e.kind == IdentityErrorKind::Storage, format!("{name}: {e}"))?;
            check(
                e.message.contains("unreadable") && e.message.contains(".corrupt-"),
                format!("{name}: {}", e.message),
            )?;
            let kept: Vec<PathBuf> = std::fs::read_dir(dir.path())?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<Vec<PathBuf>, _>>()?
                .into_iter()
                .filter(|p| p.to_string_lossy().contains(".corrupt-"))
                .collect();
            check(
                kept.len() == 1 && std::fs::read(&kept[0])? == bad,
                format!("{name}: the damaged file is kept as it was"),
            )?;
            // Next time: nothing cached, a clear "sign in" (and a new sign-in writes a new file).
            let e = fresh.acquire_token_silent(&wanted(), None).await.expect_err("empty");
            check(e.kind == IdentityErrorKind::InteractionRequired, format!("{e}"))?;
        }
        Ok(())
    })
}

/// A tokens.json that is a symbolic link (dotfiles, a synced folder) stays one: saves go to
/// its target, atomically, beside the target; damaged data is moved aside there too, and
/// damaged files found within one second are all kept.
#[cfg(unix)]
fn symlinked_file_stays_a_link_and_corrupt_copies_do_not_collide() -> TestResult {
    let dir = tempfile::tempdir()?;
    let real_dir = dir.path().join("real");
    let link_dir = dir.path().join("link");
    std::fs::create_dir_all(&link_dir)?;
    let real = real_dir.join("tokens.json");
    FileStore::new(&real).save(&CacheData::default().to_bytes())?;
    let link = link_dir.join("tokens.json");
    std::os::unix::fs::symlink("../real/tokens.json", &link)?;
    let mut data = CacheData::default();
    data.entries.push(mailoauth::cache::CacheEntry {
        environment: "https://login.microsoftonline.com".into(),
        client_id: "c".into(),
        tenant: "organizations".into(),
        account: mailoauth::Account { username: "a@example.com".into(), ..Default::default() },
        refresh_token: Some("r".into()),
        updated_at: 1,
        access_tokens: Vec::new(),
    });
    FileStore::new(&link).save(&data.to_bytes())?;
    check(std::fs::symlink_metadata(&link)?.file_type().is_symlink(), "tokens.json is still a link")?;
    check(std::fs::read(&real)? == data.to_bytes(), "the target holds what was saved")?;
    let names = |d: &Path| -> Result<Vec<String>, Failed> {
        Ok(std::fs::read_dir(d)?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
    };
    let in_link_dir = names(&link_dir)?;
    check(
        in_link_dir.iter().all(|n| n == "tokens.json" || n.starts_with("tokens.json.lock")),
        format!("{in_link_dir:?}"),
    )?;

    // Three damaged files in quick succession: each is kept, none overwrites another.
    let cache = TokenCache::new(Arc::new(FileStore::new(&link)));
    for i in 0..3 {
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&real)?;
            f.write_all(format!("damaged {i}").as_bytes())?;
        }
        let e = cache.load().expect_err("corrupt");
        check(e.kind == StoreErrorKind::Corrupt, format!("{e}"))?;
        // The link is what the user keeps: it is not moved, its target is.
        check(std::fs::symlink_metadata(&link).is_ok(), "the link stays")?;
    }
    let kept: Vec<String> = names(&real_dir)?.into_iter().filter(|n| n.contains(".corrupt-")).collect();
    check(kept.len() == 3, format!("three damaged copies kept: {kept:?}"))?;
    let mut contents: Vec<String> =
        kept.iter().map(|n| std::fs::read_to_string(real_dir.join(n))).collect::<Result<_, _>>()?;
    contents.sort();
    check(contents == ["damaged 0", "damaged 1", "damaged 2"], format!("{contents:?}"))?;
    // A save after that goes through the link again.
    FileStore::new(&link).save(&data.to_bytes())?;
    check(std::fs::symlink_metadata(&link)?.file_type().is_symlink(), "still a link")?;
    check(std::fs::read(&real)? == data.to_bytes(), "target rewritten")?;
    Ok(())
}

fn readable_by_others_is_refused() -> TestResult {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("tokens.json");
        let store = FileStore::new(&path);
        store.save(&CacheData::default().to_bytes())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        let e = store.load().expect_err("world-readable");
        check(e.kind == StoreErrorKind::Permissions, format!("{e}"))?;
        check(e.message.contains("chmod 600"), e.message.clone())?;
    }
    Ok(())
}

fn command_store_round_trip_with_encryption() -> TestResult {
    rt().block_on(async {
        let emu = emulator(Duration::from_secs(3600)).await;
        let dir = tempfile::tempdir()?;
        let enc = dir.path().join("tokens.enc");
        let pass = "pass:correct horse";
        let load = format!(
            "test -e '{0}' && openssl enc -d -aes-256-cbc -pbkdf2 -pass '{pass}' -in '{0}' || true",
            enc.display()
        );
        let save = format!("openssl enc -aes-256-cbc -pbkdf2 -pass '{pass}' -out '{}'", enc.display());
        let store = CommandStore::new(load, save).with_lock_file(dir.path().join("tokens.lock"));
        let cache = Arc::new(TokenCache::new(Arc::new(store)));
        let c = client(&emu.authority("organizations"), cache);
        let t = c.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
        let raw = std::fs::read(&enc)?;
        check(!raw.windows(20).any(|w| t.access_token.expose_secret().as_bytes().starts_with(w)), "encrypted at rest")?;
        let again = client(
            &emu.authority("organizations"),
            Arc::new(TokenCache::new(Arc::new(CommandStore::new(
                format!("openssl enc -d -aes-256-cbc -pbkdf2 -pass '{pass}' -in '{}'", enc.display()),
                "cat > /dev/null",
            )))),
        );
        let hit = again.acquire_token_silent(&wanted(), None).await?;
        check(hit.access_token == t.access_token, "read back through the load command")?;
        let broken = client(
            &emu.authority("organizations"),
            Arc::new(TokenCache::new(Arc::new(CommandStore::new("echo nope >&2; exit 3", "cat >/dev/null")))),
        );
        let e = broken.acquire_token_silent(&wanted(), None).await.expect_err("command fails");
        check(e.kind == IdentityErrorKind::Storage && e.message.contains("nope"), format!("{e}"))?;
        Ok(())
    })
}

#[cfg(feature = "keyring")]
fn keyring_store_announces_its_fallback() -> TestResult {
    #[cfg(target_os = "linux")]
    {
        use mailoauth::cache::KeyringStore;
        // Like a login session (pam_keyinit), have a kernel session keyring.
        linux_keyutils::KeyRing::from_special_id(linux_keyutils::KeyRingIdentifier::Session, true)
            .map_err(|e| Failed::from(format!("session keyring: {e:?}")))?;
        let name = format!("test-{}", std::process::id());
        let store = KeyringStore::new("mailoauth-tests", &name)?;
        let ss_running = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
        if !ss_running {
            let n = store.notice().unwrap_or_default();
            check(n.contains("kernel keyring") && n.contains("reboot"), format!("fallback must be announced: {n:?}"))?;
        }
        check(store.load()?.is_none(), "empty at first")?;
        let data = CacheData::default().to_bytes();
        store.save(&data).map_err(|e| Failed::from(format!("save: {e} ({store:?})")))?;
        check(store.load()?.as_deref() == Some(&data[..]), "round trip")?;
        store.delete()?;
        check(store.load()?.is_none(), "deleted")?;
        let kernel = KeyringStore::kernel_keyring("mailoauth-tests", &name)?;
        check(kernel.notice().is_some(), "kernel keyring always announced")?;
    }
    Ok(())
}

/// The Windows Credential Manager holds at most 2,560 bytes of UTF-16 per secret; a cache is
/// split to fit. Forced to the Windows part size here, against the real kernel keyring.
#[cfg(all(feature = "keyring", target_os = "linux"))]
fn keyring_store_splits_documents_over_the_platform_limit() -> TestResult {
    use mailoauth::cache::{KeyringStore, WINDOWS_PART_LIMIT};
    const SERVICE: &str = "mailoauth-tests";
    // Windows' CRED_MAX_CREDENTIAL_BLOB_SIZE, in bytes of UTF-16.
    const WINDOWS_BLOB_BYTES: usize = 2560;
    linux_keyutils::KeyRing::from_special_id(linux_keyutils::KeyRingIdentifier::Session, true)
        .map_err(|e| Failed::from(format!("session keyring: {e:?}")))?;
    let name = format!("split-{}", std::process::id());
    let raw = |n: &str| -> Result<keyring::Entry, Failed> {
        let cred = keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, n)
            .map_err(|e| Failed::from(format!("{e}")))?;
        Ok(keyring::Entry::new_with_credential(Box::new(cred)))
    };
    let get = |n: &str| -> Result<Option<String>, Failed> {
        match raw(n)?.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(format!("{n}: {e}").into()),
        }
    };
    // The parts the main entry names: (entry name, text).
    let parts = || -> Result<Vec<(String, String)>, Failed> {
        let main = get(&name)?.ok_or("no main entry")?;
        let rest = main.strip_prefix("mailoauth-keyring-parts/1 ").ok_or(format!("not a manifest: {main:.40}"))?;
        let (generation, count) = rest.split_once(' ').ok_or("manifest")?;
        let count: usize = count.parse().map_err(|_| "count")?;
        (0..count)
            .map(|i| {
                let n = format!("{name}.part-{generation}-{i}");
                let text = get(&n)?.ok_or(format!("{n} missing"))?;
                Ok((n, text))
            })
            .collect()
    };
    let within_windows_limit = |parts: &[(String, String)]| -> TestResult {
        for (n, text) in parts {
            let utf16 = text.encode_utf16().count();
            check(
                text.len() <= WINDOWS_PART_LIMIT && utf16 * 2 <= WINDOWS_BLOB_BYTES,
                format!("{n}: {} bytes, {utf16} UTF-16 units", text.len()),
            )?;
        }
        Ok(())
    };
    let store = || -> Result<KeyringStore, Failed> {
        Ok(KeyringStore::kernel_keyring(SERVICE, &name)?.with_part_limit(WINDOWS_PART_LIMIT))
    };
    let result = rt().block_on(async {
        // A document an older version wrote whole still loads (and is replaced by parts).
        let old = CacheData::default().to_bytes();
        raw(&name)?.set_password(std::str::from_utf8(&old)?).map_err(|e| Failed::from(format!("{e}")))?;
        check(store()?.load()?.as_deref() == Some(&old[..]), "an unsplit document loads")?;

        // A real sign-in's cache (over 5 KB) is split, every part under Windows' limit.
        let emu = emulator(Duration::from_secs(3600)).await;
        let cache = Arc::new(TokenCache::new(Arc::new(store()?)));
        let c = client(&emu.authority("organizations"), cache);
        c.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
        // The emulator's tokens are shorter than Microsoft's (a 2,723-byte cache); give the
        // entry tokens of real lengths (Exchange Online's access tokens run to 3 KB and more,
        // refresh tokens to 1.5 KB) so the document is the issue's 5,628 bytes or more.
        let mut data = CacheData::from_bytes(&store()?.load()?.ok_or("stored")?).map_err(Failed::from)?;
        let long_at = format!("eyJ0eXAiOiJKV1QiLCJub25jZSI6{}", "A".repeat(3300));
        data.entries[0].access_tokens[0].secret = long_at.clone();
        data.entries[0].refresh_token = Some(format!("1.AQcA{}", "B".repeat(1500)));
        store()?.save(&data.to_bytes())?;
        let doc = store()?.load()?.ok_or("stored")?;
        let signed_in = parts()?;
        eprintln!("one sign-in: {} bytes in {} parts", doc.len(), signed_in.len());
        check(doc.len() >= 5628 && signed_in.len() >= 5, format!("{} bytes", doc.len()))?;
        within_windows_limit(&signed_in)?;
        let joined: String = signed_in.iter().map(|(_, t)| t.as_str()).collect();
        check(joined.as_bytes() == &doc[..], "the parts make the document")?;
        CacheData::from_bytes(&doc).map_err(Failed::from)?;
        // Another process (a new store and cache over the same entry) gets the cached token.
        let again = client(&emu.authority("organizations"), Arc::new(TokenCache::new(Arc::new(store()?))));
        let hit = again.acquire_token_silent(&wanted(), None).await?;
        check(hit.access_token.expose_secret() == long_at, "read back through the parts")?;

        // Characters of every width are cut at boundaries, under the UTF-16 limit.
        let wide = "aé€😀".repeat(700);
        store()?.save(wide.as_bytes())?;
        check(store()?.load()?.as_deref() == Some(wide.as_bytes()), "wide characters round-trip")?;
        let wide_parts = parts()?;
        within_windows_limit(&wide_parts)?;

        // A shorter split document after a longer one: the longer one's parts are gone.
        let shorter = "x".repeat(3 * WINDOWS_PART_LIMIT);
        store()?.save(shorter.as_bytes())?;
        check(store()?.load()?.as_deref() == Some(shorter.as_bytes()), "shorter round-trip")?;
        check(parts()?.len() == 3, "three parts")?;
        for (n, _) in &wide_parts {
            check(get(n)?.is_none(), format!("stale part {n} left"))?;
        }
        // A document that fits is stored whole, and the split one's parts go.
        let short_parts = parts()?;
        store()?.save(&old)?;
        check(get(&name)?.as_deref().map(str::as_bytes) == Some(&old[..]), "stored whole")?;
        for (n, _) in &short_parts {
            check(get(n)?.is_none(), format!("stale part {n} left"))?;
        }

        // A part gone missing (not by a concurrent writer) is a corrupt store, not a short cache.
        store()?.save(wide.as_bytes())?;
        let p = parts()?;
        raw(&p[1].0)?.delete_credential().map_err(|e| Failed::from(format!("{e}")))?;
        let e = store()?.load().expect_err("a part is missing");
        check(e.kind == StoreErrorKind::Corrupt && e.message.contains("part 1"), format!("{e:?}"))?;

        // delete removes the main entry and every part.
        store()?.save(wide.as_bytes())?;
        let p = parts()?;
        store()?.delete()?;
        check(get(&name)?.is_none(), "main entry deleted")?;
        for (n, _) in &p {
            check(get(n)?.is_none(), format!("part {n} left after delete"))?;
        }
        check(store()?.load()?.is_none(), "empty after delete")?;
        Ok(())
    });
    let _ = store().map(|s| s.delete());
    result
}

fn msal_cache_migration() -> TestResult {
    rt().block_on(async {
        let emu = emulator(Duration::from_secs(3600)).await;
        let json = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/msal/token_cache.json"))?;
        // Point the MSAL environment at the emulator (MSAL stores host names only).
        let host = emu.base_url().trim_start_matches("http://").to_owned();
        let json = json.replace("login.microsoftonline.com", &host);
        // Mint a real refresh token for the fixture's account so the migrated sign-in works.
        let seed = client(&emu.authority("organizations"), Arc::new(TokenCache::in_memory()));
        let t = seed.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
        let json = json.replace("MSAL_REFRESH_TOKEN", t.refresh_token.as_ref().expect("rt").expose_secret());
        let cache = Arc::new(TokenCache::in_memory().with_refresh_margin(Duration::from_secs(300)));
        let n = cache.import_msal(&json, &TokioPlatform).await?;
        check(n == 1, format!("imported {n}"))?;
        // MSAL records https://host; the emulator is plain http, so the entry is renamed here.
        let mut data = cache.load()?;
        data.entries[0].environment = emu.base_url().to_owned();
        cache.store().save(&data.to_bytes())?;
        let c = client(&emu.authority("organizations"), cache.clone());
        let accounts = c.accounts()?;
        check(accounts.len() == 1 && accounts[0].username == DEMO_USER, format!("{accounts:?}"))?;
        let before = emu.counters().grant("refresh_token");
        let silent = c.acquire_token_silent(&wanted(), None).await?;
        check(
            emu.counters().grant("refresh_token") == before + 1,
            "expired MSAL access token → refresh with MSAL's refresh token",
        )?;
        check(silent.account.as_ref().map(|a| a.username.as_str()) == Some(DEMO_USER), "account kept")?;
        let e = cache.import_msal("{\"not\": \"msal\"}", &TokioPlatform).await.expect_err("not msal");
        check(e.kind == StoreErrorKind::Corrupt, format!("{e}"))?;
        Ok(())
    })
}

fn threads_share_one_refresh() -> TestResult {
    rt().block_on(async {
        let emu = emulator(Duration::from_secs(100)).await;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("tokens.json");
        let seed = client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(30)));
        seed.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
        // A margin beyond the 100 s lifetime: the cached token counts as expiring.
        let c = Arc::new(client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(200))));
        let first = c.acquire_token_silent(&wanted(), None).await?;
        check(emu.counters().grant("refresh_token") == 1, "one refresh")?;
        // A margin the token satisfies: 32 concurrent calls, no refresh.
        let c = Arc::new(client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(30))));
        let mut handles = Vec::new();
        for _ in 0..32 {
            let c = c.clone();
            handles.push(tokio::spawn(async move { c.acquire_token_silent(&wanted(), None).await }));
        }
        for h in handles {
            let t = h.await.map_err(|e| Failed::from(e.to_string()))??;
            check(t.access_token == first.access_token, "same token for everyone")?;
        }
        check(emu.counters().grant("refresh_token") == 1, "no refresh for valid tokens")?;
        // Expiring for 32 concurrent callers at once (the next token will live an hour):
        // exactly one more refresh, and everyone gets its token.
        emu.set_token_lifetime(Duration::from_secs(3600));
        let c = Arc::new(client(&emu.authority("organizations"), file_cache(&path, Duration::from_secs(200))));
        let mut handles = Vec::new();
        for _ in 0..32 {
            let c = c.clone();
            handles.push(tokio::spawn(async move { c.acquire_token_silent(&wanted(), None).await }));
        }
        let mut tokens = std::collections::HashSet::new();
        for h in handles {
            let t = h.await.map_err(|e| Failed::from(e.to_string()))??;
            tokens.insert(t.access_token.expose_secret().to_owned());
        }
        let n = emu.counters().grant("refresh_token");
        check(n == 2, format!("one refresh per expiry, got {n}"))?;
        check(tokens.len() == 1, "all callers got the one new token")?;
        Ok(())
    })
}

/// An HTTP client that never answers: a refresh stuck on the network.
struct Stalled;

impl mailoauth::identity::HttpClient for Stalled {
    fn send(
        &self,
        _request: mailoauth::identity::HttpRequest,
    ) -> mailoauth::identity::BoxFuture<'_, Result<mailoauth::identity::HttpResponse, mailoauth::identity::HttpError>>
    {
        Box::pin(std::future::pending())
    }
}

/// Another process holding the cache lock, or stuck in one account's refresh, does not hold
/// up a cached token (served without the lock) nor another account's refresh.
fn a_held_lock_blocks_neither_hits_nor_other_accounts() -> TestResult {
    rt().block_on(async {
        let emu = emulator(Duration::from_secs(3600)).await;
        emu.add_user(mailoauth_emulator::UserConfig::new("carol@contoso.example", "carol-pw"))?;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("tokens.json");
        let authority = emu.authority("organizations");
        let margin = Duration::from_secs(300);
        let seed = client(&authority, file_cache(&path, margin));
        let alice = seed.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
        seed.acquire_token_by_username_password("carol@contoso.example", "carol-pw", &wanted()).await?;
        let quick = Duration::from_secs(2);

        // Another process holds the store's lock: a new process's cache hit is served at once.
        let held = FileStore::new(&path).try_lock()?.ok_or("lock")?;
        let started = std::time::Instant::now();
        let hit = tokio::time::timeout(
            quick,
            client(&authority, file_cache(&path, margin)).acquire_token_silent(&wanted(), Some(DEMO_USER)),
        )
        .await
        .map_err(|_| Failed::from("a cached token waited for the lock"))??;
        check(hit.access_token == alice.access_token, "the cached token")?;
        check(started.elapsed() < Duration::from_millis(500), format!("hit took {:?}", started.elapsed()))?;
        drop(held);

        // Another process's refresh of alice hangs on the network (margin beyond the lifetime).
        let stalled = Arc::new(
            PublicClient::new(
                DEMO_PUBLIC_CLIENT_ID,
                Authority::from_url(&authority)?,
                Arc::new(Stalled),
                Arc::new(TokioPlatform),
            )
            .with_cache(file_cache(&path, Duration::from_secs(4000))),
        );
        let stuck = {
            let stalled = stalled.clone();
            tokio::spawn(async move { stalled.acquire_token_silent(&wanted(), Some(DEMO_USER)).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        check(!stuck.is_finished(), "the stalled refresh is under way")?;
        // alice's valid token is still served, and carol's refresh goes ahead.
        let hit = tokio::time::timeout(
            quick,
            client(&authority, file_cache(&path, margin)).acquire_token_silent(&wanted(), Some(DEMO_USER)),
        )
        .await
        .map_err(|_| Failed::from("a cached token waited for another account's refresh"))??;
        check(hit.access_token == alice.access_token, "alice's cached token")?;
        let before = emu.counters().grant("refresh_token");
        let carol = tokio::time::timeout(
            Duration::from_secs(10),
            client(&authority, file_cache(&path, Duration::from_secs(4000)))
                .acquire_token_silent(&wanted(), Some("carol@contoso.example")),
        )
        .await
        .map_err(|_| Failed::from("carol's refresh waited for alice's"))??;
        check(emu.counters().grant("refresh_token") == before + 1, "carol was refreshed")?;
        // What carol's refresh stored is there for the next process, alice's entry untouched.
        let again = client(&authority, file_cache(&path, margin))
            .acquire_token_silent(&wanted(), Some("carol@contoso.example"))
            .await?;
        check(again.access_token == carol.access_token, "carol's new token was stored")?;
        let data = CacheData::from_bytes(&std::fs::read(&path)?).map_err(Failed::from)?;
        check(data.entries.len() == 2, "both accounts kept")?;
        stuck.abort();
        Ok(())
    })
}

/// `SilentOptions`: a forced refresh replaces the cached token (a mail server refused it), a
/// minimum validity refreshes a token that would expire too soon, and callers that force or
/// ask for more than the lifetime at the same moment still cause one refresh; a forced
/// refresh of a revoked sign-in asks for interaction.
fn forced_refresh_and_min_validity() -> TestResult {
    rt().block_on(async {
        let emu = emulator(Duration::from_secs(3600)).await;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("tokens.json");
        let margin = Duration::from_secs(300);
        let authority = emu.authority("organizations");
        let c = client(&authority, file_cache(&path, margin));
        let first = c.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await?;
        let force = SilentOptions::new().force_refresh(true);

        let forced = c.acquire_token_silent_with(&wanted(), None, force).await?;
        check(forced.access_token != first.access_token, "a forced refresh returns a new token")?;
        check(emu.counters().grant("refresh_token") == 1, "one refresh")?;
        let hit = client(&authority, file_cache(&path, margin)).acquire_token_silent(&wanted(), None).await?;
        check(hit.access_token == forced.access_token, "the new token is cached")?;
        check(emu.counters().grant("refresh_token") == 1, "and served without a request")?;

        // Minimum validity: below the lifetime left, a hit; above it, a refresh.
        let min = |s: u64| SilentOptions::new().min_validity(Some(Duration::from_secs(s)));
        let t =
            client(&authority, file_cache(&path, margin)).acquire_token_silent_with(&wanted(), None, min(3000)).await?;
        check(t.access_token == forced.access_token, "valid for 3000 s more: the cached token")?;
        check(emu.counters().grant("refresh_token") == 1, "no request")?;
        let longer =
            client(&authority, file_cache(&path, margin)).acquire_token_silent_with(&wanted(), None, min(3601)).await?;
        check(longer.access_token != forced.access_token, "not valid for 3601 s more (over the lifetime): refreshed")?;
        check(emu.counters().grant("refresh_token") == 2, "one more refresh")?;

        // Eight "processes" (caches over the same file) force a refresh, or ask for more than
        // the lifetime, while the lock is held: when it is released, one refresh serves all.
        for options in [force, min(7200)] {
            let before = emu.counters().grant("refresh_token");
            let old = client(&authority, file_cache(&path, margin)).acquire_token_silent(&wanted(), None).await?;
            let store = FileStore::new(&path);
            let lock = store.try_lock()?.ok_or("the lock is free")?;
            let mut handles = Vec::new();
            for _ in 0..8 {
                let c = client(&authority, file_cache(&path, margin));
                handles.push(tokio::spawn(async move { c.acquire_token_silent_with(&wanted(), None, options).await }));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(lock);
            let mut tokens = std::collections::HashSet::new();
            for h in handles {
                let t = h.await.map_err(|e| Failed::from(e.to_string()))??;
                tokens.insert(t.access_token.expose_secret().to_owned());
            }
            let n = emu.counters().grant("refresh_token") - before;
            check(n == 1, format!("{options:?}: one refresh for eight callers, got {n}"))?;
            check(tokens.len() == 1, format!("{options:?}: everyone got the same token"))?;
            check(!tokens.contains(old.access_token.expose_secret()), format!("{options:?}: a new one"))?;
        }

        // Revoked (the password changed): the forced refresh says "sign in again".
        emu.revoke_user(DEMO_USER)?;
        let plain = client(&authority, file_cache(&path, margin)).acquire_token_silent(&wanted(), None).await;
        check(plain.is_ok(), "without forcing, the cached token is still handed out (the trap)")?;
        let e = client(&authority, file_cache(&path, margin))
            .acquire_token_silent_with(&wanted(), None, force)
            .await
            .expect_err("revoked");
        check(e.kind == IdentityErrorKind::InteractionRequired, format!("{e}"))?;
        Ok(())
    })
}

/// Processes × threads hammer silent acquisition while tokens expire every few seconds:
/// exactly one refresh per expiry, no invalid_grant, no lost refresh token.
fn processes_share_one_refresh_per_expiry() -> TestResult {
    let emu = Emulator::builder().token_lifetime(Duration::from_secs(4)).start_blocking()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tokens.json");
    let authority = emu.authority("organizations");
    // Align to a second boundary so the expiries fall in the middle of the run.
    let now = TokioPlatform.now();
    while TokioPlatform.now() == now {
        std::thread::sleep(Duration::from_millis(5));
    }
    let initial = rt().block_on(async {
        let seed = client(&authority, file_cache(&path, Duration::from_secs(2)));
        seed.acquire_token_by_username_password(DEMO_USER, DEMO_PASSWORD, &wanted()).await
    })?;
    let issued_at = TokioPlatform.now();
    // Each token is used for lifetime (4 s) − margin (2 s) = 2 s. Run until issued_at + 7 s:
    // refreshes at +2, +4, +6.
    let deadline = issued_at + 7;
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for _ in 0..3 {
        children.push(
            Command::new(&exe)
                .env("MAILOAUTH_TEST_WORKER", "silent")
                .env("WORKER_AUTHORITY", &authority)
                .env("WORKER_CACHE", &path)
                .env("WORKER_DEADLINE", deadline.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?,
        );
    }
    let mut calls = 0usize;
    // token -> expiry, as the workers saw them
    let mut seen = std::collections::BTreeMap::new();
    for child in children {
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        check(out.status.success(), format!("worker failed: {}\n{}", stdout, String::from_utf8_lossy(&out.stderr)))?;
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix("calls ") {
                calls += rest.parse::<usize>()?;
            } else if let Some(rest) = line.strip_prefix("token ") {
                let (tok, exp) = rest.split_once(' ').ok_or("token line")?;
                seen.insert(tok.to_owned(), exp.parse::<i64>()?);
            }
        }
    }
    let refreshes = emu.counters().grant("refresh_token");
    check(calls > 100, format!("workers made {calls} calls"))?;
    // Every refresh hands its token to the caller that made it, so the workers saw each one.
    let refreshed: Vec<i64> = {
        let mut v: Vec<i64> =
            seen.iter().filter(|(t, _)| t.as_str() != initial.access_token.expose_secret()).map(|(_, e)| *e).collect();
        v.sort();
        v
    };
    check(refreshes >= 2, format!("the run crossed at least two expiries ({refreshes} refreshes, {calls} calls)"))?;
    check(
        usize::try_from(refreshes).ok() == Some(refreshed.len()),
        format!("{refreshes} refreshes at the emulator but {} new tokens seen", refreshed.len()),
    )?;
    // One refresh per expiry: each token was obtained only once its predecessor was within the
    // margin (2 s) of expiring; two refreshes for the same expiry would be issued too close.
    let mut prev = initial.expires_at;
    for exp in &refreshed {
        let issued = exp - 4;
        check(issued >= prev - 2, format!("a token issued at {issued} while the previous one (expiring {prev}) was valid: duplicate refresh; expiries {refreshed:?}"))?;
        prev = *exp;
    }
    // The newest refresh token is the stored one, and it still works.
    rt().block_on(async {
        let c = client(&authority, file_cache(&path, Duration::from_secs(3000)));
        c.acquire_token_silent(&wanted(), None).await.map(|_| ())
    })?;
    Ok(())
}

/// Worker process: threads call silent acquisition until the deadline, printing what they saw.
fn silent_worker() -> i32 {
    let authority = std::env::var("WORKER_AUTHORITY").expect("authority");
    let path = PathBuf::from(std::env::var("WORKER_CACHE").expect("cache"));
    let deadline: i64 = std::env::var("WORKER_DEADLINE").expect("deadline").parse().expect("number");
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(std::collections::HashMap::new()));
    let failure = rt().block_on(async {
        let c = Arc::new(client(&authority, file_cache(&path, Duration::from_secs(2))));
        let mut handles = Vec::new();
        for _ in 0..4 {
            let (c, calls, seen) = (c.clone(), calls.clone(), seen.clone());
            handles.push(tokio::spawn(async move {
                while TokioPlatform.now() < deadline {
                    match c.acquire_token_silent(&wanted(), None).await {
                        Ok(t) => {
                            calls.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut s) = seen.lock() {
                                s.insert(t.access_token.expose_secret().to_owned(), t.expires_at);
                            }
                        }
                        Err(e) => return Some(e.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                None
            }));
        }
        let mut failure = None;
        for h in handles {
            if let Ok(Some(e)) = h.await {
                failure = Some(e);
            }
        }
        failure
    });
    let mut out = format!("calls {}\n", calls.load(Ordering::Relaxed));
    if let Ok(s) = seen.lock() {
        for (t, exp) in s.iter() {
            out.push_str(&format!("token {t} {exp}\n"));
        }
    }
    print_out(&out);
    match failure {
        Some(e) => {
            eprint_out(&format!("silent acquisition failed: {e}\n"));
            1
        }
        None => 0,
    }
}

/// SIGKILL while another process writes the cache in a loop: the file is always whole.
fn sigkill_during_writes_leaves_a_whole_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tokens.json");
    let exe = std::env::current_exe()?;
    for round in 0..12u64 {
        let mut child = Command::new(&exe)
            .env("MAILOAUTH_TEST_WORKER", "writer")
            .env("WORKER_CACHE", &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let waited = std::time::Instant::now();
        while !path.exists() && waited.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Let it write for a while (varying), then kill it mid-stream.
        std::thread::sleep(Duration::from_millis(40 + round * 17));
        child.kill()?; // SIGKILL
        child.wait()?;
        let bytes = std::fs::read(&path)?;
        let data = CacheData::from_bytes(&bytes).map_err(|e| Failed::from(format!("round {round}: {e}")))?;
        check(!data.entries.is_empty(), format!("round {round}: entries kept"))?;
    }
    // The next writer removes what the killed ones left behind.
    FileStore::new(&path).save(&CacheData::default().to_bytes())?;
    let names: Vec<String> =
        std::fs::read_dir(dir.path())?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    check(names.iter().all(|n| !n.contains(".tmp-")), format!("stale temporary files left: {names:?}"))?;
    Ok(())
}

/// Worker process: rewrites a large cache as fast as it can until killed.
fn writer_worker() -> i32 {
    let path = PathBuf::from(std::env::var("WORKER_CACHE").expect("cache"));
    let store = FileStore::new(&path);
    let mut n = 0u64;
    loop {
        let mut data = CacheData::default();
        for i in 0..200 {
            data.entries.push(mailoauth::cache::CacheEntry {
                environment: "https://login.microsoftonline.com".into(),
                client_id: format!("client-{i}"),
                tenant: "organizations".into(),
                account: mailoauth::Account { username: format!("user{i}-{n}@example.com"), ..Default::default() },
                refresh_token: Some("r".repeat(1500)),
                updated_at: i64::try_from(n).unwrap_or(0),
                access_tokens: Vec::new(),
            });
        }
        if store.save(&data.to_bytes()).is_err() {
            return 1;
        }
        n += 1;
    }
}

// ---- the store lock shared with Node (exclusively created `<file>.store-lock`) -----------

/// A platform whose lock waits take no time: a test reaches the cache's lock-wait limit at once.
struct NoWait;

impl Platform for NoWait {
    fn now(&self) -> i64 {
        TokioPlatform.now()
    }
    fn sleep(&self, _duration: Duration) -> mailoauth::identity::BoxFuture<'_, ()> {
        Box::pin(tokio::task::yield_now())
    }
}

fn store_lock_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.store-lock", path.display()))
}

/// A lock file as Node's `FileStore` (or any process of the protocol) writes it.
fn lock_file_text(pid: u32, host: &str, created_ms: i64) -> String {
    format!("mailoauth store lock\npid={pid}\nhost={host}\ncreated={created_ms}\nnonce=test\n")
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// This host's name as the lock files carry it (read from a lock the store takes).
fn lock_host(path: &Path) -> Result<String, Failed> {
    let held = FileStore::new(path).try_lock()?.ok_or("lock")?;
    let text = std::fs::read_to_string(store_lock_path(path))?;
    drop(held);
    let host = text.lines().find_map(|l| l.strip_prefix("host=")).ok_or("a host line")?;
    Ok(host.to_owned())
}

/// Saves an account's refresh token through the cache (load, change, save under the lock).
async fn import(
    path: &Path,
    user: &str,
    rt: &str,
    platform: &dyn Platform,
) -> Result<(), mailoauth::cache::StoreError> {
    let authority = Authority::from_url("https://login.microsoftonline.com/organizations").expect("authority");
    let account = mailoauth::Account { username: user.into(), ..Default::default() };
    TokenCache::new(Arc::new(FileStore::new(path)))
        .import_refresh_token(&authority, DEMO_PUBLIC_CLIENT_ID, account, RefreshToken::new(rt.to_owned()), platform)
        .await
}

fn refresh_token_of(path: &Path, user: &str) -> Result<Option<String>, Failed> {
    let data = CacheData::from_bytes(&std::fs::read(path)?).map_err(Failed::from)?;
    Ok(data.entries.iter().find(|e| e.account.username == user).and_then(|e| e.refresh_token.clone()))
}

/// The store lock held by another live process blocks a save until it is released: another
/// Rust process (a worker taking `FileStore::try_lock`), and a lock file written by another
/// program (as Node writes it) naming a live process of this host; when that process dies,
/// its lock is broken at once. (Before the shared lock file, only the first was true.)
fn a_live_holder_blocks_the_save_and_a_dead_ones_lock_is_broken() -> TestResult {
    rt().block_on(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("tokens.json");
        import(&path, "seed@contoso.example", "rt-0", &TokioPlatform).await?;

        // Another Rust process holds the lock.
        let mut holder = Command::new(std::env::current_exe()?)
            .env("MAILOAUTH_TEST_WORKER", "holder")
            .env("WORKER_CACHE", &path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().ok_or("stdout")?), &mut line)?;
        check(line.trim() == "held", format!("the holder says {line:?}"))?;
        let save = {
            let path = path.clone();
            tokio::spawn(async move { import(&path, "a@contoso.example", "rt-a", &TokioPlatform).await })
        };
        tokio::time::sleep(Duration::from_millis(700)).await;
        check(!save.is_finished(), "the save waited for the other process's lock")?;
        drop(holder.stdin.take()); // the holder releases and exits
        holder.wait()?;
        tokio::time::timeout(Duration::from_secs(5), save)
            .await
            .map_err(|_| Failed::from("the save never ran"))???;
        check(refresh_token_of(&path, "a@contoso.example")?.as_deref() == Some("rt-a"), "saved after the release")?;

        // A lock file naming a live process of this host (not a Rust one: `sleep`).
        let host = lock_host(&path)?;
        let mut sleeper = Command::new("sleep").arg("60").spawn()?;
        std::fs::write(store_lock_path(&path), lock_file_text(sleeper.id(), &host, now_ms()))?;
        let save = {
            let path = path.clone();
            tokio::spawn(async move { import(&path, "b@contoso.example", "rt-b", &TokioPlatform).await })
        };
        tokio::time::sleep(Duration::from_millis(700)).await;
        check(!save.is_finished(), "the save waited for the live process's lock file")?;
        let started = std::time::Instant::now();
        sleeper.kill()?;
        sleeper.wait()?;
        tokio::time::timeout(Duration::from_secs(5), save)
            .await
            .map_err(|_| Failed::from("the save never ran"))???;
        check(started.elapsed() < Duration::from_secs(2), format!("a dead owner's lock took {:?}", started.elapsed()))?;
        check(refresh_token_of(&path, "b@contoso.example")?.as_deref() == Some("rt-b"), "saved once the owner died")?;
        check(refresh_token_of(&path, "a@contoso.example")?.as_deref() == Some("rt-a"), "the other account kept")?;
        check(!store_lock_path(&path).exists(), "released after the save")?;
        Ok(())
    })
}

/// A lock older than the bound (30 s) is broken even when its owner cannot be checked
/// (another host); a fresh one of another host is waited for until the cache's wait ends in
/// the typed `lock_timeout` (a platform whose waits take no time), leaving the data as it was.
fn an_old_lock_is_broken_and_a_held_one_times_out() -> TestResult {
    rt().block_on(async {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("tokens.json");
        import(&path, "seed@contoso.example", "rt-0", &TokioPlatform).await?;
        let lock = store_lock_path(&path);

        std::fs::write(&lock, lock_file_text(4242, "elsewhere.example", now_ms() - 60_000))?;
        tokio::time::timeout(Duration::from_secs(5), import(&path, "a@contoso.example", "rt-a", &NoWait))
            .await
            .map_err(|_| Failed::from("an old lock was waited for"))??;
        check(refresh_token_of(&path, "a@contoso.example")?.as_deref() == Some("rt-a"), "saved")?;

        // An incomplete lock file (its writer died between create and write) ages by its mtime.
        std::fs::write(&lock, "mailoauth store lo")?;
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options().write(true).open(&lock)?.set_modified(old)?;
        import(&path, "b@contoso.example", "rt-b", &NoWait).await?;
        check(!lock.exists(), "the incomplete lock was broken and the new one released")?;

        std::fs::write(&lock, lock_file_text(4242, "elsewhere.example", now_ms()))?;
        let err = tokio::time::timeout(Duration::from_secs(60), import(&path, "c@contoso.example", "rt-c", &NoWait))
            .await
            .map_err(|_| Failed::from("the wait did not end"))?
            .err()
            .ok_or("saved under another host's fresh lock")?;
        check(err.kind == StoreErrorKind::LockTimeout, format!("kind {:?}: {err}", err.kind))?;
        check(refresh_token_of(&path, "c@contoso.example")?.is_none(), "nothing saved")?;
        check(lock.exists(), "the other host's lock is left alone")?;
        Ok(())
    })
}

/// Worker process: holds the store lock until stdin closes.
fn holder_worker() -> i32 {
    let path = PathBuf::from(std::env::var("WORKER_CACHE").expect("cache"));
    let Ok(Some(lock)) = FileStore::new(&path).try_lock() else { return 1 };
    print_out("held\n");
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest);
    drop(lock);
    0
}

fn print_out(s: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(s.as_bytes());
}

fn eprint_out(s: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(s.as_bytes());
}

fn main() {
    match std::env::var("MAILOAUTH_TEST_WORKER").as_deref() {
        Ok("silent") => std::process::exit(silent_worker()),
        Ok("writer") => std::process::exit(writer_worker()),
        Ok("holder") => std::process::exit(holder_worker()),
        _ => {}
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test("silent_hits_then_refreshes", silent_hits_then_refreshes),
        Trial::test(
            "revoked_sign_in_needs_interaction_and_keeps_the_cache",
            revoked_sign_in_needs_interaction_and_keeps_the_cache,
        ),
        Trial::test("accounts_selection_export_import_and_logout", accounts_selection_export_import_and_logout),
        Trial::test("corrupt_and_truncated_files_are_kept_aside", corrupt_and_truncated_files_are_kept_aside),
        Trial::test("readable_by_others_is_refused", readable_by_others_is_refused),
        Trial::test("command_store_round_trip_with_encryption", command_store_round_trip_with_encryption),
        Trial::test("msal_cache_migration", msal_cache_migration),
        Trial::test("threads_share_one_refresh", threads_share_one_refresh),
        Trial::test("forced_refresh_and_min_validity", forced_refresh_and_min_validity),
        Trial::test(
            "a_held_lock_blocks_neither_hits_nor_other_accounts",
            a_held_lock_blocks_neither_hits_nor_other_accounts,
        ),
        Trial::test("processes_share_one_refresh_per_expiry", processes_share_one_refresh_per_expiry),
        Trial::test("sigkill_during_writes_leaves_a_whole_file", sigkill_during_writes_leaves_a_whole_file),
        Trial::test("an_old_lock_is_broken_and_a_held_one_times_out", an_old_lock_is_broken_and_a_held_one_times_out),
    ];
    #[cfg(unix)]
    let tests = {
        let mut tests = tests;
        tests.push(Trial::test(
            "symlinked_file_stays_a_link_and_corrupt_copies_do_not_collide",
            symlinked_file_stays_a_link_and_corrupt_copies_do_not_collide,
        ));
        // kill(pid, 0) is how a dead owner is told (elsewhere stale locks expire by age).
        tests.push(Trial::test(
            "a_live_holder_blocks_the_save_and_a_dead_ones_lock_is_broken",
            a_live_holder_blocks_the_save_and_a_dead_ones_lock_is_broken,
        ));
        tests
    };
    #[cfg(feature = "keyring")]
    let tests = {
        let mut tests = tests;
        tests.push(Trial::test("keyring_store_announces_its_fallback", keyring_store_announces_its_fallback));
        #[cfg(target_os = "linux")]
        tests.push(Trial::test(
            "keyring_store_splits_documents_over_the_platform_limit",
            keyring_store_splits_documents_over_the_platform_limit,
        ));
        tests
    };
    let conclusion = libtest_mimic::run(&args, tests);
    conclusion.exit();
}
