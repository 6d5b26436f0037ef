#!/usr/bin/env bash
# Generates the Swift sources, the C header and the module map of the MailOAuth package from
# libmailoauth_ffi with the workspace's pinned uniffi-bindgen (crate bindings-swift/uniffi-bindgen,
# library mode: the metadata is read from the unstripped library itself).
#
#   bindings-swift/generate.sh           write Sources/MailOAuth/MailOAuth.swift, Headers/MailOAuthFFI.h
#                                        and Headers/module.modulemap (the committed files)
#   bindings-swift/generate.sh --check   generate into a temporary directory and fail if the
#                                        committed files differ (run by scripts/tests.d/50-swift.sh)
#
# LIB=<libmailoauth_ffi.so|.dylib> and BINDGEN=<uniffi-bindgen> skip the (debug) builds. The
# output depends only on the library's interface: debug and release, Linux and macOS builds
# generate the same files (`--no-format`, so a swift-format on the PATH changes nothing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
log() { printf '== generate-swift: %s\n' "$*" >&2; }

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

target="${CARGO_TARGET_DIR:-$root/target}"
case "$(uname -s)" in
  Darwin) libname=libmailoauth_ffi.dylib ;;
  *) libname=libmailoauth_ffi.so ;;
esac
# Two cargo invocations: building both crates in one would unify uniffi's features (`cli` is
# only for the generator) and rebuild the library.
if [ -z "${LIB:-}" ]; then
  (cd "$root" && cargo build --locked -p mailoauth-ffi)
  LIB="$target/debug/$libname"
fi
if [ -z "${BINDGEN:-}" ]; then
  (cd "$root" && cargo build --locked -p uniffi-bindgen)
  BINDGEN="$target/debug/uniffi-bindgen"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Run from the crate so that library mode finds bindings-swift/uniffi.toml (module names).
(cd "$here" && "$BINDGEN" generate --no-format --metadata-no-deps --language swift --out-dir "$out/raw" "$LIB" >/dev/null)

# The package layout: the Swift module's sources, and the C module (header + module.modulemap)
# that build-xcframework.sh puts into the XCFramework.
mkdir -p "$out/pkg/Sources/MailOAuth" "$out/pkg/Headers"
cp "$out/raw/MailOAuth.swift" "$out/pkg/Sources/MailOAuth/MailOAuth.swift"
cp "$out/raw/MailOAuthFFI.h" "$out/pkg/Headers/MailOAuthFFI.h"
cp "$out/raw/MailOAuthFFI.modulemap" "$out/pkg/Headers/module.modulemap"
if grep -rn -e "$root" -e "$HOME" "$out/pkg" >/dev/null; then
  echo "generated files contain an absolute path of this machine" >&2
  exit 1
fi

files=(Sources/MailOAuth/MailOAuth.swift Headers/MailOAuthFFI.h Headers/module.modulemap)
if [ "$check" = 1 ]; then
  status=0
  for f in "${files[@]}"; do
    if ! diff -u "$here/$f" "$out/pkg/$f" >"$out/diff" 2>&1; then
      echo "bindings-swift/$f differs from a fresh generation (run bindings-swift/generate.sh and commit):" >&2
      head -n 60 "$out/diff" >&2
      status=1
    fi
  done
  # Nothing generated may be missing from, or extra in, the committed Headers/.
  if ! diff -r "$here/Headers" "$out/pkg/Headers" >/dev/null; then
    echo "bindings-swift/Headers/ does not match the generated header and module map" >&2
    status=1
  fi
  [ "$status" = 0 ] && log "committed Swift sources, header and module map match a fresh generation"
  exit "$status"
fi
for f in "${files[@]}"; do
  mkdir -p "$here/$(dirname "$f")"
  cp "$out/pkg/$f" "$here/$f"
done
log "wrote ${files[*]} (in bindings-swift/)"
