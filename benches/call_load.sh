#!/usr/bin/env bash
# Calls per second through the switch: SIPp UAC (INVITE challenged with 407, answered
# with credentials, 180, 200, ACK, optional hold, BYE) → `pbx serve` (B2BUA, media
# anchored: every call gets RTP ports) → SIPp UAS, with the CPU the pbx process used.
# With Kamailio installed (kamailio kamailio-sqlite-modules sqlite3), the same load
# through Kamailio as a stateful proxy that challenges INVITEs (benches/kamailio/proxy.cfg).
# Not run in CI.
#
#   benches/call_load.sh [RATE ...]     (default: 100 200 400)
#   HOLD_MS=0 DURATION=10 benches/call_load.sh 200
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
[ ${#rates[@]} -eq 0 ] && rates=(100 200 400)
duration=${DURATION:-10}
hold=${HOLD_MS:-0}
users=${USERS:-1000}
source benches/load_tenant.sh

RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:5096 > "$work/pbx.out" 2>&1 &
pbx_pid=$!
sleep 1
# The callee: register its contact from the UAS port, then serve calls there.
sipp 127.0.0.1:5096 -sf tests/sipp/register_auth.xml -auth_uri load.test -inf "$work/callee.csv" -m 1 -t u1 -i 127.0.0.1 -p 5198 -nostdin > /dev/null 2>&1

have_kamailio=no
if command -v kamailio >/dev/null && command -v sqlite3 >/dev/null; then
  have_kamailio=yes
  sqlite3 "$work/kam.db" "CREATE TABLE version (table_name VARCHAR(32) PRIMARY KEY, table_version INTEGER); INSERT INTO version VALUES ('subscriber', 7);
    CREATE TABLE subscriber (id INTEGER PRIMARY KEY, username VARCHAR(64) DEFAULT '' NOT NULL, domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL, ha1 VARCHAR(128) DEFAULT '' NOT NULL, ha1b VARCHAR(128) DEFAULT '' NOT NULL);"
  for ((i = 0; i < users; i++)); do echo "INSERT INTO subscriber (username, domain, password) VALUES ('$((10000 + i))', 'load.test', 'pw$((10000 + i))pw');"; done | sqlite3 "$work/kam.db"
  sed "s|DBPATH|$work/kam.db|; s|UASADDR|127.0.0.1:5198|" benches/kamailio/proxy.cfg > "$work/proxy.cfg"
  kamailio -f "$work/proxy.cfg" -A WITH_AUTH -P "$work/kam.pid" -w "$work" -m 512 -M 32 > "$work/kam.out" 2>&1
fi
sleep 1
ticks=$(getconf CLK_TCK)
cpu_of() { local t=0; for p in "$@"; do t=$(awk -v t="$t" '{print t + $14 + $15}' /proc/$p/stat); done; echo "$t / $ticks" | bc -l; }

run() { # label port rate pids...
  local label=$1 port=$2 rate=$3; shift 3
  local calls=$((rate * duration))
  sipp -sf tests/sipp/call_callee.xml -t u1 -i 127.0.0.1 -p 5198 -nostdin -bg -default_behaviors all,-abortunexp \
    -buff_size 8388608 -trace_stat -stf "$work/uas.csv" > /dev/null 2>&1 || true
  sleep 0.5
  local before start end after
  before=$(cpu_of "$@"); start=$(date +%s.%N)
  sipp 127.0.0.1:$port -sf tests/sipp/call_caller.xml -auth_uri load.test -inf "$work/callers.csv" -m $calls -r $rate -d $hold -t u1 \
    -i 127.0.0.1 -p 5199 -nostdin -buff_size 8388608 -timeout $((duration * 4 + hold / 1000 + 10))s > "$work/uac.out" 2>&1 || true
  end=$(date +%s.%N); after=$(cpu_of "$@")
  pkill -f "sipp -sf tests/sipp/call_callee.xml" || true
  local ok failed used elapsed setup
  ok=$(grep -E '^\s+Successful call' "$work/uac.out" | awk '{print $NF}')
  # SIPp's cumulative average from the first INVITE to the 200 (rtd on the 200, 407
  # round trip included), which SIPp measures in whole milliseconds.
  setup=$(grep -E 'Response Time 1' "$work/uac.out" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ' \
    | awk -F: '{ms = ($1 * 3600 + $2 * 60 + $3) * 1000 + $4 / 1000; if (ms < 1) print "< 1 ms"; else printf "%.1f ms", ms}')
  failed=$(grep -E '^\s+Failed call' "$work/uac.out" | awk '{print $NF}')
  used=$(echo "$after - $before" | bc -l); elapsed=$(echo "$end - $start" | bc -l)
  printf '| %s | %d | %s | %.0f | %s | %s | %.2f | %.2f ms |\n' "$label" "$rate" "$hold" "$(echo "$ok / $elapsed" | bc -l)" \
    "${failed:-?}" "${setup:-?}" "$used" "$(echo "$used / ($ok + 0.0001) * 1000" | bc -l)"
}

printf '| server | offered calls/s | hold ms | completed calls/s | failed | setup (avg INVITE→200) | server CPU s | CPU per call |\n|---|---|---|---|---|---|---|---|\n'
for rate in "${rates[@]}"; do
  run pbx 5096 "$rate" $pbx_pid
  if [ $have_kamailio = yes ]; then
    mapfile -t kpids < <(pgrep -f "kamailio -f $work")
    run kamailio 5094 "$rate" "${kpids[@]}"
  fi
done
