//! The few URL operations the identity code needs: split an `http(s)://` URL into its parts
//! (strictly: ASCII hosts only, no user info), add query parameters, read a redirect's query
//! and fragment. Query strings are encoded and decoded by `form_urlencoded`.
//!
//! This replaces the `url` crate, whose WHATWG parser (with IDNA) was a quarter of the
//! browser bundle; identity URLs are always `scheme://host[:port]/path?query#fragment` with
//! ASCII (or punycode `xn--`) hosts.

/// An absolute `http://` or `https://` URL, split.
#[allow(unused_imports)]
use crate::prelude::*;

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
        let (scheme, rest) = split_scheme(text).ok_or("is not an absolute URL (scheme://host/...)")?;
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
        let (authority, path) = rest.find('/').and_then(|i| rest.split_at_checked(i)).unwrap_or((rest, ""));
        if authority.contains('@') {
            return Err("contains user info (user@host)");
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or("has an unterminated IPv6 address")?;
            if addr.parse::<core::net::Ipv6Addr>().is_err() {
                return Err("has an invalid IPv6 address");
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("has garbage after the IPv6 address")?),
            };
            (authority.get(..addr.len() + 2).ok_or("has an unterminated IPv6 address")?, port)
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
        // A name ending in a number is an IPv4 address to WHATWG parsers (reqwest's `url`),
        // which read `0x7f.1` or `2130706433` as 127.0.0.1 and refuse `a.1` or `256.0.0.1`:
        // only the plain dotted-quad form, which every parser reads alike, is taken.
        let last = host.rsplit('.').next().unwrap_or("");
        let numeric = !last.is_empty()
            && (last.bytes().all(|b| b.is_ascii_digit())
                || last.get(..2).is_some_and(|x| x.eq_ignore_ascii_case("0x"))
                    && last.bytes().skip(2).all(|b| b.is_ascii_hexdigit()));
        if numeric && host.parse::<core::net::Ipv4Addr>().is_err() {
            return Err("has an invalid IPv4 address (only a.b.c.d)");
        }
        // `.` and `..` segments (also as `%2e`) and `\` are rewritten by WHATWG parsers, so
        // the path sent would not be the path read here (a tenant of `..`).
        if path.contains('\\') || path.split('/').any(|seg| matches!(dot_units(seg), 1 | 2)) {
            return Err("has a `.` or `..` segment or a backslash in its path");
        }
        // Digits only: `u16::from_str` would also take `+443`.
        let port = match port {
            None | Some("") => None,
            Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => return Err("has an invalid port"),
            Some(p) => Some(
                crate::text::parse_u64(p)
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0)
                    .ok_or("has an invalid port")?,
            ),
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

/// `text` split around its first `://`. A search for a character: `split_once("://")` brings
/// the two-way string searcher into the browser's wasm (about 1 KB gzip).
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    // `get`, not indexing, here and below: an index's panic message would bring `char`'s
    // `Debug` into the wasm (the positions are next to ASCII characters, so always boundaries).
    let (i, _) = text.match_indices(':').find(|(i, _)| text.get(i + 1..).is_some_and(|r| r.starts_with("//")))?;
    Some((text.get(..i)?, text.get(i + 3..)?))
}

/// How many dots `seg` spells with `.` and `%2e` (any case) alone, else 0: `.` and `%2E.` are
/// the segments WHATWG parsers read as `.` and `..`.
fn dot_units(mut seg: &str) -> usize {
    let mut n = 0;
    while !seg.is_empty() {
        seg = match seg.strip_prefix('.') {
            Some(rest) => rest,
            None => match (seg.get(..3), seg.get(3..)) {
                (Some(unit), Some(rest)) if unit.eq_ignore_ascii_case("%2e") => rest,
                _ => return 0,
            },
        };
        n += 1;
    }
    n
}

/// `pairs` form-encoded onto `out` (`k=v&k=v`, each side with `form_urlencoded::byte_serialize`):
/// what `form_urlencoded::Serializer` writes, without its state checks, whose panic messages
/// the browser's wasm then carried.
pub(crate) fn push_form(out: &mut String, pairs: &[(&str, &str)]) {
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(form_urlencoded::byte_serialize(k.as_bytes()));
        out.push('=');
        out.extend(form_urlencoded::byte_serialize(v.as_bytes()));
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
    push_form(&mut out, pairs);
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
    let rest = match split_scheme(redirect) {
        Some((_, after)) => after.find(['?', '#']).and_then(|i| after.get(i..)).unwrap_or_default(),
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
            "https://h/%2e%2E/x",
            "https://h/a/.%2e",
            "https://h/%2E",
            "https://h/a/./b",
            "x:y://h/",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
        for fine in ["https://h/%2e%2e%2e/x", "https://h/.../x", "https://h/%2ex/", "https://h/%2/"] {
            assert!(HttpUrl::parse(fine).is_ok(), "{fine}");
        }
        assert_eq!(split_scheme("a:b://c://d"), Some(("a:b", "c://d")));
        assert_eq!(split_scheme("a:/b:c"), None);
        assert_eq!(redirect_params("urn:x://h/p?code=1#state=2").len(), 2);
        let pairs = [("a b", "c&d=e"), ("ü", "+/?#%"), ("", ""), ("k", "v")];
        let mut ours = String::new();
        push_form(&mut ours, &pairs);
        let mut theirs = form_urlencoded::Serializer::new(String::new());
        theirs.extend_pairs(pairs);
        assert_eq!(ours, theirs.finish());
    }

    /// Differential: whatever `HttpUrl::parse` accepts as an http(s) URL, the `url` crate
    /// (the WHATWG parser reqwest sends with) reads with the same scheme, host, port and path.
    mod against_url_crate {
        use super::super::HttpUrl;
        use proptest::prelude::*;

        /// What WHATWG percent-encodes in a path (and leaves as is otherwise).
        fn encode_path(path: &str) -> String {
            let mut out = String::new();
            for c in path.chars() {
                match c {
                    '"' | '<' | '>' | '`' | '{' | '}' => out.push_str(&format!("%{:02X}", c as u32)),
                    c => out.push(c),
                }
            }
            if out.is_empty() {
                out.push('/');
            }
            out
        }

        pub(super) fn agree(text: &str) {
            let Ok(ours) = HttpUrl::parse(text) else { return };
            if ours.scheme != "http" && ours.scheme != "https" {
                return;
            }
            // An empty host is refused by every caller (`check_url`); `url` skips the slashes.
            // Punycode (`xn--`) labels are not decoded here, so their validity is `url`'s
            // (IDNA) business: an invalid one fails when reqwest connects, as a typed error.
            if ours.host.is_empty() || ours.host.split('.').any(|l| l.starts_with("xn--")) {
                return;
            }
            let theirs = url::Url::parse(text).unwrap_or_else(|e| panic!("{text:?} accepted, but url says {e}"));
            assert_eq!(theirs.scheme(), ours.scheme, "scheme of {text:?}");
            match (theirs.host(), ours.host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))) {
                (Some(url::Host::Ipv6(a)), Some(v6)) => assert_eq!(Ok(a), v6.parse(), "IPv6 host of {text:?}"),
                _ => assert_eq!(theirs.host_str(), Some(ours.host.as_str()), "host of {text:?}"),
            }
            assert_eq!(theirs.port(), ours.port, "port of {text:?}");
            assert_eq!(theirs.path(), encode_path(ours.path), "path of {text:?}");
        }

        fn candidate() -> impl Strategy<Value = String> {
            let scheme = proptest::sample::select(&["https", "http", "HTTPS", "hTTp", "ftp"][..]);
            let host = proptest::sample::select(
                &[
                    "login.microsoftonline.com",
                    "LOGIN.Example.US",
                    "127.0.0.1",
                    "127.1",
                    "localhost",
                    "[::1]",
                    "[0:0::1]",
                    "[::ffff:127.0.0.1]",
                    "[::127.0.0.1]",
                    "0x7f.1",
                    "0x7F000001",
                    "2130706433",
                    "1.2.3",
                    "010.0.0.1",
                    "255.255.255.255",
                    "256.0.0.1",
                    "a.1",
                    "a.0x",
                    "a.0x1g",
                    "a.b1",
                    "1a",
                    "a_b.example",
                    "-a-.example",
                    "",
                    "a..b",
                    "%6c",
                    "h\\x",
                    "u@h",
                    "xn--nxasmq6b",
                    "EXAMPLE.com",
                ][..],
            );
            let port =
                proptest::sample::select(&["", ":", ":0", ":443", ":0443", ":80", ":65535", ":65536", ":+1"][..]);
            let segment = proptest::sample::select(
                &[
                    "/common", "/", "//", "/.", "/..", "/%2e", "/%2E%2e", "/.%2e", "/..a", "/.a", "/{x}", "/<>", "/\"",
                    "/`", "/;", "/\\", "/%00", "/^|", "/~", "/%zz", "?q=1", "#f", "/t?x#y", "/a=b&c",
                ][..],
            );
            prop_oneof![
                8 => (scheme, host, port, proptest::collection::vec(segment, 0..4), "[a-z0-9.%-]{0,6}")
                    .prop_map(|(s, h, p, path, tail)| format!("{s}://{h}{p}{}{tail}", path.concat())),
                1 => "https?://[ -~]{0,30}",
                1 => "[ -~]{0,40}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            #[test]
            fn http_urls_parse_as_the_url_crate_parses_them(text in candidate()) {
                agree(&text);
            }
        }
    }

    #[test]
    fn agrees_with_the_url_crate_on_the_edges() {
        for text in [
            "https://login.microsoftonline.com/common",
            "http://[0:0::1]:8080/t",
            "https://h:0443/{t}",
            "https://h",
            "https://a.b1/t",
        ] {
            against_url_crate::agree(text);
            assert!(HttpUrl::parse(text).is_ok(), "{text}");
        }
        for bad in [
            "https://a.1/t",
            "https://0x7f.1/t",
            "https://2130706433/t",
            "https://127.1/t",
            "https://256.0.0.1/t",
            "https://h/common/..",
            "https://h/common/%2E%2e/x",
            "https://h/./t",
            "https://h/a\\b",
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
