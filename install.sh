#!/bin/sh
# Installs CloudChat beside a WordPress site on Debian 12 or Ubuntu 22.04+:
# cloudchatd as a hardened systemd service, its configuration and secrets, and
# the WordPress plugin; then creates CloudChat's tables. Run it as root from a
# CloudChat checkout:
#
#   ./install.sh --wordpress /var/www/html
#
# `./install.sh --help` lists the options; docs/install.md explains each step.
# Running it again changes only what is missing or out of date, and never
# replaces an existing configuration file or secret.
set -eu

usage() {
    cat <<'USAGE'
Usage: ./install.sh [options]

Installs CloudChat beside a WordPress site on Debian 12 or Ubuntu 22.04+: the
cloudchatd daemon as a systemd service, its configuration and secrets, and the
WordPress plugin, then creates CloudChat's tables (cloudchatd migrate). Run it
as root from a CloudChat checkout. Running it again changes only what is
missing or out of date; an existing configuration file or secret is never
replaced. docs/install.md explains every step.

Options:
  --wordpress PATH      The WordPress root (the directory with wp-settings.php).
                        Default: whichever one of /var/www/html,
                        /var/www/wordpress and /usr/share/wordpress holds
                        WordPress; if several or none do, this is required.
  --wp-config FILE      The site's wp-config.php, when it is neither in the
                        WordPress root nor in its parent directory. Debian's
                        wordpress package keeps it in
                        /etc/wordpress/config-HOST.php (found by itself when
                        there is only one).
  --binary PATH         Install this cloudchatd instead of building one.
                        Default: build it from this checkout with
                        `swift build -c release --product cloudchatd`.
  --prefix DIR          Install the binary as DIR/bin/cloudchatd.
                        Default: /usr/local.
  --destdir DIR         Stage every file under DIR instead of /, like
                        `make DESTDIR=`. Nothing else on the system changes: no
                        packages, user, ownership or systemctl; each of those is
                        printed instead. The site's database is still migrated
                        unless --no-migrate is given.
  --site-url URL        The site's public address, for the webhook callback URL
                        shown at the end. Default: WP_HOME in wp-config.php,
                        else the site's `home` option in the database.
  --webhook-app-secret-file FILE
                        A file with the Meta app secret that signs webhooks (one
                        per line). It is copied to the credentials when they
                        have none yet. Without it, webhooks are answered 503
                        (and retried by Meta) until one is set.
  --web-group GROUP     The web server's group; it may read the media directory
                        so that PHP can serve the files. Default: www-data.
  --no-migrate          Do not create or upgrade CloudChat's tables; run
                        `cloudchatd migrate` yourself before starting the
                        service.
  --dry-run             Print every action that would be taken; change nothing.
  --uninstall           Stop and disable the service; remove the unit, the
                        binary and the plugin copy. Keeps /etc/cloudchat
                        (configuration and secrets), /var/lib/cloudchat, the
                        cloudchat user, the media files and the database tables,
                        so installing again picks up where it was.
  --purge               With --uninstall: also remove /etc/cloudchat,
                        /var/lib/cloudchat and the cloudchat user. Database
                        tables are never dropped; the installer says how.
  -h, --help            Show this help.

Environment:
  CLOUDCHAT_OS_RELEASE  Read this file instead of /etc/os-release.

Examples:
  ./install.sh --wordpress /var/www/example.com
  ./install.sh --binary ./cloudchatd --webhook-app-secret-file /root/app-secret
  ./install.sh --dry-run
  ./install.sh --uninstall --purge
USAGE
}

say() { printf 'install: %s\n' "$*"; }
warn() { printf 'install: warning: %s\n' "$*" >&2; }
err() { printf 'install: error: %s\n' "$*" >&2; exit 1; }
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || err "'$1' is not installed; ${2:-install it and run again}"
}

# --- Doing, or saying what would be done --------------------------------------

# Reports an action on the files: done, or only described in --dry-run mode.
act() {
    if [ "$dry_run" = yes ]; then say "would $*"; else say "$*"; fi
}

# The arguments as a command line to copy, quoted where needed.
quoted() {
    for q_arg in "$@"; do
        case $q_arg in
            *[!A-Za-z0-9_./:=@+-]* | "") printf "'%s' " "$(printf '%s' "$q_arg" | sed "s/'/'\\\\''/g")" ;;
            *) printf '%s ' "$q_arg" ;;
        esac
    done
}

# Runs a command that changes the system beyond the installed files (packages,
# users, services). --dry-run and --destdir only print it.
sys() {
    if [ "$dry_run" = yes ]; then
        say "would run: $(quoted "$@")"
    elif [ -n "$destdir" ]; then
        say "not run (--destdir): $(quoted "$@")"
    else
        "$@"
    fi
}

# Sets the mode of an installed path when it differs.
fix_mode() {
    fm_path=$1 fm_mode=$2
    fm_now=$(stat -c %04a "$fm_path")
    [ "$fm_now" = "$fm_mode" ] && return 0
    act "chmod $fm_mode $fm_path (was $fm_now)"
    # Five digits: GNU chmod then also clears a directory's set-group-ID bit.
    [ "$dry_run" = yes ] || chmod "0$fm_mode" "$fm_path"
}

# Sets the owner of an installed path when it differs. In --destdir mode the
# users may not exist, so ownership is only printed.
fix_owner() {
    fo_path=$1 fo_owner=$2
    if [ -n "$destdir" ]; then
        [ "$dry_run" = yes ] || say "not run (--destdir): chown $fo_owner $fo_path"
        return 0
    fi
    [ -e "$fo_path" ] && [ "$(stat -c %U:%G "$fo_path")" = "$fo_owner" ] && return 0
    act "chown $fo_owner $fo_path"
    [ "$dry_run" = yes ] || chown "$fo_owner" "$fo_path"
}

# ensure_dir DIR MODE OWNER:GROUP
ensure_dir() {
    ed_dir=$1 ed_mode=$2 ed_owner=$3
    if [ -d "$ed_dir" ]; then
        fix_mode "$ed_dir" "$ed_mode"
    else
        act "create $ed_dir ($ed_mode $ed_owner)"
        [ "$dry_run" = yes ] && return 0
        mkdir -p "$ed_dir"
        chmod "0$ed_mode" "$ed_dir"
    fi
    fix_owner "$ed_dir" "$ed_owner"
}

# put_file SOURCE TARGET MODE OWNER:GROUP: installs SOURCE (a file in the work
# directory) as TARGET in one rename. A TARGET with the same contents is left
# alone. Sets put_changed to yes or no.
put_file() {
    pf_src=$1 pf_dest=$2 pf_mode=$3 pf_owner=$4
    if [ -f "$pf_dest" ] && cmp -s "$pf_src" "$pf_dest"; then
        put_changed=no
        fix_mode "$pf_dest" "$pf_mode"
        fix_owner "$pf_dest" "$pf_owner"
        return 0
    fi
    put_changed=yes
    if [ -e "$pf_dest" ]; then act "update $pf_dest"; else act "write $pf_dest ($pf_mode $pf_owner)"; fi
    [ "$dry_run" = yes ] && return 0
    pf_tmp=$(dirname -- "$pf_dest")/.$(basename -- "$pf_dest").new.$$
    cp "$pf_src" "$pf_tmp"
    chmod "0$pf_mode" "$pf_tmp"
    [ -n "$destdir" ] || chown "$pf_owner" "$pf_tmp"
    mv -f "$pf_tmp" "$pf_dest"
    [ -z "$destdir" ] || say "not run (--destdir): chown $pf_owner $pf_dest"
}

# Removes an installed path, if it is there.
remove_path() {
    [ -e "$1" ] || [ -L "$1" ] || return 0
    act "remove $1"
    [ "$dry_run" = yes ] || rm -rf -- "$1"
}

# --- The system ---------------------------------------------------------------

# Debian 12+ and Ubuntu 22.04+ are supported; elsewhere the installer says what
# to do by hand. In --destdir mode this is informative only.
check_os() {
    os_release=${CLOUDCHAT_OS_RELEASE:-/etc/os-release}
    os_id="" os_like="" os_version="" os_name=""
    if [ -r "$os_release" ]; then
        os_id=$(sed -n 's/^ID=//p' "$os_release" | tr -d '"' | head -n 1)
        os_like=$(sed -n 's/^ID_LIKE=//p' "$os_release" | tr -d '"' | head -n 1)
        os_version=$(sed -n 's/^VERSION_ID=//p' "$os_release" | tr -d '"' | head -n 1)
        os_name=$(sed -n 's/^PRETTY_NAME=//p' "$os_release" | tr -d '"' | head -n 1)
    fi
    os_major=${os_version%%.*}
    case $os_major in '' | *[!0-9]*) os_major=0 ;; esac
    os_ok=no
    case $os_id in
        # Debian testing and unstable have no VERSION_ID; they are newer than 12.
        debian) if [ -z "$os_version" ] || [ "$os_major" -ge 12 ]; then os_ok=yes; fi ;;
        ubuntu) if [ "$os_major" -ge 22 ]; then os_ok=yes; fi ;;
    esac
    if [ "$os_ok" = yes ]; then
        say "system: ${os_name:-$os_id $os_version}"
        return 0
    fi
    if [ -z "$os_id" ]; then
        os_problem="this system has no readable $os_release, so it is not known to be Debian or Ubuntu"
    else
        os_problem="${os_name:-$os_id $os_version} is not supported by this installer"
        case " $os_id $os_like " in
            *" debian "* | *" ubuntu "*) os_problem="$os_problem (it needs Debian 12+ or Ubuntu 22.04+ itself, for the package names it installs)" ;;
        esac
    fi
    if [ -n "$destdir" ] || [ "$mode" = uninstall ]; then
        warn "$os_problem; going on, since this run changes no packages"
        return 0
    fi
    err "$os_problem.
To install CloudChat by hand on another system:
  1. install the MariaDB C client library (libmariadb), libcurl, OpenSSL 3 and CA certificates;
  2. build cloudchatd with Swift 6: swift build -c release --product cloudchatd;
  3. then run this installer with --binary PATH --destdir DIR to stage the files
     and copy them in place as docs/install.md (\"Installing by hand\") describes."
}

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Ubuntu 24.04 renamed some libraries (libssl3t64, libcurl4t64).
pkg_available_name() {
    if apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'; then
        printf '%s\n' "$1"
    elif apt-cache policy "$1t64" 2>/dev/null | grep -q 'Candidate: [^(]'; then
        printf '%s\n' "$1t64"
    else
        printf '%s\n' "$1"
    fi
}

install_packages() {
    # What cloudchatd needs at runtime; building needs the -dev packages too
    # (the same ones scripts/install-deps.sh installs for development).
    packages="libmariadb3 libcurl4 libssl3 ca-certificates openssl"
    [ -n "$binary" ] || packages="$packages libmariadb-dev libcurl4-openssl-dev libssl-dev pkg-config"
    if ! command -v dpkg-query >/dev/null 2>&1; then
        [ -n "$destdir" ] || err "dpkg-query is missing: this installer needs Debian or Ubuntu (apt); install by hand: $packages"
        say "no dpkg here; the target needs: $packages"
        return 0
    fi
    missing=""
    for package in $packages; do
        pkg_installed "$package" || pkg_installed "${package}t64" || missing="$missing $package"
    done
    if [ -z "$missing" ]; then
        say "packages present: $packages"
        return 0
    fi
    if [ -n "$destdir" ] || [ "$dry_run" = yes ]; then
        # shellcheck disable=SC2086 # the package list is meant to split
        sys apt-get install -y --no-install-recommends $missing
        return 0
    fi
    need_cmd apt-get "this installer needs Debian or Ubuntu; install by hand:$missing"
    say "installing:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        || err "apt-get update failed; check the network and the apt sources, then run again (or install by hand:$missing)"
    names=""
    for package in $missing; do names="$names $(pkg_available_name "$package")"; done
    # shellcheck disable=SC2086 # the package list is meant to split
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $names >/dev/null \
        || err "apt-get could not install:$names; run 'apt-get install$names' to see why, fix it and run again"
}

find_swift() {
    if command -v swift >/dev/null 2>&1; then
        swift_bin=$(command -v swift)
    elif [ -x /opt/swift/usr/bin/swift ]; then
        swift_bin=/opt/swift/usr/bin/swift
        PATH="/opt/swift/usr/bin:$PATH"
        export PATH
    else
        err "no --binary given and Swift is not installed; install the Swift 6 toolchain from https://www.swift.org/install/linux/ (on PATH or in /opt/swift), or build cloudchatd elsewhere and pass --binary PATH"
    fi
}

get_binary() {
    if [ -n "$binary" ]; then
        { [ -f "$binary" ] && [ -x "$binary" ]; } || err "--binary $binary is not an executable file; give the path of a built cloudchatd"
        case $binary in /*) ;; *) binary=$(pwd)/$binary ;; esac
        if [ "$dry_run" = no ] || [ "$(id -u)" -eq 0 ]; then
            "$binary" version >/dev/null 2>&1 \
                || err "$binary does not run here (run '$binary version' to see why; it needs libmariadb3, libcurl4 and libssl3)"
        fi
        say "cloudchatd: $binary ($("$binary" --version 2>/dev/null || echo "version unknown"))"
        return 0
    fi
    { [ -f "$repo/Package.swift" ] && [ -d "$repo/Sources/cloudchatd" ]; } \
        || err "no --binary given and $repo is not a CloudChat checkout; run install.sh from a checkout, or pass --binary PATH"
    find_swift
    if [ "$dry_run" = yes ]; then
        say "would run: (cd $repo && swift build -c release --product cloudchatd)"
        binary="$repo/.build/release/cloudchatd"
        return 0
    fi
    say "building cloudchatd (swift build -c release --product cloudchatd; this takes a few minutes the first time)"
    (cd "$repo" && "$swift_bin" build -c release --product cloudchatd) \
        || err "building cloudchatd failed (see above); the build needs libmariadb-dev, libcurl4-openssl-dev, libssl-dev and pkg-config, or pass --binary PATH"
    binary=$(cd "$repo" && "$swift_bin" build -c release --show-bin-path)/cloudchatd
    [ -x "$binary" ] || err "the build finished but $binary is missing; run 'swift build -c release --product cloudchatd' in $repo to see why"
}

# --- The WordPress site -------------------------------------------------------

is_wordpress() {
    [ -f "$1/wp-settings.php" ] || [ -f "$1/wp-config.php" ]
}

# Sets found to the usual WordPress roots that hold WordPress.
wordpress_candidates() {
    found=""
    for candidate in /var/www/html /var/www/wordpress /usr/share/wordpress; do
        if is_wordpress "$candidate"; then found="$found $candidate"; fi
    done
}

locate_wordpress() {
    if [ -z "$wordpress" ]; then
        wordpress_candidates
        case $found in
            "") err "no WordPress found in /var/www/html, /var/www/wordpress or /usr/share/wordpress; pass --wordpress PATH (the directory with wp-settings.php)" ;;
            " "*" "*) err "WordPress found in several places:$found; pass --wordpress PATH to pick one" ;;
        esac
        wordpress=${found# }
        say "WordPress: $wordpress (found; --wordpress picks another)"
    fi
    [ -d "$wordpress" ] || err "--wordpress $wordpress is not a directory; give the WordPress root (the directory with wp-settings.php)"
    wordpress=$(cd "$wordpress" && pwd -P)
    case $wordpress in
        *[!A-Za-z0-9_./@+-]*) err "the WordPress path $wordpress has characters (such as spaces) that the systemd unit cannot carry; give a path of letters, digits and ._-@+ (a symbolic link will do)" ;;
    esac
}

# Prints what a PHP file defines as plain values, one per line:
#   v NAME VALUE   define('NAME', literal) or $table_prefix = literal;
#   x NAME LINE    the same, with an expression this reader does not evaluate
# It skips comments and reads each string literal as PHP does; the first
# definition of a name wins, as in PHP. `__DIR__ . '/x'` is understood, since
# wp-config.php often builds WP_CONTENT_DIR that way ($2 is the file's directory).
php_defines() {
    awk -v dir="$2" '
    function decode(s, q,    out, i, c, n) {
        out = ""
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c == "\\" && i < length(s)) {
                n = substr(s, i + 1, 1)
                if (q == "\047") {
                    if (n == "\047" || n == "\\") { out = out n; i++; continue }
                } else {
                    if (n == "\"" || n == "\\" || n == "$") { out = out n; i++; continue }
                    if (n == "n") { out = out "\n"; i++; continue }
                    if (n == "t") { out = out "\t"; i++; continue }
                }
            }
            out = out c
        }
        return out
    }
    { src = src $0 "\n" }
    END {
        n = 0; line = 1; len = length(src); i = 1
        while (i <= len) {
            c = substr(src, i, 1); two = substr(src, i, 2)
            if (c == "\n") { line++; i++; continue }
            if (c == " " || c == "\t" || c == "\r") { i++; continue }
            if (two == "//" || c == "#") { while (i <= len && substr(src, i, 1) != "\n") i++; continue }
            if (two == "/*") {
                i += 2
                while (i <= len && substr(src, i, 2) != "*/") { if (substr(src, i, 1) == "\n") line++; i++ }
                i += 2; continue
            }
            if (c == "\047" || c == "\"") {
                j = i + 1; raw = ""; dynamic = 0
                while (j <= len) {
                    d = substr(src, j, 1)
                    if (d == "\\") { raw = raw d substr(src, j + 1, 1); j += 2; continue }
                    if (d == c) break
                    if (d == "\n") line++
                    if (c == "\"" && d == "$" && substr(src, j + 1, 1) ~ /[A-Za-z_{]/) dynamic = 1
                    raw = raw d; j++
                }
                n++; type[n] = dynamic ? "e" : "s"; val[n] = decode(raw, c); at[n] = line
                i = j + 1; continue
            }
            if (c ~ /[A-Za-z_$]/) {
                j = i
                while (j <= len && substr(src, j, 1) ~ /[A-Za-z0-9_$\\]/) j++
                n++; type[n] = "w"; val[n] = substr(src, i, j - i); at[n] = line
                i = j; continue
            }
            if (c ~ /[0-9]/) {
                j = i
                while (j <= len && substr(src, j, 1) ~ /[0-9.]/) j++
                n++; type[n] = "n"; val[n] = substr(src, i, j - i); at[n] = line
                i = j; continue
            }
            n++; type[n] = "p"; val[n] = c; at[n] = line; i++
        }
        for (k = 1; k <= n; k++) {
            if (type[k] == "w" && tolower(val[k]) == "define" && val[k + 1] == "(" && type[k + 2] == "s" && val[k + 3] == ",") {
                name = val[k + 2]; v = k + 4; end = "[),]"
            } else if (type[k] == "w" && val[k] == "$table_prefix" && val[k + 1] == "=") {
                name = "$table_prefix"; v = k + 2; end = ";"
            } else {
                continue
            }
            if (name in seen) continue
            seen[name] = 1
            value = ""; plain = 0
            if ((type[v] == "s" || type[v] == "n") && val[v + 1] ~ end) {
                value = val[v]; plain = 1
            } else if (type[v] == "w" && tolower(val[v]) ~ /^(true|false)$/ && val[v + 1] ~ end) {
                value = tolower(val[v]); plain = 1
            } else if (type[v] == "w" && val[v] == "__DIR__" && val[v + 1] == "." && type[v + 2] == "s" && val[v + 3] ~ end) {
                value = dir val[v + 2]; plain = 1
            }
            if (plain && value !~ /\n/) {
                printf "v %s %s\n", name, value
            } else {
                printf "x %s %d\n", name, at[k]
            }
        }
    }' "$1"
}

# wp_value NAME: the plain value of NAME; the status says whether there is one.
wp_value() {
    printf '%s\n' "$wp_defines" | awk -v name="$1" '
        $1 == "v" && $2 == name { sub(/^v [^ ]* /, ""); print; found = 1; exit }
        END { exit !found }'
}

# wp_unevaluated NAME: the line of wp-config.php where NAME is set by an expression.
wp_unevaluated() {
    printf '%s\n' "$wp_defines" | awk -v name="$1" '$1 == "x" && $2 == name { print $3; exit }'
}

is_debian_shim() {
    [ -f "$1" ] && grep -q '/etc/wordpress/config-' "$1" && grep -q 'DEBIAN_FILE' "$1"
}

# Finds the file with the site's settings (wp_config) and reads what it defines.
read_wp_config() {
    # Debian's wordpress package: its wp-config.php only picks
    # /etc/wordpress/config-HOST.php and fills in defaults (WP_CONTENT_DIR).
    debian_shim=""
    ! is_debian_shim "$wordpress/wp-config.php" || debian_shim=$wordpress/wp-config.php
    if [ -z "$wp_config" ] && [ -n "$debian_shim" ]; then
        wp_config=$(find /etc/wordpress -maxdepth 1 -name 'config-*.php' ! -name 'config-default.php' 2>/dev/null | sort)
        [ -n "$wp_config" ] || wp_config=$(find /etc/wordpress -maxdepth 1 -name 'config-default.php' 2>/dev/null)
        case $wp_config in
            "") err "$debian_shim is Debian's, which reads /etc/wordpress/config-HOST.php, and there is none; set the site up as /usr/share/doc/wordpress/README.Debian says, then run again" ;;
            *"
"*) err "$debian_shim is Debian's, which picks one of several site configs: $(echo "$wp_config" | tr '\n' ' ')- pass --wp-config FILE to name this site's" ;;
        esac
    elif [ -z "$wp_config" ]; then
        if [ -f "$wordpress/wp-config.php" ]; then
            wp_config=$wordpress/wp-config.php
        elif [ -f "$wordpress/../wp-config.php" ] && [ ! -f "$wordpress/../wp-settings.php" ]; then
            wp_config=$(cd "$wordpress/.." && pwd -P)/wp-config.php  # WordPress also looks one level up
        else
            err "no wp-config.php in $wordpress or its parent directory; finish installing WordPress first, or pass --wp-config FILE"
        fi
    fi
    case $wp_config in /*) ;; *) wp_config=$(pwd)/$wp_config ;; esac
    [ -f "$wp_config" ] || err "--wp-config $wp_config does not exist; give the path of the site's wp-config.php"
    [ -r "$wp_config" ] || err "cannot read $wp_config; run the installer as root"
    if [ -n "$debian_shim" ] && [ "$wp_config" != "$debian_shim" ]; then
        # The site's file is read first, as the shim requires it first.
        wp_defines=$( { php_defines "$wp_config" "$(dirname -- "$wp_config")"; php_defines "$debian_shim" "$wordpress"; } | awk '!seen[$2]++')
        [ -n "${1:-}" ] || say "wp-config.php: $wp_config (read by Debian's $debian_shim)"
    else
        wp_defines=$(php_defines "$wp_config" "$(dirname -- "$wp_config")")
        [ -n "${1:-}" ] || say "wp-config.php: $wp_config"
    fi
    [ -z "${1:-}" ] || return 0  # uninstall needs only the directories below
    # The database settings are only needed for a config file or secret that is missing.
    wp_db_name=$(wp_value DB_NAME || true)
    wp_db_user=$(wp_value DB_USER || true)
    wp_db_host=$(wp_value DB_HOST || true)
    wp_db_charset=$(wp_value DB_CHARSET || true)
    wp_table_prefix=$(wp_value "\$table_prefix" || true)
    wp_db_password_known=yes
    wp_db_password=$(wp_value DB_PASSWORD) || wp_db_password_known=no
    wp_home=$(wp_value WP_HOME || true)
    wp_multisite=$(wp_value MULTISITE || true)
}

content_dirs() {
    content_dir=$(wp_value WP_CONTENT_DIR || true)
    [ -n "$content_dir" ] || content_dir=$wordpress/wp-content
    plugins_dir=$(wp_value WP_PLUGIN_DIR || true)
    [ -n "$plugins_dir" ] || plugins_dir=$content_dir/plugins
    uploads_dir=$content_dir/uploads
    media_dir=$uploads_dir/cloudchat
    case $media_dir$plugins_dir in
        *[!A-Za-z0-9_./@+-]*) err "the uploads or plugins directory ($uploads_dir, $plugins_dir) has characters (such as spaces) that the systemd unit cannot carry; install by hand as docs/install.md says" ;;
    esac
}

# Fails with what to do when a database setting is needed but wp-config.php
# sets it with an expression.
need_wp_setting() {
    nw_line=$(wp_unevaluated "$1")
    [ -z "$nw_line" ] && return 0
    err "$wp_config:$nw_line sets $1 with an expression this installer does not evaluate. Write $conf_final (and $creds_final/db_password) by hand as docs/install.md shows, then run again: existing files are kept"
}

# A setting of the existing config file (key = value), without quotes.
conf_value() {
    [ -f "$conf" ] || return 0
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$conf" | tail -n 1 | sed 's/[[:space:]]*$//; s/^"\(.*\)"$/\1/; s/^'"'"'\(.*\)'"'"'$/\1/'
}

# The database settings the daemon will use: the config file's, else wp-config.php's.
effective_db_settings() {
    db_host=$(conf_value db_host); [ -n "$db_host" ] || db_host=${wp_db_host:-localhost}
    db_name=$(conf_value db_name); [ -n "$db_name" ] || db_name=$wp_db_name
    db_user=$(conf_value db_user); [ -n "$db_user" ] || db_user=$wp_db_user
    table_prefix=$(conf_value table_prefix); [ -n "$table_prefix" ] || table_prefix=${wp_table_prefix:-wp_}
    db_socket="" db_port=""
    # WordPress's DB_HOST forms: host, host:port, host:/socket, :/socket, [v6]:port.
    case $db_host in
        \[*\]*) db_client_host=${db_host#\[}; db_client_host=${db_client_host%%\]*}; db_rest=${db_host#*\]}; db_rest=${db_rest#:} ;;
        *:*:*) db_client_host=$db_host db_rest="" ;;
        *:*) db_client_host=${db_host%%:*} db_rest=${db_host#*:} ;;
        *) db_client_host=$db_host db_rest="" ;;
    esac
    case $db_rest in
        /*) db_socket=$db_rest ;;
        *[!0-9]* | "") ;;
        *) db_port=$db_rest ;;
    esac
    [ -n "$db_client_host" ] || db_client_host=localhost
    conf_socket=$(conf_value db_socket); [ -z "$conf_socket" ] || db_socket=$conf_socket
    conf_port=$(conf_value db_port); [ -z "$conf_port" ] || db_port=$conf_port
}

# Asks the database for one option of the site; prints nothing when it cannot.
db_option() {
    client=$(command -v mariadb || command -v mysql || true)
    [ -n "$client" ] && [ -n "$db_name" ] || return 0
    if [ -r "$creds/db_password" ]; then
        do_password=$(head -n 1 "$creds/db_password")
    elif [ "$wp_db_password_known" = yes ]; then
        do_password=$wp_db_password
    else
        return 0
    fi
    case $table_prefix in *[!A-Za-z0-9_]*) return 0 ;; esac
    # The password goes in a file only root can read, never on a command line.
    {
        printf '[client]\nuser="%s"\nhost="%s"\n' "$db_user" "$db_client_host"
        printf 'password="%s"\n' "$(printf '%s' "$do_password" | sed 's/\\/\\\\/g; s/"/\\"/g')"
        [ -z "$db_port" ] || printf 'port=%s\n' "$db_port"
        [ -z "$db_socket" ] || printf 'socket="%s"\n' "$db_socket"
    } >"$work/client.cnf"
    "$client" --defaults-file="$work/client.cnf" --connect-timeout=5 -N -B \
        -e "SELECT option_value FROM \`${table_prefix}options\` WHERE option_name = '$1'" "$db_name" 2>/dev/null | head -n 1 || true
    rm -f "$work/client.cnf"
}

find_site_url() {
    site_url_from="--site-url"
    if [ -z "$site_url" ] && [ -n "$wp_home" ]; then
        site_url=$wp_home site_url_from="WP_HOME in $wp_config"
    fi
    if [ -z "$site_url" ]; then
        site_url=$(db_option home) site_url_from="the home option in the database"
    fi
    if [ -z "$site_url" ]; then
        site_url=$(db_option siteurl) site_url_from="the siteurl option in the database"
    fi
    if [ -z "$site_url" ]; then
        site_url="https://YOUR-SITE" site_url_from=""
        warn "the site's address could not be read from wp-config.php or the database; pass --site-url https://your-site to see the right callback URL"
    else
        site_url=${site_url%/}
        say "site: $site_url (from $site_url_from)"
    fi
    case $site_url in
        http://* | https://*) ;;
        *) err "the site address '$site_url' is not an http(s) URL; pass --site-url https://your-site" ;;
    esac
    site_path=$(printf '%s\n' "$site_url" | sed 's#^[A-Za-z]*://[^/]*##')
}

# --- Installing ---------------------------------------------------------------

create_user() {
    if [ -n "$destdir" ] || [ "$dry_run" = yes ]; then
        if ! getent passwd cloudchat >/dev/null 2>&1; then
            getent group cloudchat >/dev/null 2>&1 || sys groupadd --system cloudchat
            sys useradd --system --gid cloudchat --home-dir /var/lib/cloudchat --no-create-home \
                --shell /usr/sbin/nologin --comment "CloudChat daemon" cloudchat
        fi
        return 0
    fi
    if getent passwd cloudchat >/dev/null; then
        say "user cloudchat exists"
        return 0
    fi
    getent group cloudchat >/dev/null || { say "creating group cloudchat"; groupadd --system cloudchat; }
    say "creating system user cloudchat"
    useradd --system --gid cloudchat --home-dir /var/lib/cloudchat --no-create-home \
        --shell /usr/sbin/nologin --comment "CloudChat daemon" cloudchat \
        || err "useradd could not create the system user cloudchat; create it by hand (useradd --system --gid cloudchat --home-dir /var/lib/cloudchat --shell /usr/sbin/nologin cloudchat) and run again"
}

# The daemon writes the media directory (its own) and must reach it. Only when
# a directory on the way is closed to others but open to the web server's group
# does cloudchat join that group; otherwise it stays out of it.
web_group_membership() {
    wg_dir=$uploads_dir
    wg_needs=no
    while [ -n "$wg_dir" ] && [ "$wg_dir" != / ]; do
        if [ -d "$wg_dir" ]; then
            wg_perm=$(stat -c %A "$wg_dir")
            case $wg_perm in
                ?????????[xt]) ;;
                *)
                    if [ "$(stat -c %G "$wg_dir")" = "$web_group" ] && case $wg_perm in ??????[xs]*) true ;; *) false ;; esac; then
                        wg_needs=yes
                    else
                        warn "$wg_dir ($wg_perm $(stat -c %U:%G "$wg_dir")) is closed to the cloudchat user, which must reach $media_dir; open it (chmod o+x) or give the user access"
                    fi
                    ;;
            esac
        fi
        wg_dir=$(dirname -- "$wg_dir")
    done
    if [ "$wg_needs" = no ]; then
        say "the cloudchat user reaches $media_dir without joining $web_group"
        return 0
    fi
    if id -nG cloudchat 2>/dev/null | tr ' ' '\n' | grep -qx "$web_group"; then
        say "user cloudchat is in group $web_group (to reach $media_dir)"
        return 0
    fi
    say "the cloudchat user joins group $web_group to reach $media_dir"
    sys usermod --append --groups "$web_group" cloudchat
    restart_needed=yes
}

write_config() {
    if [ -e "$conf" ]; then
        say "keeping $conf (it exists; the installer never replaces it)"
        fix_mode "$conf" 0640
        fix_owner "$conf" root:cloudchat
        return 0
    fi
    for setting in DB_NAME DB_USER DB_HOST "\$table_prefix"; do need_wp_setting "$setting"; done
    [ -z "$(wp_unevaluated DB_CHARSET)" ] || say "DB_CHARSET in $wp_config is an expression; writing db_charset = utf8mb4, which CloudChat always uses"
    [ -n "$wp_db_name" ] || err "$wp_config defines no DB_NAME; finish configuring WordPress, or write $conf_final by hand (docs/install.md)"
    [ -n "$wp_db_user" ] || err "$wp_config defines no DB_USER; finish configuring WordPress, or write $conf_final by hand (docs/install.md)"
    cat >"$work/cloudchatd.conf" <<CONF
# cloudchatd's settings, written by install.sh from $wp_config.
# The installer never replaces this file; edit it and run:
#   systemctl restart cloudchatd && cloudchatd doctor
# Every key is described by 'cloudchatd help' and in README.md ("Configuration").

# The WordPress database. Under systemd the secrets come as credentials
# (LoadCredential= in the unit); the *_file paths below are for commands run
# by hand as root, such as 'cloudchatd doctor'.
db_host = ${wp_db_host:-localhost}
db_name = $wp_db_name
db_user = $wp_db_user
db_password_file = $creds_final/db_password
db_charset = ${wp_db_charset:-utf8mb4}
table_prefix = ${wp_table_prefix:-wp_}

# Inbound media goes to uploads_dir/cloudchat (sites/N/cloudchat for blog N).
uploads_dir = $uploads_dir
# Webhooks accepted while the database is down wait here.
spool_dir = /var/lib/cloudchat/spool

# Meta's webhooks reach this through the site's web server (a reverse proxy);
# the WordPress plugin calls the control API.
http_listen = 127.0.0.1:8787
control_listen = 127.0.0.1:8789
control_secret_file = $creds_final/control_secret
secrets_key_file = $creds_final/secrets_key
webhook_app_secret_file = $creds_final/webhook_app_secret
webhook_verify_token_file = $creds_final/webhook_verify_token
CONF
    put_file "$work/cloudchatd.conf" "$conf" 0640 root:cloudchat
    if [ "$dry_run" = yes ]; then sed 's/^/    | /' "$work/cloudchatd.conf"; fi
    restart_needed=yes
}

# make_secret NAME: creates credentials/NAME (0600 root) unless it exists; the
# value comes from secret_value NAME.
make_secret() {
    ms_file=$creds/$1
    if [ -e "$ms_file" ]; then
        say "keeping $ms_file (it exists)"
        fix_mode "$ms_file" 0600
        fix_owner "$ms_file" root:root
        return 0
    fi
    act "create $ms_file (0600 root)"
    [ "$dry_run" = yes ] && return 0
    (
        umask 077
        secret_value "$1" >"$ms_file.new.$$"
    ) || { rm -f "$ms_file.new.$$"; err "could not create $ms_file (see above; is the file system full or read-only?)"; }
    mv -f "$ms_file.new.$$" "$ms_file"
    [ -z "$destdir" ] || say "not run (--destdir): chown root:root $ms_file"
    restart_needed=yes
}

secret_value() {
    case $1 in
        control_secret) openssl rand -hex 32 ;;
        webhook_verify_token) openssl rand -hex 24 ;;
        db_password) printf '%s\n' "$wp_db_password" ;;
        webhook_app_secret) if [ -n "$app_secret_file" ]; then cat "$app_secret_file"; fi ;;
    esac
}

make_secrets() {
    ensure_dir "$creds" 0700 root:root
    make_secret control_secret
    make_secret webhook_verify_token
    if [ ! -e "$creds/db_password" ]; then
        need_wp_setting DB_PASSWORD
        [ "$wp_db_password_known" = yes ] \
            || err "$wp_config defines no DB_PASSWORD; write the database password to $creds_final/db_password (0600 root) and run again"
    fi
    make_secret db_password
    # The secrets key: cloudchatd writes it, and never over an existing one.
    if [ -e "$creds/secrets_key" ]; then
        say "keeping $creds/secrets_key (it exists)"
        fix_mode "$creds/secrets_key" 0600
        fix_owner "$creds/secrets_key" root:root
    else
        act "create $creds/secrets_key (0600 root; cloudchatd secrets-key generate)"
        if [ "$dry_run" = no ]; then
            "$binary" secrets-key generate --file "$creds/secrets_key" >/dev/null \
                || err "cloudchatd secrets-key generate could not write $creds/secrets_key (see above)"
            chmod 0600 "$creds/secrets_key"
            [ -z "$destdir" ] || say "not run (--destdir): chown root:root $creds/secrets_key"
            restart_needed=yes
        fi
    fi
    # The app secret: from --webhook-app-secret-file, or empty until it is set.
    if [ -n "$app_secret_file" ] && [ -f "$creds/webhook_app_secret" ] && [ ! -s "$creds/webhook_app_secret" ]; then
        act "fill $creds_final/webhook_app_secret from $app_secret_file"
        if [ "$dry_run" = no ]; then
            (umask 077 && cat "$app_secret_file" >"$creds/webhook_app_secret.new.$$")
            mv -f "$creds/webhook_app_secret.new.$$" "$creds/webhook_app_secret"
            restart_needed=yes
        fi
    elif [ -n "$app_secret_file" ] && [ -s "$creds/webhook_app_secret" ] && ! cmp -s "$app_secret_file" "$creds/webhook_app_secret"; then
        warn "$creds_final/webhook_app_secret already holds an app secret and is kept; to replace it: install -m 600 $app_secret_file $creds_final/webhook_app_secret && systemctl restart cloudchatd"
    fi
    make_secret webhook_app_secret
}

install_binary() {
    ensure_dir "$root$prefix/bin" 0755 root:root
    put_file "$binary" "$root$prefix/bin/cloudchatd" 0755 root:root
    [ "$put_changed" = no ] || restart_needed=yes
}

is_cloudchat_plugin() {
    [ -f "$1/cloudchat.php" ] && grep -q '^[[:space:]]*\*[[:space:]]*Plugin Name:[[:space:]]*CloudChat[[:space:]]*$' "$1/cloudchat.php"
}

install_plugin() {
    plugin=$root$plugins_dir/cloudchat
    if [ -L "$plugin" ]; then
        warn "$plugin is a symbolic link (to $(readlink "$plugin")), such as a development checkout; it is left as it is"
        return 0
    fi
    if [ -e "$plugin" ] && ! is_cloudchat_plugin "$plugin"; then
        err "$plugin exists and is not CloudChat's plugin; move it away and run again"
    fi
    # The plugin as it is shipped: no tests, no dotfiles; readable by all, written by root.
    cp -R "$repo/plugin-bridge" "$work/plugin"
    rm -rf "$work/plugin/tests"
    find "$work/plugin" -mindepth 1 -name '.*' -prune -exec rm -rf {} +
    chmod -R u=rwX,go=rX "$work/plugin"
    if [ -d "$plugin" ] && diff -r "$work/plugin" "$plugin" >/dev/null 2>&1; then
        say "plugin $plugin is up to date"
        return 0
    fi
    if [ -d "$plugin" ]; then act "replace the plugin copy in $plugin"; else act "copy the plugin to $plugin"; fi
    [ "$dry_run" = yes ] && return 0
    if [ ! -d "$root$plugins_dir" ]; then
        mkdir -p "$root$plugins_dir"
        [ -n "$destdir" ] || chown "$(stat -c %U:%G "$(dirname -- "$plugins_dir")")" "$plugins_dir"
    fi
    # A new copy beside the old, then two renames: WordPress skips names starting with a dot.
    cp -R "$work/plugin" "$root$plugins_dir/.cloudchat.new.$$"
    [ -n "$destdir" ] || chown -R root:root "$root$plugins_dir/.cloudchat.new.$$"
    [ ! -d "$plugin" ] || mv "$plugin" "$root$plugins_dir/.cloudchat.old.$$"
    mv "$root$plugins_dir/.cloudchat.new.$$" "$plugin"
    rm -rf "$root$plugins_dir/.cloudchat.old.$$"
    [ -z "$destdir" ] || say "not run (--destdir): chown -R root:root $plugin"
}

activate_plugin() {
    plugin_state="not activated"
    if [ -n "$destdir" ] || [ "$dry_run" = yes ] || ! command -v wp >/dev/null 2>&1 || ! id "$web_group" >/dev/null 2>&1; then
        return 0
    fi
    # WP-CLI runs as the web server's user, as WordPress itself does.
    if runuser -u "$web_group" -- env HOME=/tmp wp --path="$wordpress" plugin is-active cloudchat >/dev/null 2>&1; then
        plugin_state="active"
    elif runuser -u "$web_group" -- env HOME=/tmp wp --path="$wordpress" plugin activate cloudchat >"$work/wp.log" 2>&1; then
        say "activated the plugin with WP-CLI"
        plugin_state="active"
    else
        warn "WP-CLI could not activate the plugin ($(tail -n 1 "$work/wp.log")); activate it in wp-admin"
    fi
}

migrate() {
    if [ "$no_migrate" = yes ]; then
        say "not creating CloudChat's tables (--no-migrate); run before starting the service: cloudchatd migrate --config $conf_final"
        return 0
    fi
    # cloudchatd finds wp-config.php in the root or its parent, as WordPress does.
    case $wp_config in
        "$wordpress/wp-config.php" | "$(dirname -- "$wordpress")/wp-config.php") set -- --wordpress "$wordpress" ;;
        *) set -- --wp-config "$wp_config" ;;
    esac
    if [ -n "$destdir" ]; then
        # The staged config names secret files that are not in place yet: the
        # database settings come from wp-config.php alone.
        migrate_config=/dev/null
    else
        migrate_config=$conf
    fi
    if [ "$dry_run" = yes ]; then
        say "would run: cloudchatd migrate --config $migrate_config $*"
        return 0
    fi
    say "creating or upgrading CloudChat's tables (cloudchatd migrate)"
    "$binary" migrate --config "$migrate_config" "$@" --log-level warning \
        || err "cloudchatd migrate failed (see above); check the database settings with: cloudchatd doctor --config $migrate_config $*"
}

# The drop-in for what belongs to this site: the media directory it writes and,
# when the database socket sits where the sandbox hides it, a way to reach it.
write_unit() {
    ensure_dir "$root/etc/systemd/system" 0755 root:root
    sed "s#/usr/local/bin/cloudchatd#$prefix/bin/cloudchatd#g" "$repo/systemd/cloudchatd.service" >"$work/cloudchatd.service"
    put_file "$work/cloudchatd.service" "$root/etc/systemd/system/cloudchatd.service" 0644 root:root
    unit_changed=$put_changed
    {
        printf '# cloudchatd beside the WordPress site in %s.\n' "$wordpress"
        printf '# Written by install.sh, which rewrites it when it runs again: put your own\n'
        printf '# changes in another drop-in (systemctl edit cloudchatd).\n'
        printf '[Service]\n'
        printf '# Inbound media is stored here (cloudchat:%s, 2750) for the plugin to serve.\n' "$web_group"
        printf 'ReadWritePaths=%s\n' "$media_dir"
        case $db_socket in
            "") printf '# The database: %s, over TCP or the default socket in /run.\n' "$db_host" ;;
            /run/user/* | /home/* | /root/* | /root)
                printf '# The database socket %s is where ProtectHome=yes would hide it;\n' "$db_socket"
                printf '# read-only is enough to connect to a socket.\n'
                printf 'ProtectHome=read-only\n' ;;
            /tmp/* | /var/tmp/*)
                printf '# The database socket %s is in a temporary directory, which\n' "$db_socket"
                printf "# PrivateTmp=yes would replace with an empty one: share the system's.\\n"
                printf 'PrivateTmp=no\n' ;;
            /run/*) printf '# The database socket %s: /run is visible to the service.\n' "$db_socket" ;;
            *)
                printf '# The database socket %s: ProtectSystem=strict leaves it read-only,\n' "$db_socket"
                printf '# which is all a client needs to connect.\n' ;;
        esac
    } >"$work/site.conf"
    ensure_dir "$root/etc/systemd/system/cloudchatd.service.d" 0755 root:root
    put_file "$work/site.conf" "$root/etc/systemd/system/cloudchatd.service.d/site.conf" 0644 root:root
    [ "$put_changed" = no ] || unit_changed=yes
    if [ "$dry_run" = yes ]; then sed 's/^/    | /' "$work/site.conf"; fi
    [ "$unit_changed" = no ] || restart_needed=yes
}

start_service() {
    if [ -n "$destdir" ] || { [ "$dry_run" = yes ] && [ -d /run/systemd/system ]; }; then
        sys systemctl daemon-reload
        sys systemctl enable cloudchatd
        sys systemctl restart cloudchatd
        service_state="staged in $destdir, not started"
        return 0
    fi
    if [ ! -d /run/systemd/system ]; then
        service_state="installed, not started (no systemd)"
        if [ "$dry_run" = yes ]; then
            say "systemd is not running here (not PID 1): the unit would be installed but not started"
        else
            say "systemd is not running here (not PID 1): the unit is installed but not started"
        fi
        return 0
    fi
    [ "$unit_changed" = no ] || systemctl daemon-reload
    systemctl is-enabled --quiet cloudchatd 2>/dev/null || systemctl enable --quiet cloudchatd
    if [ "$restart_needed" = yes ] || ! systemctl is-active --quiet cloudchatd; then
        say "starting cloudchatd (systemctl restart cloudchatd)"
        if ! systemctl restart cloudchatd; then
            journalctl -u cloudchatd -n 20 --no-pager >&2 || true
            err "cloudchatd did not start (its last log lines are above). Check the setup with: $prefix/bin/cloudchatd doctor --config $conf_final; the whole log: journalctl -u cloudchatd"
        fi
    else
        say "cloudchatd is running and nothing changed"
    fi
    service_state="running (systemctl status cloudchatd)"
}

summary() {
    if [ "$dry_run" = yes ]; then
        printf '\nDry run: nothing was changed. Run again without --dry-run to install.\n'
        return 0
    fi
    verify_token="(in $creds_final/webhook_verify_token)"
    [ ! -r "$creds/webhook_verify_token" ] || verify_token=$(head -n 1 "$creds/webhook_verify_token")
    location="$site_path/cloudchat/webhook"
    cat <<SUMMARY

CloudChat is installed${destdir:+ (staged under $destdir)}.

  cloudchatd     $prefix/bin/cloudchatd, service cloudchatd: $service_state
  settings       $conf_final
  secrets        $creds_final/ (root only; systemd hands them to the service)
  media          $media_dir
  plugin         $plugins_dir/cloudchat ($plugin_state)
  logs           journalctl -u cloudchatd
  check          sudo $prefix/bin/cloudchatd doctor
  watch          sudo $prefix/bin/cloudchatd status --watch

1. Connect the plugin. In wp-admin, activate CloudChat (Plugins) if it is not
   active, open CloudChat -> Settings, enter the service address
   http://127.0.0.1:8789 and the control secret, then press Test connection.
   The secret is in $creds_final/control_secret; print it with
     sudo cat $creds_final/control_secret
   (or put define( 'CLOUDCHAT_CONTROL_SECRET', '...' ); in wp-config.php).

2. In Meta's App Dashboard (WhatsApp -> Configuration -> Webhook):
     Callback URL:  $site_url/cloudchat/webhook
     Verify token:  $verify_token

3. Let the web server pass that address to cloudchatd.
   nginx, in the site's server { } block:

     location = $location {
         proxy_pass http://127.0.0.1:8787/webhook;
         proxy_set_header Host \$host;
         proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
         proxy_set_header X-Forwarded-Proto \$scheme;
         client_max_body_size 4m;
     }
     # CloudChat's media is served by the plugin only.
     location ^~ $site_path/wp-content/uploads/cloudchat/ { deny all; }

   Apache, in the site's <VirtualHost> (a2enmod proxy proxy_http):

     ProxyPass        "$location" "http://127.0.0.1:8787/webhook"
     ProxyPassReverse "$location" "http://127.0.0.1:8787/webhook"
     <Location "$location">
         LimitRequestBody 4194304
     </Location>

   Then reload it: systemctl reload nginx (or apache2).
SUMMARY
    if [ ! -s "$creds/webhook_app_secret" ]; then
        cat <<APPSECRET

4. No Meta app secret is set yet: until it is, webhooks are answered 503 and
   Meta keeps retrying them. Copy the App Secret (App settings -> Basic) into
   a file and run:
     sudo install -m 600 app-secret.txt $creds_final/webhook_app_secret
     sudo systemctl restart cloudchatd
   (or run this installer again with --webhook-app-secret-file app-secret.txt).
APPSECRET
    fi
    if [ "$service_state" = "installed, not started (no systemd)" ]; then
        cat <<BYHAND

systemd is not running on this machine, so cloudchatd was not started. To run it
by hand as the cloudchat user, with the secrets handed over as systemd would, as root:
  install -d -m 0700 -o cloudchat -g cloudchat /run/cloudchat-credentials
  install -m 0400 -o cloudchat -g cloudchat $creds_final/* /run/cloudchat-credentials/
  runuser -u cloudchat -- env CREDENTIALS_DIRECTORY=/run/cloudchat-credentials \\
      $prefix/bin/cloudchatd serve --config $conf_final
BYHAND
    fi
    case $wp_multisite in
        true | 1)
            cat <<MULTISITE

This is a multisite network: blog N keeps its media in
$uploads_dir/sites/N/cloudchat. Create each (owner cloudchat, group
$web_group, mode 2750) and add it to ReadWritePaths= with
systemctl edit cloudchatd.
MULTISITE
            ;;
    esac
}

do_install() {
    if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
        [ "$dry_run" = yes ] || err "run the installer as root (sudo $0 ...), or stage the files with --destdir DIR"
        warn "not root: this dry run may not be able to read everything the installer reads"
    fi
    check_os
    { [ -f "$repo/systemd/cloudchatd.service" ] && [ -f "$repo/plugin-bridge/cloudchat.php" ]; } \
        || err "$repo is not a CloudChat checkout (systemd/cloudchatd.service and plugin-bridge/ are missing); run install.sh from the repository"
    if [ -n "$app_secret_file" ]; then
        { [ -r "$app_secret_file" ] && [ -s "$app_secret_file" ]; } \
            || err "--webhook-app-secret-file $app_secret_file cannot be read or is empty; it must hold the Meta app secret"
    fi
    locate_wordpress
    read_wp_config
    content_dirs
    say "media directory: $media_dir; plugin directory: $plugins_dir"
    install_packages
    [ "$dry_run" = yes ] || need_cmd openssl "install it with: apt-get install -y openssl"
    get_binary
    if [ -z "$destdir" ]; then
        getent group "$web_group" >/dev/null || err "there is no group $web_group (the web server's); pass --web-group GROUP"
    fi
    create_user
    restart_needed=no
    ensure_dir "$root/etc/cloudchat" 0750 root:cloudchat
    ensure_dir "$root/var/lib/cloudchat" 0750 cloudchat:cloudchat
    ensure_dir "$root/var/lib/cloudchat/spool" 0700 cloudchat:cloudchat
    if [ ! -d "$root$uploads_dir" ]; then
        # As WordPress would have made it: owned like wp-content.
        ensure_dir "$root$uploads_dir" 0755 "$(stat -c %U:%G "$content_dir" 2>/dev/null || echo "$web_group:$web_group")"
    fi
    ensure_dir "$root$media_dir" 2750 "cloudchat:$web_group"
    web_group_membership
    effective_db_settings
    write_config
    make_secrets
    install_binary
    install_plugin
    migrate
    activate_plugin
    write_unit
    find_site_url
    start_service
    summary
}

# --- Uninstalling -------------------------------------------------------------

do_uninstall() {
    if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ] && [ "$dry_run" = no ]; then
        err "run the uninstaller as root (sudo $0 --uninstall), or with --destdir DIR for staged files"
    fi
    check_os
    db=$(conf_value db_name)
    prefix_conf=$(conf_value table_prefix)
    unit=$root/etc/systemd/system/cloudchatd.service
    # The binary the unit runs, unless --prefix says where it is.
    installed_binary=$root$prefix/bin/cloudchatd
    if [ "$prefix_given" = no ] && [ -f "$unit" ]; then
        unit_binary=$(sed -n 's/^ExecStart=\([^ ]*\/bin\/cloudchatd\) .*/\1/p' "$unit" | head -n 1)
        [ -z "$unit_binary" ] || installed_binary=$root$unit_binary
    fi
    if [ -e "$unit" ] && [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
        sys systemctl disable --now cloudchatd || warn "systemctl could not stop and disable cloudchatd (see above); the unit is removed anyway"
    elif [ -n "$destdir" ]; then
        sys systemctl disable --now cloudchatd
    elif [ -e "$unit" ]; then
        say "systemd is not running here; if cloudchatd was started by hand, stop it (kill its 'cloudchatd serve' process)"
    fi
    remove_path "$unit"
    remove_path "$root/etc/systemd/system/cloudchatd.service.d/site.conf"
    dropins=$root/etc/systemd/system/cloudchatd.service.d
    if [ -d "$dropins" ] && [ "$dry_run" = no ]; then
        rmdir "$dropins" 2>/dev/null || say "keeping $dropins: it holds other drop-ins (your own changes)"
    fi
    if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then sys systemctl daemon-reload; fi
    remove_path "$installed_binary"

    # The plugin copy: where --wordpress says, else where the config's uploads_dir says.
    plugins_dir=""
    uploads_from_conf=$(conf_value uploads_dir)
    if [ -n "$wordpress" ]; then
        locate_wordpress
        read_wp_config dirs-only
        content_dirs
    elif [ -n "$uploads_from_conf" ]; then
        plugins_dir=$(dirname -- "$uploads_from_conf")/plugins
        media_dir=$uploads_from_conf/cloudchat
    elif wordpress_candidates && [ -n "$found" ] && [ "${found# * }" = "$found" ]; then
        locate_wordpress
        read_wp_config dirs-only
        content_dirs
    else
        warn "could not tell where the plugin copy is; run again with --wordpress PATH to remove it"
    fi
    if [ -n "$plugins_dir" ]; then
        plugin=$root$plugins_dir/cloudchat
        if [ -L "$plugin" ]; then
            say "keeping $plugin: it is a symbolic link, not the installer's copy"
        elif [ -d "$plugin" ] && ! is_cloudchat_plugin "$plugin"; then
            warn "keeping $plugin: it is not CloudChat's plugin"
        else
            remove_path "$plugin"
        fi
    fi

    if [ "$purge" = yes ]; then
        spooled=$(find "$root/var/lib/cloudchat/spool" -name '*.batch' 2>/dev/null | wc -l)
        [ "$spooled" -eq 0 ] || err "$root/var/lib/cloudchat/spool holds $spooled batches of webhooks not yet stored in the database. Install and start cloudchatd again until 'cloudchatd doctor' shows none waiting, or remove them by hand, then purge"
        remove_path "$root/etc/cloudchat"
        remove_path "$root/var/lib/cloudchat"
        if [ -n "$destdir" ] || [ "$dry_run" = yes ] || getent passwd cloudchat >/dev/null; then
            sys userdel cloudchat || err "userdel could not remove the user cloudchat (see above); stop its processes (ps -u cloudchat) and run again"
        fi
        if [ -n "$destdir" ] || [ "$dry_run" = yes ] || getent group cloudchat >/dev/null; then
            if [ -z "$destdir" ] && [ "$dry_run" = no ]; then
                ! getent group cloudchat >/dev/null || groupdel cloudchat
            else
                sys groupdel cloudchat
            fi
        fi
    else
        say "kept /etc/cloudchat (settings and secrets), /var/lib/cloudchat and the cloudchat user; --uninstall --purge removes them"
    fi
    [ -z "${media_dir:-}" ] || say "kept the media files in $media_dir (the site's data; remove them with: rm -r $media_dir)"
    db=${db:-DATABASE} prefix_conf=${prefix_conf:-wp_}
    like=$(printf '%s' "$prefix_conf" | sed 's/_/\\_/g')
    cat <<TABLES

CloudChat's tables stay in the database $db with their data; this installer
never drops them. To drop them, either tick "delete data on uninstall" in
CloudChat -> Settings and delete the plugin in wp-admin before uninstalling, or
write the DROP statements, read them, and run them:
  mariadb $db -N -e "SELECT CONCAT('DROP TABLE \\\`', table_name, '\\\`;') FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE '$like%cloudchat\\_%'" >drop-cloudchat.sql
  mariadb $db <drop-cloudchat.sql
  mariadb $db -e "DELETE FROM ${prefix_conf}options WHERE option_name IN ('cloudchat_db_version', 'cloudchat_retention')"
TABLES
}

# --- Command line -------------------------------------------------------------

# needs_value OPTION COUNT: an option's value must follow it.
needs_value() {
    [ "$2" -ge 2 ] || err "$1 needs a value; see ./install.sh --help"
}

main() {
    umask 022
    mode=install dry_run=no purge=no no_migrate=no prefix_given=no
    wordpress="" wp_config="" binary="" prefix=/usr/local destdir="" site_url=""
    app_secret_file="" web_group=www-data
    while [ $# -gt 0 ]; do
        case $1 in
            -h | --help) usage; return 0 ;;
            --wordpress) needs_value "$1" $#; wordpress=$2; shift 2 ;;
            --wordpress=*) wordpress=${1#*=}; shift ;;
            --wp-config) needs_value "$1" $#; wp_config=$2; shift 2 ;;
            --wp-config=*) wp_config=${1#*=}; shift ;;
            --binary) needs_value "$1" $#; binary=$2; shift 2 ;;
            --binary=*) binary=${1#*=}; shift ;;
            --prefix) needs_value "$1" $#; prefix=$2; prefix_given=yes; shift 2 ;;
            --prefix=*) prefix=${1#*=}; prefix_given=yes; shift ;;
            --destdir) needs_value "$1" $#; destdir=$2; shift 2 ;;
            --destdir=*) destdir=${1#*=}; shift ;;
            --site-url) needs_value "$1" $#; site_url=$2; shift 2 ;;
            --site-url=*) site_url=${1#*=}; shift ;;
            --webhook-app-secret-file) needs_value "$1" $#; app_secret_file=$2; shift 2 ;;
            --webhook-app-secret-file=*) app_secret_file=${1#*=}; shift ;;
            --web-group) needs_value "$1" $#; web_group=$2; shift 2 ;;
            --web-group=*) web_group=${1#*=}; shift ;;
            --no-migrate) no_migrate=yes; shift ;;
            --dry-run) dry_run=yes; shift ;;
            --uninstall) mode=uninstall; shift ;;
            --purge) purge=yes; shift ;;
            *) err "unknown option '$1'; see ./install.sh --help for the options" ;;
        esac
    done
    [ "$purge" = no ] || [ "$mode" = uninstall ] || err "--purge goes with --uninstall (./install.sh --uninstall --purge)"
    case $prefix in
        /*) prefix=${prefix%/} ;;
        *) err "--prefix must be an absolute path, such as /usr/local" ;;
    esac
    case $prefix in *[!A-Za-z0-9_./@+-]*) err "--prefix $prefix has characters (such as spaces) that the systemd unit cannot carry; choose another, such as /usr/local" ;; esac
    if [ -n "$destdir" ]; then
        case $destdir in /*) ;; *) destdir=$(pwd)/$destdir ;; esac
        destdir=${destdir%/}
        [ -n "$destdir" ] || err "--destdir / is the system itself; leave --destdir out to install"
        if [ "$dry_run" = no ]; then mkdir -p "$destdir"; fi
    fi
    case $web_group in '' | *[!A-Za-z0-9_-]*) err "--web-group '$web_group' is not a group name; give the web server's group, such as www-data" ;; esac
    root=$destdir
    conf_final=/etc/cloudchat/cloudchatd.conf
    creds_final=/etc/cloudchat/credentials
    conf=$root$conf_final
    creds=$root$creds_final
    repo=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
    wp_multisite="" plugin_state="" service_state="" unit_changed=no
    work=$(mktemp -d "${TMPDIR:-/tmp}/cloudchat-install.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [ "$mode" = uninstall ]; then
        do_uninstall
    else
        do_install
    fi
}

main "$@"
