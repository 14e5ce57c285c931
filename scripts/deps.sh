#!/usr/bin/env bash
# Installs the Debian packages the switch and its tests need, when they are missing:
# libopus-dev + pkg-config (Opus codec), sip-tester (SIPp) and baresip (real peers in
# the tests), sipvicious (the attack tools the security tests run), python3-aiosmtpd (the
# SMTP server the voicemail mail tests deliver to), kamailio with its SQLite modules (the
# carrier the trunk tests register with, over TLS too), tshark (reads the SIP captures' PCAP files),
# chromium (the web admin's browser tests drive it headless), openssl (makes the TLS
# tests' certificates), postgresql (the shared store the cluster test starts a server
# of its own for). Idempotent; quiet
# when everything is there.
set -euo pipefail
packages=(pkg-config libopus-dev sip-tester baresip sipvicious python3-aiosmtpd kamailio kamailio-sqlite-modules kamailio-tls-modules tshark chromium openssl postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
