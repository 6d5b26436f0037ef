#!/usr/bin/env bash
# Whole-process wall time of `mailoauth token` with a valid cached token, side by side in one
# run with an MSAL Python script and a stdlib Python script (mutt_oauth2.py style) doing the
# same job: print a still-valid access token for a mail client's passwordeval / PassCmd.
# Not part of the test command. Needs PyPI once (msal into a venv). Usage:
#   scripts/bench/cli-token.sh [RUNS]        (default 200 runs of each, interleaved)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-200}
WORK=$(mktemp -d)
trap 'kill "${EMU_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

MSAL_VERSION=1.39.0
VENV=${BENCH_VENV:-$PWD/target/bench-venv}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q "msal==$MSAL_VERSION" certifi

cargo build -q --release -p mailoauth-cli -p mailoauth-emulator
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
MAILOAUTH="$TARGET/release/mailoauth"

# One emulator over HTTPS (MSAL refuses http:// authorities), devices approved at once.
"$TARGET/release/mailoauth-emulator" --https --ca-out "$WORK/ca.pem" --device-code-interval 0 \
  --auto-approve-as alice@contoso.example > "$WORK/url" 2>"$WORK/emu.log" &
EMU_PID=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.05; done
URL=$(head -1 "$WORK/url")
cat "$("$VENV/bin/python" -c 'import certifi; print(certifi.where())')" "$WORK/ca.pem" > "$WORK/bundle.pem"
echo "emulator: $URL" >&2

# mailoauth: sign in once (device code, auto-approved), in a private HOME.
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_STATE_HOME="$WORK/home/.local/state"
unset MAILOAUTH_CONFIG MAILOAUTH_STORE MAILOAUTH_STATE_DIR
"$MAILOAUTH" login bench --client-id c0ffee00-0000-4000-8000-000000000002 \
  --authority "$URL/organizations" --ca-file "$WORK/ca.pem" 2>/dev/null

# MSAL Python and stdlib Python: sign in once the same way, keep their caches in files.
REQUESTS_CA_BUNDLE="$WORK/bundle.pem" "$VENV/bin/python" scripts/bench/cli_token_peers.py setup "$URL" "$WORK"

REQUESTS_CA_BUNDLE="$WORK/bundle.pem" python3 scripts/bench/cli_token_peers.py bench "$URL" "$WORK" "$RUNS" \
  "$MAILOAUTH token bench" \
  "$VENV/bin/python scripts/bench/cli_token_peers.py msal $URL $WORK" \
  "python3 scripts/bench/cli_token_peers.py stdlib $URL $WORK"
