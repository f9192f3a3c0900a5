#!/usr/bin/env bash
# Runs every test Roster has: formatting, lints, unit and integration tests
# on SQLite, the same integration tests on PostgreSQL, and the interop
# script with the real OpenLDAP client tools. Installs or starts what it
# needs; says what it skips and why.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
skipped=()

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test (SQLite)"
cargo test --locked

step "integration tests on PostgreSQL"
pg_admin_url=${ROSTER_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
    echo "SKIPPED: PostgreSQL is not installed on this machine; the PostgreSQL run did not happen."
    skipped+=("PostgreSQL")
else
    if ! pg_ready; then
        echo "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
    fi
    if ! pg_ready; then
        echo "SKIPPED: PostgreSQL is installed but could not be started; the PostgreSQL run did not happen."
        skipped+=("PostgreSQL")
    else
        drop_test_databases() {
            psql "$pg_admin_url" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'roster\_t\_%'" |
                while read -r db; do [ -n "$db" ] && psql "$pg_admin_url" -qc "DROP DATABASE IF EXISTS $db" >/dev/null; done
        }
        drop_test_databases
        ROSTER_TEST_DATABASE_URL="$pg_admin_url" cargo test --locked --tests
        drop_test_databases
    fi
fi

step "interop with real clients"
bash interop/run.sh

if [ ${#skipped[@]} -gt 0 ]; then
    echo "Skipped: ${skipped[*]} (see above)."
fi
