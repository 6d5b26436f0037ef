//! JSON as the core reads and writes it: a small value type, a strict parser and a compact
//! writer, picked apart with the helpers below (one non-generic code path). The bindings use the
//! same values and helpers for what crosses their boundary.
//!
//! Why not a crate: this was `miniserde` (and `serde_json` before it). Both build objects as a
//! `BTreeMap` and read and write floating-point numbers; in the browser's wasm that machinery was
//! about a quarter of the code (the B-tree's insert/remove/rebalance, `f64` parsing and
//! shortest-float printing), measured from the optimized wasm built with names
//! (bindings-wasm/README.md#size). Nothing here needs floats, so a number that is not an integer
//! keeps its literal text ([`Number::Float`]), and an object is a vector kept sorted by key
//! (so the output is byte for byte what the B-tree gave). The parser follows RFC 8259 strictly:
//! UTF-8 only, no trailing garbage, no control characters in strings, surrogate pairs checked,
//! nesting bounded ([`MAX_DEPTH`]) so hostile input cannot exhaust the stack. It is checked
//! against `serde_json` on generated and mutated input (`tests/json_differential.rs`) and run
//! by the stable fuzzer (`fuzz-stable/`, the token, cache and MSAL targets).

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::borrow::Borrow;

/// A JSON value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Array),
    /// An object.
    Object(Object),
}

/// A JSON number: an integer that fits 64 bits, else its literal text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Number {
    /// A non-negative integer.
    U64(u64),
    /// A negative integer.
    I64(i64),
    /// Anything else (a fraction, an exponent, an integer beyond 64 bits), as written.
    Float(String),
}

/// A JSON array.
pub type Array = Vec<Value>;

/// A JSON object: its members sorted by key, one per key (the last one read wins).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Object {
    members: Vec<(String, Value)>,
}

impl Object {
    /// An empty object.
    pub const fn new() -> Object {
        Object { members: Vec::new() }
    }

    fn find(&self, k: &str) -> Result<usize, usize> {
        self.members.binary_search_by(|(m, _)| m.as_str().cmp(k))
    }

    /// The member `k`.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.find(k).ok().map(|i| &self.members[i].1)
    }

    /// The member `k`, to change.
    pub fn get_mut(&mut self, k: &str) -> Option<&mut Value> {
        self.find(k).ok().map(|i| &mut self.members[i].1)
    }

    /// Whether there is a member `k`.
    pub fn contains_key(&self, k: &str) -> bool {
        self.find(k).is_ok()
    }

    /// Sets the member `k`; returns the value it replaces.
    pub fn insert(&mut self, k: String, v: Value) -> Option<Value> {
        match self.find(&k) {
            Ok(i) => Some(core::mem::replace(&mut self.members[i].1, v)),
            Err(i) => {
                self.members.insert(i, (k, v));
                None
            }
        }
    }

    /// Removes the member `k`.
    pub fn remove<Q: Borrow<str> + ?Sized>(&mut self, k: &Q) -> Option<Value> {
        self.find(k.borrow()).ok().map(|i| self.members.remove(i).1)
    }

    /// The members, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.members.iter().map(|(k, v)| (k, v))
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.members.iter().map(|(k, _)| k)
    }

    /// The values, by key.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.members.iter().map(|(_, v)| v)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Object {
        let mut o = Object::new();
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = alloc::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.members.into_iter()
    }
}

/// How deep arrays and objects may nest; deeper input is not read (a token endpoint's or a
/// cache's JSON is three or four levels deep).
pub const MAX_DEPTH: usize = 128;

/// Parses JSON bytes. `None` if they are not UTF-8 or not JSON (or nest deeper than [`MAX_DEPTH`]).
pub fn parse(bytes: &[u8]) -> Option<Value> {
    let text = core::str::from_utf8(bytes).ok()?;
    let mut p = Parser { s: text.as_bytes(), text, i: 0 };
    let v = p.value(0)?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        let hit = self.s.get(self.i) == Some(&b);
        self.i += usize::from(hit);
        hit
    }

    fn word(&mut self, w: &str, v: Value) -> Option<Value> {
        let end = self.i.checked_add(w.len())?;
        (self.s.get(self.i..end)? == w.as_bytes()).then(|| {
            self.i = end;
            v
        })
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        self.ws();
        Some(match *self.s.get(self.i)? {
            b'n' => self.word("null", Value::Null)?,
            b't' => self.word("true", Value::Bool(true))?,
            b'f' => self.word("false", Value::Bool(false))?,
            b'"' => Value::String(self.string()?),
            b'[' => {
                self.i += 1;
                let depth = depth.checked_add(1).filter(|d| *d <= MAX_DEPTH)?;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth)?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                Value::Array(items)
            }
            b'{' => {
                self.i += 1;
                let depth = depth.checked_add(1).filter(|d| *d <= MAX_DEPTH)?;
                let mut o = Object::new();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        if self.s.get(self.i) != Some(&b'"') {
                            return None;
                        }
                        let k = self.string()?;
                        if !self.eat(b':') {
                            return None;
                        }
                        let v = self.value(depth)?;
                        o.insert(k, v);
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                Value::Object(o)
            }
            _ => Value::Number(self.number()?),
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<Number> {
        let start = self.i;
        let negative = self.s.get(self.i) == Some(&b'-');
        self.i += usize::from(negative);
        let int_start = self.i;
        let n = self.digits();
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return None;
        }
        let mut integer = true;
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            integer = false;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            integer = false;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let text = self.text.get(start..self.i)?;
        if integer {
            if negative {
                if let Some(v) = crate::text::parse_i64(text) {
                    return Some(if v == 0 { Number::U64(0) } else { Number::I64(v) });
                }
            } else if let Some(v) = crate::text::parse_u64(text) {
                return Some(Number::U64(v));
            }
        }
        Some(Number::Float(text.to_owned()))
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.i.checked_add(4)?;
        let h = self.text.get(self.i..end)?;
        let v = h.chars().try_fold(0u32, |v, c| Some(v << 4 | c.to_digit(16)?))?;
        self.i = end;
        Some(v)
    }

    /// A string, the opening quote at `self.i`.
    fn string(&mut self) -> Option<String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // Stops only at ASCII bytes, so both ends are character boundaries. (`get`, not an
            // index: an index's panic message would bring `char`'s `Debug` into the wasm.)
            out.push_str(self.text.get(start..self.i)?);
            match *self.s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.i += 1;
                    let c = match *self.s.get(self.i)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.s.get(self.i..self.i.checked_add(2)?)? != b"\\u" {
                                    return None;
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code)?);
                            continue;
                        }
                        _ => return None,
                    };
                    self.i += 1;
                    out.push(c);
                }
                _ => return None, // a control character
            }
        }
    }
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
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(Number::U64(n)) => out.push_str(&crate::text::decimal_u64(*n)),
        Value::Number(Number::I64(n)) => out.push_str(&crate::text::decimal(*n)),
        Value::Number(Number::Float(t)) => out.push_str(t),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, v)) in o.members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
    }
}

/// `s` as a JSON string literal, appended to `out`.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        // `i` and `start` sit next to ASCII bytes: character boundaries (see `Parser::string`).
        out.push_str(s.get(start..i).unwrap_or_default());
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
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
        Value::String(s) => crate::text::parse_i64(s.trim()),
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
