#!/usr/bin/env bash
# Setup for the Swift package (bindings-swift/) and its example: a Swift toolchain >= 5.9 on the
# PATH (swift build, swift test, XCTest, Foundation). Debian has no package of it: install the
# release tarball from https://www.swift.org/install/linux/ (our CI machines carry Swift 6.3.1 in
# /opt/swift). The Rust side (uniffi 0.32.2, the pinned uniffi-bindgen) comes through cargo and
# Cargo.lock. Idempotent; fails when the toolchain is missing (the Swift tests are not optional).
set -euo pipefail
log() { printf '== setup 50-swift: %s\n' "$*" >&2; }

if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
  echo "Swift is in /opt/swift/usr/bin but not on the PATH: add it (export PATH=/opt/swift/usr/bin:\$PATH)" >&2
  exit 1
fi
command -v swift >/dev/null || {
  echo "no Swift toolchain (>= 5.9) on the PATH: install one from https://www.swift.org/install/linux/" >&2
  exit 1
}
version=$(swift --version 2>/dev/null | sed -nE 's/.*Swift version ([0-9]+)\.([0-9]+).*/\1 \2/p' | head -1)
read -r major minor <<<"$version"
if [ -z "${major:-}" ] || [ "$major" -lt 5 ] || { [ "$major" = 5 ] && [ "$minor" -lt 9 ]; }; then
  echo "Swift >= 5.9 is required (found: $(swift --version 2>&1 | head -1))" >&2
  exit 1
fi
log "$(swift --version 2>/dev/null | head -1)"
