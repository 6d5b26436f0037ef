//! The `mailoauth-emulator` binary: first stdout line is the base URL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Running {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailoauth-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "starts in well under a second: {:?}", started.elapsed());
    Running { child, url: line.trim().to_owned() }
}

#[test]
fn prints_its_url_and_answers_like_microsoft() {
    let emu = spawn(&["--port", "0"]);
    assert!(emu.url.starts_with("http://127.0.0.1:"), "{}", emu.url);
    let c = client();
    let v = c.get(&format!("{}/organizations/v2.0/.well-known/openid-configuration", emu.url)).json();
    assert_eq!(v["token_endpoint"], format!("{}/organizations/oauth2/v2.0/token", emu.url));
    let r = c.post_form(
        &format!("{}/common/oauth2/v2.0/devicecode", emu.url),
        &[("client_id", "99999999-0000-4000-8000-000000000000"), ("scope", IMAP)],
    );
    assert_aad(&r, 400, "unauthorized_client", 700016);
    let r = c.post_form(
        &format!("{}/common/oauth2/v2.0/token", emu.url),
        &[("client_id", "99999999-0000-4000-8000-000000000000"), ("grant_type", DEVICE_GRANT), ("device_code", "x")],
    );
    assert_aad(&r, 400, "unauthorized_client", 700016);
    let r = c.post_form(
        &format!("{}/common/oauth2/v2.0/devicecode", emu.url),
        &[("client_id", DEMO_PUBLIC_CLIENT_ID), ("scope", IMAP)],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn https_with_a_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let emu = spawn(&["--https", "--ca-out", ca.to_str().unwrap(), "--token-lifetime", "5"]);
    assert!(emu.url.starts_with("https://127.0.0.1:"), "{}", emu.url);
    let c = Client::with_ca(&std::fs::read_to_string(&ca).unwrap());
    let v = c.get(&format!("{}/organizations/v2.0/.well-known/openid-configuration", emu.url)).json();
    assert!(v["token_endpoint"].as_str().unwrap().starts_with("https://"));
    assert!(v["authorization_endpoint"].as_str().unwrap().starts_with("https://"));
    let r = c.post_form(
        &format!("{}/organizations/oauth2/v2.0/token", emu.url),
        &[
            ("client_id", DEMO_PUBLIC_CLIENT_ID),
            ("grant_type", "password"),
            ("username", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("scope", IMAP),
            ("client_info", "1"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["expires_in"], 5);
    // "localhost" is in the certificate too
    let local = emu.url.replace("127.0.0.1", "localhost");
    assert_eq!(c.get(&format!("{local}/common/discovery/v2.0/keys")).status, 200);
}

#[test]
fn https_in_process() {
    let emu = Emulator::builder().https(true).start_blocking().unwrap();
    let c = Client::with_ca(emu.ca_pem().unwrap());
    assert_eq!(c.get(&format!("{}/common/v2.0/.well-known/openid-configuration", emu.base_url())).status, 200);
}

#[test]
fn config_file_in_toml() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("client.pem");
    std::fs::write(&cert, mailoauth_emulator::config::DEMO_CLIENT_CERT_PEM).unwrap();
    let cfg = dir.path().join("scenario.toml");
    std::fs::write(
        &cfg,
        r#"
demo = false
token_lifetime_secs = 42
device_code_interval_secs = 0

[[tenants]]
id = "aaaaaaaa-0000-4000-8000-000000000001"
domains = ["fabrikam.example"]

[[apps]]
client_id = "aaaaaaaa-0000-4000-8000-000000000002"
public_client = true
allow_public_client_flows = true
redirect_uris = ["http://localhost"]

[[apps]]
client_id = "aaaaaaaa-0000-4000-8000-000000000003"
secrets = ["s3cret"]
certificate_files = ["client.pem"]
sign_in_audience = "AzureADMyOrg"
mailboxes = ["shared@fabrikam.example"]

[[users]]
username = "frank@fabrikam.example"
password = "pw"
mfa_required = false
"#,
    )
    .unwrap();
    let emu = spawn(&["--config", cfg.to_str().unwrap()]);
    let c = client();
    let r = c.post_form(
        &format!("{}/fabrikam.example/oauth2/v2.0/token", emu.url),
        &[
            ("client_id", "aaaaaaaa-0000-4000-8000-000000000002"),
            ("grant_type", "password"),
            ("username", "frank@fabrikam.example"),
            ("password", "pw"),
            ("scope", IMAP),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["expires_in"], 42);
    // the demo identities are not there
    let r = c.post_form(
        &format!("{}/common/oauth2/v2.0/devicecode", emu.url),
        &[("client_id", DEMO_PUBLIC_CLIENT_ID), ("scope", IMAP)],
    );
    assert_aad(&r, 400, "unauthorized_client", 700016);
    let r = c.post_form(
        &format!("{}/fabrikam.example/oauth2/v2.0/token", emu.url),
        &[
            ("client_id", "aaaaaaaa-0000-4000-8000-000000000003"),
            ("client_secret", "s3cret"),
            ("grant_type", "client_credentials"),
            ("scope", "https://outlook.office365.com/.default"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn bad_arguments_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_mailoauth-emulator")).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn warns_when_listening_beyond_loopback() {
    let stderr_of = |bind: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailoauth-emulator"))
            .args(["--port", "0", "--bind", bind])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = Vec::new();
        let mut reader = BufReader::new(child.stderr.take().unwrap());
        // Up to the last startup line.
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let last = line.starts_with("mail-server token validation");
            lines.push(line);
            if last {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        lines.concat()
    };
    let wide = stderr_of("0.0.0.0");
    assert!(wide.contains("WARNING: listening on 0.0.0.0, not loopback"), "{wide}");
    let local = stderr_of("127.0.0.1");
    assert!(!local.contains("WARNING"), "{local}");
}
