#!/bin/sh
# From a fresh Debian 12 machine to a running cloudchatd against a local MariaDB.
#
# Installs what is missing, starts a throwaway MariaDB (scripts/mariadb-dev.sh),
# prepares a demo WordPress database and wp-config.php under .dev/, builds
# cloudchatd, creates CloudChat's tables, checks the setup and runs the daemon
# in the foreground (Ctrl-C stops it).
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

    # Demo webhook settings; a real site takes these from Meta's App Dashboard.
    cat > .dev/cloudchatd.conf <<CONF
# cloudchatd settings for the demo; the database settings come from wp-config.php.
http_listen = 127.0.0.1:8787
webhook_verify_token = demo-verify-token
webhook_app_secret = demo-app-secret
spool_dir = $repo_root/.dev/spool
CONF

    say "Building cloudchatd"
    swift build --product cloudchatd
    cloudchatd=$(swift build --show-bin-path)/cloudchatd

    say "Creating CloudChat's tables"
    "$cloudchatd" migrate --config .dev/cloudchatd.conf --wordpress .dev/wordpress

    # The demo business number the sample webhooks are addressed to (no Meta credentials involved).
    mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -uroot cloudchat_demo -e "
        INSERT IGNORE INTO wp_cloudchat_accounts (waba_id, phone_number_id, display_phone_number, created_at, updated_at)
        VALUES ('102290129340398', '106540352242922', '15550783881', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"

    say "Checking the setup"
    "$cloudchatd" doctor --config .dev/cloudchatd.conf --wordpress .dev/wordpress

    say "Running cloudchatd on 127.0.0.1:8787 (Ctrl-C to stop); in another terminal: scripts/send-test-webhook.sh"
    exec "$cloudchatd" serve --config .dev/cloudchatd.conf --wordpress .dev/wordpress
}

main "$@"
