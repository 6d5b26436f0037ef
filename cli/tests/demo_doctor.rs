//! `mailoauth demo` (both mail servers) and `mailoauth doctor`.

mod common;

use common::*;

#[test]
fn demo_runs_the_whole_story_with_dovecot() {
    let home = Home::new();
    let r = home.run(&["demo"]);
    r.ok();
    assert!(r.stdout.contains("Mail server: Dovecot"), "Dovecot is installed here (scripts/setup.sh): {}", r.stdout);
    for step in [
        "enter the code",
        "signed in as alice@contoso.example",
        "AUTH XOAUTH2 accepted",
        "the message is back",
        "A forged token is refused",
    ] {
        assert!(r.stdout.contains(step), "{step}: {}", r.stdout);
    }
    assert!(!r.stdout.contains("eyJ"), "the demo prints no token");
}

#[test]
fn demo_runs_with_the_builtin_server() {
    let home = Home::new();
    let r = home.run(&["demo", "--builtin-server"]);
    r.ok();
    assert!(r.stdout.contains("built-in loopback server"), "{}", r.stdout);
    for step in ["signed in as alice@contoso.example", "250 2.0.0 OK delivered", "the message is back", "status=401"] {
        assert!(r.stdout.contains(step), "{step}: {}", r.stdout);
    }
}

#[test]
fn doctor_prints_the_registration_for_each_flow() {
    let home = Home::new();
    let id = "11111111-2222-4333-8444-555555555555";
    let r = home.run(&["doctor", "--client-id", id, "--tenant", "contoso.onmicrosoft.com"]);
    r.ok();
    for s in [
        "Mobile and desktop applications",
        "http://localhost",
        "Allow public client flows: Yes",
        "IMAP.AccessAsUser.All, POP.AccessAsUser.All, SMTP.Send, offline_access",
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/adminconsent?client_id=11111111-2222-4333-8444-555555555555",
        "mailoauth login <account> --client-id 11111111-2222-4333-8444-555555555555 --tenant contoso.onmicrosoft.com",
    ] {
        assert!(r.stdout.contains(s), "{s}: {}", r.stdout);
    }
    let r = home.run(&[
        "doctor",
        "--flow",
        "app-only",
        "--client-id",
        id,
        "--tenant",
        "contoso.onmicrosoft.com",
        "--mailbox",
        "shared@contoso.com",
    ]);
    r.ok();
    for s in [
        "Office 365 Exchange Online",
        "IMAP.AccessAsApp, POP.AccessAsApp, SMTP.SendAsApp",
        "/contoso.onmicrosoft.com/adminconsent?client_id=",
        "New-ServicePrincipal -AppId 11111111-2222-4333-8444-555555555555",
        "Add-MailboxPermission -Identity shared@contoso.com",
        "https://outlook.office365.com/.default",
    ] {
        assert!(r.stdout.contains(s), "{s}: {}", r.stdout);
    }
    // The cloud changes the hosts, the scopes and the consent URL.
    let r = home.run(&["doctor", "--flow", "browser", "--cloud", "usgov", "--tenant", "contoso.us"]);
    r.ok();
    assert!(r.stdout.contains("https://login.microsoftonline.us/contoso.us/v2.0/adminconsent"), "{}", r.stdout);
    assert!(r.stdout.contains("https://outlook.office365.us/IMAP.AccessAsUser.All") && r.stdout.contains("--browser"));
    assert!(r.stdout.contains("not confirmed"), "unverified clouds are flagged: {}", r.stdout);
    home.run(&["doctor", "nosuchaccount"]).code(1);
}

#[test]
fn doctor_reads_the_account() {
    let emu = emulator(std::time::Duration::from_secs(3599));
    let home = Home::new();
    home.login(&emu, "work", &["--browser-flow-is-not-a-flag"]).code(1);
    home.login(&emu, "work", &[]).ok();
    let r = home.run(&["doctor", "work"]);
    r.ok();
    assert!(r.stdout.contains("App registration for work: device code") && r.stdout.contains(CLIENT), "{}", r.stdout);
}
