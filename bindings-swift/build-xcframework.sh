#!/usr/bin/env bash
# Builds MailOAuthFFI.xcframework (libmailoauth_ffi.a for iOS devices, the iOS simulator and
# macOS, with Headers/MailOAuthFFI.h and Headers/module.modulemap) for Package.swift, after
# checking that the committed Swift sources match the library.
#
# Runs on macOS with Xcode (xcodebuild, lipo) and rustup; it cannot run on Linux.
#
#   ./build-xcframework.sh            release build of all five Apple targets
#   ./build-xcframework.sh --zip      also write MailOAuthFFI.xcframework.zip and print the
#                                     checksum for a remote .binaryTarget(url:checksum:)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
log() { printf '== build-xcframework: %s\n' "$*" >&2; }

zip=0
case "${1:-}" in
  --zip) zip=1 ;;
  "") ;;
  *) echo "usage: $0 [--zip]" >&2; exit 2 ;;
esac

if [ "$(uname -s)" != Darwin ]; then
  echo "build-xcframework.sh needs macOS with Xcode (xcodebuild, lipo); on Linux run scripts/tests.d/50-swift.sh" >&2
  exit 1
fi
for tool in cargo rustup xcodebuild lipo; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done

# The deployment targets of Package.swift, so the objects match the Swift side.
export IPHONEOS_DEPLOYMENT_TARGET=15.0
export MACOSX_DEPLOYMENT_TARGET=12.0

ios=aarch64-apple-ios
ios_sim=(aarch64-apple-ios-sim x86_64-apple-ios)
macos=(aarch64-apple-darwin x86_64-apple-darwin)
targets=("$ios" "${ios_sim[@]}" "${macos[@]}")
target_dir="${CARGO_TARGET_DIR:-$root/target}"

log "rustup target add ${targets[*]}"
rustup target add "${targets[@]}" >/dev/null

cd "$root"
for t in "${targets[@]}"; do
  log "cargo build --release --target $t"
  cargo build --locked --release -p mailoauth-ffi --target "$t"
done

# The committed Swift sources must describe exactly this library (library mode reads the
# metadata from the unstripped release dylib of the host).
host_dylib="$target_dir/$(uname -m | sed 's/^arm64$/aarch64/')-apple-darwin/release/libmailoauth_ffi.dylib"
log "check the generated Swift against $host_dylib"
LIB="$host_dylib" bash "$here/generate.sh" --check

out="$target_dir/xcframework"
rm -rf "$out"
mkdir -p "$out/ios-simulator" "$out/macos"
log "lipo: iOS simulator (arm64 + x86_64), macOS (arm64 + x86_64)"
lipo -create -output "$out/ios-simulator/libmailoauth_ffi.a" \
  "$target_dir/${ios_sim[0]}/release/libmailoauth_ffi.a" "$target_dir/${ios_sim[1]}/release/libmailoauth_ffi.a"
lipo -create -output "$out/macos/libmailoauth_ffi.a" \
  "$target_dir/${macos[0]}/release/libmailoauth_ffi.a" "$target_dir/${macos[1]}/release/libmailoauth_ffi.a"

xcframework="$here/MailOAuthFFI.xcframework"
rm -rf "$xcframework"
log "xcodebuild -create-xcframework"
xcodebuild -create-xcframework \
  -library "$target_dir/$ios/release/libmailoauth_ffi.a" -headers "$here/Headers" \
  -library "$out/ios-simulator/libmailoauth_ffi.a" -headers "$here/Headers" \
  -library "$out/macos/libmailoauth_ffi.a" -headers "$here/Headers" \
  -output "$xcframework"
log "wrote $xcframework"

if [ "$zip" = 1 ]; then
  (cd "$here" && rm -f MailOAuthFFI.xcframework.zip && ditto -c -k --sequesterRsrc --keepParent MailOAuthFFI.xcframework MailOAuthFFI.xcframework.zip)
  log "wrote $here/MailOAuthFFI.xcframework.zip, checksum: $(cd "$here" && swift package compute-checksum MailOAuthFFI.xcframework.zip)"
fi
