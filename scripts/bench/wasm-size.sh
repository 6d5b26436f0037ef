#!/usr/bin/env bash
# Size of the JS package's browser bundle: what a page downloads to use mailoauth in a
# browser, i.e. the minified ES module bindings-wasm/scripts/bundle.sh makes with esbuild
# (dist/browser/mailoauth.min.js: the package's browser JS + wasm-bindgen's glue) and the
# optimized wasm next to it (dist/browser/mailoauth_wasm_bg.wasm), each raw and gzip -9, and
# their sum. Measured in the same run as @azure/msal-browser's minified bundle
# (lib/msal-browser.min.js, installed as a pinned dev dependency). The AADSTS hint texts,
# fetched only when an error carries an AADSTS code, are printed apart. The ratio and the
# 65536 B gzip budget are computed from the minified sum. For information, the unminified
# sum (the wasm + the glue + the package's browser modules, as a page without a build step
# importing js/index.js loads them) is printed too.
#
#   bash scripts/bench/wasm-size.sh         # after bindings-wasm/scripts/build.sh
set -euo pipefail
pkg="$(cd "$(dirname "$0")/../../bindings-wasm" && pwd)"
cd "$pkg"
[ -f dist/mailoauth_wasm_bg.wasm ] || { echo "build first: bash bindings-wasm/scripts/build.sh" >&2; exit 1; }
[ -f dist/browser/mailoauth.min.js ] && [ -f dist/browser/mailoauth_wasm_bg.wasm ] \
  || { echo "no minified bundle: bash bindings-wasm/scripts/bundle.sh (build.sh runs it)" >&2; exit 1; }
if ! cmp -s dist/mailoauth_wasm_bg.wasm dist/browser/mailoauth_wasm_bg.wasm; then
  echo "dist/browser/ is older than the wasm build: run bash bindings-wasm/scripts/bundle.sh" >&2
  exit 1
fi

gz() { gzip -9 -c "$1" | wc -c; }
row() { printf '%-40s %10d %10d\n' "$@"; }

printf '%-40s %10s %10s\n' file bytes gzip-9
min_files=(dist/browser/mailoauth.min.js dist/browser/mailoauth_wasm_bg.wasm)
min_raw=0; min_gz=0
for f in "${min_files[@]}"; do
  r=$(wc -c <"$f"); g=$(gz "$f")
  min_raw=$((min_raw + r)); min_gz=$((min_gz + g))
  row "$f" "$r" "$g"
done
row "mailoauth browser bundle (sum)" "$min_raw" "$min_gz"
# informational: fetched only when an error carries an AADSTS code (the hint texts)
for f in dist/browser/aadsts-hints-*.js; do
  row "(on demand) ${f#dist/browser/}" "$(wc -c <"$f")" "$(gz "$f")"
done

msal=node_modules/@azure/msal-browser/lib/msal-browser.min.js
mr=$(wc -c <"$msal"); mg=$(gz "$msal")
mv=$(node -p "require('./node_modules/@azure/msal-browser/package.json').version")
row "@azure/msal-browser $mv (min.js)" "$mr" "$mg"
awk -v a="$min_gz" -v b="$mg" 'BEGIN { printf "ratio (gzip): mailoauth / msal-browser = %.2f; budget 65536 B gzip: %s\n", a / b, (a <= 65536 ? "met" : "NOT met") }'

# informational: the same code unminified, one file per module
src_files=(dist/mailoauth_wasm_bg.wasm dist/mailoauth_wasm.js js/index.js js/wasm.js js/api.js js/errors.js js/host.js js/stores.js)
src_raw=0; src_gz=0
for f in "${src_files[@]}"; do
  src_raw=$((src_raw + $(wc -c <"$f"))); src_gz=$((src_gz + $(gz "$f")))
done
row "(info) unminified modules + wasm (sum)" "$src_raw" "$src_gz"
