#!/usr/bin/env bash
# The JS/wasm package: build it from source (cargo wasm-release -> wasm-bindgen for the Node
# build -> wasm-opt), lint both wasm builds (browser: no std, its own C ABI; Node: wasm-bindgen), type-check the declarations, then run its Node tests (emulator,
# Dovecot, nodemailer, imapflow) and the headless-Chromium test. Needs the binaries that
# scripts/test-all.sh exports (MAILOAUTH_EMULATOR_BIN, MAILOAUTH_TESTKIT_BIN).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
: "${MAILOAUTH_EMULATOR_BIN:?run through scripts/test-all.sh (it builds and exports the emulator)}"
: "${MAILOAUTH_TESTKIT_BIN:?run through scripts/test-all.sh (it builds and exports the Dovecot harness)}"

echo "-- clippy (wasm32: the browser build, then the Node build)" >&2
cargo clippy -p mailoauth-wasm --target wasm32-unknown-unknown --locked -- -D warnings
cargo clippy -p mailoauth-wasm --target wasm32-unknown-unknown --all-features --locked -- -D warnings

echo "-- build the package" >&2
bash bindings-wasm/scripts/build.sh

cd bindings-wasm
echo "-- type declarations (tsc --noEmit)" >&2
node_modules/.bin/tsc -p test/tsconfig.json

echo "-- bundle size" >&2
bash "$root/scripts/bench/wasm-size.sh"

echo "-- node --test" >&2
node --test --test-concurrency=1 --test-timeout=120000 test/*.test.mjs
