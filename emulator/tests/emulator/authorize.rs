use mailoauth_emulator::UserConfig;
use sha2::Digest;

use super::*;

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-abcdefgh";

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

pub fn authorize_url(emu: &Emulator, tenant: &str, extra: &[(&str, &str)]) -> String {
    let challenge = s256(VERIFIER);
    let mut pairs: Vec<(&str, &str)> = vec![
        ("client_id", DEMO_PUBLIC_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", "http://localhost:53123"),
        ("scope", "offline_access openid https://outlook.office.com/IMAP.AccessAsUser.All"),
        ("state", "st-123"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    format!("{}?{}", emu.authorize_endpoint(tenant), http::form(&pairs))
}

/// Extracts the hidden `request` field of the sign-in page.
pub fn request_id(page: &Resp) -> String {
    let html = page.text();
    let marker = "name=\"request\" value=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("no sign-in form: {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// GET the page, POST the form, return the redirect response.
pub fn sign_in(emu: &Emulator, url: &str, tenant: &str, user: &str, pw: &str, action: &str) -> Resp {
    let page = client().get(url);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("<form"));
    let rid = request_id(&page);
    client().post_form(
        &emu.authorize_endpoint(tenant),
        &[("request", &rid), ("login", user), ("passwd", pw), ("action", action)],
    )
}

pub fn redeem(emu: &Emulator, tenant: &str, code: &str, redirect: &str, verifier: &str) -> Resp {
    client().post_form(
        &token_url(emu, tenant),
        &[
            ("client_id", DEMO_PUBLIC_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            ("client_info", "1"),
        ],
    )
}

#[test]
fn page_sign_in_redirects_with_code_and_state_then_code_redeems_once() {
    let emu = emu();
    let url = authorize_url(&emu, "organizations", &[("client_info", "1")]);
    let r = sign_in(&emu, &url, "organizations", DEMO_USER, DEMO_PASSWORD, "accept");
    assert_eq!(r.status, 302, "{}", r.text());
    let loc = r.location();
    // a redirect URI without a path comes back with a trailing slash
    assert!(loc.as_str().starts_with("http://localhost:53123/?"), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("st-123"));
    assert!(param(&loc, "client_info").is_some());
    let code = param(&loc, "code").unwrap();
    let t = redeem(&emu, "organizations", &code, "http://localhost:53123", VERIFIER);
    assert_eq!(t.status, 200, "{}", t.text());
    let v = t.json();
    assert!(v["refresh_token"].is_string() && v["id_token"].is_string() && v["client_info"].is_string());
    assert_eq!(claims(v["access_token"].as_str().unwrap())["aud"], "https://outlook.office.com");
    let again = redeem(&emu, "organizations", &code, "http://localhost:53123", VERIFIER);
    assert_aad(&again, 400, "invalid_grant", 54005);
    assert_eq!(emu.counters().issued("authorization_code"), 1);
}

#[test]
fn pkce_mismatch_redirect_mismatch_and_tenant_mismatch() {
    let emu = Emulator::builder().auto_approve_as(DEMO_USER).start_blocking().unwrap();
    let code = |tenant: &str| {
        let r = client().get(&authorize_url(&emu, tenant, &[]));
        assert_eq!(r.status, 302, "{}", r.text());
        param(&r.location(), "code").unwrap()
    };
    let c = code("organizations");
    assert_aad(
        &redeem(&emu, "organizations", &c, "http://localhost:53123", "wrong-verifier-wrong-verifier-wrong-verifier"),
        400,
        "invalid_grant",
        501481,
    );
    let c = code("organizations");
    assert_aad(&redeem(&emu, "organizations", &c, "http://localhost:9999", VERIFIER), 400, "invalid_grant", 500112);
    let c = code(DEMO_TENANT_DOMAIN);
    assert_aad(&redeem(&emu, "organizations", &c, "http://localhost:53123", VERIFIER), 400, "invalid_grant", 700005);
    // issued under a domain, redeemed under the tenant id: same tenant
    let c = code(DEMO_TENANT_DOMAIN);
    assert_eq!(redeem(&emu, DEMO_TENANT_ID, &c, "http://localhost:53123", VERIFIER).status, 200);
    // codes expire
    let c = code("organizations");
    emu.advance_clock(std::time::Duration::from_secs(601));
    assert_aad(&redeem(&emu, "organizations", &c, "http://localhost:53123", VERIFIER), 400, "invalid_grant", 70008);
}

#[test]
fn pkce_plain() {
    let emu = Emulator::builder().auto_approve_as(DEMO_USER).start_blocking().unwrap();
    let verifier = "plain-verifier-0123456789-0123456789-0123456789";
    let r = client().get(&authorize_url(
        &emu,
        "common",
        &[("code_challenge", verifier), ("code_challenge_method", "plain")],
    ));
    let c = param(&r.location(), "code").unwrap();
    assert_eq!(redeem(&emu, "common", &c, "http://localhost:53123", verifier).status, 200);
    // a challenge without a method is plain
    let r =
        client().get(&authorize_url(&emu, "common", &[("code_challenge", verifier), ("code_challenge_method", "")]));
    let c = param(&r.location(), "code").unwrap();
    assert_aad(&redeem(&emu, "common", &c, "http://localhost:53123", VERIFIER), 400, "invalid_grant", 501481);
    // wrong S256 size goes back to the client as invalid_request
    let r = client().get(&authorize_url(&emu, "common", &[("code_challenge", "short")]));
    let loc = r.location();
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
    assert!(param(&loc, "error_description").unwrap().starts_with("AADSTS501491:"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-123"));
}

#[test]
fn loopback_redirect_rules() {
    let emu = Emulator::builder().auto_approve_as(DEMO_USER).start_blocking().unwrap();
    let ok = |uri: &str| {
        let r = client().get(&authorize_url(&emu, "common", &[("redirect_uri", uri)]));
        (r.status, r)
    };
    for uri in ["http://localhost:1234", "http://localhost:1234/", "http://127.0.0.1:9", "http://localhost"] {
        let (s, r) = ok(uri);
        assert_eq!(s, 302, "{uri}: {}", r.text());
    }
    // path mismatch, IPv6 loopback, https where http was registered, other hosts: error page, no redirect
    for uri in ["http://localhost:1234/other", "http://[::1]:1234", "https://localhost:1234", "http://evil.example/cb"]
    {
        let (s, r) = ok(uri);
        assert_eq!(s, 400, "{uri}");
        assert!(r.header("location").is_none());
        assert!(r.text().contains("AADSTS50011"), "{}", r.text());
    }
    // 127.0.0.1 keeps the path the client sent
    let (_, r) = ok("http://127.0.0.1:5555/");
    assert!(r.location().as_str().starts_with("http://127.0.0.1:5555/?code="));
}

#[test]
fn unknown_client_gets_an_error_page_not_a_redirect() {
    let emu = emu();
    let r = client().get(&authorize_url(&emu, "common", &[("client_id", "12345678-0000-4000-8000-000000000000")]));
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    assert!(r.text().contains("AADSTS700016"));
}

#[test]
fn errors_go_back_to_the_client() {
    let emu = emu();
    let r = client().get(&authorize_url(&emu, "common", &[("response_type", "token")]));
    assert_eq!(param(&r.location(), "error").as_deref(), Some("unsupported_response_type"));
    let r = client().get(&authorize_url(&emu, "common", &[("scope", "")]));
    assert_eq!(param(&r.location(), "error").as_deref(), Some("invalid_request"));
    let r = client().get(&authorize_url(&emu, "common", &[("scope", "https://nothing.example/x")]));
    assert_eq!(param(&r.location(), "error").as_deref(), Some("invalid_resource"));
}

#[test]
fn cancel_wrong_password_and_prompt_none() {
    let emu = emu();
    let url = authorize_url(&emu, "organizations", &[]);
    let r = sign_in(&emu, &url, "organizations", DEMO_USER, "wrong", "accept");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("AADSTS50126"));
    let r = sign_in(&emu, &url, "organizations", DEMO_USER, DEMO_PASSWORD, "cancel");
    let loc = r.location();
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-123"));
    let r = client().get(&authorize_url(&emu, "organizations", &[("prompt", "none")]));
    let loc = r.location();
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"));
    assert!(param(&loc, "error_description").unwrap().starts_with("AADSTS50058:"));
}

#[test]
fn session_cookie_allows_prompt_none() {
    let emu = emu();
    let url = authorize_url(&emu, "organizations", &[]);
    let r = sign_in(&emu, &url, "organizations", DEMO_USER, DEMO_PASSWORD, "accept");
    let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("ESTSAUTH="));
    let r = client().get_h(&authorize_url(&emu, "organizations", &[("prompt", "none")]), &[("cookie", &cookie)]);
    assert_eq!(r.status, 302);
    assert!(param(&r.location(), "code").is_some());
}

#[test]
fn auto_approve_per_user_via_login_hint_and_fragment_mode() {
    let emu = emu();
    emu.add_user(UserConfig::new("robot@contoso.example", "pw").auto_approve(true)).unwrap();
    let r = client().get(&authorize_url(
        &emu,
        "organizations",
        &[("login_hint", "robot@contoso.example"), ("response_mode", "fragment")],
    ));
    assert_eq!(r.status, 302, "{}", r.text());
    let loc = r.location();
    let frag: Vec<(String, String)> =
        url::form_urlencoded::parse(loc.fragment().unwrap().as_bytes()).into_owned().collect();
    assert!(frag.iter().any(|(k, _)| k == "code"));
    assert!(frag.iter().any(|(k, v)| k == "state" && v == "st-123"));
    // alice has no auto-approve: she gets the page, with her name filled in
    let r = client().get(&authorize_url(&emu, "organizations", &[("login_hint", DEMO_USER)]));
    assert_eq!(r.status, 200);
    assert!(r.text().contains(&format!("value=\"{DEMO_USER}\"")));
}

#[test]
fn form_post_response_mode() {
    let emu = Emulator::builder().auto_approve_as(DEMO_USER).start_blocking().unwrap();
    let r = client().get(&authorize_url(&emu, "common", &[("response_mode", "form_post")]));
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("action=\"http://localhost:53123\""));
    assert!(html.contains("name=\"code\""));
    assert!(html.contains("name=\"state\" value=\"st-123\""));
}
