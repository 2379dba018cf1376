#!/bin/sh
# The demo: from a fresh Debian 12 machine to messages flowing through CloudChat
# without Meta credentials.
#
# Installs what is missing, starts a throwaway MariaDB (scripts/mariadb-dev.sh),
# builds cloudchatd and the Graph API simulator, sets up a demo WordPress with
# the plugin (scripts/wordpress-dev.sh: database cloudchat_demo, served on
# 127.0.0.1:8790), creates CloudChat's tables, stores the demo number's
# credentials (encrypted), checks the setup, and runs cloudchatd with the
# simulator standing in for Meta: a customer writes every few seconds, and a
# small template campaign goes out and comes back sent, delivered and read.
# It prints where to look; Ctrl-C stops everything it started.
#
#   scripts/dev.sh            run the demo
#   scripts/dev.sh --help     this text
set -eu

say() { printf '\n==> %s\n' "$*"; }
err() { printf 'dev.sh: error: %s\n' "$*" >&2; exit 1; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo_root"
[ -x /opt/swift/usr/bin/swift ] && PATH="/opt/swift/usr/bin:$PATH" && export PATH

# The demo's own WordPress, apart from the one the tests reset.
CLOUDCHAT_WP_DIR=$repo_root/.dev/demo-wordpress
CLOUDCHAT_WP_RUN_DIR=$repo_root/.dev/demo-wordpress-run
CLOUDCHAT_WP_PORT=8790
CLOUDCHAT_WP_DB_NAME=cloudchat_demo
export CLOUDCHAT_WP_DIR CLOUDCHAT_WP_RUN_DIR CLOUDCHAT_WP_PORT CLOUDCHAT_WP_DB_NAME

phone_number_id=106540352242922
waba_id=102290129340398
simulator_pid=""
daemon_pid=""

stop_all() {
    status=$?
    trap - EXIT INT TERM
    printf '\n==> Stopping the demo\n'
    # cloudchatd stops as under systemd: commits what it accepted, records what it sent.
    [ -z "$daemon_pid" ] || { kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; }
    [ -z "$simulator_pid" ] || { kill -TERM "$simulator_pid" 2>/dev/null || true; wait "$simulator_pid" 2>/dev/null || true; }
    scripts/wordpress-dev.sh stop >/dev/null 2>&1 || true
    echo "Stopped cloudchatd, the simulator and WordPress; MariaDB keeps running (scripts/mariadb-dev.sh stop)."
    exit "$status"
}

wait_until() {
    what=$1
    shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -le 300 ] || err "$what did not happen within 30 s"
        sleep 0.1
    done
}

main() {
    case "${1:-}" in
        -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p;}' "$0"; return 0 ;;
        '') ;;
        *) err "unknown option '$1'; try: scripts/dev.sh --help" ;;
    esac
    for port in 8787 8788 8789 8790; do
        rc=0
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || rc=$?
        [ "$rc" -eq 7 ] || err "port $port on 127.0.0.1 is in use (is the demo already running?); the demo needs 8787-8790"
    done

    say "Checking dependencies"
    scripts/install-deps.sh

    say "Starting MariaDB"
    scripts/mariadb-dev.sh start
    eval "$(scripts/mariadb-dev.sh env)"

    say "Building cloudchatd and the Graph API simulator"
    swift build --product cloudchatd
    swift build --product cloudchat-graph-simulator
    bin=$(swift build --show-bin-path)
    cloudchatd=$bin/cloudchatd

    trap stop_all EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    say "Setting up the demo WordPress with the plugin, and CloudChat's tables"
    CLOUDCHAT_BIN_DIR=$bin scripts/wordpress-dev.sh start
    eval "$(scripts/wordpress-dev.sh env)"

    # Demo settings; a real site takes the webhook ones from Meta's App Dashboard,
    # and the installer makes the secrets.
    mkdir -p .dev
    [ -s .dev/control-secret ] || openssl rand -hex 32 > .dev/control-secret
    printf '%s\n' demo-access-token > .dev/demo-access-token
    chmod 600 .dev/control-secret .dev/demo-access-token
    cat > .dev/cloudchatd.conf <<CONF
# cloudchatd settings for the demo; the database settings come from wp-config.php.
http_listen = 127.0.0.1:8787
control_listen = 127.0.0.1:8789
control_secret_file = $repo_root/.dev/control-secret
webhook_verify_token = demo-verify-token
webhook_app_secret = demo-app-secret
spool_dir = $repo_root/.dev/spool
secrets_key_file = $repo_root/.dev/secrets.key
uploads_dir = $CLOUDCHAT_WP_DIR/wp-content/uploads
# The Graph API simulator stands in for Meta.
graph_base_url = http://127.0.0.1:8788
CONF
    [ -s .dev/secrets.key ] || "$cloudchatd" secrets-key generate --file .dev/secrets.key
    # The plugin talks to this daemon with this secret (what Settings → Test the connection checks).
    mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -u"$CLOUDCHAT_TEST_DB_USER" -p"$CLOUDCHAT_TEST_DB_PASSWORD" "$CLOUDCHAT_WP_DB_NAME" -e "
        INSERT INTO wp_options (option_name, option_value, autoload) VALUES
          ('cloudchat_daemon_url', 'http://127.0.0.1:8789', 'no'),
          ('cloudchat_control_secret', '$(cat .dev/control-secret)', 'no')
        ON DUPLICATE KEY UPDATE option_value = VALUES(option_value);"

    say "Starting the Graph API simulator on 127.0.0.1:8788 (a customer writes every 5 seconds)"
    "$bin/cloudchat-graph-simulator" --listen 127.0.0.1:8788 --webhook-url http://127.0.0.1:8787/webhook \
        --app-secret demo-app-secret --access-token demo-access-token \
        --number "$phone_number_id:15550783881:$waba_id:80" --read-probability 0.8 \
        --inbound-rate 0.2 --log-level warning &
    simulator_pid=$!
    wait_until "the simulator's start" curl -sf http://127.0.0.1:8788/_simulator/stats

    say "Storing the demo business number's credentials (checked with the simulator, encrypted at rest)"
    "$cloudchatd" credentials set --config .dev/cloudchatd.conf --wordpress "$CLOUDCHAT_WP_DIR" \
        --phone-number-id "$phone_number_id" --waba-id "$waba_id" --token-file .dev/demo-access-token --label "Demo number"
    "$cloudchatd" templates sync --config .dev/cloudchatd.conf --wordpress "$CLOUDCHAT_WP_DIR"

    say "Checking the setup"
    "$cloudchatd" doctor --config .dev/cloudchatd.conf --wordpress "$CLOUDCHAT_WP_DIR"

    say "Starting cloudchatd on 127.0.0.1:8787 (webhooks) and 127.0.0.1:8789 (control API, metrics)"
    "$cloudchatd" serve --config .dev/cloudchatd.conf --wordpress "$CLOUDCHAT_WP_DIR" &
    daemon_pid=$!
    wait_until "cloudchatd's start" curl -sf http://127.0.0.1:8787/readyz

    say "Sending a small campaign: the hello_world template to 20 customers, 2 a second"
    recipients=.dev/demo-campaign.csv
    {
        echo "phone,name"
        i=1
        while [ "$i" -le 20 ]; do
            printf '+1 650 555 %04d,Customer %d\n' "$((1000 + i))" "$i"
            i=$((i + 1))
        done
    } > "$recipients"
    "$cloudchatd" campaign create --config .dev/cloudchatd.conf --wordpress "$CLOUDCHAT_WP_DIR" \
        --phone-number-id "$phone_number_id" --name "Demo campaign $(date +%H:%M)" --template hello_world \
        --csv "$recipients" --rate 2 --start | tee .dev/demo-campaign.out
    campaign_id=$(sed -n 's/^created campaign \([0-9]*\).*/\1/p' .dev/demo-campaign.out)

    cat <<EOT

==> CloudChat is running. Where to look:

  wp-admin        $CLOUDCHAT_WP_URL/wp-admin/admin.php?page=cloudchat
                  log in as $CLOUDCHAT_WP_ADMIN_USER / $CLOUDCHAT_WP_ADMIN_PASSWORD (or $CLOUDCHAT_WP_AGENT_USER / $CLOUDCHAT_WP_AGENT_PASSWORD, an agent)
  status          $cloudchatd status --config .dev/cloudchatd.conf --wordpress $CLOUDCHAT_WP_DIR --watch
  metrics         curl http://127.0.0.1:8789/metrics
  the campaign    $cloudchatd campaign show --config .dev/cloudchatd.conf --wordpress $CLOUDCHAT_WP_DIR --follow $campaign_id
  a reply         scripts/send-test-message.sh     (queues an agent's reply to the last customer and follows it)
  a webhook       scripts/send-test-webhook.sh     (posts one signed sample webhook)

  Ctrl-C stops the demo.
EOT
    wait "$daemon_pid"
}

main "$@"
