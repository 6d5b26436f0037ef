//! What a hostile identity platform, mail server, redirect or local file can feed the input
//! readers: arbitrary bytes, and structured-but-hostile documents seeded with boundary values
//! (i64/u64 extremes, 1e308, -0, empty, huge and control-character strings, deep nesting).
//! Each property asserts "no panic, a typed result, the documented clamps hold"; the checks
//! live in `support/hostile_inputs.rs`, shared with the stable fuzz driver (`fuzz-stable/`)
//! and the libFuzzer targets in `core/fuzz`, whose committed corpora
//! (`core/fuzz/seeds/<target>/`) are replayed by `corpora_replay`.
//!
//! Case counts are kept small enough for the test command (`PROPTEST_CASES` raises them).

#[path = "support/hostile_inputs.rs"]
mod check;

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use mailoauth::proto::Protocol;
use mailoauth::sasl::Mechanism;
use proptest::prelude::*;

// ---- boundary values ---------------------------------------------------------------------

/// A JSON string literal holding `s`.
fn lit(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

use check::BOUNDARY_NUMBERS as NUMBERS;

fn huge(n: usize) -> String {
    "x".repeat(n)
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// Strings a hostile peer would pick: empty, numeric, huge, escape sequences, bidi marks.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("3600".to_owned()),
        Just(" 42 ".to_owned()),
        Just("-1".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("Bearer".to_owned()),
        Just("pop".to_owned()),
        Just("\u{1b}[2J\u{1b}]0;pwned\u{7}".to_owned()),
        Just("\u{202e}gnp.exe".to_owned()),
        Just("a\r\nb\u{0}c\u{9b}d\u{2028}".to_owned()),
        Just("AADSTS50126: Error validating credentials.".to_owned()),
        ".{0,40}",
        any::<String>(),
    ]
}

/// A JSON value (as text) made of boundary values; arrays and objects nest a few levels.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        proptest::sample::select(NUMBERS).prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        hostile_string().prop_map(|s| lit(&s)),
        proptest::sample::select(NUMBERS).prop_map(lit),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just(nested(64)),
    ];
    // Rare, because they are slow to build and read in a debug build.
    let leaf = prop_oneof![40 => leaf, 1 => Just(nested(20_000)), 1 => Just(lit(&huge(70_000)))];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec((hostile_string(), inner), 0..4).prop_map(|v| {
                let fields: Vec<String> = v.iter().map(|(k, v)| format!("{}:{v}", lit(k))).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

/// A JSON object with fields named from `keys` (or any name), each a hostile value, after
/// an optional `base` that makes the document otherwise acceptable.
fn document(keys: &'static [&'static str], base: &'static str) -> impl Strategy<Value = String> {
    let key = prop_oneof![4 => proptest::sample::select(keys).prop_map(str::to_owned), 1 => hostile_string()];
    (any::<bool>(), proptest::collection::vec((key, value()), 0..6)).prop_map(move |(with_base, fields)| {
        let mut parts: Vec<String> = if with_base { vec![base.to_owned()] } else { Vec::new() };
        parts.extend(fields.iter().map(|(k, v)| format!("{}:{v}", lit(k))));
        format!("{{{}}}", parts.join(","))
    })
}

fn now() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        Just(1_700_000_000),
        Just(i64::MAX),
        Just(i64::MAX - 3600),
        Just(i64::MIN),
        Just(-1),
        any::<i64>(),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![6 => Just(200), 1 => Just(400), 1 => Just(401), 1 => Just(302), 1 => Just(503), 1 => 0u16..1000]
}

/// Arbitrary bytes, or bytes that are almost UTF-8 JSON.
fn bytes_or(doc: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => doc.prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

const TOKEN_KEYS: &[&str] = &[
    "access_token",
    "expires_in",
    "ext_expires_in",
    "refresh_in",
    "scope",
    "refresh_token",
    "id_token",
    "client_info",
    "token_type",
    "error",
    "error_description",
    "error_codes",
    "suberror",
    "correlation_id",
    "trace_id",
    "claims",
];

const DEVICE_KEYS: &[&str] = &[
    "device_code",
    "user_code",
    "verification_uri",
    "verification_url",
    "message",
    "expires_in",
    "interval",
    "error",
    "error_description",
    "error_codes",
];

const CLAIM_KEYS: &[&str] = &[
    "exp",
    "aud",
    "scp",
    "roles",
    "upn",
    "preferred_username",
    "email",
    "unique_name",
    "oid",
    "sub",
    "tid",
    "name",
    "uid",
    "utid",
];

/// A JWT (or something shaped like one) whose claims are hostile values.
fn jwt() -> impl Strategy<Value = String> {
    let claims =
        || document(CLAIM_KEYS, r#""exp":1700000000,"aud":"https://outlook.office.com","scp":"IMAP.AccessAsUser.All""#);
    prop_oneof![
        4 => claims().prop_map(|c| format!("eyJhbGciOiJub25lIn0.{}.sig", URL_SAFE_NO_PAD.encode(c))),
        1 => claims().prop_map(|c| format!("h.{}==.s", URL_SAFE_NO_PAD.encode(c))),
        1 => claims().prop_map(|c| format!("h.{}.s.extra", STANDARD.encode(c))),
        1 => claims().prop_map(|c| format!(".{}.", URL_SAFE_NO_PAD.encode(c))),
        1 => "[A-Za-z0-9_.=+/-]{0,60}",
        1 => any::<String>(),
    ]
}

// ---- identity ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn token_answer_keeps_its_promises(
        status in status(),
        body in bytes_or(document(TOKEN_KEYS, r#""access_token":"tok","token_type":"Bearer""#)),
        now in now(),
    ) {
        check::token_answer(status, &body, now);
    }

    #[test]
    fn token_answer_with_hostile_jwts(id_token in jwt(), client_info in jwt(), expires_in in value(), now in now()) {
        let body = format!(
            r#"{{"access_token":"tok","expires_in":{expires_in},"refresh_in":{expires_in},"id_token":{},"client_info":{}}}"#,
            lit(&id_token),
            lit(client_info.split('.').nth(1).unwrap_or(&client_info)),
        );
        check::token_answer(200, body.as_bytes(), now);
    }

    #[test]
    fn device_answer_keeps_its_promises(
        status in status(),
        body in bytes_or(document(DEVICE_KEYS, r#""device_code":"dc","user_code":"UC""#)),
        now in now(),
        loopback: bool,
    ) {
        check::device_answer(status, &body, now, loopback);
    }

    #[test]
    fn jwt_claims_never_panic(token in jwt(), now in now()) {
        check::jwt(&token, now);
    }
}

// ---- cache -------------------------------------------------------------------------------

fn int() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(NUMBERS).prop_map(str::to_owned),
        4 => any::<i64>().prop_map(|n| n.to_string()),
        1 => value(),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![8 => hostile_string().prop_map(|s| lit(&s)), 1 => Just("null".to_owned()), 1 => value()]
}

fn cache_entry() -> impl Strategy<Value = String> {
    let account = (string(), string(), string(), string(), string(), string()).prop_map(|(u, e, n, o, t, h)| {
        format!(r#"{{"username":{u},"email":{e},"name":{n},"oid":{o},"tid":{t},"home_account_id":{h}}}"#)
    });
    let access_token =
        (proptest::collection::vec(string(), 0..3), string(), int(), int()).prop_map(|(s, secret, e, r)| {
            format!(r#"{{"scopes":[{}],"secret":{secret},"expires_at":{e},"refresh_at":{r}}}"#, s.join(","))
        });
    (string(), string(), string(), account, string(), int(), proptest::collection::vec(access_token, 0..3)).prop_map(
        |(env, client, tenant, account, rt, updated, ats)| {
            format!(
                r#"{{"environment":{env},"client_id":{client},"tenant":{tenant},"account":{account},"refresh_token":{rt},"updated_at":{updated},"access_tokens":[{}]}}"#,
                ats.join(",")
            )
        },
    )
}

fn cache_document() -> impl Strategy<Value = Vec<u8>> {
    let version = prop_oneof![4 => Just("1".to_owned()), 1 => int()];
    let doc = (version, proptest::collection::vec(cache_entry(), 0..3))
        .prop_map(|(v, e)| format!(r#"{{"version":{v},"entries":[{}]}}"#, e.join(",")));
    bytes_or(doc)
}

fn msal_document() -> impl Strategy<Value = String> {
    let pick = |v: &'static [&'static str]| proptest::sample::select(v).prop_map(lit);
    let item = (
        pick(&["h1", "h2", ""]),
        pick(&["login.microsoftonline.com", "https://login.microsoftonline.us", "", "a://b", "\u{1b}[2J"]),
        pick(&["c", "d", ""]),
        string(),
        string(),
        string(),
        int(),
        int(),
    )
        .prop_map(|(home, env, client, secret, realm, name, exp, refresh)| {
            format!(
                r#"{{"home_account_id":{home},"environment":{env},"client_id":{client},"secret":{secret},"realm":{realm},"username":{name},"name":{name},"local_account_id":{realm},"target":{name},"expires_on":{exp},"refresh_on":{refresh}}}"#
            )
        });
    let section = proptest::collection::vec(item, 0..3).prop_map(|items| {
        let fields: Vec<String> = items.iter().enumerate().map(|(i, it)| format!(r#""k{i}":{it}"#)).collect();
        format!("{{{}}}", fields.join(","))
    });
    let name = proptest::sample::select(&["Account", "RefreshToken", "AccessToken", "IdToken", "AppMetadata"][..]);
    prop_oneof![
        4 => proptest::collection::vec((name, prop_oneof![4 => section, 1 => value()]), 0..5).prop_map(|s| {
            let fields: Vec<String> = s.iter().map(|(n, v)| format!("{}:{v}", lit(n))).collect();
            format!("{{{}}}", fields.join(","))
        }),
        1 => value(),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cache_document_reads_back_what_it_writes(bytes in cache_document()) {
        check::cache_document(&bytes);
    }

    #[test]
    fn msal_import_is_corrupt_or_a_clean_cache(text in msal_document(), now in now()) {
        check::msal_import(&text, now);
    }
}

// ---- URLs and redirects ------------------------------------------------------------------

fn authority_url() -> impl Strategy<Value = String> {
    let scheme = proptest::sample::select(&["https", "http", "HTTPS", "hTTp", "ftp", "", "https:"][..]);
    let host = proptest::sample::select(
        &[
            "login.microsoftonline.com",
            "LOGIN.MicrosoftOnline.US",
            "127.0.0.1",
            "127.1",
            "localhost",
            "[::1]",
            "[0:0::1]",
            "[::ffff:127.0.0.1]",
            "[::127.0.0.1]",
            "0x7f.1",
            "0x7f000001",
            "2130706433",
            "1.2.3",
            "010.0.0.1",
            "256.0.0.1",
            "a.1",
            "a.0x1",
            "a.b.",
            "xn--nxasmq6b",
            "a_b.example",
            "-a-.example",
            "",
            "a..b",
            "%6c%6f",
            "h\\x",
            "user@h",
        ][..],
    );
    let port = proptest::sample::select(
        &["", ":", ":0", ":443", ":0443", ":80", ":65535", ":65536", ":+1", ":99999999999999999999"][..],
    );
    let segment = proptest::sample::select(
        &[
            "/common",
            "/organizations",
            "/",
            "//",
            "/.",
            "/..",
            "/%2e",
            "/%2E%2e",
            "/.%2e",
            "/a b",
            "/{x}",
            "/<>",
            "/\"",
            "/`",
            "/;",
            "/\\",
            "\\",
            "/%00",
            "/^|",
            "?q=1",
            "#f",
            "/t?x#y",
        ][..],
    );
    prop_oneof![
        6 => (scheme, host, port, proptest::collection::vec(segment, 0..4), "[a-z0-9.-]{0,8}").prop_map(|(s, h, p, path, tail)| {
            format!("{s}://{h}{p}{}{tail}", path.concat())
        }),
        1 => "[ -~]{0,40}",
        1 => any::<String>(),
    ]
}

fn redirect() -> impl Strategy<Value = String> {
    let prefix = proptest::sample::select(
        &["http://localhost:1234/", "https://app/cb", "", "?", "#", "http://localhost:1234/?x#", " \t", "mailoauth://"]
            [..],
    );
    let key =
        proptest::sample::select(&["code", "state", "error", "error_description", "st%61te", "state ", "code[]"][..]);
    let val = prop_oneof![
        4 => proptest::sample::select(
            &["st4te", "other", "", "c0de", "%1B%5B2J", "\u{1b}[2J", "AADSTS50126: bad", "AADSTS99999999999999", "a%ZZ", "+", "%00", "%E2%80%AE"][..]
        ).prop_map(str::to_owned),
        1 => hostile_string(),
    ];
    let sep = proptest::sample::select(&["&", ";", "#", "?", "&&"][..]);
    prop_oneof![
        6 => (prefix, proptest::collection::vec((key, val, sep), 0..5)).prop_map(|(p, pairs)| {
            let mut s = p.to_owned();
            for (k, v, sep) in pairs {
                s.push_str(&format!("{k}={v}{sep}"));
            }
            s
        }),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn authority_urls_parse_as_url_parses_them(text in authority_url()) {
        check::authority_url(&text);
    }

    #[test]
    fn redirects_need_the_state(text in redirect()) {
        check::redirect(&text);
    }
}

// ---- mail servers ------------------------------------------------------------------------

/// Lines a server could send during a login, plausible and hostile.
fn server_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER] hi\r\n".to_vec()),
        Just(b"* CAPABILITY IMAP4rev1 AUTH=XOAUTH2\r\n".to_vec()),
        Just(b"+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n".to_vec()),
        Just(b"+ \x1b[2J\r\n".to_vec()),
        Just(b"+OK\r\n".to_vec()),
        Just(b"+OK hi\r\n".to_vec()),
        Just(b"-ERR [AUTH] no\r\n".to_vec()),
        Just(b"220 hi\r\n".to_vec()),
        Just(b"250-hi\r\n250-AUTH XOAUTH2 OAUTHBEARER\r\n250 8BITMIME\r\n".to_vec()),
        Just(b"235 2.7.0 ok\r\n".to_vec()),
        Just(b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n".to_vec()),
        Just(b"535 5.7.3 no\r\n".to_vec()),
        Just(b"SASL XOAUTH2 OAUTHBEARER\r\n.\r\n".to_vec()),
        "[am][0-9] (OK|NO|BAD)( \\[[A-Z]+\\])? [a-z ]{0,10}\r\n".prop_map(String::into_bytes),
        "\\* [A-Z]+ [ -~]{0,40}( \\{[0-9]{1,20}\\})?\r\n".prop_map(String::into_bytes),
        "[0-9]{3}[ -][ -~]{0,20}\r?\n".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// The machines answer the same lines the same way however the bytes are cut into reads
    /// (every read boundary, down to one byte), and never panic or loop.
    #[test]
    fn logins_do_not_depend_on_read_boundaries(
        lines in proptest::collection::vec(server_line(), 0..10),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        p in 0..3usize,
        oauthbearer: bool,
    ) {
        let protocol = [Protocol::Imap, Protocol::Smtp, Protocol::Pop3][p];
        let mechanism = if oauthbearer { Mechanism::OAuthBearer } else { Mechanism::XOAuth2 };
        let per_line: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let whole = lines.concat();
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(whole.len() + 1)).collect();
        at.extend([0, whole.len()]);
        at.sort_unstable();
        at.dedup();
        let pieces: Vec<&[u8]> = at.windows(2).map(|w| &whole[w[0]..w[1]]).collect();
        let bytewise: Vec<&[u8]> = whole.chunks(1).collect();
        let a = check::login(protocol, mechanism, false, &per_line);
        let b = check::login(protocol, mechanism, false, &pieces);
        let c = check::login(protocol, mechanism, false, &bytewise);
        // A line cut short by the end of the input is not a line yet: compare where all three
        // saw every byte.
        if a.end != "needs input" {
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(&a, &c);
        }
        // With STARTTLS asked for, cutting may reveal injected pre-TLS bytes earlier; only
        // "no panic, typed result" holds.
        let _ = check::login(protocol, mechanism, true, &pieces);
    }

    #[test]
    fn challenge_decoding_never_panics_on_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        check::challenge(&String::from_utf8_lossy(&data));
        check::login_bytes(&data);
    }
}

// ---- committed corpora ---------------------------------------------------------------------

/// Every committed corpus file, through its target's check (so the corpora run on stable,
/// in the test command, where `cargo +nightly fuzz` is not available).
#[test]
fn corpora_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut targets: Vec<_> =
        std::fs::read_dir(&root).expect("core/fuzz/seeds").map(|d| d.expect("entry").path()).collect();
    targets.sort();
    let mut failures = Vec::new();
    let mut files = 0;
    for dir in &targets {
        let target = dir.file_name().and_then(|n| n.to_str()).expect("a target name").to_owned();
        let mut inputs: Vec<_> = std::fs::read_dir(dir).expect("a corpus").map(|d| d.expect("entry").path()).collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "empty corpus {target}");
        for input in inputs {
            let data = std::fs::read(&input).expect("a corpus file");
            files += 1;
            if std::panic::catch_unwind(|| check::target(&target, &data)).is_err() {
                failures.push(input.display().to_string());
            }
        }
    }
    let names: Vec<_> = targets.iter().filter_map(|d| d.file_name()?.to_str().map(str::to_owned)).collect();
    assert_eq!(
        names,
        {
            let mut t = check::TARGETS.map(str::to_owned).to_vec();
            t.sort();
            t
        },
        "a corpus per target"
    );
    assert!(files >= 50, "{files} corpus files");
    assert!(failures.is_empty(), "corpus inputs that fail their check: {failures:#?}");
}
