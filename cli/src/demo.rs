//! `mailoauth demo`: the whole story on one machine. The identity-platform emulator runs
//! in-process; the mail server is Dovecot when it is installed (validating tokens at the
//! emulator), else the built-in loopback server that validates them the same way. Then:
//! device-code sign-in (auto-approved), a cached token, IMAP and SMTP logins with XOAUTH2, a
//! message sent and read back, and a forged token refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailoauth::cache::FileStore;
use mailoauth::identity::DevicePoll;
use mailoauth::net::{login, LoginOptions, MailServer, MailSession, ReqwestHttp, Security, TlsOptions, TokioPlatform};
use mailoauth::{AccessToken, Authority, Mechanism, Protocol, PublicClient, TokenCache};
use mailoauth_emulator::{config as demo, Emulator};
use mailoauth_testkit::{Dovecot, DovecotOptions};

use crate::account::default_scopes;
use crate::demo_server;
use crate::exit::{CliResult, Exit, Failure};
use crate::{out_line, DemoArgs};

fn say(s: &str) {
    out_line(s);
}

fn fail(step: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(Exit::Usage, format!("demo: {step}: {e}"))
}

/// Where the demo's mail lives.
enum Mail {
    Dovecot(Box<Dovecot>),
    Builtin(demo_server::DemoServer),
}

impl Mail {
    fn server(&self, protocol: Protocol) -> MailServer {
        match self {
            Mail::Dovecot(d) => {
                let port = if protocol == Protocol::Imap { d.imap_port() } else { d.submission_port() };
                MailServer::new(protocol, "127.0.0.1", port, Security::StartTls)
            }
            Mail::Builtin(b) => {
                let port = if protocol == Protocol::Imap { b.imap_port } else { b.smtp_port };
                MailServer::new(protocol, "127.0.0.1", port, Security::Plain)
            }
        }
    }

    fn options(&self) -> LoginOptions {
        let mut o = LoginOptions { probe: true, ..Default::default() };
        if let Mail::Dovecot(d) = self {
            o.tls = TlsOptions { ca_files: vec![d.ca_file().to_path_buf()], ..Default::default() };
        }
        o
    }
}

fn dovecot_installed() -> bool {
    let dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    dirs.iter().chain([std::path::PathBuf::from("/usr/sbin")].iter()).any(|d| d.join("dovecot").is_file())
}

async fn expect(session: &mut MailSession, tag_or_code: &str) -> CliResult<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let l = session.read_line().await.map_err(|e| fail("reading the server's answer", e))?;
        let done = l.starts_with(tag_or_code) && l.as_bytes().get(tag_or_code.len()) != Some(&b'-');
        lines.push(l);
        if done {
            return Ok(lines);
        }
    }
}

pub(crate) fn run(a: &DemoArgs) -> CliResult {
    let started = Instant::now();
    say("mailoauth demo: sign in, get a token, log in to IMAP and SMTP with XOAUTH2, send a message and read it");
    say("back. Everything runs on this machine; nothing leaves 127.0.0.1.");
    say("");

    // 1. the identity platform
    let emu = Emulator::builder()
        .device_code_interval(Duration::ZERO)
        .auto_approve_as(demo::DEMO_USER)
        .start_blocking()
        .map_err(|e| fail("starting the emulator", e))?;
    say(&format!(
        "1. Identity platform: the mailoauth emulator (a local login.microsoftonline.com) at {}",
        emu.base_url()
    ));
    say(&format!(
        "   tenant {}, user {}, app {}",
        demo::DEMO_TENANT_DOMAIN,
        demo::DEMO_USER,
        demo::DEMO_PUBLIC_CLIENT_ID
    ));

    // 2. the mail server
    let mail_dovecot = if a.builtin_server || !dovecot_installed() {
        None
    } else {
        match Dovecot::start(DovecotOptions::new(emu.introspection_url())) {
            Ok(d) => Some(d),
            Err(e) => {
                say(&format!("   (Dovecot is installed but did not start: {e}; using the built-in server)"));
                None
            }
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail("starting the runtime", e))?;
    let mail = match mail_dovecot {
        Some(d) => {
            say(&format!(
                "2. Mail server: Dovecot (IMAP 127.0.0.1:{}, submission 127.0.0.1:{}, STARTTLS with its own CA).",
                d.imap_port(),
                d.submission_port()
            ));
            say("   Its oauth2 passdb asks the emulator about every token, as Exchange Online checks Entra's.");
            Mail::Dovecot(Box::new(d))
        }
        None => {
            let b = rt
                .block_on(demo_server::start(emu.introspection_url()))
                .map_err(|e| fail("starting the built-in mail server", e))?;
            say(&format!(
                "2. Mail server: the built-in loopback server (IMAP 127.0.0.1:{}, SMTP 127.0.0.1:{}; Dovecot is {}).",
                b.imap_port,
                b.smtp_port,
                if a.builtin_server { "not used: --builtin-server" } else { "not installed" }
            ));
            say("   It asks the emulator about every token and refuses unknown or expired ones with the");
            say("   XOAUTH2 error challenge, as Dovecot and Exchange Online do.");
            Mail::Builtin(b)
        }
    };

    let dir = tempfile::tempdir().map_err(|e| fail("creating a temporary directory", e))?;
    let result = rt.block_on(story(&emu, &mail, dir.path()));
    drop(mail);
    let user = result?;
    say("");
    say(&format!(
        "Done in {:.1} s. The same commands work with Exchange Online for {user}'s real counterpart:",
        started.elapsed().as_secs_f64()
    ));
    say("  mailoauth doctor work --client-id <app id>             # what the app registration needs");
    say("  mailoauth login work --client-id <app id> --tenant <your tenant>");
    say("  mailoauth check all --account work                    # every step, and the fix if one fails");
    say("  mailoauth token work                                  # for msmtp, mbsync, neomutt, aerc, ...");
    Ok(())
}

async fn story(emu: &Emulator, mail: &Mail, dir: &std::path::Path) -> CliResult<String> {
    // 3. sign in with the device flow
    let authority = Authority::from_url(&emu.authority("organizations"))?;
    let scopes = default_scopes(&authority);
    let tokens = dir.join("tokens.json");
    let cache = Arc::new(TokenCache::new(Arc::new(FileStore::new(&tokens))));
    let http = ReqwestHttp::new()?.shared();
    let client = PublicClient::new(demo::DEMO_PUBLIC_CLIENT_ID, authority.clone(), http, Arc::new(TokioPlatform))
        .with_cache(cache);
    say("");
    say("3. Sign in with the device code flow (what `mailoauth login work --device-code` does):");
    let mut flow = client.start_device_flow(&scopes).await?;
    say(&format!("   > {}", flow.message));
    say("   (the emulator approves the code as alice at once; with Microsoft you would type it in a browser)");
    let token = loop {
        match client.poll_device_flow(&mut flow).await? {
            DevicePoll::Done(t) => break *t,
            DevicePoll::Pending(wait) => tokio::time::sleep(wait.max(Duration::from_millis(20))).await,
        }
    };
    let account = token.account.clone().unwrap_or_default();
    let user = account.sasl_user().to_owned();
    say(&format!("   signed in as {user}; tokens saved in {} (mode 0600)", tokens.display()));

    // 4. the cached token a mail client asks for
    let t0 = Instant::now();
    let cached = client.acquire_token_silent(&scopes, Some(&user)).await?;
    say("");
    say(&format!(
        "4. `mailoauth token work` answers from the cache in {} µs, no network: an access token of {} characters,",
        t0.elapsed().as_micros(),
        cached.access_token.expose_secret().len()
    ));
    say(&format!(
        "   valid for {} min, scopes {} (the demo never prints it).",
        cached.expires_in(client.platform().now()) / 60,
        cached.scopes.iter().filter(|s| s.contains('/')).cloned().collect::<Vec<_>>().join(" ")
    ));

    // 5. IMAP login
    let options = mail.options();
    let imap = mail.server(Protocol::Imap);
    let mut session = login(&imap, &user, &cached.access_token, Mechanism::XOAuth2, &options).await?;
    say("");
    say(&format!(
        "5. IMAP {}:{}: AUTHENTICATE XOAUTH2 as {user}: {}",
        imap.host,
        imap.port,
        session.outcome().final_line.split(']').next_back().unwrap_or("").trim()
    ));
    say("   then LIST \"\" \"INBOX\" answered: the mailbox is there (no \"authenticated but not connected\").");

    // 6. SMTP: send a message
    let smtp = mail.server(Protocol::Smtp);
    let mut s = login(&smtp, &user, &cached.access_token, Mechanism::XOAuth2, &options).await?;
    let subject = format!("Hello from the mailoauth demo ({})", std::process::id());
    let message = format!(
        "From: {user}\r\nTo: {user}\r\nSubject: {subject}\r\nMessage-ID: <demo-{}@mailoauth.invalid>\r\n\r\nSent over SMTP with an OAuth token.\r\n",
        std::process::id()
    );
    for (cmd, code) in
        [(format!("MAIL FROM:<{user}>"), "250"), (format!("RCPT TO:<{user}>"), "250"), ("DATA".to_owned(), "354")]
    {
        s.write_line(&cmd).await.map_err(|e| fail("SMTP", e))?;
        let l = expect(&mut s, code).await;
        l.map_err(|f| fail("SMTP", format!("{cmd}: {f}")))?;
    }
    s.write_all(format!("{message}.\r\n").as_bytes()).await.map_err(|e| fail("SMTP", e))?;
    let done = expect(&mut s, "250").await?;
    let _ = s.write_line("QUIT").await;
    say("");
    say(&format!(
        "6. SMTP {}:{}: AUTH XOAUTH2 accepted; sent \"{subject}\": {}",
        smtp.host,
        smtp.port,
        done.last().map(String::as_str).unwrap_or("")
    ));

    // With Dovecot the submission service relays the message on (here to the harness's SMTP
    // sink); the demo then files it in alice's INBOX over IMAP, as her incoming server would.
    if let Mail::Dovecot(d) = mail {
        let got = d.sink().wait_for_messages(1, Duration::from_secs(10));
        let Some(m) = got.first() else {
            return Err(fail("SMTP", "Dovecot did not relay the message"));
        };
        say(&format!(
            "   Dovecot relayed it to its next hop (the harness's SMTP sink, {} bytes); delivering it to the INBOX:",
            m.data.len()
        ));
        session
            .write_all(format!("a1 APPEND INBOX {{{}+}}\r\n", m.data.len()).as_bytes())
            .await
            .map_err(|e| fail("IMAP APPEND", e))?;
        session.write_all(&m.data).await.map_err(|e| fail("IMAP APPEND", e))?;
        session.write_line("").await.map_err(|e| fail("IMAP APPEND", e))?;
        let r = expect(&mut session, "a1 ").await?;
        if !r.last().is_some_and(|l| l.starts_with("a1 OK")) {
            return Err(fail("IMAP APPEND", r.join(" | ")));
        }
    }

    // 7. read it back over IMAP
    session.write_line("a2 SELECT INBOX").await.map_err(|e| fail("IMAP", e))?;
    let sel = expect(&mut session, "a2 ").await?;
    let exists = sel.iter().find_map(|l| l.strip_suffix(" EXISTS")).and_then(|l| l.strip_prefix("* ")).unwrap_or("1");
    session.write_line(&format!("a3 FETCH {exists} BODY.PEEK[]")).await.map_err(|e| fail("IMAP", e))?;
    let fetched = expect(&mut session, "a3 ").await?;
    let _ = session.write_line("a4 LOGOUT").await;
    let Some(read_back) = fetched.iter().find(|l| l.starts_with("Subject:")) else {
        return Err(fail("IMAP FETCH", format!("the message is not in the INBOX: {}", fetched.join(" | "))));
    };
    if !read_back.contains(&subject) {
        return Err(fail("IMAP FETCH", format!("another message came back: {read_back}")));
    }
    say("");
    say(&format!("7. IMAP: SELECT INBOX ({exists} message), FETCH {exists}: \"{read_back}\": the message is back."));

    // 8. a forged token
    let forged = AccessToken::new(format!("{}x", &cached.access_token.expose_secret()[..40]));
    let e = match login(&imap, &user, &forged, Mechanism::XOAuth2, &options).await {
        Ok(_) => return Err(fail("forged token", "the server accepted a forged token")),
        Err(e) => e,
    };
    say("");
    say(&format!(
        "8. A forged token is refused: {} ({}); the error challenge said {}",
        e.kind,
        e.server_line.as_deref().unwrap_or(""),
        e.challenge.as_ref().map(|c| c.summary()).unwrap_or_else(|| "nothing".to_owned())
    ));
    say(&format!("   hint (`mailoauth check imap` gives it, with the likely cause): {}", e.hint()));
    Ok(user)
}
