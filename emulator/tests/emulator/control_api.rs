//! The HTTP control API, driven the way a Python/Node/shell test would.

use super::*;

#[test]
fn register_app_and_user_over_http_then_use_them() {
    let emu = emu();
    let base = emu.base_url().to_owned();
    let c = client();
    let r = c.post_json(
        &format!("{base}/_emulator/apps"),
        &json!({
            "client_id": "0e0e0e0e-0000-4000-8000-000000000001",
            "name": "py app",
            "public_client": true,
            "allow_public_client_flows": true,
            "redirect_uris": ["http://localhost"]
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.post_json(
        &format!("{base}/_emulator/users"),
        &json!({"username": "erin@contoso.example", "password": "pw", "mailbox": "erin.mail@contoso.example"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t = c.post_form(
        &token_url(&emu, "organizations"),
        &[
            ("client_id", "0e0e0e0e-0000-4000-8000-000000000001"),
            ("grant_type", "password"),
            ("username", "erin@contoso.example"),
            ("password", "pw"),
            ("scope", IMAP),
        ],
    );
    assert_eq!(t.status, 200, "{}", t.text());
    assert_eq!(claims(t.json()["access_token"].as_str().unwrap())["email"], "erin.mail@contoso.example");
    // bad registrations are refused with a JSON error
    let r = c.post_json(
        &format!("{base}/_emulator/apps"),
        &json!({"client_id": "x", "redirect_uris": ["http://evil.example/cb"]}),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("localhost"));
    let r = c.post_json(&format!("{base}/_emulator/users"), &json!({"username": "x", "bogus_field": 1}));
    assert_eq!(r.status, 400);
}

#[test]
fn faults_clock_revoke_counters_and_device_over_http() {
    let emu = emu();
    let base = emu.base_url().to_owned();
    let c = client();
    let r = c.post_json(&format!("{base}/_emulator/faults"), &json!({"endpoint": "token", "grant_type": "password", "times": 1, "kind": "status", "status": 429, "retry_after": 3}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ropc(&emu, IMAP).status, 429);
    let r = c.post_json(&format!("{base}/_emulator/faults"), &json!([{"kind": "aadsts", "code": 53003}]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_aad(&ropc(&emu, IMAP), 400, "invalid_grant", 53003);
    let r = c.request("DELETE", &format!("{base}/_emulator/faults"), &[], None);
    assert_eq!(r.status, 200);

    let rt = ropc(&emu, &format!("offline_access {IMAP}")).json()["refresh_token"].as_str().unwrap().to_owned();
    let r = c.post_json(&format!("{base}/_emulator/revoke"), &json!({"username": DEMO_USER}));
    assert_eq!(r.status, 200);
    assert_aad(&super::refresh::refresh(&emu, &rt, None), 400, "invalid_grant", 50173);

    let before = emu.now();
    let r = c.post_json(&format!("{base}/_emulator/clock"), &json!({"advance_secs": 3600}));
    assert_eq!(r.json()["clock_offset_secs"], 3600);
    assert!(emu.now() >= before + 3600);

    let counters = c.get(&format!("{base}/_emulator/counters")).json();
    assert_eq!(counters["grants"]["password"], 3);
    assert_eq!(counters["grants"]["refresh_token"], 1);
    assert_eq!(counters["issued"]["password"], 1);
    assert_eq!(counters["faults_fired"], 2);
    c.request("DELETE", &format!("{base}/_emulator/counters"), &[], None);
    assert_eq!(emu.counters().endpoint("token"), 0);

    let r = c.post_json(
        &format!("{base}/_emulator/settings"),
        &json!({"device_code_interval_secs": 0, "token_lifetime_secs": 10}),
    );
    assert_eq!(r.json()["token_lifetime_secs"], 10);
    let v = super::device::start_device(&emu, "organizations");
    let pending = c.get(&format!("{base}/_emulator/device/pending")).json();
    assert_eq!(pending[0]["user_code"], v["user_code"]);
    let r = c.post_json(
        &format!("{base}/_emulator/device/approve"),
        &json!({"user_code": v["user_code"], "username": DEMO_USER}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t = super::device::poll(&emu, "organizations", v["device_code"].as_str().unwrap()).json();
    assert_eq!(t["expires_in"], 10);

    let state = c.get(&format!("{base}/_emulator/state")).json();
    assert!(state["apps"].as_array().unwrap().len() >= 2);
    let text = state.to_string();
    assert!(!text.contains(mailoauth_emulator::config::DEMO_CLIENT_SECRET), "no secrets in the state dump");
    assert!(!text.contains(DEMO_PASSWORD), "no passwords in the state dump");
}

#[test]
fn absurd_numbers_do_not_break_the_server() {
    let emu = emu();
    let base = emu.base_url().to_owned();
    let c = client();
    let r = c.post_json(&format!("{base}/_emulator/settings"), &json!({"token_lifetime_secs": u64::MAX, "device_code_lifetime_secs": u64::MAX, "device_code_interval_secs": u64::MAX}));
    assert_eq!(r.status, 200);
    let r = c.post_json(&format!("{base}/_emulator/clock"), &json!({"advance_secs": i64::MAX}));
    assert_eq!(r.status, 200);
    assert_eq!(ropc(&emu, IMAP).status, 200);
    let v = super::device::start_device(&emu, "organizations");
    let dc = v["device_code"].as_str().unwrap();
    assert_eq!(super::device::poll(&emu, "organizations", dc).json()["error"], "authorization_pending");
    assert_eq!(super::device::poll(&emu, "organizations", dc).json()["error"], "slow_down");
    let r = c.post_json(&format!("{base}/_emulator/clock"), &json!({"advance_secs": i64::MIN}));
    assert_eq!(r.status, 200);
    assert_eq!(ropc(&emu, IMAP).status, 200);
    // an assertion with an absurd exp/nbf
    let aud = token_url(&emu, DEMO_TENANT_ID);
    let mut claims = assertion_claims(&emu, &aud);
    claims["exp"] = json!(i64::MAX);
    claims["nbf"] = json!(i64::MIN);
    let jwt = assertion(
        "PS256",
        mailoauth_emulator::config::DEMO_CLIENT_CERT_PEM,
        mailoauth_emulator::config::DEMO_CLIENT_CERT_KEY_PEM,
        &claims,
    );
    let r = c.post_form(
        &aud,
        &[
            ("client_id", DEMO_CONFIDENTIAL_CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("scope", "https://outlook.office365.com/.default"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jwt),
        ],
    );
    assert!(r.status == 200 || r.status == 401, "{}", r.text());
    // garbage bodies
    assert_eq!(
        c.request("POST", &aud, &[], Some(("application/x-www-form-urlencoded", &[0xff, 0xfe, b'=', b'&', b'%'])))
            .status,
        400
    );
    assert_eq!(
        c.request("POST", &format!("{base}/_emulator/faults"), &[], Some(("application/json", b"{"))).status,
        400
    );
}

#[test]
fn control_api_refuses_what_a_web_page_can_send() {
    let emu = emu();
    let base = emu.base_url().to_owned();
    let c = client();
    let settings = format!("{base}/_emulator/settings");
    let body = br#"{"auto_approve_as":"alice@contoso.example"}"#;
    for ct in ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data"] {
        let r = c.request("POST", &settings, &[], Some((ct, body)));
        assert_eq!(r.status, 415, "{ct}: {}", r.text());
    }
    // A cross-site page, even with JSON or no body at all.
    let evil = [("Origin", "https://evil.example")];
    assert_eq!(c.request("POST", &settings, &evil, Some(("application/json", body))).status, 403);
    assert_eq!(c.request("DELETE", &format!("{base}/_emulator/faults"), &evil, None).status, 403);
    assert!(emu.state_json()["settings"]["auto_approve_as"].is_null(), "nothing was changed");
    // Test clients: JSON, no Origin or a loopback one; bodiless DELETE.
    let r = c.request("POST", &settings, &[("Origin", "http://127.0.0.1:3000")], Some(("application/json", body)));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(c.request("DELETE", &format!("{base}/_emulator/faults"), &[], None).status, 200);
}
