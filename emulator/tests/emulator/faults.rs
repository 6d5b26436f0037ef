use std::time::{Duration, Instant};

use mailoauth_emulator::{Fault, FaultEndpoint, FaultKind};

use super::*;

#[test]
fn throttling_then_success() {
    let emu = emu();
    emu.inject_fault(
        Fault::new(FaultEndpoint::Token, FaultKind::Status { status: 429, retry_after: Some(7) }).times(2),
    );
    let r = ropc(&emu, IMAP);
    assert_aad(&r, 429, "temporarily_unavailable", 90055);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(ropc(&emu, IMAP).status, 429);
    assert_eq!(ropc(&emu, IMAP).status, 200);
    assert_eq!(emu.counters().faults_fired, 2);
}

#[test]
fn server_errors_and_grant_filter_and_skip() {
    let emu = emu();
    emu.inject_fault(
        Fault::new(FaultEndpoint::Token, FaultKind::Status { status: 503, retry_after: None })
            .grant_type("refresh_token"),
    );
    emu.inject_fault(
        Fault::new(FaultEndpoint::Token, FaultKind::Status { status: 500, retry_after: None })
            .grant_type("password")
            .skip(1),
    );
    let v = ropc(&emu, &format!("offline_access {IMAP}"));
    assert_eq!(v.status, 200, "password passes the first time (skip 1)");
    let rt = v.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_aad(&ropc(&emu, IMAP), 500, "server_error", 50000);
    assert_aad(&super::refresh::refresh(&emu, &rt, None), 503, "temporarily_unavailable", 90033);
    assert_eq!(super::refresh::refresh(&emu, &rt, None).status, 200);
}

#[test]
fn aadsts_faults_in_microsofts_shape() {
    let emu = emu();
    let rt = ropc(&emu, &format!("offline_access {IMAP}")).json()["refresh_token"].as_str().unwrap().to_owned();
    let cases: [(u32, u16, &str, Option<&str>); 9] = [
        (50076, 400, "interaction_required", Some("basic_action")),
        (65001, 400, "invalid_grant", Some("consent_required")),
        (70043, 400, "invalid_grant", None),
        (700082, 400, "invalid_grant", None),
        (53003, 400, "invalid_grant", None),
        (7000218, 401, "invalid_client", None),
        (700016, 400, "unauthorized_client", None),
        (7000215, 401, "invalid_client", None),
        (70008, 400, "invalid_grant", None),
    ];
    for (code, status, error, sub) in cases {
        emu.inject_fault(Fault::new(FaultEndpoint::Token, FaultKind::Aadsts { code }));
        let v = assert_aad(&super::refresh::refresh(&emu, &rt, None), status, error, u64::from(code));
        assert_eq!(v["suberror"].as_str(), sub, "{code}");
        if code == 50076 {
            assert!(v["claims"].as_str().unwrap().contains("access_token"));
        }
    }
    emu.inject_fault(Fault::new(FaultEndpoint::Any, FaultKind::InvalidClient));
    assert_aad(&super::refresh::refresh(&emu, &rt, None), 401, "invalid_client", 7000215);
    assert_eq!(super::refresh::refresh(&emu, &rt, None).status, 200);
}

#[test]
fn delay_and_devicecode_faults() {
    let emu = emu();
    emu.inject_fault(Fault::new(FaultEndpoint::Token, FaultKind::Delay { millis: 300 }));
    let t = Instant::now();
    assert_eq!(ropc(&emu, IMAP).status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    emu.inject_fault(Fault::new(FaultEndpoint::DeviceCode, FaultKind::Status { status: 503, retry_after: Some(1) }));
    let r = client()
        .post_form(&emu.devicecode_endpoint("common"), &[("client_id", DEMO_PUBLIC_CLIENT_ID), ("scope", IMAP)]);
    assert_eq!(r.status, 503);
    emu.inject_fault(Fault::new(FaultEndpoint::Authorize, FaultKind::Status { status: 500, retry_after: None }));
    let r = client().get(&super::authorize::authorize_url(&emu, "common", &[]));
    assert_eq!(r.status, 500);
    assert!(r.text().contains("AADSTS50000"));
}
