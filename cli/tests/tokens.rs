//! End to end: login, token, sasl, accounts, logout and the exit codes of the identity side,
//! against the in-process emulator. Every test has its own HOME.

mod common;

use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use mailoauth_emulator::{Fault, FaultEndpoint, FaultKind};

const HOUR: Duration = Duration::from_secs(3599);

#[test]
fn device_code_login_then_token_sasl_accounts_logout() {
    let emu = emulator(HOUR);
    let home = Home::new();
    let r = home.login(&emu, "work", &[]);
    r.ok();
    assert!(r.stderr.contains("enter the code"), "Microsoft's device-code message is shown: {}", r.stderr);
    assert!(r.stderr.contains("Signed in as alice@contoso.example"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "login prints nothing on stdout: {:?}", r.stdout);
    assert_eq!(mode(&home.config_file()), 0o600);
    assert_eq!(mode(&home.token_file()), 0o600);
    let cfg = std::fs::read_to_string(home.config_file()).expect("config");
    assert!(cfg.contains("[accounts.work]") && cfg.contains("user = \"alice@contoso.example\""), "{cfg}");
    for secret_word in ["eyJ", "refresh"] {
        assert!(!cfg.contains(secret_word), "no token in the config: {cfg}");
    }

    // token: exactly one line, a token the mail server accepts; no network on the hit path.
    emu.reset_counters();
    let t = home.run(&["token", "work"]);
    t.ok();
    assert!(t.stderr.is_empty(), "nothing on stderr: {}", t.stderr);
    let token = t.stdout.strip_suffix('\n').expect("newline-terminated");
    assert!(!token.contains('\n') && token.starts_with("eyJ"), "one JWT: {token:?}");
    assert!(introspect_active(&emu, token));
    let c = emu.counters();
    assert_eq!(c.endpoint("token") + c.endpoint("openid-configuration"), 0, "cached token: no request at all");
    // The only account may be omitted.
    assert_eq!(home.run(&["token"]).ok().stdout, t.stdout);

    // sasl: XOAUTH2 and OAUTHBEARER over the same token.
    let b64 = base64::engine::general_purpose::STANDARD;
    let x = home.run(&["sasl", "work"]);
    x.ok();
    let raw = b64.decode(x.stdout.trim()).expect("base64");
    assert_eq!(raw, format!("user={USER}\x01auth=Bearer {token}\x01\x01").into_bytes());
    let o = home.run(&["sasl", "work", "--mechanism", "oauthbearer", "--host", "imap.example", "--port", "993"]);
    o.ok();
    let raw = String::from_utf8(b64.decode(o.stdout.trim()).expect("base64")).expect("utf8");
    assert_eq!(raw, format!("n,a={USER},\x01host=imap.example\x01port=993\x01auth=Bearer {token}\x01\x01"));
    let shared = home.run(&["sasl", "work", "--user", "shared@contoso.example"]);
    let raw = String::from_utf8(b64.decode(shared.ok().stdout.trim()).expect("b64")).expect("utf8");
    assert!(raw.starts_with("user=shared@contoso.example\x01"), "{raw:?}");

    // accounts: listed and signed in; JSON without secrets.
    let a = home.run(&["accounts"]);
    assert!(a.ok().stdout.starts_with("work\talice@contoso.example\t") && a.stdout.contains("signed in"), "{a:?}");
    let j = home.run(&["accounts", "--json"]);
    let v: serde_json::Value = serde_json::from_str(j.ok().stdout.trim()).expect("json");
    assert_eq!(v["status"], "signed in");
    assert!(!j.stdout.contains(token));

    // logout: tokens gone, `token` says sign in (exit 2); the account stays until --forget.
    home.run(&["logout", "work"]).ok();
    let after = home.run(&["token", "work"]);
    after.code(2);
    assert!(after.stdout.is_empty() && after.stderr.contains("mailoauth login work"), "{after:?}");
    assert!(home.run(&["accounts"]).ok().stdout.contains("not signed in"));
    let tokens = std::fs::read_to_string(home.token_file()).expect("token file");
    assert!(!tokens.contains(token), "the access token is removed from the store");
    home.run(&["logout", "work", "--forget"]).ok();
    home.run(&["token", "work"]).code(1);
}

#[test]
fn second_account_and_explicit_store_file() {
    let emu = emulator(HOUR);
    let home = Home::new();
    let store = home.path().join("elsewhere/tokens.json");
    let store_s = store.to_str().expect("utf8");
    home.cmd()
        .args(["--store", store_s, "login", "a", "--client-id", CLIENT, "--authority", &emu.authority("organizations")])
        .output()
        .map(Run::from)
        .expect("run")
        .ok();
    assert_eq!(mode(&store), 0o600);
    assert!(!home.token_file().exists(), "--store replaces the default file");
    // MAILOAUTH_STORE is the same option.
    let t = home.cmd().env("MAILOAUTH_STORE", &store).args(["token", "a"]).output().map(Run::from).expect("run");
    t.ok();
    // Without it, the default file has no sign-in.
    home.run(&["token", "a"]).code(2);
    // Two accounts: naming one is required.
    home.login(&emu, "b", &[]).ok();
    let r = home.run(&["token"]);
    r.code(1);
    assert!(r.stderr.contains("several accounts"), "{}", r.stderr);
    home.run(&["token", "b"]).ok();
}

#[test]
fn config_file_option_and_environment() {
    let emu = emulator(HOUR);
    let home = Home::new();
    let cfg = home.path().join("my.toml");
    let cfg_s = cfg.to_str().expect("utf8");
    let r: Run = home
        .cmd()
        .args(["--config", cfg_s, "login", "x", "--client-id", CLIENT, "--authority", &emu.authority("organizations")])
        .output()
        .expect("run")
        .into();
    r.ok();
    assert!(cfg.exists() && !home.config_file().exists());
    assert_eq!(mode(&cfg), 0o600);
    home.cmd().env("MAILOAUTH_CONFIG", &cfg).args(["token", "x"]).output().map(Run::from).expect("run").ok();
    home.run(&["token", "x"]).code(1);
}

#[test]
fn command_store_keeps_tokens_where_the_user_says() {
    let emu = emulator(HOUR);
    let home = Home::new();
    let file = home.path().join("vault.json");
    let load = format!("cat {} 2>/dev/null || true", file.display());
    let save = format!("umask 077; cat > {}", file.display());
    home.login(&emu, "cmd", &["--token-store", "command", "--load-command", &load, "--save-command", &save]).ok();
    let vault = std::fs::read_to_string(&file).expect("the save command wrote the cache");
    assert!(vault.contains("\"entries\""), "{vault}");
    assert!(!home.token_file().exists(), "the file store is not used");
    let t = home.run(&["token", "cmd"]);
    assert!(t.ok().stdout.starts_with("eyJ"));
    // A failing load command is a configuration error (exit 1) that names the command.
    let cfg = std::fs::read_to_string(home.config_file()).expect("config");
    std::fs::write(home.config_file(), cfg.replace(&load, "exit 3")).expect("write");
    let r = home.run(&["token", "cmd"]);
    r.code(1);
    assert!(r.stderr.contains("load command"), "{}", r.stderr);
}

#[test]
fn exit_codes_of_usage_and_identity_failures() {
    let emu = emulator(Duration::from_secs(60)); // under the 5 min margin: every `token` refreshes
    let home = Home::new();
    // 1: usage
    home.run(&["token", "--bogus"]).code(1);
    home.run(&["frobnicate"]).code(1);
    let r = home.run(&["login", "x", "--authority", &emu.authority("organizations")]);
    r.code(1);
    assert!(r.stderr.contains("--client-id"), "{}", r.stderr);
    home.run(&["login", "x", "--client-id", CLIENT, "--authority", "http://example.com/organizations"]).code(1);
    home.run(&["token", "nobody"]).code(1);
    assert_eq!(home.run(&["--help"]).code, 0);
    assert!(home.run(&["--version"]).ok().stdout.contains("mailoauth"));
    // 5: the app registration is refused (unknown client id).
    let r = home.run(&[
        "login",
        "y",
        "--client-id",
        "00000000-0000-4000-8000-00000000dead",
        "--authority",
        &emu.authority("organizations"),
    ]);
    r.code(5);
    assert!(r.stderr.contains("AADSTS700016"), "{}", r.stderr);

    home.login(&emu, "work", &[]).ok();
    home.run(&["token", "work"]).ok();
    // 5: invalid_client on refresh
    emu.inject_fault(Fault::new(FaultEndpoint::Token, FaultKind::InvalidClient).grant_type("refresh_token"));
    home.run(&["token", "work"]).code(5);
    // 2: the sign-in was revoked (AADSTS50173): interaction required
    emu.revoke_user(USER).expect("revoke");
    let r = home.run(&["token", "work"]);
    r.code(2);
    assert!(r.stderr.contains("mailoauth login work") && r.stdout.is_empty(), "{r:?}");
    // the cache is kept: signing in again works
    home.login(&emu, "work", &[]).ok();
    home.run(&["token", "work"]).ok();
    // 2: MFA / consent required on refresh
    emu.inject_fault(Fault::new(FaultEndpoint::Token, FaultKind::Aadsts { code: 50076 }).grant_type("refresh_token"));
    home.run(&["token", "work"]).code(2);
    // 5: throttled beyond what is worth waiting for
    emu.inject_fault(
        Fault::new(FaultEndpoint::Token, FaultKind::Status { status: 429, retry_after: Some(120) })
            .grant_type("refresh_token"),
    );
    home.run(&["token", "work"]).code(5);
    // 4: the identity platform is unreachable
    drop(emu);
    let r = home.run(&["token", "work"]);
    r.code(4);
    assert!(r.stdout.is_empty());
}

#[test]
fn verbose_logs_never_show_secrets() {
    let emu = emulator(Duration::from_secs(60));
    let home = Home::new();
    home.login(&emu, "work", &["-v"]).ok();
    let r = home.run(&["-v", "token", "work"]);
    r.ok();
    let token = r.stdout.trim();
    assert!(r.stderr.contains("token store: file") && r.stderr.contains("[redacted"), "{}", r.stderr);
    assert!(r.stderr.contains("HTTP Post"), "the refresh is logged: {}", r.stderr);
    let tokens = std::fs::read_to_string(home.token_file()).expect("store");
    let v: serde_json::Value = serde_json::from_str(&tokens).expect("json");
    let rt = v["entries"][0]["refresh_token"].as_str().expect("refresh token stored");
    assert!(!r.stderr.contains(token) && !r.stderr.contains(rt), "no secret in -v output");
    let s = home.run(&["-v", "sasl", "work"]);
    assert!(!s.stderr.contains(token) && !s.stderr.contains(rt) && !s.stderr.contains(s.stdout.trim()));
}

#[test]
fn twenty_processes_at_expiry_refresh_once() {
    // Sign in with a token already inside the refresh margin, then issue long-lived ones.
    let emu = emulator(Duration::from_secs(120));
    let home = Home::new();
    home.login(&emu, "work", &[]).ok();
    emu.set_token_lifetime(HOUR);
    emu.reset_counters();
    let children: Vec<_> = (0..20)
        .map(|_| {
            home.cmd().args(["token", "work"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
        })
        .collect();
    let runs: Vec<Run> = children.into_iter().map(|c| c.wait_with_output().expect("wait").into()).collect();
    for r in &runs {
        r.ok();
    }
    let first = &runs[0].stdout;
    assert!(runs.iter().all(|r| &r.stdout == first), "every process prints the one refreshed token");
    let c = emu.counters();
    assert_eq!(c.grant("refresh_token"), 1, "exactly one refresh at the emulator: {c:?}");
    assert_eq!(c.issued("refresh_token"), 1);
    assert!(introspect_active(&emu, first.trim()));
}

#[test]
fn browser_login_prints_the_url_and_finishes_on_redirect() {
    use std::io::{BufRead, BufReader};
    let emu = emulator(HOUR);
    let home = Home::new();
    let mut child = home
        .cmd()
        .args([
            "login",
            "web",
            "--browser",
            "--client-id",
            CLIENT,
            "--authority",
            &emu.authority("organizations"),
            "--user",
            USER,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let url = loop {
        let mut l = String::new();
        assert!(err.read_line(&mut l).expect("read") > 0, "login ended before printing a URL: {seen}");
        seen.push_str(&l);
        if l.starts_with("http") {
            break l.trim().to_owned();
        }
    };
    assert!(url.contains("code_challenge_method=S256") && url.contains("login_hint="), "{url}");
    // The browser's part: the emulator signs alice in at once and redirects to the loopback.
    let (status, headers, _) = http_get(&url, &[]);
    assert_eq!(status, 302);
    let location = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")).expect("redirect").1.clone();
    assert!(location.starts_with("http://localhost:"), "{location}");
    let (status, _, page) = http_get(&location.replace("localhost", "127.0.0.1"), &[]);
    assert_eq!(status, 200, "{page}");
    let out = child.wait_with_output().expect("wait");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).expect("rest");
    assert!(out.status.success(), "{seen}{rest}");
    let cfg = std::fs::read_to_string(home.config_file()).expect("config");
    assert!(cfg.contains("flow = \"browser\""), "{cfg}");
    home.run(&["token", "web"]).ok();
}

#[test]
fn device_flow_declined_is_sign_in_needed() {
    let emu = mailoauth_emulator::Emulator::builder()
        .device_code_interval(Duration::ZERO)
        .start_blocking()
        .expect("emulator");
    let home = Home::new();
    let child = home
        .cmd()
        .args(["login", "d", "--client-id", CLIENT, "--authority", &emu.authority("organizations")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let code = loop {
        if let Some(p) = emu.pending_device_codes().first() {
            break p.user_code.clone();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    emu.deny_device_code(&code).expect("deny");
    let r: Run = child.wait_with_output().expect("wait").into();
    r.code(2);
    assert!(r.stderr.contains("declined"), "{}", r.stderr);
    assert!(!home.config_file().exists(), "a failed sign-in saves nothing");
}

#[cfg(target_os = "linux")]
#[test]
fn keyring_store_announces_its_fallback_and_keeps_tokens() {
    // Like a login session (pam_keyinit): a session keyring the child processes inherit.
    linux_keyutils::KeyRing::from_special_id(linux_keyutils::KeyRingIdentifier::Session, true)
        .expect("a kernel session keyring");
    let emu = emulator(HOUR);
    let home = Home::new();
    let name = format!("kr{}", std::process::id());
    let r = home.login(&emu, &name, &["--token-store", "keyring"]);
    r.ok();
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(r.stderr.contains("kernel keyring"), "the fallback is announced: {}", r.stderr);
    }
    assert!(!home.token_file().exists(), "nothing in the file store");
    let t = home.run(&["token", &name]);
    assert!(t.ok().stdout.starts_with("eyJ"));
    assert!(introspect_active(&emu, t.stdout.trim()));
    home.run(&["logout", &name]).ok();
    home.run(&["token", &name]).code(2);
}

#[test]
fn unusable_store_fails_before_the_sign_in() {
    let emu = emulator(HOUR);
    let home = Home::new();
    let r = home.login(
        &emu,
        "x",
        &["--token-store", "command", "--load-command", "exit 7", "--save-command", "cat >/dev/null"],
    );
    r.code(1);
    assert!(!r.stderr.contains("enter the code"), "no sign-in was started: {}", r.stderr);
    assert!(emu.pending_device_codes().is_empty());
}

#[test]
fn refresh_and_min_validity_escape_a_refused_token() {
    let emu = emulator(HOUR);
    let home = Home::new();
    home.login(&emu, "work", &[]).ok();
    let cached = home.run(&["token", "work"]).ok().stdout.clone();

    // The server stops accepting the cached token (as after an outage of the session): plain
    // `token` keeps printing it, `--refresh` prints a new one the server accepts.
    assert_eq!(emu.expire_access_tokens(Some(USER)), 1);
    assert!(!introspect_active(&emu, cached.trim()));
    assert_eq!(home.run(&["token", "work"]).ok().stdout, cached, "the trap: the refused token is still cached");
    emu.reset_counters();
    let fresh = home.run(&["token", "work", "--refresh"]);
    fresh.ok();
    assert!(fresh.stderr.is_empty(), "{fresh:?}");
    assert_ne!(fresh.stdout, cached);
    assert!(introspect_active(&emu, fresh.stdout.trim()));
    assert_eq!(emu.counters().grant("refresh_token"), 1);
    // The new token is cached: the next plain call prints it without a request.
    assert_eq!(home.run(&["token", "work"]).ok().stdout, fresh.stdout);
    assert_eq!(emu.counters().grant("refresh_token"), 1);

    // --min-validity: satisfied by an hour-long token, not by more than its lifetime.
    assert_eq!(home.run(&["token", "work", "--min-validity", "1800"]).ok().stdout, fresh.stdout);
    assert_eq!(emu.counters().grant("refresh_token"), 1);
    let longer = home.run(&["token", "work", "--min-validity", "3600"]);
    assert_ne!(longer.ok().stdout, fresh.stdout);
    assert_eq!(emu.counters().grant("refresh_token"), 2);
    // sasl takes the same options.
    let b64 = base64::engine::general_purpose::STANDARD;
    let s = home.run(&["sasl", "work", "--refresh"]);
    let raw = String::from_utf8(b64.decode(s.ok().stdout.trim()).expect("b64")).expect("utf8");
    assert!(!raw.contains(longer.stdout.trim()), "a new token in the SASL string");
    assert_eq!(emu.counters().grant("refresh_token"), 3);

    // Revoked (password changed): the plain call still prints the cached token, --refresh
    // says to sign in again (exit 2), with no token on stdout and none in the message.
    let current = home.run(&["token", "work"]).ok().stdout.clone();
    emu.revoke_user(USER).expect("revoke");
    assert_eq!(home.run(&["token", "work"]).ok().stdout, current);
    let r = home.run(&["token", "work", "--refresh"]);
    r.code(2);
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.contains("Sign in again: mailoauth login work"), "{r:?}");
    assert!(!r.stderr.contains(current.trim()), "no token in the error");
    home.run(&["token", "work", "--min-validity", "abc"]).code(1);
}

/// A damaged token cache is found before the user signs in: it is moved aside (and said so),
/// and the sign-in that follows is kept, not thrown away at the save.
#[test]
fn corrupt_store_is_set_aside_before_the_sign_in() {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let emu = emulator(HOUR);
    let home = Home::new();
    let file = home.token_file();
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(file.parent().expect("dir")).expect("dir");
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&file).expect("token file");
    std::io::Write::write_all(&mut f, b"{\"version\": 1, \"entries\": [trunc").expect("write");
    drop(f);
    let r = home.login(&emu, "work", &[]);
    r.ok();
    assert!(r.stderr.contains("unreadable") && r.stderr.contains(".corrupt-"), "{}", r.stderr);
    let said = r.stderr.find("unreadable").expect("warning");
    let code = r.stderr.find("enter the code").or_else(|| r.stderr.find("Signed in")).expect("sign-in");
    assert!(said < code, "the damage is reported before the sign-in: {}", r.stderr);
    home.run(&["token", "work"]).ok();
    let dir = file.parent().expect("dir");
    let kept: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(dir.join(&kept[0])).expect("kept"), b"{\"version\": 1, \"entries\": [trunc");
}

/// The configuration written by `login` keeps a symbolic link a link (dotfiles), and logins
/// running at the same time do not lose each other's accounts.
#[test]
fn config_writes_keep_links_and_concurrent_logins() {
    let emu = emulator(HOUR);
    let home = Home::new();
    let real = home.path().join("dotfiles/mailoauth.toml");
    std::fs::create_dir_all(real.parent().expect("dir")).expect("dotfiles");
    std::fs::create_dir_all(home.config_file().parent().expect("dir")).expect("cfg dir");
    std::fs::write(&real, "# mine\n").expect("config");
    std::os::unix::fs::symlink(&real, home.config_file()).expect("link");
    home.login(&emu, "first", &[]).ok();
    assert!(std::fs::symlink_metadata(home.config_file()).expect("link").file_type().is_symlink(), "still a link");
    let text = std::fs::read_to_string(&real).expect("target");
    assert!(text.contains("[accounts.first]"), "{text}");

    let authority = emu.authority("organizations");
    let children: Vec<_> = (0..6)
        .map(|i| {
            home.cmd()
                .args(["login", &format!("acct{i}"), "--client-id", CLIENT, "--authority", &authority])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for c in children {
        Run::from(c.wait_with_output().expect("wait")).ok();
    }
    let text = std::fs::read_to_string(&real).expect("target");
    for name in ["first", "acct0", "acct1", "acct2", "acct3", "acct4", "acct5"] {
        assert!(text.contains(&format!("[accounts.{name}]")), "{name} lost:\n{text}");
    }
    assert!(std::fs::symlink_metadata(home.config_file()).expect("link").file_type().is_symlink(), "still a link");
}
