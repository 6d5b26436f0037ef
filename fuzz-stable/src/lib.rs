//! A mutation fuzzer for mailoauth's readers of hostile input that runs on **stable** Rust.
//!
//! Why it exists: libFuzzer needs a nightly toolchain (`cargo +nightly fuzz`) and the
//! `libfuzzer-sys` crate, and this project's machines have neither (no nightly, and the offline
//! crate kit has no `libfuzzer-sys`). The libFuzzer targets in `core/fuzz` stay, for a machine
//! that has them; this crate runs the same checks everywhere, in the test command too.
//!
//! What it is not: coverage-guided. It does not see which branches an input reached, so it
//! cannot climb towards new code the way libFuzzer does. It loads the committed seeds
//! (`core/fuzz/seeds/<target>/`, boundary values from `core/fuzz/make_seeds.py`), mutates them
//! with a seeded PRNG (bit and byte flips, inserts, deletes, duplicated ranges, splices between
//! seeds, interesting values: i64/u64 extremes, 0, -1, huge digit strings, empty, very long,
//! deep nesting, control characters, invalid UTF-8, JSON keys the readers look for; for JWTs and
//! SASL challenges also inside the base64 layer), stacks a few mutations per input, and keeps a
//! random sample of its own outputs to mutate further. Every input runs through the target's
//! check (`core/tests/support/hostile_inputs.rs`, shared with the proptest properties, the
//! corpus replay and the libFuzzer targets), under `catch_unwind`; a panicking input is saved
//! into the target's corpus directory as a new seed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use sha2::{Digest as _, Sha256};

#[path = "../../core/tests/support/hostile_inputs.rs"]
mod check;

pub mod mutate;

/// The fuzz targets, each named as its corpus directory under `core/fuzz/seeds/`.
pub const TARGETS: [&str; 9] = check::TARGETS;

/// Runs one input through `target`'s check in every variant (each clock it is checked at;
/// loopback authority or not). What a libFuzzer target calls. Panics on a broken promise.
pub fn run(target: &str, data: &[u8]) {
    check::target(target, data);
}

/// Runs one input through `target`'s check in one variant (see [`variants`]): one execution.
pub fn run_variant(target: &str, data: &[u8], variant: usize) {
    check::target_variant(target, data, variant);
}

/// How many variants (clocks, loopback or not) `target`'s check has.
pub fn variants(target: &str) -> usize {
    check::variants(target)
}

/// The committed corpora: `core/fuzz/seeds`.
pub fn default_corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/fuzz/seeds")
}

/// Reads every file of a target's corpus directory, in name order.
pub fn load_seeds(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    paths.retain(|p| p.is_file());
    paths.sort();
    paths.iter().map(std::fs::read).collect()
}

/// How long one run may go on.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Stop after this many executions.
    pub execs: u64,
    /// Stop after this much wall time, if given.
    pub time: Option<Duration>,
}

/// An input that broke its target's check.
#[derive(Clone, Debug)]
pub struct Crash {
    /// The input.
    pub input: Vec<u8>,
    /// The variant it broke in.
    pub variant: usize,
    /// The panic message (with its location).
    pub message: String,
    /// Where it was saved as a new seed, if it was.
    pub saved: Option<PathBuf>,
}

/// What one run of one target did.
#[derive(Clone, Debug)]
pub struct Report {
    /// The target's name.
    pub target: String,
    /// Inputs run (each through one variant of the check), seeds included.
    pub execs: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The slowest single execution.
    pub slowest: Duration,
    /// Length of the slowest execution's input.
    pub slowest_len: usize,
    /// Inputs that panicked (the run stops at the first).
    pub crashes: Vec<Crash>,
}

impl Report {
    /// Executions per second of wall time.
    pub fn rate(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The message of the last panic on this process (the hook keeps it instead of printing it,
/// so a crash is reported once, with its input).
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
}

/// Runs one check under `catch_unwind`; the panic message if it panicked.
fn execute(check: impl FnOnce()) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(check)) {
        Ok(()) => None,
        Err(payload) => {
            let hooked = LAST_PANIC.lock().ok().and_then(|mut l| l.take());
            Some(hooked.unwrap_or_else(|| {
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "a panic without a message".to_owned())
            }))
        }
    }
}

/// Fuzzes `target` from the seeds in `corpus_dir` (the target's directory) until the budget is
/// spent or an input panics. Every seed runs first (in every variant), then mutated inputs, one
/// variant each. A panicking input is written to `corpus_dir/crash-<sha256 prefix>` when
/// `save` is set.
pub fn fuzz(target: &str, corpus_dir: &Path, budget: Budget, prng_seed: u64, save: bool) -> std::io::Result<Report> {
    if !TARGETS.contains(&target) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("unknown target {target}")));
    }
    let check = |data: &[u8], variant| run_variant(target, data, variant);
    fuzz_with(target, variants(target), check, corpus_dir, budget, prng_seed, save)
}

/// [`fuzz`] with the check given: `variants` variants, `check(input, variant)` panics on a
/// broken promise.
fn fuzz_with(
    target: &str,
    variants: usize,
    check: impl Fn(&[u8], usize),
    corpus_dir: &Path,
    budget: Budget,
    prng_seed: u64,
    save: bool,
) -> std::io::Result<Report> {
    let seeds = load_seeds(corpus_dir)?;
    if seeds.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("no seeds in {}", corpus_dir.display())));
    }
    quiet_panics();
    let mut rng = StdRng::seed_from_u64(prng_seed);
    let mut mutator = mutate::Mutator::new(mutate::Layer::of(target), seeds.clone(), prng_seed ^ 0x5eed);
    let mut report = Report {
        target: target.to_owned(),
        execs: 0,
        elapsed: Duration::ZERO,
        slowest: Duration::ZERO,
        slowest_len: 0,
        crashes: Vec::new(),
    };
    let start = Instant::now();
    let mut replay = seeds.iter().flat_map(|s| (0..variants).map(move |v| (s.clone(), v)));
    while report.execs < budget.execs {
        // The clock is read every 256 executions (it costs as much as a small input).
        if report.execs.is_multiple_of(256) && budget.time.is_some_and(|t| start.elapsed() >= t) {
            break;
        }
        let (input, variant) = match replay.next() {
            Some(seed) => seed,
            None => (mutator.next_input(), rng.gen_range(0..variants)),
        };
        let t0 = Instant::now();
        let outcome = execute(|| check(&input, variant));
        let took = t0.elapsed();
        report.execs += 1;
        if took > report.slowest {
            report.slowest = took;
            report.slowest_len = input.len();
        }
        if let Some(message) = outcome {
            let saved = if save { Some(save_crash(corpus_dir, &input)?) } else { None };
            report.crashes.push(Crash { input, variant, message, saved });
            break;
        }
        mutator.offer(input);
    }
    report.elapsed = start.elapsed();
    let _ = std::panic::take_hook();
    Ok(report)
}

fn save_crash(dir: &Path, input: &[u8]) -> std::io::Result<PathBuf> {
    let digest = Sha256::digest(input);
    let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("crash-{name}"));
    std::fs::write(&path, input)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check that breaks on a byte no seed holds: the driver must find it by mutation, stop,
    /// report it with the panic message and save it into the corpus.
    #[test]
    fn a_panicking_input_is_caught_reported_and_saved() {
        let dir = tempfile::tempdir().expect("a temporary corpus");
        std::fs::write(dir.path().join("seed"), b"{\"a\":1}").expect("a seed");
        let check = |data: &[u8], _variant: usize| assert!(!data.contains(&b'@'), "an @ in {data:?}");
        let budget = Budget { execs: 1_000_000, time: None };
        let report = fuzz_with("test", 1, check, dir.path(), budget, 1, true).expect("a run");
        assert!(report.execs < 1_000_000, "the run did not stop at the crash");
        let [crash] = report.crashes.as_slice() else { panic!("{} crashes", report.crashes.len()) };
        assert!(crash.input.contains(&b'@'));
        assert!(crash.message.contains("an @ in"), "{}", crash.message);
        let saved = crash.saved.as_ref().expect("saved");
        assert!(
            saved.starts_with(dir.path())
                && saved.file_name().is_some_and(|n| n.to_string_lossy().starts_with("crash-"))
        );
        assert_eq!(std::fs::read(saved).expect("the saved input"), crash.input);
    }

    #[test]
    fn a_run_without_crash_spends_its_budget() {
        let dir = tempfile::tempdir().expect("a temporary corpus");
        std::fs::write(dir.path().join("seed"), b"x").expect("a seed");
        let report = fuzz_with("test", 2, |_: &[u8], _| {}, dir.path(), Budget { execs: 5000, time: None }, 1, true)
            .expect("a run");
        assert_eq!(report.execs, 5000);
        assert!(report.crashes.is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).expect("the corpus").count(), 1, "nothing saved");
    }

    #[test]
    fn every_target_has_a_corpus() {
        for target in TARGETS {
            let seeds = load_seeds(&default_corpus_root().join(target)).expect("a corpus");
            assert!(!seeds.is_empty(), "{target}");
        }
    }
}
