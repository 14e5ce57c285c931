#!/usr/bin/env bash
# Calls per second through the edge proxy: SIPp UAC → Kamailio edge
# (deploy/kamailio/edge.cfg, 127.0.0.1:5094) → `pbx serve` node (127.0.0.2:5096,
# `--edge 127.0.0.1`, challenges the INVITE with 407, media anchored) → back through
# the edge along the callee's Path → SIPp UAS (registered through the edge). Prints
# the CPU the node and the edge each used per call. Needs Debian's kamailio and sipp.
# Not run in CI.
#
#   benches/edge_load.sh [RATE ...]     (default: 200 500)
#   DURATION=10 PBX_BIN=target/release/pbx benches/edge_load.sh 500
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
[ ${#rates[@]} -eq 0 ] && rates=(200 500)
duration=${DURATION:-10}
users=${USERS:-1000}
source benches/load_tenant.sh

RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.2:5096 --http-addr off \
  --edge 127.0.0.1 --node-id node-1 > "$work/pbx.out" 2>&1 &
pbx_pid=$!
echo "1 sip:127.0.0.2:5096 0 10" > "$work/dispatcher.list"
sed -e 's/EDGE_IP/127.0.0.1/g; s/EDGE_PORT/5094/g' -e "s|DISPATCHER_LIST|$work/dispatcher.list|" \
  -e 's|#TENANT-MAP|$sht(tenants=>load.test) = 1;|' -e 's/^debug=1/debug=0/' \
  deploy/kamailio/edge.cfg > "$work/edge.cfg"
kamailio -f "$work/edge.cfg" -P "$work/kam.pid" -w "$work" -m 512 -M 32 > "$work/kam.out" 2>&1
sleep 1.5
# The callee registers through the edge (its binding keeps the edge's Path).
sipp 127.0.0.1:5094 -sf tests/sipp/register_auth.xml -auth_uri load.test -inf "$work/callee.csv" -m 1 -t u1 \
  -i 127.0.0.1 -p 5198 -nostdin > /dev/null 2>&1
ticks=$(getconf CLK_TCK)
cpu_of() { local t=0; for p in "$@"; do t=$(awk -v t="$t" '{print t + $14 + $15}' /proc/$p/stat); done; echo "$t / $ticks" | bc -l; }
mapfile -t kpids < <(pgrep -f "kamailio -f $work")

printf '| offered calls/s | completed calls/s | failed | node CPU per call | edge CPU per call |\n|---|---|---|---|---|\n'
for rate in "${rates[@]}"; do
  calls=$((rate * duration))
  sipp -sf tests/sipp/call_callee_rr.xml -t u1 -i 127.0.0.1 -p 5198 -nostdin -bg -default_behaviors all,-abortunexp \
    -buff_size 8388608 > /dev/null 2>&1 || true
  sleep 0.5
  node0=$(cpu_of $pbx_pid); edge0=$(cpu_of "${kpids[@]}"); start=$(date +%s.%N)
  sipp 127.0.0.1:5094 -sf tests/sipp/call_caller.xml -auth_uri load.test -inf "$work/callers.csv" -m $calls -r $rate -d 0 -t u1 \
    -i 127.0.0.1 -p 5199 -nostdin -buff_size 8388608 -timeout $((duration * 4 + 10))s > "$work/uac.out" 2>&1 || true
  end=$(date +%s.%N); node1=$(cpu_of $pbx_pid); edge1=$(cpu_of "${kpids[@]}")
  pkill -f "sipp -sf tests/sipp/call_callee_rr.xml" || true
  ok=$(grep -E '^\s+Successful call' "$work/uac.out" | awk '{print $NF}')
  failed=$(grep -E '^\s+Failed call' "$work/uac.out" | awk '{print $NF}')
  elapsed=$(echo "$end - $start" | bc -l)
  printf '| %d | %.0f | %s | %.2f ms | %.2f ms |\n' "$rate" "$(echo "$ok / $elapsed" | bc -l)" "${failed:-?}" \
    "$(echo "($node1 - $node0) / ($ok + 0.0001) * 1000" | bc -l)" "$(echo "($edge1 - $edge0) / ($ok + 0.0001) * 1000" | bc -l)"
done
