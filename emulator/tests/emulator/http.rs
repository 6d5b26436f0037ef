//! A tiny blocking HTTP/1.1 client (plain and TLS) so the tests need no HTTP client crate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `Location` header parsed as a URL.
    pub fn location(&self) -> url::Url {
        let loc =
            self.header("location").unwrap_or_else(|| panic!("no Location (status {}): {}", self.status, self.text()));
        url::Url::parse(loc).expect("Location is a URL")
    }
}

/// Query (or fragment) parameter of a URL.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter().copied()).finish()
}

#[derive(Clone, Default)]
pub struct Client {
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Client {
    pub fn plain() -> Self {
        Self { tls: None }
    }

    pub fn with_ca(ca_pem: &str) -> Self {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(c.expect("CA PEM")).expect("add CA");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self { tls: Some(Arc::new(cfg)) }
    }

    pub fn request(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<(&str, &[u8])>) -> Resp {
        let u = url::Url::parse(url).expect("url");
        let host = u.host_str().expect("host").to_owned();
        let port = u.port_or_known_default().expect("port");
        let mut path = u.path().to_owned();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let mut payload = Vec::new();
        if let Some((ct, b)) = body {
            req.push_str(&format!("Content-Type: {ct}\r\nContent-Length: {}\r\n", b.len()));
            payload.extend_from_slice(b);
        }
        req.push_str("\r\n");
        let addr = format!("{}:{port}", host.trim_matches(|c| c == '[' || c == ']'));
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let mut raw = Vec::new();
        match (&self.tls, u.scheme()) {
            (Some(cfg), "https") => {
                let name = rustls_pki_types::ServerName::try_from(host.clone()).expect("server name");
                let conn = rustls::ClientConnection::new(cfg.clone(), name).expect("tls");
                let mut s = rustls::StreamOwned::new(conn, tcp);
                s.write_all(req.as_bytes()).expect("write");
                s.write_all(&payload).expect("write");
                let _ = s.read_to_end(&mut raw);
            }
            (None, "http") => {
                let mut s = tcp;
                s.write_all(req.as_bytes()).expect("write");
                s.write_all(&payload).expect("write");
                s.read_to_end(&mut raw).expect("read");
            }
            _ => panic!("scheme/client mismatch for {url}"),
        }
        parse_response(&raw)
    }

    pub fn get(&self, url: &str) -> Resp {
        self.request("GET", url, &[], None)
    }

    pub fn get_h(&self, url: &str, headers: &[(&str, &str)]) -> Resp {
        self.request("GET", url, headers, None)
    }

    pub fn post_form(&self, url: &str, pairs: &[(&str, &str)]) -> Resp {
        self.post_form_h(url, pairs, &[])
    }

    pub fn post_form_h(&self, url: &str, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> Resp {
        let body = form(pairs);
        self.request("POST", url, headers, Some(("application/x-www-form-urlencoded", body.as_bytes())))
    }

    pub fn post_json(&self, url: &str, v: &Value) -> Resp {
        let body = v.to_string();
        self.request("POST", url, &[], Some(("application/json", body.as_bytes())))
    }
}

fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Resp { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[pos + 2..pos + 2 + size]);
        data = &data[pos + 2 + size + 2..];
    }
    out
}
