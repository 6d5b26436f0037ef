#!/usr/bin/env bash
# Setup for the Python package (bindings-python/): a CPython >= 3.9 with venv and pip. PyO3's
# build script needs the interpreter (also for `cargo clippy --workspace`); maturin, pytest and
# mypy are pinned in bindings-python/requirements-dev.txt and installed into a fresh venv by
# scripts/tests.d/20-python.sh, maturin from PyPI. Idempotent.
set -euo pipefail
log() { printf '== setup 20-python: %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

usable() {
  command -v python3 >/dev/null \
    && python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null
}

if ! usable; then
  log "apt-get install python3 python3-venv python3-pip"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip
fi
usable || { echo "python3 >= 3.9 with venv and ensurepip is required (found: $(python3 --version 2>&1))" >&2; exit 1; }
log "$(python3 --version) at $(command -v python3)"
