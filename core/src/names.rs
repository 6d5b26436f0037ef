//! The wire names of the public enums (the names serde uses, which every binding shows to its
//! callers as `kind`, `stage`, ...), without a serializer: the bindings and the wasm build read
//! and write them through `name()` / `from_name()`.

/// Implements `name()`, `from_name()` and `ALL` for a field-less enum.
#[allow(unused_imports)]
use crate::prelude::*;

macro_rules! wire_names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),+];

            /// The wire name (as serialized), e.g. for a binding's `kind` property.
            pub fn name(self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $name,)+
                }
            }

            /// The value with this wire name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(<$ty>::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

wire_names!(crate::IdentityErrorKind {
    InteractionRequired => "interaction_required",
    ConsentRequired => "consent_required",
    MfaRequired => "mfa_required",
    InvalidClient => "invalid_client",
    InvalidGrant => "invalid_grant",
    Declined => "declined",
    Expired => "expired",
    Throttled => "throttled",
    BlockedByPolicy => "blocked_by_policy",
    Network => "network",
    Protocol => "protocol",
    Configuration => "configuration",
    Cancelled => "cancelled",
    Storage => "storage",
});

wire_names!(crate::MailErrorKind {
    Network => "network",
    Timeout => "timeout",
    Tls => "tls",
    Greeting => "greeting",
    StartTlsUnavailable => "starttls_unavailable",
    MechanismUnsupported => "mechanism_unsupported",
    Rejected => "rejected",
    LoginDisabled => "login_disabled",
    Temporary => "temporary",
    TokenExpired => "token_expired",
    NotConnected => "not_connected",
    Protocol => "protocol",
});

wire_names!(crate::Protocol { Imap => "imap", Smtp => "smtp", Pop3 => "pop3" });

wire_names!(crate::SaslIr { Auto => "auto", Always => "always", Never => "never" });

wire_names!(crate::Stage {
    Connect => "connect",
    Tls => "tls",
    Greeting => "greeting",
    Capabilities => "capabilities",
    StartTls => "starttls",
    Auth => "auth",
    Probe => "probe",
});

wire_names!(crate::identity::AssertionAlgorithm { Ps256 => "PS256", Rs256 => "RS256" });

wire_names!(crate::proto::Security { Tls => "tls", StartTls => "starttls", Plain => "plain" });

wire_names!(crate::cache::StoreErrorKind {
    Corrupt => "corrupt",
    Permissions => "permissions",
    Io => "io",
    LockTimeout => "lock_timeout",
    Command => "command",
    Unavailable => "unavailable",
});

wire_names!(crate::ErrorGroup {
    Configuration => "configuration",
    SignIn => "sign_in",
    MailRejected => "mail_rejected",
    Connection => "connection",
    Identity => "identity",
});

#[cfg(test)]
mod tests {
    use serde::Serialize;

    fn serde_name<T: Serialize>(v: T) -> String {
        match serde_json::to_value(v) {
            Ok(serde_json::Value::String(s)) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    macro_rules! check {
        ($ty:ty) => {
            for v in <$ty>::ALL {
                assert_eq!(v.name(), serde_name(*v), "{v:?}");
                assert_eq!(<$ty>::from_name(v.name()), Some(*v));
            }
            assert_eq!(<$ty>::from_name("no such name"), None);
        };
    }

    #[test]
    fn names_are_the_serde_names() {
        check!(crate::IdentityErrorKind);
        check!(crate::MailErrorKind);
        check!(crate::Protocol);
        check!(crate::Stage);
        check!(crate::SaslIr);
        check!(crate::identity::AssertionAlgorithm);
        check!(crate::proto::Security);
        check!(crate::cache::StoreErrorKind);
        // Every variant is listed: serde's names of all variants round-trip through from_name.
        for name in ["storage", "not_connected", "probe", "unavailable"] {
            assert!(
                crate::IdentityErrorKind::from_name(name).is_some()
                    || crate::MailErrorKind::from_name(name).is_some()
                    || crate::Stage::from_name(name).is_some()
                    || crate::cache::StoreErrorKind::from_name(name).is_some()
            );
        }
    }
}
