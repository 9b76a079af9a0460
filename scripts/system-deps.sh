#!/usr/bin/env bash
# System packages and services the test suite needs beyond the virtualenv.
#
# * Debian's `chromium` (for the Playwright browser tests in tests/system; Playwright
#   drives /usr/bin/chromium and never downloads a browser of its own).
# * PostgreSQL on 127.0.0.1:5432 (Airflow's metadata database in tests/system) and
#   Redis on 127.0.0.1:6379 (the Celery broker), started if they are not running.
#
# Idempotent and quick when everything is present; prints what it does. Installing
# needs root (CI runs it as root); without root it only reports what is missing.
set -euo pipefail

say() { echo "system-deps: $*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        say "not root: cannot run '$*' (tests that need it will skip)"
        return 1
    fi
}

port_open() {  # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && exec 3>&- 3<&-
}

wait_port() {  # host port name
    for _ in $(seq 1 50); do
        port_open "$1" "$2" && return 0
        sleep 0.2
    done
    say "$3 did not open $1:$2 in 10s"
    return 1
}

# --- Chromium -------------------------------------------------------------------
if [ -x /usr/bin/chromium ]; then
    say "chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
elif command -v apt-get >/dev/null 2>&1; then
    say "installing Debian chromium"
    as_root env DEBIAN_FRONTEND=noninteractive sh -c \
        'apt-get update -qq && apt-get install -y -qq chromium >/dev/null' \
        || say "chromium install failed (browser tests will skip)"
else
    say "no apt-get: cannot install chromium (browser tests will skip)"
fi

# --- PostgreSQL -----------------------------------------------------------------
if port_open 127.0.0.1 5432; then
    say "PostgreSQL answers on 127.0.0.1:5432"
elif command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
        say "starting PostgreSQL $version/main"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    wait_port 127.0.0.1 5432 PostgreSQL || true
else
    say "no PostgreSQL cluster on this machine (distributed tests will skip)"
fi

# --- Redis ----------------------------------------------------------------------
if port_open 127.0.0.1 6379; then
    say "Redis answers on 127.0.0.1:6379"
elif command -v redis-server >/dev/null 2>&1; then
    say "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis || true
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    wait_port 127.0.0.1 6379 Redis || true
else
    say "no redis-server on this machine (distributed tests will skip)"
fi
exit 0
