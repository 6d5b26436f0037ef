#!/usr/bin/env bash
# The one command that sets up a fresh Debian machine and runs every test of every language.
# `.ci/run` calls exactly this. Nothing is skipped: a missing tool or server is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==== %s\n' "$*" >&2; }

step "setup"
bash scripts/setup.sh

step "format"
cargo fmt --all -- --check

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "core builds for wasm32 without the network drivers"
cargo build -p mailoauth --target wasm32-unknown-unknown --no-default-features --locked

step "Rust tests (unit, transcripts, properties, Dovecot, emulator)"
cargo nextest run --workspace --all-features --locked --no-fail-fast

# The stable fuzzer (no nightly, no libFuzzer here): every target's seeds, then 20,000 mutated
# inputs each, a few seconds in all; a crash fails the run (the input is printed and saved
# under core/fuzz/seeds/<target>/). Long runs: core/README.md, "Fuzzing".
step "stable fuzzing, a short pass of every target"
cargo run --profile fuzz --locked -p mailoauth-fuzz-stable -- all --execs 20000

step "doc tests"
cargo test --workspace --all-features --doc --locked

# Binaries the other languages' tests drive (the emulator, the Dovecot harness, the CLI).
step "build the test binaries"
cargo build --workspace --bins --all-features --locked
export MAILOAUTH_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export MAILOAUTH_EMULATOR_BIN="$MAILOAUTH_TARGET_DIR/debug/mailoauth-emulator"
export MAILOAUTH_TESTKIT_BIN="$MAILOAUTH_TARGET_DIR/debug/mailoauth-testkit"
export MAILOAUTH_CLI_BIN="$MAILOAUTH_TARGET_DIR/debug/mailoauth"

# Each language adds its suite as scripts/tests.d/NN-name.sh (run in order; any failure fails the run).
for f in scripts/tests.d/*.sh; do
  [ -e "$f" ] || continue
  step "$(basename "$f")"
  bash "$f"
done

step "all tests passed"
