#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl) that the tests start a throwaway cluster with exist.
# As root with apt, install the Debian/Ubuntu package `postgresql`; otherwise stop with one line naming it.
set -euo pipefail

found() {
    command -v initdb >/dev/null && command -v pg_ctl >/dev/null && return 0
    command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ] && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

found && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing the PostgreSQL server (apt-get install postgresql) for the tests" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    found && exit 0
fi
echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found: install the 'postgresql' package (sudo apt-get install postgresql)" >&2
exit 1
