#!/usr/bin/env bash
# The local test PostgreSQL server (SPEC §4b), shared by `make pg-up/pg-down`, the tests and `.ci/run`.
# In: Debian's postgresql package (installed with apt when missing and running as root). Out: one
# unprivileged cluster on 127.0.0.1 with data and logs under $ROUTEWATCH_PG_DIR (default: .pg/ in
# the repo, gitignored); `up` prints its DSN on stdout. Never runs the server as root (uses the
# user `rwpg`, created when run as root) and touches nothing outside its work dir but that user.
#
# Usage: scripts/pg.sh up|down|status
#   ROUTEWATCH_PG_PORT (default 5450), ROUTEWATCH_PG_DIR, ROUTEWATCH_PG_USER (default rwpg),
#   ROUTEWATCH_PG_TIMEOUT (seconds `up` waits for the server, default 60).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${ROUTEWATCH_PG_DIR:-$REPO/.pg}"
PORT="${ROUTEWATCH_PG_PORT:-5450}"
PG_USER="${ROUTEWATCH_PG_USER:-rwpg}"
TIMEOUT="${ROUTEWATCH_PG_TIMEOUT:-60}"
DB="routewatch"
DSN="postgresql://${PG_USER}@127.0.0.1:${PORT}/${DB}"

say() { echo "pg.sh: $*" >&2; }
die() { say "$*"; exit 1; }

pg_bin() {  # the newest installed server's bin dir
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [[ -n "$d" && -x "$d/postgres" ]] && echo "$d"
}

as_user() {  # run a command as the server's user (or as ourselves when not root)
  if [[ "$(id -u)" == "0" ]]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

ensure_installed() {
  [[ -n "$(pg_bin)" ]] && return 0
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's postgresql package"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    # the package starts a system cluster of its own on 5432; ours is separate and stays on $PORT
  fi
  [[ -n "$(pg_bin)" ]] || die "PostgreSQL is not installed: sudo apt-get install postgresql"
}

ensure_user() {
  [[ "$(id -u)" == "0" ]] || { PG_USER="$(id -un)"; DSN="postgresql://${PG_USER}@127.0.0.1:${PORT}/${DB}"; return 0; }
  id "$PG_USER" >/dev/null 2>&1 || { say "creating system user $PG_USER to run PostgreSQL";
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"; }
}

ready() { as_user "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; }

up() {
  ensure_installed
  ensure_user
  if ready; then echo "$DSN"; return 0; fi
  mkdir -p "$WORK"
  [[ "$(id -u)" == "0" ]] && chown "$PG_USER" "$WORK"
  if [[ ! -f "$WORK/data/PG_VERSION" ]]; then
    as_user "$(pg_bin)/initdb" -D "$WORK/data" -U "$PG_USER" --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$WORK/initdb.log" 2>&1 || die "initdb failed: see $WORK/initdb.log"
  fi
  as_user "$(pg_bin)/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -t "$TIMEOUT" \
    -o "-h 127.0.0.1 -p $PORT -k $WORK -c max_connections=200 -c fsync=off" start >/dev/null \
    || die "PostgreSQL did not start: see $WORK/server.log"
  as_user "$(pg_bin)/psql" -h 127.0.0.1 -p "$PORT" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" \
    | grep -q 1 || as_user "$(pg_bin)/createdb" -h 127.0.0.1 -p "$PORT" "$DB"
  echo "$DSN"
}

down() {
  [[ -n "$(pg_bin)" && -f "$WORK/data/postmaster.pid" ]] || return 0
  ensure_user
  as_user "$(pg_bin)/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if ready; then echo "up $DSN"; else echo "down"; exit 1; fi ;;
  *) die "usage: scripts/pg.sh up|down|status" ;;
esac
