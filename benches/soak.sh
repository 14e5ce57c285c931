#!/usr/bin/env bash
# Soak: `pbx sim` at a steady call rate for an hour against `pbx serve`, RTP on every
# call for its whole length (the audio checks), while the switch's RSS, open file
# descriptors and UDP sockets are sampled every 30 s. Not run in CI.
#
#   benches/soak.sh                       (100 calls/s for 3600 s, 2 s calls)
#   RATE=50 DURATION=600 benches/soak.sh  (a shorter one)
#
# Prints the sim's report, then the samples (seconds, RSS KiB, fds, UDP sockets)
# and the first and last after the first minute.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${RATE:-100}
duration=${DURATION:-3600}
hold=${HOLD:-2s}
work=$(mktemp -d)
trap 'kill -INT $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p pbx
bin=target/release/pbx
$bin tenant add soak --domain soak.test --data-dir "$work/data" >/dev/null
$bin user add-range --tenant soak --from 1000 --to 1999 --password 'pw{ext}' --data-dir "$work/data" >/dev/null

RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:5094 --http-addr off > "$work/pbx.out" 2>&1 &
pbx_pid=$!
sleep 1

sample() { # seconds
  local rss fds udp
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$pbx_pid/status)
  fds=$(ls /proc/$pbx_pid/fd | wc -l)
  udp=$(ss -uanp 2>/dev/null | grep -c "pid=$pbx_pid," || true)
  echo "$1 $rss $fds $udp"
}
(
  start=$(date +%s)
  while kill -0 $pbx_pid 2>/dev/null; do
    sample $(($(date +%s) - start)) >> "$work/samples"
    sleep 30
  done
) &

status=0
$bin sim --target 127.0.0.1:5094 --domain soak.test --extensions 1000-1999 --password 'pw{ext}' \
  --rate "$rate" --duration "${duration}s" --hold "$hold" --answer-delay 100ms --rtp call \
  --json "$work/report.json" --quiet || status=$?
sample after >> "$work/samples"
echo "sim exit status: $status"
cp "$work/report.json" "${REPORT:-/tmp/soak-report.json}"
echo "report JSON copied to ${REPORT:-/tmp/soak-report.json}"
echo "samples (s, RSS KiB, fds, UDP sockets):"
cat "$work/samples"
echo "after the first minute, first and last:"
awk '$1 != "after" && $1 >= 60' "$work/samples" | sed -n '1p;$p'
grep -c -i "panic\|error" "$work/pbx.out" | xargs echo "pbx log lines with panic/error:"
exit $status
