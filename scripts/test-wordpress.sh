#!/bin/sh
# The WordPress plugin's end-to-end tests: a real WordPress with the plugin
# (scripts/wordpress-dev.sh, reset for every run), the Graph API simulator
# standing in for Meta, and cloudchatd between them; driven over HTTP and in
# headless Chromium by Tests/wordpress-e2e/ (Python unittest and Selenium).
#
#   scripts/test-wordpress.sh [--bin-dir DIR] [TEST ...]
#
#   --bin-dir DIR   where cloudchatd and cloudchat-graph-simulator are (e.g. the
#                   output of `swift build --show-bin-path`); without it both
#                   are built first
#   TEST            test modules, classes or methods to run (default: all, in
#                   order), e.g. test_rest_security
#
# It also runs the plugin's PHPUnit tests (plugin-bridge/tests/unit) first.
# Screenshots go to test-artifacts/wordpress/. Everything it starts is stopped
# when it ends; the throwaway MariaDB (scripts/mariadb-dev.sh) keeps running.
# Ports on 127.0.0.1: WordPress 8793, simulator 8794, cloudchatd 8795 (webhooks)
# and 8796 (control API).
set -eu

say() { printf '\n==> %s\n' "$*"; }
err() { printf 'test-wordpress: error: %s\n' "$*" >&2; exit 1; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || err "'$1' is not installed; run: scripts/install-deps.sh"; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo_root"
[ -x /opt/swift/usr/bin/swift ] && PATH="/opt/swift/usr/bin:$PATH" && export PATH

run_dir=$repo_root/.dev/wordpress-e2e
artifacts=$repo_root/test-artifacts/wordpress
simulator_port=8794
http_port=8795
control_port=8796
phone_number_id=106540352242922
waba_id=102290129340398
display_number=15550783881
access_token=e2e-access-token
app_secret=e2e-app-secret
verify_token=e2e-verify-token

simulator_pid=""
started_wordpress=""

port_in_use() {
    rc=0
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" || rc=$?
    [ "$rc" -ne 7 ]
}

# Waits up to $2 tenths of a second for command $3… to succeed while process
# $1 lives; $4 names what is awaited.
wait_for() {
    pid=$1 tenths=$2 what=$3 log=$4
    shift 4
    i=0
    until "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2 || true; err "$what exited while starting; see $log"; }
        i=$((i + 1))
        [ "$i" -le "$tenths" ] || { tail -n 20 "$log" >&2 || true; err "$what did not get ready within $((tenths / 10)) s; see $log"; }
        sleep 0.1
    done
}

stop_process() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null || true
    i=0
    while kill -0 "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 100 ]; then
            printf 'test-wordpress: %s did not stop within 10 s; killing it\n' "$2" >&2
            kill -KILL "$1" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    wait "$1" 2>/dev/null || true
}

print_logs() {
    printf '\ntest-wordpress: the end-to-end run failed. Logs:\n' >&2
    printf '  cloudchatd:      %s\n' "$run_dir/daemon.log" >&2
    printf '  simulator:       %s\n' "$run_dir/simulator.log" >&2
    printf '  php -S:          %s\n' "${CLOUDCHAT_WP_PHP_LOG:-.dev/wordpress-run/php.log}" >&2
    printf '  WordPress debug: %s\n' "${CLOUDCHAT_WP_DEBUG_LOG:-.dev/wordpress-run/wp-debug.log}" >&2
    printf '  screenshots:     %s\n' "$artifacts" >&2
    if [ -s "$run_dir/daemon.log" ]; then
        printf '\nLast lines of the cloudchatd log:\n' >&2
        tail -n 15 "$run_dir/daemon.log" >&2
    fi
    if [ -n "${CLOUDCHAT_WP_DEBUG_LOG:-}" ] && [ -s "$CLOUDCHAT_WP_DEBUG_LOG" ]; then
        printf '\nLast lines of the WordPress debug log (deprecation notices left out):\n' >&2
        grep -v 'PHP Deprecated' "$CLOUDCHAT_WP_DEBUG_LOG" | tail -n 15 >&2 || true
    fi
}

# The daemon's pid is kept in a file: the outage test stops it and starts
# another, and writes the new pid there.
daemon_pid() {
    [ -f "$run_dir/daemon.pid" ] || return 0
    pid=$(cat "$run_dir/daemon.pid")
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "cloudchatd serve" && printf '%s\n' "$pid"
    return 0
}

cleanup() {
    status=$?
    trap - EXIT INT TERM
    stop_process "$(daemon_pid)" cloudchatd
    stop_process "$simulator_pid" "the simulator"
    [ -z "$started_wordpress" ] || scripts/wordpress-dev.sh stop >/dev/null || true
    [ "$status" -eq 0 ] || print_logs
    exit "$status"
}

main() {
    bin_dir=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --bin-dir) [ $# -ge 2 ] || err "--bin-dir needs a directory"; bin_dir=$2; shift 2 ;;
            --bin-dir=*) bin_dir=${1#--bin-dir=}; shift ;;
            -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p;}' "$0"; return 0 ;;
            --) shift; break ;;
            *) break ;;
        esac
    done

    for cmd in php phpunit python3 chromium chromedriver curl openssl mariadb; do need_cmd "$cmd"; done
    python3 -c 'import selenium' 2>/dev/null || err "Python's selenium is missing; run: scripts/install-deps.sh"

    if [ -z "$bin_dir" ]; then
        say "Building cloudchatd and the Graph API simulator"
        swift build --product cloudchatd
        swift build --product cloudchat-graph-simulator
        bin_dir=$(swift build --show-bin-path)
    fi
    for binary in cloudchatd cloudchat-graph-simulator; do
        [ -x "$bin_dir/$binary" ] || err "no $binary in $bin_dir; run: swift build"
    done
    for port in "$simulator_port" "$http_port" "$control_port"; do
        ! port_in_use "$port" || err "port $port on 127.0.0.1 is in use; these tests need 8793-8796"
    done

    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    say "Starting a fresh WordPress with the plugin (scripts/wordpress-dev.sh)"
    scripts/wordpress-dev.sh reset >/dev/null
    started_wordpress=yes
    CLOUDCHAT_BIN_DIR=$bin_dir scripts/wordpress-dev.sh start
    eval "$(scripts/wordpress-dev.sh env)"

    rm -rf "$run_dir" "$artifacts"
    mkdir -p "$run_dir" "$artifacts"
    openssl rand -hex 32 >"$run_dir/control-secret"
    chmod 600 "$run_dir/control-secret"
    "$bin_dir/cloudchatd" secrets-key generate --file "$run_dir/secrets.key" >/dev/null
    cat >"$run_dir/cloudchatd.conf" <<CONF
# cloudchatd for the WordPress end-to-end tests; the database settings come from wp-config.php.
http_listen = 127.0.0.1:$http_port
control_listen = 127.0.0.1:$control_port
control_secret_file = $run_dir/control-secret
webhook_verify_token = $verify_token
webhook_app_secret = $app_secret
spool_dir = $run_dir/spool
secrets_key_file = $run_dir/secrets.key
uploads_dir = $CLOUDCHAT_WP_DIR/wp-content/uploads
graph_base_url = http://127.0.0.1:$simulator_port
CONF

    say "Starting the Graph API simulator on 127.0.0.1:$simulator_port"
    "$bin_dir/cloudchat-graph-simulator" --listen "127.0.0.1:$simulator_port" \
        --webhook-url "http://127.0.0.1:$http_port/webhook" --app-secret "$app_secret" \
        --access-token "$access_token" --number "$phone_number_id:$display_number:$waba_id:80" \
        --read-probability 1 --sent-delay 50ms --delivered-delay 150ms --read-delay 300ms \
        --seed 7 --log-level notice >"$run_dir/simulator.out" 2>"$run_dir/simulator.log" &
    simulator_pid=$!
    wait_for "$simulator_pid" 100 "the simulator" "$run_dir/simulator.log" grep -q 'listening on' "$run_dir/simulator.out"

    # Without any capability, as the systemd unit runs it (CapabilityBoundingSet= is empty):
    # a socket option that needs privileges would otherwise pass here and fail in production.
    without_capabilities=""
    if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
        without_capabilities="setpriv --bounding-set=-all --inh-caps=-all --"
    fi
    say "Starting cloudchatd on 127.0.0.1:$http_port (control API 127.0.0.1:$control_port)"
    # shellcheck disable=SC2086 # the prefix is meant to split into words
    $without_capabilities "$bin_dir/cloudchatd" serve --config "$run_dir/cloudchatd.conf" --wordpress "$CLOUDCHAT_WP_DIR" \
        --log-level info >"$run_dir/daemon.log" 2>&1 &
    echo $! >"$run_dir/daemon.pid"
    wait_for "$(cat "$run_dir/daemon.pid")" 300 cloudchatd "$run_dir/daemon.log" curl -sf -o /dev/null "http://127.0.0.1:$http_port/readyz"

    if [ -f plugin-bridge/tests/unit/phpunit.xml ]; then
        say "The plugin's unit tests (PHPUnit)"
        phpunit --do-not-cache-result -c plugin-bridge/tests/unit/phpunit.xml
    fi

    say "End-to-end tests (Tests/wordpress-e2e)"
    CLOUDCHAT_E2E_SIMULATOR_URL=http://127.0.0.1:$simulator_port
    CLOUDCHAT_E2E_DAEMON_URL=http://127.0.0.1:$http_port
    CLOUDCHAT_E2E_CONTROL_URL=http://127.0.0.1:$control_port
    CLOUDCHAT_E2E_CONTROL_SECRET=$(cat "$run_dir/control-secret")
    CLOUDCHAT_E2E_PHONE_NUMBER_ID=$phone_number_id
    CLOUDCHAT_E2E_WABA_ID=$waba_id
    CLOUDCHAT_E2E_DISPLAY_NUMBER=$display_number
    CLOUDCHAT_E2E_ACCESS_TOKEN=$access_token
    CLOUDCHAT_E2E_APP_SECRET=$app_secret
    CLOUDCHAT_E2E_ARTIFACTS=$artifacts
    # The outage test restarts cloudchatd as above from these.
    CLOUDCHAT_E2E_DAEMON_BIN=$bin_dir/cloudchatd
    CLOUDCHAT_E2E_DAEMON_PREFIX=$without_capabilities
    CLOUDCHAT_E2E_DAEMON_CONFIG=$run_dir/cloudchatd.conf
    CLOUDCHAT_E2E_DAEMON_LOG=$run_dir/daemon.log
    CLOUDCHAT_E2E_DAEMON_PID_FILE=$run_dir/daemon.pid
    export CLOUDCHAT_E2E_DAEMON_BIN CLOUDCHAT_E2E_DAEMON_PREFIX CLOUDCHAT_E2E_DAEMON_CONFIG CLOUDCHAT_E2E_DAEMON_LOG CLOUDCHAT_E2E_DAEMON_PID_FILE
    export CLOUDCHAT_E2E_SIMULATOR_URL CLOUDCHAT_E2E_DAEMON_URL CLOUDCHAT_E2E_CONTROL_URL CLOUDCHAT_E2E_CONTROL_SECRET
    export CLOUDCHAT_E2E_PHONE_NUMBER_ID CLOUDCHAT_E2E_WABA_ID CLOUDCHAT_E2E_DISPLAY_NUMBER CLOUDCHAT_E2E_ACCESS_TOKEN
    export CLOUDCHAT_E2E_APP_SECRET CLOUDCHAT_E2E_ARTIFACTS
    PYTHONDONTWRITEBYTECODE=1 python3 Tests/wordpress-e2e/run.py "$@"
    say "WordPress end-to-end tests passed; screenshots in ${artifacts#"$repo_root"/}"
}

main "$@"
