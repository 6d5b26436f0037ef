#!/usr/bin/env bash
# Setup for the Swift package (bindings-swift/). Linux CI has no Swift compiler: the package's
# FFI contract is tested through UniFFI's Python bindings of the same library
# (scripts/tests.d/50-swift.sh), which needs a CPython >= 3.9 with venv; pytest is pinned in
# bindings-swift/contract-tests/requirements.txt and installed into a fresh venv by the test
# script. The Rust side (uniffi 0.32.2, and the pinned uniffi-bindgen built from the workspace)
# comes through cargo and Cargo.lock. Idempotent.
set -euo pipefail
log() { printf '== setup 50-swift: %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

usable() {
  command -v python3 >/dev/null \
    && python3 -c 'import sys, venv, ensurepip, ctypes; sys.exit(sys.version_info < (3, 9))' 2>/dev/null
}
if ! usable; then
  log "apt-get install python3 python3-venv python3-pip"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip
fi
usable || { echo "python3 >= 3.9 with venv, ensurepip and ctypes is required (found: $(python3 --version 2>&1))" >&2; exit 1; }
log "$(python3 --version): UniFFI's Python bindings load libmailoauth_ffi with ctypes"
