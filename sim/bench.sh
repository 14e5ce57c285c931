#!/usr/bin/env bash
# The load-generator benchmark of BENCHMARKS.md: `pbx sim --uac-only` and SIPp's own
# UAC, each against the same SIPp UAS (tests/sipp/call_callee.xml), same hold time,
# same duration, at each rate given; a rate passes with 0 failed calls.
#
#   cargo build --release
#   sim/bench.sh 200 500 1000          # rates (calls/s) to try
#
# Env: HOLD (s, default 2), DURATION (s, default 20), PORT (default 15090).
# Per run it prints: generator, rate asked, calls attempted, failed, calls/s achieved
# and the generator's CPU seconds (utime+stime from /proc/PID/stat, sampled every
# 0.2 s until it exits) and CPU ms per call.
set -u
cd "$(dirname "$0")/.."
HOLD=${HOLD:-2}
DURATION=${DURATION:-20}
PORT=${PORT:-15090}
PBX=target/release/pbx
TMP=$(mktemp -d)
TICK=$(getconf CLK_TCK)

uas_start() {
    sipp -sf tests/sipp/call_callee.xml -i 127.0.0.1 -p "$PORT" \
        -default_behaviors all,-abortunexp -buff_size 8388608 -bg >"$TMP/uas.out" 2>&1
    UAS=$(grep -o 'PID=\[[0-9]*\]' "$TMP/uas.out" | tr -dc 0-9)
}
uas_stop() { kill "$UAS" 2>/dev/null; while kill -0 "$UAS" 2>/dev/null; do sleep 0.1; done; }

# Runs "$@" in the background, samples its CPU until it exits; sets CPU (s) and RC.
measure() {
    "$@" &
    local pid=$! ticks=0 t
    while kill -0 "$pid" 2>/dev/null; do
        t=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null) && ticks=${t:-$ticks}
        sleep 0.2
    done
    wait "$pid"
    RC=$?
    CPU=$(echo "scale=2; $ticks / $TICK" | bc)
}

printf '%-6s %6s %9s %7s %8s %8s %10s\n' gen rate attempted failed cps cpu_s cpu_ms/call
for RATE in "$@"; do
    # pbx sim, no RTP (SIPp's UAC sends none either).
    uas_start
    measure "$PBX" sim --uac-only --target "127.0.0.1:$PORT" --numbers 1000-1999 \
        --rate "$RATE" --duration "${DURATION}s" --hold "${HOLD}s" --rtp off \
        --quiet --json "$TMP/sim.json" >/dev/null 2>&1
    uas_stop
    read -r att fail cps < <(python3 -c "import json,sys; r=json.load(open('$TMP/sim.json')); print(r['attempted'], sum(r['failed'].values()), r['cps'])")
    printf '%-6s %6s %9s %7s %8s %8s %10s\n' sim "$RATE" "$att" "$fail" "$cps" "$CPU" \
        "$(echo "scale=3; 1000 * $CPU / ($att + 0.0001)" | bc)"

    # SIPp's UAC: the same number of calls at the same rate, same hold.
    uas_start
    N=$(echo "$RATE * $DURATION / 1" | bc)
    start=$(date +%s.%N)
    measure sipp -sn uac "127.0.0.1:$PORT" -i 127.0.0.1 -s 1000 -r "$RATE" -m "$N" \
        -d "$((HOLD * 1000))" -buff_size 8388608 -nostdin -trace_stat -stf "$TMP/uac.csv" \
        -timeout "$((DURATION + HOLD + 30))s" >/dev/null 2>&1
    end=$(date +%s.%N)
    uas_stop
    failed=$(tail -1 "$TMP/uac.csv" | awk -F';' '{print $0}' | python3 -c "
import sys
head = open('$TMP/uac.csv').readline().strip().split(';')
last = sys.stdin.read().strip().split(';')
print(last[head.index('FailedCall(C)')])" 2>/dev/null || echo "?")
    [ "$RC" = 0 ] || failed="${failed}(rc $RC)"
    printf '%-6s %6s %9s %7s %8s %8s %10s\n' sipp "$RATE" "$N" "$failed" \
        "$(echo "scale=2; $N / ($end - $start - $HOLD)" | bc)" "$CPU" \
        "$(echo "scale=3; 1000 * $CPU / $N" | bc)"
done
rm -rf "$TMP"
