#!/usr/bin/env bash
# The SCIM benchmark: builds release binaries, starts Roster on a fresh
# SQLite store in a session of its own (setsid, so the kernel does not share
# the load generator's CPU slice with it), loads USER_COUNT users and GROUP_COUNT
# groups through SCIM, and prints the table. Not part of the test command.
#
#   bash interop/bench/scim.sh            # 100,000 users, 1,000 groups
#   USER_COUNT=20000 GROUP_COUNT=200 bash interop/bench/scim.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --locked --manifest-path "$root/Cargo.toml" --bin roster --example scim-bench
work=$(mktemp -d)
cleanup() { pkill -f "$work/data" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
setsid "$root/target/release/roster" serve --data-dir "$work/data" \
    --http-listen 127.0.0.1:0 --ldap-listen 127.0.0.1:0 --log-level warn \
    >"$work/out" 2>"$work/log" </dev/null &
for _ in $(seq 1 100); do grep -q '^SCIM at' "$work/out" 2>/dev/null && break; sleep 0.1; done
token=$(sed -n 2p "$work/out")
scim=$(sed -n 's/^SCIM at \([^,]*\),.*/\1/p' "$work/out")
echo "Roster $(git -C "$root" rev-parse --short HEAD) on $(nproc) cores, SQLite in $work/data"
"$root/target/release/examples/scim-bench" "$scim" "$token" "${USER_COUNT:-100000}" "${GROUP_COUNT:-1000}"
