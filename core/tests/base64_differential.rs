//! The core's base64 (`mailoauth::base64`, hand-written to keep the wasm small) checked against
//! the `base64` crate (dev-dependency): the same text for any bytes, and the same answer (the
//! bytes, or a refusal) for encoded, mutated and random text, in both forms the core uses.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use mailoauth::base64 as ours;
use proptest::prelude::*;

/// Text near base64: encodings with a few characters changed, cut or added, from the two
/// alphabets, padding, and bytes that are never base64.
fn nearly_base64() -> impl Strategy<Value = String> {
    let alphabet = prop_oneof![
        Just('A'),
        Just('Q'),
        Just('g'),
        Just('w'),
        Just('0'),
        Just('9'),
        Just('+'),
        Just('/'),
        Just('-'),
        Just('_'),
        Just('='),
        Just(' '),
        Just('\n'),
        Just('é'),
    ];
    let random = proptest::collection::vec(alphabet, 0..14).prop_map(|c| c.into_iter().collect::<String>());
    let mutated = (any::<Vec<u8>>(), any::<bool>(), proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3))
        .prop_map(|(bytes, standard, edits)| {
            let mut text = if standard { STANDARD.encode(&bytes) } else { URL_SAFE_NO_PAD.encode(&bytes) }.into_bytes();
            for (at, b) in edits {
                match b % 4 {
                    0 if !text.is_empty() => {
                        let i = at % text.len();
                        text[i] = b"AZaz09+/-_= "[usize::from(b) % 12];
                    }
                    1 if !text.is_empty() => {
                        text.remove(at % text.len());
                    }
                    2 => text.push(b"=A-/"[usize::from(b) % 4]),
                    _ => text.truncate(at % (text.len() + 1)),
                }
            }
            String::from_utf8(text).unwrap_or_default()
        });
    prop_oneof![random, mutated, any::<String>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn encodes_as_the_crate(bytes in any::<Vec<u8>>()) {
        prop_assert_eq!(ours::encode(&bytes), STANDARD.encode(&bytes));
        prop_assert_eq!(ours::encode_url(&bytes), URL_SAFE_NO_PAD.encode(&bytes));
        prop_assert_eq!(ours::decode(&ours::encode(&bytes)), Some(bytes.clone()));
        prop_assert_eq!(ours::decode_url(&ours::encode_url(&bytes)), Some(bytes));
    }

    #[test]
    fn decodes_as_the_crate(text in nearly_base64()) {
        prop_assert_eq!(ours::decode(&text), STANDARD.decode(&text).ok(), "standard {:?}", text);
        prop_assert_eq!(ours::decode_url(&text), URL_SAFE_NO_PAD.decode(&text).ok(), "url-safe {:?}", text);
    }
}

/// Every string of up to four characters from a small alphabet that covers the classes the
/// decoder tells apart (letters, digits, both alphabets' extra characters, padding, junk).
#[test]
fn short_strings_exhaustively() {
    let chars = ['A', 'B', 'Q', 'g', 'h', '0', '+', '/', '-', '_', '=', '.'];
    let mut texts = vec![String::new()];
    for _ in 0..4 {
        let longer: Vec<String> = texts
            .iter()
            .filter(|t| t.len() == texts.last().map_or(0, String::len))
            .flat_map(|t| chars.iter().map(move |c| format!("{t}{c}")))
            .collect();
        texts.extend(longer);
    }
    assert!(texts.len() > 20_000);
    for text in &texts {
        assert_eq!(ours::decode(text), STANDARD.decode(text).ok(), "standard {text:?}");
        assert_eq!(ours::decode_url(text), URL_SAFE_NO_PAD.decode(text).ok(), "url-safe {text:?}");
    }
}
