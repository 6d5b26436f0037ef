//! The OS keyring store (feature `keyring`).

use std::path::PathBuf;

use super::file::try_lock_optional;
use super::store::{StoreError, StoreErrorKind, StoreLock, TokenStore};

/// The token cache as one secret in the OS keyring: the macOS Keychain, the Windows
/// Credential Manager, or on Linux the Secret Service (GNOME Keyring, KWallet) over D-Bus.
/// Where Linux has no Secret Service (headless machines, SSH sessions), the store falls back
/// to the kernel keyring, which forgets its contents at logout or reboot, and says so in
/// [`TokenStore::notice`]; it never falls back silently.
pub struct KeyringStore {
    entry: keyring::Entry,
    service: String,
    name: String,
    lock_path: Option<PathBuf>,
    notice: Option<String>,
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("name", &self.name)
            .field("notice", &self.notice)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, format!("OS keyring: {e}"))
}

impl KeyringStore {
    /// The secret `name` of `service` (e.g. service `mailoauth`, name `tokens`).
    pub fn new(service: &str, name: &str) -> Result<KeyringStore, StoreError> {
        let (entry, notice) = Self::open(service, name)?;
        Ok(KeyringStore { entry, service: service.to_owned(), name: name.to_owned(), lock_path: None, notice })
    }

    /// Only the kernel keyring (Linux), e.g. when the Secret Service must not be used.
    #[cfg(target_os = "linux")]
    pub fn kernel_keyring(service: &str, name: &str) -> Result<KeyringStore, StoreError> {
        let cred = keyring::keyutils::KeyutilsCredential::new_with_target(None, service, name).map_err(unavailable)?;
        Ok(KeyringStore {
            entry: keyring::Entry::new_with_credential(Box::new(cred)),
            service: service.to_owned(),
            name: name.to_owned(),
            lock_path: None,
            notice: Some(kernel_notice()),
        })
    }

    /// Serialises processes with this lock file (the keyring itself has no lock).
    pub fn with_lock_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.lock_path = Some(path.into());
        self
    }

    #[cfg(target_os = "linux")]
    fn open(service: &str, name: &str) -> Result<(keyring::Entry, Option<String>), StoreError> {
        // Prefer the Secret Service; probe it with a read.
        let why = match keyring::secret_service::SsCredential::new_with_target(None, service, name) {
            Ok(cred) => {
                let entry = keyring::Entry::new_with_credential(Box::new(cred));
                match entry.get_password() {
                    Ok(_) | Err(keyring::Error::NoEntry) => return Ok((entry, None)),
                    Err(e) => e.to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        let cred = keyring::keyutils::KeyutilsCredential::new_with_target(None, service, name).map_err(unavailable)?;
        Ok((
            keyring::Entry::new_with_credential(Box::new(cred)),
            Some(format!("{} (Secret Service unavailable: {why})", kernel_notice())),
        ))
    }

    #[cfg(not(target_os = "linux"))]
    fn open(service: &str, name: &str) -> Result<(keyring::Entry, Option<String>), StoreError> {
        Ok((keyring::Entry::new(service, name).map_err(unavailable)?, None))
    }

    /// Deletes the secret.
    pub fn delete(&self) -> Result<(), StoreError> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[cfg(target_os = "linux")]
fn kernel_notice() -> String {
    "tokens are kept in the Linux kernel keyring, which forgets them at logout or reboot; \
     for persistent storage run a Secret Service (GNOME Keyring, KWallet) or use the file or command store"
        .to_owned()
}

impl TokenStore for KeyringStore {
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        match self.entry.get_password() {
            Ok(s) => Ok(Some(s.into_bytes())),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn save(&self, data: &[u8]) -> Result<(), StoreError> {
        let text = std::str::from_utf8(data).map_err(|_| StoreError::new(StoreErrorKind::Io, "cache is not UTF-8"))?;
        match self.entry.set_password(text) {
            Ok(()) => Ok(()),
            // keyutils answers ENOKEY when the process has no session keyring (not a login
            // session: cron, systemd services, containers).
            Err(keyring::Error::NoEntry) => Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "OS keyring: no usable keyring here (no Secret Service and no kernel session keyring, as in \
                 cron jobs, services and containers); use the file or command store",
            )),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
        try_lock_optional(self.lock_path.as_deref(), None)
    }

    fn has_account_locks(&self) -> bool {
        self.lock_path.is_some()
    }

    fn try_lock_account(&self, key: &str) -> Result<Option<StoreLock>, StoreError> {
        try_lock_optional(self.lock_path.as_deref(), Some(key))
    }

    fn describe(&self) -> String {
        format!("OS keyring {}/{}", self.service, self.name)
    }

    fn notice(&self) -> Option<String> {
        self.notice.clone()
    }
}
