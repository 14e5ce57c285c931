#!/usr/bin/env bash
# Server time of the web admin's pages with N users (default 10000): a tenant with N
# lines and the demo's administrator, each page fetched R times (default 20) over
# loopback with the session's cookie; the median and the slowest of curl's time to
# the first byte (the switch's work: the page is built before its first byte goes).
# Not run in CI.
#
#   benches/web_pages.sh [N] [R]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
r=${2:-20}
work=$(mktemp -d)
trap 'kill -INT $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q
bin=target/release/pbx
# The demo (and its administrator's sign-in) is made at the first start.
RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:5098 --http-addr 127.0.0.1:8098 > "$work/pbx.out" 2>&1 &
sleep 1
kill %1; wait %1 2>/dev/null || true
$bin user add-range --tenant demo --from 20000 --to $((20000 + n - 1)) --password 'pw{ext}pw' --data-dir "$work/data" >/dev/null
RUST_LOG=warn $bin serve --data-dir "$work/data" --sip-addr 127.0.0.1:5098 --http-addr 127.0.0.1:8098 > "$work/pbx.out" 2>&1 &
sleep 1
url=http://127.0.0.1:8098
token=$(curl -s -c "$work/jar" "$url/web/sign-in" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')
session=$(curl -s -i -H "Cookie: pbx_sign_in=$token" --data "csrf=$token&login=admin&password=admin-demo" "$url/web/sign-in" \
  | grep -o 'pbx_session=[0-9a-f]*' | head -1)
echo "users: $n; requests per page: $r"
for page in "/web/users" "/web/users?q=2999" "/web/users?page=150" "/web/users/20500" "/web/devices" \
  "/web/groups" "/web/queues" "/web/schedules?to=200" "/web/journal" "/web/statistics" "/web/monitor"; do
  times=$(for ((i = 0; i < r; i++)); do
    curl -s -o /dev/null -H "Cookie: $session" -w '%{time_starttransfer}\n' "$url$page"
  done | sort -n)
  median=$(echo "$times" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)] * 1000}')
  worst=$(echo "$times" | tail -1 | awk '{print $1 * 1000}')
  size=$(curl -s -o /dev/null -H "Cookie: $session" -w '%{size_download}' "$url$page")
  printf '%-24s median %6.1f ms   slowest %6.1f ms   %8d bytes\n' "$page" "$median" "$worst" "$size"
done
