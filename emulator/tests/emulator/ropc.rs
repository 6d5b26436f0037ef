use mailoauth_emulator::config::{DEMO_CLIENT_SECRET, DEMO_MFA_PASSWORD};
use mailoauth_emulator::{AppConfig, UserConfig};

use super::*;

#[test]
fn password_grant_issues_outlook_tokens_with_realistic_claims() {
    let emu = emu();
    let r = ropc(&emu, &format!("offline_access openid profile email {IMAP} {SMTP}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599);
    assert_eq!(v["ext_expires_in"], 3599);
    assert!(v["refresh_token"].is_string());
    let scope = v["scope"].as_str().unwrap();
    assert!(scope.contains(IMAP) && scope.contains(SMTP), "{scope}");
    let at = claims(v["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], "https://outlook.office.com");
    assert_eq!(at["scp"], "IMAP.AccessAsUser.All SMTP.Send");
    assert_eq!(at["upn"], DEMO_USER);
    assert_eq!(at["preferred_username"], DEMO_USER);
    assert_eq!(at["email"], DEMO_USER);
    assert_eq!(at["tid"], DEMO_TENANT_ID);
    assert_eq!(at["appid"], DEMO_PUBLIC_CLIENT_ID);
    assert_eq!(at["idtyp"], "user");
    assert_eq!(at["ver"], "1.0");
    assert!(at["roles"].is_null());
    let (iat, nbf, exp) = (at["iat"].as_i64().unwrap(), at["nbf"].as_i64().unwrap(), at["exp"].as_i64().unwrap());
    assert_eq!(iat, nbf);
    assert_eq!(exp - iat, 3599);
    assert!((iat - emu.now()).abs() <= 2);
    // id token (openid) and client_info (client_info=1), as MSAL needs them
    let id = claims(v["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], DEMO_PUBLIC_CLIENT_ID);
    assert_eq!(id["iss"], format!("{}/{DEMO_TENANT_ID}/v2.0", emu.base_url()));
    assert_eq!(id["preferred_username"], DEMO_USER);
    assert_eq!(id["email"], DEMO_USER);
    assert_eq!(id["oid"], at["oid"]);
    let ci: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(v["client_info"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(ci["uid"], at["oid"]);
    assert_eq!(ci["utid"], DEMO_TENANT_ID);
}

#[test]
fn no_offline_access_no_refresh_token_no_openid_no_id_token() {
    let emu = emu();
    let v = ropc(&emu, IMAP).json();
    assert!(v["access_token"].is_string());
    assert!(v.get("refresh_token").is_none(), "{v}");
    assert!(v.get("id_token").is_none(), "{v}");
}

#[test]
fn configurable_lifetime() {
    let emu = Emulator::builder().token_lifetime(std::time::Duration::from_secs(5)).start_blocking().unwrap();
    let v = ropc(&emu, IMAP).json();
    assert_eq!(v["expires_in"], 5);
    let at = claims(v["access_token"].as_str().unwrap());
    assert_eq!(at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(), 5);
}

#[test]
fn ropc_refused_on_common_and_consumers() {
    let emu = emu();
    for t in ["common", "consumers"] {
        let r = client().post_form(
            &token_url(&emu, t),
            &[
                ("client_id", DEMO_PUBLIC_CLIENT_ID),
                ("grant_type", "password"),
                ("username", DEMO_USER),
                ("password", DEMO_PASSWORD),
                ("scope", IMAP),
            ],
        );
        assert_aad(&r, 400, "invalid_request", 9001023);
    }
    // tenant-specific works (GUID and domain)
    for t in [DEMO_TENANT_ID, DEMO_TENANT_DOMAIN] {
        let r = client().post_form(
            &token_url(&emu, t),
            &[
                ("client_id", DEMO_PUBLIC_CLIENT_ID),
                ("grant_type", "password"),
                ("username", DEMO_USER),
                ("password", DEMO_PASSWORD),
                ("scope", IMAP),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[test]
fn wrong_password_unknown_user_mfa_and_consent() {
    let emu = emu();
    let url = token_url(&emu, "organizations");
    let go = |user: &str, pw: &str| {
        client().post_form(
            &url,
            &[
                ("client_id", DEMO_PUBLIC_CLIENT_ID),
                ("grant_type", "password"),
                ("username", user),
                ("password", pw),
                ("scope", IMAP),
            ],
        )
    };
    assert_aad(&go(DEMO_USER, "wrong"), 400, "invalid_grant", 50126);
    assert_aad(&go(DEMO_USER, &format!(" {DEMO_PASSWORD}")), 400, "invalid_grant", 50126);
    assert_aad(&go("nobody@contoso.example", "x"), 400, "invalid_grant", 50034);
    let v = assert_aad(&go(DEMO_MFA_USER, DEMO_MFA_PASSWORD), 400, "invalid_grant", 50076);
    assert_eq!(v["suberror"], "basic_action");
    emu.add_user(UserConfig::new("carol@contoso.example", "pw").consent_granted(false)).unwrap();
    let v = assert_aad(&go("carol@contoso.example", "pw"), 400, "invalid_grant", 65001);
    assert_eq!(v["suberror"], "consent_required");
    emu.set_consent("carol@contoso.example", DEMO_PUBLIC_CLIENT_ID, true).unwrap();
    assert_eq!(go("carol@contoso.example", "pw").status, 200);
}

#[test]
fn public_client_with_secret_is_700025_and_confidential_without_is_7000218() {
    let emu = emu();
    let url = token_url(&emu, "organizations");
    let r = client().post_form(
        &url,
        &[
            ("client_id", DEMO_PUBLIC_CLIENT_ID),
            ("client_secret", "x"),
            ("grant_type", "password"),
            ("username", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("scope", IMAP),
        ],
    );
    assert_aad(&r, 401, "invalid_client", 700025);
    let r = client().post_form(
        &token_url(&emu, DEMO_TENANT_ID),
        &[
            ("client_id", DEMO_CONFIDENTIAL_CLIENT_ID),
            ("grant_type", "password"),
            ("username", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("scope", IMAP),
        ],
    );
    assert_aad(&r, 401, "invalid_client", 7000218);
    // a confidential client may do ROPC with its secret
    let r = client().post_form(
        &token_url(&emu, DEMO_TENANT_ID),
        &[
            ("client_id", DEMO_CONFIDENTIAL_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("grant_type", "password"),
            ("username", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("scope", IMAP),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(claims(r.json()["access_token"].as_str().unwrap())["appidacr"], "1");
}

#[test]
fn public_app_without_public_client_flows_is_7000218() {
    let emu = emu();
    let mut app = AppConfig::public("0b0b0b0b-0000-4000-8000-000000000001").allow_public_client_flows(false);
    app.tenant = DEMO_TENANT_ID.into();
    emu.add_app(app).unwrap();
    let r = client().post_form(
        &token_url(&emu, "organizations"),
        &[
            ("client_id", "0b0b0b0b-0000-4000-8000-000000000001"),
            ("grant_type", "password"),
            ("username", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("scope", IMAP),
        ],
    );
    assert_aad(&r, 401, "invalid_client", 7000218);
}

#[test]
fn personal_accounts_are_not_in_organizations() {
    let emu = emu();
    emu.add_user(UserConfig::new("dave@outlook.example", "pw").personal_account(true)).unwrap();
    let r = client().post_form(
        &token_url(&emu, "organizations"),
        &[
            ("client_id", DEMO_PUBLIC_CLIENT_ID),
            ("grant_type", "password"),
            ("username", "dave@outlook.example"),
            ("password", "pw"),
            ("scope", IMAP),
        ],
    );
    assert_aad(&r, 400, "invalid_grant", 50034);
}
