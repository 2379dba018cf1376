#!/bin/sh
# A throwaway WordPress site with the CloudChat plugin, for development and the
# end-to-end tests (scripts/test-wordpress.sh).
#
# It copies Debian's wordpress package (/usr/share/wordpress) into its own
# directory with a plain wp-config.php (nothing under /etc is read), keeps its
# database (cloudchat_wordpress) on the throwaway MariaDB (scripts/mariadb-dev.sh),
# installs WordPress, links plugin-bridge/ in as the plugin and activates it,
# creates the users admin, agent (CloudChat Agent) and subscriber, creates
# CloudChat's tables (cloudchatd migrate) and serves the site with PHP's built-in
# server on 127.0.0.1. Idempotent: "start" repeats only what is missing, and on a
# site already served it starts no second server.
#
#   scripts/wordpress-dev.sh start    set up (first time) and serve the site
#   scripts/wordpress-dev.sh stop     stop serving it (files and database are kept)
#   scripts/wordpress-dev.sh status   say whether it is served; exit 1 if not
#   scripts/wordpress-dev.sh env      print the CLOUDCHAT_WP_* settings to eval
#   scripts/wordpress-dev.sh reset    stop, drop its database and delete its files
#
# Settings (environment):
#   CLOUDCHAT_WP_DIR        the WordPress root            (default: <repo>/.dev/wordpress-site)
#   CLOUDCHAT_WP_RUN_DIR    pid file and logs             (default: <repo>/.dev/wordpress-run)
#   CLOUDCHAT_WP_PORT       port of the site on 127.0.0.1 (default: 8793)
#   CLOUDCHAT_WP_DB_NAME    its database on the throwaway MariaDB (default: cloudchat_wordpress)
#   CLOUDCHAT_BIN_DIR       where cloudchatd is           (default: built with `swift build`)
set -eu

say() { printf 'wordpress-dev: %s\n' "$*"; }
err() { printf 'wordpress-dev: error: %s\n' "$*" >&2; exit 1; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || err "'$1' is not installed; run: scripts/install-deps.sh"; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
site=${CLOUDCHAT_WP_DIR:-$repo_root/.dev/wordpress-site}
run_dir=${CLOUDCHAT_WP_RUN_DIR:-$repo_root/.dev/wordpress-run}
port=${CLOUDCHAT_WP_PORT:-8793}
url=http://127.0.0.1:$port
package_dir=/usr/share/wordpress
pidfile=$run_dir/php.pid
php_log=$run_dir/php.log
debug_log=$run_dir/wp-debug.log
db_name=${CLOUDCHAT_WP_DB_NAME:-cloudchat_wordpress}
case $db_name in
    '' | *[!A-Za-z0-9_]*) err "CLOUDCHAT_WP_DB_NAME must be letters, digits and _ only" ;;
esac

# Test accounts. They only ever guard a throwaway site on 127.0.0.1.
admin_password=admin-dev-password
agent_password=agent-dev-password
subscriber_password=subscriber-dev-password

# The throwaway MariaDB's socket and credentials (CLOUDCHAT_TEST_DB_*).
eval "$("$repo_root/scripts/mariadb-dev.sh" env)"

db_sql() {
    mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -u"$CLOUDCHAT_TEST_DB_USER" \
        -p"$CLOUDCHAT_TEST_DB_PASSWORD" -e "$1"
}

server_pid() {
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    # A reused pid is not ours: the command line must be this site's server.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-S 127.0.0.1:$port " || return 1
    printf '%s\n' "$pid"
}

answers() {
    curl -s -o /dev/null --max-time 5 "$url/wp-login.php"
}

running() {
    server_pid >/dev/null && answers
}

# The WordPress files: a copy of Debian's package (symlinks made absolute), made whole
# or not at all.
copy_site() {
    [ -d "$package_dir/wp-includes" ] || err "Debian's wordpress package is missing ($package_dir); run: scripts/install-deps.sh"
    if [ ! -f "$site/wp-settings.php" ]; then
        say "copying $package_dir to $site"
        rm -rf "$site.partial"
        mkdir -p "$(dirname -- "$site")"
        cp -a "$package_dir" "$site.partial"
        # Debian links some bundled libraries with relative paths (for example
        # wp-includes/js/underscore.min.js -> ../../../javascript/...), which
        # point nowhere from the copy: make each link absolute.
        (cd "$site.partial" && find . -type l) | while IFS= read -r link; do
            ln -sfn "$(readlink -f "$package_dir/$link")" "$site.partial/$link"
        done
        # Debian's wp-config.php reads /etc/wordpress; ours replaces it below.
        rm -f "$site.partial/wp-config.php" "$site.partial/.htaccess"
        mv "$site.partial" "$site"
    fi
    mkdir -p "$site/wp-content/uploads" "$site/wp-content/plugins"
    ln -sfn "$repo_root/plugin-bridge" "$site/wp-content/plugins/cloudchat"
}

random_key() {
    openssl rand -base64 48 | tr -d '\n'
}

write_config() {
    # Salts are made once per site, so logins survive a restart.
    if [ ! -s "$site/wp-salts.php" ]; then
        {
            printf '<?php\n// Random keys and salts of this throwaway site.\n'
            for key in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
                printf "define( '%s', '%s' );\n" "$key" "$(random_key)"
            done
        } >"$site/wp-salts.php.partial"
        mv "$site/wp-salts.php.partial" "$site/wp-salts.php"
    fi
    cat >"$site/wp-config.php" <<PHP
<?php
// A throwaway development site, written by scripts/wordpress-dev.sh on every start.
define( 'DB_NAME', '$db_name' );
define( 'DB_USER', '$CLOUDCHAT_TEST_DB_USER' );
define( 'DB_PASSWORD', '$CLOUDCHAT_TEST_DB_PASSWORD' );
define( 'DB_HOST', 'localhost:$CLOUDCHAT_TEST_DB_SOCKET' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
\$table_prefix = 'wp_';

define( 'WP_HOME', '$url' );
define( 'WP_SITEURL', '$url' );
define( 'WP_CONTENT_DIR', __DIR__ . '/wp-content' );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_LOG', '$debug_log' );
define( 'WP_DEBUG_DISPLAY', false );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_AUTO_UPDATE_CORE', false );
// No calls to wordpress.org from wp-admin; requests to 127.0.0.1 (the daemon) still go.
define( 'WP_HTTP_BLOCK_EXTERNAL', true );

require __DIR__ . '/wp-salts.php';

if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
PHP
}

# Runs PHP code (standard input) inside WordPress from the command line.
wp_php() {
    CLOUDCHAT_WP_ROOT=$site CLOUDCHAT_WP_URL=$url \
    CLOUDCHAT_WP_ADMIN_PASSWORD=$admin_password CLOUDCHAT_WP_AGENT_PASSWORD=$agent_password \
    CLOUDCHAT_WP_SUBSCRIBER_PASSWORD=$subscriber_password \
        php -d display_errors=stderr -d error_reporting=E_ALL -d memory_limit=256M
}

install_wordpress() {
    wp_php <<'PHP'
<?php
// Installs WordPress into an empty database; does nothing when it is installed.
define( 'WP_INSTALLING', true );
$_SERVER['HTTP_HOST']   = parse_url( getenv( 'CLOUDCHAT_WP_URL' ), PHP_URL_HOST ) . ':' . parse_url( getenv( 'CLOUDCHAT_WP_URL' ), PHP_URL_PORT );
$_SERVER['REQUEST_URI'] = '/';

/** No e-mail about the new site. */
function wp_new_blog_notification() {}

require getenv( 'CLOUDCHAT_WP_ROOT' ) . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
if ( is_blog_installed() ) {
	exit( 0 );
}
$result = wp_install( 'CloudChat development site', 'admin', 'admin@example.test', false, '', getenv( 'CLOUDCHAT_WP_ADMIN_PASSWORD' ) );
if ( empty( $result['user_id'] ) || ! is_blog_installed() ) {
	fwrite( STDERR, "wp_install() did not install WordPress\n" );
	exit( 1 );
}
echo "installed WordPress\n";
PHP
}

configure_wordpress() {
    wp_php <<'PHP'
<?php
// Site URL, the plugin (activated, so its activation hook runs) and the test users.
$_SERVER['HTTP_HOST']   = parse_url( getenv( 'CLOUDCHAT_WP_URL' ), PHP_URL_HOST ) . ':' . parse_url( getenv( 'CLOUDCHAT_WP_URL' ), PHP_URL_PORT );
$_SERVER['REQUEST_URI'] = '/';
require getenv( 'CLOUDCHAT_WP_ROOT' ) . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
require_once ABSPATH . 'wp-admin/includes/user.php';

function fail( $message ) {
	fwrite( STDERR, $message . "\n" );
	exit( 1 );
}

update_option( 'siteurl', getenv( 'CLOUDCHAT_WP_URL' ) );
update_option( 'home', getenv( 'CLOUDCHAT_WP_URL' ) );
// No "confirm the administration e-mail" screen after logging in.
update_option( 'admin_email_lifespan', time() + 10 * YEAR_IN_SECONDS );

$plugin = 'cloudchat/cloudchat.php';
if ( ! is_plugin_active( $plugin ) || ! get_role( 'cloudchat_agent' ) ) {
	if ( is_plugin_active( $plugin ) ) {
		deactivate_plugins( $plugin, true );
	}
	$activated = activate_plugin( $plugin );
	if ( is_wp_error( $activated ) ) {
		$data = $activated->get_error_data();
		fail( 'activating ' . $plugin . ' failed: ' . $activated->get_error_message() . ( is_string( $data ) ? "\n" . $data : '' ) );
	}
	echo "activated the CloudChat plugin\n";
}
if ( ! get_role( 'cloudchat_agent' ) ) {
	fail( "the role cloudchat_agent does not exist after activating $plugin: the plugin's activation hook must create it (add_role)" );
}

add_filter( 'send_password_change_email', '__return_false' );
$users = array(
	'admin'      => array( 'administrator', getenv( 'CLOUDCHAT_WP_ADMIN_PASSWORD' ), 'Site Admin' ),
	'agent'      => array( 'cloudchat_agent', getenv( 'CLOUDCHAT_WP_AGENT_PASSWORD' ), 'Support Agent' ),
	'subscriber' => array( 'subscriber', getenv( 'CLOUDCHAT_WP_SUBSCRIBER_PASSWORD' ), 'Site Subscriber' ),
);
foreach ( $users as $login => list( $role, $password, $name ) ) {
	$user = get_user_by( 'login', $login );
	if ( ! $user ) {
		$id = wp_insert_user(
			array(
				'user_login'   => $login,
				'user_pass'    => $password,
				'user_email'   => $login . '@example.test',
				'display_name' => $name,
				'role'         => $role,
			)
		);
		if ( is_wp_error( $id ) ) {
			fail( "creating the user $login failed: " . $id->get_error_message() );
		}
		echo "created the user $login ($role)\n";
		continue;
	}
	if ( ! wp_check_password( $password, $user->user_pass, $user->ID ) ) {
		wp_set_password( $password, $user->ID );
	}
	if ( array( $role ) !== array_values( $user->roles ) ) {
		$user->set_role( $role );
	}
}
PHP
}

cloudchatd_bin() {
    if [ -n "${CLOUDCHAT_BIN_DIR:-}" ]; then
        [ -x "$CLOUDCHAT_BIN_DIR/cloudchatd" ] || err "no cloudchatd in CLOUDCHAT_BIN_DIR ($CLOUDCHAT_BIN_DIR)"
        printf '%s\n' "$CLOUDCHAT_BIN_DIR/cloudchatd"
        return 0
    fi
    [ -x /opt/swift/usr/bin/swift ] && PATH="/opt/swift/usr/bin:$PATH" && export PATH
    need_cmd swift
    (cd "$repo_root" && swift build --product cloudchatd >&2)
    printf '%s/cloudchatd\n' "$(cd "$repo_root" && swift build --show-bin-path)"
}

migrate() {
    cloudchatd=$(cloudchatd_bin)
    # An empty config file, so a system-wide /etc/cloudchat/cloudchatd.conf
    # cannot point the migration at another database.
    printf '# Database settings come from the site'"'"'s wp-config.php.\n' >"$run_dir/cloudchatd-migrate.conf"
    "$cloudchatd" migrate --config "$run_dir/cloudchatd-migrate.conf" --wordpress "$site" --log-level warning \
        || err "cloudchatd migrate failed for $site"
}

serve() {
    if running; then
        say "already serving $url (pid $(server_pid))"
        return 0
    fi
    if answers; then
        err "something else answers on 127.0.0.1:$port; stop it or set CLOUDCHAT_WP_PORT"
    fi
    rm -f "$pidfile"
    # start-stop-daemon detaches the server with none of the caller's
    # descriptors, so a caller waiting for this script's output is not held
    # open. Four workers serve parallel requests (the screens poll).
    PHP_CLI_SERVER_WORKERS=4 start-stop-daemon --start --background --make-pidfile --pidfile "$pidfile" \
        --chdir "$site" --output "$php_log" --exec "$(command -v php)" -- \
        -d memory_limit=256M -d max_execution_time=60 -d upload_max_filesize=16M -d post_max_size=16M \
        -S "127.0.0.1:$port" -t "$site" \
        || err "could not start php -S; see $php_log"
    pid=$(cat "$pidfile")
    i=0
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 5 "$php_log" >&2 2>/dev/null || true
            err "php -S exited while starting (is port $port in use? set CLOUDCHAT_WP_PORT); see $php_log"
        fi
        i=$((i + 1))
        [ "$i" -le 100 ] || err "the site did not answer within 10 s; see $php_log"
        sleep 0.1
    done
    say "serving $url (admin/$admin_password, agent/$agent_password, subscriber/$subscriber_password)"
}

start() {
    need_cmd php
    need_cmd mariadb
    need_cmd curl
    need_cmd openssl
    need_cmd start-stop-daemon
    php -m | grep -qx mysqli || err "PHP has no mysqli; run: scripts/install-deps.sh"
    mkdir -p "$run_dir"
    "$repo_root/scripts/mariadb-dev.sh" start >/dev/null
    db_sql "CREATE DATABASE IF NOT EXISTS $db_name CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" \
        || err "could not create the database $db_name"
    copy_site
    write_config
    install_wordpress || err "installing WordPress failed; see $debug_log"
    configure_wordpress || err "setting up the site failed; see $debug_log"
    migrate
    serve
}

stop() {
    if ! pid=$(server_pid); then
        rm -f "$pidfile"
        say "not running"
        return 0
    fi
    # The workers share the server's process group (start-stop-daemon gave it
    # a session of its own); stop them all, but never this script's own group.
    group=$(ps -o pgid= -p "$pid" | tr -d ' ')
    if [ -z "$group" ] || [ "$group" = "$(ps -o pgid= -p $$ | tr -d ' ')" ]; then
        group=$pid
        kill -TERM "$pid"
    else
        kill -TERM "-$group" 2>/dev/null || kill -TERM "$pid"
    fi
    i=0
    while kill -0 "$pid" 2>/dev/null || kill -0 "-$group" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le 100 ] || err "php -S ($pid) did not stop within 10 s"
        sleep 0.1
    done
    rm -f "$pidfile"
    say "stopped"
}

reset() {
    stop
    if "$repo_root/scripts/mariadb-dev.sh" status >/dev/null 2>&1; then
        db_sql "DROP DATABASE IF EXISTS $db_name"
    else
        say "MariaDB is not running, so the database $db_name is kept (scripts/mariadb-dev.sh reset removes all)"
    fi
    rm -rf "$site" "$site.partial" "$run_dir"
    say "removed $site and $run_dir"
}

print_env() {
    cat <<ENV
CLOUDCHAT_WP_URL='$url'
CLOUDCHAT_WP_DIR='$site'
CLOUDCHAT_WP_DB_NAME='$db_name'
CLOUDCHAT_WP_DB_SOCKET='$CLOUDCHAT_TEST_DB_SOCKET'
CLOUDCHAT_WP_DB_USER='$CLOUDCHAT_TEST_DB_USER'
CLOUDCHAT_WP_DB_PASSWORD='$CLOUDCHAT_TEST_DB_PASSWORD'
CLOUDCHAT_WP_ADMIN_USER='admin'
CLOUDCHAT_WP_ADMIN_PASSWORD='$admin_password'
CLOUDCHAT_WP_AGENT_USER='agent'
CLOUDCHAT_WP_AGENT_PASSWORD='$agent_password'
CLOUDCHAT_WP_SUBSCRIBER_USER='subscriber'
CLOUDCHAT_WP_SUBSCRIBER_PASSWORD='$subscriber_password'
CLOUDCHAT_WP_PHP_LOG='$php_log'
CLOUDCHAT_WP_DEBUG_LOG='$debug_log'
export CLOUDCHAT_WP_URL CLOUDCHAT_WP_DIR CLOUDCHAT_WP_DB_NAME CLOUDCHAT_WP_DB_SOCKET CLOUDCHAT_WP_DB_USER CLOUDCHAT_WP_DB_PASSWORD
export CLOUDCHAT_WP_ADMIN_USER CLOUDCHAT_WP_ADMIN_PASSWORD CLOUDCHAT_WP_AGENT_USER CLOUDCHAT_WP_AGENT_PASSWORD
export CLOUDCHAT_WP_SUBSCRIBER_USER CLOUDCHAT_WP_SUBSCRIBER_PASSWORD CLOUDCHAT_WP_PHP_LOG CLOUDCHAT_WP_DEBUG_LOG
ENV
}

main() {
    case "${1:-}" in
        start) start ;;
        stop) stop ;;
        status) if running; then say "serving $url (pid $(server_pid))"; else say "not running"; exit 1; fi ;;
        env) print_env ;;
        reset) reset ;;
        -h|--help|help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p;}' "$0" ;;
        *) err "unknown command '${1:-}'; try: $0 --help" ;;
    esac
}

main "$@"
