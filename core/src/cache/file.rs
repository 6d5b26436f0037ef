//! File and command stores (native targets).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::store::{LockGuard, StoreError, StoreErrorKind, StoreLock, TokenStore};

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    let kind =
        if e.kind() == std::io::ErrorKind::PermissionDenied { StoreErrorKind::Permissions } else { StoreErrorKind::Io };
    StoreError::new(kind, format!("{what} {}: {e}", path.display()))
}

/// An exclusive advisory lock on a lock file, released on drop.
#[derive(Debug)]
struct FileLock(#[allow(dead_code)] File);

impl LockGuard for FileLock {}

/// Takes `path` (a lock file) if no other process holds it.
pub(crate) fn try_lock_file(path: &Path) -> Result<Option<StoreLock>, StoreError> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path).map_err(|e| io_err("cannot open lock file", path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(StoreLock::new(FileLock(file)))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io_err("cannot lock", path, e)),
    }
}

/// The store lock (`account: None`) or an account's lock beside it, for stores whose lock file
/// is optional (the command and keyring stores): without one, every lock is granted.
pub(crate) fn try_lock_optional(
    lock_path: Option<&Path>,
    account: Option<&str>,
) -> Result<Option<StoreLock>, StoreError> {
    match (lock_path, account) {
        (Some(p), None) => try_lock_file(p),
        (Some(p), Some(key)) => try_lock_file(&account_lock_path(p, key)),
        (None, _) => Ok(Some(StoreLock::none())),
    }
}

/// The lock file of one account's refresh beside a store's lock file: `<lock>.d/<hash>`,
/// the hash of the account key (no user name in a file name).
pub(crate) fn account_lock_path(lock_path: &Path, key: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let mut dir = lock_path.as_os_str().to_owned();
    dir.push(".d");
    PathBuf::from(dir).join(format!("{hex}.lock"))
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| io_err("cannot create directory", dir, e))
}

/// Where a write to `path` lands: when `path` is a symbolic link (a chain of them), its final
/// target, so that the link stays a link; else `path`. A target that exists but is not a
/// regular file (a directory, a device, a loop of links) is refused.
pub fn write_target(path: &Path) -> Result<PathBuf, StoreError> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p).map_err(|e| io_err("cannot read the link", &p, e))?;
                p = if to.is_absolute() { to } else { p.parent().unwrap_or_else(|| Path::new(".")).join(to) };
            }
            Ok(m) if !m.file_type().is_file() => {
                return Err(StoreError::new(
                    StoreErrorKind::Io,
                    format!("{} is not a regular file (it is where {} points)", p.display(), path.display()),
                ))
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(io_err("cannot access", &p, e)),
        }
    }
    Err(StoreError::new(StoreErrorKind::Io, format!("{}: too many levels of symbolic links", path.display())))
}

/// Writes `data` to `path` atomically and privately: a new temporary file (mode 0600, a
/// random name, never an existing file or link) beside the target, fsync, rename over the old
/// file, fsync the directory. A crash at any point leaves either the old or the new file,
/// never a mix. When `path` is a symbolic link, its target is replaced and the link kept
/// ([`write_target`]). Missing directories are created private (0700).
pub fn write_private_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let target = write_target(path)?;
    write_atomic(&target, data)
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    create_private_dir(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let rand = crate::identity::random_suffix();
    let tmp = dir.join(format!(".{name}.tmp-{}-{rand}", std::process::id()));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    remove_stale_temp_files(dir, &name);
    let result = (|| {
        let mut f = opts.open(&tmp).map_err(|e| io_err("cannot create", &tmp, e))?;
        f.write_all(data).map_err(|e| io_err("cannot write", &tmp, e))?;
        f.sync_all().map_err(|e| io_err("cannot sync", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| io_err("cannot replace", path, e))?;
        #[cfg(unix)]
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes temporary files left by writers that died mid-write (killed, crashed): on Linux
/// those whose process is gone, elsewhere those older than an hour.
fn remove_stale_temp_files(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else { continue };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let stale = if cfg!(target_os = "linux") {
            pid.is_some_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists())
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600))
        };
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The token cache in a JSON file, mode 0600, replaced atomically, with locks shared by every
/// process using it:
///
/// - the store lock (load, change, save; no network): `<file>.store-lock`, created exclusively
///   by its holder and removed on release, a protocol Node's `FileStore` implements too (see
///   `store_lock.rs`); while holding it, an `flock` on `<file>.lock` is taken as well, the store
///   lock of earlier versions, so that a CLI or binding not yet upgraded still excludes this
///   one;
/// - an account's refresh lock (held across the refresh's HTTP exchange, for one refresh per
///   expiry across processes): an `flock` on `<file>.lock.d/<hash>.lock`. Node takes none (a
///   concurrent refresh from Node costs a request; the save is a read-merge-write under the
///   store lock, so nothing is lost).
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    /// The `flock` file: earlier versions' store lock, and the base of the account locks.
    lock_path: PathBuf,
    /// The store lock shared with Node (`store_lock.rs`).
    store_lock_path: PathBuf,
}

/// The held store lock of a [`FileStore`]: the shared lock file and the `flock` of earlier
/// versions.
#[derive(Debug)]
struct FileStoreLock {
    // Dropped first: the `flock` is released before the shared lock file is removed, so that
    // a process waiting on either finds both free.
    _legacy: StoreLock,
    _shared: super::store_lock::SharedLock,
}

impl LockGuard for FileStoreLock {}

impl FileStore {
    /// A store at `path` (created on first save, with private directories).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let with = |suffix: &str| {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            PathBuf::from(p)
        };
        FileStore { lock_path: with(".lock"), store_lock_path: with(".store-lock"), path }
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl TokenStore for FileStore {
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let meta = match fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot access", &self.path, e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(StoreError::new(
                    StoreErrorKind::Permissions,
                    format!(
                        "{} holds tokens but other users can access it (mode {mode:03o}); run: chmod 600 {}",
                        self.path.display(),
                        self.path.display()
                    ),
                ));
            }
        }
        let _ = meta;
        fs::read(&self.path).map(Some).map_err(|e| io_err("cannot read", &self.path, e))
    }

    fn save(&self, data: &[u8]) -> Result<(), StoreError> {
        write_private_atomic(&self.path, data)
    }

    fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
        if let Some(dir) = self.store_lock_path.parent() {
            create_private_dir(dir)?;
        }
        let Some(shared) = super::store_lock::try_lock(&self.store_lock_path)? else { return Ok(None) };
        // Always the shared lock first, then the `flock`: earlier versions take only the
        // `flock`, never waiting for the shared lock while holding it, so there is no cycle.
        match try_lock_file(&self.lock_path)? {
            Some(legacy) => Ok(Some(StoreLock::new(FileStoreLock { _legacy: legacy, _shared: shared }))),
            None => Ok(None),
        }
    }

    fn has_account_locks(&self) -> bool {
        true
    }

    fn try_lock_account(&self, key: &str) -> Result<Option<StoreLock>, StoreError> {
        try_lock_file(&account_lock_path(&self.lock_path, key))
    }

    fn quarantine(&self) -> Result<Option<String>, StoreError> {
        // The damaged data is moved, not the link to it; the name is unique (time and a random
        // part), and the rename never replaces an earlier copy.
        let target = write_target(&self.path)?;
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut aside = target.clone().into_os_string();
        aside.push(format!(".corrupt-{ts}-{}", crate::identity::random_suffix()));
        let aside = PathBuf::from(aside);
        if aside.exists() {
            return Err(StoreError::new(StoreErrorKind::Io, format!("{} exists already", aside.display())));
        }
        fs::rename(&target, &aside).map_err(|e| io_err("cannot move aside", &target, e))?;
        Ok(Some(aside.display().to_string()))
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

/// The token cache kept by user commands, as mutt_oauth2 and oama users do: `load` prints the
/// cache on stdout (e.g. `gpg --decrypt tokens.gpg`, `pass show mail/tokens`), `save` reads it
/// on stdin (e.g. `gpg --encrypt -r me -o tokens.gpg`). Both run through `sh -c`. A lock file
/// serialises processes.
#[derive(Debug, Clone)]
pub struct CommandStore {
    load: String,
    save: String,
    lock_path: Option<PathBuf>,
}

impl CommandStore {
    /// A store run by two shell commands.
    pub fn new(load_command: impl Into<String>, save_command: impl Into<String>) -> Self {
        CommandStore { load: load_command.into(), save: save_command.into(), lock_path: None }
    }

    /// Serialises processes with this lock file.
    pub fn with_lock_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.lock_path = Some(path.into());
        self
    }
}

fn shell(cmd: &str) -> Command {
    let mut c = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C");
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c");
        c
    };
    c.arg(cmd);
    c
}

fn stderr_tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let t = text.trim();
    let start = t.char_indices().rev().nth(300).map(|(i, _)| i).unwrap_or(0);
    t[start..].to_owned()
}

impl TokenStore for CommandStore {
    fn load(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let out = shell(&self.load).stdin(Stdio::null()).output().map_err(|e| {
            StoreError::new(StoreErrorKind::Command, format!("cannot run load command {:?}: {e}", self.load))
        })?;
        if !out.status.success() {
            return Err(StoreError::new(
                StoreErrorKind::Command,
                format!("load command {:?} failed ({}): {}", self.load, out.status, stderr_tail(&out.stderr)),
            ));
        }
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        Ok(Some(out.stdout))
    }

    fn save(&self, data: &[u8]) -> Result<(), StoreError> {
        let mut child =
            shell(&self.save).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(
                |e| StoreError::new(StoreErrorKind::Command, format!("cannot run save command {:?}: {e}", self.save)),
            )?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(data).map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Command,
                    format!("save command {:?} did not take the data: {e}", self.save),
                )
            })?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| StoreError::new(StoreErrorKind::Command, format!("save command {:?}: {e}", self.save)))?;
        if !out.status.success() {
            return Err(StoreError::new(
                StoreErrorKind::Command,
                format!("save command {:?} failed ({}): {}", self.save, out.status, stderr_tail(&out.stderr)),
            ));
        }
        Ok(())
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
        format!("command {:?}", self.load)
    }
}
