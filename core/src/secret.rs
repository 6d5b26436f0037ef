//! Secret strings whose `Debug` never shows the value.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret value. Call this only where the value is really sent or stored.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

secret_type!(
    /// An OAuth 2.0 access (bearer) token.
    AccessToken
);

secret_type!(
    /// A refresh token.
    RefreshToken
);

secret_type!(
    /// A client secret of a confidential client.
    ClientSecret
);

secret_type!(
    /// A password (the local password a mail client gives the proxy).
    Password
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let t = AccessToken::new("eyJ0eXAi.secret.value");
        let shown = format!("{t:?}");
        assert_eq!(shown, "AccessToken([redacted])");
        assert!(!shown.contains("secret"));
        assert_eq!(t.expose_secret(), "eyJ0eXAi.secret.value");
    }
}
