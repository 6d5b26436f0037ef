//! The shared known-answer vectors in `testdata/sasl/vectors.json`.

use mailoauth::sasl::{self, ErrorChallenge, Mechanism};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/sasl/vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors file")).expect("json")
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

#[test]
fn xoauth2_vectors() {
    let v = vectors();
    let cases = v["xoauth2"].as_array().expect("array");
    assert!(cases.len() >= 3);
    for c in cases {
        let (user, token) = (s(c, "user").expect("user"), s(c, "token").expect("token"));
        assert_eq!(sasl::xoauth2(&user, &token), s(c, "expected").expect("expected"), "{}", c["source"]);
    }
}

#[test]
fn oauthbearer_vectors() {
    let v = vectors();
    let cases = v["oauthbearer"].as_array().expect("array");
    assert!(cases.len() >= 3);
    for c in cases {
        let port = c["port"].as_u64().map(|p| u16::try_from(p).expect("port"));
        let got = sasl::oauthbearer(
            &s(c, "user").expect("user"),
            &s(c, "token").expect("token"),
            s(c, "host").as_deref(),
            port,
        );
        assert_eq!(got, s(c, "expected").expect("expected"), "{}", c["source"]);
    }
}

#[test]
fn challenge_vectors() {
    let v = vectors();
    let cases = v["challenges"].as_array().expect("array");
    assert!(cases.len() >= 5);
    for c in cases {
        let got = ErrorChallenge::decode(&s(c, "base64").expect("b64")).expect("decodes");
        assert_eq!(got.status, s(c, "status"), "{}", c["source"]);
        assert_eq!(got.schemes, s(c, "schemes"), "{}", c["source"]);
        assert_eq!(got.scope, s(c, "scope"), "{}", c["source"]);
        assert_eq!(got.openid_configuration, s(c, "openid_configuration"), "{}", c["source"]);
        assert!(!got.raw.ends_with('\n'));
    }
    let replies = &v["challenge_replies"];
    for m in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
        assert_eq!(replies[m.name()].as_str(), Some(m.challenge_reply()));
    }
}
