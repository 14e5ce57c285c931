#!/usr/bin/env bash
# Runs the store's unit tests (and every other test of the actors crate that makes an
# in-memory store) against PostgreSQL: a server of its own, each test in a schema
# of its own (`Store::in_memory` with PBX_TEST_POSTGRES). Part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh
work=$(mktemp -d)
chmod 755 "$work"
trap 'pg_stop "$work/pg"; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pg_start "$work/pg" "$port"
PBX_TEST_POSTGRES=$pg_url cargo test -p actors --lib
