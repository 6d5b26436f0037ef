#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for building and testing mailoauth.
# Idempotent: only installs what is missing. Needs root (or sudo) for apt.
set -euo pipefail

log() { printf '\n== setup: %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# --- Debian packages -------------------------------------------------------------
APT_PACKAGES=(
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-submissiond   # the real mail server the tests log in to
  ca-certificates
  libdbus-1-dev pkg-config                                       # the OS keyring store (Secret Service over D-Bus)
  openssl                                                        # the command-store test encrypts with openssl enc
  curl zstd                                                      # the registry probe below; the offline kit's archives
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  # Debian starts services on install; our tests start their own Dovecot on free ports.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || { echo "dovecot is not installed" >&2; exit 1; }

# --- registries out of reach: the offline kit ---------------------------------------------
# Some build machines (our Swift CI) reach Debian's packages and PyPI but not the crates or the
# npm registry. There, and only there, ../shared/offline/install.sh (beside the checkout) provides
# every crate of Cargo.lock, every npm package of the package-lock.json files, cargo-nextest,
# wasm-bindgen and the rustup pieces. A machine that reaches both registries never uses it.
reachable() { curl -fsS --max-time 10 -o /dev/null "$1" 2>/dev/null; }
offline=()
reachable https://index.crates.io/config.json || offline+=("the crates registry (index.crates.io)")
reachable https://registry.npmjs.org/-/ping || offline+=("the npm registry (registry.npmjs.org)")
if [ "${#offline[@]}" -gt 0 ]; then
  kit="$(cd "$(dirname "$0")/.." && pwd)/../shared/offline/install.sh"
  if [ ! -f "$kit" ]; then
    printf 'out of reach: %s; and no offline kit at %s\n' "${offline[*]}" "$kit" >&2
    exit 1
  fi
  what=$(printf '%s and ' "${offline[@]}"); what=${what% and }
  log "out of reach: $what: installing the offline kit"
  bash "$kit"
fi

# --- Rust toolchain pieces ----------------------------------------------------------
if command -v rustup >/dev/null; then
  installed_components=$(rustup component list --installed 2>/dev/null || true)
  for c in rustfmt clippy; do
    grep -q "^$c" <<<"$installed_components" || { log "rustup component add $c"; rustup component add "$c"; }
  done
  rustup target list --installed | grep -q '^wasm32-unknown-unknown$' \
    || { log "rustup target add wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown; }
fi

# --- pinned cargo tools ---------------------------------------------------------------
NEXTEST_VERSION=0.9.143
if ! command -v cargo-nextest >/dev/null; then
  log "cargo install cargo-nextest $NEXTEST_VERSION"
  cargo install cargo-nextest --version "$NEXTEST_VERSION" --locked
fi
# --- per-language setup (Python, Node, ...) ----------------------------------------------
for f in "$(dirname "$0")"/setup.d/*.sh; do
  [ -e "$f" ] || continue
  log "$(basename "$f")"
  bash "$f"
done
log "done"
