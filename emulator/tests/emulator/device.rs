use std::time::Duration;

use super::*;

pub fn start_device(emu: &Emulator, tenant: &str) -> Value {
    let r = client().post_form(
        &emu.devicecode_endpoint(tenant),
        &[("client_id", DEMO_PUBLIC_CLIENT_ID), ("scope", &format!("offline_access {IMAP}"))],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

pub fn poll(emu: &Emulator, tenant: &str, device_code: &str) -> Resp {
    client().post_form(
        &token_url(emu, tenant),
        &[("client_id", DEMO_PUBLIC_CLIENT_ID), ("grant_type", DEVICE_GRANT), ("device_code", device_code)],
    )
}

#[test]
fn devicecode_response_shape() {
    let emu = Emulator::builder().start_blocking().unwrap();
    let v = start_device(&emu, "organizations");
    let uc = v["user_code"].as_str().unwrap();
    assert_eq!(uc.len(), 9);
    assert_eq!(v["verification_uri"], format!("{}/devicelogin", emu.base_url()));
    assert_eq!(v["expires_in"], 900);
    assert_eq!(v["interval"], 5);
    assert!(v.get("verification_uri_complete").is_none());
    assert_eq!(
        v["message"],
        format!(
            "To sign in, use a web browser to open the page {}/devicelogin and enter the code {uc} to authenticate.",
            emu.base_url()
        )
    );
    assert!(v["device_code"].as_str().unwrap().len() > 100);
}

#[test]
fn page_approve_path() {
    let emu = emu();
    let v = start_device(&emu, "organizations");
    let dc = v["device_code"].as_str().unwrap();
    let uc = v["user_code"].as_str().unwrap();
    let r = poll(&emu, "organizations", dc);
    assert_aad(&r, 400, "authorization_pending", 70016);
    let page = client().get(&format!("{}?otc={uc}", v["verification_uri"].as_str().unwrap()));
    assert_eq!(page.status, 200);
    assert!(page.text().contains(uc));
    // wrong password first
    let r = client().post_form(
        &format!("{}/devicelogin", emu.base_url()),
        &[("user_code", uc), ("username", DEMO_USER), ("password", "nope"), ("action", "approve")],
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("AADSTS50126"));
    let r = client().post_form(
        &format!("{}/devicelogin", emu.base_url()),
        &[
            ("user_code", &uc.to_lowercase()),
            ("username", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("action", "approve"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t = poll(&emu, "organizations", dc);
    assert_eq!(t.status, 200, "{}", t.text());
    let tv = t.json();
    assert!(tv["refresh_token"].is_string());
    assert_eq!(claims(tv["access_token"].as_str().unwrap())["upn"], DEMO_USER);
    // the device code is used up
    assert_aad(&poll(&emu, "organizations", dc), 400, "bad_verification_code", 70018);
    let c = emu.counters();
    assert_eq!(c.grant("device_code"), 3);
    assert_eq!(c.issued("device_code"), 1);
    assert_eq!(c.endpoint("devicecode"), 1);
}

#[test]
fn page_deny_path() {
    let emu = emu();
    let v = start_device(&emu, "common");
    let r = client().post_form(
        &format!("{}/devicelogin", emu.base_url()),
        &[("user_code", v["user_code"].as_str().unwrap()), ("action", "deny")],
    );
    assert_eq!(r.status, 200);
    assert_aad(&poll(&emu, "common", v["device_code"].as_str().unwrap()), 400, "authorization_declined", 70000);
}

#[test]
fn unknown_user_code_on_the_page() {
    let emu = emu();
    let r = client().post_form(
        &format!("{}/devicelogin", emu.base_url()),
        &[("user_code", "ZZZZZZZZZ"), ("username", DEMO_USER), ("password", DEMO_PASSWORD)],
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("AADSTS70018"));
}

#[test]
fn slow_down_when_polling_faster_than_the_interval() {
    let emu = Emulator::builder().device_code_interval(Duration::from_secs(5)).start_blocking().unwrap();
    let v = start_device(&emu, "organizations");
    let dc = v["device_code"].as_str().unwrap();
    assert_aad(&poll(&emu, "organizations", dc), 400, "authorization_pending", 70016);
    assert_eq!(poll(&emu, "organizations", dc).json()["error"], "slow_down");
    // after waiting the (now 10 s) interval on the emulator's clock: pending again
    emu.advance_clock(Duration::from_secs(11));
    assert_aad(&poll(&emu, "organizations", dc), 400, "authorization_pending", 70016);
}

#[test]
fn expired_token_and_bad_verification_code() {
    let emu = emu();
    let v = start_device(&emu, "organizations");
    emu.advance_clock(Duration::from_secs(901));
    assert_aad(&poll(&emu, "organizations", v["device_code"].as_str().unwrap()), 400, "expired_token", 70020);
    assert_aad(&poll(&emu, "organizations", "DAQABIQEAAADnot-a-real-code"), 400, "bad_verification_code", 70018);
}

#[test]
fn control_api_approval_and_public_client_flows_off() {
    let emu = emu();
    let v = start_device(&emu, "organizations");
    let pending = emu.pending_device_codes();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].user_code, v["user_code"].as_str().unwrap());
    emu.approve_device_code(&pending[0].user_code, DEMO_USER).unwrap();
    assert_eq!(poll(&emu, "organizations", v["device_code"].as_str().unwrap()).status, 200);

    let mut app =
        mailoauth_emulator::AppConfig::public("0d0d0d0d-0000-4000-8000-000000000001").allow_public_client_flows(false);
    app.tenant = DEMO_TENANT_ID.into();
    emu.add_app(app).unwrap();
    let r = client().post_form(
        &emu.devicecode_endpoint("organizations"),
        &[("client_id", "0d0d0d0d-0000-4000-8000-000000000001"), ("scope", IMAP)],
    );
    assert_eq!(r.status, 200);
    let dc = r.json()["device_code"].as_str().unwrap().to_owned();
    let r = client().post_form(
        &token_url(&emu, "organizations"),
        &[("client_id", "0d0d0d0d-0000-4000-8000-000000000001"), ("grant_type", DEVICE_GRANT), ("device_code", &dc)],
    );
    assert_aad(&r, 401, "invalid_client", 7000218);
}

#[test]
fn auto_approve_as_approves_device_codes() {
    let emu =
        Emulator::builder().auto_approve_as(DEMO_USER).device_code_interval(Duration::ZERO).start_blocking().unwrap();
    let v = start_device(&emu, "organizations");
    assert_eq!(poll(&emu, "organizations", v["device_code"].as_str().unwrap()).status, 200);
}
