#!/usr/bin/env bash
# CPU per relayed RTP packet with many concurrent calls: `pbx sim` (release) keeps about
# CALLS concurrent calls up through `pbx serve` (release), RTP both ways for the whole
# call (PCMU, 20 ms: 100 packets/s relayed per call), and the pbx process's CPU over the
# steady part of the run is divided by the packets relayed in it. Not run in CI.
#
#   benches/relay_load.sh [CALLS]      (default 500)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-500}
hold=20
rate=$(( (calls + hold - 1) / hold ))
phones=$(( calls * 2 + 200 ))
work=$(mktemp -d)
trap 'kill -INT $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q
bin=target/release/pbx
$bin tenant add relay --domain relay.test --data-dir "$work/data" >/dev/null
$bin user add-range --tenant relay --from 10000 --to $((10000 + phones - 1)) --password 'pw{ext}' --data-dir "$work/data" >/dev/null
RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:5098 --max-calls $((calls * 2)) > "$work/pbx.out" 2>&1 &
pid=$!
sleep 1
cat > "$work/scenario.toml" <<TOML
target = "127.0.0.1:5098"
domain = "relay.test"
extensions = "10000-$((10000 + phones - 1))"
password = "pw{ext}"
rate = $rate
duration = "$((hold * 3))s"
hold = "${hold}s"
answer_delay = "50ms"
timeout = "10s"
register_rate = 500
rtp = "call"
TOML
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
# CPU ticks per thread name (RTP workers, tokio workers, ...), to see where it goes.
threads() { for t in /proc/$pid/task/*; do printf '%s %s\n' "$(cat $t/comm | tr ' ' _)" "$(sed 's/.*) //' $t/stat | awk '{print $12 + $13}')"; done | awk '{s[$1]+=$2} END {for (k in s) print k, s[k]}' | sort; }
$bin sim --scenario "$work/scenario.toml" --json "$work/report.json" --quiet > "$work/sim.out" 2>&1 &
sim=$!
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
# Registration (RSS then: the lines, few calls yet), plus one hold time of ramp: then
# the number of calls up is steady.
sleep $(( phones / 500 ))
rss0=$(rss)
sleep $(( hold + 2 ))
rss1=$(rss)
c0=$(cpu); t0=$(date +%s.%N); threads > "$work/threads0"
sleep $hold
c1=$(cpu); t1=$(date +%s.%N); threads > "$work/threads1"
wait $sim || true
secs=$(echo "($c1 - $c0) / $ticks" | bc -l)
wall=$(echo "$t1 - $t0" | bc -l)
packets=$(echo "$calls * 100 * $wall" | bc -l)
echo "concurrent calls ~$calls, window ${wall}s: pbx CPU ${secs}s, ~$(printf %.0f "$packets") packets relayed"
echo "CPU per relayed packet: $(echo "$secs / $packets * 1000000000" | bc -l | xargs printf %.0f) ns ($(echo "$secs / $wall * 100" | bc -l | xargs printf %.0f)% of one core)"
echo "RSS: $rss0 KiB registered, $rss1 KiB with the calls up: $(( (rss1 - rss0) / calls )) KiB per call"
echo "pbx CPU by thread over the window (s):"
join "$work/threads0" "$work/threads1" | awk -v t=$ticks '{d = ($3 - $2) / t; if (d > 0) printf "  %-16s %.2f\n", $1, d}'
python3 -c "import json; r=json.load(open('$work/report.json')); print('sim: attempted', r['attempted'], 'answered', r['answered'], 'failed', r['failed'], 'audio_ok', r['audio_ok'], 'of', r['audio_checked'], 'peak', r.get('concurrent_peak'))"
