#!/bin/sh
# Measures sending: a release cloudchatd paces queued outbox messages to the
# Graph API simulator on loopback, which answers like Meta (130429 over a
# number's throughput) and posts the status webhooks back. Reports the achieved
# rate per number against the target (over the whole run and per second), the
# throughput errors, send latency, the statuses applied, and the daemon's CPU
# and memory.
#
#   scripts/bench-send.sh                          one number at 1,000 messages/s for 60 s
#   scripts/bench-send.sh --numbers 4 --rate 250   four numbers at 250/s each, at once
#   scripts/bench-send.sh --duration 10 --no-statuses
set -eu

say() { printf '\n==> %s\n' "$*"; }
err() { printf 'bench-send: error: %s\n' "$*" >&2; exit 1; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo_root"
[ -x /opt/swift/usr/bin/swift ] && PATH="/opt/swift/usr/bin:$PATH" && export PATH

bench_db=cloudchat_bench_send
bench_dir=.dev/bench-send
port=${CLOUDCHAT_BENCH_PORT:-8790}
simulator_port=${CLOUDCHAT_BENCH_SIMULATOR_PORT:-8791}
secret=bench-app-secret
token=bench-access-token
waba=102290129340398
. "$repo_root/scripts/bench-lib.sh"
bench_err() { err "$@"; }

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

main() {
    rate=1000
    numbers=1
    duration=60
    statuses=yes
    while [ $# -gt 0 ]; do
        case "$1" in
            --rate) rate=${2:?--rate needs messages per second}; shift 2 ;;
            --numbers) numbers=${2:?--numbers needs a count}; shift 2 ;;
            --duration) duration=${2:?--duration needs seconds}; shift 2 ;;
            --no-statuses) statuses=; shift ;;
            -h|--help) usage 0 ;;
            *) printf 'bench-send: unknown option %s\n' "$1" >&2; usage 64 ;;
        esac
    done
    case "$rate$numbers$duration" in *[!0-9]*) err "--rate, --numbers and --duration take whole numbers" ;; esac
    per_number=$((rate * duration))

    bench_build
    bench_prepare_database

    say "Starting the Graph API simulator: $numbers number(s), each limited to $rate messages/s"
    set --
    n=1
    while [ "$n" -le "$numbers" ]; do
        set -- "$@" --number "10654035224292$n:155507838$n:$waba:$rate"
        n=$((n + 1))
    done
    [ -n "$statuses" ] && set -- "$@" --webhook-url "http://127.0.0.1:$port/webhook"
    bench_start_simulator "$@"

    say "Queuing $per_number text messages per number (every recipient has written in the last 24 hours)"
    n=1
    while [ "$n" -le "$numbers" ]; do
        "$bin/cloudchatd" credentials set --config "$bench_dir/cloudchatd.conf" --phone-number-id "10654035224292$n" --waba-id "$waba" \
            --token-file "$bench_dir/token" --send-rate "$rate" >/dev/null
        sql "INSERT INTO $bench_db.wp_cloudchat_contacts (account_id, wa_id, source, created_at, updated_at)
               SELECT $n, CONCAT('1650', $n, LPAD(seq, 7, '0')), 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) FROM $bench_db.seq_1_to_$per_number;
             INSERT INTO $bench_db.wp_cloudchat_conversations (account_id, contact_id, last_inbound_at, created_at, updated_at)
               SELECT account_id, id, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) FROM $bench_db.wp_cloudchat_contacts WHERE account_id = $n;
             INSERT INTO $bench_db.wp_cloudchat_outbox (account_id, contact_id, priority, type, payload_json, source, next_attempt_at, created_at, updated_at)
               SELECT account_id, id, 1, 'text', '{\"type\":\"text\",\"text\":{\"body\":\"Your order has shipped\"}}', 'api',
                      UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
                 FROM $bench_db.wp_cloudchat_contacts WHERE account_id = $n;"
        n=$((n + 1))
    done

    say "Starting cloudchatd; it sends at once"
    "$bin/cloudchatd" serve --config "$bench_dir/cloudchatd.conf" 2>"$bench_dir/cloudchatd.log" &
    daemon_pid=$!
    total=$((per_number * numbers))
    cpu_before=$(cpu_seconds "$daemon_pid")
    simulator_cpu_before=$(cpu_seconds "$simulator_pid")
    server_pid=$(cat .dev/mariadb/mysqld.pid)
    server_before=$(cpu_seconds "$server_pid")
    started=$(date +%s)
    while :; do
        left=$(sql "SELECT COUNT(*) FROM $bench_db.wp_cloudchat_outbox WHERE state IN ('queued', 'sending')")
        [ "$left" = 0 ] && break
        kill -0 "$daemon_pid" 2>/dev/null || err "cloudchatd exited; see $bench_dir/cloudchatd.log"
        [ $(( $(date +%s) - started )) -le $((duration * 3 + 60)) ] || err "sending did not finish in $((duration * 3 + 60)) s; $left rows left"
        printf '\r  %s of %s left ' "$left" "$total"
        sleep 1
    done
    printf '\n'
    sent_done=$(date +%s.%N)
    cpu_after=$(cpu_seconds "$daemon_pid")
    simulator_cpu_after=$(cpu_seconds "$simulator_pid")
    server_after=$(cpu_seconds "$server_pid")
    curl -fsS "http://127.0.0.1:$port/metrics" > "$bench_dir/metrics.txt"
    if [ -n "$statuses" ]; then
        # The statuses of the last sends arrive after them; wait until they stop coming, at most 30 s.
        last=-1
        i=0
        while [ "$i" -lt 30 ]; do
            now=$(sql "SELECT COUNT(*) FROM $bench_db.wp_cloudchat_status_events")
            [ "$now" = "$last" ] && [ "$(sql "SELECT COUNT(*) FROM $bench_db.wp_cloudchat_webhook_events WHERE processing_state = 'pending'")" = 0 ] && break
            last=$now
            i=$((i + 1))
            sleep 1
        done
    fi
    peak_rss=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")
    curl -fsS "http://127.0.0.1:$simulator_port/_simulator/stats" > "$bench_dir/simulator-stats.json"
    stop_all
    daemon_pid=
    simulator_pid=

    say "Result"
    echo "machine: $(nproc) cores; $(mariadbd --version | sed 's/ for .*//'); innodb_flush_log_at_trx_commit=$(sql 'SELECT @@innodb_flush_log_at_trx_commit')"
    echo "target: $numbers number(s) at $rate messages/s each, $per_number messages per number"
    echo "outbox: $(sql "SELECT GROUP_CONCAT(CONCAT(state, '=', n) ORDER BY state SEPARATOR ' ') FROM (SELECT state, COUNT(*) n FROM $bench_db.wp_cloudchat_outbox GROUP BY state) s")"
    # Rate from the first send Meta accepted to the last, and per whole second in between (first and last seconds left out).
    sql "SELECT CONCAT('number ', a.phone_number_id, ': ', COUNT(*), ' sent in ', ROUND(TIMESTAMPDIFF(MICROSECOND, MIN(o.sent_at), MAX(o.sent_at)) / 1e6, 2),
                       ' s = ', ROUND((COUNT(*) - 1) / (TIMESTAMPDIFF(MICROSECOND, MIN(o.sent_at), MAX(o.sent_at)) / 1e6), 1), ' messages/s (',
                       ROUND(((COUNT(*) - 1) / (TIMESTAMPDIFF(MICROSECOND, MIN(o.sent_at), MAX(o.sent_at)) / 1e6) / $rate - 1) * 100, 2), ' % from the target)')
           FROM $bench_db.wp_cloudchat_outbox o JOIN $bench_db.wp_cloudchat_accounts a ON a.id = o.account_id
          WHERE o.state = 'sent' GROUP BY a.phone_number_id ORDER BY a.phone_number_id"
    sql "SELECT CONCAT('number ', phone_number_id, ': per second min ', MIN(n), ', max ', MAX(n), ' over ', COUNT(*), ' whole seconds')
           FROM (SELECT a.phone_number_id, FLOOR(UNIX_TIMESTAMP(o.sent_at)) AS second, COUNT(*) AS n
                   FROM $bench_db.wp_cloudchat_outbox o JOIN $bench_db.wp_cloudchat_accounts a ON a.id = o.account_id
                  WHERE o.state = 'sent' GROUP BY a.phone_number_id, second) per_second
          WHERE (phone_number_id, second) NOT IN (
                SELECT a.phone_number_id, FLOOR(UNIX_TIMESTAMP(MIN(o.sent_at))) FROM $bench_db.wp_cloudchat_outbox o
                  JOIN $bench_db.wp_cloudchat_accounts a ON a.id = o.account_id GROUP BY a.phone_number_id
                UNION SELECT a.phone_number_id, FLOOR(UNIX_TIMESTAMP(MAX(o.sent_at))) FROM $bench_db.wp_cloudchat_outbox o
                  JOIN $bench_db.wp_cloudchat_accounts a ON a.id = o.account_id GROUP BY a.phone_number_id)
          GROUP BY phone_number_id ORDER BY phone_number_id"
    echo "simulator: $(tr -d '\n ' < "$bench_dir/simulator-stats.json" | grep -o '"sends":{[^}]*}')"
    bench_latency_report "$bench_dir/metrics.txt"
    if [ -n "$statuses" ]; then
        echo "status events stored: $(sql "SELECT COUNT(*) FROM $bench_db.wp_cloudchat_status_events"); messages by status: $(sql "SELECT GROUP_CONCAT(CONCAT(status, '=', n) SEPARATOR ' ') FROM (SELECT status, COUNT(*) n FROM $bench_db.wp_cloudchat_messages GROUP BY status) s")"
        echo "last status applied $(sql "SELECT ROUND(TIMESTAMPDIFF(MICROSECOND, (SELECT MAX(sent_at) FROM $bench_db.wp_cloudchat_outbox), MAX(applied_at)) / 1e6, 1) FROM $bench_db.wp_cloudchat_status_events") s after the last send"
    fi
    echo "cloudchatd CPU: $(awk "BEGIN { printf \"%.1f\", $cpu_after - $cpu_before }") s over $(awk "BEGIN { printf \"%.0f\", $sent_done - $started }") s; peak RSS $((peak_rss / 1024)) MiB"
    echo "simulator CPU: $(awk "BEGIN { printf \"%.1f\", $simulator_cpu_after - $simulator_cpu_before }") s; mariadbd CPU: $(awk "BEGIN { printf \"%.1f\", $server_after - $server_before }") s"
}

main "$@"
