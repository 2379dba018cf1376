#!/bin/sh
# From a fresh Debian 12 machine to a running cloudchatd against a local MariaDB
# and the Graph API simulator, so messages flow without Meta credentials.
#
# Installs what is missing, starts a throwaway MariaDB (scripts/mariadb-dev.sh),
# prepares a demo WordPress database and wp-config.php under .dev/, builds
# cloudchatd and the simulator, creates CloudChat's tables, stores the demo
# number's credentials (encrypted), checks the setup and runs the daemon in the
# foreground while the simulator sends it a customer message every few seconds
# (Ctrl-C stops both).
set -eu

say() { printf '\n==> %s\n' "$*"; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo_root"
[ -x /opt/swift/usr/bin/swift ] && PATH="/opt/swift/usr/bin:$PATH" && export PATH

main() {
    say "Checking dependencies"
    scripts/install-deps.sh

    say "Starting MariaDB"
    scripts/mariadb-dev.sh start
    eval "$(scripts/mariadb-dev.sh env)"

    say "Preparing the demo site database (cloudchat_demo) and .dev/wordpress/wp-config.php"
    demo_db=cloudchat_demo
    mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -uroot -e "
        CREATE DATABASE IF NOT EXISTS $demo_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        CREATE TABLE IF NOT EXISTS $demo_db.wp_options (
          option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
          option_name VARCHAR(191) NOT NULL DEFAULT '',
          option_value LONGTEXT NOT NULL,
          autoload VARCHAR(20) NOT NULL DEFAULT 'yes',
          PRIMARY KEY (option_id),
          UNIQUE KEY option_name (option_name),
          KEY autoload (autoload)
        ) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;"
    mkdir -p .dev/wordpress
    cat > .dev/wordpress/wp-config.php <<PHP
<?php
// Demo site for cloudchatd; a real WordPress keeps its settings here too.
define( 'DB_NAME', '$demo_db' );
define( 'DB_USER', '$CLOUDCHAT_TEST_DB_USER' );
define( 'DB_PASSWORD', '$CLOUDCHAT_TEST_DB_PASSWORD' );
define( 'DB_HOST', 'localhost:$CLOUDCHAT_TEST_DB_SOCKET' );
define( 'DB_CHARSET', 'utf8mb4' );
\$table_prefix = 'wp_';
PHP

    # Demo settings; a real site takes the webhook ones from Meta's App Dashboard
    # and the control secret from wp-admin.
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
uploads_dir = $repo_root/.dev/wordpress/wp-content/uploads
# The Graph API simulator stands in for Meta.
graph_base_url = http://127.0.0.1:8788
CONF

    say "Building cloudchatd and the Graph API simulator"
    swift build --product cloudchatd
    swift build --product cloudchat-graph-simulator
    bin=$(swift build --show-bin-path)
    cloudchatd=$bin/cloudchatd

    say "Creating CloudChat's tables"
    "$cloudchatd" migrate --config .dev/cloudchatd.conf --wordpress .dev/wordpress
    [ -s .dev/secrets.key ] || "$cloudchatd" secrets-key generate --file .dev/secrets.key

    say "Starting the Graph API simulator on 127.0.0.1:8788 (a customer writes every 5 seconds)"
    "$bin/cloudchat-graph-simulator" --listen 127.0.0.1:8788 --webhook-url http://127.0.0.1:8787/webhook \
        --app-secret demo-app-secret --access-token demo-access-token --inbound-rate 0.2 --log-level warning &
    simulator=$!
    trap 'kill "$simulator" 2>/dev/null || true' EXIT INT TERM
    i=0
    until curl -s -o /dev/null http://127.0.0.1:8788/_simulator/stats; do
        i=$((i + 1))
        [ "$i" -lt 50 ] || { echo "dev.sh: the simulator did not start" >&2; exit 1; }
        sleep 0.1
    done

    say "Storing the demo business number's credentials (checked with the simulator, encrypted at rest)"
    "$cloudchatd" credentials set --config .dev/cloudchatd.conf --wordpress .dev/wordpress \
        --phone-number-id 106540352242922 --waba-id 102290129340398 --token-file .dev/demo-access-token --label "Demo number"

    say "Checking the setup"
    "$cloudchatd" doctor --config .dev/cloudchatd.conf --wordpress .dev/wordpress

    say "Running cloudchatd on 127.0.0.1:8787 (Ctrl-C to stop); in another terminal: scripts/send-test-message.sh"
    "$cloudchatd" serve --config .dev/cloudchatd.conf --wordpress .dev/wordpress
}

main "$@"
