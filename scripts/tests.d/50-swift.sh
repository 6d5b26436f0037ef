#!/usr/bin/env bash
# The Swift package (bindings-swift/) and its example (examples/swift/), with the real Swift
# toolchain (Swift >= 5.9; our CI machines carry 6.3.1):
#  1. build libmailoauth_ffi (debug) and the workspace's pinned uniffi-bindgen;
#  2. regenerate the Swift sources, header and module map and fail if they differ from the
#     committed ones (bindings-swift/generate.sh --check);
#  3. `swift build --build-tests` from clean, under complete strict-concurrency checking: any
#     warning in the hand-written Swift fails the run (warnings in the generated MailOAuth.swift
#     are listed);
#  4. `swift test`: every XCTest in bindings-swift/Tests/ against the identity-platform emulator
#     and a real Dovecot (mailoauth-testkit); a skipped test fails the run;
#  5. examples/swift: build it (same warning rule), then run mailoauth-example twice against the
#     emulator and Dovecot: a device-code sign-in kept in a token file and an IMAP STATUS, then
#     the same silently from the kept sign-in.
# On Linux the package links the cargo-built shared library (MAILOAUTH_FFI_LIB_DIR); on macOS
# it needs the XCFramework (bindings-swift/build-xcframework.sh), built here first.
# Run by scripts/test-all.sh (which exports MAILOAUTH_EMULATOR_BIN and MAILOAUTH_TESTKIT_BIN);
# standalone it builds those binaries itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
log() { printf '== tests 50-swift: %s\n' "$*" >&2; }
die() { printf 'tests 50-swift: %s\n' "$*" >&2; exit 1; }

command -v swift >/dev/null || die "no Swift toolchain on the PATH (scripts/setup.d/50-swift.sh says where to get one)"
target="${CARGO_TARGET_DIR:-$root/target}"
if [ -z "${MAILOAUTH_EMULATOR_BIN:-}" ] || [ -z "${MAILOAUTH_TESTKIT_BIN:-}" ]; then
  log "cargo build the emulator and the testkit"
  cargo build --locked -p mailoauth-emulator -p mailoauth-testkit --bins
  export MAILOAUTH_EMULATOR_BIN="$target/debug/mailoauth-emulator"
  export MAILOAUTH_TESTKIT_BIN="$target/debug/mailoauth-testkit"
fi

# Separate invocations: one build of both would unify uniffi's features (`cli` belongs to the
# generator only) and rebuild the library each time the other is built alone.
log "cargo build -p mailoauth-ffi; cargo build -p uniffi-bindgen"
cargo build --locked -p mailoauth-ffi
cargo build --locked -p uniffi-bindgen
case "$(uname -s)" in
  Darwin) lib="$target/debug/libmailoauth_ffi.dylib" ;;
  *) lib="$target/debug/libmailoauth_ffi.so" ;;
esac
bindgen="$target/debug/uniffi-bindgen"

log "regenerate the Swift sources and compare with the committed ones"
LIB="$lib" BINDGEN="$bindgen" bash bindings-swift/generate.sh --check

if [ "$(uname -s)" = Darwin ]; then
  log "build the XCFramework"
  bash bindings-swift/build-xcframework.sh
fi
export MAILOAUTH_FFI_LIB_DIR="$target/debug"

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# swift build from clean (so every file is compiled and every warning shown); fails on a
# warning in hand-written code. $1: package directory, $2: extra swift-build flags.
build_clean() {
  local dir=$1 start
  shift
  start=$(date +%s)
  (cd "$dir" && swift package clean && swift build "$@" 2>&1) | tee "$tmp/build.log" | grep -v '^\[' >&2 || true
  grep -q 'Build complete!' "$tmp/build.log" || die "swift build failed in $dir"
  local generated handwritten
  generated=$(grep -c 'Sources/MailOAuth/MailOAuth.swift:[0-9]*:[0-9]*: warning:' "$tmp/build.log" || true)
  handwritten=$(grep ': warning:' "$tmp/build.log" | grep -v 'Sources/MailOAuth/MailOAuth.swift:' || true)
  log "$dir: built in $(($(date +%s) - start)) s; warnings in the generated MailOAuth.swift: $generated"
  [ -z "$handwritten" ] || die "warnings in hand-written Swift ($dir):"$'\n'"$handwritten"
}

log "swift $(swift --version 2>/dev/null | head -1)"
build_clean bindings-swift --build-tests

log "swift test (emulator + Dovecot)"
start=$(date +%s)
(cd bindings-swift && swift test 2>&1) | tee "$tmp/test.log" | grep -E 'error|failed|skipped|Executed .* tests' >&2 || true
summary=$(grep -E "Test Suite 'All tests' (passed|failed)" -A1 "$tmp/test.log" | grep -E 'Executed' | tail -1 || true)
[ -n "$summary" ] || die "swift test printed no summary (did it build?)"
grep -q "Test Suite 'All tests' passed" "$tmp/test.log" || die "XCTest: $summary"
if grep -qiE 'skipped' "$tmp/test.log"; then die "XCTest skipped tests: $(grep -iE 'skipped' "$tmp/test.log" | head -5)"; fi
executed=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
log "XCTest: $executed passed, 0 failed, nothing skipped ($(($(date +%s) - start)) s)"

log "examples/swift: build"
build_clean examples/swift

log "examples/swift: mailoauth-example against the emulator and Dovecot"
"$MAILOAUTH_EMULATOR_BIN" --port 0 --device-code-interval 0 --auto-approve-as alice@contoso.example \
  >"$tmp/emulator.out" 2>"$tmp/emulator.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/emulator.out" ] && break; sleep 0.1; done
base=$(head -n1 "$tmp/emulator.out")
[[ "$base" == http://127.0.0.1:* ]] || die "the emulator did not start: $(cat "$tmp/emulator.err")"
mkfifo "$tmp/dovecot.in"
"$MAILOAUTH_TESTKIT_BIN" dovecot --validator-url "$base/_emulator/introspect" \
  <"$tmp/dovecot.in" >"$tmp/dovecot.out" 2>"$tmp/dovecot.err" &
pids+=($!)
exec 9>"$tmp/dovecot.in"   # held open: the testkit stops at EOF on stdin
for _ in $(seq 300); do [ -s "$tmp/dovecot.out" ] && break; sleep 0.1; done
info=$(head -n1 "$tmp/dovecot.out")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$info" "$1"; }
[ -n "$info" ] || die "Dovecot did not start: $(cat "$tmp/dovecot.err")"
run_example() {
  MAILOAUTH_CLIENT_ID=c0ffee00-0000-4000-8000-000000000002 MAILOAUTH_AUTHORITY="$base/organizations" \
  MAILOAUTH_TOKEN_FILE="$tmp/tokens.json" MAILOAUTH_IMAP="127.0.0.1:$(field imap_port)" \
  MAILOAUTH_SECURITY=starttls MAILOAUTH_CA_FILE="$(field ca_file)" \
    examples/swift/.build/debug/mailoauth-example
}
first=$(run_example) || die "mailoauth-example failed: $first"
printf '%s\n' "$first" | sed 's/^/   | /' >&2
grep -q '^To sign in, use a web browser' <<<"$first" || die "the first run showed no device code"
grep -q '^IMAP login OK' <<<"$first" && grep -q '^\* STATUS INBOX' <<<"$first" || die "the first run did not reach IMAP"
second=$(run_example) || die "mailoauth-example (second run) failed: $second"
grep -q '^using the sign-in kept in' <<<"$second" || die "the second run signed in again instead of using the token file"
grep -q '^\* STATUS INBOX' <<<"$second" || die "the second run did not reach IMAP"
[ "$(stat -c %a "$tmp/tokens.json")" = 600 ] || die "the token file is not mode 0600"
exec 9>&-
log "mailoauth-example: device-code sign-in + IMAP STATUS, then silent from the token file + IMAP STATUS"
