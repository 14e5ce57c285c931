# Sourced: a PostgreSQL server of one's own (Debian's `postgresql`, scripts/deps.sh)
# in a directory, on 127.0.0.1 only, with trust authentication; as the `postgres`
# user when run as root (the server refuses root).
#   pg_start DIR PORT   starts it and makes database `pbx`; sets $pg_url
#   pg_stop DIR         stops it
# PG_OPTS adds server options (e.g. -c shared_preload_libraries=pg_stat_statements).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  as_pg "$pg_bin/initdb" -D "$dir/data" --auth=trust -U postgres -E UTF8 --no-sync >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 ${PG_OPTS:-}" start >/dev/null
  as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres pbx
  pg_url=postgres://postgres@127.0.0.1:$port/pbx
}
pg_stop() {
  as_pg "$pg_bin/pg_ctl" -D "$1/data" -m immediate stop >/dev/null 2>&1 || true
}
