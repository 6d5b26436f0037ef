#!/usr/bin/env bash
# The minified browser bundle: what a page downloads to use mailoauth without a bundler of its
# own. esbuild (pinned dev dependency) bundles the browser entry js/index.js with the
# wasm-bindgen glue (dist/mailoauth_wasm.js) into one ES module, minified, kept as ESM for
# current browsers (es2022: top-level `await init()` stays). The glue finds the wasm with
# `new URL('mailoauth_wasm_bg.wasm', import.meta.url)`; esbuild keeps that expression as is
# in ESM output, so the wasm is copied next to the bundle and loads from the bundle's URL.
# Output: dist/browser/mailoauth.min.js and dist/browser/mailoauth_wasm_bg.wasm.
# Run by scripts/build.sh; can be run alone after a build.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
[ -f dist/mailoauth_wasm.js ] && [ -f dist/mailoauth_wasm_bg.wasm ] \
  || { echo "no wasm build in dist/: run bindings-wasm/scripts/build.sh first" >&2; exit 1; }
[ -x node_modules/.bin/esbuild ] || { echo "esbuild missing: run scripts/setup.d/40-wasm.sh (npm ci)" >&2; exit 1; }

out=dist/browser
rm -rf "$out"
mkdir -p "$out"
# --splitting: what js/errors.js imports on demand (dist/aadsts-hints.js, the AADSTS hint texts)
# becomes its own file, fetched only when an error carries an AADSTS code.
node_modules/.bin/esbuild js/index.js --bundle --format=esm --platform=browser --target=es2022 \
  --minify --log-level=warning --splitting --outdir="$out" --entry-names=mailoauth.min --chunk-names='[name]-[hash]'
ls "$out"/aadsts-hints-*.js >/dev/null 2>&1 || { echo "no on-demand hints chunk in $out" >&2; exit 1; }
cp dist/mailoauth_wasm_bg.wasm "$out/mailoauth_wasm_bg.wasm"

# The bundle must still locate the wasm relative to itself (an esbuild upgrade that started
# rewriting the URL, or a glue change, would break pages silently otherwise).
if ! grep -q 'new URL("mailoauth_wasm_bg.wasm",import.meta.url)' "$out/mailoauth.min.js"; then
  echo "dist/browser/mailoauth.min.js no longer loads the wasm via new URL(\"mailoauth_wasm_bg.wasm\", import.meta.url)" >&2
  exit 1
fi
ls -l "$out" >&2
