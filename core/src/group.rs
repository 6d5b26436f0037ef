//! What a caller should do about an error: the one grouping of error kinds that every front end
//! uses (the CLI's exit codes, the `group` of Python's exceptions, JS errors and Swift's
//! `ErrorDetails`). Bindings translate a group; they never decide one.
//!
//! The full table (kind → group, and whether retrying can help) is also in
//! `testdata/parity/errors.json`, which the Rust, Python, JS and Swift suites all read.

use crate::cache::StoreErrorKind;
#[allow(unused_imports)]
use crate::prelude::*;
use crate::{IdentityErrorKind, MailErrorKind};

/// What to do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorGroup {
    /// Fix the input: a bad flag, authority, scope or credential, or an unusable token store.
    Configuration,
    /// A person must sign in again (no usable sign-in, revoked or expired grant, consent or MFA
    /// needed, declined, the code expired, the sign-in was cancelled).
    SignIn,
    /// The mail server refused the login or the mailbox (token refused, login disabled,
    /// not connected, mechanism not offered, temporary refusal, greeting refused, a broken
    /// answer): read the hint; `is_temporary` says whether a retry can help.
    MailRejected,
    /// A server could not be reached or talked to safely: network, time-out, TLS, no STARTTLS.
    Connection,
    /// The identity platform refused the request: app registration, policy, throttling, a
    /// malformed answer.
    Identity,
}

impl ErrorGroup {
    /// The `mailoauth` command's exit code for this group (stable: scripts branch on it).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorGroup::Configuration => 1,
            ErrorGroup::SignIn => 2,
            ErrorGroup::MailRejected => 3,
            ErrorGroup::Connection => 4,
            ErrorGroup::Identity => 5,
        }
    }
}

impl IdentityErrorKind {
    /// What the caller should do about this kind.
    pub fn group(self) -> ErrorGroup {
        use IdentityErrorKind as K;
        match self {
            K::InteractionRequired
            | K::ConsentRequired
            | K::MfaRequired
            | K::InvalidGrant
            | K::Declined
            | K::Expired
            | K::Cancelled => ErrorGroup::SignIn,
            K::InvalidClient | K::Throttled | K::BlockedByPolicy | K::Protocol => ErrorGroup::Identity,
            K::Network => ErrorGroup::Connection,
            K::Configuration | K::Storage => ErrorGroup::Configuration,
        }
    }
}

impl MailErrorKind {
    /// What the caller should do about this kind.
    pub fn group(self) -> ErrorGroup {
        use MailErrorKind as K;
        match self {
            K::Network | K::Timeout | K::Tls | K::StartTlsUnavailable => ErrorGroup::Connection,
            K::Greeting
            | K::MechanismUnsupported
            | K::Rejected
            | K::LoginDisabled
            | K::Temporary
            | K::TokenExpired
            | K::NotConnected
            | K::Protocol => ErrorGroup::MailRejected,
        }
    }
}

impl StoreErrorKind {
    /// What the caller should do about this kind: every token-store failure is fixed in the
    /// configuration (file permissions, a corrupt file moved aside, the store command).
    pub fn group(self) -> ErrorGroup {
        match self {
            StoreErrorKind::Corrupt
            | StoreErrorKind::Permissions
            | StoreErrorKind::Io
            | StoreErrorKind::LockTimeout
            | StoreErrorKind::Command
            | StoreErrorKind::Unavailable => ErrorGroup::Configuration,
        }
    }
}

/// Any error kind of the core, named `section.kind` (`identity.invalid_grant`, `mail.rejected`,
/// `store.corrupt`): the full list the bindings' tests walk (and that an app's error handling
/// must be ready for).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnyErrorKind {
    /// A token request's kind.
    Identity(IdentityErrorKind),
    /// A mail login's kind.
    Mail(MailErrorKind),
    /// A token store's kind.
    Store(StoreErrorKind),
}

impl AnyErrorKind {
    /// Every kind, identity kinds first, then mail, then store, each in declaration order.
    pub fn all() -> Vec<AnyErrorKind> {
        let identity = IdentityErrorKind::ALL.iter().map(|k| AnyErrorKind::Identity(*k));
        let mail = MailErrorKind::ALL.iter().map(|k| AnyErrorKind::Mail(*k));
        let store = StoreErrorKind::ALL.iter().map(|k| AnyErrorKind::Store(*k));
        identity.chain(mail).chain(store).collect()
    }

    /// `section.kind`.
    pub fn name(self) -> String {
        match self {
            AnyErrorKind::Identity(k) => crate::cat!("identity.", k.name()),
            AnyErrorKind::Mail(k) => crate::cat!("mail.", k.name()),
            AnyErrorKind::Store(k) => crate::cat!("store.", k.name()),
        }
    }

    /// The kind named `section.kind`.
    pub fn from_name(name: &str) -> Option<AnyErrorKind> {
        let (section, kind) = name.split_once('.')?;
        match section {
            "identity" => IdentityErrorKind::from_name(kind).map(AnyErrorKind::Identity),
            "mail" => MailErrorKind::from_name(kind).map(AnyErrorKind::Mail),
            "store" => StoreErrorKind::from_name(kind).map(AnyErrorKind::Store),
            _ => None,
        }
    }

    /// What the caller should do about it.
    pub fn group(self) -> ErrorGroup {
        match self {
            AnyErrorKind::Identity(k) => k.group(),
            AnyErrorKind::Mail(k) => k.group(),
            AnyErrorKind::Store(k) => k.group(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{self, Value};

    fn table() -> json::Object {
        let text = include_str!("../../testdata/parity/errors.json");
        json::parse_object(text.as_bytes()).expect("testdata/parity/errors.json is a JSON object")
    }

    fn rows<'a>(t: &'a json::Object, section: &str) -> Vec<&'a json::Object> {
        match t.get(section) {
            Some(Value::Array(rows)) => rows
                .iter()
                .map(|r| match r {
                    Value::Object(o) => o,
                    _ => panic!("{section}: a row is not an object"),
                })
                .collect(),
            _ => panic!("{section}: missing"),
        }
    }

    fn field<'a>(row: &'a json::Object, name: &str) -> &'a str {
        json::get_str(row, name).unwrap_or_else(|| panic!("row without {name}"))
    }

    fn flag(row: &json::Object, name: &str) -> Option<bool> {
        match row.get(name)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The parity table names every kind of core, in order, with core's group, exit code and
    /// temporariness: the other languages' suites read the same table, so they walk the
    /// same full list.
    #[test]
    fn parity_table_matches_core() {
        let t = table();
        let groups = rows(&t, "groups");
        assert_eq!(groups.len(), ErrorGroup::ALL.len());
        for (row, g) in groups.iter().zip(ErrorGroup::ALL) {
            assert_eq!(field(row, "group"), g.name());
            assert_eq!(row.get("exit").and_then(json::as_u64), Some(u64::from(g.exit_code())), "{}", g.name());
        }
        let identity = rows(&t, "identity");
        assert_eq!(identity.len(), IdentityErrorKind::ALL.len());
        for (row, k) in identity.iter().zip(IdentityErrorKind::ALL) {
            assert_eq!(field(row, "kind"), k.name());
            assert_eq!(field(row, "group"), k.group().name(), "{}", k.name());
            assert_eq!(flag(row, "temporary"), Some(k.is_temporary()), "{}", k.name());
        }
        let mail = rows(&t, "mail");
        assert_eq!(mail.len(), MailErrorKind::ALL.len());
        for (row, k) in mail.iter().zip(MailErrorKind::ALL) {
            assert_eq!(field(row, "kind"), k.name());
            assert_eq!(field(row, "group"), k.group().name(), "{}", k.name());
            assert_eq!(flag(row, "temporary"), Some(k.is_temporary()), "{}", k.name());
        }
        let all = AnyErrorKind::all();
        assert_eq!(all.len(), identity.len() + mail.len() + rows(&t, "store").len());
        for k in &all {
            assert_eq!(AnyErrorKind::from_name(&k.name()), Some(*k));
        }
        assert_eq!(AnyErrorKind::from_name("mail.nope"), None);
        assert_eq!(AnyErrorKind::from_name("rejected"), None);
        let store = rows(&t, "store");
        assert_eq!(store.len(), StoreErrorKind::ALL.len());
        for (row, k) in store.iter().zip(StoreErrorKind::ALL) {
            assert_eq!(field(row, "kind"), k.name());
            assert_eq!(field(row, "group"), k.group().name(), "{}", k.name());
        }
    }
}
