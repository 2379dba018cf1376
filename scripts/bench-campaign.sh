#!/bin/sh
# Measures a campaign: a release cloudchatd sends one template to N opted-in
# contacts through the Graph API simulator, which answers like Meta and posts
# the status webhooks back. Reports the wall time from `campaign start`
# (recipients made, frozen and claimed) to the campaign's completion, the
# achieved rate, the daemon's CPU seconds and peak memory, database rows
# written per second, the time from the last send to the last status applied,
# and whether every recipient was messaged exactly once.
#
#   scripts/bench-campaign.sh                                 100,000 recipients at 1,000 messages/s
#   scripts/bench-campaign.sh --transient-errors 5            the same, with 5 % of requests failing transiently
#   scripts/bench-campaign.sh --recipients 20000 --rate 500
set -eu

say() { printf '\n==> %s\n' "$*"; }
err() { printf 'bench-campaign: error: %s\n' "$*" >&2; exit 1; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo_root"
[ -x /opt/swift/usr/bin/swift ] && PATH="/opt/swift/usr/bin:$PATH" && export PATH

bench_db=cloudchat_bench_campaign
bench_dir=.dev/bench-campaign
port=${CLOUDCHAT_BENCH_PORT:-8790}
simulator_port=${CLOUDCHAT_BENCH_SIMULATOR_PORT:-8791}
control_port=${CLOUDCHAT_BENCH_CONTROL_PORT:-8792}
secret=bench-app-secret
token=bench-access-token
waba=102290129340398
number=106540352242922
. "$repo_root/scripts/bench-lib.sh"
bench_err() { err "$@"; }

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

# Rows written to tables by every statement (MariaDB counts temporary tables apart, in Handler_tmp_*).
rows_written() { sql "SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_write', 'Handler_update', 'Handler_delete')" | awk '{ sum += $2 } END { print sum }'; }

main() {
    recipients=100000
    rate=1000
    transient=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --recipients) recipients=${2:?--recipients needs a count}; shift 2 ;;
            --rate) rate=${2:?--rate needs messages per second}; shift 2 ;;
            --transient-errors) transient=${2:?--transient-errors needs a percentage}; shift 2 ;;
            -h|--help) usage 0 ;;
            *) printf 'bench-campaign: unknown option %s\n' "$1" >&2; usage 64 ;;
        esac
    done
    case "$recipients$rate$transient" in *[!0-9]*) err "--recipients, --rate and --transient-errors take whole numbers" ;; esac

    bench_build
    bench_prepare_database
    say "Starting the Graph API simulator: one number limited to $rate messages/s, $transient % transient errors"
    bench_start_simulator --number "$number:15550783881:$waba:$rate" --webhook-url "http://127.0.0.1:$port/webhook" \
        --transient-error-rate "$(awk "BEGIN { print $transient / 100 }")"

    conf="$bench_dir/cloudchatd.conf"
    "$bin/cloudchatd" credentials set --config "$conf" --phone-number-id "$number" --waba-id "$waba" \
        --token-file "$bench_dir/token" --send-rate "$rate" >/dev/null
    "$bin/cloudchatd" templates sync --config "$conf" >/dev/null
    say "Adding $recipients opted-in contacts"
    sql "INSERT INTO $bench_db.wp_cloudchat_contacts (account_id, wa_id, name, consent_state, source, created_at, updated_at)
           SELECT 1, CONCAT('16501', LPAD(seq, 7, '0')), CONCAT('Customer ', seq), 'opted_in', 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
             FROM $bench_db.seq_1_to_$recipients;"
    id=$("$bin/cloudchatd" campaign create --config "$conf" --phone-number-id "$number" --name "Benchmark" --template order_update \
            --variables '{"body":[{"field":"first_name"},{"text":"#1042"}],"buttons":{"0":{"text":"1042"}}}' \
         | sed -n 's/^created campaign \([0-9]*\).*/\1/p')
    [ -n "$id" ] || err "the campaign was not created"

    bench_settle_database
    say "Starting cloudchatd, then campaign $id"
    "$bin/cloudchatd" serve --config "$conf" 2>"$bench_dir/cloudchatd.log" &
    daemon_pid=$!
    i=0
    until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -le 100 ] || err "cloudchatd did not start; see $bench_dir/cloudchatd.log"
        sleep 0.1
    done
    cpu_before=$(cpu_seconds "$daemon_pid")
    simulator_cpu_before=$(cpu_seconds "$simulator_pid")
    server_pid=$(cat .dev/mariadb/mysqld.pid)
    server_before=$(cpu_seconds "$server_pid")
    rows_before=$(rows_written)
    started=$(date +%s.%N)
    "$bin/cloudchatd" campaign start --config "$conf" "$id" > "$bench_dir/start.txt"
    materialized=$(date +%s.%N)
    while :; do
        state=$(sql "SELECT state FROM $bench_db.wp_cloudchat_campaigns WHERE id = $id")
        [ "$state" = completed ] && break
        [ "$state" = running ] || err "the campaign is $state; see $bench_dir/cloudchatd.log"
        kill -0 "$daemon_pid" 2>/dev/null || err "cloudchatd exited; see $bench_dir/cloudchatd.log"
        [ $(( $(date +%s) - ${started%.*} )) -le $((recipients * 3 / rate + 120)) ] || err "the campaign did not complete in time"
        # Counting is itself work for the database: the count is shown every 5 s, the state read every 0.2 s.
        polls=$((${polls:-0} + 1))
        if [ $((polls % 25)) = 0 ]; then
            printf '\r  %s of %s sent ' "$(sql "SELECT COUNT(*) FROM $bench_db.wp_cloudchat_campaign_recipients WHERE campaign_id = $id AND state IN ('sent', 'delivered', 'read')")" "$recipients"
        fi
        sleep 0.2
    done
    printf '\n'
    completed=$(date +%s.%N)
    curl -fsS "http://127.0.0.1:$port/metrics" > "$bench_dir/metrics.txt"
    cpu_after=$(cpu_seconds "$daemon_pid")
    simulator_cpu_after=$(cpu_seconds "$simulator_pid")
    server_after=$(cpu_seconds "$server_pid")
    rows_after=$(rows_written)
    # The statuses of the last sends arrive after them; wait until they stop coming, at most 60 s.
    last=-1
    i=0
    while [ "$i" -lt 60 ]; do
        now=$(sql "SELECT COUNT(*) FROM $bench_db.wp_cloudchat_status_events")
        [ "$now" = "$last" ] && [ "$(sql "SELECT COUNT(*) FROM $bench_db.wp_cloudchat_webhook_events WHERE processing_state = 'pending'")" = 0 ] && break
        last=$now
        i=$((i + 1))
        sleep 1
    done
    peak_rss=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")
    curl -fsS "http://127.0.0.1:$simulator_port/_simulator/stats" > "$bench_dir/simulator-stats.json"
    "$bin/cloudchatd" campaign show --config "$conf" "$id" > "$bench_dir/show.txt"
    stop_all
    daemon_pid=
    simulator_pid=

    say "Result"
    wall=$(awk "BEGIN { printf \"%.1f\", $completed - $started }")
    echo "machine: $(nproc) cores; $(mariadbd --version | sed 's/ for .*//'); innodb_flush_log_at_trx_commit=$(sql 'SELECT @@innodb_flush_log_at_trx_commit')"
    echo "campaign: $recipients recipients, template order_update with per-recipient values, number at $rate messages/s, $transient % transient errors"
    echo "wall time from \`campaign start\` to completed: $wall s (the start command, which makes and freezes the recipients while sending begins, returned after $(awk "BEGIN { printf \"%.1f\", $materialized - $started }") s)"
    sql "SELECT CONCAT('sends: ', COUNT(*), ' in ', ROUND(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), MAX(created_at)) / 1e6, 1), ' s = ',
                       ROUND((COUNT(*) - 1) / (TIMESTAMPDIFF(MICROSECOND, MIN(created_at), MAX(created_at)) / 1e6), 1), ' messages/s')
           FROM $bench_db.wp_cloudchat_messages WHERE campaign_id = $id"
    stats=$(tr -d '\n ' < "$bench_dir/simulator-stats.json" | grep -o '"sends":{[^}]*}')
    echo "simulator: $stats"
    accepted=$(printf '%s' "$stats" | sed 's/.*"accepted":\([0-9]*\).*/\1/')
    unique=$(printf '%s' "$stats" | sed 's/.*"recipients":\([0-9]*\).*/\1/')
    twice=$(printf '%s' "$stats" | sed 's/.*"recipients_messaged_more_than_once":\([0-9]*\).*/\1/')
    if [ "$accepted" = "$recipients" ] && [ "$unique" = "$recipients" ] && [ "$twice" = 0 ]; then
        bench_latency_report "$bench_dir/metrics.txt"
    echo "exactly once: yes ($unique recipients, $accepted accepted sends, none twice)"
    else
        echo "exactly once: NO ($unique recipients of $recipients, $accepted accepted sends, $twice messaged more than once)"
    fi
    echo "recipients: $(sql "SELECT GROUP_CONCAT(CONCAT(state, '=', n) ORDER BY state SEPARATOR ' ') FROM (SELECT state, COUNT(*) n FROM $bench_db.wp_cloudchat_campaign_recipients WHERE campaign_id = $id GROUP BY state) s")"
    echo "last status applied $(sql "SELECT ROUND(TIMESTAMPDIFF(MICROSECOND, (SELECT MAX(created_at) FROM $bench_db.wp_cloudchat_messages WHERE campaign_id = $id), MAX(applied_at)) / 1e6, 1) FROM $bench_db.wp_cloudchat_status_events") s after the last send"
    echo "database rows written (handler writes, updates and deletes, temporary tables left out): $((rows_after - rows_before)) = $(awk "BEGIN { printf \"%.0f\", ($rows_after - $rows_before) / $wall }") rows/s"
    echo "cloudchatd CPU: $(awk "BEGIN { printf \"%.1f\", $cpu_after - $cpu_before }") s over $wall s; peak RSS $((peak_rss / 1024)) MiB; mariadbd CPU: $(awk "BEGIN { printf \"%.1f\", $server_after - $server_before }") s; simulator CPU: $(awk "BEGIN { printf \"%.1f\", $simulator_cpu_after - $simulator_cpu_before }") s"
    sed 's/^/  /' "$bench_dir/show.txt"
}

main "$@"
