#!/usr/bin/env bash
# Builds the npm package's wasm: cargo (wasm-release profile: opt-level z, LTO, one codegen
# unit, panic = abort) -> wasm-bindgen (ESM for browsers and Node, no name/producers sections)
# -> wasm-opt -Oz (npm binaryen) -> scripts/bundle.sh (minified browser bundle, esbuild).
# Output: bindings-wasm/dist/ (dist/browser/ for the bundle). Needs scripts/setup.d/40-wasm.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"

want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "wasm-bindgen CLI $have does not match the wasm-bindgen crate $want: run scripts/setup.d/40-wasm.sh" >&2
  exit 1
fi

out="$here/dist"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
raw="$target_dir/wasm32-unknown-unknown/wasm-release/mailoauth_wasm.wasm"

# name, cargo features: the browser build, and the Node build with the mail login machines
build() {
  local name="$1"; shift
  cargo build -p mailoauth-wasm --target wasm32-unknown-unknown --profile wasm-release --locked "$@"
  wasm-bindgen "$raw" --out-dir "$tmp" --out-name "$name" --target web --remove-name-section --remove-producers-section
  "$here/node_modules/.bin/wasm-opt" -Oz "$tmp/${name}_bg.wasm" -o "$tmp/opt.wasm"
  mv "$tmp/opt.wasm" "$tmp/${name}_bg.wasm"
}
build mailoauth_wasm
build mailoauth_wasm_node --features node
if [ -d "$tmp/snippets" ]; then
  echo "unexpected wasm-bindgen snippets (use raw_module imports of js/)" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out"
cp "$tmp"/*.js "$tmp"/*.d.ts "$tmp"/*.wasm "$out"/
ls -l "$out" >&2
bash "$here/scripts/bundle.sh"
