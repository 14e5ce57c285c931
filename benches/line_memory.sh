#!/usr/bin/env bash
# Memory per idle registered line: RSS of `pbx serve` (from /proc) as extensions
# register, each batch left idle long enough for its lines to hibernate (a line
# with no request for longer than a nonce lives, 300 s, stops its actor and keeps
# only its bindings). Not run in CI.
#
#   benches/line_memory.sh [N] [BATCHES]      (default 20000 lines in 1 batch)
#
# With several batches, the figure that matters is the growth per line of the later
# batches: their lines' actors reuse the memory the earlier batches' hibernated
# actors gave back, so it is what an idle registered line keeps. SETTLE (seconds,
# default 340) is the idle time after each batch.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
batches=${2:-1}
settle=${SETTLE:-340}
per=$((n / batches))
work=$(mktemp -d)
trap 'kill -INT $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q
bin=target/release/pbx
$bin tenant add mem --domain mem.test --data-dir "$work/data" >/dev/null
$bin user add-range --tenant mem --from 100000 --to $((100000 + n - 1)) --password 'pw{ext}pw' --data-dir "$work/data" >/dev/null
RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:5097 --http-addr off > "$work/pbx.out" 2>&1 &
pid=$!
sleep 1
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
before=$(rss)
echo "RSS before: ${before} KiB"
prev=$before
for ((b = 0; b < batches; b++)); do
  first=$((100000 + b * per))
  { echo SEQUENTIAL; for ((i = 0; i < per; i++)); do echo "$((first + i));pw$((first + i))pw;mem.test;3600"; done; } > "$work/users.csv"
  sipp 127.0.0.1:5097 -sf tests/sipp/register_auth.xml -auth_uri mem.test -inf "$work/users.csv" -m $per -r 3000 -t u1 -i 127.0.0.1 -p 5197 \
    -nostdin -buff_size 8388608 > "$work/sipp.out" 2>&1 || true
  ok=$(grep -E '^\s+Successful call' "$work/sipp.out" | awk '{print $NF}')
  awake=$(rss)
  sleep "$settle"
  now=$(rss)
  echo "batch $((b + 1)): $ok registered; RSS just after: ${awake} KiB, after ${settle} s idle: ${now} KiB; growth per line: $(echo "($now - $prev) * 1024 / $ok" | bc) bytes"
  prev=$now
done
echo "all $n lines: $(echo "($prev - $before) * 1024 / $n" | bc) bytes per line"
