//! PKCE (RFC 7636), `state` and other random values.

#[allow(unused_imports)]
use crate::prelude::*;
use sha2::{Digest, Sha256};

use super::error::{IdentityError, IdentityErrorKind};

/// `n` random bytes from the OS (or `crypto.getRandomValues` in wasm).
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], IdentityError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(no_random_source)?;
    Ok(buf)
}

#[cfg(not(target_arch = "wasm32"))]
fn no_random_source(e: getrandom::Error) -> IdentityError {
    IdentityError::new(IdentityErrorKind::Configuration, format!("no random source: {e}"))
}

/// In wasm the only source is the host's `crypto.getRandomValues` (the binding's custom
/// source); naming it spares the browser getrandom's table of every platform's messages.
#[cfg(target_arch = "wasm32")]
fn no_random_source(_: getrandom::Error) -> IdentityError {
    IdentityError::new(IdentityErrorKind::Configuration, "no random source: the host's crypto.getRandomValues failed")
}

/// A random URL-safe string carrying `N` random bytes.
pub(crate) fn random_string<const N: usize>() -> Result<String, IdentityError> {
    Ok(crate::base64::encode_url(random_bytes::<N>()?))
}

/// A short random suffix for temporary file names (time-based if no random source).
#[cfg(not(target_arch = "wasm32"))] // only the native file stores use it
pub(crate) fn random_suffix() -> String {
    random_string::<6>().unwrap_or_else(|_| {
        format!(
            "{:x}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        )
    })
}

/// A PKCE code verifier: 43 characters from the unreserved set (32 random bytes).
pub(crate) fn code_verifier() -> Result<String, IdentityError> {
    random_string::<32>()
}

/// The S256 challenge of a verifier: BASE64URL(SHA256(verifier)) without padding.
pub fn s256_challenge(verifier: &str) -> String {
    crate::base64::encode_url(Sha256::digest(verifier.as_bytes()))
}

/// A random GUID-shaped string (version 4 layout), for `jti` and correlation ids.
pub(crate) fn guid() -> Result<String, IdentityError> {
    let mut b = random_bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let v = code_verifier().expect("random");
        assert_eq!(v.len(), 43);
        assert!(v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(v, code_verifier().expect("random"));
        let g = guid().expect("guid");
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
    }
}
