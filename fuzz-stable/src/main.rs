//! `mailoauth-fuzz-stable`: the stable mutation fuzzer (see the crate docs for why it exists
//! and what it is not).
//!
//! ```text
//! mailoauth-fuzz-stable [TARGET... | all] [--execs N] [--seconds S] [--seed N] [--corpus DIR] [--no-save]
//! ```
//!
//! Runs each target in turn (one thread) and prints executions, wall seconds and executions
//! per second. Exits 1 if an input broke a check (printed, and saved into the target's corpus
//! directory unless `--no-save`), 2 on a usage error.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mailoauth_fuzz_stable::{default_corpus_root, fuzz, Budget, TARGETS};

const USAGE: &str =
    "usage: mailoauth-fuzz-stable [TARGET... | all] [--execs N] [--seconds S] [--seed N] [--corpus DIR] [--no-save]
targets: token device_code jwt cache msal authority_url redirect login challenge
  --execs N     executions per target (default 1000000; seeds first, then mutations)
  --seconds S   at most S seconds of wall time per target
  --seed N      PRNG seed (default 1: runs are repeatable)
  --corpus DIR  the directory holding one corpus directory per target (default core/fuzz/seeds)
  --no-save     do not write a crashing input into the corpus";

struct Args {
    targets: Vec<String>,
    execs: u64,
    seconds: Option<f64>,
    seed: u64,
    corpus: PathBuf,
    save: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        targets: Vec::new(),
        execs: 1_000_000,
        seconds: None,
        seed: 1,
        corpus: default_corpus_root(),
        save: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--execs" => {
                args.execs = value("--execs")?.replace('_', "").parse().map_err(|e| format!("--execs: {e}"))?
            }
            "--seconds" => args.seconds = Some(value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?),
            "--seed" => args.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--corpus" => args.corpus = PathBuf::from(value("--corpus")?),
            "--no-save" => args.save = false,
            "-h" | "--help" => return Err(String::new()),
            "all" => args.targets.extend(TARGETS.map(str::to_owned)),
            t if TARGETS.contains(&t) => args.targets.push(t.to_owned()),
            other => return Err(format!("unknown argument or target {other:?}")),
        }
    }
    if args.targets.is_empty() {
        return Err("name a target, or all".to_owned());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let budget = Budget { execs: args.execs, time: args.seconds.map(Duration::from_secs_f64) };
    println!(
        "stable mutation fuzzing (not coverage-guided), PRNG seed {}, corpora {}",
        args.seed,
        args.corpus.display()
    );
    println!("{:<14} {:>12} {:>10} {:>10} {:>8} {:>12}", "target", "execs", "seconds", "exec/s", "crashes", "slowest");
    let (mut total_execs, mut total_secs, mut crashed) = (0u64, 0f64, false);
    for target in &args.targets {
        let report = match fuzz(target, &args.corpus.join(target), budget, args.seed, args.save) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{target}: {e}");
                return ExitCode::from(2);
            }
        };
        println!(
            "{:<14} {:>12} {:>10.1} {:>10.0} {:>8} {:>9.1} ms ({} bytes)",
            report.target,
            report.execs,
            report.elapsed.as_secs_f64(),
            report.rate(),
            report.crashes.len(),
            report.slowest.as_secs_f64() * 1000.0,
            report.slowest_len,
        );
        total_execs += report.execs;
        total_secs += report.elapsed.as_secs_f64();
        for crash in &report.crashes {
            crashed = true;
            let shown = String::from_utf8_lossy(&crash.input);
            let shown: String = shown.chars().take(2000).collect();
            println!("CRASH in {} (variant {}): {}", report.target, crash.variant, crash.message);
            println!("  input ({} bytes): {shown:?}", crash.input.len());
            if let Some(path) = &crash.saved {
                println!("  saved as {}", path.display());
            }
        }
    }
    println!(
        "{:<14} {total_execs:>12} {total_secs:>10.1} {:>10.0}",
        "total",
        total_execs as f64 / total_secs.max(1e-9)
    );
    if crashed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
