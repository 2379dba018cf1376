# shellcheck shell=sh
# shellcheck disable=SC2154  # the sourcing script sets bench_db, bench_dir, port, simulator_port, secret, token and repo_root
# Shared by the sending benchmarks (sourced, not run): a fresh database with a
# config for a release cloudchatd, the simulator started and awaited, CPU
# readings from /proc, and a clean stop.
#
# The sourcing script sets bench_db, bench_dir, port, simulator_port, secret
# and token first, and calls bench_err on failure.

daemon_pid=
simulator_pid=

sql() { mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -uroot -N -e "$1"; }
cpu_seconds() { awk -v ticks="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / ticks}' "/proc/$1/stat"; }

stop_all() {
    for pid in $daemon_pid $simulator_pid; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            wait "$pid" 2>/dev/null || true
        fi
    done
}

# Builds the release binaries, starts MariaDB, and sets $bin.
bench_build() {
    scripts/install-deps.sh >/dev/null
    scripts/mariadb-dev.sh start >/dev/null
    eval "$(scripts/mariadb-dev.sh env)"
    say "Building release binaries"
    swift build -c release --product cloudchatd >/dev/null
    swift build -c release --product cloudchat-graph-simulator >/dev/null
    bin=$(swift build -c release --show-bin-path)
}

# A fresh database with WordPress's options table, CloudChat's tables, a secrets key and a config file.
bench_prepare_database() {
    say "Preparing a fresh database $bench_db"
    sql "DROP DATABASE IF EXISTS $bench_db; CREATE DATABASE $bench_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
         CREATE TABLE $bench_db.wp_options (
           option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, option_name VARCHAR(191) NOT NULL DEFAULT '',
           option_value LONGTEXT NOT NULL, autoload VARCHAR(20) NOT NULL DEFAULT 'yes',
           PRIMARY KEY (option_id), UNIQUE KEY option_name (option_name)
         ) DEFAULT CHARSET=utf8mb4;"
    rm -rf "$bench_dir"
    mkdir -p "$bench_dir"
    printf '%s\n' "$token" > "$bench_dir/token"
    cat > "$bench_dir/cloudchatd.conf" <<CONF
db_host = localhost:$CLOUDCHAT_TEST_DB_SOCKET
db_name = $bench_db
db_user = $CLOUDCHAT_TEST_DB_USER
db_password = $CLOUDCHAT_TEST_DB_PASSWORD
table_prefix = wp_
http_listen = 127.0.0.1:$port
control_listen = 127.0.0.1:${control_port:-0}
control_secret = bench-control-secret
webhook_app_secret = $secret
webhook_verify_token = bench
spool_dir = $repo_root/$bench_dir/spool
secrets_key_file = $repo_root/$bench_dir/secrets.key
uploads_dir = $repo_root/$bench_dir/uploads
graph_base_url = http://127.0.0.1:$simulator_port
log_level = warning
CONF
    "$bin/cloudchatd" migrate --config "$bench_dir/cloudchatd.conf" >/dev/null
    "$bin/cloudchatd" secrets-key generate --file "$bench_dir/secrets.key" >/dev/null
}

# Starts the simulator with the given options and waits until it answers.
bench_start_simulator() {
    "$bin/cloudchat-graph-simulator" --listen "127.0.0.1:$simulator_port" --app-secret "$secret" --access-token "$token" \
        --log-level warning "$@" > "$bench_dir/simulator.log" 2>&1 &
    simulator_pid=$!
    trap stop_all EXIT
    i=0
    until curl -fsS "http://127.0.0.1:$simulator_port/_simulator/stats" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -le 100 ] || bench_err "the simulator did not start; see $bench_dir/simulator.log"
        sleep 0.1
    done
}

# The send-duration quantiles from a saved /metrics page.
bench_latency_report() {
    awk '
        /^cloudchat_send_duration_seconds_bucket/ { split($1, parts, "\""); bound[++n] = parts[2]; count[n] = $2 }
        /^cloudchat_send_duration_seconds_count/ { total = $2 }
        /^cloudchat_send_duration_seconds_sum/ { sum = $2 }
        END {
            if (total == 0) { print "send latency: no sends timed"; exit }
            for (q = 1; q <= 3; q++) {
                share = (q == 1 ? 0.5 : (q == 2 ? 0.99 : 0.999))
                for (i = 1; i <= n; i++) if (count[i] >= share * total) { found[q] = bound[i]; break }
            }
            printf "send latency (request to Meta'"'"'s answer): mean %.2f ms; p50 <= %s s, p99 <= %s s, p99.9 <= %s s (histogram bucket bounds)\n", sum / total * 1000, found[1], found[2], found[3]
        }' "$1"
}

# Waits (at most 60 s) until the database has written out the set-up's changes (dirty pages) and purged
# old row versions, so the measured part does not pay for the set-up's background work.
bench_settle_database() {
    say "Letting the database write out the set-up"
    pct=$(sql "SELECT @@innodb_max_dirty_pages_pct")
    sql "SET GLOBAL innodb_max_dirty_pages_pct = 0"
    i=0
    while [ "$i" -lt 60 ]; do
        dirty=$(sql "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | awk '{print $2}')
        history=$(sql "SHOW ENGINE INNODB STATUS" | sed -n 's/.*History list length \([0-9]*\).*/\1/p')
        [ "${dirty:-0}" -lt 100 ] && [ "${history:-0}" -lt 1000 ] && break
        i=$((i + 1))
        sleep 1
    done
    sql "SET GLOBAL innodb_max_dirty_pages_pct = $pct"
}
