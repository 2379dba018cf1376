#!/bin/sh
# Tests install.sh without changing the system: it installs into a staging
# directory (--destdir) for a tiny WordPress site (a wp-config.php and
# wp-content/) whose database is a scratch one on the throwaway MariaDB
# (scripts/mariadb-dev.sh), and checks what lands where, with which modes and
# contents; that a second run changes nothing; that --dry-run writes nothing;
# that --uninstall keeps the settings and secrets and --purge removes them; that
# cloudchatd migrate ran; and that the installed unit passes
# `systemd-analyze verify` and rates OK or better in `systemd-analyze security`.
#
#   scripts/test-install.sh [--bin-dir DIR]
#
#   --bin-dir DIR   where cloudchatd is (e.g. the output of `swift build
#                   --show-bin-path`); without it, it is built first
#
# The scratch database and files are removed when it ends.
set -eu

say() { printf '\n==> %s\n' "$*"; }
err() { printf 'test-install: error: %s\n' "$*" >&2; exit 1; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || err "'$1' is not installed; run: ${2:-scripts/install-deps.sh}"; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo_root"
[ -x /opt/swift/usr/bin/swift ] && PATH="/opt/swift/usr/bin:$PATH" && export PATH

tmp="" db="" checks=0

# Fails the test, showing the installer's last output when there is one.
fail() {
    printf '\ntest-install: FAIL: %s\n' "$*" >&2
    if [ -n "$tmp" ] && [ -s "$tmp/last.log" ]; then
        printf 'test-install: output of the last installer run:\n' >&2
        sed 's/^/    /' "$tmp/last.log" >&2
    fi
    exit 1
}

ok() { checks=$((checks + 1)); }

# check DESCRIPTION COMMAND...: the command must succeed.
check() {
    description=$1
    shift
    "$@" || fail "$description"
    ok
}

# Runs install.sh with the arguments, output in $tmp/last.log; status in $status.
run_installer() {
    status=0
    ./install.sh "$@" >"$tmp/last.log" 2>&1 || status=$?
}

installer_ok() {
    run_installer "$@"
    [ "$status" -eq 0 ] || fail "install.sh $* exited $status"
    ok
}

check_mode() {
    [ -e "$1" ] || fail "$1 is missing"
    mode=$(stat -c %04a "$1")
    [ "$mode" = "$2" ] || fail "$1 has mode $mode, not $2"
    ok
}

log_has() {
    grep -qF -- "$1" "$tmp/last.log" || fail "the installer's output does not say: $1"
    ok
}

conf_has() {
    grep -qxF -- "$1" "$dest/etc/cloudchat/cloudchatd.conf" || fail "cloudchatd.conf has no line '$1'"
    ok
}

db_sql() {
    mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -u"$CLOUDCHAT_TEST_DB_USER" \
        -p"$CLOUDCHAT_TEST_DB_PASSWORD" -N -B -e "$1"
}

# Every file and directory under a tree: type, mode, time, size, checksum.
snapshot() {
    (cd "$1" && find . -printf '%y %04m %T@ %s %p\n' | sort -k5 && find . -type f -exec sha256sum {} + | sort -k2)
}

cleanup() {
    code=$?
    trap - EXIT INT TERM
    [ -z "$db" ] || db_sql "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    [ -z "$tmp" ] || rm -rf "$tmp"
    exit "$code"
}

# Runs a command in a private mount namespace where /etc, /usr/local and
# /var/lib are overlays whose changes land in $tmp/overlay and go with it: a
# real install that leaves the machine as it was.
in_namespace() {
    cat >"$tmp/namespace.sh" <<'SH'
set -eu
for dir in /etc /usr/local /var/lib; do
    name=$(printf '%s' "$dir" | tr / _)
    mkdir -p "$OVERLAY/$name.upper" "$OVERLAY/$name.work"
    mount -t overlay overlay -o "lowerdir=$dir,upperdir=$OVERLAY/$name.upper,workdir=$OVERLAY/$name.work" "$dir"
    [ "$(findmnt -n -o FSTYPE --mountpoint "$dir")" = overlay ]
done
exec "$@"
SH
    OVERLAY=$tmp/overlay unshare --mount --propagation private sh "$tmp/namespace.sh" "$@"
}

# A WordPress root with only what install.sh reads: wp-config.php and wp-content/.
make_site() {
    mkdir -p "$1/wp-content"
    cat >"$1/wp-config.php"
}

main() {
    bin_dir=""
    while [ $# -gt 0 ]; do
        case $1 in
            --bin-dir) [ $# -ge 2 ] || err "--bin-dir needs a directory"; bin_dir=$2; shift 2 ;;
            --bin-dir=*) bin_dir=${1#--bin-dir=}; shift ;;
            -h | --help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p;}' "$0"; return 0 ;;
            *) err "unknown option '$1'; try: $0 --help" ;;
        esac
    done
    for cmd in mariadb shellcheck sha256sum openssl; do need_cmd "$cmd"; done
    need_cmd systemd-analyze "apt-get install -y systemd (the unit checks need systemd-analyze)"
    if [ -z "$bin_dir" ]; then
        say "Building cloudchatd"
        swift build --product cloudchatd
        bin_dir=$(swift build --show-bin-path)
    fi
    binary=$bin_dir/cloudchatd
    [ -x "$binary" ] || err "no cloudchatd in $bin_dir; run: swift build --product cloudchatd"

    scripts/mariadb-dev.sh start >/dev/null
    eval "$(scripts/mariadb-dev.sh env)"

    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/cloudchat-test-install.XXXXXX")
    started=$(date +%s)

    say "shellcheck install.sh scripts/test-install.sh"
    check "shellcheck finds problems in install.sh or scripts/test-install.sh" \
        shellcheck install.sh scripts/test-install.sh

    say "The command line: --help, a bogus option, a missing value"
    run_installer --help
    [ "$status" -eq 0 ] || fail "install.sh --help exited $status"
    for option in --wordpress --wp-config --binary --prefix --destdir --site-url --webhook-app-secret-file \
        --web-group --no-migrate --dry-run --uninstall --purge --help; do
        log_has "$option"
    done
    run_installer --bogus
    [ "$status" -ne 0 ] || fail "install.sh --bogus exited 0"
    log_has "unknown option '--bogus'"
    log_has "--help"
    run_installer --wordpress
    [ "$status" -ne 0 ] || fail "install.sh --wordpress (without a path) exited 0"
    log_has "--wordpress needs a value"
    run_installer --purge
    [ "$status" -ne 0 ] || fail "install.sh --purge without --uninstall exited 0"
    log_has "--purge goes with --uninstall"

    say "A site: wp-config.php on a scratch database of the throwaway MariaDB"
    db=cloudchat_install_$$
    db_sql "CREATE DATABASE $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        CREATE TABLE $db.shop_options (
          option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
          option_name VARCHAR(191) NOT NULL DEFAULT '',
          option_value LONGTEXT NOT NULL,
          autoload VARCHAR(20) NOT NULL DEFAULT 'yes',
          PRIMARY KEY (option_id),
          UNIQUE KEY option_name (option_name)
        ) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
        INSERT INTO $db.shop_options (option_name, option_value)
          VALUES ('home', 'https://shop.example.test/'), ('siteurl', 'https://shop.example.test/wordpress');" \
        || err "could not create the scratch database $db"
    site=$tmp/site
    # Both quote styles, odd spacing, and decoys in comments.
    make_site "$site" <<PHP
<?php
// define( 'DB_NAME', 'not_this_one' );
/* define( 'DB_USER', 'nor_this' );
   \$table_prefix = 'nope_'; */
define( 'DB_NAME', '$db' );
define("DB_USER","$CLOUDCHAT_TEST_DB_USER");
define ( 'DB_PASSWORD' , "$CLOUDCHAT_TEST_DB_PASSWORD" ) ;
define( 'DB_HOST', 'localhost:$CLOUDCHAT_TEST_DB_SOCKET' );
# define( 'DB_CHARSET', 'latin1' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
\$table_prefix  =  'shop_';
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
PHP
    dest=$tmp/dest
    prefix=/opt/cloudchat
    site_before=$(snapshot "$site")
    user_before=$(getent passwd cloudchat || true)

    say "--dry-run writes nothing"
    installer_ok --dry-run --destdir "$tmp/dry" --prefix "$prefix" --binary "$binary" --wordpress "$site"
    [ ! -e "$tmp/dry" ] || fail "--dry-run --destdir created $tmp/dry"
    ok
    log_has "would write $tmp/dry/etc/cloudchat/cloudchatd.conf"
    log_has "would run: cloudchatd migrate"
    log_has "Dry run: nothing was changed"
    [ "$(db_sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$db' AND table_name LIKE 'shop\\_cloudchat\\_%'")" = 0 ] \
        || fail "--dry-run created tables in $db"
    ok
    # Without --destdir too, where this machine has no CloudChat installed.
    if [ "$(id -u)" -eq 0 ] && [ ! -e /etc/cloudchat ] && [ ! -e /etc/systemd/system/cloudchatd.service ] \
        && [ ! -e /usr/local/bin/cloudchatd ]; then
        installer_ok --dry-run --binary "$binary" --wordpress "$site"
        for path in /etc/cloudchat /etc/systemd/system/cloudchatd.service /usr/local/bin/cloudchatd; do
            [ ! -e "$path" ] || fail "--dry-run created $path"
            ok
        done
        log_has "would write /etc/cloudchat/cloudchatd.conf"
    fi
    [ "$(snapshot "$site")" = "$site_before" ] || fail "--dry-run changed the WordPress site in $site"
    ok

    say "An unsupported system is refused with what to do by hand"
    printf 'ID=fedora\nVERSION_ID=40\nPRETTY_NAME="Fedora Linux 40"\n' >"$tmp/os-release"
    status=0
    CLOUDCHAT_OS_RELEASE=$tmp/os-release ./install.sh --dry-run --binary "$binary" --wordpress "$site" >"$tmp/last.log" 2>&1 || status=$?
    [ "$status" -ne 0 ] || fail "install.sh accepted Fedora"
    log_has "Fedora Linux 40 is not supported"
    log_has "by hand"

    say "Install into a staging directory (--destdir)"
    installer_ok --destdir "$dest" --prefix "$prefix" --binary "$binary" --wordpress "$site"
    cp "$tmp/last.log" "$tmp/first.log"
    media=$site/wp-content/uploads/cloudchat
    check_mode "$dest/etc/cloudchat" 0750
    check_mode "$dest/etc/cloudchat/cloudchatd.conf" 0640
    check_mode "$dest/etc/cloudchat/credentials" 0700
    for secret in control_secret secrets_key db_password webhook_verify_token webhook_app_secret; do
        check_mode "$dest/etc/cloudchat/credentials/$secret" 0600
    done
    for secret in control_secret secrets_key db_password webhook_verify_token; do
        check "credentials/$secret is empty" test -s "$dest/etc/cloudchat/credentials/$secret"
    done
    check "credentials/webhook_app_secret is not empty without --webhook-app-secret-file" \
        test ! -s "$dest/etc/cloudchat/credentials/webhook_app_secret"
    check "the control secret is not 64 hex digits" \
        grep -qxE '[0-9a-f]{64}' "$dest/etc/cloudchat/credentials/control_secret"
    [ "$(cat "$dest/etc/cloudchat/credentials/db_password")" = "$CLOUDCHAT_TEST_DB_PASSWORD" ] \
        || fail "credentials/db_password is not the password in wp-config.php"
    ok
    check_mode "$dest/var/lib/cloudchat" 0750
    check_mode "$dest/var/lib/cloudchat/spool" 0700
    check_mode "$dest$media" 2750
    check_mode "$dest$prefix/bin/cloudchatd" 0755
    check "the installed cloudchatd is not the one given with --binary" cmp -s "$binary" "$dest$prefix/bin/cloudchatd"
    check_mode "$dest/etc/systemd/system/cloudchatd.service" 0644
    check_mode "$dest/etc/systemd/system/cloudchatd.service.d/site.conf" 0644
    log_has "not run (--destdir): chown cloudchat:www-data $dest$media"
    log_has "not run (--destdir): useradd --system"
    log_has "not run (--destdir): systemctl restart cloudchatd"

    # The settings come from wp-config.php; the secrets stay in their files.
    conf_has "db_host = localhost:$CLOUDCHAT_TEST_DB_SOCKET"
    conf_has "db_name = $db"
    conf_has "db_user = $CLOUDCHAT_TEST_DB_USER"
    conf_has "db_charset = utf8mb4"
    conf_has "table_prefix = shop_"
    conf_has "uploads_dir = $site/wp-content/uploads"
    conf_has "spool_dir = /var/lib/cloudchat/spool"
    conf_has "http_listen = 127.0.0.1:8787"
    conf_has "control_listen = 127.0.0.1:8789"
    for secret in db_password control_secret secrets_key webhook_app_secret; do
        conf_has "${secret}_file = /etc/cloudchat/credentials/$secret"
    done
    if grep -qF -- "$CLOUDCHAT_TEST_DB_PASSWORD" "$dest/etc/cloudchat/cloudchatd.conf"; then fail "cloudchatd.conf holds the database password"; fi
    ok

    # The unit runs the binary under the prefix; the drop-in opens the media directory.
    check "the unit's ExecStart does not run $prefix/bin/cloudchatd" \
        grep -qxF "ExecStart=$prefix/bin/cloudchatd serve --config /etc/cloudchat/cloudchatd.conf" "$dest/etc/systemd/system/cloudchatd.service"
    if grep -q /usr/local/bin "$dest/etc/systemd/system/cloudchatd.service"; then fail "the unit still names /usr/local/bin"; fi
    ok
    check "the drop-in does not name the media directory" \
        grep -qxF "ReadWritePaths=$media" "$dest/etc/systemd/system/cloudchatd.service.d/site.conf"

    # The plugin, as shipped: everything but its tests.
    check "the plugin copy differs from plugin-bridge/" \
        diff -r -x tests -x '.*' plugin-bridge "$dest$site/wp-content/plugins/cloudchat"
    check "the plugin copy has the tests" test ! -e "$dest$site/wp-content/plugins/cloudchat/tests"
    [ "$(snapshot "$site")" = "$site_before" ] || fail "--destdir changed the WordPress site in $site itself"
    ok
    [ "$(getent passwd cloudchat || true)" = "$user_before" ] || fail "--destdir changed the user cloudchat"
    ok

    # cloudchatd migrate ran against the site's database.
    tables=$(db_sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$db' AND table_name LIKE 'shop\\_cloudchat\\_%'")
    [ "$tables" -gt 0 ] || fail "no shop_cloudchat_ tables in $db: cloudchatd migrate did not run"
    ok
    version=$(db_sql "SELECT option_value FROM $db.shop_options WHERE option_name = 'cloudchat_db_version'")
    [ -n "$version" ] || fail "no cloudchat_db_version option in $db.shop_options"
    ok

    # The summary: the callback URL (from the home option), the verify token,
    # the proxy snippets; no other secret.
    log_has "Callback URL:  https://shop.example.test/cloudchat/webhook"
    log_has "Verify token:  $(cat "$dest/etc/cloudchat/credentials/webhook_verify_token")"
    log_has "location = /cloudchat/webhook {"
    log_has "proxy_pass http://127.0.0.1:8787/webhook;"
    log_has "proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;"
    log_has 'ProxyPass        "/cloudchat/webhook" "http://127.0.0.1:8787/webhook"'
    log_has "/etc/cloudchat/credentials/control_secret"
    log_has "webhooks are answered 503"
    for secret in control_secret db_password; do
        if grep -qF -- "$(cat "$dest/etc/cloudchat/credentials/$secret")" "$tmp/last.log"; then fail "the installer printed the $secret"; fi
        ok
    done

    # cloudchatd accepts the config (its secret files moved to where they are staged).
    sed -e "s#/etc/cloudchat/credentials#$dest/etc/cloudchat/credentials#" -e "s#/var/lib/cloudchat#$dest/var/lib/cloudchat#" \
        "$dest/etc/cloudchat/cloudchatd.conf" >"$tmp/doctor.conf"
    "$binary" doctor --config "$tmp/doctor.conf" >"$tmp/last.log" 2>&1 || fail "cloudchatd doctor fails with the installed config"
    ok

    say "systemd-analyze verify and security on the installed unit"
    mkdir -p "$tmp/units"
    cp -R "$dest/etc/systemd/system/cloudchatd.service" "$dest/etc/systemd/system/cloudchatd.service.d" "$tmp/units/"
    # verify needs ExecStart's binary to exist: point it at the staged one.
    sed -i "s#^ExecStart=$prefix/bin/cloudchatd #ExecStart=$dest$prefix/bin/cloudchatd #" "$tmp/units/cloudchatd.service"
    status=0
    systemd-analyze verify --man=no "$tmp/units/cloudchatd.service" >"$tmp/last.log" 2>&1 || status=$?
    { [ "$status" -eq 0 ] && [ ! -s "$tmp/last.log" ]; } || fail "systemd-analyze verify is not clean on the installed unit and drop-in"
    ok
    status=0
    systemd-analyze security --offline=yes --threshold=49 "$tmp/units/cloudchatd.service" >"$tmp/last.log" 2>&1 || status=$?
    [ "$status" -eq 0 ] || fail "systemd-analyze security rates the installed unit above 4.9"
    grep -qE 'Overall exposure level for cloudchatd.service: [0-9.]+ (SAFE|OK)' "$tmp/last.log" \
        || fail "systemd-analyze security does not rate the installed unit OK or SAFE"
    ok
    printf '%s\n' "$(grep 'Overall exposure level' "$tmp/last.log")"

    say "A second run changes nothing"
    before=$(snapshot "$dest")
    installer_ok --destdir "$dest" --prefix "$prefix" --binary "$binary" --wordpress "$site"
    after=$(snapshot "$dest")
    if [ "$before" != "$after" ]; then
        printf '%s\n' "$before" >"$tmp/before"
        printf '%s\n' "$after" >"$tmp/after"
        diff "$tmp/before" "$tmp/after" >&2 || true
        fail "the second run changed the installed files (above)"
    fi
    ok
    log_has "keeping $dest/etc/cloudchat/cloudchatd.conf"
    log_has "keeping $dest/etc/cloudchat/credentials/secrets_key"
    log_has "is up to date"

    say "--webhook-app-secret-file fills the empty app secret, and never replaces one"
    printf 'first-app-secret\n' >"$tmp/app-secret"
    installer_ok --destdir "$dest" --prefix "$prefix" --binary "$binary" --wordpress "$site" --webhook-app-secret-file "$tmp/app-secret"
    check "credentials/webhook_app_secret was not filled from --webhook-app-secret-file" \
        cmp -s "$tmp/app-secret" "$dest/etc/cloudchat/credentials/webhook_app_secret"
    check_mode "$dest/etc/cloudchat/credentials/webhook_app_secret" 0600
    if grep -q "webhooks are answered 503" "$tmp/last.log"; then fail "the summary still says no app secret is set"; fi
    ok
    printf 'second-app-secret\n' >"$tmp/app-secret-2"
    installer_ok --destdir "$dest" --prefix "$prefix" --binary "$binary" --wordpress "$site" --webhook-app-secret-file "$tmp/app-secret-2"
    check "an existing app secret was replaced" cmp -s "$tmp/app-secret" "$dest/etc/cloudchat/credentials/webhook_app_secret"
    log_has "already holds an app secret and is kept"

    say "--uninstall keeps the settings and secrets; --purge removes them"
    secrets_before=$(cd "$dest/etc/cloudchat" && find . -type f -exec sha256sum {} + | sort)
    # No --prefix: the binary to remove is the one the unit runs.
    installer_ok --uninstall --destdir "$dest"
    for path in "$dest/etc/systemd/system/cloudchatd.service" "$dest/etc/systemd/system/cloudchatd.service.d" \
        "$dest$prefix/bin/cloudchatd" "$dest$site/wp-content/plugins/cloudchat"; do
        [ ! -e "$path" ] || fail "--uninstall left $path"
        ok
    done
    [ "$(cd "$dest/etc/cloudchat" && find . -type f -exec sha256sum {} + | sort)" = "$secrets_before" ] \
        || fail "--uninstall changed /etc/cloudchat (settings and secrets must stay)"
    ok
    check "--uninstall removed /var/lib/cloudchat" test -d "$dest/var/lib/cloudchat/spool"
    check "--uninstall removed the media directory" test -d "$dest$media"
    log_has "not run (--destdir): systemctl disable --now cloudchatd"
    log_has "CloudChat's tables stay in the database $db"
    installer_ok --uninstall --purge --destdir "$dest" --prefix "$prefix"
    for path in "$dest/etc/cloudchat" "$dest/var/lib/cloudchat"; do
        [ ! -e "$path" ] || fail "--uninstall --purge left $path"
        ok
    done
    log_has "not run (--destdir): userdel cloudchat"
    log_has "DROP TABLE"
    [ "$(db_sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$db' AND table_name LIKE 'shop\\_cloudchat\\_%'")" = "$tables" ] \
        || fail "--uninstall --purge dropped tables"
    ok
    [ "$(getent passwd cloudchat || true)" = "$user_before" ] || fail "--destdir --purge changed the user cloudchat"
    ok

    say "A real install (user, ownership, group) in a private mount namespace"
    if [ "$(id -u)" -ne 0 ] || [ -d /run/systemd/system ] || [ -e /etc/cloudchat ] || ! command -v unshare >/dev/null 2>&1; then
        printf 'skipped: this needs root, unshare, no systemd running and no CloudChat installed here\n'
    elif ! in_namespace true >/dev/null 2>&1; then
        printf 'skipped: overlays cannot be mounted in a private mount namespace here\n'
    else
        real_site=$tmp/real-site
        make_site "$real_site" <"$site/wp-config.php"
        # A root closed to others but open to the web server's group: cloudchat must join it.
        chgrp www-data "$real_site" && chmod 0750 "$real_site"
        status=0
        in_namespace ./install.sh --binary "$binary" --wordpress "$real_site" >"$tmp/last.log" 2>&1 || status=$?
        [ "$status" -eq 0 ] || fail "a real install exited $status"
        ok
        log_has "creating system user cloudchat"
        log_has "the unit is installed but not started"
        log_has "runuser -u cloudchat -- env CREDENTIALS_DIRECTORY=/run/cloudchat-credentials"
        in_namespace stat -c '%n %U:%G %04a' /etc/cloudchat /etc/cloudchat/cloudchatd.conf /etc/cloudchat/credentials \
            /etc/cloudchat/credentials/control_secret /etc/cloudchat/credentials/secrets_key /var/lib/cloudchat \
            /var/lib/cloudchat/spool /usr/local/bin/cloudchatd /etc/systemd/system/cloudchatd.service \
            "$real_site/wp-content/uploads/cloudchat" "$real_site/wp-content/plugins/cloudchat/cloudchat.php" >"$tmp/owners" \
            || fail "the installed files are missing (stat failed)"
        cat >"$tmp/owners.expected" <<OWNERS
/etc/cloudchat root:cloudchat 0750
/etc/cloudchat/cloudchatd.conf root:cloudchat 0640
/etc/cloudchat/credentials root:root 0700
/etc/cloudchat/credentials/control_secret root:root 0600
/etc/cloudchat/credentials/secrets_key root:root 0600
/var/lib/cloudchat cloudchat:cloudchat 0750
/var/lib/cloudchat/spool cloudchat:cloudchat 0700
/usr/local/bin/cloudchatd root:root 0755
/etc/systemd/system/cloudchatd.service root:root 0644
$real_site/wp-content/uploads/cloudchat cloudchat:www-data 2750
$real_site/wp-content/plugins/cloudchat/cloudchat.php root:root 0644
OWNERS
        diff "$tmp/owners.expected" "$tmp/owners" >&2 || fail "owners or modes of the installed files differ (above: expected, then found)"
        ok
        in_namespace getent passwd cloudchat | grep -q ':/var/lib/cloudchat:/usr/sbin/nologin$' || fail "the system user cloudchat is not as expected"
        ok
        in_namespace id -nG cloudchat | tr ' ' '\n' | grep -qx www-data || fail "cloudchat did not join www-data to reach a site closed to others"
        ok
        real_snapshot() {
            # shellcheck disable=SC2016 # $1 is the inner shell's
            in_namespace sh -c 'find /etc/cloudchat /etc/systemd/system/cloudchatd.service /etc/systemd/system/cloudchatd.service.d \
                /usr/local/bin/cloudchatd /var/lib/cloudchat "$1" -printf "%y %04m %u:%g %T@ %p\n" | sort -k5
                find /etc/cloudchat /usr/local/bin/cloudchatd "$1" -type f -exec sha256sum {} + | sort -k2' sh "$real_site"
        }
        before=$(real_snapshot)
        in_namespace ./install.sh --binary "$binary" --wordpress "$real_site" >"$tmp/last.log" 2>&1 || fail "the second real install failed"
        [ "$(real_snapshot)" = "$before" ] || fail "the second real install changed files, owners or modes"
        ok
        log_has "user cloudchat exists"
        in_namespace ./install.sh --uninstall --purge >"$tmp/last.log" 2>&1 || fail "a real --uninstall --purge failed"
        ok
        if in_namespace getent passwd cloudchat >/dev/null; then fail "--purge left the user cloudchat"; fi
        ok
        if in_namespace sh -c 'ls -d /etc/cloudchat /var/lib/cloudchat /usr/local/bin/cloudchatd /etc/systemd/system/cloudchatd.service' 2>/dev/null; then
            fail "--purge left files behind"
        fi
        ok
        check "--uninstall removed the media files" test -d "$real_site/wp-content/uploads/cloudchat"
        check "--uninstall left the plugin copy" test ! -e "$real_site/wp-content/plugins/cloudchat"
    fi

    say "wp-config.php read as PHP: escapes, WP_HOME, WP_CONTENT_DIR, a socket under /home"
    tricky=$tmp/tricky
    make_site "$tricky" <<'PHP'
<?php
define('DB_NAME', "shop\"db");
define( 'DB_USER' , 'it\'s' );
define( 'DB_PASSWORD', 'p\'a"s#s // \\w$rd' );
define( 'DB_HOST', 'localhost:/home/db/mysqld.sock' );
$table_prefix = "t_";
define( 'WP_HOME', 'https://example.test/blog/' );
define( 'WP_CONTENT_DIR', __DIR__ . '/content' );
PHP
    mkdir -p "$tricky/content"
    installer_ok --destdir "$tmp/dest2" --prefix "$prefix" --binary "$binary" --wordpress "$tricky" --no-migrate
    dest=$tmp/dest2
    [ "$(cat "$dest/etc/cloudchat/credentials/db_password")" = "p'a\"s#s // \\w\$rd" ] \
        || fail "the password with quotes and backslashes was not read as PHP reads it"
    ok
    conf_has 'db_name = shop"db'
    conf_has "db_user = it's"
    conf_has "table_prefix = t_"
    conf_has "uploads_dir = $tricky/content/uploads"
    check "the drop-in does not make the socket under /home reachable" \
        grep -qx 'ProtectHome=read-only' "$dest/etc/systemd/system/cloudchatd.service.d/site.conf"
    check_mode "$dest$tricky/content/uploads/cloudchat" 2750
    check "the plugin did not go to WP_CONTENT_DIR/plugins" test -f "$dest$tricky/content/plugins/cloudchat/cloudchat.php"
    log_has "Callback URL:  https://example.test/blog/cloudchat/webhook"
    log_has "location = /blog/cloudchat/webhook {"
    log_has "not creating CloudChat's tables (--no-migrate)"

    say "Errors say what to do"
    make_site "$tmp/expression" <<'PHP'
<?php
define( 'DB_NAME', 'shop' );
define( 'DB_USER', 'shop' );
define( 'DB_PASSWORD', getenv( 'SHOP_DB_PASSWORD' ) );
PHP
    run_installer --destdir "$tmp/dest3" --binary "$binary" --wordpress "$tmp/expression" --no-migrate
    [ "$status" -ne 0 ] || fail "a DB_PASSWORD set by an expression was accepted"
    log_has "$tmp/expression/wp-config.php:4 sets DB_PASSWORD with an expression"
    log_has "by hand"
    run_installer --destdir "$tmp/dest4" --binary "$binary" --wordpress "$tmp/nowhere"
    [ "$status" -ne 0 ] || fail "a missing WordPress root was accepted"
    log_has "--wordpress $tmp/nowhere is not a directory"
    run_installer --destdir "$tmp/dest4" --binary "$tmp/nowhere/cloudchatd" --wordpress "$site"
    [ "$status" -ne 0 ] || fail "a missing --binary was accepted"
    log_has "is not an executable file"

    printf '\ntest-install: all %s checks passed in %s s\n' "$checks" "$(($(date +%s) - started))"
}

main "$@"
