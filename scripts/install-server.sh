#!/usr/bin/env bash
# Install Lokaal Sparen on a Debian server, or upgrade it in place when run again.
# `./scripts/install-server.sh --help` says what it sets up; README.md, "Production".
set -euo pipefail
umask 022
# The installed code runs with the virtualenv's own packages only.
unset PYTHONPATH PYTHONHOME

NAME=lokaal-sparen
SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STARTED=$SECONDS

usage() {
  cat <<'EOF'
Usage: install-server.sh --public-url URL [options]

Install Lokaal Sparen on this Debian server from this checkout, or upgrade it in
place when run again (new code into the virtualenv, migrations, services
restarted; the SECRET_KEY made on the first run is kept). It sets up:

  - Debian's python3-venv, postgresql, postgresql-client and caddy (apt-get)
  - the system user lokaal-sparen
  - the code in /opt/lokaal-sparen/src, installed into /opt/lokaal-sparen/venv
  - a PostgreSQL role and database lokaal-sparen (peer authentication, no password)
  - /etc/lokaal-sparen/env (mode 0600): DATABASE_URL, SECRET_KEY, PUBLIC_URL,
    TRUSTED_PROXIES=1, BACKUP_DIR=/var/backups/lokaal-sparen; other lines you
    add there (MAIL_SERVER, STRIPE_..., see README.md) are kept on reruns
  - /etc/caddy/Caddyfile: HTTPS (Caddy's automatic certificates) for PUBLIC_URL's
    host, proxied to `loyalty serve` on 127.0.0.1
  - systemd units lokaal-sparen-web (loyalty serve) and lokaal-sparen-worker
    (loyalty worker: the scheduled jobs and the nightly backups), logging to
    the journal: journalctl -u lokaal-sparen-web
  - /usr/local/bin/loyalty: the loyalty command with this server's settings
  - the database migrated (loyalty db upgrade), the services (re)started and
    checked (GET /healthz)

Options:
  --public-url URL    the site's address, e.g. https://sparen.sint-gillis-waas.be
                      (required on the first run; a rerun keeps the one it has)
  --database-url URL  use this database instead of making a local PostgreSQL one
                      (postgresql://user@host/db, or sqlite:////path/loyalty.db);
                      a rerun keeps the one it has
  --port N            port of loyalty serve on 127.0.0.1 (default 8000; a rerun
                      keeps the one it has)
  --workers N         web server worker processes (default: 2 per CPU, 2 to 8;
                      a rerun keeps the number it has)
  --user NAME         the system user of the services (default lokaal-sparen)
  --python PATH       the Python that makes the virtualenv (default /usr/bin/python3)
  --no-caddy          write and check the Caddyfile, but leave Caddy alone
                      (on every run: for a server with a proxy of its own)
  --prefix DIR        a trial install under DIR (CI, a look before the real thing):
                      every path above lies under DIR; no apt-get, no system user,
                      no database made (SQLite under DIR unless --database-url);
                      the services are started directly, not by systemd
  -h, --help          this help

Without systemd (no /run/systemd/system), or with --prefix, the units are still
written and checked, and the services are started directly as background
processes: pid files in <prefix>/run/lokaal-sparen, logs in
<prefix>/var/log/lokaal-sparen (rotated by <prefix>/etc/logrotate.d/lokaal-sparen).
A rerun stops and starts them again.

Examples:
  sudo ./scripts/install-server.sh --public-url https://sparen.sint-gillis-waas.be
  git pull && sudo ./scripts/install-server.sh          # later: upgrade in place
  ./scripts/install-server.sh --prefix /tmp/trial --public-url http://127.0.0.1:8080 \
      --port 8001 --database-url sqlite:////tmp/trial/loyalty.db
EOF
}

step() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
fail() {
  printf 'install-server.sh: %s\n' "$*" >&2
  exit 1
}

# -- options -------------------------------------------------------------------

PUBLIC_URL=""
DATABASE_URL=""
PORT=""
WORKERS=""
SERVICE_USER=$NAME
PYTHON=/usr/bin/python3
PROXY=1
PREFIX=""
while [ $# -gt 0 ]; do
  case $1 in
    --public-url) PUBLIC_URL=${2:?--public-url needs a URL}; shift 2 ;;
    --public-url=*) PUBLIC_URL=${1#*=}; shift ;;
    --database-url) DATABASE_URL=${2:?--database-url needs a URL}; shift 2 ;;
    --database-url=*) DATABASE_URL=${1#*=}; shift ;;
    --port) PORT=${2:?--port needs a number}; shift 2 ;;
    --port=*) PORT=${1#*=}; shift ;;
    --workers) WORKERS=${2:?--workers needs a number}; shift 2 ;;
    --workers=*) WORKERS=${1#*=}; shift ;;
    --user) SERVICE_USER=${2:?--user needs a name}; shift 2 ;;
    --user=*) SERVICE_USER=${1#*=}; shift ;;
    --python) PYTHON=${2:?--python needs a path}; shift 2 ;;
    --python=*) PYTHON=${1#*=}; shift ;;
    --no-caddy) PROXY=0; shift ;;
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) fail "unknown argument: $1 (see --help)" ;;
  esac
done

case $DATABASE_URL in
  '' | postgresql://* | postgresql+psycopg://* | sqlite:////*) ;;
  *) fail "--database-url must be postgresql://... or sqlite:////absolute/path, not '$DATABASE_URL'" ;;
esac
# The name becomes a PostgreSQL role and database in SQL below: letters only.
[[ $SERVICE_USER =~ ^[a-z_][a-z0-9_-]{0,30}$ ]] ||
  fail "--user must be a plain lower-case user name, not '$SERVICE_USER'"

if [ -n "$PREFIX" ]; then
  mkdir -p "$PREFIX"
  PREFIX=$(cd "$PREFIX" && pwd)
  if [ "$PREFIX" = / ]; then PREFIX=""; fi
fi
REAL=1 # a real server: apt-get, a system user, a local database, systemd
[ -n "$PREFIX" ] && REAL=0
ROOT=0
[ "$(id -u)" -eq 0 ] && ROOT=1
[ "$REAL" -eq 1 ] && [ "$ROOT" -eq 0 ] &&
  fail "run it as root (sudo $0 ...), or try it under a prefix: --prefix DIR"

APP_DIR=$PREFIX/opt/$NAME
VENV=$APP_DIR/venv
ETC_DIR=$PREFIX/etc/$NAME
ENV_FILE=$ETC_DIR/env
STATE_DIR=$PREFIX/var/lib/$NAME
BACKUP_DIR=$PREFIX/var/backups/$NAME
UNIT_DIR=$PREFIX/etc/systemd/system
CADDYFILE=$PREFIX/etc/caddy/Caddyfile
WRAPPER=$PREFIX/usr/local/bin/loyalty
RUN_DIR=$PREFIX/run/$NAME
LOG_DIR=$PREFIX/var/log/$NAME
LOGROTATE_FILE=$PREFIX/etc/logrotate.d/$NAME
CADDY_HOME=$PREFIX/var/lib/caddy
WEB_UNIT=$NAME-web.service
WORKER_UNIT=$NAME-worker.service

# A rerun keeps the port and the number of workers of the web unit it wrote.
if [ -z "$PORT" ] && [ -f "$UNIT_DIR/$WEB_UNIT" ]; then
  PORT=$(sed -n 's/^ExecStart=.* --port \([0-9]*\).*/\1/p' "$UNIT_DIR/$WEB_UNIT")
fi
if [ -z "$WORKERS" ] && [ -f "$UNIT_DIR/$WEB_UNIT" ]; then
  WORKERS=$(sed -n 's/^ExecStart=.* --workers \([0-9]*\).*/\1/p' "$UNIT_DIR/$WEB_UNIT")
fi
PORT=${PORT:-8000}
if ! [[ $PORT =~ ^[0-9]{1,5}$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
  fail "--port must be a port number, not '$PORT'"
fi
if [ -z "$WORKERS" ]; then
  WORKERS=$(($(nproc) * 2))
  if [ "$WORKERS" -gt 8 ]; then WORKERS=8; fi
  if [ "$WORKERS" -lt 2 ]; then WORKERS=2; fi
fi
if ! [[ $WORKERS =~ ^[0-9]{1,2}$ ]] || [ "$WORKERS" -lt 1 ] || [ "$WORKERS" -gt 64 ]; then
  fail "--workers must be a number from 1 to 64, not '$WORKERS'"
fi

# systemd runs the services only on a real server booted with it; otherwise
# they are started here as background processes.
SYSTEMD=0
if [ "$REAL" -eq 1 ] && [ -d /run/systemd/system ]; then
  SYSTEMD=1
fi

# The services run as the system user on a real server; under a prefix as
# whoever runs this script.
AS_USER=()
if [ "$REAL" -eq 1 ]; then
  AS_USER=(setpriv "--reuid=$SERVICE_USER" "--regid=$SERVICE_USER" --init-groups --)
fi

# -- helpers -------------------------------------------------------------------

env_value() { # KEY: its value in the environment file, if there is one
  [ -f "$ENV_FILE" ] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1 | sed 's/^"\(.*\)"$/\1/'
}

load_env() { # export the environment file's settings into this (sub)shell
  local line key value
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in '' | '#'*) continue ;; esac
    key=${line%%=*}
    value=${line#*=}
    [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    value=${value#\"}
    value=${value%\"}
    export "$key=$value"
  done <"$ENV_FILE"
  # Settings come from this file only, never from a .env file that happens to
  # lie in a directory above the working directory.
  export FLASK_SKIP_DOTENV=1 HOME=$STATE_DIR
}

loyalty() { # run the installed loyalty command with the server's settings
  (
    load_env
    cd "$STATE_DIR"
    exec "${AS_USER[@]}" "$VENV/bin/loyalty" "$@"
  )
}

alive() { # PID: running (not a zombie waiting for its parent to read its end)
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
  [ "$state" != Z ]
}

healthy() { # URL: answers 200 (asked directly, never through an HTTP proxy)
  "$VENV/bin/python" -c '
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    sys.exit(0 if opener.open(sys.argv[1], timeout=3).status == 200 else 1)
except OSError:
    sys.exit(1)
' "$1"
}

is_public_url() {
  [[ $1 =~ ^https?://[^/?#[:space:]]+/?$ ]]
}

# -- the plan ------------------------------------------------------------------

INSTALLED=0
[ -n "$(env_value SECRET_KEY)" ] && INSTALLED=1
if [ -z "$PUBLIC_URL" ]; then
  PUBLIC_URL=$(env_value PUBLIC_URL)
  [ -n "$PUBLIC_URL" ] || fail "--public-url is required, e.g. --public-url https://sparen.sint-gillis-waas.be"
fi
PUBLIC_URL=${PUBLIC_URL%/}
is_public_url "$PUBLIC_URL" ||
  fail "--public-url must be the site's address alone, e.g. https://sparen.sint-gillis-waas.be, not '$PUBLIC_URL'"

if [ "$INSTALLED" -eq 1 ]; then
  step "upgrading Lokaal Sparen in ${PREFIX:-/} for $PUBLIC_URL"
else
  step "installing Lokaal Sparen in ${PREFIX:-/} for $PUBLIC_URL"
fi
if [ "$REAL" -eq 0 ]; then
  note "--prefix: every file goes under $PREFIX; no apt-get, no system user, no systemd"
fi

# -- Debian packages -----------------------------------------------------------

step "Debian packages"
if [ "$REAL" -eq 1 ]; then
  packages=(python3-venv postgresql-client caddy)
  if [ -z "$DATABASE_URL" ] && [ -z "$(env_value DATABASE_URL)" ]; then
    packages+=(postgresql)
  fi
  missing=()
  for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    note "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    note "already installed: ${packages[*]}"
  fi
else
  note "skipped under --prefix"
fi
[ -x "$PYTHON" ] || fail "no Python at $PYTHON (Debian: apt-get install python3-venv), or give --python"

# -- system user and directories -------------------------------------------------

step "system user and directories"
if [ "$REAL" -eq 1 ]; then
  if getent passwd "$SERVICE_USER" >/dev/null; then
    note "user $SERVICE_USER exists"
  else
    useradd --system --user-group --home-dir "$STATE_DIR" --shell /usr/sbin/nologin \
      --comment "Lokaal Sparen" "$SERVICE_USER"
    note "user $SERVICE_USER made"
  fi
else
  note "no system user under --prefix: the services run as $(id -un)"
fi
mkdir -p "$APP_DIR" "$ETC_DIR" "$STATE_DIR" "$BACKUP_DIR" "$UNIT_DIR" "$(dirname "$CADDYFILE")" \
  "$(dirname "$WRAPPER")"
chmod 0700 "$ETC_DIR"
chmod 0750 "$STATE_DIR" "$BACKUP_DIR"
if [ "$REAL" -eq 1 ]; then
  chown "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR" "$BACKUP_DIR"
fi
note "code $APP_DIR, settings $ETC_DIR, data $STATE_DIR, backups $BACKUP_DIR"

# -- the code ------------------------------------------------------------------

step "code and virtualenv"
# A copy of this checkout, so that the server never runs from a working tree that
# someone is editing or pulling. It is installed in editable mode because the
# database migrations live beside the packages, not inside them.
new_src=$APP_DIR/src.new
rm -rf "$new_src"
mkdir -p "$new_src"
tar -C "$SOURCE" --exclude-vcs --exclude=./.venv --exclude=./venv --exclude=./build \
  --exclude=./dist --exclude='*.egg-info' --exclude=./instance --exclude=./.env \
  --exclude=__pycache__ --exclude=.pytest_cache --exclude=.mypy_cache --exclude=.ruff_cache \
  --exclude=.hypothesis --exclude=./test-artifacts --exclude=node_modules -cf - . |
  tar -C "$new_src" --no-same-owner --no-same-permissions -xf -
rm -rf "$APP_DIR/src.old"
[ -d "$APP_DIR/src" ] && mv "$APP_DIR/src" "$APP_DIR/src.old"
mv "$new_src" "$APP_DIR/src"
rm -rf "$APP_DIR/src.old"
note "copied $SOURCE to $APP_DIR/src"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  note "virtualenv made with $("$VENV/bin/python" --version)"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$APP_DIR/src[postgres]"
"$VENV/bin/pybabel" -q compile -d "$APP_DIR/src/loyalty/translations"
# Compiled now, as root: the services may not write beside the code.
"$VENV/bin/python" -m compileall -q -j 0 -x '/(tests|docs|build)/' "$APP_DIR/src" >/dev/null
VERSION=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("lokaal-sparen"))')
note "lokaal-sparen $VERSION installed in $VENV"

# -- database and settings -------------------------------------------------------

step "database and settings"
if [ -n "$DATABASE_URL" ]; then
  old=$(env_value DATABASE_URL)
  if [ -n "$old" ] && [ "$old" != "$DATABASE_URL" ]; then
    note "DATABASE_URL changes to the one given (was another)"
  fi
elif [ -n "$(env_value DATABASE_URL)" ]; then
  DATABASE_URL=$(env_value DATABASE_URL)
  note "keeping the database of $ENV_FILE"
elif [ "$REAL" -eq 1 ]; then
  if ! pg_isready -q; then
    if [ "$SYSTEMD" -eq 1 ]; then
      systemctl start postgresql
    else
      for cluster in /etc/postgresql/*/main; do
        [ -d "$cluster" ] || continue
        version=$(basename "$(dirname "$cluster")")
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
      done
    fi
    for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
  fi
  pg_isready -q || fail "the local PostgreSQL server does not answer (pg_isready)"
  as_postgres() { (cd / && runuser -u postgres -- "$@"); }
  if [ "$(as_postgres psql -XtAc "SELECT 1 FROM pg_roles WHERE rolname = '$SERVICE_USER'")" != 1 ]; then
    as_postgres createuser "$SERVICE_USER"
    note "PostgreSQL role $SERVICE_USER made"
  fi
  # The worker proves each nightly backup by restoring it into a scratch database
  # of its own (BACKUP_DIR), which it creates and drops: the role needs CREATEDB.
  as_postgres psql -XqAc "ALTER ROLE \"$SERVICE_USER\" CREATEDB"
  if [ "$(as_postgres psql -XtAc "SELECT 1 FROM pg_database WHERE datname = '$SERVICE_USER'")" != 1 ]; then
    as_postgres createdb --owner="$SERVICE_USER" --encoding=UTF8 --template=template0 "$SERVICE_USER"
    note "PostgreSQL database $SERVICE_USER made"
  fi
  # Over the local socket with peer authentication: no password to keep.
  DATABASE_URL="postgresql://$SERVICE_USER@/$SERVICE_USER?host=/var/run/postgresql"
else
  DATABASE_URL="sqlite:///$STATE_DIR/loyalty.db"
  note "no --database-url under --prefix: SQLite in $STATE_DIR"
fi

case $DATABASE_URL in
  sqlite:///*)
    sqlite_dir=$(dirname "${DATABASE_URL#sqlite:///}")
    if [ ! -d "$sqlite_dir" ]; then
      mkdir -p "$sqlite_dir"
      if [ "$REAL" -eq 1 ]; then chown "$SERVICE_USER:$SERVICE_USER" "$sqlite_dir"; fi
    fi
    ;;
esac

SECRET_KEY=$(env_value SECRET_KEY)
if [ -n "$SECRET_KEY" ]; then
  note "SECRET_KEY kept"
else
  SECRET_KEY=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))')
  note "SECRET_KEY made"
fi
# Written beside the old file, then renamed over it: never half a file, never
# readable by anyone but root (umask 077, mode 0600).
new_env=$(umask 077 && mktemp "$ENV_FILE.XXXXXX")
{
  echo "## Lokaal Sparen's settings, read by its services and by $WRAPPER."
  echo "## scripts/install-server.sh writes the lines below again on every run and"
  echo "## keeps SECRET_KEY and any other line (MAIL_SERVER, STRIPE_..., see README.md)."
  echo "DATABASE_URL=$DATABASE_URL"
  echo "PUBLIC_URL=$PUBLIC_URL"
  echo "TRUSTED_PROXIES=1"
  echo "BACKUP_DIR=$BACKUP_DIR"
  echo "SECRET_KEY=$SECRET_KEY"
  if [ -f "$ENV_FILE" ]; then
    grep -v -E '^(## |DATABASE_URL=|PUBLIC_URL=|TRUSTED_PROXIES=|BACKUP_DIR=|SECRET_KEY=)' \
      "$ENV_FILE" || true
  fi
} >"$new_env"
chmod 0600 "$new_env"
mv "$new_env" "$ENV_FILE"
note "$ENV_FILE written (mode 0600)"

# -- units, Caddyfile, command, log rotation ---------------------------------------

step "systemd units, Caddyfile and the loyalty command"
# Everything the services may write; the rest of the system is read-only to them.
write_paths="$STATE_DIR $BACKUP_DIR"
case $DATABASE_URL in
  sqlite:///*)
    # SQLite writes its journal and the writers' lock file beside the database.
    [ "$sqlite_dir" = "$STATE_DIR" ] || write_paths="$write_paths $sqlite_dir"
    ;;
esac
local_postgres=""
case $DATABASE_URL in
  *@/*host=/var/run/postgresql*) local_postgres=postgresql.service ;;
esac

unit() { # NAME DESCRIPTION COMMAND...
  local name=$1 description=$2
  shift 2
  cat <<EOF
# Written by scripts/install-server.sh (a rerun writes it again).
[Unit]
Description=$description
After=network-online.target${local_postgres:+ $local_postgres}
Wants=network-online.target${local_postgres:+ $local_postgres}

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_USER
EnvironmentFile=$ENV_FILE
Environment=FLASK_SKIP_DOTENV=1 PYTHONUNBUFFERED=1
WorkingDirectory=$STATE_DIR
ExecStart=$VENV/bin/loyalty $*
Restart=always
RestartSec=5
TimeoutStopSec=40
# Output goes to the journal (journalctl -u $name), which rotates it.
SyslogIdentifier=$name
NoNewPrivileges=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectSystem=strict
ProtectHome=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
ReadWritePaths=$write_paths

[Install]
WantedBy=multi-user.target
EOF
}
# The units and the Caddyfile are written to a scratch folder first and take
# their places only once their checks pass: a failed check leaves the old ones.
staged=$(mktemp -d)
trap 'rm -rf "$staged"' EXIT
unit "${WEB_UNIT%.service}" "Lokaal Sparen web server" \
  serve --host 127.0.0.1 --port "$PORT" --workers "$WORKERS" >"$staged/$WEB_UNIT"
unit "${WORKER_UNIT%.service}" "Lokaal Sparen scheduled jobs and backups" \
  worker >"$staged/$WORKER_UNIT"

{
  echo "# Lokaal Sparen, written by scripts/install-server.sh (a rerun writes it again)."
  echo "# Caddy gets and renews the certificate for the site's name by itself (ports"
  echo "# 80 and 443 open to the world) and passes the Host header on unchanged."
  if [ "$SYSTEMD" -eq 0 ]; then
    echo "{"
    echo "	# Started without systemd (see install-server.sh): no reloads, so no admin endpoint."
    echo "	admin off"
    echo "}"
    echo
  fi
  echo "$PUBLIC_URL {"
  echo "	encode zstd gzip"
  echo "	reverse_proxy 127.0.0.1:$PORT"
  echo "}"
} >"$staged/Caddyfile"

cat >"$WRAPPER" <<EOF
#!/usr/bin/env bash
# The loyalty command with this server's settings ($ENV_FILE), as its user.
# Written by scripts/install-server.sh. Example: loyalty check
set -euo pipefail
[ -r "$ENV_FILE" ] || { echo "loyalty: cannot read $ENV_FILE (run it as root: sudo loyalty ...)" >&2; exit 1; }
while IFS= read -r line || [ -n "\$line" ]; do
  case \$line in '' | '#'*) continue ;; esac
  key=\${line%%=*}
  value=\${line#*=}
  [[ \$key =~ ^[A-Za-z_][A-Za-z0-9_]*\$ ]] || continue
  value=\${value#\\"}
  value=\${value%\\"}
  export "\$key=\$value"
done <"$ENV_FILE"
export FLASK_SKIP_DOTENV=1 HOME="$STATE_DIR"
cd "$STATE_DIR"
exec ${AS_USER[*]} "$VENV/bin/loyalty" "\$@"
EOF
chmod 0755 "$WRAPPER"
note "$WRAPPER (e.g. loyalty check)"

if [ "$SYSTEMD" -eq 0 ]; then
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$(dirname "$LOGROTATE_FILE")"
  cat >"$LOGROTATE_FILE" <<EOF
# Logs of the services started without systemd (scripts/install-server.sh).
$LOG_DIR/*.log {
	weekly
	rotate 8
	compress
	delaycompress
	missingok
	notifempty
	copytruncate
}
EOF
  note "$LOGROTATE_FILE"
fi

step "checking the units and the Caddyfile"
if command -v systemd-analyze >/dev/null; then
  # Exit 0 with warnings too (an unknown key is ignored): any line about our
  # units counts as a failure.
  verify_output=$(systemd-analyze verify "$staged/$WEB_UNIT" "$staged/$WORKER_UNIT" 2>&1) ||
    fail "systemd-analyze verify failed: $verify_output"
  if grep -q "$NAME" <<<"$verify_output"; then
    fail "systemd-analyze verify: $verify_output"
  fi
  note "systemd-analyze verify: units OK"
else
  note "systemd-analyze is not installed: units not checked"
fi
if command -v caddy >/dev/null; then
  # Its own scratch home: validating writes nothing into root's.
  if ! caddy_output=$(HOME=$staged XDG_DATA_HOME=$staged XDG_CONFIG_HOME=$staged \
    caddy validate --config "$staged/Caddyfile" --adapter caddyfile 2>&1); then
    fail "caddy validate failed: $caddy_output"
  fi
  note "caddy validate: Caddyfile OK"
else
  [ "$REAL" -eq 1 ] && fail "caddy is not installed"
  note "caddy is not installed: Caddyfile not checked"
fi

mv "$staged/$WEB_UNIT" "$UNIT_DIR/$WEB_UNIT"
mv "$staged/$WORKER_UNIT" "$UNIT_DIR/$WORKER_UNIT"
note "$UNIT_DIR/$WEB_UNIT, $UNIT_DIR/$WORKER_UNIT"
if [ -f "$CADDYFILE" ] && ! grep -q 'scripts/install-server.sh' "$CADDYFILE" &&
  [ ! -f "$CADDYFILE.before-$NAME" ]; then
  cp -p "$CADDYFILE" "$CADDYFILE.before-$NAME"
  note "the Caddyfile that was there is kept as $CADDYFILE.before-$NAME"
fi
mv "$staged/Caddyfile" "$CADDYFILE"
chmod 0644 "$CADDYFILE" "$UNIT_DIR/$WEB_UNIT" "$UNIT_DIR/$WORKER_UNIT"
note "$CADDYFILE"

# -- migrations -------------------------------------------------------------------

step "migrating the database (loyalty db upgrade)"
loyalty db upgrade 2>&1 | sed 's/^/    /'

# -- services -----------------------------------------------------------------------

stop_direct() { # NAME MARKER: stop the process of NAME's pid file if it is ours
  local pidfile=$RUN_DIR/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  # The pid may have been reused since: only a process whose command line names
  # this installation is ours to stop.
  if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$2"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 80); do
      alive "$pid" || break
      sleep 0.5
    done
    if alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      note "$1 (pid $pid) did not stop in 40 s: killed"
    else
      note "$1 (pid $pid) stopped"
    fi
  fi
  rm -f "$pidfile"
}

start_direct() { # NAME COMMAND...: a background process with a pid file and a log
  local name=$1
  shift
  (
    exec </dev/null >>"$LOG_DIR/$name.log" 2>&1
    # Its own session: it outlives this script and its terminal.
    exec setsid "$@"
  ) &
  echo "$!" >"$RUN_DIR/$name.pid"
  note "$name started (pid $!, log $LOG_DIR/$name.log)"
}

start_app() { # NAME loyalty-ARGUMENTS...: start_direct with the server's settings
  local name=$1
  shift
  (
    load_env
    cd "$STATE_DIR"
    start_direct "$name" "${AS_USER[@]}" "$VENV/bin/loyalty" "$@"
  )
}

direct_failed() { # NAME
  note "--- last lines of $LOG_DIR/$1.log:"
  tail -n 30 "$LOG_DIR/$1.log" | sed 's/^/    /' >&2
  fail "$1 did not start"
}

step "starting the services"
health_url="http://127.0.0.1:$PORT/healthz"
if [ "$SYSTEMD" -eq 1 ]; then
  systemctl daemon-reload
  systemctl enable --quiet "$WEB_UNIT" "$WORKER_UNIT"
  systemctl restart "$WEB_UNIT" "$WORKER_UNIT"
  note "systemctl restart $WEB_UNIT $WORKER_UNIT"
  if [ "$PROXY" -eq 1 ]; then
    systemctl enable --quiet caddy
    systemctl reload-or-restart caddy
    note "systemctl reload-or-restart caddy"
  fi
else
  if [ ! -d /run/systemd/system ]; then
    note "systemd is not running here (no /run/systemd/system): the units are written and"
    note "checked but not used; the services are started directly as background processes"
  else
    note "--prefix: the units are written and checked but not installed into systemd;"
    note "the services are started directly as background processes"
  fi
  note "pid files in $RUN_DIR, logs in $LOG_DIR; after a reboot, run this script again"
  stop_direct web "$VENV/bin/loyalty"
  stop_direct worker "$VENV/bin/loyalty"
  if [ "$PROXY" -eq 1 ]; then stop_direct caddy "$CADDYFILE"; fi
  start_app web serve --host 127.0.0.1 --port "$PORT" --workers "$WORKERS"
  start_app worker worker
  worker_started=$SECONDS
  if [ "$PROXY" -eq 1 ]; then
    # Caddy keeps its certificates and state in its own folder; it does not get
    # the app's settings (the secret stays with the app).
    mkdir -p "$CADDY_HOME"
    start_direct caddy env HOME="$CADDY_HOME" XDG_DATA_HOME="$CADDY_HOME" \
      XDG_CONFIG_HOME="$CADDY_HOME" caddy run --config "$CADDYFILE" --adapter caddyfile
  fi
fi

step "waiting for $health_url"
for _ in $(seq 120); do
  healthy "$health_url" && break
  if [ "$SYSTEMD" -eq 0 ] && ! alive "$(cat "$RUN_DIR/web.pid")"; then
    direct_failed web
  fi
  sleep 0.5
done
if ! healthy "$health_url"; then
  [ "$SYSTEMD" -eq 1 ] && journalctl -u "$WEB_UNIT" -n 30 --no-pager >&2
  [ "$SYSTEMD" -eq 0 ] && direct_failed web
  fail "the web server does not answer $health_url"
fi
note "web server answers"
if [ "$SYSTEMD" -eq 1 ]; then
  # A worker that cannot start stops within a second or two.
  sleep 3
  systemctl is-active --quiet "$WORKER_UNIT" || {
    journalctl -u "$WORKER_UNIT" -n 30 --no-pager >&2
    fail "$WORKER_UNIT is not running"
  }
  [ "$PROXY" -eq 1 ] && { systemctl is-active --quiet caddy || fail "caddy is not running"; }
else
  # A worker that cannot start stops within a second or two.
  while [ $((SECONDS - worker_started)) -lt 3 ]; do sleep 0.5; done
  alive "$(cat "$RUN_DIR/worker.pid")" || direct_failed worker
  [ "$PROXY" -eq 1 ] && { alive "$(cat "$RUN_DIR/caddy.pid")" || direct_failed caddy; }
fi
if [ "$PROXY" -eq 1 ]; then
  note "worker and Caddy running"
else
  note "worker running"
fi

if [ "$SYSTEMD" -eq 1 ]; then
  how="by systemd ($WEB_UNIT, $WORKER_UNIT)"
else
  how="as background processes (pid files in $RUN_DIR)"
fi
proxy_part="Caddy in front"
[ "$PROXY" -eq 1 ] || proxy_part="Caddy left alone"
processes="$WORKERS processes"
if [ "$WORKERS" -eq 1 ]; then processes="1 process"; fi
done_word=installed
[ "$INSTALLED" -eq 1 ] && done_word=upgraded
echo "Lokaal Sparen $VERSION $done_word for $PUBLIC_URL in $((SECONDS - STARTED)) s:" \
  "web on 127.0.0.1:$PORT ($processes) and worker running $how, $proxy_part," \
  "database ${DATABASE_URL%%:*}, settings in $ENV_FILE"
