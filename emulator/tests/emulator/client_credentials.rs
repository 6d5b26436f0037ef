use mailoauth_emulator::config::{DEMO_CLIENT_CERT_KEY_PEM, DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_SECRET};

use super::*;

const DEFAULT: &str = "https://outlook.office365.com/.default";
const OTHER_CERT: &str = include_str!("../fixtures/other-cert.pem");
const OTHER_KEY: &str = include_str!("../fixtures/other-cert-key.pem");

fn cc(emu: &Emulator, tenant: &str, extra: &[(&str, &str)]) -> Resp {
    let mut pairs =
        vec![("client_id", DEMO_CONFIDENTIAL_CLIENT_ID), ("grant_type", "client_credentials"), ("scope", DEFAULT)];
    pairs.extend_from_slice(extra);
    client().post_form(&token_url(emu, tenant), &pairs)
}

#[test]
fn secret_gives_an_app_only_exchange_token() {
    let emu = emu();
    let r = cc(&emu, DEMO_TENANT_ID, &[("client_secret", DEMO_CLIENT_SECRET)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599);
    assert!(v.get("refresh_token").is_none());
    assert!(v.get("id_token").is_none());
    let at = claims(v["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], "https://outlook.office365.com");
    assert_eq!(at["roles"], json!(["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"]));
    assert!(at["scp"].is_null());
    assert_eq!(at["idtyp"], "app");
    assert_eq!(at["appidacr"], "1");
    assert_eq!(at["tid"], DEMO_TENANT_ID);
    assert_eq!(at["oid"], at["sub"]);
}

#[test]
fn http_basic_client_authentication() {
    let emu = emu();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{DEMO_CONFIDENTIAL_CLIENT_ID}:{}",
        url::form_urlencoded::byte_serialize(DEMO_CLIENT_SECRET.as_bytes()).collect::<String>()
    ));
    let r = client().post_form_h(
        &token_url(&emu, DEMO_TENANT_DOMAIN),
        &[("grant_type", "client_credentials"), ("scope", DEFAULT)],
        &[("authorization", &format!("Basic {basic}"))],
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn wrong_secret_missing_credential_alias_tenant_and_bad_scopes() {
    let emu = emu();
    assert_aad(&cc(&emu, DEMO_TENANT_ID, &[("client_secret", "nope")]), 401, "invalid_client", 7000215);
    assert_aad(&cc(&emu, DEMO_TENANT_ID, &[]), 401, "invalid_client", 7000218);
    emu.add_app(mailoauth_emulator::AppConfig::confidential("0c0c0c0c-0000-4000-8000-000000000001").secret("s"))
        .unwrap();
    for t in ["common", "organizations"] {
        let r = client().post_form(
            &token_url(&emu, t),
            &[
                ("client_id", "0c0c0c0c-0000-4000-8000-000000000001"),
                ("client_secret", "s"),
                ("grant_type", "client_credentials"),
                ("scope", DEFAULT),
            ],
        );
        assert_aad(&r, 400, "invalid_request", 9001023);
    }
    let r = client().post_form(
        &token_url(&emu, DEMO_TENANT_ID),
        &[
            ("client_id", DEMO_CONFIDENTIAL_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://outlook.office365.com/IMAP.AccessAsApp"),
        ],
    );
    assert_aad(&r, 400, "invalid_scope", 1002012);
    let r = client().post_form(
        &token_url(&emu, DEMO_TENANT_ID),
        &[
            ("client_id", DEMO_CONFIDENTIAL_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://outlook.office365.com/.default https://graph.microsoft.com/.default"),
        ],
    );
    assert_aad(&r, 400, "invalid_scope", 700022);
}

#[test]
fn certificate_assertion_ps256_with_x5t_s256() {
    let emu = emu();
    let aud = token_url(&emu, DEMO_TENANT_ID);
    let jwt = assertion("PS256", DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_CERT_KEY_PEM, &assertion_claims(&emu, &aud));
    let r = cc(&emu, DEMO_TENANT_ID, &[("client_assertion_type", JWT_BEARER), ("client_assertion", &jwt)]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(claims(r.json()["access_token"].as_str().unwrap())["appidacr"], "2");
    // the same assertion again: jti replay
    let r = cc(&emu, DEMO_TENANT_ID, &[("client_assertion_type", JWT_BEARER), ("client_assertion", &jwt)]);
    assert_aad(&r, 401, "invalid_client", 700027);
}

#[test]
fn certificate_assertion_rs256_with_x5t_and_domain_audience() {
    let emu = emu();
    let aud = token_url(&emu, DEMO_TENANT_DOMAIN);
    let jwt = assertion("RS256", DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_CERT_KEY_PEM, &assertion_claims(&emu, &aud));
    let r = cc(&emu, DEMO_TENANT_DOMAIN, &[("client_assertion_type", JWT_BEARER), ("client_assertion", &jwt)]);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn bad_assertions_are_rejected() {
    let emu = emu();
    let aud = token_url(&emu, DEMO_TENANT_ID);
    let send =
        |jwt: &str| cc(&emu, DEMO_TENANT_ID, &[("client_assertion_type", JWT_BEARER), ("client_assertion", jwt)]);
    // unregistered certificate
    let jwt = assertion("PS256", OTHER_CERT, OTHER_KEY, &assertion_claims(&emu, &aud));
    let v = assert_aad(&send(&jwt), 401, "invalid_client", 700027);
    assert!(v["error_description"].as_str().unwrap().contains("not registered"));
    // registered thumbprint, wrong key: signature fails
    let good = assertion("PS256", DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_CERT_KEY_PEM, &assertion_claims(&emu, &aud));
    let forged = assertion("PS256", DEMO_CLIENT_CERT_PEM, OTHER_KEY, &assertion_claims(&emu, &aud));
    let v = assert_aad(&send(&forged), 401, "invalid_client", 700027);
    assert!(v["error_description"].as_str().unwrap().contains("signature"));
    let _ = good;
    // wrong audience
    let jwt = assertion(
        "PS256",
        DEMO_CLIENT_CERT_PEM,
        DEMO_CLIENT_CERT_KEY_PEM,
        &assertion_claims(&emu, "https://login.microsoftonline.com/x/oauth2/v2.0/token"),
    );
    assert_aad(&send(&jwt), 401, "invalid_client", 700027);
    // expired
    let mut c = assertion_claims(&emu, &aud);
    c["exp"] = json!(emu.now() - 3600);
    c["nbf"] = json!(emu.now() - 4000);
    let jwt = assertion("PS256", DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_CERT_KEY_PEM, &c);
    assert_aad(&send(&jwt), 401, "invalid_client", 700024);
    // iss/sub not the client id
    let mut c = assertion_claims(&emu, &aud);
    c["iss"] = json!(DEMO_PUBLIC_CLIENT_ID);
    let jwt = assertion("PS256", DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_CERT_KEY_PEM, &c);
    assert_aad(&send(&jwt), 401, "invalid_client", 700021);
    // not a JWT
    assert_aad(&send("abc"), 400, "invalid_request", 50027);
    // wrong assertion type
    let jwt = assertion("PS256", DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_CERT_KEY_PEM, &assertion_claims(&emu, &aud));
    let r = cc(&emu, DEMO_TENANT_ID, &[("client_assertion_type", "urn:x"), ("client_assertion", &jwt)]);
    assert_aad(&r, 400, "invalid_request", 50027);
}

#[test]
fn msal_python_style_assertion_padded_thumbprint_and_float_times() {
    use rustls_pki_types::pem::PemObject;
    use sha2::Digest;
    let emu = emu();
    let der = rustls_pki_types::CertificateDer::from_pem_slice(DEMO_CLIENT_CERT_PEM.as_bytes()).unwrap();
    // MSAL Python: padded base64 thumbprint, `time.time()` floats
    let thumb = base64::engine::general_purpose::URL_SAFE.encode(sha2::Sha256::digest(der.as_ref()));
    assert!(thumb.ends_with('='));
    let header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": thumb});
    let now = emu.now() as f64 + 0.25;
    let claims = json!({"aud": token_url(&emu, DEMO_TENANT_DOMAIN), "iss": DEMO_CONFIDENTIAL_CLIENT_ID, "sub": DEMO_CONFIDENTIAL_CLIENT_ID, "jti": "0b0b0b0b-msal", "iat": now, "exp": now + 600.0});
    let jwt = sign_jwt("PS256", &header, &claims, DEMO_CLIENT_CERT_KEY_PEM);
    let r = cc(&emu, DEMO_TENANT_DOMAIN, &[("client_assertion_type", JWT_BEARER), ("client_assertion", &jwt)]);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn user_realm_discovery_for_msal_ropc() {
    let emu = emu();
    let v = client().get(&format!("{}/common/userrealm/{DEMO_USER}?api-version=1.0", emu.base_url())).json();
    assert_eq!(v["account_type"], "Managed");
    let v = client().get(&format!("{}/common/userrealm/nobody@else.example?api-version=1.0", emu.base_url())).json();
    assert_eq!(v["account_type"], "Unknown");
}
