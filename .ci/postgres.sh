#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server.
#
#   .ci/postgres.sh COMMAND [ARGS...]     e.g.  .ci/postgres.sh make test
#
# On Debian: installs PostgreSQL from Debian's packages when no server binaries are found
# (apt-get, as root), initialises a cluster in a temporary folder, starts it on 127.0.0.1 on a
# free port with password authentication, creates the database `modelcollapse_test`, exports
# MODELCOLLAPSE_TEST_POSTGRES_URL=postgresql://modelcollapse:<password>@127.0.0.1:<port>/modelcollapse_test
# for COMMAND, then stops the server and deletes the folder, whatever COMMAND's outcome. Exits
# with COMMAND's exit status. The password is random per run and never printed.
# When run as root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

if ! BINDIR="$(find_bindir)"; then
  echo "postgres.sh: PostgreSQL not found; installing Debian's postgresql package" >&2
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "postgres.sh: expected root or sudo to run apt-get, got neither" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  # Debian's package starts a system cluster on port 5432; ours does not need it.
  BINDIR="$(find_bindir)" || { echo "postgres.sh: no initdb after installing" >&2; exit 1; }
fi

# Who runs the server: ourselves, or `postgres` when we are root.
if [ "$(id -u)" -eq 0 ]; then
  RUNAS=(runuser -u postgres --)
else
  RUNAS=()
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mc-postgres.XXXXXX")"
DATA="$WORK/data"
STARTED=0
# Server commands run from inside $WORK: the `postgres` user may not be able to read our cwd.
as_server() { (cd "$WORK" && "${RUNAS[@]}" "$@"); }

cleanup() {
  local status=$?
  if [ "$STARTED" -eq 1 ]; then
    as_server "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A random password (hex, so it needs no quoting in a URL), kept in files only we can read.
PASSWORD="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
umask 077
printf '%s\n' "$PASSWORD" >"$WORK/pwfile"
if [ "${#RUNAS[@]}" -gt 0 ]; then
  chown -R postgres "$WORK"
fi

as_server "$BINDIR/initdb" -D "$DATA" -U modelcollapse --pwfile="$WORK/pwfile" \
  --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1 ||
  { cat "$WORK/initdb.log" >&2; exit 1; }
rm -f "$WORK/pwfile"

free_port() {
  # Ask the kernel for a free port (it may be taken again before the server binds: we retry).
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    2>/dev/null || echo $((20000 + RANDOM % 40000))
}


for attempt in 1 2 3 4 5; do
  PORT="$(free_port)"
  if as_server "$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $WORK -c fsync=off -c max_connections=100" \
    start >/dev/null; then
    STARTED=1
    break
  fi
  echo "postgres.sh: start on port $PORT failed (attempt $attempt)" >&2
done
if [ "$STARTED" -ne 1 ]; then
  cat "$WORK/server.log" >&2
  exit 1
fi

PGPASSWORD="$PASSWORD" "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U modelcollapse modelcollapse_test
export MODELCOLLAPSE_TEST_POSTGRES_URL="postgresql://modelcollapse:${PASSWORD}@127.0.0.1:${PORT}/modelcollapse_test"
echo "postgres.sh: PostgreSQL $("$BINDIR/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$PORT," \
  "database modelcollapse_test (MODELCOLLAPSE_TEST_POSTGRES_URL is set)" >&2

umask 022
set +e
"$@"
STATUS=$?
set -e
exit "$STATUS"
