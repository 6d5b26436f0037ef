#!/usr/bin/env bash
# Setup for the JS/wasm package (bindings-wasm/): Chromium for the browser test, the
# wasm-bindgen CLI at exactly the version of the wasm-bindgen crate in Cargo.lock, and the
# npm dev dependencies (binaryen's wasm-opt, esbuild, playwright-core, nodemailer, imapflow,
# typescript) from the committed package-lock.json. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
log() { printf '== setup 40-wasm: %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Debian's Chromium (the browser test drives it with playwright-core; playwright's own
# browser download is not reachable from CI).
if ! command -v chromium >/dev/null; then
  log "apt-get install chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi

# Node >= 20 and npm (Debian 12's own nodejs is 18: too old).
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Node >= 20 is required for the JS package (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

command -v rustup >/dev/null && { rustup target list --installed | grep -q '^wasm32-unknown-unknown$' \
  || rustup target add wasm32-unknown-unknown; }

# wasm-bindgen CLI = the crate's version. Not --locked: the CLI's lockfile pins a
# webpki-roots release this registry does not serve; cargo resolves the newest compatible one.
want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$root/Cargo.lock")
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  log "cargo install wasm-bindgen-cli $want (found: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# npm dev dependencies, exactly as locked.
cd "$root/bindings-wasm"
stamp=node_modules/.mailoauth-installed-lock.json
if [ ! -x node_modules/.bin/wasm-opt ] || ! cmp -s package-lock.json "$stamp"; then
  log "npm ci (bindings-wasm)"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi

# examples/js (its `mailoauth` dependency is a link to bindings-wasm/; the test runs it)
cd "$root/examples/js"
stamp=node_modules/.mailoauth-installed-lock.json
if [ ! -d node_modules/nodemailer ] || ! cmp -s package-lock.json "$stamp"; then
  log "npm ci (examples/js)"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi
