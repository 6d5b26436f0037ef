#!/usr/bin/env bash
# The Python package: `pip install ./bindings-python` into a fresh venv (PEP 517: pip fetches the
# pinned maturin, which builds the release extension with the workspace's Cargo.lock, --locked,
# into $CARGO_TARGET_DIR or target/), then pytest against the emulator and a real Dovecot,
# including `mypy --strict` over the stubs, the package and a typed usage file.
# Run by scripts/test-all.sh (which exports MAILOAUTH_EMULATOR_BIN, MAILOAUTH_TESTKIT_BIN and
# MAILOAUTH_TARGET_DIR); standalone it builds those binaries itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
log() { printf '== tests 20-python: %s\n' "$*" >&2; }

target="${MAILOAUTH_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}}"
if [ -z "${MAILOAUTH_EMULATOR_BIN:-}" ] || [ ! -x "$target/debug/mailoauth" ]; then
  log "cargo build the emulator, the testkit and the CLI"
  cargo build --locked -p mailoauth-emulator -p mailoauth-testkit -p mailoauth-cli --bins
fi
export MAILOAUTH_TARGET_DIR="$target"
export MAILOAUTH_EMULATOR_BIN="${MAILOAUTH_EMULATOR_BIN:-$target/debug/mailoauth-emulator}"
export MAILOAUTH_TESTKIT_BIN="${MAILOAUTH_TESTKIT_BIN:-$target/debug/mailoauth-testkit}"
export MAILOAUTH_CLI_BIN="${MAILOAUTH_CLI_BIN:-$target/debug/mailoauth}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
log "fresh venv ($(python3 --version))"
python3 -m venv "$tmp/venv"
py="$tmp/venv/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The same pins for the isolated build environment pip makes for maturin.
export PIP_CONSTRAINT="$root/bindings-python/requirements-dev.txt"
"$py" -m pip install -q -r bindings-python/requirements-dev.txt
log "pip install ./bindings-python"
start=$(date +%s)
"$py" -m pip install ./bindings-python
log "installed in $(($(date +%s) - start)) s: $("$py" -c 'import mailoauth; print(mailoauth.__file__)')"

log "pytest"
cd bindings-python
"$py" -m pytest -q -p no:cacheprovider tests
