//! The few URL operations the identity code needs: split an `http(s)://` URL into its parts
//! (strictly: ASCII hosts only, no user info), add query parameters, read a redirect's query
//! and fragment. Query strings are encoded and decoded by `form_urlencoded`.
//!
//! This replaces the `url` crate, whose WHATWG parser (with IDNA) was a quarter of the
//! browser bundle; identity URLs are always `scheme://host[:port]/path?query#fragment` with
//! ASCII (or punycode `xn--`) hosts.

/// An absolute `http://` or `https://` URL, split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HttpUrl<'a> {
    /// `http` or `https`, lower case.
    pub(crate) scheme: String,
    /// Lower-case host; an IPv6 literal keeps its brackets.
    pub(crate) host: String,
    /// The port if given and not the scheme's default.
    pub(crate) port: Option<u16>,
    /// The path, possibly empty.
    pub(crate) path: &'a str,
    /// The query without `?`.
    pub(crate) query: Option<&'a str>,
    /// The fragment without `#`.
    pub(crate) fragment: Option<&'a str>,
}

impl<'a> HttpUrl<'a> {
    /// Parses `text`; the error says what is wrong (without repeating the URL).
    pub(crate) fn parse(text: &'a str) -> Result<HttpUrl<'a>, &'static str> {
        if text.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err("contains spaces, control or non-ASCII characters (use punycode for hosts)");
        }
        let (scheme, rest) = text.split_once("://").ok_or("is not an absolute URL (scheme://host/...)")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
            return Err("has no valid scheme");
        }
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("contains user info (user@host)");
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or("has an unterminated IPv6 address")?;
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err("has an invalid IPv6 address");
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("has garbage after the IPv6 address")?),
            };
            (&authority[..addr.len() + 2], port)
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        // A name is dot-separated non-empty labels (no `a..b`, no leading or trailing dot).
        if !host.starts_with('[')
            && (!host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
                || (!host.is_empty() && host.split('.').any(str::is_empty)))
        {
            return Err("has an invalid host");
        }
        // Digits only: `u16::from_str` would also take `+443`.
        let port = match port {
            None | Some("") => None,
            Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => return Err("has an invalid port"),
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or("has an invalid port")?),
        };
        let default = match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        };
        Ok(HttpUrl {
            scheme,
            host: host.to_ascii_lowercase(),
            port: port.filter(|p| Some(*p) != default),
            path,
            query,
            fragment,
        })
    }
}

/// `url` with `pairs` appended to its query (before any fragment), form-encoded.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let mut out = String::with_capacity(base.len() + 256);
    out.push_str(base);
    out.push(if base.contains('?') { '&' } else { '?' });
    let start = out.len();
    let mut s = form_urlencoded::Serializer::for_suffix(out, start);
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    let mut out = s.finish();
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The decoded parameters of a redirect: the query and the fragment of a full URL, or a bare
/// `?query`, `#fragment` or `a=b&c=d` string.
pub(crate) fn redirect_params(redirect: &str) -> Vec<(String, String)> {
    let redirect = redirect.trim();
    let rest = match redirect.split_once("://") {
        Some((_, after)) => match after.find(['?', '#']) {
            Some(i) => &after[i..],
            None => "",
        },
        None => redirect,
    };
    let rest = rest.strip_prefix('?').unwrap_or(rest);
    let (query, fragment) = match rest.split_once('#') {
        Some((q, f)) => (q, f),
        None => match rest.strip_prefix('#') {
            Some(f) => ("", f),
            None => (rest, ""),
        },
    };
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    pairs.extend(form_urlencoded::parse(fragment.as_bytes()).into_owned());
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identity_urls() {
        let u = HttpUrl::parse("HTTPS://Login.MicrosoftOnline.com:443/common/oauth2?x=1#f").expect("url");
        assert_eq!(u.scheme, "https");
        assert_eq!(u.host, "login.microsoftonline.com");
        assert_eq!(u.port, None);
        assert_eq!(u.path, "/common/oauth2");
        assert_eq!(u.query, Some("x=1"));
        assert_eq!(u.fragment, Some("f"));
        let u = HttpUrl::parse("http://[::1]:8080").expect("v6");
        assert_eq!((u.host.as_str(), u.port, u.path), ("[::1]", Some(8080), ""));
        let u = HttpUrl::parse("http://127.0.0.1:9/t/").expect("v4");
        assert_eq!((u.host.as_str(), u.port, u.path), ("127.0.0.1", Some(9), "/t/"));
        for bad in [
            "not a url",
            "https://user@host/x",
            "https://host:99999/x",
            "https://host:0/x",
            "https://ho st/x",
            "https://hôst/x",
            "https://[::1/x",
            "https://[zz]/x",
            "https://host:abc/",
            "://host/",
            "https://host:+443/",
            "https://host:-1/",
            "https://a..b/common",
            "https://.a/common",
            "https://a./common",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn appends_query_before_fragment() {
        assert_eq!(with_query("https://h/a", &[("k", "v w"), ("s", "a&b")]), "https://h/a?k=v+w&s=a%26b");
        assert_eq!(with_query("https://h/a?x=1#f", &[("k", "/")]), "https://h/a?x=1&k=%2F#f");
    }

    #[test]
    fn reads_redirect_parameters() {
        let p = |s| redirect_params(s);
        let want = vec![("code".to_owned(), "a b".to_owned()), ("state".to_owned(), "s".to_owned())];
        assert_eq!(p("https://app.example/cb?code=a+b&state=s"), want);
        assert_eq!(p("http://localhost:1/?code=a%20b#state=s"), want);
        assert_eq!(p("https://app/cb#code=a+b&state=s"), want);
        assert_eq!(p("?code=a+b&state=s"), want);
        assert_eq!(p("#code=a+b&state=s"), want);
        assert_eq!(p("code=a+b&state=s"), want);
        assert!(p("https://app/cb").is_empty());
    }
}
