#!/usr/bin/env bash
# Page load to an access token from the cache, in headless Chromium (Debian's, driven by
# playwright-core, as bindings-wasm/test/browser.test.mjs does; CHROMIUM_BIN overrides
# /usr/bin/chromium): mailoauth's minified browser bundle (dist/browser/mailoauth.min.js + the
# wasm next to it) and @azure/msal-browser's lib/msal-browser.min.js (pinned dev dependency),
# side by side in one run, interleaved, from one node:http server on 127.0.0.1. Each run is a
# cold load (a new browser context: the JS and wasm are fetched, compiled and instantiated
# again) of a page that constructs the client and gets a token silently from a localStorage
# cache seeded by a setup run through each library's own API; the page reports
# performance.now() (ms since navigation start) when the token is in hand. A run fails on any
# request other than the page and its library's files, or on a token other than the seeded one.
# Prints median, p90 and min per library, a blank page as the floor, and the ratio.
# Not part of the test command; no network needed.
#
#   bash scripts/bench/page-load.sh [runs per library, default 30]   # after bindings-wasm/scripts/build.sh
set -euo pipefail
pkg="$(cd "$(dirname "$0")/../../bindings-wasm" && pwd)"
cd "$pkg"
[ -f dist/browser/mailoauth.min.js ] && [ -f dist/browser/mailoauth_wasm_bg.wasm ] \
  || { echo "no minified bundle: bash bindings-wasm/scripts/build.sh (it runs scripts/bundle.sh)" >&2; exit 1; }
[ -f node_modules/@azure/msal-browser/lib/msal-browser.min.js ] && [ -d node_modules/playwright-core ] \
  || { echo "no dev dependencies: (cd bindings-wasm && npm ci)" >&2; exit 1; }
[ -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ] || { echo "no Chromium: bash scripts/setup.d/40-wasm.sh (or set CHROMIUM_BIN)" >&2; exit 1; }
exec node ../scripts/bench/page_load.mjs "${1:-30}"
