#!/bin/sh
# Measures webhook intake: a release cloudchatd against the development
# MariaDB (durable: innodb_flush_log_at_trx_commit=1), driven over loopback by
# the WebhookLoad generator on the same machine. Reports requests/s, latency,
# the rows that landed (every 200 must be a row), processing lag (sampled from
# /metrics during the load, and the time to finish processing after it), and
# the daemon's CPU and memory.
#
#   scripts/bench-ingest.sh                         60 s, as fast as answers come
#   scripts/bench-ingest.sh --rate 2000             60 s at 2,000 webhooks/s
#   scripts/bench-ingest.sh --duration 10 --connections 32
#   scripts/bench-ingest.sh --hold-processing       intake alone; processing starts after the load,
#                                                   so the backlog's processing rate is measured too
set -eu

say() { printf '\n==> %s\n' "$*"; }
err() { printf 'bench-ingest: error: %s\n' "$*" >&2; exit 1; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo_root"
[ -x /opt/swift/usr/bin/swift ] && PATH="/opt/swift/usr/bin:$PATH" && export PATH

bench_db=cloudchat_bench
bench_dir=.dev/bench
port=${CLOUDCHAT_BENCH_PORT:-8788}
secret=bench-app-secret
daemon_pid=

sql() { mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -uroot -N -e "$1"; }

stop_daemon() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid" 2>/dev/null || true
    fi
}

main() {
    hold_processing=
    if [ "${1:-}" = --hold-processing ]; then
        hold_processing=yes
        shift
    fi
    # The load generator takes the other arguments; the duration defaults to 60 s here.
    case " $* " in *" --duration "*) extra="" ;; *) extra="--duration 60" ;; esac

    scripts/install-deps.sh >/dev/null
    scripts/mariadb-dev.sh start >/dev/null
    eval "$(scripts/mariadb-dev.sh env)"

    say "Building release binaries"
    swift build -c release --product cloudchatd >/dev/null
    swift build -c release --product WebhookLoad >/dev/null
    bin=$(swift build -c release --show-bin-path)

    say "Preparing a fresh database $bench_db"
    mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -uroot -e "
        DROP DATABASE IF EXISTS $bench_db;
        CREATE DATABASE $bench_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        CREATE TABLE $bench_db.wp_options (
          option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, option_name VARCHAR(191) NOT NULL DEFAULT '',
          option_value LONGTEXT NOT NULL, autoload VARCHAR(20) NOT NULL DEFAULT 'yes',
          PRIMARY KEY (option_id), UNIQUE KEY option_name (option_name)
        ) DEFAULT CHARSET=utf8mb4;"
    mkdir -p "$bench_dir"
    cat > "$bench_dir/cloudchatd.conf" <<CONF
db_host = localhost:$CLOUDCHAT_TEST_DB_SOCKET
db_name = $bench_db
db_user = $CLOUDCHAT_TEST_DB_USER
db_password = $CLOUDCHAT_TEST_DB_PASSWORD
table_prefix = wp_
http_listen = 127.0.0.1:$port
control_listen = 127.0.0.1:0
webhook_app_secret = $secret
webhook_verify_token = bench
spool_dir = $repo_root/$bench_dir/spool
log_level = warning
CONF
    "$bin/cloudchatd" migrate --config "$bench_dir/cloudchatd.conf" >/dev/null
    # The business number the load generator's bodies are addressed to.
    sql "INSERT INTO $bench_db.wp_cloudchat_accounts (waba_id, phone_number_id, display_phone_number, created_at, updated_at)
         VALUES ('102290129340398', '106540352242922', '15550783881', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"

    if [ -n "$hold_processing" ]; then
        # Another holder has the processor lease for now, so the daemon only takes webhooks in.
        sql "INSERT INTO $bench_db.wp_cloudchat_leases (name, owner_id, epoch, acquired_at, renewed_at, expires_at, updated_at)
             VALUES ('processor', 'bench:hold', 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL 1 DAY, UTC_TIMESTAMP(6))"
    fi

    say "Starting cloudchatd on 127.0.0.1:$port"
    "$bin/cloudchatd" serve --config "$bench_dir/cloudchatd.conf" 2>"$bench_dir/cloudchatd.log" &
    daemon_pid=$!
    trap stop_daemon EXIT
    i=0
    until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -le 100 ] || err "cloudchatd did not become ready; see $bench_dir/cloudchatd.log"
        kill -0 "$daemon_pid" 2>/dev/null || err "cloudchatd exited; see $bench_dir/cloudchatd.log"
        sleep 0.1
    done
    cpu_before=$(awk '{print $14 + $15}' "/proc/$daemon_pid/stat")
    server_pid=$(cat .dev/mariadb/mysqld.pid)
    server_before=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")

    say "Load"
    # Sample the processing lag once a second while the load runs.
    : > "$bench_dir/lag.txt"
    (
        while kill -0 "$daemon_pid" 2>/dev/null; do
            curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null | sed -n 's/^cloudchat_webhook_processing_lag_seconds{[^}]*} //p' >> "$bench_dir/lag.txt"
            sleep 1
        done
    ) &
    sampler_pid=$!
    # shellcheck disable=SC2086 # extra holds optional words
    "$bin/WebhookLoad" --port "$port" --secret "$secret" $extra "$@" | tee "$bench_dir/load.txt"
    load_end=$(date +%s.%N)
    if [ -n "$hold_processing" ]; then
        say "Releasing the processor lease: processing the backlog"
        sql "UPDATE $bench_db.wp_cloudchat_leases SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE name = 'processor'"
    fi
    # Processing catches up: wait until no stored event is pending any more.
    while [ "$(sql "SELECT COUNT(*) FROM $bench_db.wp_cloudchat_webhook_events WHERE processing_state = 'pending'")" != 0 ]; do
        sleep 0.2
    done
    drained=$(date +%s.%N)
    kill "$sampler_pid" 2>/dev/null || true

    cpu_after=$(awk '{print $14 + $15}' "/proc/$daemon_pid/stat")
    server_after=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
    ticks=$(getconf CLK_TCK)
    peak_rss=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")
    accepted=$(sed -n 's/^accepted=//p' "$bench_dir/load.txt")
    rows=$(sql "SELECT COUNT(*) FROM $bench_db.wp_cloudchat_webhook_events")
    outcomes=$(sql "SELECT CONCAT(processing_state, '=', COUNT(*)) FROM $bench_db.wp_cloudchat_webhook_events GROUP BY processing_state" | tr '\n' ' ')
    processing_rate=$(sql "SELECT ROUND(COUNT(*) / (TIMESTAMPDIFF(MICROSECOND, MIN(processed_at), MAX(processed_at)) / 1e6))
                           FROM $bench_db.wp_cloudchat_webhook_events")
    domain=$(sql "SELECT CONCAT('messages=', (SELECT COUNT(*) FROM $bench_db.wp_cloudchat_messages),
                                ' status_events=', (SELECT COUNT(*) FROM $bench_db.wp_cloudchat_status_events),
                                ' contacts=', (SELECT COUNT(*) FROM $bench_db.wp_cloudchat_contacts))")
    stop_daemon
    daemon_pid=

    say "Result"
    echo "machine: $(nproc) cores; $(mariadbd --version | sed 's/ for .*//'); innodb_flush_log_at_trx_commit=$(mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -uroot -N -e 'SELECT @@innodb_flush_log_at_trx_commit')"
    echo "acknowledged with 200: $accepted; rows in $bench_db.wp_cloudchat_webhook_events: $rows"
    [ "$accepted" = "$rows" ] && echo "every acknowledged webhook is in the database" || echo "MISMATCH: acknowledged and stored differ"
    echo "processing: $outcomes; $domain"
    echo "processing rate: $processing_rate events/s from the first event processed to the last"
    echo "processing lag during the load: max $(sort -g "$bench_dir/lag.txt" | tail -1) s over $(wc -l < "$bench_dir/lag.txt") samples; all processed $(awk "BEGIN { printf \"%.1f\", $drained - $load_end }") s after the load ended"
    echo "cloudchatd CPU: $(( (cpu_after - cpu_before) / ticks )).$(( (cpu_after - cpu_before) % ticks * 100 / ticks )) s; peak RSS $((peak_rss / 1024)) MiB"
    echo "mariadbd CPU: $(( (server_after - server_before) / ticks )).$(( (server_after - server_before) % ticks * 100 / ticks )) s"
    [ "$accepted" = "$rows" ]
}

main "$@"
