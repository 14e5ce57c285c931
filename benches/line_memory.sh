#!/usr/bin/env bash
# Memory per idle registered line: RSS of `pbx serve` before and after N extensions
# register (each gets its line actor and binding), measured from /proc. Not run in CI.
#
#   benches/line_memory.sh [N]        (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q
bin=target/release/pbx
$bin tenant add mem --domain mem.test --data-dir "$work/data" >/dev/null
$bin user add-range --tenant mem --from 100000 --to $((100000 + n - 1)) --password 'pw{ext}pw' --data-dir "$work/data" >/dev/null
{ echo SEQUENTIAL; for ((i = 0; i < n; i++)); do echo "$((100000 + i));pw$((100000 + i))pw;mem.test;3600"; done; } > "$work/users.csv"
RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:5097 > "$work/pbx.out" 2>&1 &
pid=$!
sleep 1
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
before=$(rss)
sipp 127.0.0.1:5097 -sf tests/sipp/register_auth.xml -auth_uri mem.test -inf "$work/users.csv" -m $n -r 3000 -t u1 -i 127.0.0.1 -p 5197 \
  -nostdin -buff_size 8388608 > "$work/sipp.out" 2>&1 || true
ok=$(grep -E '^\s+Successful call' "$work/sipp.out" | awk '{print $NF}')
sleep ${SETTLE:-40}  # let the transactions (Timer J, 32 s) end
after=$(rss)
echo "lines registered: $ok; RSS before: ${before} KiB, after: ${after} KiB; per line: $(echo "($after - $before) * 1024 / $ok" | bc) bytes"
