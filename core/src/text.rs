//! Text from the network made safe to print: what a server, an identity platform or a
//! redirect says ends up in error messages, on terminals and in log files, so it must not be
//! able to clear a screen, set a window title, move the cursor, fake a prompt or reorder what
//! is shown.
//!
//! The core applies [`safe_text`] wherever it builds an error or a message from network text
//! (identity errors and redirects, the device-code message, mail server lines, SASL error
//! challenges), so every binding receives safe strings; the CLI applies it again to anything
//! it prints that it did not write itself.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::borrow::Cow;

/// Whether `c` can do more on a terminal than print itself, or can disguise text:
/// C0 controls (including ESC, CR, LF, TAB, BS, BEL), DEL, C1 controls (U+0080..U+009F,
/// including the one-byte CSI U+009B), the bidirectional marks, embeddings, overrides and
/// isolates (U+061C, U+200E/F, U+202A..U+202E, U+2066..U+2069), the line and paragraph
/// separators (U+2028/9), zero-width and invisible format characters (U+200B..U+200D,
/// U+2060..U+2064, U+FEFF) and the interlinear annotation characters (U+FFF9..U+FFFB).
pub fn is_unsafe_char(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// `text` with every [`is_unsafe_char`] replaced: line breaks and tabs (and U+2028/9) by a
/// space, so a multi-line server message reads as one line, and every other one by U+FFFD
/// (�), so tampering stays visible. Borrowed when nothing had to change.
pub fn safe_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => ' ',
                c if is_unsafe_char(c) => '\u{fffd}',
                c => c,
            })
            .collect(),
    )
}

/// The pieces one after the other (what [`cat!`](crate::cat) expands to; a loop of
/// `push_str` is smaller in the wasm than `[&str]::concat`).
pub fn concat(pieces: &[&str]) -> String {
    let mut out = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for p in pieces {
        out.push_str(p);
    }
    out
}

/// `n` in decimal. With [`cat!`](crate::cat) the messages of the token flows and the cache
/// are built without `core::fmt`, which the browser's wasm then leaves out (about 2 KB gzip).
pub fn decimal(n: i64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(21);
    if n < 0 {
        out.push('-');
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
    out
}

/// `s` as an unsigned integer, as `u64::from_str` reads it (an optional `+`, then ASCII digits,
/// no overflow). Together with [`parse_i64`] it keeps the standard library's generic
/// integer parser (and its radix checks and messages) out of the browser's wasm.
pub fn parse_u64(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// `s` as a signed integer, as `i64::from_str` reads it (an optional `+` or `-`, then ASCII
/// digits, no overflow).
pub fn parse_i64(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        Some(digits) if !digits.starts_with('+') => {
            let n = parse_u64(digits)?;
            if n == 1 << 63 {
                Some(i64::MIN)
            } else {
                i64::try_from(n).ok().map(|n| -n)
            }
        }
        Some(_) => None,
        None => parse_u64(s).and_then(|n| i64::try_from(n).ok()),
    }
}

/// [`decimal`] of an unsigned number.
pub fn decimal_u64(n: u64) -> String {
    match i64::try_from(n) {
        Ok(n) => decimal(n),
        // above i64::MAX: the last digit apart (n / 10 fits)
        Err(_) => {
            let mut out = decimal((n / 10) as i64);
            out.push(char::from(b'0' + (n % 10) as u8));
            out
        }
    }
}

/// [`safe_text`] into an owned `String`.
pub(crate) fn safe_string(text: String) -> String {
    match safe_text(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_matches_display() {
        for n in [0, 1, -1, 9, 10, -10, 99, 100, 12_345, i64::MAX, i64::MIN, i64::MIN + 1] {
            assert_eq!(decimal(n), n.to_string());
        }
        for n in [0, 7, u64::MAX, u64::MAX - 1, i64::MAX as u64 + 1, 10_000_000_000_000_000_000] {
            assert_eq!(decimal_u64(n), n.to_string());
        }
        assert_eq!(cat!("a", String::from("b"), decimal(-3), ""), "ab-3");
    }

    #[test]
    fn parse_matches_from_str() {
        let mut cases: Vec<String> = [
            "",
            "+",
            "-",
            "0",
            "+0",
            "-0",
            "007",
            "+-1",
            "-+1",
            "--1",
            "++1",
            " 1",
            "1 ",
            "1a",
            "a1",
            "٣",
            "18446744073709551615",
            "18446744073709551616",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "+18446744073709551615",
            "99999999999999999999999",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 22) as usize;
            cases.push((0..len).map(|i| b"+-0123456789 x"[((x >> (i * 2)) % 14) as usize] as char).collect());
            cases.push(x.to_string());
            cases.push((x as i64).to_string());
        }
        for s in &cases {
            assert_eq!(parse_u64(s), s.parse::<u64>().ok(), "{s:?}");
            assert_eq!(parse_i64(s), s.parse::<i64>().ok(), "{s:?}");
        }
    }

    #[test]
    fn neutralises_escapes_controls_and_bidi() {
        let hostile = "a\u{1b}[2J\u{1b}]0;title\u{7}b\rc\u{9b}31md\u{202e}evil\u{2066}x\u{200b}y\u{0}\u{7f}";
        let safe = safe_text(hostile);
        assert!(!safe.chars().any(is_unsafe_char), "{safe:?}");
        assert_eq!(
            safe,
            "a\u{fffd}[2J\u{fffd}]0;title\u{fffd}b c\u{fffd}31md\u{fffd}evil\u{fffd}x\u{fffd}y\u{fffd}\u{fffd}"
        );
        assert_eq!(safe_text("AADSTS50076: line one.\r\nTrace ID: t"), "AADSTS50076: line one.  Trace ID: t");
        assert!(matches!(safe_text("plain, ünïcödé and emoji 📬"), Cow::Borrowed(_)));
        assert_eq!(safe_string("ok".to_owned()), "ok");
    }
}
