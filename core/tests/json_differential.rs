//! The core's JSON parser and writer (`mailoauth::json`, hand-written to keep the wasm small)
//! checked against `serde_json` (dev-dependency): the same values from generated JSON text,
//! the same verdict (JSON or not) on mutated and random input, text it writes read back the
//! same, and bounded nesting.

use mailoauth::json::{self, Number, Value};
use proptest::prelude::*;

/// Ours as a `serde_json` value (a non-integer number through serde_json's own reading).
fn to_serde(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(Number::U64(n)) => serde_json::Value::from(*n),
        Value::Number(Number::I64(n)) => serde_json::Value::from(*n),
        Value::Number(Number::Float(t)) => serde_json::from_str(t).expect("a float literal serde_json reads"),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_serde).collect()),
        Value::Object(o) => serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), to_serde(v))).collect()),
    }
}

fn number() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<u64>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1.0e12f64..1.0e12).prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,8}",
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![Just('"'), Just('\\'), Just('\u{0}'), Just('\u{1f}'), Just('é'), Just('𝄞'), Just('/')],
            0..6
        )
        .prop_map(|c| c.into_iter().collect()),
    ]
}

fn value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        number(),
        text().prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::vec((text(), inner), 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// serde_json's verdict on `bytes`; a number it cannot hold as an `f64` (`1e400`) it refuses,
/// we keep as text: that one difference is expected.
fn serde_accepts(bytes: &[u8]) -> Option<bool> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(_) => Some(true),
        Err(e) if e.to_string().contains("number out of range") => None,
        Err(_) => Some(false),
    }
}

/// The same JSON with its structural bytes mutated.
fn mutate(text: &str, at: usize, with: u8, op: u8) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    if b.is_empty() {
        return vec![with];
    }
    let at = at % b.len();
    match op % 4 {
        0 => b[at] = with,
        1 => {
            b.remove(at);
        }
        2 => b.insert(at, with),
        _ => b.truncate(at),
    }
    b
}

const INTERESTING: &[u8] = b"{}[]\",:\\ \t\n\r0123456789-+.eEtrufalsn\x00\x1f\x7f\xc3\xa9\xffu";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn generated_json_reads_as_serde_json_reads_it(v in value(), pretty: bool) {
        let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.expect("JSON text");
        let ours = json::parse(text.as_bytes()).expect("valid JSON is read");
        prop_assert_eq!(to_serde(&ours), serde_json::from_str::<serde_json::Value>(&text).expect("serde_json reads it"));
        // What we write, serde_json and we read back the same.
        let written = json::to_string(&ours);
        prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&written).expect("serde_json reads what we wrote"), to_serde(&ours));
        prop_assert_eq!(json::parse(written.as_bytes()), Some(ours));
    }

    #[test]
    fn mutated_json_gets_the_same_verdict(
        v in value(),
        at in any::<usize>(),
        pick in any::<usize>(),
        op in any::<u8>(),
    ) {
        let text = serde_json::to_string(&v).expect("JSON text");
        let bytes = mutate(&text, at, INTERESTING[pick % INTERESTING.len()], op);
        if let Some(serde) = serde_accepts(&bytes) {
            prop_assert_eq!(json::parse(&bytes).is_some(), serde, "input {:?}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn random_bytes_get_the_same_verdict(bytes in proptest::collection::vec(proptest::sample::select(INTERESTING), 0..24)) {
        if let Some(serde) = serde_accepts(&bytes) {
            prop_assert_eq!(json::parse(&bytes).is_some(), serde, "input {:?}", String::from_utf8_lossy(&bytes));
        }
    }
}

#[test]
fn numbers_keep_their_kind_and_text() {
    let v = json::parse(br#"[0,-0,18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809,1.50,1e400,-2E-3]"#)
        .expect("numbers");
    let Value::Array(items) = &v else { panic!("an array") };
    assert_eq!(items[0], Value::Number(Number::U64(0)));
    assert_eq!(items[1], Value::Number(Number::U64(0)));
    assert_eq!(items[2], Value::Number(Number::U64(u64::MAX)));
    assert_eq!(items[3], Value::Number(Number::Float("18446744073709551616".into())));
    assert_eq!(items[4], Value::Number(Number::I64(i64::MIN)));
    assert_eq!(items[5], Value::Number(Number::Float("-9223372036854775809".into())));
    assert_eq!(json::as_i64(&items[3]), None, "a huge number is no integer");
    assert_eq!(
        json::to_string(&v),
        "[0,0,18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809,1.50,1e400,-2E-3]"
    );
    for bad in ["01", "-", "1.", ".5", "1e", "+1", "0x10", "NaN", "Infinity", "1 2"] {
        assert!(json::parse(bad.as_bytes()).is_none(), "{bad}");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(json::parse(deep(json::MAX_DEPTH).as_bytes()).is_some());
    assert!(json::parse(deep(json::MAX_DEPTH + 1).as_bytes()).is_none());
    // Far deeper than any stack: refused, not a crash.
    assert!(json::parse(deep(1_000_000).as_bytes()).is_none());
    let objects = format!("{}1{}", r#"{"a":"#.repeat(500_000), "}".repeat(500_000));
    assert!(json::parse(objects.as_bytes()).is_none());
}

#[test]
fn strings_escapes_and_duplicates() {
    let v = json::parse(br#"{"b":"\ud834\udd1e\u00e9\/\b\f\n\r\t\"\\","a":1,"a":2}"#).expect("object");
    let o = json::object(&v).expect("object");
    assert_eq!(json::get_str(o, "b"), Some("\u{1d11e}é/\u{8}\u{c}\n\r\t\"\\"));
    assert_eq!(o.get("a"), Some(&Value::Number(Number::U64(2))), "the last member of a name wins");
    assert_eq!(json::to_string(&v), r#"{"a":2,"b":"𝄞é/\b\f\n\r\t\"\\"}"#);
    for bad in
        [&br#""\ud834""#[..], br#""\udd1e""#, br#""\ud834\u0041""#, b"\"a\x01\"", br#""\x""#, b"\"\xff\"", br#""\u12"#]
    {
        assert!(json::parse(bad).is_none(), "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(json::to_string(&Value::String("\u{0}\u{1f}\u{7f}".into())), "\"\\u0000\\u001f\u{7f}\"");
}
