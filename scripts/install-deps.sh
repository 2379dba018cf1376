#!/bin/sh
# Installs the Debian packages CloudChat builds and tests with, if any are missing.
# Idempotent: with everything present it changes nothing and needs no network.
#
#   scripts/install-deps.sh            build and test dependencies
#   scripts/install-deps.sh --print    only list the Debian packages
set -eu

say() { printf 'install-deps: %s\n' "$*"; }
err() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

packages="mariadb-server mariadb-client libmariadb-dev libcurl4-openssl-dev libssl-dev pkg-config shellcheck curl openssl"
# systemd-analyze checks the service unit.
packages="$packages systemd"
# The WordPress plugin's tests: Debian's WordPress served by PHP's built-in
# server, PHPUnit, and headless Chromium driven by Selenium (Python, from pip);
# php-zip for WordPress's own personal data export, which writes a zip.
packages="$packages wordpress php-cli php-mysql php-curl php-mbstring php-zip phpunit chromium chromium-driver"

missing_packages() {
    for package in $packages; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || printf '%s ' "$package"
    done
}

main() {
    if [ "${1:-}" = "--print" ]; then
        echo "$packages"
        return 0
    fi
    command -v dpkg-query >/dev/null 2>&1 || err "this script needs Debian or Ubuntu (dpkg/apt); install the equivalents of: $packages"
    missing=$(missing_packages)
    if [ -n "$missing" ]; then
        if [ "$(id -u)" -eq 0 ]; then
            sudo=""
        elif command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            err "missing packages ($missing) and not root; run as root: apt-get install -y $missing"
        fi
        say "installing:$missing"
        $sudo apt-get update -qq
        # shellcheck disable=SC2086 # the package list is meant to split
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
    if ! python3 -c 'import selenium' >/dev/null 2>&1; then
        command -v python3 >/dev/null 2>&1 || err "python3 is not installed; install Python 3 with pip"
        python3 -m pip --version >/dev/null 2>&1 || err "python3 has no pip; install pip, then run: python3 -m pip install 'selenium>=4.10,<5'"
        say "installing selenium for Python (pip)"
        python3 -m pip install --quiet 'selenium>=4.10,<5' \
            || err "pip could not install selenium; in a virtual environment run: python3 -m pip install 'selenium>=4.10,<5'"
    fi
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then
            say "swift is at /opt/swift/usr/bin but not on PATH; the scripts add it"
        else
            err "Swift 6 is not installed; install the Swift 6.x toolchain for Debian 12 from swift.org and put it on PATH"
        fi
    fi
    say "all dependencies present"
}

main "$@"
