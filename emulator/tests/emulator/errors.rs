use super::*;

#[test]
fn unknown_client_is_700016_in_microsofts_shape() {
    let emu = emu();
    let r = client().post_form(
        &emu.devicecode_endpoint("common"),
        &[("client_id", "11111111-2222-3333-4444-555555555555"), ("scope", IMAP)],
    );
    let v = assert_aad(&r, 400, "unauthorized_client", 700016);
    assert!(v["error_description"].as_str().unwrap().contains("11111111-2222-3333-4444-555555555555"));
    let r = client().post_form(
        &token_url(&emu, "organizations"),
        &[
            ("client_id", "11111111-2222-3333-4444-555555555555"),
            ("grant_type", "password"),
            ("username", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("scope", IMAP),
        ],
    );
    assert_aad(&r, 400, "unauthorized_client", 700016);
    assert_eq!(r.header("cache-control"), Some("no-store, no-cache"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
}

#[test]
fn client_request_id_becomes_the_correlation_id() {
    let emu = emu();
    let id = "0b7a1c3e-1111-4222-8333-944455556666";
    let r = client().post_form_h(
        &token_url(&emu, "common"),
        &[("client_id", DEMO_PUBLIC_CLIENT_ID)],
        &[("client-request-id", id)],
    );
    let v = assert_aad(&r, 400, "invalid_request", 900144);
    assert_eq!(v["correlation_id"], id);
    assert_eq!(r.header("client-request-id"), Some(id));
    assert!(v["error_description"].as_str().unwrap().contains("'grant_type'"));
}

#[test]
fn unsupported_grant_and_get_on_token() {
    let emu = emu();
    let r = client()
        .post_form(&token_url(&emu, "common"), &[("client_id", DEMO_PUBLIC_CLIENT_ID), ("grant_type", "implicit")]);
    assert_aad(&r, 400, "unsupported_grant_type", 70003);
    let r = client().get(&token_url(&emu, "common"));
    assert_aad(&r, 400, "invalid_request", 900561);
    let r = client().post_form(&token_url(&emu, "common"), &[("grant_type", "password")]);
    assert_aad(&r, 400, "invalid_request", 900144);
}

#[test]
fn token_endpoint_never_redirects() {
    let emu = emu();
    for (grant, extra) in [("authorization_code", ("code", "x")), ("refresh_token", ("refresh_token", "x"))] {
        let r = client().post_form(
            &token_url(&emu, "common"),
            &[("client_id", DEMO_PUBLIC_CLIENT_ID), ("grant_type", grant), extra, ("redirect_uri", "http://localhost")],
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.header("location").is_none());
    }
}

#[test]
fn token_endpoint_allows_the_calling_origin() {
    let emu = emu();
    let body =
        http::form(&[("client_id", DEMO_PUBLIC_CLIENT_ID), ("grant_type", "refresh_token"), ("refresh_token", "x")]);
    let r = client().request(
        "POST",
        &token_url(&emu, "common"),
        &[("Origin", "http://localhost:8400")],
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("http://localhost:8400"));
    let r = client().post_form(&token_url(&emu, "common"), &[("grant_type", "refresh_token")]);
    assert!(r.header("access-control-allow-origin").is_none(), "no Origin, no CORS header");
}

#[test]
fn single_tenant_app_on_common_is_50194_and_elsewhere_700016() {
    let emu = emu();
    let r = client().post_form(
        &token_url(&emu, "common"),
        &[
            ("client_id", DEMO_CONFIDENTIAL_CLIENT_ID),
            ("client_secret", mailoauth_emulator::config::DEMO_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://outlook.office365.com/.default"),
        ],
    );
    assert_aad(&r, 400, "invalid_request", 50194);
    emu.add_tenant(mailoauth_emulator::TenantConfig::new("0da7a000-0000-4000-8000-000000000009", "fabrikam.example"))
        .unwrap();
    let r = client().post_form(
        &token_url(&emu, "fabrikam.example"),
        &[
            ("client_id", DEMO_CONFIDENTIAL_CLIENT_ID),
            ("client_secret", mailoauth_emulator::config::DEMO_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://outlook.office365.com/.default"),
        ],
    );
    assert_aad(&r, 400, "unauthorized_client", 700016);
}

#[test]
fn entra_only_app_on_consumers_is_9002332() {
    let emu = emu();
    emu.add_app(
        mailoauth_emulator::AppConfig::public("0a0a0a0a-0000-4000-8000-000000000001")
            .sign_in_audience(mailoauth_emulator::SignInAudience::AzureAdMultipleOrgs),
    )
    .unwrap();
    let r = client().post_form(
        &emu.devicecode_endpoint("consumers"),
        &[("client_id", "0a0a0a0a-0000-4000-8000-000000000001"), ("scope", IMAP)],
    );
    assert_aad(&r, 400, "invalid_request", 9002332);
}

#[test]
fn unknown_resource_and_bad_outlook_scope() {
    let emu = emu();
    let r = ropc(&emu, "https://nothing.example/Read");
    assert_aad(&r, 400, "invalid_resource", 500011);
    // the 2023-24 doc erratum: SMTP.SendAsApp is not a delegated permission
    let r = ropc(&emu, "https://outlook.office.com/SMTP.SendAsApp");
    assert_aad(&r, 400, "invalid_scope", 70011);
}
