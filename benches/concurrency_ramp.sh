#!/usr/bin/env bash
# Concurrency ramp: `pbx sim` (release) ramps up to about CALLS concurrent calls
# through `pbx serve` (release) and holds them, RTP (and the audio check) on a SHARE
# of the calls (1: every call), the rest with their media anchored but silent. Prints
# the peak concurrency, the audio checks, the switch's RSS per call up and its CPU.
# Needs about 4 open files per call in the switch (two RTP and two RTCP sockets) and
# one per phone in the sim: the script tries to raise the hard limit (as root; a
# container may forbid it) and both processes raise their soft limit to the hard one.
# Not run in CI.
#
#   benches/concurrency_ramp.sh [CALLS [SHARE]]      (default 10000 0.01)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-10000}
share=${2:-0.01}
hold=${HOLD:-100}
rate=$(( (calls + hold - 1) / hold ))
phones=$(( calls * 2 + 200 ))
ulimit -Hn $(( calls * 4 + 10000 )) 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -Hn)" -lt $(( calls * 4 + 1000 )) ]; then
  echo "the open-file limit ($(ulimit -Hn)) holds about $(( ($(ulimit -Hn) - 1000) / 4 )) relayed calls, not $calls" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'kill -INT $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q
bin=target/release/pbx
$bin tenant add ramp --domain ramp.test --data-dir "$work/data" >/dev/null
$bin user add-range --tenant ramp --from 100000 --to $((100000 + phones - 1)) --password 'pw{ext}' --data-dir "$work/data" >/dev/null
# Two even ports a call (one pair a leg): 25,000 pairs.
RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:5096 --http-addr off \
  --max-calls $((calls * 2)) --rtp-ports 10000-59999 > "$work/pbx.out" 2>&1 &
pid=$!
sleep 2
reg_rate=1000
cat > "$work/scenario.toml" <<TOML
target = "127.0.0.1:5096"
domain = "ramp.test"
extensions = "100000-$((100000 + phones - 1))"
password = "pw{ext}"
ramp = { from = $(( rate / 10 + 1 )), to = $rate, over = "20s" }
duration = "$(( hold + 40 ))s"
hold = "${hold}s"
answer_delay = "50ms"
timeout = "10s"
register_rate = $reg_rate
register_expires = 3600
rtp = "call"
rtp_share = $share
TOML
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
fds() { ls /proc/$pid/fd | wc -l; }
$bin sim --scenario "$work/scenario.toml" --json "$work/report.json" --quiet > "$work/sim.out" 2>&1 &
sim=$!
sleep $(( phones / reg_rate + 2 ))
rss0=$(rss); c0=$(cpu); t0=$(date +%s.%N)
# The ramp (20 s) and one hold time: the calls up are at their peak.
sleep $(( hold + 15 ))
rss1=$(rss); c1=$(cpu); t1=$(date +%s.%N); fd1=$(fds)
wait $sim || true
secs=$(echo "($c1 - $c0) / $ticks" | bc -l)
wall=$(echo "$t1 - $t0" | bc -l)
python3 - "$work/report.json" "$rss0" "$rss1" "$secs" "$wall" "$fd1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rss0, rss1, secs, wall, fds = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
peak = r.get("concurrent_peak") or r.get("peak_concurrent") or 0
print(f"sim: {r['attempted']} calls, {r['answered']} answered, failed {r['failed']}, peak {peak} concurrent")
print(f"audio checks: {r['audio_ok']} of {r['audio_checked']} passed")
print(f"pbx RSS: {rss0} KiB registered, {rss1} KiB at the peak: {(rss1 - rss0) / max(peak, 1):.1f} KiB per call up; {fds} open files")
print(f"pbx CPU over the ramp and hold ({wall:.0f} s): {secs:.1f} s ({secs / wall * 100:.0f}% of one core)")
PY
