use super::*;

#[test]
fn openid_configuration_for_a_domain_uses_the_tenant_id() {
    let emu = emu();
    let r = client().get(&format!("{}/{DEMO_TENANT_DOMAIN}/v2.0/.well-known/openid-configuration", emu.base_url()));
    assert_eq!(r.status, 200);
    let v = r.json();
    let base = emu.base_url();
    assert_eq!(v["token_endpoint"], format!("{base}/{DEMO_TENANT_ID}/oauth2/v2.0/token"));
    assert_eq!(v["authorization_endpoint"], format!("{base}/{DEMO_TENANT_ID}/oauth2/v2.0/authorize"));
    assert_eq!(v["device_authorization_endpoint"], format!("{base}/{DEMO_TENANT_ID}/oauth2/v2.0/devicecode"));
    assert_eq!(v["jwks_uri"], format!("{base}/{DEMO_TENANT_ID}/discovery/v2.0/keys"));
    assert_eq!(v["issuer"], format!("{base}/{DEMO_TENANT_ID}/v2.0"));
    assert_eq!(
        v["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "private_key_jwt", "client_secret_basic"])
    );
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
}

#[test]
fn common_keeps_the_alias_and_the_issuer_template() {
    let emu = emu();
    let v = client().get(&format!("{}/common/v2.0/.well-known/openid-configuration", emu.base_url())).json();
    assert_eq!(v["issuer"], format!("{}/{{tenantid}}/v2.0", emu.base_url()));
    assert_eq!(v["token_endpoint"], format!("{}/common/oauth2/v2.0/token", emu.base_url()));
}

#[test]
fn unknown_tenant_is_90002() {
    let emu = emu();
    let r = client().get(&format!("{}/nope.example/v2.0/.well-known/openid-configuration", emu.base_url()));
    assert_aad(&r, 400, "invalid_tenant", 90002);
    let r = client().post_form(&token_url(&emu, "nope.example"), &[("grant_type", "client_credentials")]);
    assert_aad(&r, 400, "invalid_request", 90002);
}

#[test]
fn jwks_verifies_issued_tokens() {
    let emu = emu();
    let keys = client().get(&format!("{}/organizations/discovery/v2.0/keys", emu.base_url())).json();
    let k = &keys["keys"][0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["kid"], k["x5t"]);
    assert_eq!(k["kid"], emu.signing_key_id());
    let v = ropc(&emu, &format!("openid {IMAP}")).json();
    let at = v["access_token"].as_str().unwrap();
    assert!(verify_with_jwks(&emu, at));
    assert!(verify_with_jwks(&emu, v["id_token"].as_str().unwrap()));
    let h = header(at);
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["typ"], "JWT");
    let mut forged = at.to_owned();
    forged.replace_range(forged.len() - 4.., "AAAA");
    assert!(!verify_with_jwks(&emu, &forged));
}

#[tokio::test]
async fn async_start_on_the_callers_runtime() {
    let emu = mailoauth_emulator::Emulator::builder().start().await.unwrap();
    let url = format!("{}/common/v2.0/.well-known/openid-configuration", emu.base_url());
    let r = tokio::task::spawn_blocking(move || client().get(&url)).await.unwrap();
    assert_eq!(r.status, 200);
    emu.shutdown().await;
}
