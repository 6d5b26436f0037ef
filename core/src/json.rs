//! JSON as the core reads and writes it: [`miniserde`] values (a small JSON library, which
//! keeps the wasm build small) picked apart with these helpers, one non-generic code path.
//! The bindings use the same values and helpers for what crosses their boundary.

pub use miniserde::json::{Array, Number, Object, Value};

/// Parses JSON bytes. `None` if they are not UTF-8 or not JSON.
pub fn parse(bytes: &[u8]) -> Option<Value> {
    miniserde::json::from_str(std::str::from_utf8(bytes).ok()?).ok()
}

/// Parses JSON bytes that must be an object.
pub fn parse_object(bytes: &[u8]) -> Option<Object> {
    match parse(bytes)? {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// Compact JSON text.
pub fn to_string(v: &Value) -> String {
    miniserde::json::to_string(v)
}

/// The object, if `v` is one.
pub fn object(v: &Value) -> Option<&Object> {
    match v {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// The string `o[k]`, if it is one.
pub fn get_str<'a>(o: &'a Object, k: &str) -> Option<&'a str> {
    match o.get(k)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// An integer that fits an `i64` (not a float).
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(Number::U64(n)) => i64::try_from(*n).ok(),
        Value::Number(Number::I64(n)) => Some(*n),
        _ => None,
    }
}

/// A non-negative integer (not a float).
pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(Number::U64(n)) => Some(*n),
        Value::Number(Number::I64(n)) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// Seconds given as an integer or a numeric string (`"3599"`, as some token endpoints and
/// MSAL caches write them).
pub fn seconds(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        other => as_i64(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings() {
        let o = parse_object(br#"{"a":"x","n":-3,"u":7,"f":1.5,"s":" 42 "}"#).expect("object");
        assert_eq!(get_str(&o, "a"), Some("x"));
        assert_eq!(get_str(&o, "n"), None);
        assert_eq!(o.get("n").and_then(as_i64), Some(-3));
        assert_eq!(o.get("n").and_then(as_u64), None);
        assert_eq!(o.get("u").and_then(as_u64), Some(7));
        assert_eq!(o.get("f").and_then(as_i64), None);
        assert_eq!(o.get("s").and_then(seconds), Some(42));
        assert!(parse(b"\xff").is_none() && parse(b"{").is_none() && parse_object(b"[1]").is_none());
        assert_eq!(to_string(&Value::Object(o.clone())), r#"{"a":"x","f":1.5,"n":-3,"s":" 42 ","u":7}"#);
    }
}
