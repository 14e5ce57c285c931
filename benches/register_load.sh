#!/usr/bin/env bash
# Registrations per second with digest auth: SIPp as UAC (one REGISTER challenged, then
# authenticated, per "call") against `pbx serve` (release build) on loopback, and, when
# Kamailio is installed (Debian: kamailio kamailio-sqlite-modules sqlite3), the same
# load against Kamailio with auth_db on SQLite as the yardstick. CPU seconds are read
# from /proc for the server's processes. Not run in CI.
#
#   benches/register_load.sh [RATE ...]      (default: 2000 4000 6000 8000 10000)
#
# SIPp signs its digest with `-auth_uri DOMAIN`: by default it signs its own
# target (`sip:IP:PORT`), which the switch refuses as not the Request-URI.
#
# Each rate runs DURATION seconds (default 10) over USERS extensions (default 5000).
#
# KAM_DB_MODE=1 makes Kamailio write every binding through to its SQLite file (in WAL
# mode) before it replies, as the switch does: the durable yardstick. The default (0)
# keeps Kamailio's bindings in memory only, lost when it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
[ ${#rates[@]} -eq 0 ] && rates=(2000 4000 6000 8000 10000)
duration=${DURATION:-10}
users=${USERS:-5000}
kam_db_mode=${KAM_DB_MODE:-0}
work=$(mktemp -d)
pids=()
trap 'kill -INT "${pids[@]}" 2>/dev/null || true; pkill -f "kamailio -f $work" 2>/dev/null || true; rm -rf "$work"' EXIT

# PBX_BIN runs another build of the switch (an earlier commit's, for a before/after).
if [ -z "${PBX_BIN:-}" ]; then cargo build --release -q; fi
bin=${PBX_BIN:-target/release/pbx}
$bin tenant add load --domain load.test --data-dir "$work/data" >/dev/null
$bin user add-range --tenant load --from 10000 --to $((10000 + users - 1)) --password 'pw{ext}pw' --data-dir "$work/data" >/dev/null
{
  echo SEQUENTIAL
  for ((i = 0; i < users; i++)); do echo "$((10000 + i));pw$((10000 + i))pw;load.test;3600"; done
} > "$work/users.csv"

RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:5090 > "$work/pbx.out" 2>&1 &
pids+=($!)
pbx_pid=$!

have_kamailio=no
if command -v kamailio >/dev/null && command -v sqlite3 >/dev/null; then
  have_kamailio=yes
  sqlite3 "$work/kam.db" <<SQL
CREATE TABLE version (table_name VARCHAR(32) NOT NULL PRIMARY KEY, table_version INTEGER DEFAULT 0 NOT NULL);
INSERT INTO version VALUES ('subscriber', 7);
CREATE TABLE subscriber (id INTEGER PRIMARY KEY NOT NULL, username VARCHAR(64) DEFAULT '' NOT NULL,
  domain VARCHAR(64) DEFAULT '' NOT NULL, password VARCHAR(64) DEFAULT '' NOT NULL,
  ha1 VARCHAR(128) DEFAULT '' NOT NULL, ha1b VARCHAR(128) DEFAULT '' NOT NULL);
CREATE UNIQUE INDEX account_idx ON subscriber (username, domain);
SQL
  for ((i = 0; i < users; i++)); do echo "INSERT INTO subscriber (username, domain, password) VALUES ('$((10000 + i))', 'load.test', 'pw$((10000 + i))pw');"; done | sqlite3 "$work/kam.db"
  if [ "$kam_db_mode" != 0 ]; then
    sqlite3 "$work/kam.db" < /usr/share/kamailio/db_sqlite/usrloc-create.sql
    sqlite3 "$work/kam.db" 'PRAGMA journal_mode=WAL;' >/dev/null
  fi
  sed -e "s|DBPATH|$work/kam.db|" -e "s|DBMODE|$kam_db_mode|" benches/kamailio/register.cfg > "$work/kamailio.cfg"
  kamailio -f "$work/kamailio.cfg" -P "$work/kam.pid" -w "$work" -m 512 -M 32 > "$work/kam.out" 2>&1
fi
sleep 1
ticks=$(getconf CLK_TCK)
cpu_of() { # total CPU seconds of the given pids
  local t=0
  for p in "$@"; do t=$(awk -v t="$t" '{print t + $14 + $15}' /proc/$p/stat); done
  echo "$t / $ticks" | bc -l
}

run() { # label port rate pids...
  local label=$1 port=$2 rate=$3; shift 3
  local calls=$((rate * duration))
  local before after start end
  before=$(cpu_of "$@")
  start=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$work/sipp.time" sipp 127.0.0.1:$port -sf tests/sipp/register_auth.xml -auth_uri load.test \
    -inf "$work/users.csv" -m $calls -r $rate -t u1 -i 127.0.0.1 -p 5190 -nostdin \
    -buff_size 8388608 -timeout $((duration * 3))s > "$work/sipp.out" 2>&1 || true
  end=$(date +%s.%N)
  after=$(cpu_of "$@")
  local ok failed elapsed used
  ok=$(grep -E '^\s+Successful call' "$work/sipp.out" | awk '{print $NF}')
  failed=$(grep -E '^\s+Failed call' "$work/sipp.out" | awk '{print $NF}')
  elapsed=$(echo "$end - $start" | bc -l)
  used=$(echo "$after - $before" | bc -l)
  printf '| %s | %d | %.0f | %s | %.2f | %.1f µs | %.2f |\n' "$label" "$rate" "$(echo "$ok / $elapsed" | bc -l)" \
    "${failed:-?}" "$used" "$(echo "$used / ($ok + 0.0001) * 1000000" | bc -l)" "$(tail -1 "$work/sipp.time" | awk '{print $1 + $2}')"
}

printf '| server | offered reg/s | completed reg/s | failed | server CPU s | CPU per registration | SIPp CPU s |\n'
printf '|---|---|---|---|---|---|---|\n'
for rate in "${rates[@]}"; do
  run pbx 5090 "$rate" $pbx_pid
  if [ $have_kamailio = yes ]; then
    mapfile -t kpids < <(pgrep -f "kamailio -f $work")
    run kamailio 5092 "$rate" "${kpids[@]}"
  fi
done
