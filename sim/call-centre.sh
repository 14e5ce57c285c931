#!/usr/bin/env bash
# The call-centre benchmark of BENCHMARKS.md, against a fresh `pbx serve` on loopback.
#
#   cargo build --release
#   sim/call-centre.sh
#
# 1. Served: sim/scenarios/call-centre.toml (1,000 callers at 20/s to queue 310, 200
#    agents answering after 1 s and talking 4-12 s). Prints the sim's report (audio,
#    queue wait, agent free → next offer) and the switch's CPU seconds and peak RSS.
# 2. Waiting: WAITING callers (default 1,000) dial queue 311, whose one agent is busy
#    for the whole run, at 100/s, and wait with music on hold until their patience
#    (20 s) runs out (so they all end "abandoned": expected). Prints the switch's RSS
#    with nobody waiting and with everybody waiting, and its CPU per waiting call.
#
# Env: PORT (default 15160), WAITING (default 1000).
set -eu
cd "$(dirname "$0")/.."
PBX=$PWD/target/release/pbx
PORT=${PORT:-15160}
WAITING=${WAITING:-1000}
DIR=$(mktemp -d)
TICK=$(getconf CLK_TCK)
PAGE_KB=$(($(getconf PAGESIZE) / 1024))
trap 'kill -INT $SWITCH 2>/dev/null; rm -rf "$DIR"' EXIT

serve() {
    "$PBX" serve --data-dir "$DIR" --sip-addr "127.0.0.1:$PORT" --rtp-ports 30000-39999 \
        >"$DIR/serve.log" 2>&1 &
    SWITCH=$!
    until grep -q "listening" "$DIR/serve.log" 2>/dev/null; do sleep 0.2; done
}
cpu_s() { awk -v t="$TICK" '{printf "%.2f", ($14+$15)/t}' "/proc/$SWITCH/stat"; }
rss_kb() { awk -v p="$PAGE_KB" '{print $2*p}' "/proc/$SWITCH/statm"; }
# Samples the switch's RSS while "$@" runs; sets PEAK_KB.
peak_while() {
    "$@" &
    local pid=$! r
    PEAK_KB=0
    while kill -0 "$pid" 2>/dev/null; do
        r=$(rss_kb) && [ "$r" -gt "$PEAK_KB" ] && PEAK_KB=$r
        sleep 0.2
    done
    wait "$pid" || true
}

# The demo tenant is made on the first start; lines and queues are added stopped.
serve
kill -INT "$SWITCH"; wait "$SWITCH" 2>/dev/null || true
"$PBX" line add-range --data-dir "$DIR" --tenant demo --from 1000 --to 1999 --password 'pw{ext}' >/dev/null
"$PBX" line add-range --data-dir "$DIR" --tenant demo --from 2000 --to 2199 --password 'pw{ext}' >/dev/null
"$PBX" plan show --data-dir "$DIR" --tenant demo >"$DIR/plan.json"
python3 - "$DIR/plan.json" <<'EOF'
import json, sys
path = sys.argv[1]
plan = json.load(open(path))
def queue(number, members):
    return {"number": number, "name": f"Centre {number}", "members": members,
            "strategy": "longest_idle", "wrap_up_seconds": 0, "agent_ring_seconds": 15,
            "announce_seconds": 30}
plan["queues"] += [queue("310", [str(n) for n in range(2000, 2200)]),
                   queue("311", ["2199"])]
json.dump(plan, open(path, "w"), indent=1)
EOF
"$PBX" plan set --data-dir "$DIR" --tenant demo "$DIR/plan.json" >/dev/null
serve
sleep 3

echo "== served: 1,000 callers at 20/s, 200 agents"
cpu0=$(cpu_s)
peak_while "$PBX" sim --scenario sim/scenarios/call-centre.toml --target "127.0.0.1:$PORT" \
    --quiet --json "$DIR/served.json"
cpu1=$(cpu_s)
python3 - "$DIR/served.json" <<EOF
import json, sys
r = json.load(open(sys.argv[1]))
c = r["centre"]
print(f"calls {r['attempted']} answered {r['answered']} audio ok {r['audio_ok']}/{r['audio_checked']} failed {r['failed']}")
print(f"queue wait p50 {c['wait_ms']['p50']} p99 {c['wait_ms']['p99']} ms; agent free→offer p50 {c['offer_ms']['p50']} p99 {c['offer_ms']['p99']} max {c['offer_ms']['max']} ms ({c['offer_ms']['count']} timed)")
print(f"switch CPU {float('$cpu1') - float('$cpu0'):.2f} s over {r['elapsed_s']} s, {1000 * (float('$cpu1') - float('$cpu0')) / max(r['attempted'], 1):.2f} ms per call; peak RSS $PEAK_KB KiB")
EOF

echo "== waiting: $WAITING callers on hold in one queue"
sleep 3
cpu0=$(cpu_s)
t0=$(date +%s.%N)
"$PBX" sim --target "127.0.0.1:$PORT" --extensions "1000-$((999 + WAITING))" \
    --password 'pw{ext}' --queue 311 --agents 2199-2199 --rate 100 \
    --duration "$((WAITING / 100))s" --hold 25s --patience 20s --answer-delay 0s \
    --json "$DIR/waiting.json" >/dev/null 2>"$DIR/progress" &
SIM=$!
# (calls up, switch RSS) every 0.2 s: the growth per waiting call is the slope, with
# every phone registered throughout.
while kill -0 "$SIM" 2>/dev/null; do
    active=$(tail -n1 "$DIR/progress" | sed -nE 's/.* active +([0-9]+) .*/\1/p')
    [ -n "$active" ] && echo "$active $(rss_kb)" >>"$DIR/samples"
    sleep 0.2
done
wait "$SIM" || true
cpu1=$(cpu_s)
t1=$(date +%s.%N)
python3 - "$DIR/samples" "$cpu0" "$cpu1" "$t0" "$t1" <<'EOF'
import sys
samples = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
cpu0, cpu1, t0, t1 = map(float, sys.argv[2:6])
peak = max(samples)
quarter = next(s for s in samples if s[0] >= peak[0] // 4)
per_call = (peak[1] - quarter[1]) / max(peak[0] - quarter[0], 1)
print(f"peak waiting {peak[0]}; switch RSS {quarter[1]} KiB at {quarter[0]} waiting, "
      f"{peak[1]} KiB at {peak[0]}: {per_call:.1f} KiB per waiting call")
print(f"switch CPU {cpu1 - cpu0:.2f} s over {t1 - t0:.1f} s "
      f"(up to {peak[0]} callers hearing music for 20 s each)")
EOF
