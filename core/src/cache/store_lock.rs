//! The store lock of a token file, shared by every process that writes it: the CLI, Python and
//! Swift (this module, through [`super::FileStore`]) and Node (`bindings-wasm/js/file-store.js`,
//! which implements the same protocol with `node:fs`). Node has no `flock`, so the protocol
//! uses only plain file operations:
//!
//! - **Take**: create `<file>.store-lock` exclusively (`O_CREAT|O_EXCL`, mode 0600; Node
//!   `openSync(p, 'wx', 0o600)`) and write the owner into it:
//!
//!   ```text
//!   mailoauth store lock
//!   pid=4242
//!   host=laptop
//!   created=1764745200123        (Unix milliseconds)
//!   nonce=Qx8fK2                 (random: tells this taking from any other)
//!   ```
//!
//! - **Held or stale**: when the file exists, its owner holds the lock unless it is stale: its
//!   host is this host and `kill(pid, 0)` says there is no such process (a crashed or killed
//!   owner; on Windows this check is skipped), or it was created more than [`STALE_AFTER`]
//!   (30 s) ago or ahead (a clock that moved). The lock covers only local file work (load,
//!   change, save: milliseconds; never a network exchange), so 30 s is far above any honest
//!   holder. A file that cannot be parsed (its owner is between create and write, or died
//!   there) is judged by its modification time alone.
//! - **Break a stale lock**: rename it to a unique name (`<file>.store-lock.stale-<pid>-<rand>`),
//!   check that what was moved is the file that was judged (same bytes, same inode), remove
//!   it, and try the exclusive create again. If the moved file is another one (a process took
//!   the lock between our look and our rename), it is put back with a hard link (which never
//!   replaces a file that appeared meanwhile) before the copy aside is removed.
//! - **Release**: the same move-check-remove, so an owner whose lock was broken as stale (it
//!   was suspended for over 30 s) never removes its successor's lock.
//!
//! The remaining race: two processes break the same stale lock, the first breaks it and takes
//! a new one, and a third process creates another lock in the instant between the second's
//! rename (which moved the first's new lock aside) and its hard link back; the first then
//! holds a lock no longer on disk while the third holds the one on disk, and a write of each
//! may overlap. It needs a dead owner or a 30-second holder plus three processes inside a few
//! microseconds; the consequence is what the lock prevents (one save of the two may overwrite
//! the other's account), never a damaged file (saves stay atomic).
//!
//! The file name cannot collide with `<file>.lock`, the `flock` file of earlier versions
//! (kept: see [`super::FileStore`]), nor with the per-account lock directory `<file>.lock.d`.
//!
//! Waiting, backing off and giving up (`lock_timeout`) stay with the cache
//! ([`super::TokenCache`]); this module only tries once.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::store::{LockGuard, StoreError, StoreErrorKind};

/// A store lock older than this is broken whoever holds it (the critical section is local
/// file work: milliseconds).
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(30);

/// The first line of every lock file.
const MAGIC: &str = "mailoauth store lock";

/// What a lock file says about its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) pid: u32,
    pub(crate) host: String,
    pub(crate) created_ms: i64,
    pub(crate) nonce: String,
}

impl Owner {
    /// This process, now.
    fn me() -> Owner {
        Owner {
            pid: std::process::id(),
            host: host_name(),
            created_ms: now_ms(),
            nonce: crate::identity::random_suffix(),
        }
    }

    pub(crate) fn to_text(&self) -> String {
        format!("{MAGIC}\npid={}\nhost={}\ncreated={}\nnonce={}\n", self.pid, self.host, self.created_ms, self.nonce)
    }

    /// The owner a lock file names, or `None` if it is incomplete or not a lock file. Every
    /// field and the final newline must be there, so that a file read while its owner is
    /// writing it is never taken for a (wrong) owner.
    pub(crate) fn parse(text: &str) -> Option<Owner> {
        if !text.ends_with('\n') {
            return None;
        }
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let (mut pid, mut host, mut created, mut nonce) = (None, None, None, None);
        for line in lines {
            match line.split_once('=')? {
                ("pid", v) => pid = v.parse().ok(),
                ("host", v) => host = Some(v.to_owned()),
                ("created", v) => created = v.parse().ok(),
                ("nonce", v) => nonce = Some(v.to_owned()),
                _ => {}
            }
        }
        Some(Owner { pid: pid?, host: host?, created_ms: created?, nonce: nonce? })
    }
}

/// Whether a lock found in place is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Its owner may be working: wait.
    Held,
    /// Break it (why, for tests and messages).
    Stale(&'static str),
}

/// The decision on a lock file found in place: `owner` is what it says (`None`: incomplete),
/// `modified_ms` its modification time, `host` this machine's name, `alive` says whether a
/// process of this host exists (`None`: cannot tell).
pub(crate) fn judge(
    owner: Option<&Owner>,
    modified_ms: Option<i64>,
    now_ms: i64,
    host: &str,
    alive: impl Fn(u32) -> Option<bool>,
) -> Verdict {
    if let Some(o) = owner {
        if o.host == host && alive(o.pid) == Some(false) {
            return Verdict::Stale("its process is gone");
        }
    }
    let bound = u64::try_from(STALE_AFTER.as_millis()).unwrap_or(u64::MAX);
    match owner.map(|o| o.created_ms).or(modified_ms) {
        Some(t) if now_ms.abs_diff(t) > bound => Verdict::Stale("it is older than 30 s"),
        _ => Verdict::Held,
    }
}

/// A held store lock: released (removed, if it is still ours) on drop.
#[derive(Debug)]
pub(crate) struct SharedLock {
    path: PathBuf,
    mine: Found,
}

impl LockGuard for SharedLock {}

impl Drop for SharedLock {
    fn drop(&mut self) {
        let _ = remove_if_same(&self.path, &self.mine);
    }
}

/// A lock file as read: its bytes and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    bytes: Vec<u8>,
    /// Device and inode (unix), to tell a file from a later one with the same bytes.
    id: Option<(u64, u64)>,
    modified_ms: Option<i64>,
}

fn file_id(meta: &fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    let kind = if e.kind() == ErrorKind::PermissionDenied { StoreErrorKind::Permissions } else { StoreErrorKind::Io };
    StoreError::new(kind, format!("{what} {}: {e}", path.display()))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// This machine's name as Node's `os.hostname()` gives it (`gethostname`, the `uname` node
/// name).
fn host_name() -> String {
    #[cfg(unix)]
    {
        rustix::system::uname().nodename().to_string_lossy().into_owned()
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_default()
    }
}

/// `kill(pid, 0)`: whether a process of this host exists (`None`: cannot tell). std has no
/// such call and the workspace forbids `unsafe`, so this is rustix's safe wrapper (rustix is
/// already in the build, through tempfile). Windows: `None` (stale locks expire by age).
fn process_alive(pid: u32) -> Option<bool> {
    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
        match rustix::process::test_kill_process(pid) {
            Ok(()) => Some(true),
            Err(rustix::io::Errno::SRCH) => Some(false),
            // EPERM: it exists, another user's.
            Err(rustix::io::Errno::PERM) => Some(true),
            Err(_) => None,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        None
    }
}

/// Reads a lock file (`None`: it is gone).
fn inspect(path: &Path) -> Result<Option<Found>, StoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("cannot read lock file", path, e)),
    };
    let meta = file.metadata().map_err(|e| io_err("cannot read lock file", path, e))?;
    let mut bytes = Vec::new();
    // A lock file is a few dozen bytes; a larger one is not ours, and its start is enough.
    file.take(4096).read_to_end(&mut bytes).map_err(|e| io_err("cannot read lock file", path, e))?;
    let modified_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok());
    Ok(Some(Found { bytes, id: file_id(&meta), modified_ms }))
}

/// Removes the lock file at `path` if it is still `expected`: moved aside under a unique name,
/// checked, removed; a different file that was moved is put back (never over a newer one).
/// Returns whether `expected` was removed.
fn remove_if_same(path: &Path, expected: &Found) -> Result<bool, StoreError> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".stale-{}-{}", std::process::id(), crate::identity::random_suffix()));
    let aside = PathBuf::from(aside);
    match fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err("cannot break the stale lock", path, e)),
    }
    let moved = inspect(&aside)?;
    let same = moved.is_some_and(|m| m.bytes == expected.bytes && m.id == expected.id);
    if !same {
        // Someone took the lock after we looked: give it back unless yet another one exists.
        let _ = fs::hard_link(&aside, path);
    }
    let _ = fs::remove_file(&aside);
    Ok(same)
}

/// Creates the lock file exclusively with `text` in it; `Ok(None)` if it exists.
fn create(path: &Path, text: &str) -> Result<Option<Found>, StoreError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(io_err("cannot create lock file", path, e)),
    };
    let written = file.write_all(text.as_bytes()).and_then(|()| file.metadata());
    match written {
        Ok(meta) => Ok(Some(Found { bytes: text.as_bytes().to_vec(), id: file_id(&meta), modified_ms: None })),
        Err(e) => {
            drop(file);
            let _ = fs::remove_file(path);
            Err(io_err("cannot write lock file", path, e))
        }
    }
}

/// Takes the store lock at `path` if no live holder has it (breaking a stale one), without
/// waiting: `Ok(None)` if it is held.
pub(crate) fn try_lock(path: &Path) -> Result<Option<SharedLock>, StoreError> {
    let text = Owner::me().to_text();
    let host = host_name();
    // A few rounds: each broken stale lock or vanished holder allows one more try.
    for _ in 0..4 {
        if let Some(mine) = create(path, &text)? {
            return Ok(Some(SharedLock { path: path.to_path_buf(), mine }));
        }
        let Some(found) = inspect(path)? else { continue };
        let owner = std::str::from_utf8(&found.bytes).ok().and_then(Owner::parse);
        match judge(owner.as_ref(), found.modified_ms, now_ms(), &host, process_alive) {
            Verdict::Held => return Ok(None),
            Verdict::Stale(_) => {
                remove_if_same(path, &found)?;
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(host: &str, pid: u32, created_ms: i64) -> Owner {
        Owner { pid, host: host.into(), created_ms, nonce: "n".into() }
    }

    const NOW: i64 = 1_764_745_200_000;

    #[test]
    fn the_lock_file_round_trips_and_partial_files_are_not_owners() {
        let o = owner("laptop", 42, NOW);
        assert_eq!(Owner::parse(&o.to_text()), Some(o.clone()));
        let text = o.to_text();
        for cut in 0..text.len() {
            // What a reader sees while the owner is writing is whole or nothing.
            assert_eq!(Owner::parse(&text[..cut]), None, "{:?}", &text[..cut]);
        }
        assert_eq!(Owner::parse(""), None);
        assert_eq!(Owner::parse("something else\npid=1\n"), None);
    }

    #[test]
    fn judged_by_its_process_on_this_host_and_by_age_everywhere() {
        let alive = |_| Some(true);
        let dead = |_| Some(false);
        let unknown = |_| None;
        let here = "laptop";
        // A live owner here, fresh: held; the same owner past the bound: stale.
        assert_eq!(judge(Some(&owner(here, 7, NOW - 1000)), None, NOW, here, alive), Verdict::Held);
        assert_eq!(
            judge(Some(&owner(here, 7, NOW - 31_000)), None, NOW, here, alive),
            Verdict::Stale("it is older than 30 s")
        );
        // A dead owner here: stale at once.
        assert_eq!(judge(Some(&owner(here, 7, NOW)), None, NOW, here, dead), Verdict::Stale("its process is gone"));
        // Another host's process cannot be checked: age only.
        assert_eq!(judge(Some(&owner("server", 7, NOW - 1000)), None, NOW, here, dead), Verdict::Held);
        assert!(matches!(judge(Some(&owner("server", 7, NOW - 31_000)), None, NOW, here, dead), Verdict::Stale(_)));
        // Cannot tell (Windows): age only.
        assert_eq!(judge(Some(&owner(here, 7, NOW - 1000)), None, NOW, here, unknown), Verdict::Held);
        // Created "in the future" by more than the bound (the clock moved back): stale.
        assert!(matches!(judge(Some(&owner(here, 7, NOW + 31_000)), None, NOW, here, alive), Verdict::Stale(_)));
        // Incomplete file: its modification time decides; none known: held.
        assert_eq!(judge(None, Some(NOW - 1000), NOW, here, alive), Verdict::Held);
        assert!(matches!(judge(None, Some(NOW - 31_000), NOW, here, alive), Verdict::Stale(_)));
        assert_eq!(judge(None, None, NOW, here, alive), Verdict::Held);
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert_eq!(process_alive(std::process::id()), Some(true));
        #[cfg(unix)]
        {
            let mut child = std::process::Command::new("true").spawn().expect("spawn true");
            let pid = child.id();
            child.wait().expect("wait");
            assert_eq!(process_alive(pid), Some(false));
        }
    }

    #[test]
    fn exclusive_released_on_drop_and_a_broken_lock_is_not_removed_by_its_old_owner() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens.json.store-lock");
        let first = try_lock(&path).expect("try").expect("free");
        assert!(try_lock(&path).expect("try").is_none(), "held by a live process (this one)");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        }
        drop(first);
        assert!(!path.exists(), "released");

        // An old lock of a live process is broken; its owner's release then leaves the new
        // owner's lock in place.
        let old = try_lock(&path).expect("try").expect("free");
        let aged = owner(&host_name(), std::process::id(), now_ms() - 60_000);
        fs::write(&path, aged.to_text()).expect("age it"); // same inode, other bytes
        let new = try_lock(&path).expect("try").expect("the old lock is broken");
        drop(old);
        assert!(path.exists(), "the successor's lock stays");
        assert!(try_lock(&path).expect("try").is_none());
        drop(new);
        assert!(!path.exists());
        let left: Vec<_> = fs::read_dir(dir.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "nothing left aside: {left:?}");
    }
}
