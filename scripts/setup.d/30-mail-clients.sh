#!/usr/bin/env bash
# Setup for scripts/tests.d/30-mail-clients.sh: the mail clients whose recipes cli/README.md
# gives, from Debian 12's own packages (msmtp, git send-email, mbsync with Debian's XOAUTH2
# SASL plugin, neomutt, mutt, aerc, offlineimap3, getmail6, fetchmail, curl, s-nail) and tmux,
# which drives the full-screen clients. Without recommends, so git send-email needs
# libmailtools-perl named. Idempotent: installs only what is missing.
set -euo pipefail
log() { printf '== setup 30-mail-clients: %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

packages=(
  msmtp git git-email libmailtools-perl isync libsasl2-modules-kdexoauth2 sasl2-bin neomutt mutt aerc
  offlineimap3 getmail6 fetchmail curl s-nail tmux ca-certificates
)
missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  # No recommends: mutt and neomutt would pull in an MTA (exim) that starts a daemon.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for c in msmtp git mbsync neomutt mutt aerc offlineimap getmail fetchmail curl s-nail tmux saslpluginviewer; do
  command -v "$c" >/dev/null || { echo "setup 30-mail-clients: $c is still missing" >&2; exit 1; }
done
case "$(git send-email -h 2>&1 || true)" in
  *--dump-aliases*) ;;
  *) echo "setup 30-mail-clients: git send-email is missing" >&2; exit 1 ;;
esac
log "mail clients present"
