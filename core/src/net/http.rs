//! Native HTTP (reqwest + rustls, no redirects) and platform (system clock, tokio timer).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::identity::{
    BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse, IdentityError, IdentityErrorKind, Method, Platform,
};

/// reqwest over rustls (webpki roots plus optional extra CA files), redirects disabled,
/// with a per-request time-out and keep-alive connection reuse.
#[derive(Debug, Clone)]
pub struct ReqwestHttp {
    client: reqwest::Client,
}

use crate::identity::MAX_RESPONSE_BYTES as MAX_BODY;

impl ReqwestHttp {
    /// A client with a 30 s time-out and the built-in roots.
    pub fn new() -> Result<Self, IdentityError> {
        Self::with_options(crate::identity::DEFAULT_HTTP_TIMEOUT, &[])
    }

    /// A client with a time-out and extra trusted CA certificates (PEM files), e.g. the
    /// emulator's CA.
    pub fn with_options(timeout: Duration, ca_files: &[&Path]) -> Result<Self, IdentityError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(15)))
            .tcp_nodelay(true)
            .use_rustls_tls();
        for path in ca_files {
            let pem = std::fs::read(path).map_err(|e| {
                IdentityError::new(
                    IdentityErrorKind::Configuration,
                    format!("cannot read CA file {}: {e}", path.display()),
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                IdentityError::new(IdentityErrorKind::Configuration, format!("bad CA file {}: {e}", path.display()))
            })?;
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let client = builder
            .build()
            .map_err(|e| IdentityError::new(IdentityErrorKind::Configuration, format!("HTTP client: {e}")))?;
        Ok(ReqwestHttp { client })
    }

    /// As an `Arc<dyn HttpClient>`.
    pub fn shared(self) -> Arc<dyn HttpClient> {
        Arc::new(self)
    }
}

impl HttpClient for ReqwestHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            let method = match request.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
            };
            let mut rb = self.client.request(method, &request.url);
            for (k, v) in &request.headers {
                rb = rb.header(k, v);
            }
            if request.method == Method::Post {
                rb = rb.body(request.body);
            }
            let fail = |e: reqwest::Error| HttpError { timed_out: e.is_timeout(), message: e.to_string() };
            let mut resp = rb.send().await.map_err(fail)?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(fail)? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(HttpError {
                        message: format!("response larger than {MAX_BODY} bytes"),
                        timed_out: false,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse { status, headers, body })
        })
    }
}

/// The system clock and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioPlatform;

impl Platform for TokioPlatform {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
