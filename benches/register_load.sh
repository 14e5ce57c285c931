#!/usr/bin/env bash
# Registrations per second with digest auth: SIPp (UAC, one REGISTER challenged then
# authenticated per "call") against `pbx serve` (release build) on loopback, with the
# CPU seconds the pbx process used. Not run in CI.
#
#   benches/register_load.sh [RATE ...]      (default: 2000 4000 6000 8000 10000)
#
# Each rate runs for DURATION seconds (default 10) over USERS extensions (default 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
[ ${#rates[@]} -eq 0 ] && rates=(2000 4000 6000 8000 10000)
duration=${DURATION:-10}
users=${USERS:-5000}
port=${PORT:-5090}
work=$(mktemp -d)
trap 'kill $pbx_pid 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q
bin=target/release/pbx
$bin tenant add load --domain load.test --data-dir "$work/data" >/dev/null
$bin user add-range --tenant load --from 10000 --to $((10000 + users - 1)) --password 'pw{ext}pw' --data-dir "$work/data" >/dev/null
{
  echo SEQUENTIAL
  for ((i = 0; i < users; i++)); do echo "$((10000 + i));pw$((10000 + i))pw;load.test;3600"; done
} > "$work/users.csv"

RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:$port > "$work/pbx.out" 2>&1 &
pbx_pid=$!
sleep 1
ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{print ($14 + $15) / t}' /proc/$pbx_pid/stat; }

printf '| offered REGISTER/s | completed/s | failed | pbx CPU s | pbx CPU per registration | SIPp CPU s |\n'
printf '|---|---|---|---|---|---|\n'
for rate in "${rates[@]}"; do
  calls=$((rate * duration))
  before=$(cpu)
  start=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$work/sipp.time" sipp 127.0.0.1:$port -sf tests/sipp/register_auth.xml \
    -inf "$work/users.csv" -m $calls -r $rate -t u1 -i 127.0.0.1 -p 5190 -nostdin \
    -buff_size 8388608 -timeout $((duration * 3))s -trace_stat -stf "$work/stat.csv" \
    > "$work/sipp.out" 2>&1 || true
  end=$(date +%s.%N)
  after=$(cpu)
  ok=$(grep -E '^\s+Successful call' "$work/sipp.out" | awk '{print $NF}')
  failed=$(grep -E '^\s+Failed call' "$work/sipp.out" | awk '{print $NF}')
  elapsed=$(echo "$end - $start" | bc -l)
  used=$(echo "$after - $before" | bc -l)
  sipp_cpu=$(awk '{print $1 + $2}' "$work/sipp.time")
  printf '| %d | %.0f | %s | %.2f | %.1f µs | %.2f |\n' "$rate" "$(echo "$ok / $elapsed" | bc -l)" "${failed:-?}" \
    "$used" "$(echo "$used / ($ok + 0.0001) * 1000000" | bc -l)" "$sipp_cpu"
done
