#!/usr/bin/env bash
# Size of the JS package's browser bundle: what a page downloads to use mailoauth in a
# browser (the optimized wasm, wasm-bindgen's JS glue and the package's browser JS modules),
# raw and gzip -9, measured in the same run as @azure/msal-browser's minified bundle
# (lib/msal-browser.min.js, installed as a pinned dev dependency).
#
#   bash scripts/bench/wasm-size.sh         # after bindings-wasm/scripts/build.sh
set -euo pipefail
pkg="$(cd "$(dirname "$0")/../../bindings-wasm" && pwd)"
cd "$pkg"
[ -f dist/mailoauth_wasm_bg.wasm ] || { echo "build first: bash bindings-wasm/scripts/build.sh" >&2; exit 1; }

gz() { gzip -9 -c "$1" | wc -c; }
files=(dist/mailoauth_wasm_bg.wasm dist/mailoauth_wasm.js js/index.js js/wasm.js js/api.js js/errors.js js/host.js js/stores.js)
raw_total=0; gz_total=0
printf '%-32s %10s %10s\n' file bytes gzip-9
for f in "${files[@]}"; do
  r=$(wc -c <"$f"); g=$(gz "$f")
  raw_total=$((raw_total + r)); gz_total=$((gz_total + g))
  printf '%-32s %10d %10d\n' "$f" "$r" "$g"
done
printf '%-32s %10d %10d\n' "mailoauth browser bundle (sum)" "$raw_total" "$gz_total"

msal=node_modules/@azure/msal-browser/lib/msal-browser.min.js
mr=$(wc -c <"$msal"); mg=$(gz "$msal")
mv=$(node -p "require('./node_modules/@azure/msal-browser/package.json').version")
printf '%-32s %10d %10d\n' "@azure/msal-browser $mv (min.js)" "$mr" "$mg"
awk -v a="$gz_total" -v b="$mg" 'BEGIN { printf "ratio (gzip): mailoauth / msal-browser = %.2f; budget 65536 B gzip: %s\n", a / b, (a <= 65536 ? "met" : "NOT met") }'
