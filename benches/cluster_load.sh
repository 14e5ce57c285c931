#!/usr/bin/env bash
# Calls per second through the edge with 1, 2 and 3 nodes on one shared PostgreSQL
# store: a PostgreSQL of its own (Debian's, as the `postgres` user when run as root),
# the Kamailio edge on 127.0.0.1:5094 (deploy/kamailio/edge.cfg), nodes on
# 127.0.0.2–127.0.0.4:5096 with `--store postgres://…`. Tenant loadN (domain
# loadN.test) has node N as its primary; with K nodes the offered rate is split over
# tenants load1…loadK, each called by a SIPp UAC through the edge, each callee a SIPp
# UAS registered through the edge. Prints, per node count, the calls completed per
# second, the CPU each node used per call it carried, the edge's and PostgreSQL's
# (every server process) per call. All
# of it shares this machine's cores with SIPp: the figures are costs, not capacity.
# Not run in CI.
#
#   benches/cluster_load.sh [RATE]     (offered calls/s in all; default 300)
#   NODES="1 2 3" DURATION=10 PBX_BIN=target/release/pbx benches/cluster_load.sh 300
#   STATEMENTS=1 …   also lists the statements PostgreSQL spent most time on
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-300}
duration=${DURATION:-10}
users=${USERS:-300}
nodes_list=${NODES:-1 2 3}
[ -n "${STATEMENTS:-}" ] && export PG_OPTS="-c shared_preload_libraries=pg_stat_statements"
source scripts/postgres.sh
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  kill -INT $(jobs -p) 2>/dev/null || true
  pkill -f "kamailio -f $work" 2>/dev/null || true
  pkill -f "sipp .*$work" 2>/dev/null || true
  pg_stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${PBX_BIN:-}" ]; then cargo build --release -q; fi
bin=${PBX_BIN:-target/release/pbx}

pg_start "$work/pg" 5499
url=$pg_url

for n in 1 2 3; do
  $bin tenant add "load$n" --domain "load$n.test" --store "$url" >/dev/null
  $bin line add-range --tenant "load$n" --from 10000 --to $((10000 + users - 1)) --password 'pw{ext}pw' --store "$url" >/dev/null
  $bin line add --tenant "load$n" 20000 --password callee-pw --store "$url" >/dev/null
  {
    echo SEQUENTIAL
    for ((i = 0; i < users; i++)); do echo "$((10000 + i));pw$((10000 + i))pw;20000;load$n.test"; done
  } > "$work/callers$n.csv"
  printf 'SEQUENTIAL\n20000;callee-pw;load%s.test;3600\n' "$n" > "$work/callee$n.csv"
done

ticks=$(getconf CLK_TCK)
cpu_of() { local t=0; for p in "$@"; do t=$(awk -v t="$t" '{print t + $14 + $15}' /proc/$p/stat); done; echo "$t / $ticks" | bc -l; }

printf '| nodes | offered calls/s | completed calls/s | failed | CPU per call, each node | edge CPU per call | PostgreSQL CPU per call |\n|---|---|---|---|---|---|---|\n'
for k in $nodes_list; do
  pids=()
  : > "$work/dispatcher.list"
  map=""
  for ((n = 1; n <= k; n++)); do
    RUST_LOG=warn $bin serve --store "$url" --data-dir "$work/node$n" --files-dir "$work/files" \
      --sip-addr "127.0.0.$((n + 1)):5096" --http-addr off --edge 127.0.0.1 --node-id "node-$n" \
      > "$work/node$n.out" 2>&1 &
    pids+=($!)
    echo "$n sip:127.0.0.$((n + 1)):5096 0 10" >> "$work/dispatcher.list"
    map="$map\$sht(tenants=>load$n.test) = $n; "
    sleep 1
  done
  sed -e 's/EDGE_IP/127.0.0.1/g; s/EDGE_PORT/5094/g' -e "s|DISPATCHER_LIST|$work/dispatcher.list|" \
    -e "s|#TENANT-MAP|$map|" -e 's/^debug=1/debug=0/' \
    deploy/kamailio/edge.cfg > "$work/edge.cfg"
  kamailio -f "$work/edge.cfg" -P "$work/kam.pid" -w "$work" -m 512 -M 32 > "$work/kam.out" 2>&1
  sleep 2
  mapfile -t kpids < <(pgrep -f "kamailio -f $work")
  per=$((rate / k))
  calls=$((per * duration))
  for ((n = 1; n <= k; n++)); do
    sipp 127.0.0.1:5094 -sf tests/sipp/register_auth.xml -auth_uri "load$n.test" -inf "$work/callee$n.csv" -m 1 -t u1 \
      -i 127.0.0.1 -p $((5200 + n)) -nostdin > /dev/null 2>&1
    sipp -sf tests/sipp/call_callee_rr.xml -t u1 -i 127.0.0.1 -p $((5200 + n)) -nostdin -bg \
      -default_behaviors all,-abortunexp -buff_size 8388608 -trace_err -error_file "$work/uas$n.err" > /dev/null 2>&1 || true
  done
  sleep 0.5
  before=(); for p in "${pids[@]}"; do before+=("$(cpu_of "$p")"); done
  edge0=$(cpu_of "${kpids[@]}")
  postmaster=$(head -1 "$work/pg/data/postmaster.pid")
  mapfile -t pgpids < <(echo "$postmaster"; pgrep -P "$postmaster")
  pg0=$(cpu_of "${pgpids[@]}")
  start=$(date +%s.%N)
  for ((n = 1; n <= k; n++)); do
    sipp 127.0.0.1:5094 -sf tests/sipp/call_caller.xml -auth_uri "load$n.test" -inf "$work/callers$n.csv" -m $calls -r $per -d 0 \
      -t u1 -i 127.0.0.1 -p $((5300 + n)) -nostdin -buff_size 8388608 -timeout $((duration * 4 + 10))s \
      > "$work/uac$n.out" 2>&1 &
    uacs[$n]=$!
  done
  for ((n = 1; n <= k; n++)); do wait "${uacs[$n]}" || true; done
  end=$(date +%s.%N)
  edge1=$(cpu_of "${kpids[@]}")
  pg1=$(cpu_of "${pgpids[@]}")
  ok=0; failed=0; per_node=""
  for ((n = 1; n <= k; n++)); do
    o=$(grep -E '^\s+Successful call' "$work/uac$n.out" | awk '{print $NF}'); o=${o:-0}
    f=$(grep -E '^\s+Failed call' "$work/uac$n.out" | awk '{print $NF}'); f=${f:-0}
    ok=$((ok + o)); failed=$((failed + f))
    used=$(echo "$(cpu_of "${pids[$((n - 1))]}") - ${before[$((n - 1))]}" | bc -l)
    per_node="$per_node$(printf '%.2f ms ' "$(echo "$used / ($o + 0.0001) * 1000" | bc -l)")"
  done
  elapsed=$(echo "$end - $start" | bc -l)
  printf '| %d | %d | %.0f | %d | %s| %.2f ms | %.2f ms |\n' "$k" "$((per * k))" "$(echo "$ok / $elapsed" | bc -l)" "$failed" \
    "$per_node" "$(echo "($edge1 - $edge0) / ($ok + 0.0001) * 1000" | bc -l)" \
    "$(echo "($pg1 - $pg0) / ($ok + 0.0001) * 1000" | bc -l)"
  pkill -f "sipp -sf tests/sipp/call_callee_rr.xml" || true
  pkill -f "kamailio -f $work" || true
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  sleep 1
done
if [ -n "${STATEMENTS:-}" ]; then
  psql -h 127.0.0.1 -p 5499 -U postgres -d pbx -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
    -c "SELECT calls, round(total_exec_time::numeric, 1) AS ms, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15"
fi

