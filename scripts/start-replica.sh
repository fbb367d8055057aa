#!/usr/bin/env bash
# A streaming replica of a local PostgreSQL server, for trying DATABASE_REPLICA_URL
# and for the replica tests (.ci/run runs it before the tests).
#
#   ./scripts/start-replica.sh            # replica of 127.0.0.1:5432 on 127.0.0.1:5433
#   ./scripts/start-replica.sh --stop     # stop it (its data stays for the next start)
#
# The last line it prints is the replica's URL without a database name
# (postgresql://postgres@127.0.0.1:5433/); a physical replica has every database
# of the primary, under the same names.
#
# Running it again is harmless: a replica that is streaming is left alone, a
# stopped one is started, and one that cannot catch up any more (the primary
# recycled the WAL it needed while it was down) is made again from a fresh base
# backup. It is made with pg_basebackup -R (which writes standby.signal and the
# primary_conninfo) and run with pg_ctl as the postgres user when run as root.
# If the primary's pg_hba.conf refuses replication connections from 127.0.0.1,
# one line allows them (trust, as the local test server trusts 127.0.0.1 already)
# and the primary reloads its configuration.
#
# Settings (environment): PRIMARY_HOST (127.0.0.1), PRIMARY_PORT (5432),
# PRIMARY_USER (postgres), REPLICA_PORT (5433), REPLICA_DATA (the replica's data
# folder), PG_BINDIR (the server's programs; found from the primary's version).
set -euo pipefail

PRIMARY_HOST=${PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
PRIMARY_USER=${PRIMARY_USER:-postgres}
REPLICA_PORT=${REPLICA_PORT:-5433}
if [ "$(id -u)" -eq 0 ]; then
  REPLICA_DATA=${REPLICA_DATA:-/var/lib/postgresql/lokaal-sparen-replica-$REPLICA_PORT}
else
  REPLICA_DATA=${REPLICA_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/lokaal-sparen/replica-$REPLICA_PORT}
fi
REPLICA_LOG="$REPLICA_DATA.log"

say() { echo "start-replica: $*" >&2; }
die() { say "$*"; exit 1; }

# The server runs as the owner of its data folder: postgres when we are root.
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

primary_sql() {
  psql -X -At -v ON_ERROR_STOP=1 -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" \
    -d postgres -c "$1"
}

replica_sql() {
  psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$REPLICA_PORT" -U "$PRIMARY_USER" \
    -d postgres -c "$1"
}

pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" \
  || die "the primary at $PRIMARY_HOST:$PRIMARY_PORT does not answer"

# One at a time: two test runs starting at once must not both make the replica.
mkdir -p "$(dirname "$REPLICA_DATA")"
exec 9>"$REPLICA_DATA.lock"
flock 9

if [ -z "${PG_BINDIR:-}" ]; then
  major=$(( $(primary_sql "SHOW server_version_num") / 10000 ))
  if [ -x "/usr/lib/postgresql/$major/bin/pg_ctl" ]; then
    PG_BINDIR=/usr/lib/postgresql/$major/bin  # Debian and Ubuntu
  else
    PG_BINDIR=$(pg_config --bindir)
  fi
fi
[ -x "$PG_BINDIR/pg_ctl" ] || die "no pg_ctl in $PG_BINDIR (set PG_BINDIR)"

# 9>&-: the server must not inherit (and so hold) this script's lock.
pg_ctl() { as_server_user "$PG_BINDIR/pg_ctl" -D "$REPLICA_DATA" "$@" 9>&-; }

if [ "${1:-}" = "--stop" ]; then
  if [ -f "$REPLICA_DATA/postmaster.pid" ]; then
    pg_ctl -m fast -w stop >/dev/null
  fi
  say "stopped"
  exit 0
fi

# Streaming: a standby whose WAL receiver is connected to the primary.
streaming() {
  [ "$(replica_sql "SELECT pg_is_in_recovery() AND EXISTS (
      SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')" 2>/dev/null)" = "t" ]
}

wait_for_streaming() {
  for _ in $(seq 60); do
    streaming && return 0
    sleep 1
  done
  return 1
}

url="postgresql://$PRIMARY_USER@127.0.0.1:$REPLICA_PORT/"

if pg_isready -q -h 127.0.0.1 -p "$REPLICA_PORT"; then
  if [ "$(replica_sql "SELECT pg_is_in_recovery()" 2>/dev/null)" != "t" ]; then
    die "127.0.0.1:$REPLICA_PORT answers but is no standby: choose another REPLICA_PORT"
  fi
  if wait_for_streaming; then
    say "the replica on port $REPLICA_PORT is streaming already"
    echo "$url"
    exit 0
  fi
  say "the replica on port $REPLICA_PORT does not stream; making it again"
  pg_ctl -m fast -w stop >/dev/null || true
  remake=1
fi

# The primary must take replication connections from 127.0.0.1.
if ! psql -X -q "host=$PRIMARY_HOST port=$PRIMARY_PORT user=$PRIMARY_USER replication=true" \
    -c "IDENTIFY_SYSTEM" >/dev/null 2>&1; then
  hba=$(primary_sql "SHOW hba_file")
  line="host replication all 127.0.0.1/32 trust  # lokaal-sparen: scripts/start-replica.sh"
  [ -w "$hba" ] || die "replication connections are refused and $hba is not writable: add '$line'"
  grep -qxF "$line" "$hba" || echo "$line" >>"$hba"
  primary_sql "SELECT pg_reload_conf()" >/dev/null
  say "allowed replication connections from 127.0.0.1 in $hba"
fi

configure() {
  # pg_basebackup copies the data folder only; Debian keeps postgresql.conf and
  # pg_hba.conf in /etc, so the replica gets its own (replacing any that came
  # along, which would name the primary's port). A hot standby needs these
  # limits at least as high as the primary's.
  local limits=""
  for name in max_connections max_worker_processes max_wal_senders \
      max_prepared_transactions max_locks_per_transaction; do
    limits+="$name = $(primary_sql "SHOW $name")"$'\n'
  done
  as_server_user tee "$REPLICA_DATA/postgresql.conf" >/dev/null <<EOF
# Written by scripts/start-replica.sh: a hot standby of $PRIMARY_HOST:$PRIMARY_PORT.
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$(primary_sql "SHOW unix_socket_directories")'
cluster_name = 'lokaal-sparen-replica'
hot_standby = on
# Tell the primary which rows the standby's queries still read, so that replay
# does not cancel a long report.
hot_standby_feedback = on
shared_buffers = 32MB
$limits
EOF
  as_server_user tee "$REPLICA_DATA/pg_hba.conf" >/dev/null <<EOF
local all all trust
host all all 127.0.0.1/32 trust
EOF
}

start() {
  pg_ctl -l "$REPLICA_LOG" -w -t 60 start >/dev/null
}

if [ -z "${remake:-}" ] && [ -f "$REPLICA_DATA/standby.signal" ]; then
  say "starting the replica in $REPLICA_DATA"
  if start && wait_for_streaming; then
    echo "$url"
    exit 0
  fi
  say "it does not stream (see $REPLICA_LOG); making it again from a fresh base backup"
  pg_ctl -m immediate -w stop >/dev/null 2>&1 || true
fi

if [ -e "$REPLICA_DATA" ]; then
  # Only ever a folder this script made: a standby's data folder.
  [ -f "$REPLICA_DATA/PG_VERSION" ] || die "$REPLICA_DATA exists and is no PostgreSQL data folder"
  as_server_user rm -rf -- "$REPLICA_DATA"
fi
parent=$(dirname "$REPLICA_DATA")
mkdir -p "$parent"
[ "$(id -u)" -eq 0 ] && chown postgres: "$parent" 2>/dev/null || true
say "taking a base backup of $PRIMARY_HOST:$PRIMARY_PORT into $REPLICA_DATA"
as_server_user "$PG_BINDIR/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" \
  -D "$REPLICA_DATA" -R -X stream -c fast
configure
start || die "the replica did not start; see $REPLICA_LOG"
wait_for_streaming || die "the replica does not stream from the primary; see $REPLICA_LOG"
say "the replica on port $REPLICA_PORT streams from $PRIMARY_HOST:$PRIMARY_PORT"
echo "$url"
