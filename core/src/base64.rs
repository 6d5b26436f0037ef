//! Base64 (RFC 4648) in the two forms the core meets: the standard alphabet with padding
//! (SASL) and the URL-safe alphabet without it (JWTs, PKCE, `client_info`). Decoding is
//! strict, as the `base64` crate's `STANDARD` and `URL_SAFE_NO_PAD` engines are: only the
//! alphabet's characters, canonical padding (required, or refused), no stray bits in the last
//! character.
//!
//! Written here rather than taken from the `base64` crate because of a measurement: its
//! generic engine and its panic paths were 1.5 KB gzip of the browser's wasm (of a 64 KB
//! budget; `scripts/bench/wasm-size.sh`). `tests/base64_differential.rs` holds this module to
//! the crate's answers on generated and random input, and the stable fuzzer decodes through it.

#[allow(unused_imports)]
use crate::prelude::*;

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `bytes` in the standard alphabet, padded with `=`.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    encode_with(bytes.as_ref(), STANDARD, true)
}

/// `bytes` in the URL-safe alphabet, without padding.
pub fn encode_url(bytes: impl AsRef<[u8]>) -> String {
    encode_with(bytes.as_ref(), URL_SAFE, false)
}

/// Standard base64 with canonical padding, or `None`.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    decode_with(text.as_bytes(), false, true)
}

/// URL-safe base64 without padding, or `None`.
pub fn decode_url(text: &str) -> Option<Vec<u8>> {
    decode_with(text.as_bytes(), true, false)
}

fn encode_with(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        // a chunk of k bytes makes k + 1 characters
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
        if pad {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

/// The value of the character `c`, or `None` if it is not in the alphabet.
fn value(c: u8, url_safe: bool) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' if !url_safe => 62,
        b'/' if !url_safe => 63,
        b'-' if url_safe => 62,
        b'_' if url_safe => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

fn decode_with(mut text: &[u8], url_safe: bool, padded: bool) -> Option<Vec<u8>> {
    if padded {
        if !text.len().is_multiple_of(4) {
            return None;
        }
        let pads = text.iter().rev().take_while(|c| **c == b'=').count();
        text = text.get(..text.len() - pads)?;
        // as many `=` as the last group lacks characters: none, one or two
        if pads != (4 - text.len() % 4) % 4 {
            return None;
        }
    }
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        acc = (acc << 6) | value(c, url_safe)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // the last character's bits beyond the last byte must be zero (canonical)
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        for (plain, b64) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain), b64);
            assert_eq!(decode(b64).as_deref(), Some(plain.as_bytes()));
            let unpadded = b64.trim_end_matches('=');
            assert_eq!(encode_url(plain), unpadded);
            assert_eq!(decode_url(unpadded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(encode_url([0xfb, 0xff]), "-_8");
        assert_eq!(encode([0xfb, 0xff]), "+/8=");
        for bad in ["Zg", "Zg=", "Zg===", "Z===", "Zh==", "Zm9v=", "Z m9v", "-_8=", "Zm=v"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        for bad in ["Zg==", "Z", "Zh", "+/8", "Zm9v\n"] {
            assert_eq!(decode_url(bad), None, "{bad}");
        }
    }
}
