#!/usr/bin/env bash
# `mailoauth proxy` side by side with email-oauth2-proxy (PyPI `emailproxy`, the proxy users run
# today) and a direct XOAUTH2 connection, in one run, against the same Dovecot (the testkit's,
# tokens checked by the emulator): time from connect to authenticated (the token cached), a
# 50 MB FETCH, a 20 MB message sent, IMAP sessions held at once and memory per session; the
# ratios at the end. Both proxies listen on loopback without local TLS and log in upstream over
# verified TLS (IMAPS; submission with STARTTLS).
# emailproxy runs for real: its configuration names the emulator's token endpoint, and its
# account section holds the access token from `mailoauth login`, encrypted the way emailproxy
# caches tokens (scripts/bench/proxy_bench.py seed), so it logs in with a cached token as it
# does after its first browser sign-in.
# Not part of the test command (about a minute, and it needs PyPI once: emailproxy into a venv).
# Usage:
#   scripts/bench/proxy.sh [LOGIN_RUNS] [SESSIONS]      (default 30 logins each, 100 sessions)
# BENCH_VENV (default target/bench-proxy-venv) and MAILOAUTH_BIN (default: cargo's release build)
# override where emailproxy and mailoauth come from.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
LOGIN_RUNS=${1:-30} SESSIONS=${2:-100}
EMAILPROXY_VERSION=2026.7.3
VENV=${BENCH_VENV:-$root/target/bench-proxy-venv}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q "emailproxy==$EMAILPROXY_VERSION"

TARGET=${CARGO_TARGET_DIR:-$root/target}
if [ -z "${MAILOAUTH_BIN:-}" ]; then cargo build -q --locked --release -p mailoauth-cli --bin mailoauth; fi
cargo build -q --locked -p mailoauth-emulator -p mailoauth-testkit --bins
MAILOAUTH=${MAILOAUTH_BIN:-$TARGET/release/mailoauth}

WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_STATE_HOME="$WORK/home/.local/state"
unset MAILOAUTH_CONFIG MAILOAUTH_STORE MAILOAUTH_STATE_DIR
mkdir -p "$HOME"
USER_ADDR=alice@contoso.example CLIENT_ID=c0ffee00-0000-4000-8000-000000000002

"$TARGET/debug/mailoauth-emulator" --auto-approve-as "$USER_ADDR" --device-code-interval 0 >"$WORK/emu.out" 2>"$WORK/emu.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$WORK/emu.out" ] && break; sleep 0.1; done
base=$(head -1 "$WORK/emu.out")
mkfifo "$WORK/ctl"
exec 3<>"$WORK/ctl"
"$TARGET/debug/mailoauth-testkit" dovecot --validator-url "$base/_emulator/introspect" <"$WORK/ctl" >"$WORK/tk.out" 2>"$WORK/tk.err" &
pids+=($!)
for _ in $(seq 300); do [ -s "$WORK/tk.out" ] && break; sleep 0.1; done
json() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1" <"$WORK/tk.out"; }
IMAPS=$(json imaps_port) SUBMISSION=$(json submission_port) CA=$(json ca_file)
export SSL_CERT_FILE="$CA"

"$MAILOAUTH" login bench --client-id "$CLIENT_ID" --authority "$base/organizations" 2>/dev/null
MI=$(free_port) MS=$(free_port) EI=$(free_port) ES=$(free_port)
{
  printf 'ca_file = "%s"\n\n' "$CA"
  printf '[accounts.bench.imap]\nhost = "localhost"\nport = %s\n\n' "$IMAPS"
  printf '[accounts.bench.smtp]\nhost = "localhost"\nport = %s\n\n' "$SUBMISSION"
  printf '[accounts.bench.proxy]\nimap = "127.0.0.1:%s"\nsmtp = "127.0.0.1:%s"\n' "$MI" "$MS"
} >>"$XDG_CONFIG_HOME/mailoauth/config.toml"
export BENCH_LOCAL_PASSWORD="bench-local-password-$RANDOM"
printf '%s\n' "$BENCH_LOCAL_PASSWORD" | "$MAILOAUTH" proxy password bench --stdin
"$MAILOAUTH" proxy >"$WORK/mailoauth-proxy.log" 2>&1 &
mailoauth_pid=$!
pids+=("$mailoauth_pid")
TOKEN=$("$MAILOAUTH" token bench)

"$VENV/bin/python" scripts/bench/proxy_bench.py seed "$WORK/emailproxy.config" "$USER_ADDR" "$TOKEN" \
  "$base/organizations/oauth2/v2.0/token" "$CLIENT_ID" "$EI" "$IMAPS" "$ES" "$SUBMISSION"
"$VENV/bin/python" -m emailproxy --no-gui --config-file "$WORK/emailproxy.config" --log-file "$WORK/emailproxy.log" \
  >"$WORK/emailproxy.out" 2>&1 &
emailproxy_pid=$!
pids+=("$emailproxy_pid")
for _ in $(seq 100); do
  grep -q ready "$WORK/mailoauth-proxy.log" && python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$EI" 2>/dev/null && break
  sleep 0.1
done

cat >"$WORK/bench.json" <<EOF
{"user": "$USER_ADDR", "password": "$BENCH_LOCAL_PASSWORD", "token": "$TOKEN", "ca": "$CA",
 "imaps": $IMAPS, "submission": $SUBMISSION,
 "mailoauth": {"imap": $MI, "smtp": $MS, "pid": $mailoauth_pid},
 "emailproxy": {"imap": $EI, "smtp": $ES, "pid": $emailproxy_pid},
 "login_runs": $LOGIN_RUNS, "sessions": $SESSIONS, "fetch_mb": 50, "send_mb": 20}
EOF
echo "mailoauth $("$MAILOAUTH" --version | awk '{print $2}') (release) vs emailproxy $EMAILPROXY_VERSION ($("$VENV/bin/python" --version)), Dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1), $(nproc) CPUs" >&2
python3 scripts/bench/proxy_bench.py bench "$WORK/bench.json" || {
  echo "--- emailproxy log" >&2; tail -n 20 "$WORK/emailproxy.log" "$WORK/emailproxy.out" >&2
  echo "--- mailoauth proxy log" >&2; tail -n 20 "$WORK/mailoauth-proxy.log" >&2
  exit 1
}
