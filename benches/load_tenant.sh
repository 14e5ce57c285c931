# Sourced by the call load scripts (call_load.sh, edge_load.sh): a scratch directory
# `$work` (removed on exit, with any Kamailio started from it), the switch's binary
# `$bin` (PBX_BIN, else a fresh release build), and in `$work/data` the tenant
# `load` (domain load.test): `$users` callers 10000… (password pw{ext}pw) listed in
# `$work/callers.csv` for SIPp, and the callee 20000 in `$work/callee.csv`.
work=$(mktemp -d)
trap 'kill -INT $(jobs -p) 2>/dev/null || true; pkill -f "kamailio -f $work" 2>/dev/null || true; rm -rf "$work"' EXIT

# PBX_BIN runs another build of the switch (an earlier commit's, for a before/after).
if [ -z "${PBX_BIN:-}" ]; then cargo build --release -q; fi
bin=${PBX_BIN:-target/release/pbx}
$bin tenant add load --domain load.test --data-dir "$work/data" >/dev/null
$bin user add-range --tenant load --from 10000 --to $((10000 + users - 1)) --password 'pw{ext}pw' --data-dir "$work/data" >/dev/null
$bin user add --tenant load 20000 --password callee-pw --data-dir "$work/data" >/dev/null
{
  echo SEQUENTIAL
  for ((i = 0; i < users; i++)); do echo "$((10000 + i));pw$((10000 + i))pw;20000;load.test"; done
} > "$work/callers.csv"
printf 'SEQUENTIAL\n20000;callee-pw;load.test;3600\n' > "$work/callee.csv"
