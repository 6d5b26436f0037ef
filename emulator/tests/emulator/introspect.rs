use std::time::Duration;

use mailoauth_emulator::config::DEMO_CLIENT_SECRET;

use super::*;

fn introspect(emu: &Emulator, token: &str) -> Value {
    let r = client().get_h(&emu.introspection_url(), &[("authorization", &format!("Bearer {token}"))]);
    assert_eq!(r.status, 200, "always 200: Dovecot reads only the JSON");
    r.json()
}

#[test]
fn issued_token_is_active_with_the_mailbox_as_email() {
    let emu = emu();
    let at = ropc(&emu, IMAP).json()["access_token"].as_str().unwrap().to_owned();
    let v = introspect(&emu, &at);
    assert_eq!(v["active"], true);
    assert_eq!(v["email"], DEMO_USER);
    assert_eq!(v["scope"], "IMAP.AccessAsUser.All");
    // the other modes Dovecot has: POST token=… and GET ?token=…
    let r = client().post_form(&emu.introspection_url(), &[("token", &at), ("client_id", ""), ("client_secret", "")]);
    assert_eq!(r.json()["active"], true);
    let r = client().get(&format!("{}?token={}", emu.introspection_url(), at));
    assert_eq!(r.json()["active"], true);
    assert_eq!(emu.counters().endpoint("introspect"), 3);
}

#[test]
fn foreign_expired_and_revoked_tokens_are_inactive() {
    let emu = Emulator::builder().token_lifetime(Duration::from_secs(60)).start_blocking().unwrap();
    assert_eq!(introspect(&emu, "bogus"), json!({"active": false}));
    let r = client().get(&emu.introspection_url());
    assert_eq!(r.json(), json!({"active": false}));
    // a token from another emulator (same demo key, so the signature is fine) is foreign here
    let other = super::emu();
    let foreign = ropc(&other, IMAP).json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&emu, &foreign)["active"], false);

    let at = ropc(&emu, IMAP).json()["access_token"].as_str().unwrap().to_owned();
    emu.advance_clock(Duration::from_secs(61));
    assert_eq!(introspect(&emu, &at)["active"], false);

    let at = ropc(&emu, IMAP).json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(emu.expire_access_tokens(Some(DEMO_USER)), 1);
    assert_eq!(introspect(&emu, &at)["active"], false);

    let at = ropc(&emu, IMAP).json()["access_token"].as_str().unwrap().to_owned();
    emu.revoke_user(DEMO_USER).unwrap();
    assert_eq!(introspect(&emu, &at)["active"], false);
    let at = ropc(&emu, IMAP).json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&emu, &at)["active"], true, "tokens issued after the revocation are fine");
}

#[test]
fn graph_tokens_are_not_mail_tokens_and_protocol_filter() {
    let emu = emu();
    let graph = ropc(&emu, "IMAP.AccessAsUser.All").json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&graph)["aud"], "https://graph.microsoft.com");
    assert_eq!(introspect(&emu, &graph)["active"], false);
    let smtp_only = ropc(&emu, SMTP).json()["access_token"].as_str().unwrap().to_owned();
    let get = |proto: &str| {
        client()
            .get_h(
                &format!("{}?protocol={proto}", emu.introspection_url()),
                &[("authorization", &format!("Bearer {smtp_only}"))],
            )
            .json()["active"]
            .clone()
    };
    assert_eq!(get("smtp"), true);
    assert_eq!(get("imap"), false);
}

#[test]
fn app_only_tokens_report_the_apps_mailbox() {
    let emu = emu();
    let r = client().post_form(
        &token_url(&emu, DEMO_TENANT_ID),
        &[
            ("client_id", DEMO_CONFIDENTIAL_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://outlook.office365.com/.default"),
        ],
    );
    let at = r.json()["access_token"].as_str().unwrap().to_owned();
    let v = introspect(&emu, &at);
    assert_eq!(v["active"], true);
    assert_eq!(v["email"], DEMO_USER);
    assert_eq!(v["roles"], "IMAP.AccessAsApp POP.AccessAsApp SMTP.SendAsApp");
}
