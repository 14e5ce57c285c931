#!/usr/bin/env bash
# The simulator's own concurrency: `pbx sim --uac-only` ramps up to about CALLS
# concurrent calls against `pbx sim --uas` (no switch between: what one sim process
# holds), RTP and the audio check on a SHARE of the calls. Prints the peak, the audio
# checks and each side's CPU and RSS. The two sims' RTP pools (32 sockets each) tell
# calls apart by their pair of sockets: up to about a thousand calls with RTP at once.
# Not run in CI.
#
#   benches/sim_ramp.sh [CALLS [SHARE]]      (default 10000 0.01)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-10000}
share=${2:-0.01}
hold=${HOLD:-100}
rate=$(( (calls + hold - 1) / hold ))
work=$(mktemp -d)
trap 'kill -INT $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q
bin=target/release/pbx
duration=$(( hold + 40 ))
# The UAS waits for each BYE up to its own hold time (and three timeouts).
$bin sim --uas --listen 127.0.0.1:5095 --dids 1-99999999 --rtp-share "$share" --hold "${hold}s" \
  --duration "$(( duration + hold + 30 ))s" --quiet --json "$work/uas.json" > "$work/uas.out" 2>&1 &
uas=$!
sleep 1
$bin sim --uac-only --target 127.0.0.1:5095 --numbers 1000-1999 --rate "$rate" --hold "${hold}s" \
  --duration "${duration}s" --rtp-share "$share" --quiet --json "$work/uac.json" > "$work/uac.out" 2>&1 &
uac=$!
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
rss() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
# One hold time and the ramp: the calls up are at their peak.
sleep $(( hold + 10 ))
echo "at the peak: UAC RSS $(rss $uac) KiB, CPU $(echo "$(cpu $uac) / $ticks" | bc -l | xargs printf %.1f) s; UAS RSS $(rss $uas) KiB, CPU $(echo "$(cpu $uas) / $ticks" | bc -l | xargs printf %.1f) s"
wait $uac || true
kill -INT $uas 2>/dev/null || true
wait $uas || true
python3 - "$work/uac.json" "$work/uas.json" <<'PY'
import json, sys
for side, path in (("UAC", sys.argv[1]), ("UAS", sys.argv[2])):
    try:
        r = json.load(open(path))
    except Exception as e:
        print(side, "no report:", e)
        continue
    print(f"{side}: {r['attempted']} calls, {r['answered']} answered, failed {r['failed']}, peak {r['concurrent_peak']} concurrent, audio {r['audio_ok']} of {r['audio_checked']} passed")
PY
