#!/bin/sh
# Runs the whole test suite against a real, throwaway MariaDB server.
#
# Installs missing Debian packages, starts the server (scripts/mariadb-dev.sh),
# builds everything (the tests run the cloudchatd binary too) and runs the tests:
# `swift test`, then the WordPress plugin's tests in a real WordPress and a
# headless browser (scripts/test-wordpress.sh; screenshots in
# test-artifacts/wordpress/). Extra arguments go to `swift test`, e.g.
# `scripts/test.sh --filter Pool`.
# Between the two, scripts/test-install.sh runs install.sh into a staging
# directory and checks the unit with systemd-analyze.
set -eu

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo_root"
[ -x /opt/swift/usr/bin/swift ] && PATH="/opt/swift/usr/bin:$PATH" && export PATH

scripts/install-deps.sh
scripts/mariadb-dev.sh start
eval "$(scripts/mariadb-dev.sh env)"

shellcheck scripts/*.sh .ci/run install.sh
swift build --build-tests
swift test --skip-build "$@"
scripts/test-install.sh --bin-dir "$(swift build --show-bin-path)"
scripts/test-wordpress.sh --bin-dir "$(swift build --show-bin-path)"
