//! Conformance tests of the emulator against the Microsoft behaviours in the README.
//! One test binary (see the workspace conventions); each test starts its own emulator.

#![allow(clippy::unwrap_used, unreachable_pub, missing_debug_implementations)]

mod authorize;
mod binary;
mod client_credentials;
mod control_api;
mod device;
mod discovery;
mod dovecot;
mod errors;
mod faults;
mod http;
mod introspect;
mod refresh;
mod ropc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mailoauth_emulator::config::{
    DEMO_CONFIDENTIAL_CLIENT_ID, DEMO_MFA_USER, DEMO_PASSWORD, DEMO_PUBLIC_CLIENT_ID, DEMO_TENANT_DOMAIN,
    DEMO_TENANT_ID, DEMO_USER,
};
use mailoauth_emulator::Emulator;
use serde_json::{json, Value};

pub use http::{param, Client, Resp};

pub const IMAP: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";
pub const SMTP: &str = "https://outlook.office.com/SMTP.Send";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A demo emulator on a background thread, device-code interval 0.
pub fn emu() -> Emulator {
    Emulator::builder().device_code_interval(std::time::Duration::ZERO).start_blocking().unwrap()
}

pub fn client() -> Client {
    Client::plain()
}

pub fn token_url(emu: &Emulator, tenant: &str) -> String {
    emu.token_endpoint(tenant)
}

/// Decodes a JWT's payload (no verification).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

/// Checks Microsoft's error JSON shape and returns the body.
#[track_caller]
pub fn assert_aad(resp: &Resp, status: u16, error: &str, code: u64) -> Value {
    assert_eq!(resp.status, status, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["error"], error, "{v}");
    assert_eq!(v["error_codes"], json!([code]), "{v}");
    let desc = v["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    let trace = v["trace_id"].as_str().unwrap();
    let corr = v["correlation_id"].as_str().unwrap();
    let ts = v["timestamp"].as_str().unwrap();
    assert!(desc.ends_with(&format!("\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}")), "{desc}");
    assert_eq!(ts.len(), "2016-01-09 02:02:12Z".len(), "{ts}");
    assert!(v["error_uri"].as_str().unwrap().ends_with(&format!("/error?code={code}")));
    v
}

/// ROPC as the demo user with the demo public client.
pub fn ropc(emu: &Emulator, scope: &str) -> Resp {
    client().post_form(
        &token_url(emu, "organizations"),
        &[
            ("client_id", DEMO_PUBLIC_CLIENT_ID),
            ("grant_type", "password"),
            ("username", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("scope", scope),
            ("client_info", "1"),
        ],
    )
}

/// Verifies an RS256 JWT against the emulator's JWKS.
pub fn verify_with_jwks(emu: &Emulator, jwt: &str) -> bool {
    let jwks = client().get(&format!("{}/common/discovery/v2.0/keys", emu.base_url())).json();
    let kid = header(jwt)["kid"].as_str().unwrap().to_owned();
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap();
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    ring::signature::RsaPublicKeyComponents { n, e }
        .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
        .is_ok()
}

/// Builds a client assertion JWT the way MSAL does, signed with `key_pem`.
pub fn assertion(alg: &str, cert_pem: &str, key_pem: &str, claims: &Value) -> String {
    use rustls_pki_types::pem::PemObject;
    use sha2::Digest;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    let header = if alg == "PS256" {
        json!({"alg": "PS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der.as_ref()))})
    } else {
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der.as_ref());
        json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE_NO_PAD.encode(sha1.as_ref())})
    };
    sign_jwt(alg, &header, claims, key_pem)
}

/// Signs `header.claims` with an RSA key (PS256 or RS256).
pub fn sign_jwt(alg: &str, header: &Value, claims: &Value, key_pem: &str) -> String {
    use rustls_pki_types::pem::PemObject;
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let key = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let kp = ring::signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).unwrap();
    let mut sig = vec![0u8; kp.public().modulus_len()];
    let padding: &dyn ring::signature::RsaEncoding =
        if alg == "PS256" { &ring::signature::RSA_PSS_SHA256 } else { &ring::signature::RSA_PKCS1_SHA256 };
    kp.sign(padding, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Standard assertion claims for the demo confidential client at `aud`.
pub fn assertion_claims(emu: &Emulator, aud: &str) -> Value {
    let now = emu.now();
    json!({
        "aud": aud,
        "iss": DEMO_CONFIDENTIAL_CLIENT_ID,
        "sub": DEMO_CONFIDENTIAL_CLIENT_ID,
        "jti": format!("{:x}", rand_u64()),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    })
}

pub fn rand_u64() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).unwrap();
    u64::from_le_bytes(b) ^ SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[allow(dead_code)]
pub const ALL_DEMO: [&str; 5] =
    [DEMO_TENANT_ID, DEMO_TENANT_DOMAIN, DEMO_USER, DEMO_MFA_USER, DEMO_CONFIDENTIAL_CLIENT_ID];

#[test]
fn emulator_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Emulator>();
    check::<mailoauth_emulator::Counters>();
    check::<mailoauth_emulator::Fault>();
}
