#!/usr/bin/env bash
# The Swift package (bindings-swift/). There is no Swift compiler on Linux CI, so:
#  1. build libmailoauth_ffi (debug) and the workspace's pinned uniffi-bindgen;
#  2. regenerate the Swift sources, header and module map and fail if they differ from the
#     committed ones (bindings-swift/generate.sh --check);
#  3. generate UniFFI's Python bindings from the same library and run the FFI-contract suite
#     (bindings-swift/contract-tests/, pytest in a fresh venv) against the identity-platform
#     emulator and a real Dovecot.
# The XCTest sources (bindings-swift/Tests/) run on macOS with `swift test` (see the README).
# Run by scripts/test-all.sh (which exports MAILOAUTH_EMULATOR_BIN and MAILOAUTH_TESTKIT_BIN);
# standalone it builds those binaries itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
log() { printf '== tests 50-swift: %s\n' "$*" >&2; }

target="${CARGO_TARGET_DIR:-$root/target}"
if [ -z "${MAILOAUTH_EMULATOR_BIN:-}" ] || [ -z "${MAILOAUTH_TESTKIT_BIN:-}" ]; then
  log "cargo build the emulator and the testkit"
  cargo build --locked -p mailoauth-emulator -p mailoauth-testkit --bins
  export MAILOAUTH_EMULATOR_BIN="$target/debug/mailoauth-emulator"
  export MAILOAUTH_TESTKIT_BIN="$target/debug/mailoauth-testkit"
fi

# Separate invocations: one build of both would unify uniffi's features (`cli` belongs to the
# generator only) and rebuild the library each time the other is built alone.
log "cargo build -p mailoauth-ffi; cargo build -p uniffi-bindgen"
cargo build --locked -p mailoauth-ffi
cargo build --locked -p uniffi-bindgen
lib="$target/debug/libmailoauth_ffi.so"
bindgen="$target/debug/uniffi-bindgen"

log "regenerate the Swift sources and compare with the committed ones"
LIB="$lib" BINDGEN="$bindgen" bash bindings-swift/generate.sh --check

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
log "UniFFI Python bindings of the same library"
(cd bindings-swift && "$bindgen" generate --no-format --metadata-no-deps --language python --out-dir "$tmp/py" "$lib" >/dev/null)
cp "$lib" "$tmp/py/"

log "fresh venv ($(python3 --version))"
python3 -m venv "$tmp/venv"
py="$tmp/venv/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$py" -m pip install -q -r bindings-swift/contract-tests/requirements.txt

log "pytest bindings-swift/contract-tests"
export MAILOAUTH_FFI_PY_DIR="$tmp/py"
cd bindings-swift/contract-tests
"$py" -m pytest -q -p no:cacheprovider .
