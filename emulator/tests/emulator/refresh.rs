use std::time::Duration;

use super::*;

pub fn refresh(emu: &Emulator, rt: &str, scope: Option<&str>) -> Resp {
    let mut pairs = vec![("client_id", DEMO_PUBLIC_CLIENT_ID), ("grant_type", "refresh_token"), ("refresh_token", rt)];
    if let Some(s) = scope {
        pairs.push(("scope", s));
    }
    client().post_form(&token_url(emu, "organizations"), &pairs)
}

#[test]
fn rotation_gives_a_new_refresh_token_each_time_and_counts() {
    let emu = emu();
    let first = ropc(&emu, &format!("offline_access {IMAP}")).json();
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let r2 = refresh(&emu, &rt1, Some(&format!("offline_access {IMAP}"))).json();
    let rt2 = r2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    assert_ne!(first["access_token"], r2["access_token"]);
    let r3 = refresh(&emu, &rt2, None).json();
    assert!(r3["refresh_token"].is_string());
    // the old one is not revoked by rotation
    assert_eq!(refresh(&emu, &rt1, None).status, 200);
    let c = emu.counters();
    assert_eq!(c.grant("refresh_token"), 3);
    assert_eq!(c.issued("refresh_token"), 3);
    assert_eq!(c.grant("password"), 1);
    assert_eq!(c.endpoint("token"), 4);
}

#[test]
fn refresh_for_another_resource_uses_the_first_scope() {
    let emu = emu();
    let rt = ropc(&emu, &format!("offline_access {IMAP}")).json()["refresh_token"].as_str().unwrap().to_owned();
    let v =
        refresh(&emu, &rt, Some("https://outlook.office365.com/.default https://outlook.office.com/SMTP.Send")).json();
    assert_eq!(claims(v["access_token"].as_str().unwrap())["aud"], "https://outlook.office365.com");
}

#[test]
fn revoked_expired_by_inactivity_and_foreign_refresh_tokens() {
    let emu = emu();
    let rt = ropc(&emu, &format!("offline_access {IMAP}")).json()["refresh_token"].as_str().unwrap().to_owned();
    emu.revoke_user(DEMO_USER).unwrap();
    assert_aad(&refresh(&emu, &rt, None), 400, "invalid_grant", 50173);
    let rt = ropc(&emu, &format!("offline_access {IMAP}")).json()["refresh_token"].as_str().unwrap().to_owned();
    emu.advance_clock(Duration::from_secs(91 * 86_400));
    assert_aad(&refresh(&emu, &rt, None), 400, "invalid_grant", 700082);
    assert_aad(&refresh(&emu, "garbage", None), 400, "invalid_grant", 9002313);
    let unknown = format!("1.A{}", "x".repeat(128));
    assert_aad(&refresh(&emu, &unknown, None), 400, "invalid_grant", 70000);
}

#[test]
fn refresh_token_of_another_client() {
    let emu = emu();
    let rt = ropc(&emu, &format!("offline_access {IMAP}")).json()["refresh_token"].as_str().unwrap().to_owned();
    let r = client().post_form(
        &token_url(&emu, DEMO_TENANT_ID),
        &[
            ("client_id", DEMO_CONFIDENTIAL_CLIENT_ID),
            ("client_secret", mailoauth_emulator::config::DEMO_CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
        ],
    );
    let v = assert_aad(&r, 400, "invalid_grant", 70000);
    assert_eq!(v["suberror"], "client_mismatch");
}
