#!/usr/bin/env bash
# Calls per second through SIP trunks, with the CPU the pbx process used per call,
# against internal calls in the same run (benches/call_load.sh's SIPp caller):
#   internal  SIPp UAC (407, credentials) → pbx → SIPp UAS registered as line 20000
#   outbound  the same callers dial +49… : least-cost routing over 5,000 prefixes
#             (the plan's LCR zones) → trunk "carrier" → `pbx sim --uas` (the carrier)
#   inbound   `pbx sim --uac-only` from the trunk's address calls a DDI → line 20000
# Not run in CI.
#
#   benches/trunk_load.sh [RATE ...]     (default: 100 200)
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
[ ${#rates[@]} -eq 0 ] && rates=(100 200)
duration=${DURATION:-10}
users=${USERS:-1000}
work=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "work: $work" >&2
trap 'kill -INT $(jobs -p) 2>/dev/null || true; pkill -f "sipp -sf tests/sipp/call_callee.xml" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

cargo build --release -q
bin=target/release/pbx
data="$work/data"
$bin tenant add load --domain load.test --data-dir "$data" >/dev/null
$bin user add-range --tenant load --from 10000 --to $((10000 + users - 1)) --password 'pw{ext}pw' --data-dir "$data" >/dev/null
$bin user add --tenant load 20000 --password callee-pw --data-dir "$data" >/dev/null
# The demo plan, for the load tenant: 5,000 LCR prefixes in 50 zones, each zone on a
# provider of its own at every hour, all on trunk "carrier"; one DDI to line 20000.
timeout 3 $bin serve --data-dir "$work/demo" --sip-addr 127.0.0.1:0 >/dev/null 2>&1 || true
$bin plan show --tenant demo --data-dir "$work/demo" > "$work/demo.json"
python3 - "$work/demo.json" "$work/plan.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["name"] = "load"
p["trunks"] = [{"name": "carrier", "format": "e164"}]
p["outbound"] = [{"name": "default", "patterns": ["+."], "priority": 10, "trunks": ["carrier"]}]
p["emergency"]["trunk"] = "carrier"
p["extensions"].append({"number": "20000", "name": "callee", "devices": ["sip:20000@load.test"], "voicemail": False})
p["ddi_numbers"] = [{"number": "+4930555000", "target": "20000"}]
zones, providers, assignments = [], [], []
for z in range(50):
    # 100 prefixes per zone: +49 3 NN MM (5,000 distinct, 5 to 6 digits long).
    zones.append({"name": f"z{z}", "prefixes": [f"+493{z:02d}{m:02d}" for m in range(100)]})
    providers.append({"name": f"p{z}", "prefix": f"010{z:02d}", "trunk": "carrier"})
    for day in ["weekday", "saturday", "sunday"]:
        assignments.append({"zone": f"z{z}", "day": day, "from_slot": 0, "to_slot": 48, "provider": f"p{z}"})
p["lcr"] = {"providers": providers, "zones": zones, "assignments": assignments}
json.dump(p, open(sys.argv[2], "w"))
EOF
$bin plan set --tenant load "$work/plan.json" --data-dir "$data" >/dev/null
$bin trunk add --tenant load carrier --host 127.0.0.1 --port 5197 --keepalive 30 --data-dir "$data" >/dev/null
{
  echo SEQUENTIAL
  for ((i = 0; i < users; i++)); do echo "$((10000 + i));pw$((10000 + i))pw;20000;load.test"; done
} > "$work/internal.csv"
{
  echo SEQUENTIAL
  for ((i = 0; i < users; i++)); do echo "$((10000 + i));pw$((10000 + i))pw;+4930$((i % 50 + 10))$((i % 90 + 10))77;load.test"; done
} > "$work/outbound.csv"
printf 'SEQUENTIAL\n20000;callee-pw;load.test;3600\n' > "$work/callee.csv"

RUST_LOG=warn $bin serve --data-dir "$data" --sip-addr 127.0.0.1:5096 > "$work/pbx.out" 2>&1 &
pbx_pid=$!
sleep 1
sipp 127.0.0.1:5096 -sf tests/sipp/register_auth.xml -auth_uri load.test -inf "$work/callee.csv" -m 1 -t u1 -i 127.0.0.1 -p 5198 -nostdin > /dev/null 2>&1
# The carrier behind trunk "carrier": answers every number under +49.
$bin sim --uas --listen 127.0.0.1:5197 --dids 490-499999999999 --duration 100000s --rtp off --quiet > "$work/carrier.out" 2>&1 &
sleep 3

ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' /proc/$1/stat; }

report() { # label rate ok failed used elapsed
  printf '| %s | %d | %.0f | %s | %.2f | %.2f ms |\n' "$1" "$2" "$(echo "$3 / $6" | bc -l)" "$4" "$5" \
    "$(echo "$5 / ($3 + 0.0001) * 1000" | bc -l)"
}

sipp_calls() { # label rate csv
  local label=$1 rate=$2 csv=$3 calls=$((rate * duration))
  sipp -sf tests/sipp/call_callee.xml -t u1 -i 127.0.0.1 -p 5198 -nostdin -bg -default_behaviors all,-abortunexp \
    -buff_size 8388608 > /dev/null 2>&1 || true
  sleep 0.5
  local before start end after
  before=$(cpu_of $pbx_pid); start=$(date +%s.%N)
  sipp 127.0.0.1:5096 -sf tests/sipp/call_caller.xml -auth_uri load.test -inf "$csv" -m $calls -r $rate -d 0 -t u1 \
    -i 127.0.0.1 -p 5199 -nostdin -buff_size 8388608 -timeout $((duration * 4 + 10))s > "$work/uac.out" 2>&1 || true
  end=$(date +%s.%N); after=$(cpu_of $pbx_pid)
  pkill -f "sipp -sf tests/sipp/call_callee.xml" || true
  local ok failed
  ok=$(grep -E '^\s+Successful call' "$work/uac.out" | awk '{print $NF}')
  failed=$(grep -E '^\s+Failed call' "$work/uac.out" | awk '{print $NF}')
  report "$label" "$rate" "${ok:-0}" "${failed:-?}" "$(echo "($after - $before) / $ticks" | bc -l)" "$(echo "$end - $start" | bc -l)"
}

inbound() { # rate
  local rate=$1
  sipp -sf tests/sipp/call_callee.xml -t u1 -i 127.0.0.1 -p 5198 -nostdin -bg -default_behaviors all,-abortunexp \
    -buff_size 8388608 > /dev/null 2>&1 || true
  sleep 0.5
  local before start end after
  before=$(cpu_of $pbx_pid); start=$(date +%s.%N)
  $bin sim --uac-only --listen 127.0.0.1:5197 --target 127.0.0.1:5096 --domain load.test --numbers 4930555000 \
    --dial-prefix + --caller 891234567 --rate "$rate" --duration "${duration}s" --hold 0s --rtp off --quiet \
    --json "$work/in.json" > "$work/in.out" 2>&1 || true
  end=$(date +%s.%N); after=$(cpu_of $pbx_pid)
  pkill -f "sipp -sf tests/sipp/call_callee.xml" || true
  local ok failed
  ok=$(python3 -c "import json;r=json.load(open('$work/in.json'));print(r['answered'])" 2>/dev/null || echo 0)
  failed=$(python3 -c "import json;r=json.load(open('$work/in.json'));print(sum(r['failed'].values()))" 2>/dev/null || echo '?')
  report inbound "$rate" "$ok" "$failed" "$(echo "($after - $before) / $ticks" | bc -l)" "$(echo "$end - $start" | bc -l)"
}

printf '| calls | offered calls/s | completed calls/s | failed | pbx CPU s | CPU per call |\n|---|---|---|---|---|---|\n'
for rate in "${rates[@]}"; do
  sipp_calls internal "$rate" "$work/internal.csv"
  # The carrier holds port 5197 for outbound; inbound calls come from that address.
  sipp_calls "outbound (LCR, 5,000 prefixes)" "$rate" "$work/outbound.csv"
done
pkill -f "sim --uas --listen 127.0.0.1:5197" || true
sleep 1
for rate in "${rates[@]}"; do
  inbound "$rate"
done
