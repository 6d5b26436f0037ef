#!/usr/bin/env bash
# Every mail-client recipe of cli/README.md, run for real: Debian 12's own clients (installed by
# scripts/setup.d/30-mail-clients.sh) with the configuration text extracted from the README by
# its `<!-- recipe: NAME -->` marker (only host, port, user and CA file substituted), a token
# from `mailoauth login` against the emulator, and a real Dovecot 2.3 from the testkit whose
# submission relays to an SMTP sink. Then the failure paths: signed out, a token the server
# refuses, a revoked sign-in. A missing client fails the run; nothing is skipped.
# Run by scripts/test-all.sh (which exports MAILOAUTH_EMULATOR_BIN, MAILOAUTH_TESTKIT_BIN and
# MAILOAUTH_TARGET_DIR); standalone it builds those binaries itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
started=$(date +%s)
log() { printf '== tests 30-mail-clients [%3d s]: %s\n' "$(($(date +%s) - started))" "$*" >&2; }
fail() { printf 'FAIL 30-mail-clients: %s\n' "$*" >&2; exit 1; }

target="${MAILOAUTH_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}}"
if [ -z "${MAILOAUTH_EMULATOR_BIN:-}" ] || [ ! -x "$target/debug/mailoauth" ]; then
  log "cargo build the emulator, the testkit and the CLI"
  cargo build --locked -p mailoauth-emulator -p mailoauth-testkit -p mailoauth-cli --bins
fi
emulator_bin="${MAILOAUTH_EMULATOR_BIN:-$target/debug/mailoauth-emulator}"
testkit_bin="${MAILOAUTH_TESTKIT_BIN:-$target/debug/mailoauth-testkit}"
cli_bin="$target/debug/mailoauth"

for c in msmtp git mbsync neomutt mutt aerc offlineimap getmail fetchmail curl s-nail tmux python3; do
  command -v "$c" >/dev/null || fail "$c is not installed (scripts/setup.d/30-mail-clients.sh installs it)"
done

tmp="$(mktemp -d)"
emu_pid="" tk_pid=""
cleanup() {
  tmux -S "$tmp/tmux.sock" kill-server 2>/dev/null || true
  # (a killed process's status would end this function under set -e: hence the `|| true`s)
  for p in ${proxy_pid:-} ${proxy3_pid:-} ${silent_pid:-} $tk_pid $emu_pid; do
    { kill "$p" && wait "$p"; } 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# A private HOME: the clients read their configuration from it, mailoauth keeps its files there.
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_STATE_HOME="$tmp/home/.local/state"
export XDG_RUNTIME_DIR="$tmp/run" MAILRC="$tmp/home/.mailrc"
unset MAILOAUTH_CONFIG MAILOAUTH_STORE MAILOAUTH_STATE_DIR MAILOAUTH_CLIENT_ID DISPLAY WAYLAND_DISPLAY
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$tmp/bin" && mkdir -m 700 "$XDG_RUNTIME_DIR"
ln -s "$cli_bin" "$tmp/bin/mailoauth"
export PATH="$tmp/bin:$PATH"
USER_ADDR="alice@contoso.example"

# ---- servers -----------------------------------------------------------------------------
"$emulator_bin" --auto-approve-as "$USER_ADDR" --device-code-interval 0 >"$tmp/emu.out" 2>"$tmp/emu.err" &
emu_pid=$!
for _ in $(seq 100); do [ -s "$tmp/emu.out" ] && break; sleep 0.1; done
base="$(head -1 "$tmp/emu.out")"
[ -n "$base" ] || fail "the emulator did not start: $(cat "$tmp/emu.err")"

mkfifo "$tmp/ctl"
exec 3<>"$tmp/ctl"  # held open read-write: the testkit's stdin stays open until we exit
"$testkit_bin" dovecot --validator-url "$base/_emulator/introspect" <"$tmp/ctl" >"$tmp/tk.out" 2>"$tmp/tk.err" &
tk_pid=$!
for _ in $(seq 300); do [ -s "$tmp/tk.out" ] && break; sleep 0.1; done
[ -s "$tmp/tk.out" ] || fail "the testkit did not start: $(cat "$tmp/tk.err")"
json() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1" <"$tmp/tk.out"; }
IMAPS=$(json imaps_port) POP3S=$(json pop3s_port) SUBMISSION=$(json submission_port) CA=$(json ca_file)
HOST=localhost
log "emulator $base, Dovecot imaps $IMAPS pop3s $POP3S submission $SUBMISSION"

# One control command to the testkit; prints its JSON answer.
ctl() {
  local n; n=$(wc -l <"$tmp/tk.out")
  echo "$*" >&3
  for _ in $(seq 100); do [ "$(wc -l <"$tmp/tk.out")" -gt "$n" ] && break; sleep 0.05; done
  tail -1 "$tmp/tk.out"
}
# The subjects of the messages that reached the sink, one a line.
sink_subjects() {
  ctl messages | python3 -c '
import json, sys
for m in json.load(sys.stdin)["messages"]:
    for line in m["data"].splitlines():
        if line.lower().startswith("subject:"):
            print(line.split(":", 1)[1].strip())'
}
expect_sent() {  # CLIENT SUBJECT
  sink_subjects >"$tmp/subjects"
  grep -qxF "$2" "$tmp/subjects" || fail "$1: \"$2\" did not reach the SMTP sink (it has: $(sink_subjects | tr '\n' ';'))"
  log "ok $1: \"$2\" reached the sink"
}
emu_post() {  # PATH JSON
  curl -sS -f -X POST -H 'Content-Type: application/json' -d "$2" "$base$1" >/dev/null
}

# ---- recipes -----------------------------------------------------------------------------
# The fenced block after `<!-- recipe: NAME -->` in cli/README.md, with the README's host,
# ports, user and system CA file replaced by the test server's.
recipe() {
  local text
  text="$(awk -v m="<!-- recipe: $1 -->" '
    $0 == m { found = 1; next }
    found == 1 && /^```/ { found = 2; next }
    found == 2 && /^```/ { exit }
    found == 2 { print }' cli/README.md)"
  [ -n "$text" ] || fail "cli/README.md has no recipe \"$1\""
  printf '%s\n' "$text" | sed \
    -e "s/outlook\.office365\.com/$HOST/g; s/smtp\.office365\.com/$HOST/g" \
    -e "s/\b993\b/$IMAPS/g; s/\b995\b/$POP3S/g; s/\b587\b/$SUBMISSION/g" \
    -e "s/alice@contoso\.com/$USER_ADDR/g; s/alice%40contoso\.com/alice%40contoso.example/g" \
    -e "s|/etc/ssl/certs/ca-certificates\.crt|$CA|g"
}
# Clients that read the system trust store (Go, OpenSSL, curl) get the test CA this way.
export SSL_CERT_FILE="$CA" CURL_CA_BUNDLE="$CA"

message() {  # SUBJECT: an RFC 5322 message on stdout
  printf 'From: %s\r\nTo: bob@example.org\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@example.org>\r\n\r\nbody of %s\r\n' \
    "$USER_ADDR" "$1" "$(date -R)" "$(echo "$1" | tr ' ' '-')" "$1"
}
# Puts a message in INBOX (Python's imaplib, not a client under test).
seed() {
  python3 - "$IMAPS" "$CA" "$USER_ADDR" "$1" <<'PY'
import imaplib, ssl, subprocess, sys, time
port, ca, user, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
tok = subprocess.check_output(["mailoauth", "token", "work"], text=True).strip()
m = imaplib.IMAP4_SSL("localhost", port, ssl_context=ssl.create_default_context(cafile=ca))
m.authenticate("XOAUTH2", lambda _: f"user={user}\x01auth=Bearer {tok}\x01\x01".encode())
msg = f"From: bob@example.org\r\nTo: {user}\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '-')}@example.org>\r\n\r\nbody of {subject}\r\n"
m.append("INBOX", None, imaplib.Time2Internaldate(time.time()), msg.encode())
m.logout()
PY
}

# A full-screen client in a tmux pane; waits until the pane shows TEXT.
tmux_run() {  # NAME COMMAND
  tmux -S "$tmp/tmux.sock" new-session -d -s "$1" -x 160 -y 40 \
    -e "HOME=$HOME" -e "XDG_CONFIG_HOME=$XDG_CONFIG_HOME" -e "XDG_STATE_HOME=$XDG_STATE_HOME" \
    -e "XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR" -e "PATH=$PATH" -e "SSL_CERT_FILE=$CA" "$2; sleep 600"
}
tmux_wait() {  # NAME TEXT SECONDS
  for _ in $(seq $(($3 * 5))); do
    tmux -S "$tmp/tmux.sock" capture-pane -p -t "$1" | grep -qF "$2" && return 0
    sleep 0.2
  done
  fail "$1: the screen never showed \"$2\": $(tmux -S "$tmp/tmux.sock" capture-pane -p -t "$1" | grep -v '^$')"
}
tmux_keys() { tmux -S "$tmp/tmux.sock" send-keys -t "$@"; }
tmux_kill() { tmux -S "$tmp/tmux.sock" kill-session -t "$1"; }

# ---- sign in once ------------------------------------------------------------------------
mailoauth login work --client-id c0ffee00-0000-4000-8000-000000000002 --authority "$base/organizations" \
  2>"$tmp/login.err" || fail "mailoauth login: $(cat "$tmp/login.err")"
seed "seeded for the readers"
log "signed in as $USER_ADDR; INBOX has one message"

# ---- msmtp and git send-email ------------------------------------------------------------
recipe msmtp >"$HOME/.msmtprc"
chmod 600 "$HOME/.msmtprc"
message "sent by msmtp" | msmtp -a work bob@example.org || fail "msmtp did not send"
expect_sent msmtp "sent by msmtp"

eval "$(recipe git-send-email)"
git init -q "$tmp/repo"
git -C "$tmp/repo" config user.name Alice && git -C "$tmp/repo" config user.email "$USER_ADDR"
echo change >"$tmp/repo/file"
git -C "$tmp/repo" add file
git -C "$tmp/repo" commit -q -m "patch sent by git send-email"
git -C "$tmp/repo" send-email --quiet --confirm=never --from="$USER_ADDR" --to=bob@example.org -1 >"$tmp/git.out" 2>&1 \
  || fail "git send-email: $(cat "$tmp/git.out")"
expect_sent "git send-email" "[PATCH] patch sent by git send-email"

# ---- mbsync ------------------------------------------------------------------------------
recipe mbsync >"$HOME/.mbsyncrc"
mkdir -p "$HOME/Mail/work"
mbsync work >"$tmp/mbsync.out" 2>&1 || fail "mbsync: $(cat "$tmp/mbsync.out")"
grep -rlq "Subject: seeded for the readers" "$HOME/Mail/work/INBOX" || fail "mbsync: INBOX not synced"
if grep -q "eyJ" "$tmp/mbsync.out"; then fail "mbsync (with Debian's SASL plugin) printed a token"; fi
log "ok mbsync: INBOX synced to ~/Mail/work/INBOX"

# ---- neomutt and mutt --------------------------------------------------------------------
mkdir -p "$XDG_CONFIG_HOME/neomutt"
recipe neomutt >"$XDG_CONFIG_HOME/neomutt/neomuttrc"
tmux_run neomutt "neomutt -n -F $XDG_CONFIG_HOME/neomutt/neomuttrc"
tmux_wait neomutt "seeded for the readers" 20
tmux_kill neomutt
log "ok neomutt: INBOX over IMAP shows the message"
# neomutt's SMTP puts the response on the AUTH line: Dovecot's submission refuses it, as the README says.
if echo body | neomutt -n -F "$XDG_CONFIG_HOME/neomutt/neomuttrc" -s "neomutt over smtp_url" bob@example.org >"$tmp/neomutt.out" 2>&1; then
  fail "neomutt sent over smtp_url; the README says Dovecot refuses its AUTH line"
fi
grep -q "Line too long" "$tmp/neomutt.out" || fail "neomutt over smtp_url: $(cat "$tmp/neomutt.out")"
log "ok neomutt: its AUTH line is refused by Dovecot (500 5.5.2 Line too long), as documented"
recipe neomutt-msmtp >>"$XDG_CONFIG_HOME/neomutt/neomuttrc"
echo body | neomutt -n -F "$XDG_CONFIG_HOME/neomutt/neomuttrc" -s "sent by neomutt via msmtp" bob@example.org \
  >"$tmp/neomutt.out" 2>&1 || fail "neomutt via msmtp: $(cat "$tmp/neomutt.out")"
expect_sent neomutt "sent by neomutt via msmtp"

recipe mutt >"$HOME/.muttrc"
tmux_run mutt "mutt -n -F $HOME/.muttrc"
tmux_wait mutt "seeded for the readers" 20
tmux_kill mutt
log "ok mutt: INBOX over IMAP shows the message"
echo body | mutt -n -F "$HOME/.muttrc" -s "sent by mutt over SMTP" bob@example.org >"$tmp/mutt.out" 2>&1 \
  || fail "mutt: $(cat "$tmp/mutt.out")"
expect_sent mutt "sent by mutt over SMTP"

# ---- aerc --------------------------------------------------------------------------------
mkdir -p "$XDG_CONFIG_HOME/aerc"
printf '[compose]\neditor = true\n' >"$XDG_CONFIG_HOME/aerc/aerc.conf"  # the test's, not a recipe
recipe aerc >"$XDG_CONFIG_HOME/aerc/accounts.conf.full"
{ grep -v -E '^(outgoing|outgoing-cred-cmd|smtp-starttls) ' "$XDG_CONFIG_HOME/aerc/accounts.conf.full"; recipe aerc-msmtp; } \
  >"$XDG_CONFIG_HOME/aerc/accounts.conf"
chmod 600 "$XDG_CONFIG_HOME/aerc/accounts.conf"
grep -q '^outgoing  *= smtp+xoauth2://' "$XDG_CONFIG_HOME/aerc/accounts.conf.full" || fail "aerc recipe has no SMTP outgoing"
tmux_run aerc "aerc"
tmux_wait aerc "seeded for the readers" 20
log "ok aerc: INBOX over IMAP shows the message"
tmux_keys aerc ':compose -H "To: bob@example.org" -H "Subject: sent by aerc via msmtp"' Enter
tmux_wait aerc "Send this email?" 10
tmux_keys aerc y
for _ in $(seq 50); do sink_subjects | grep -qxF "sent by aerc via msmtp" && break; sleep 0.2; done
expect_sent aerc "sent by aerc via msmtp"
tmux_kill aerc

# ---- offlineimap, getmail6 ---------------------------------------------------------------
recipe offlineimap >"$HOME/.offlineimaprc"
recipe offlineimap-py >"$HOME/.offlineimap.py"
offlineimap -o -u basic >"$tmp/offlineimap.out" 2>&1 || fail "offlineimap: $(cat "$tmp/offlineimap.out")"
grep -rlq "Subject: seeded for the readers" "$HOME/Mail/work-offlineimap/INBOX" || fail "offlineimap: INBOX not synced"
log "ok offlineimap: INBOX synced"

mkdir -p "$HOME/.getmail"
recipe getmail6 >"$HOME/.getmail/getmailrc"
mkdir -p "$HOME/Maildir/cur" "$HOME/Maildir/new" "$HOME/Maildir/tmp"
if [ "$(id -u)" = 0 ]; then
  # getmail refuses to deliver as root: as root (CI), deliver as nobody into a Maildir it may write.
  chmod 755 "$tmp" "$HOME" && chown -R nobody "$HOME/Maildir"
  sed -i 's/^\[destination\]$/[destination]\nuser = nobody/' "$HOME/.getmail/getmailrc"
fi
getmail >"$tmp/getmail.out" 2>&1 || fail "getmail: $(cat "$tmp/getmail.out")"
grep -rlq "Subject: seeded for the readers" "$HOME/Maildir/new" || fail "getmail: nothing retrieved: $(cat "$tmp/getmail.out")"
log "ok getmail6: retrieved over IMAP"

# ---- curl --------------------------------------------------------------------------------
mkdir -p "$tmp/curl" && message "sent by curl" >"$tmp/curl/message.eml"
mapfile -t curl_lines < <(recipe curl)
[ "${#curl_lines[@]}" = 3 ] || fail "the curl recipe has ${#curl_lines[@]} commands, not 3"
(cd "$tmp/curl" && bash -c "${curl_lines[0]}") >"$tmp/curl.imap" || fail "curl over IMAP failed"
grep -q "Subject: seeded for the readers" "$tmp/curl.imap" || fail "curl IMAP: $(cat "$tmp/curl.imap")"
log "ok curl: message 1 of INBOX over IMAP"
(cd "$tmp/curl" && bash -c "${curl_lines[1]}") >"$tmp/curl.pop" || fail "curl over POP3 failed"
grep -q "Subject: seeded for the readers" "$tmp/curl.pop" || fail "curl POP3: $(cat "$tmp/curl.pop")"
log "ok curl: message 1 over POP3"
(cd "$tmp/curl" && bash -c "${curl_lines[2]}") || fail "curl over SMTP failed"
expect_sent curl "sent by curl"

# ---- s-nail ------------------------------------------------------------------------------
recipe s-nail >"$MAILRC"
snail_read() {  # URL: the header summary of the mailbox, in batch mode
  printf 'File %s\nheaders\n' "$1" | s-nail -# -:u -N -S DEAD="$tmp/dead.letter" 2>&1
}
snail_read "imaps://alice%40contoso.example@$HOST:$IMAPS/INBOX" >"$tmp/snail.imap"
grep -q "seeded for the readers" "$tmp/snail.imap" || fail "s-nail IMAP: $(cat "$tmp/snail.imap")"
log "ok s-nail: INBOX over IMAP"
snail_read "pop3s://alice%40contoso.example@$HOST:$POP3S" >"$tmp/snail.pop"
grep -q "seeded for the readers" "$tmp/snail.pop" || fail "s-nail POP3: $(cat "$tmp/snail.pop")"
log "ok s-nail: over POP3"
# As root s-nail replaces $HOME by root's home for itself and msmtp: point msmtp at the test's rc.
snail_send=()
if [ "$(id -u)" = 0 ]; then snail_send=(-S "mta-arguments=-C $HOME/.msmtprc -a work"); fi
echo body | s-nail -:u -S DEAD="$tmp/dead.letter" "${snail_send[@]}" -s "sent by s-nail via msmtp" -r "$USER_ADDR" bob@example.org \
  || fail "s-nail did not send"
expect_sent s-nail "sent by s-nail via msmtp"

# ---- fetchmail 6.4: no XOAUTH2, as the README says ---------------------------------------
printf 'poll %s protocol imap port %s auth xoauth2 user "%s" password "x" ssl\n' "$HOST" "$IMAPS" "$USER_ADDR" >"$tmp/fetchmailrc"
chmod 600 "$tmp/fetchmailrc"
if fetchmail -f "$tmp/fetchmailrc" --nodetach -c >"$tmp/fetchmail.out" 2>&1; then fail "fetchmail accepted auth xoauth2"; fi
grep -q "syntax error at xoauth2" "$tmp/fetchmail.out" || fail "fetchmail: $(cat "$tmp/fetchmail.out")"
log "ok fetchmail $(fetchmail --version 2>/dev/null | head -1 | awk '{print $5}' | cut -d+ -f1): no XOAUTH2, as documented"

# ---- failure paths -----------------------------------------------------------------------
# 1. A token the server refuses while mailoauth still has it cached: the client fails,
#    `mailoauth token --refresh` gets a new one, and the same client then works.
emu_post /_emulator/expire-access-tokens "{\"username\": \"$USER_ADDR\"}"
if message "refused" | msmtp -a work bob@example.org >"$tmp/msmtp.err" 2>&1; then fail "msmtp sent with a refused token"; fi
grep -qi "authentication failed\|535" "$tmp/msmtp.err" || fail "msmtp with a refused token: $(cat "$tmp/msmtp.err")"
# mbsync (Debian's SASL plugin) does not answer Dovecot's error challenge and waits until the
# server gives up (3 minutes, "Disconnected for inactivity"), as the README says: cut it short.
if timeout 8 mbsync work >"$tmp/mbsync.err" 2>&1; then fail "mbsync synced with a refused token"; fi
mailoauth token work --refresh >/dev/null || fail "mailoauth token --refresh"
message "sent after --refresh" | msmtp -a work bob@example.org || fail "msmtp after --refresh"
expect_sent "msmtp (refused token, then --refresh)" "sent after --refresh"
mbsync work >/dev/null 2>&1 || fail "mbsync after --refresh"
log "ok refused token: msmtp and mbsync fail, work again after mailoauth token --refresh"

# 2. Signed out: the clients show mailoauth's "sign in again" line.
cp -a "$XDG_STATE_HOME/mailoauth" "$tmp/state-backup"
mailoauth logout work 2>/dev/null
if message "signed out" | msmtp -a work bob@example.org >"$tmp/out.err" 2>&1; then fail "msmtp sent while signed out"; fi
grep -qF "mailoauth login work" "$tmp/out.err" || fail "msmtp signed out: $(cat "$tmp/out.err")"
if mbsync work >"$tmp/out.err" 2>&1; then fail "mbsync synced while signed out"; fi
grep -qF "mailoauth login work" "$tmp/out.err" || fail "mbsync signed out: $(cat "$tmp/out.err")"
if (cd "$tmp/curl" && bash -c "${curl_lines[0]}") >/dev/null 2>"$tmp/out.err"; then fail "curl read while signed out"; fi
grep -qF "mailoauth login work" "$tmp/out.err" || fail "curl signed out: $(cat "$tmp/out.err")"
if offlineimap -o -u basic >"$tmp/out.err" 2>&1; then fail "offlineimap synced while signed out"; fi
grep -qF "mailoauth login work" "$tmp/out.err" || fail "offlineimap signed out: $(cat "$tmp/out.err")"
log "ok signed out: msmtp, mbsync, curl and offlineimap show \"Sign in again: mailoauth login work\""
rm -rf "$XDG_STATE_HOME/mailoauth" && cp -a "$tmp/state-backup" "$XDG_STATE_HOME/mailoauth"

# 3. The sign-in revoked (password changed): the cached token is refused, --refresh says to
#    sign in again (exit 2), and after `mailoauth login` the client works again.
emu_post /_emulator/revoke "{\"username\": \"$USER_ADDR\"}"
if message "revoked" | msmtp -a work bob@example.org >/dev/null 2>&1; then fail "msmtp sent with a revoked token"; fi
set +e
mailoauth token work --refresh >"$tmp/refresh.out" 2>"$tmp/refresh.err"
code=$?
set -e
[ "$code" = 2 ] || fail "token --refresh after revocation: exit $code, not 2: $(cat "$tmp/refresh.err")"
[ ! -s "$tmp/refresh.out" ] || fail "token --refresh after revocation printed a token"
grep -qF "Sign in again: mailoauth login work" "$tmp/refresh.err" || fail "token --refresh: $(cat "$tmp/refresh.err")"
mailoauth login work 2>/dev/null || fail "mailoauth login again"
message "sent after signing in again" | msmtp -a work bob@example.org || fail "msmtp after signing in again"
expect_sent "msmtp (revoked, signed in again)" "sent after signing in again"

# ---- mailoauth proxy: clients that only know passwords -------------------------------------
# The account's proxy listeners (free loopback ports) in front of the same Dovecot; the clients
# log in with the address and a local password, the proxy logs in upstream with XOAUTH2.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PI=$(free_port) PS=$(free_port) PP=$(free_port)
LOCAL_PW="local-pass-$RANDOM-$RANDOM"
{
  printf 'ca_file = "%s"\n\n' "$CA"
  printf '[accounts.work.imap]\nhost = "%s"\nport = %s\n\n' "$HOST" "$IMAPS"
  printf '[accounts.work.smtp]\nhost = "%s"\nport = %s\n\n' "$HOST" "$SUBMISSION"
  printf '[accounts.work.pop]\nhost = "%s"\nport = %s\n\n' "$HOST" "$POP3S"
  printf '[accounts.work.proxy]\nimap = "127.0.0.1:%s"\nsmtp = "127.0.0.1:%s"\npop = "127.0.0.1:%s"\n' "$PI" "$PS" "$PP"
} >>"$XDG_CONFIG_HOME/mailoauth/config.toml"
printf '%s\n' "$LOCAL_PW" | mailoauth proxy password work --stdin || fail "mailoauth proxy password"
grep -q 'password_hash = "pbkdf2-sha256\$600000\$' "$XDG_CONFIG_HOME/mailoauth/config.toml" || fail "no password hash stored"
if grep -qF "$LOCAL_PW" "$XDG_CONFIG_HOME/mailoauth/config.toml"; then fail "the local password is stored in the clear"; fi
mailoauth -v proxy >"$tmp/proxy.out" 2>"$tmp/proxy.err" &
proxy_pid=$!
for _ in $(seq 100); do grep -q "ready" "$tmp/proxy.err" && break; sleep 0.1; done
grep -q "ready" "$tmp/proxy.err" || fail "mailoauth proxy did not start: $(cat "$tmp/proxy.err")"
log "mailoauth proxy: imap $PI, smtp $PS, pop $PP"

# curl: IMAP (AUTHENTICATE PLAIN), POP3 (AUTH PLAIN), SMTP (AUTH PLAIN).
curl -sS --user "$USER_ADDR:$LOCAL_PW" "imap://127.0.0.1:$PI/INBOX;UID=1" >"$tmp/p.imap" 2>"$tmp/p.err" \
  || fail "curl imap via the proxy: $(cat "$tmp/p.err") $(tail -3 "$tmp/proxy.err")"
grep -q "Subject: seeded for the readers" "$tmp/p.imap" || fail "curl imap via the proxy: $(head -5 "$tmp/p.imap")"
curl -sS --user "$USER_ADDR:$LOCAL_PW" "pop3://127.0.0.1:$PP/1" >"$tmp/p.pop" 2>"$tmp/p.err" \
  || fail "curl pop3 via the proxy: $(cat "$tmp/p.err")"
grep -q "Subject: seeded for the readers" "$tmp/p.pop" || fail "curl pop3 via the proxy: $(head -5 "$tmp/p.pop")"
message "sent by curl via the proxy" >"$tmp/p.msg"
curl -sS --user "$USER_ADDR:$LOCAL_PW" "smtp://127.0.0.1:$PS" --mail-from "$USER_ADDR" --mail-rcpt bob@example.org \
  -T "$tmp/p.msg" 2>"$tmp/p.err" || fail "curl smtp via the proxy: $(cat "$tmp/p.err")"
expect_sent "curl via the proxy" "sent by curl via the proxy"

# Python's stdlib clients: imaplib LOGIN (a quoted password), smtplib AUTH, poplib USER/PASS.
python3 - "$PI" "$PS" "$PP" "$USER_ADDR" "$LOCAL_PW" <<'PY' || fail "python stdlib clients via the proxy"
import imaplib, poplib, smtplib, sys
pi, ps, pp, user, pw = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
m = imaplib.IMAP4("127.0.0.1", pi)
m.login(user, pw)
typ, data = m.select("INBOX")
assert typ == "OK" and int(data[0]) >= 1, (typ, data)
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert b"seeded for the readers" in data[0][1], data
m.logout()
s = smtplib.SMTP("127.0.0.1", ps)
s.login(user, pw)
s.sendmail(user, ["bob@example.org"], f"From: {user}\r\nTo: bob@example.org\r\nSubject: sent by smtplib via the proxy\r\n\r\nhi\r\n")
s.quit()
p = poplib.POP3("127.0.0.1", pp)
p.user(user)
p.pass_(pw)
count, _ = p.stat()
assert count >= 1, count
p.quit()
try:
    imaplib.IMAP4("127.0.0.1", pi).login(user, pw + "x")
    raise SystemExit("a wrong local password was accepted")
except imaplib.IMAP4.error as e:
    assert "wrong user name or local password" in str(e), e
PY
expect_sent "smtplib via the proxy" "sent by smtplib via the proxy"

# msmtp with a plain password (auth plain, no TLS to the loopback proxy).
printf 'account proxy\nhost 127.0.0.1\nport %s\nauth plain\ntls off\nfrom %s\nuser %s\npassword %s\n' \
  "$PS" "$USER_ADDR" "$USER_ADDR" "$LOCAL_PW" >"$tmp/msmtprc-proxy"
chmod 600 "$tmp/msmtprc-proxy"
message "sent by msmtp via the proxy" | msmtp -C "$tmp/msmtprc-proxy" -a proxy bob@example.org || fail "msmtp via the proxy"
expect_sent "msmtp via the proxy" "sent by msmtp via the proxy"
# The proxy's client connections have TCP keepalive on (a vanished client is found).
python3 -c 'import socket, sys, time; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.recv(100); time.sleep(2)' "$PI" &
held=$!
sleep 0.5
ss -tno state established "( sport = :$PI )" | grep -q "timer:(keepalive" \
  || fail "the proxy's client connection has no TCP keepalive: $(ss -tno state established "( sport = :$PI )")"
wait "$held"
log "ok the proxy's client connections have TCP keepalive"

# A wrong local password: refused after the delay, and nothing reaches the upstream server.
t0=$(date +%s%N)
if curl -sS --user "$USER_ADDR:wrong" "imap://127.0.0.1:$PI/INBOX;UID=1" >/dev/null 2>&1; then fail "the proxy accepted a wrong password"; fi
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 900 ] || fail "a wrong local password was refused in $ms ms, without the delay"
grep -q "wrong user name or local password" "$tmp/proxy.err" || fail "the proxy did not log the refused login"

# A token the server refuses: the proxy refreshes it once, silently; the client never notices.
emu_post /_emulator/expire-access-tokens "{\"username\": \"$USER_ADDR\"}"
curl -sS --user "$USER_ADDR:$LOCAL_PW" "imap://127.0.0.1:$PI/INBOX;UID=1" >"$tmp/p.imap" 2>"$tmp/p.err" \
  || fail "curl via the proxy after the token was refused: $(cat "$tmp/p.err") $(tail -3 "$tmp/proxy.err")"
grep -q "refreshing it once" "$tmp/proxy.err" || fail "the proxy did not refresh the refused token: $(tail -5 "$tmp/proxy.err")"

# The sign-in revoked: the client gets a NO that says what to do.
emu_post /_emulator/revoke "{\"username\": \"$USER_ADDR\"}"
python3 - "$PI" "$USER_ADDR" "$LOCAL_PW" <<'PY' || fail "the revoked sign-in's refusal via the proxy"
import imaplib, sys
try:
    imaplib.IMAP4("127.0.0.1", int(sys.argv[1])).login(sys.argv[2], sys.argv[3])
    raise SystemExit("logged in with a revoked sign-in")
except imaplib.IMAP4.error as e:
    assert "mailoauth login work" in str(e), e
PY
if grep -q "eyJ" "$tmp/proxy.err" || grep -qF "$LOCAL_PW" "$tmp/proxy.err"; then fail "the proxy log shows a token or the local password"; fi
kill -TERM "$proxy_pid"
wait "$proxy_pid" || fail "mailoauth proxy did not exit cleanly on SIGTERM: $(tail -3 "$tmp/proxy.err")"
grep -q "stopped" "$tmp/proxy.err" || fail "mailoauth proxy: no 'stopped' line"
mailoauth login work 2>/dev/null || fail "mailoauth login again after the proxy tests"
log "ok mailoauth proxy: curl (IMAP, POP3, SMTP), imaplib, smtplib, poplib and msmtp with a local password; a wrong password delayed; a refused token refreshed once; a revoked sign-in explained; SIGTERM"

# ---- mailoauth proxy: faults and limits ------------------------------------------------------
# The same listeners with a 2 s pre-login time-out; a second proxy (its own configuration, the same
# account and tokens) whose upstream IMAP port is closed and whose upstream POP3 server accepts
# the connection and never answers, with a 3 s upstream time-out.
wait_ready() {  # FILE
  for _ in $(seq 100); do grep -q "ready" "$1" && return 0; sleep 0.1; done
  fail "mailoauth proxy did not start: $(cat "$1")"
}
# `mailoauth proxy --check` with no proxy running: every address free, every upstream login works.
mailoauth proxy --check >"$tmp/check.out" 2>"$tmp/check.err" || fail "proxy --check: $(cat "$tmp/check.out" "$tmp/check.err")"
[ "$(grep -c '^ok   .*: address free; upstream login ok$' "$tmp/check.out")" = 3 ] || fail "proxy --check: $(cat "$tmp/check.out")"
MAILOAUTH_PROXY_LOGIN_TIMEOUT=2 mailoauth -v proxy >"$tmp/proxy2.out" 2>"$tmp/proxy2.err" &
proxy_pid=$!
wait_ready "$tmp/proxy2.err"
CLOSED=$(free_port) SILENT=$(free_port) QI=$(free_port) QP=$(free_port) QS=$(free_port)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); held = []
while True: held.append(s.accept())' "$SILENT" &
silent_pid=$!
for _ in $(seq 50); do python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$SILENT" 2>/dev/null && break; sleep 0.1; done
sed -e "s/^port = $IMAPS\$/port = $CLOSED/; s/^port = $POP3S\$/port = $SILENT/" \
  -e "s/^imap = \"127.0.0.1:$PI\"/imap = \"127.0.0.1:$QI\"/; s/^pop = \"127.0.0.1:$PP\"/pop = \"127.0.0.1:$QP\"/" \
  -e "s/^smtp = \"127.0.0.1:$PS\"/smtp = \"127.0.0.1:$QS\"/" \
  "$XDG_CONFIG_HOME/mailoauth/config.toml" >"$tmp/down.toml"
grep -q "port = $CLOSED" "$tmp/down.toml" && grep -q "127.0.0.1:$QP" "$tmp/down.toml" || fail "the upstream-down configuration: $(cat "$tmp/down.toml")"
MAILOAUTH_PROXY_UPSTREAM_TIMEOUT=3 mailoauth --config "$tmp/down.toml" proxy >"$tmp/proxy3.out" 2>"$tmp/proxy3.err" &
proxy3_pid=$!
wait_ready "$tmp/proxy3.err"
# --check while the proxies run: their addresses are served by a running proxy; the upstream-down
# configuration fails (exit 4, network) with one line per listener saying which side and why.
mailoauth proxy --check >"$tmp/check.out" 2>"$tmp/check.err" || fail "proxy --check (running): $(cat "$tmp/check.out" "$tmp/check.err")"
[ "$(grep -c '^ok   .*: served by a running mailoauth proxy; upstream login ok$' "$tmp/check.out")" = 3 ] || fail "proxy --check (running): $(cat "$tmp/check.out")"
set +e
MAILOAUTH_PROXY_UPSTREAM_TIMEOUT=3 mailoauth --config "$tmp/down.toml" proxy --check >"$tmp/check.out" 2>"$tmp/check.err"
code=$?
set -e
[ "$code" = 4 ] || fail "proxy --check with the upstream down: exit $code: $(cat "$tmp/check.out" "$tmp/check.err")"
grep -q "^FAIL imap 127.0.0.1:$QI -> localhost:$CLOSED (account work): served by a running mailoauth proxy; upstream localhost: network error" "$tmp/check.out" \
  && grep -qE "^FAIL pop .*(did not complete the login within 3 s|timed out)" "$tmp/check.out" && grep -q "^ok   smtp " "$tmp/check.out" \
  || fail "proxy --check with the upstream down: $(cat "$tmp/check.out")"
log "ok mailoauth proxy --check: free addresses, running proxies, and an upstream down (exit 4)"
python3 - "$PI" "$PS" "$QI" "$QP" "$USER_ADDR" "$LOCAL_PW" "$tmp/proxy2.err" >"$tmp/faults.out" 2>&1 <<'PY' || fail "proxy faults and limits: $(cat "$tmp/faults.out") $(tail -5 "$tmp/proxy2.err")"
import base64, imaplib, os, poplib, smtplib, socket, sys, threading, time
pi, ps, qi, qp, user, pw = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
log = sys.argv[7]
def say(*a): print(*a, flush=True)
def timed(f):
    t0 = time.monotonic(); r = f(); return r, time.monotonic() - t0
def read_all(s, limit):
    s.settimeout(limit); out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b: return out, True
            out += b
    except socket.timeout:
        return out, False

# Upstream down: the port is closed -> NO [UNAVAILABLE] at once, not a hang.
def down_imap():
    try:
        imaplib.IMAP4("127.0.0.1", qi).login(user, pw); return "logged in"
    except imaplib.IMAP4.error as e:
        return str(e)
err, dt = timed(down_imap)
assert "UNAVAILABLE" in err and "upstream" in err, err
assert dt < 5, dt
say(f"upstream IMAP port closed: refused in {dt:.2f} s: {err[:100]}")
# Upstream silent (accepts, never answers): -ERR [SYS/TEMP] after the 3 s upstream time-out.
def down_pop():
    p = poplib.POP3("127.0.0.1", qp, timeout=20); p.user(user)
    try:
        p.pass_(pw); return "logged in"
    except poplib.error_proto as e:
        return str(e)
err, dt = timed(down_pop)
assert "SYS/TEMP" in err, err
assert 2.5 < dt < 8, dt
say(f"upstream POP3 silent: refused in {dt:.2f} s: {err[:100]}")

# Half-open: a client that says nothing is told and closed after the 2 s pre-login time-out.
s = socket.create_connection(("127.0.0.1", pi)); (out, closed), dt = timed(lambda: read_all(s, 6))
assert closed and b"BYE no login in time" in out and 1.5 < dt < 4, (out, closed, dt)
# ... and so is one that stops in the middle of a line.
s = socket.create_connection(("127.0.0.1", pi)); s.sendall(b"a LOGIN al"); (out, closed), dt = timed(lambda: read_all(s, 6))
assert closed and dt < 4, (out, closed, dt)
# Garbage: an endless line, and unknown commands, end the connection.
s = socket.create_connection(("127.0.0.1", pi)); s.sendall(os.urandom(20000).replace(b"\n", b"x"))
out, closed = read_all(s, 5)
assert closed and b"BYE command line too long" in out, out[-200:]
s = socket.create_connection(("127.0.0.1", ps)); s.sendall(b"\x16\x03\x01 garbage\r\n" * 10)
out, closed = read_all(s, 5)
assert closed and b"421 4.7.0 too many bad commands" in out, out
say("half-open, partial line, endless line, garbage: closed")

# A client disconnects in the middle of a literal: before the login (LOGIN's literal) and after
# it (an APPEND literal, relayed); the proxy stays up and serves the next client.
s = socket.create_connection(("127.0.0.1", pi)); s.recv(1000); s.sendall(b"a LOGIN u {5}\r\n")
assert s.recv(1000).startswith(b"+"), "no continuation"
s.sendall(b"ab"); s.close()
m = imaplib.IMAP4("127.0.0.1", pi); m.login(user, pw); m.select("INBOX")
m.send(b"b APPEND INBOX {100000}\r\n"); assert m.readline().startswith(b"+")
m.send(b"x" * 1000); m.sock.close()
m = imaplib.IMAP4("127.0.0.1", pi); m.login(user, pw)
assert m.noop()[0] == "OK"; m.logout()
say("disconnects in LOGIN's literal and in an APPEND literal: the next client is served")

# IDLE relayed: a message appended by another session shows up as EXISTS.
m = imaplib.IMAP4("127.0.0.1", pi); m.login(user, pw); m.select("INBOX")
m.send(b"i1 IDLE\r\n"); assert m.readline().startswith(b"+"), "IDLE not accepted"
o = imaplib.IMAP4("127.0.0.1", pi); o.login(user, pw)
o.append("INBOX", None, None, b"Subject: during IDLE\r\n\r\nhi\r\n"); o.logout()
m.sock.settimeout(10); line = m.readline()
while b"EXISTS" not in line: line = m.readline()
m.send(b"DONE\r\n"); line = m.readline()
while line.startswith(b"* "): line = m.readline()
assert line.startswith(b"i1 OK"), line
m.logout()
say("IDLE: EXISTS relayed, DONE answered")

# A 5 MB message: APPEND through the proxy, FETCH it back, the same bytes.
body = b"".join(base64.b64encode(os.urandom(57)) + b"\r\n" for _ in range(5 * 1024 * 1024 // 78))
big = b"From: bob@example.org\r\nSubject: five megabytes\r\n\r\n" + body
m = imaplib.IMAP4("127.0.0.1", pi); m.login(user, pw)
(typ, _), dt_up = timed(lambda: m.append("INBOX", None, None, big)); assert typ == "OK", typ
m.select("INBOX"); typ, data = m.search(None, "SUBJECT", '"five megabytes"'); n = data[0].split()[-1]
(typ, data), dt_down = timed(lambda: m.fetch(n, "(BODY.PEEK[])"))
assert typ == "OK" and data[0][1] == big, (typ, len(data[0][1]), len(big))
m.logout()
say(f"5 MB APPEND {dt_up:.2f} s, FETCH {dt_down:.2f} s, same bytes")

# SMTP: a long inline AUTH line (a 2.7 KB authorization identity), a 5 MB DATA, pipelining,
# and BDAT after an EHLO relayed to the server.
s = smtplib.SMTP("127.0.0.1", ps); s.ehlo()
ir = base64.b64encode(b"z" * 2000 + b"\0" + user.encode() + b"\0" + pw.encode()).decode()
assert len(ir) > 2600
code, msg = s.docmd("AUTH", "PLAIN " + ir); assert code == 235, (code, msg)
s.sendmail(user, ["bob@example.org"], b"From: " + user.encode() + b"\r\nSubject: five megabytes by smtplib via the proxy\r\n\r\n" + body)
s.quit()
c = socket.create_connection(("127.0.0.1", ps)); f = c.makefile("rb")
def reply():
    lines = [f.readline()]
    while lines[-1][3:4] == b"-": lines.append(f.readline())
    return b"".join(lines)
reply(); c.sendall(b"EHLO me\r\nAUTH PLAIN " + base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()) + b"\r\n")
assert reply().startswith(b"250"); r = reply(); assert r.startswith(b"235"), r
c.sendall(b"MAIL FROM:<" + user.encode() + b">\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
r = [reply(), reply(), reply()]; assert [x[:3] for x in r] == [b"250", b"250", b"354"], r
c.sendall(b"Subject: pipelined via the proxy\r\n\r\nhi\r\n.\r\n"); r = reply(); assert r.startswith(b"250"), r
c.sendall(b"EHLO me\r\n"); ehlo = reply(); assert ehlo.startswith(b"250"), ehlo
say("EHLO after the login (the server's):", ehlo.replace(b"\r\n", b" ").decode())
if b"CHUNKING" in ehlo:
    msg = b"Subject: sent with BDAT via the proxy\r\n\r\nhi\r\n"
    c.sendall(b"MAIL FROM:<" + user.encode() + b">\r\nRCPT TO:<bob@example.org>\r\n")
    r = [reply(), reply()]; assert [x[:3] for x in r] == [b"250", b"250"], r
    c.sendall(b"BDAT %d LAST\r\n" % len(msg) + msg); r = reply(); assert r.startswith(b"250"), r
    say("BDAT: accepted")
c.sendall(b"QUIT\r\n"); reply(); c.close()

# 200 IMAP sessions at once, each logged in through the proxy, SELECT and FETCH, all held open
# together before they log out.
N = 200; barrier = threading.Barrier(N, timeout=120); ok = []; errors = []
def one(i):
    try:
        m = imaplib.IMAP4("127.0.0.1", pi, timeout=120); m.login(user, pw)
        typ, data = m.select("INBOX"); assert typ == "OK", (typ, data)
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and b"seeded for the readers" in data[0][1], data
        barrier.wait(); m.logout(); ok.append(i)
    except Exception as e:
        errors.append(f"{i}: {e!r}"); barrier.abort()
threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
t0 = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
assert len(ok) == N, (len(ok), errors[:5])
say(f"{N} concurrent IMAP sessions via the proxy: all logged in, selected, fetched, in {time.monotonic() - t0:.1f} s")

# The server hangs up (LOGOUT) and the client neither reads on nor closes: the proxy ends the
# session within the read time-out (2 s here), so a vanished client holds nothing.
s = socket.create_connection(("127.0.0.1", pi)); f = s.makefile("rb"); f.readline()
s.sendall(f'a LOGIN "{user}" "{pw}"\r\n'.encode()); line = f.readline()
while not line.startswith(b"a "): line = f.readline()
assert line.startswith(b"a OK"), line
s.sendall(b"b LOGOUT\r\n"); mine = f"imap 127.0.0.1:{s.getsockname()[1]}: closed"
t0 = time.monotonic()
while mine not in open(log).read() and time.monotonic() - t0 < 8: time.sleep(0.1)
assert mine in open(log).read(), "the session outlived the server's hang-up"
say(f"server hung up, client silent: the session ended after {time.monotonic() - t0:.1f} s")
s.close()

PY
cat "$tmp/faults.out" >&2
kill "$silent_pid"; wait "$silent_pid" 2>/dev/null || true
kill -TERM "$proxy3_pid"; wait "$proxy3_pid" || fail "the upstream-down proxy did not stop cleanly"
expect_sent "smtplib via the proxy (5 MB, long AUTH line)" "five megabytes by smtplib via the proxy"
expect_sent "pipelined SMTP via the proxy" "pipelined via the proxy"
if grep -q "CHUNKING" "$tmp/faults.out"; then expect_sent "BDAT via the proxy" "sent with BDAT via the proxy"; fi
log "ok mailoauth proxy faults: upstream down and silent refused in time, half-open and garbage clients closed, disconnects mid-literal survived, IDLE, 5 MB APPEND/FETCH, long AUTH line, 5 MB DATA, pipelining, 200 concurrent sessions, a session ended after the server hung up"

# neomutt with a plain password: its SMTP puts the SASL response on the AUTH line (what Dovecot
# refuses from it with a token, above) and reaches the sink through the proxy; its IMAP reads
# INBOX through the proxy.
mkdir -p "$tmp/neomutt-proxy"
cat >"$tmp/neomutt-proxy/neomuttrc" <<EOF
set from = "$USER_ADDR"
set realname = "Alice"
set smtp_url = "smtp://alice%40contoso.example@127.0.0.1:$PS/"
set smtp_pass = "$LOCAL_PW"
set folder = "imap://alice%40contoso.example@127.0.0.1:$PI/"
set imap_pass = "$LOCAL_PW"
set spoolfile = "+INBOX"
set ssl_starttls = no
set ssl_force_tls = no
set record = ""
set header_cache = ""
set message_cachedir = ""
EOF
chmod 600 "$tmp/neomutt-proxy/neomuttrc"
echo body | neomutt -n -F "$tmp/neomutt-proxy/neomuttrc" -s "sent by neomutt via the proxy" bob@example.org \
  >"$tmp/neomutt-proxy.out" 2>&1 || fail "neomutt smtp via the proxy: $(cat "$tmp/neomutt-proxy.out") $(tail -3 "$tmp/proxy2.err")"
expect_sent "neomutt (smtp_url, password) via the proxy" "sent by neomutt via the proxy"
tmux_run neomutt-proxy "neomutt -n -F $tmp/neomutt-proxy/neomuttrc"
tmux_wait neomutt-proxy "seeded for the readers" 20
tmux_kill neomutt-proxy
log "ok neomutt via the proxy: INBOX over IMAP with a password"

kill -TERM "$proxy_pid"
wait "$proxy_pid" || fail "mailoauth proxy did not exit cleanly on SIGTERM: $(tail -3 "$tmp/proxy2.err")"
proxy_pid=""

# ---- mailoauth proxy: local TLS --------------------------------------------------------------
# The same account with tls = "starttls" (offered, required before a login) and, in a second
# proxy, tls = "implicit"; the first start makes a self-signed certificate in the state directory.
T1=$(free_port) T2=$(free_port) T3=$(free_port) U1=$(free_port) U2=$(free_port) U3=$(free_port)
tls_config() {  # MODE IMAP SMTP POP
  sed -e "s/^imap = \"127.0.0.1:$PI\"/imap = \"127.0.0.1:$2\"/; s/^smtp = \"127.0.0.1:$PS\"/smtp = \"127.0.0.1:$3\"/" \
    -e "s/^pop = \"127.0.0.1:$PP\"/pop = \"127.0.0.1:$4\"/; /^\[accounts.work.proxy\]\$/a tls = \"$1\"" \
    "$XDG_CONFIG_HOME/mailoauth/config.toml"
}
tls_config starttls "$T1" "$T2" "$T3" >"$tmp/starttls.toml"
tls_config implicit "$U1" "$U2" "$U3" >"$tmp/implicit.toml"
grep -q '^tls = "implicit"' "$tmp/implicit.toml" || fail "the implicit TLS configuration: $(cat "$tmp/implicit.toml")"
mailoauth --config "$tmp/starttls.toml" proxy >"$tmp/proxy4.out" 2>"$tmp/proxy4.err" &
proxy_pid=$!
wait_ready "$tmp/proxy4.err"
mailoauth --config "$tmp/implicit.toml" proxy >"$tmp/proxy3.out" 2>"$tmp/proxy3.err" &
proxy3_pid=$!
wait_ready "$tmp/proxy3.err"
CERT="$XDG_STATE_HOME/mailoauth/proxy-cert.pem"
grep -q "made a self-signed certificate for the local TLS: $CERT" "$tmp/proxy4.err" || fail "no certificate made: $(cat "$tmp/proxy4.err")"
[ "$(stat -c %a "$XDG_STATE_HOME/mailoauth/proxy-key.pem")" = 600 ] || fail "the local TLS key is not 0600"
fp=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 | cut -d= -f2)
grep -qF "$CERT (SHA-256 $fp)" "$tmp/proxy4.err" && grep -qF "(SHA-256 $fp)" "$tmp/proxy3.err" \
  || fail "the proxies do not print the certificate's fingerprint $fp: $(cat "$tmp/proxy4.err" "$tmp/proxy3.err")"
# --check recognises the running proxies, the implicit-TLS one through its own certificate.
for c in starttls implicit; do
  mailoauth --config "$tmp/$c.toml" proxy --check >"$tmp/check.out" 2>&1 || fail "proxy --check ($c): $(cat "$tmp/check.out")"
  [ "$(grep -c '^ok   .*: served by a running mailoauth proxy; upstream login ok$' "$tmp/check.out")" = 3 ] || fail "proxy --check ($c): $(cat "$tmp/check.out")"
done
for url in "imap://127.0.0.1:$T1/INBOX;UID=1" "pop3://127.0.0.1:$T3/1" "imaps://127.0.0.1:$U1/INBOX;UID=1" "pop3s://127.0.0.1:$U3/1"; do
  curl -sS --ssl-reqd --cacert "$CERT" --user "$USER_ADDR:$LOCAL_PW" "$url" >"$tmp/p.tls" 2>"$tmp/p.err" \
    || fail "curl $url via the proxy's TLS: $(cat "$tmp/p.err") $(tail -3 "$tmp/proxy4.err" "$tmp/proxy3.err")"
  grep -q "Subject: seeded for the readers" "$tmp/p.tls" || fail "curl $url via the proxy's TLS: $(head -5 "$tmp/p.tls")"
done
message "sent by curl via the proxy's STARTTLS" >"$tmp/p.msg"
curl -sS --ssl-reqd --cacert "$CERT" --user "$USER_ADDR:$LOCAL_PW" "smtp://127.0.0.1:$T2" --mail-from "$USER_ADDR" \
  --mail-rcpt bob@example.org -T "$tmp/p.msg" 2>"$tmp/p.err" || fail "curl smtp STARTTLS via the proxy: $(cat "$tmp/p.err")"
expect_sent "curl smtp STARTTLS via the proxy" "sent by curl via the proxy's STARTTLS"
message "sent by curl via the proxy's implicit TLS" >"$tmp/p.msg"
curl -sS --cacert "$CERT" --user "$USER_ADDR:$LOCAL_PW" "smtps://127.0.0.1:$U2" --mail-from "$USER_ADDR" \
  --mail-rcpt bob@example.org -T "$tmp/p.msg" 2>"$tmp/p.err" || fail "curl smtps via the proxy: $(cat "$tmp/p.err")"
expect_sent "curl smtps via the proxy" "sent by curl via the proxy's implicit TLS"
# A login before STARTTLS is refused; bytes pipelined after STARTTLS end the connection; imaplib
# with starttls() verifies the certificate and logs in.
python3 - "$T1" "$T2" "$CERT" "$USER_ADDR" "$LOCAL_PW" <<'PY' || fail "STARTTLS rules via the proxy"
import imaplib, socket, ssl, sys, time
t1, t2, cert, user, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def talk(port, data):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5); greeting = s.recv(1000)
    s.sendall(data); out = b""
    while True:
        b = s.recv(1000)
        if not b: return greeting, out
        out += b
        if out.endswith(b"\r\n") and data.count(b"\r\n") == 1 and not out.startswith(b"+"): return greeting, out
greeting, out = talk(t1, b"a LOGIN u p\r\n")
assert b"LOGINDISABLED" in greeting and out.startswith(b"a NO [PRIVACYREQUIRED]"), (greeting, out)
_, out = talk(t1, b"a STARTTLS\r\nb LOGIN u p\r\n")
assert b"* BYE bytes after STARTTLS" in out, out
_, out = talk(t2, b"STARTTLS\r\nEHLO injected\r\n")
assert out.startswith(b"421 4.7.0 bytes after STARTTLS"), out
m = imaplib.IMAP4("127.0.0.1", t1)
m.starttls(ssl_context=ssl.create_default_context(cafile=cert))
m.login(user, pw)
assert m.select("INBOX")[0] == "OK"
m.logout()

# The session cap (default time-outs here): 512 connections at once, the next one is told BYE;
# then logins work again.
t0 = time.monotonic()
conns = [socket.create_connection(("127.0.0.1", t1)) for _ in range(512)]
for c in conns: c.settimeout(5); assert c.recv(100).startswith(b"* OK"), "no greeting"
opened = time.monotonic() - t0
c = socket.create_connection(("127.0.0.1", t1)); c.settimeout(3); out = c.recv(1000); closed = c.recv(1000) == b""
assert closed and b"BYE too many sessions" in out, (out, closed, opened, time.monotonic() - t0)
for c in conns: c.close()
time.sleep(0.5)
m = imaplib.IMAP4("127.0.0.1", t1); m.starttls(ssl_context=ssl.create_default_context(cafile=cert)); m.login(user, pw); m.logout()
print("session cap: the 513th connection told BYE, logins work after")
PY
kill -TERM "$proxy_pid" "$proxy3_pid"
wait "$proxy_pid" && wait "$proxy3_pid" || fail "the TLS proxies did not stop cleanly"
proxy_pid="" proxy3_pid=""
log "ok mailoauth proxy local TLS: curl --ssl-reqd over IMAP/POP3/SMTP STARTTLS and imaps/pop3s/smtps with the self-signed certificate (key 0600, fingerprint printed); login before STARTTLS refused; pipelined bytes after STARTTLS refused; imaplib starttls; the session cap"

log "all recipes ran, in $(($(date +%s) - started)) s"
