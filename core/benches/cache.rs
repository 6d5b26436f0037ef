//! Silent acquisition from the cache, and a refresh round trip over keep-alive HTTPS, against
//! a running emulator. Run by `scripts/bench/cache.sh` (which runs MSAL Python side by side);
//! alone: `cargo bench -p mailoauth --bench cache -- <emulator https url> <ca file>`.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailoauth::identity::{scopes, RefreshToken};
use mailoauth::net::{ReqwestHttp, TokioPlatform};
use mailoauth::{Authority, Protocol, PublicClient, TokenCache};

const CLIENT: &str = "c0ffee00-0000-4000-8000-000000000002";

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let (Some(url), Some(ca)) = (args.first(), args.get(1)) else {
        println!("usage: cache <emulator https base url> <ca file>  (see scripts/bench/cache.sh)");
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let http = ReqwestHttp::with_options(Duration::from_secs(30), &[std::path::Path::new(ca)])?.shared();
        let cache = Arc::new(TokenCache::in_memory());
        let client = PublicClient::new(
            CLIENT,
            Authority::from_url(&format!("{url}/organizations"))?,
            http,
            Arc::new(TokioPlatform),
        )
        .with_cache(cache);
        let wanted = scopes::mail_scopes(
            mailoauth::Provider::Microsoft,
            mailoauth::Cloud::Global,
            &[Protocol::Imap, Protocol::Smtp],
            true,
        );
        let first =
            client.acquire_token_by_username_password("alice@contoso.example", "alice-password", &wanted).await?;

        // Cache hit: batches of 1000 calls.
        let mut per_call = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            for _ in 0..1000 {
                let t = client.acquire_token_silent(&wanted, None).await?;
                std::hint::black_box(&t);
            }
            per_call.push(start.elapsed().as_nanos() as f64 / 1000.0);
        }
        let (median, min) = stats(per_call);
        println!(
            "{{\"impl\":\"mailoauth-rust\",\"op\":\"silent_hit\",\"median_us\":{:.3},\"min_us\":{:.3}}}",
            median / 1000.0,
            min / 1000.0
        );

        // Refresh round trip over the kept-alive HTTPS connection.
        let mut rt_token: RefreshToken = first.refresh_token.clone().ok_or("no refresh token")?;
        for _ in 0..20 {
            rt_token = client.refresh(&rt_token, &wanted).await?.refresh_token.ok_or("no rt")?;
        }
        let mut times = Vec::new();
        for _ in 0..300 {
            let start = Instant::now();
            let t = client.refresh(&rt_token, &wanted).await?;
            times.push(start.elapsed().as_nanos() as f64 / 1e6);
            rt_token = t.refresh_token.ok_or("no rt")?;
        }
        let (median, min) = stats(times);
        println!("{{\"impl\":\"mailoauth-rust\",\"op\":\"refresh\",\"median_ms\":{median:.3},\"min_ms\":{min:.3}}}");

        // The floor: the same refresh as a bare reqwest POST (server work + TLS + HTTP only).
        let bare = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca)?)?)
            .build()?;
        let endpoint = format!("{url}/organizations/oauth2/v2.0/token");
        let scope = client.user_scopes(&wanted)?.join(" ");
        let mut raw_rt = rt_token.expose_secret().to_owned();
        let mut times = Vec::new();
        for _ in 0..300 {
            let start = Instant::now();
            let bytes = bare
                .post(&endpoint)
                .form(&[
                    ("client_id", CLIENT),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &raw_rt),
                    ("scope", &scope),
                ])
                .send()
                .await?
                .bytes()
                .await?;
            let body: serde_json::Value = serde_json::from_slice(&bytes)?;
            times.push(start.elapsed().as_nanos() as f64 / 1e6);
            raw_rt = body["refresh_token"].as_str().ok_or("no rt")?.to_owned();
        }
        let (median, min) = stats(times);
        println!("{{\"impl\":\"mailoauth-rust\",\"op\":\"bare_post\",\"median_ms\":{median:.3},\"min_ms\":{min:.3}}}");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
