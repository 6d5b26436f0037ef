//! Small helpers: random identifiers, base64url, time formatting, HTML escaping.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

/// A random GUID in the lowercase 8-4-4-4-12 form Microsoft uses.
pub(crate) fn guid() -> String {
    let b: [u8; 16] = rand::thread_rng().gen();
    guid_from_bytes(b)
}

/// A GUID derived deterministically from `seed` (SHA-256, version-4 bits set).
pub(crate) fn guid_from_seed(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    guid_from_bytes(b)
}

fn guid_from_bytes(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// True when `s` looks like a GUID (8-4-4-4-12 hex digits).
pub(crate) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    parts.len() == 5 && parts.iter().zip(lens).all(|(p, l)| p.len() == l && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `n` random bytes encoded as base64url without padding.
pub(crate) fn random_b64url(n: usize) -> String {
    let mut v = vec![0u8; n];
    rand::thread_rng().fill(&mut v[..]);
    URL_SAFE_NO_PAD.encode(v)
}

pub(crate) fn b64url(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub(crate) fn b64url_decode(data: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(data.trim_end_matches('=')).ok()
}

pub(crate) fn b64_std(data: impl AsRef<[u8]>) -> String {
    STANDARD.encode(data)
}

pub(crate) fn b64_std_decode(data: &str) -> Option<Vec<u8>> {
    STANDARD.decode(data.trim()).ok()
}

/// A user code like Microsoft's: 9 characters from an unambiguous upper-case alphabet.
pub(crate) fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..9).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

/// Microsoft's timestamp format in error bodies: `2016-01-09 02:02:12Z`.
pub(crate) fn aad_timestamp(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}Z")
}

/// RFC 3339 UTC timestamp, e.g. `2016-01-09T02:02:12Z`.
pub(crate) fn rfc3339(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Unix seconds → (year, month, day, hour, minute, second) in UTC.
fn civil(unix: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let hour = secs / 3600;
    let min = (secs % 3600) / 60;
    let sec = secs % 60;
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
        u32::try_from(hour).unwrap_or(0),
        u32::try_from(min).unwrap_or(0),
        u32::try_from(sec).unwrap_or(0),
    )
}

/// Escape text for HTML element content and attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// SHA-256 of `data`, hex encoded (used to index issued tokens without storing them).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of two secrets.
pub(crate) fn secret_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(aad_timestamp(1_452_304_932), "2016-01-09 02:02:12Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(aad_timestamp(951_782_400), "2000-02-29 00:00:00Z");
    }

    #[test]
    fn guids() {
        let g = guid();
        assert!(is_guid(&g), "{g}");
        assert_eq!(guid_from_seed("x"), guid_from_seed("x"));
        assert!(!is_guid("contoso.example"));
    }

    #[test]
    fn user_codes() {
        let c = user_code();
        assert_eq!(c.len(), 9);
        assert!(c.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    }
}
