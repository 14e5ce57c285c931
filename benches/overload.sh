#!/usr/bin/env bash
# Overload: the switch's maximum rate on this machine (the highest it completes with
# at least 99.9 % success), then twice that for 60 s while a steady probe keeps
# calling (or registering) beside the flood: how much the switch still completes, how
# the excess is answered (503 + Retry-After, early), the audio of every admitted call,
# the switch's RSS, and how soon after the flood the probe succeeds again. Not run in
# CI.
#
#   benches/overload.sh calls [RATE ...]      search RATEs (default 200 300 … 900)
#   benches/overload.sh register [RATE ...]   the same for REGISTER (default 4000 …)
#   MAX=600 benches/overload.sh calls         skip the search
#   SERVE_ARGS="--max-delay 100000" …         the switch sheds by --max-waiting only
#
# Calls: `pbx sim --uac-only` (digest-authenticated INVITEs, answering the 407) →
# `pbx serve` (B2BUA, media anchored) → trunk "carrier" → `pbx sim --uas`, which
# answers with RTP carrying its signature. Each call sends RTP both ways for its first
# RTP_FOR (300 ms; the audio check) and lasts HOLD (500 ms): with RTP on for whole
# calls the relay, not signalling, would set the maximum.
# Registrations: `pbx sim --register-only --register-for 60s` over 20,000 lines.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-calls}
shift || true
rates=("$@")
hold=${HOLD:-500ms}
rtp_for=${RTP_FOR:-300ms}
search_s=${SEARCH_S:-20}
flood_s=${FLOOD_S:-60}
work=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "work: $work" >&2
trap 'kill -INT $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p pbx
bin=target/release/pbx
data="$work/data"
lines=${LINES:-20000}
$bin tenant add load --domain load.test --data-dir "$data" >/dev/null
$bin user add-range --tenant load --from 10000 --to $((10000 + lines - 1)) --password 'pw{ext}' --data-dir "$data" >/dev/null
timeout 3 $bin serve --data-dir "$work/demo" --sip-addr 127.0.0.1:0 --http-addr off >/dev/null 2>&1 || true
$bin plan show --tenant demo --data-dir "$work/demo" > "$work/demo.json"
python3 - "$work/demo.json" "$work/plan.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["name"] = "load"
p["trunks"] = [{"name": "carrier", "format": "e164"}]
p["outbound"] = [{"name": "default", "patterns": ["+."], "priority": 10, "trunks": ["carrier"]}]
p["emergency"]["trunk"] = "carrier"
json.dump(p, open(sys.argv[2], "w"))
PY
$bin plan set --tenant load "$work/plan.json" --data-dir "$data" >/dev/null
# One caller places every call: no per-line or tenant quota (F-SEC's toll-fraud
# limits) may refuse them; the switch's own capacity is what is measured.
$bin tenant limits load --max-calls none --max-cps none --line-max-calls none --line-max-cps none --data-dir "$data" >/dev/null
$bin trunk add --tenant load carrier --host 127.0.0.1 --port 5197 --keepalive 30 --data-dir "$data" >/dev/null

# The carrier first: the trunk's first OPTIONS probe finds it up.
if [ "$what" = calls ]; then
  $bin sim --uas --listen 127.0.0.1:5197 --dids 490-499999999999 --duration 100000s --quiet > "$work/carrier.out" 2>&1 &
  sleep 0.5
fi
# SERVE_ARGS: more `pbx serve` flags, e.g. "--max-delay 100000" to shed by count only.
# shellcheck disable=SC2086
RUST_LOG=warn $bin serve --data-dir "$data" --sip-addr 127.0.0.1:5096 --http-addr off ${SERVE_ARGS:-} > "$work/pbx.out" 2>&1 &
pbx_pid=$!
sleep 3

field() { python3 -c "import json,sys; r=json.load(open('$1')); print($2)"; }

calls() { # rate seconds caller json [extra...]
  local rate=$1 secs=$2 caller=$3 json=$4; shift 4
  $bin sim --uac-only --target 127.0.0.1:5096 --domain load.test --numbers 4930100000-4930199999 \
    --dial-prefix + --caller "$caller" --password "pw$caller" --rate "$rate" --duration "${secs}s" \
    --hold "$hold" --rtp "$rtp_for" --timeout 8s --quiet --json "$json" "$@" > /dev/null 2>&1 || true
}
registers() { # rate seconds first last json
  $bin sim --register-only --target 127.0.0.1:5096 --domain load.test --extensions "$3-$4" \
    --password 'pw{ext}' --register-rate "$1" --register-for "${2}s" --timeout 8s --quiet --json "$5" > /dev/null 2>&1 || true
}
# Completed share (per cent) of a report, calls or registrations.
share() {
  if [ "$what" = calls ]; then
    field "$1" "100.0 * r['answered'] / max(r['attempted'], 1)"
  else
    field "$1" "100.0 * r['registrations_accepted'] / max(r['registrations'], 1)"
  fi
}
run_at() { # rate seconds json: the measured load
  if [ "$what" = calls ]; then calls "$1" "$2" 10000 "$3"; else registers "$1" "$2" 10000 $((10000 + lines - 1001)) "$3"; fi
}
rss() { awk '/^VmRSS/ {print $2}' /proc/$pbx_pid/status; }
cpu() { awk '{print $14 + $15}' /proc/$pbx_pid/stat; }

if [ -z "${MAX:-}" ]; then
  [ ${#rates[@]} -eq 0 ] && if [ "$what" = calls ]; then rates=(200 300 400 500 600 700 800 900); else rates=(4000 6000 8000 10000 12000 14000); fi
  echo "| offered /s | completed | share | failures | pbx CPU per $what |"
  echo "|---:|---:|---:|---|---:|"
  MAX=0
  for r in "${rates[@]}"; do
    c0=$(cpu)
    run_at "$r" "$search_s" "$work/search-$r.json"
    c1=$(cpu)
    if [ "$what" = calls ]; then n=$(field "$work/search-$r.json" "r['answered']"); else n=$(field "$work/search-$r.json" "r['registrations_accepted']"); fi
    pct=$(share "$work/search-$r.json")
    printf '| %s | %s | %.2f %% | %s | %.0f µs |\n' "$r" "$n" "$pct" "$(field "$work/search-$r.json" "r['failed'] or 'none'")" \
      "$(echo "($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / ($n + 0.001)" | bc -l)"
    if (( $(echo "$pct >= 99.9" | bc -l) )); then MAX=$r; else break; fi
    sleep 2
  done
  echo "maximum: $MAX/s"
fi
flood=$((MAX * 2))
probe_rate=$([ "$what" = calls ] && echo 10 || echo 200)
echo "flood: $flood/s for ${flood_s}s, probe $probe_rate/s from 10 s before to 30 s after"

# The probe: its own caller (or lines), steadily, from 10 s before the flood to 30 s after.
probe_s=$((flood_s + 40))
if [ "$what" = calls ]; then
  calls "$probe_rate" "$probe_s" 10001 "$work/probe.json" &
else
  registers "$probe_rate" "$probe_s" $((10000 + lines - 1000)) $((10000 + lines - 1)) "$work/probe.json" &
fi
probe=$!
rss_before=$(rss)
(while kill -0 $probe 2>/dev/null; do rss >> "$work/rss"; sleep 1; done) &
sleep 10
c0=$(cpu)
run_at "$flood" "$flood_s" "$work/flood.json"
c1=$(cpu)
wait $probe || true
rss_after=$(rss)
echo
echo "flood report:"
if [ "$what" = calls ]; then
  field "$work/flood.json" "f\"  {r['attempted']} calls, {r['answered']} answered ({100.0*r['answered']/max(r['attempted'],1):.1f} %), failures {r['failed']}, audio {r['audio_ok']} of {r['audio_checked']} checked calls clean, setup p50 {r['setup_ms']['p50']} p99 {r['setup_ms']['p99']} ms\""
else
  field "$work/flood.json" "f\"  {r['registrations']} registrations, {r['registrations_accepted']} accepted, failures {r['failed']}, REGISTER→200 p50 {r['register_ms']['p50']} p99 {r['register_ms']['p99']} ms\""
fi
echo "  completed per second during the flood: $(field "$work/flood.json" "round((r['answered'] if '$what' == 'calls' else r['registrations_accepted']) / $flood_s)")"
echo "  pbx CPU during the flood: $(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l | xargs printf '%.1f') s of ${flood_s} s"
echo "  pbx RSS: before $rss_before KiB, peak $(sort -n "$work/rss" | tail -1) KiB, after $rss_after KiB"
echo "  pbx RSS every 10 s from the probe's start (KiB): $(awk 'NR % 10 == 1' "$work/rss" | tr '\n' ' ')"
echo "probe report (the flood ran from its second 10 to about $((10 + flood_s))):"
field "$work/probe.json" "f\"  failures {r['failed']}\""
field "$work/probe.json" "'  seconds with failures: ' + ' '.join(str(round(s['t'])) for s in r['failures_by_second'])"
field "$work/probe.json" "'  last failure at second: ' + str(max([round(s['t']) for s in r['failures_by_second']] or [0]))"
echo "pbx log lines with panic: $(grep -c panic "$work/pbx.out" || true)"
