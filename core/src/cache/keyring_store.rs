//! The OS keyring store (feature `keyring`).

use std::path::PathBuf;

use super::file::try_lock_optional;
use super::store::{StoreError, StoreErrorKind, StoreLock, TokenStore};

/// The token cache as one secret in the OS keyring: the macOS Keychain, the Windows
/// Credential Manager, or on Linux the Secret Service (GNOME Keyring, KWallet) over D-Bus.
/// Where Linux has no Secret Service (headless machines, SSH sessions), the store falls back
/// to the kernel keyring, which forgets its contents at logout or reboot, and says so in
/// [`TokenStore::notice`]; it never falls back silently.
///
/// A document longer than one entry may hold ([`KeyringStore::part_limit`]; the Windows
/// Credential Manager refuses secrets over 2,560 bytes of UTF-16, and one sign-in's cache is
/// over 5 KB) is split over several entries: the parts are written first under new names
/// (`<name>.part-<generation>-<i>`, same service), then the main entry gets a small manifest
/// (`mailoauth-keyring-parts/1 <generation> <count>`) in place of the document, then the parts
/// of the previous generation are removed. A reader therefore sees the old or the new
/// document, never a mix; a document written whole (by older versions, or small enough) is
/// read as before.
pub struct KeyringStore {
    entry: keyring::Entry,
    backend: Backend,
    service: String,
    name: String,
    part_limit: usize,
    lock_path: Option<PathBuf>,
    notice: Option<String>,
}

/// Which keyring the entries live in (the parts go where the main entry is).
#[derive(Clone, Copy, Debug)]
enum Backend {
    /// The platform's default store (Keychain, Credential Manager).
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    Default,
    #[cfg(target_os = "linux")]
    SecretService,
    #[cfg(target_os = "linux")]
    Kernel,
}

impl Backend {
    fn entry(self, service: &str, name: &str) -> Result<keyring::Entry, StoreError> {
        match self {
            Backend::Default => keyring::Entry::new(service, name).map_err(unavailable),
            #[cfg(target_os = "linux")]
            Backend::SecretService => Ok(keyring::Entry::new_with_credential(Box::new(
                keyring::secret_service::SsCredential::new_with_target(None, service, name).map_err(unavailable)?,
            ))),
            #[cfg(target_os = "linux")]
            Backend::Kernel => Ok(keyring::Entry::new_with_credential(Box::new(
                keyring::keyutils::KeyutilsCredential::new_with_target(None, service, name).map_err(unavailable)?,
            ))),
        }
    }

    /// The largest part (UTF-8 bytes) this keyring holds in one entry, with a margin.
    fn part_limit(self) -> usize {
        match self {
            // Credential Manager: a blob of at most 2,560 bytes (CRED_MAX_CREDENTIAL_BLOB_SIZE),
            // which the keyring crate fills with UTF-16: 1,280 code units. A UTF-8 byte count
            // bounds the UTF-16 count (no character has more UTF-16 units than UTF-8 bytes),
            // so 1,200 bytes leave 80 units of margin.
            Backend::Default if cfg!(windows) => WINDOWS_PART_LIMIT,
            // Keychain and Secret Service have no limit a cache reaches.
            Backend::Default => usize::MAX,
            #[cfg(target_os = "linux")]
            Backend::SecretService => usize::MAX,
            // keyutils "user" keys hold at most 32,767 bytes.
            #[cfg(target_os = "linux")]
            Backend::Kernel => 32_000,
        }
    }
}

/// The part size used on Windows (bytes of UTF-8, so at most as many UTF-16 units): under the
/// Credential Manager's 1,280 UTF-16 units per secret.
pub const WINDOWS_PART_LIMIT: usize = 1200;

/// What the main entry holds when the document is split.
const MANIFEST_PREFIX: &str = "mailoauth-keyring-parts/1 ";

/// `(generation, count)` of a manifest; `None` for a document stored whole.
fn parse_manifest(text: &str) -> Option<(&str, usize)> {
    let rest = text.strip_prefix(MANIFEST_PREFIX)?;
    let (generation, count) = rest.split_once(' ')?;
    Some((generation, count.trim().parse().ok()?))
}

/// `text` cut at character boundaries into pieces of at most `limit` bytes.
fn split_text(text: &str, limit: usize) -> Vec<&str> {
    let limit = limit.max(4); // one character of any width
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    parts.push(rest);
    parts
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("name", &self.name)
            .field("backend", &self.backend)
            .field("part_limit", &self.part_limit)
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
        let (backend, entry, notice) = Self::open(service, name)?;
        Ok(KeyringStore {
            entry,
            backend,
            service: service.to_owned(),
            name: name.to_owned(),
            part_limit: backend.part_limit(),
            lock_path: None,
            notice,
        })
    }

    /// Only the kernel keyring (Linux), e.g. when the Secret Service must not be used.
    #[cfg(target_os = "linux")]
    pub fn kernel_keyring(service: &str, name: &str) -> Result<KeyringStore, StoreError> {
        let backend = Backend::Kernel;
        Ok(KeyringStore {
            entry: backend.entry(service, name)?,
            backend,
            service: service.to_owned(),
            name: name.to_owned(),
            part_limit: backend.part_limit(),
            lock_path: None,
            notice: Some(kernel_notice()),
        })
    }

    /// The largest part, in bytes of UTF-8, one entry holds: a longer document is split (see
    /// [`KeyringStore`]). Set per platform ([`WINDOWS_PART_LIMIT`] on Windows, 32,000 for the
    /// Linux kernel keyring, no limit for the Keychain and the Secret Service); settable, e.g.
    /// to test the Windows split elsewhere. Values under 4 count as 4.
    pub fn with_part_limit(mut self, bytes: usize) -> Self {
        self.part_limit = bytes.max(4);
        self
    }

    /// See [`KeyringStore::with_part_limit`].
    pub fn part_limit(&self) -> usize {
        self.part_limit
    }

    /// The entry of part `i` of `generation`.
    fn part(&self, generation: &str, i: usize) -> Result<keyring::Entry, StoreError> {
        self.backend.entry(&self.service, &format!("{}.part-{generation}-{i}", self.name))
    }

    /// The main entry's text, `None` when absent.
    fn read_main(&self) -> Result<Option<String>, StoreError> {
        match self.entry.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Removes the parts a manifest names (absent ones are fine).
    fn remove_parts(&self, manifest: Option<&str>) -> Result<(), StoreError> {
        let Some((generation, count)) = manifest.and_then(parse_manifest) else { return Ok(()) };
        for i in 0..count {
            match self.part(generation, i)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }

    fn set(entry: &keyring::Entry, text: &str) -> Result<(), StoreError> {
        match entry.set_password(text) {
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

    /// Serialises processes with this lock file (the keyring itself has no lock).
    pub fn with_lock_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.lock_path = Some(path.into());
        self
    }

    #[cfg(target_os = "linux")]
    fn open(service: &str, name: &str) -> Result<(Backend, keyring::Entry, Option<String>), StoreError> {
        // Prefer the Secret Service; probe it with a read.
        let why = match Backend::SecretService.entry(service, name) {
            Ok(entry) => match entry.get_password() {
                Ok(_) | Err(keyring::Error::NoEntry) => return Ok((Backend::SecretService, entry, None)),
                Err(e) => e.to_string(),
            },
            Err(e) => e.message,
        };
        Ok((
            Backend::Kernel,
            Backend::Kernel.entry(service, name)?,
            Some(format!("{} (Secret Service unavailable: {why})", kernel_notice())),
        ))
    }

    #[cfg(not(target_os = "linux"))]
    fn open(service: &str, name: &str) -> Result<(Backend, keyring::Entry, Option<String>), StoreError> {
        Ok((Backend::Default, Backend::Default.entry(service, name)?, None))
    }

    /// Deletes the secret, every part of a split document included.
    pub fn delete(&self) -> Result<(), StoreError> {
        let main = self.read_main()?;
        self.remove_parts(main.as_deref())?;
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
        // Reads take no lock: a writer may replace the parts between our reading the manifest
        // and its parts. It writes the new parts before the new manifest, so a part missing
        // under an old manifest means a newer manifest is there: read again.
        let mut missing = None;
        for _ in 0..3 {
            let Some(main) = self.read_main()? else { return Ok(None) };
            let Some((generation, count)) = parse_manifest(&main) else { return Ok(Some(main.into_bytes())) };
            let mut doc = String::new();
            for i in 0..count {
                match self.part(generation, i)?.get_password() {
                    Ok(part) => doc.push_str(&part),
                    Err(keyring::Error::NoEntry) => {
                        missing = Some(format!("part {i} of {count} (generation {generation})"));
                        break;
                    }
                    Err(e) => return Err(unavailable(e)),
                }
            }
            if missing.is_none() {
                return Ok(Some(doc.into_bytes()));
            }
            let again = self.read_main()?;
            if again.as_deref() == Some(main.as_str()) {
                break; // the same manifest: the part is really gone
            }
            missing = None;
        }
        Err(StoreError::new(
            StoreErrorKind::Corrupt,
            format!(
                "OS keyring {}/{}: the stored cache is split and {} is missing",
                self.service,
                self.name,
                missing.unwrap_or_else(|| "a part".to_owned())
            ),
        ))
    }

    fn save(&self, data: &[u8]) -> Result<(), StoreError> {
        let text = std::str::from_utf8(data).map_err(|_| StoreError::new(StoreErrorKind::Io, "cache is not UTF-8"))?;
        let old = self.read_main()?;
        if text.len() <= self.part_limit {
            Self::set(&self.entry, text)?;
        } else {
            // New parts under new names first, then the manifest that names them: the old
            // document stays whole and readable until the manifest is replaced.
            let old_generation = old.as_deref().and_then(parse_manifest).map(|(g, _)| g.to_owned());
            let mut generation = crate::identity::random_suffix();
            while old_generation.as_deref() == Some(generation.as_str()) {
                generation = crate::identity::random_suffix();
            }
            let parts = split_text(text, self.part_limit);
            for (i, part) in parts.iter().enumerate() {
                Self::set(&self.part(&generation, i)?, part)?;
            }
            Self::set(&self.entry, &format!("{MANIFEST_PREFIX}{generation} {}", parts.len()))?;
        }
        // Then the old parts go (a failure here leaves unused entries, never a lost cache).
        self.remove_parts(old.as_deref())
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
