#!/bin/sh
# A throwaway MariaDB server for development, the demo and the tests.
#
# It keeps everything in its own directory (data, socket, log, pid), needs no
# system service, and is idempotent: "start" on a running server does nothing.
#
#   scripts/mariadb-dev.sh start    initialise (first time) and start the server
#   scripts/mariadb-dev.sh stop     stop it (data is kept)
#   scripts/mariadb-dev.sh status   say whether it runs; exit 1 if not
#   scripts/mariadb-dev.sh env      print the CLOUDCHAT_TEST_* settings to eval
#   scripts/mariadb-dev.sh reset    stop and delete the data directory
#
# Settings (environment):
#   CLOUDCHAT_DEV_DIR        where the server lives      (default: <repo>/.dev/mariadb)
#   CLOUDCHAT_DEV_DB_PORT    TCP port on 127.0.0.1 and ::1 (default: 3307)
set -eu

say() { printf 'mariadb-dev: %s\n' "$*"; }
err() { printf 'mariadb-dev: error: %s\n' "$*" >&2; exit 1; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || err "'$1' is not installed; run: apt-get install -y mariadb-server mariadb-client"; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
dir=${CLOUDCHAT_DEV_DIR:-$repo_root/.dev/mariadb}
port=${CLOUDCHAT_DEV_DB_PORT:-3307}
socket=$dir/mysqld.sock
pidfile=$dir/mysqld.pid
logfile=$dir/mysqld.log
datadir=$dir/data

# Test and demo credentials. They only ever guard a throwaway server that
# listens on loopback and a socket inside the repository.
db_name=cloudchat_test
db_user=cloudchat
db_password=cloudchat-dev-password

running() {
    [ -S "$socket" ] && mariadb-admin --no-defaults --socket="$socket" -uroot ping >/dev/null 2>&1
}

root_sql() {
    mariadb --no-defaults --socket="$socket" -uroot -e "$1"
}

start() {
    need_cmd mariadbd
    need_cmd mariadb-install-db
    need_cmd mariadb-admin
    need_cmd start-stop-daemon
    if running; then
        say "already running (socket $socket)"
        return 0
    fi
    mkdir -p "$dir"
    if [ ! -d "$datadir/mysql" ]; then
        say "initialising a new data directory in $datadir"
        mariadb-install-db --no-defaults --datadir="$datadir" --user="$(id -un)" \
            --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1 \
            || err "mariadb-install-db failed; see $dir/install.log"
    fi
    rm -f "$socket"
    # start-stop-daemon detaches the server into its own session with stdio on
    # /dev/null and none of the caller's other descriptors, so a caller waiting
    # for this script's output (a CI runner, a test harness) is not held open by
    # the server, and Ctrl-C in the caller's terminal does not reach it.
    # Durable settings (fsync per commit) like a production server, so the
    # figures measured against it mean something.
    rm -f "$pidfile"
    start-stop-daemon --start --background --make-pidfile --pidfile "$pidfile" \
        --exec "$(command -v mariadbd)" -- \
        --no-defaults --user="$(id -un)" \
        --datadir="$datadir" --socket="$socket" --pid-file="$pidfile" \
        --log-error="$logfile" --port="$port" --bind-address=127.0.0.1,::1 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --innodb-flush-log-at-trx-commit=1 --innodb-buffer-pool-size=256M \
        --max-connections=500 --skip-name-resolve \
        || err "could not start mariadbd; see $logfile"
    server_pid=$(cat "$pidfile")
    i=0
    until running; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            tail -n 5 "$logfile" >&2 2>/dev/null || true
            err "the server exited while starting (is port $port already in use? set CLOUDCHAT_DEV_DB_PORT); see $logfile"
        fi
        i=$((i + 1))
        [ "$i" -le 300 ] || err "server did not come up within 30 s; see $logfile"
        sleep 0.1
    done
    root_sql "CREATE DATABASE IF NOT EXISTS $db_name CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        CREATE USER IF NOT EXISTS '$db_user'@'localhost' IDENTIFIED BY '$db_password';
        CREATE USER IF NOT EXISTS '$db_user'@'127.0.0.1' IDENTIFIED BY '$db_password';
        CREATE USER IF NOT EXISTS '$db_user'@'::1' IDENTIFIED BY '$db_password';
        GRANT ALL ON \`cloudchat\\_%\`.* TO '$db_user'@'localhost';
        GRANT ALL ON \`cloudchat\\_%\`.* TO '$db_user'@'127.0.0.1';
        GRANT ALL ON \`cloudchat\\_%\`.* TO '$db_user'@'::1';
        GRANT PROCESS, CONNECTION ADMIN ON *.* TO '$db_user'@'localhost';"
    say "running: socket $socket, TCP 127.0.0.1:$port and [::1]:$port, database $db_name"
}

stop() {
    if ! running; then
        say "not running"
        return 0
    fi
    server_pid=$(cat "$pidfile" 2>/dev/null || true)
    mariadb-admin --no-defaults --socket="$socket" -uroot shutdown
    # Wait for the process itself, so a start right after cannot race it.
    i=0
    while [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le 300 ] || err "server $server_pid did not stop within 30 s; see $logfile"
        sleep 0.1
    done
    say "stopped"
}

print_env() {
    cat <<ENV
CLOUDCHAT_TEST_DB_SOCKET='$socket'
CLOUDCHAT_TEST_DB_PORT='$port'
CLOUDCHAT_TEST_DB_NAME='$db_name'
CLOUDCHAT_TEST_DB_USER='$db_user'
CLOUDCHAT_TEST_DB_PASSWORD='$db_password'
export CLOUDCHAT_TEST_DB_SOCKET CLOUDCHAT_TEST_DB_PORT CLOUDCHAT_TEST_DB_NAME CLOUDCHAT_TEST_DB_USER CLOUDCHAT_TEST_DB_PASSWORD
ENV
}

main() {
    case "${1:-}" in
        start) start ;;
        stop) stop ;;
        status) if running; then say "running (socket $socket, port $port)"; else say "not running"; exit 1; fi ;;
        env) print_env ;;
        reset) stop; rm -rf "$dir"; say "removed $dir" ;;
        -h|--help|help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' ;;
        *) err "unknown command '${1:-}'; try: $0 --help" ;;
    esac
}

main "$@"
