//! The mutations: byte-level changes, splices between seeds and a dictionary of values hostile
//! peers pick, stacked a few at a time; for base64-wrapped JSON (JWT payloads, SASL
//! challenges) also applied to the decoded bytes and encoded again.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// Inputs are cut to this length (the largest seeds are ~70 KB).
pub const MAX_LEN: usize = 256 * 1024;

/// How many of its own outputs the mutator keeps to mutate further.
const POOL: usize = 1024;

/// Where a target's JSON sits inside its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// The input is the document.
    Plain,
    /// A JWT: the document is the base64url middle segment.
    JwtPayload,
    /// The input is the base64 of the document (a SASL error challenge).
    Base64,
}

impl Layer {
    /// The layer of a target's inputs.
    pub fn of(target: &str) -> Layer {
        match target {
            "jwt" => Layer::JwtPayload,
            "challenge" => Layer::Base64,
            _ => Layer::Plain,
        }
    }
}

/// Numbers a hostile peer picks for lifetimes, intervals, versions and ports.
use crate::check::BOUNDARY_NUMBERS as NUMBERS;

/// Bytes parsers branch on.
const SPECIAL_BYTES: &[u8] = b"\x00\x01\x7f\x80\xff\"\\{}[],:.=&?#%/@ \r\n\t\x1b-+0e9";

/// Tokens: JSON structure and escapes, control and bidi characters, invalid UTF-8, URL and
/// query pieces, mail protocol pieces, and the names the readers look for.
const TOKENS: &[&[u8]] = &[
    b"",
    b"null",
    b"true",
    b"false",
    b"[]",
    b"{}",
    b"\"\"",
    b"\"",
    b"\\",
    b",",
    b":",
    b"\\u0000",
    b"\\ud800",
    b"\\udc00\\ud800",
    b"\\uFFFF",
    b"\\u001b[2J",
    b"\\u202e",
    b"\\n",
    b"\x00",
    b"\x07",
    b"\x1b[2J\x1b]0;pwned\x07",
    b"\x7f",
    b"\xc2\x9b",
    "\u{202e}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{200b}".as_bytes(),
    "\u{feff}".as_bytes(),
    b"\xff",
    b"\xfe\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\r\n",
    b"\r",
    b"\n",
    b" ",
    b"\t",
    b"%00",
    b"%ZZ",
    b"%",
    b"%2e%2E",
    b"%E2%80%AE",
    b"%1B%5B2J",
    b"+",
    b"&",
    b";",
    b"=",
    b"==",
    b"?",
    b"#",
    b"@",
    b"/",
    b"//",
    b"\\\\",
    b"..",
    b"/../",
    b"://",
    b"[::1]",
    b"[::ffff:127.0.0.1]",
    b"127.0.0.1",
    b"0x7f.1",
    b"xn--",
    b"xn--nxasmq6b",
    b"localhost",
    b":0",
    b":65536",
    b":443",
    b"https://",
    b"http://",
    b"login.microsoftonline.com",
    b"state=st4te",
    b"&state=st4te",
    b"code=c0de",
    b"error=access_denied",
    b"error_description=",
    b"AADSTS50126",
    b"AADSTS99999999999999999999",
    b"\"access_token\":",
    b"\"expires_in\":",
    b"\"ext_expires_in\":",
    b"\"refresh_in\":",
    b"\"scope\":",
    b"\"token_type\":",
    b"\"refresh_token\":",
    b"\"id_token\":",
    b"\"client_info\":",
    b"\"error\":",
    b"\"error_codes\":",
    b"\"device_code\":",
    b"\"user_code\":",
    b"\"verification_uri\":",
    b"\"interval\":",
    b"\"message\":",
    b"\"exp\":",
    b"\"aud\":",
    b"\"scp\":",
    b"\"roles\":",
    b"\"upn\":",
    b"\"preferred_username\":",
    b"\"uid\":",
    b"\"utid\":",
    b"\"version\":",
    b"\"entries\":",
    b"\"expires_at\":",
    b"\"refresh_at\":",
    b"\"secret\":",
    b"\"expires_on\":",
    b"\"refresh_on\":",
    b"\"cached_at\":",
    b"\"Account\":",
    b"\"RefreshToken\":",
    b"\"AccessToken\":",
    b"\"status\":",
    b"\"schemes\":",
    b"\"openid-configuration\":",
    b"* OK ",
    b"* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER\r\n",
    b"* BYE ",
    b"[ALERT]",
    b"{18446744073709551615}\r\n",
    b"{5}\r\n",
    b"+ ",
    b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n",
    b"a1 OK ",
    b"a1 NO ",
    b"a2 OK ",
    b"a3 OK ",
    b"+OK ",
    b"-ERR ",
    b"220 ",
    b"250-",
    b"250 ",
    b"235 ",
    b"334 ",
    b"535 ",
    b"AUTH XOAUTH2 OAUTHBEARER",
    b"STARTTLS",
    b"STLS",
    b"SASL XOAUTH2",
    b".\r\n",
    b"\xff",
    b"\xff\xff",
];

/// Stacks mutations on seeds and on a sample of its own earlier outputs.
#[derive(Debug)]
pub struct Mutator {
    rng: StdRng,
    layer: Layer,
    seeds: Vec<Vec<u8>>,
    pool: Vec<Vec<u8>>,
}

impl Mutator {
    /// A mutator over `seeds` (not empty) with a PRNG seeded by `prng_seed`.
    pub fn new(layer: Layer, seeds: Vec<Vec<u8>>, prng_seed: u64) -> Mutator {
        assert!(!seeds.is_empty(), "a mutator needs seeds");
        Mutator { rng: StdRng::seed_from_u64(prng_seed), layer, seeds, pool: Vec::new() }
    }

    /// The next input: a seed or a kept output, with one to a dozen mutations.
    pub fn next_input(&mut self) -> Vec<u8> {
        let mut data = if !self.pool.is_empty() && self.rng.gen_ratio(1, 3) {
            self.smaller_of_two(true)
        } else {
            self.smaller_of_two(false)
        };
        let layered = self.layer != Layer::Plain && self.rng.gen_ratio(2, 3);
        if layered {
            if let Some(out) = self.in_layer(&data) {
                return out;
            }
        }
        self.stack(&mut data);
        data
    }

    /// A seed (or kept input); three times in four the smaller of two random picks. Like
    /// libFuzzer's preference for small inputs: the few huge seeds (70 KB strings, 20,000-deep
    /// nesting) still run, but do not take most of the time.
    fn smaller_of_two(&mut self, pool: bool) -> Vec<u8> {
        let from = if pool { &self.pool } else { &self.seeds };
        let a = &from[self.rng.gen_range(0..from.len())];
        if !self.rng.gen_ratio(3, 4) {
            return a.clone();
        }
        let b = &from[self.rng.gen_range(0..from.len())];
        if b.len() < a.len() {
            b.clone()
        } else {
            a.clone()
        }
    }

    /// Offers an input that ran to be kept for further mutation (a random sample is kept).
    pub fn offer(&mut self, input: Vec<u8>) {
        if !self.rng.gen_ratio(1, 8) {
            return;
        }
        if self.pool.len() < POOL {
            self.pool.push(input);
        } else {
            let i = self.rng.gen_range(0..POOL);
            self.pool[i] = input;
        }
    }

    /// Mutates the document inside the base64 layer and encodes it again (padded or not,
    /// URL-safe or standard, as the receiving reader might be lenient about).
    fn in_layer(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(data).ok()?;
        let (head, middle, tail) = match self.layer {
            Layer::JwtPayload => {
                let mut parts = text.splitn(3, '.');
                let head = parts.next()?;
                let middle = parts.next()?;
                (head, middle, parts.next().unwrap_or(""))
            }
            Layer::Base64 => ("", text.trim(), ""),
            Layer::Plain => return None,
        };
        let bare = middle.trim_end_matches('=');
        let mut doc = URL_SAFE_NO_PAD.decode(bare).or_else(|_| STANDARD.decode(middle)).ok()?;
        self.stack(&mut doc);
        let encoded = match self.rng.gen_range(0..8) {
            0 => STANDARD.encode(&doc),
            1 => URL_SAFE.encode(&doc),
            2 if self.layer == Layer::Base64 => URL_SAFE_NO_PAD.encode(&doc),
            _ if self.layer == Layer::Base64 => STANDARD.encode(&doc),
            _ => URL_SAFE_NO_PAD.encode(&doc),
        };
        let out = match self.layer {
            Layer::JwtPayload => format!("{head}.{encoded}.{tail}").into_bytes(),
            _ => encoded.into_bytes(),
        };
        let mut out = out;
        if self.rng.gen_ratio(1, 8) {
            self.mutate_once(&mut out);
        }
        Some(out)
    }

    /// One to a dozen mutations, fewer more likely.
    fn stack(&mut self, data: &mut Vec<u8>) {
        let mut n = 1;
        while n < 12 && self.rng.gen_ratio(1, 2) {
            n += 1;
        }
        for _ in 0..n {
            self.mutate_once(data);
        }
        data.truncate(MAX_LEN);
    }

    fn pos(&mut self, data: &[u8]) -> usize {
        self.rng.gen_range(0..=data.len())
    }

    /// A short range of `data` (empty when `data` is).
    fn range(&mut self, data: &[u8]) -> (usize, usize) {
        if data.is_empty() {
            return (0, 0);
        }
        let start = self.rng.gen_range(0..data.len());
        let max = if self.rng.gen_ratio(1, 8) { data.len() - start } else { (data.len() - start).min(32) };
        (start, start + self.rng.gen_range(1..=max))
    }

    fn number(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..8) {
            0 => {
                // A huge digit string, sometimes negative.
                let digits = self.rng.gen_range(20..400);
                let mut s = if self.rng.gen_bool(0.5) { b"-".to_vec() } else { Vec::new() };
                s.push(b'1' + self.rng.gen_range(0..9));
                s.extend(std::iter::repeat_n(b'9', digits));
                s
            }
            1 => self.rng.gen::<i64>().to_string().into_bytes(),
            2 => self.rng.gen::<u64>().to_string().into_bytes(),
            3 => format!("{:e}", f64::from_bits(self.rng.gen::<u64>())).into_bytes(),
            _ => NUMBERS[self.rng.gen_range(0..NUMBERS.len())].as_bytes().to_vec(),
        }
    }

    fn token(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..64) {
            // Very long: a string of 70,000 characters, or 20,000 open brackets.
            0 => vec![b'A'; 70_000],
            1 => vec![b'['; 20_000],
            2 => b"\"".iter().chain(&[b'x'; 4096]).chain(b"\"").copied().collect(),
            3 => vec![b'{'; 600],
            _ => TOKENS[self.rng.gen_range(0..TOKENS.len())].to_vec(),
        }
    }

    fn mutate_once(&mut self, data: &mut Vec<u8>) {
        match self.rng.gen_range(0..16) {
            // Flip a bit.
            0 if !data.is_empty() => {
                let i = self.rng.gen_range(0..data.len());
                data[i] ^= 1 << self.rng.gen_range(0..8);
            }
            // Set a byte: random, or one of the bytes parsers branch on.
            1 if !data.is_empty() => {
                let i = self.rng.gen_range(0..data.len());
                data[i] = if self.rng.gen_bool(0.5) {
                    self.rng.gen()
                } else {
                    SPECIAL_BYTES[self.rng.gen_range(0..SPECIAL_BYTES.len())]
                };
            }
            // Add or subtract a little.
            2 if !data.is_empty() => {
                let i = self.rng.gen_range(0..data.len());
                let delta: i8 = self.rng.gen_range(-8..=8);
                data[i] = data[i].wrapping_add_signed(delta);
            }
            // Insert random bytes.
            3 => {
                let at = self.pos(data);
                let n = self.rng.gen_range(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.gen()).collect();
                data.splice(at..at, bytes);
            }
            // Delete a range.
            4 | 5 => {
                let (a, b) = self.range(data);
                data.drain(a..b);
            }
            // Copy a range elsewhere.
            6 => {
                let (a, b) = self.range(data);
                let chunk = data[a..b].to_vec();
                let at = self.pos(data);
                data.splice(at..at, chunk);
            }
            // Splice a range of another seed (or kept input) in, inserted or replacing the tail.
            7 => {
                let other = if !self.pool.is_empty() && self.rng.gen_bool(0.3) {
                    self.pool[self.rng.gen_range(0..self.pool.len())].clone()
                } else {
                    self.seeds[self.rng.gen_range(0..self.seeds.len())].clone()
                };
                let (a, b) = self.range(&other);
                let at = self.pos(data);
                if self.rng.gen_bool(0.5) {
                    data.truncate(at);
                    data.extend_from_slice(&other[a..]);
                } else {
                    data.splice(at..at, other[a..b].iter().copied());
                }
            }
            // Replace a run of digits (a number in the document) with an interesting one.
            8 | 9 => {
                let n = self.number();
                match find_digits(data, self.rng.gen_range(0..=data.len())) {
                    Some((a, b)) => {
                        data.splice(a..b, n);
                    }
                    None => {
                        let at = self.pos(data);
                        data.splice(at..at, n);
                    }
                }
            }
            // Insert an interesting token.
            10 | 11 => {
                let t = self.token();
                let at = self.pos(data);
                data.splice(at..at, t);
            }
            // Replace a range with an interesting token.
            12 => {
                let t = self.token();
                let (a, b) = self.range(data);
                data.splice(a..b, t);
            }
            // Replace a JSON string's contents (between two quotes) with a token or number.
            13 => {
                let v = if self.rng.gen_bool(0.5) { self.token() } else { self.number() };
                if let Some((a, b)) = find_string(data, self.rng.gen_range(0..=data.len())) {
                    data.splice(a..b, v);
                }
            }
            // Truncate.
            14 => {
                let at = self.pos(data);
                data.truncate(at);
            }
            // Swap two ranges' first bytes, or repeat the input.
            _ => {
                if data.len() >= 2 && self.rng.gen_bool(0.8) {
                    let i = self.rng.gen_range(0..data.len());
                    let j = self.rng.gen_range(0..data.len());
                    data.swap(i, j);
                } else if data.len() < MAX_LEN / 2 {
                    let copy = data.clone();
                    data.extend_from_slice(&copy);
                }
            }
        }
    }
}

/// The first run of ASCII digits (with a leading `-`) at or after `from`, wrapping around.
fn find_digits(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let at = (from..data.len()).chain(0..from.min(data.len())).find(|&i| data[i].is_ascii_digit())?;
    let mut a = at;
    while a > 0 && (data[a - 1].is_ascii_digit() || matches!(data[a - 1], b'-' | b'.' | b'e' | b'E' | b'+')) {
        a -= 1;
    }
    let mut b = at;
    while b < data.len() && (data[b].is_ascii_digit() || matches!(data[b], b'.' | b'e' | b'E' | b'+' | b'-')) {
        b += 1;
    }
    Some((a, b))
}

/// The contents of the first JSON string at or after `from` (between two `"`), wrapping around.
fn find_string(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let open = (from..data.len()).chain(0..from.min(data.len())).find(|&i| data[i] == b'"')?;
    let close = data[open + 1..].iter().position(|&c| c == b'"')? + open + 1;
    Some((open + 1, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_change_inputs_and_stay_bounded() {
        let seeds = vec![br#"{"access_token":"tok","expires_in":3600}"#.to_vec(), b"* OK hi\r\n".to_vec()];
        let mut m = Mutator::new(Layer::Plain, seeds.clone(), 7);
        let outputs: Vec<Vec<u8>> = (0..2000).map(|_| m.next_input()).collect();
        assert!(outputs.iter().all(|o| o.len() <= MAX_LEN));
        let changed = outputs.iter().filter(|o| !seeds.contains(o)).count();
        assert!(changed > 1800, "only {changed} of 2000 inputs differ from the seeds");
        let distinct: std::collections::HashSet<_> = outputs.iter().collect();
        assert!(distinct.len() > 1500, "only {} distinct inputs", distinct.len());
        // The dictionary reaches the numbers: some output carries an i64 extreme.
        assert!(outputs.iter().any(|o| o.windows(19).any(|w| w == b"9223372036854775807")));
    }

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let seeds = vec![b"abc".to_vec()];
        let a: Vec<_> = {
            let mut m = Mutator::new(Layer::Plain, seeds.clone(), 1);
            (0..100).map(|_| m.next_input()).collect()
        };
        let mut m = Mutator::new(Layer::Plain, seeds, 1);
        let b: Vec<_> = (0..100).map(|_| m.next_input()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn jwt_payloads_are_mutated_inside_the_base64() {
        let jwt = format!("h.{}.s", URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000,"upn":"a@b"}"#));
        let mut m = Mutator::new(Layer::JwtPayload, vec![jwt.into_bytes()], 3);
        let decoded = (0..500)
            .filter_map(|_| {
                let out = String::from_utf8(m.next_input()).ok()?;
                let middle = out.split('.').nth(1)?.trim_end_matches('=').to_owned();
                URL_SAFE_NO_PAD.decode(middle).ok()
            })
            .filter(|doc| doc.starts_with(b"{") && doc != br#"{"exp":1700000000,"upn":"a@b"}"#)
            .count();
        assert!(decoded > 100, "only {decoded} mutated payloads still decode");
    }
}
