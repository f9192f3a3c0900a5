#!/usr/bin/env bash
# The SCIM benchmark: builds release binaries, starts Roster on a fresh
# SQLite store in a session of its own (setsid, so the kernel does not share
# the load generator's CPU slice with it), loads USER_COUNT users and
# GROUP_COUNT groups through SCIM, and prints the table. Not part of the
# test command.
#
# With COMPARE=1 it then runs the same workload, at COMPARE_USERS users and
# COMPARE_GROUPS groups (the reference server keeps everything in memory and
# scans it for every filter, so the full size would take hours), against a
# fresh Roster and against the reference Python server scim2-server (PyPI),
# one after the other on the same machine.
#
#   bash interop/bench/scim.sh                       # 100,000 users, 1,000 groups
#   COMPARE=1 bash interop/bench/scim.sh             # … then 10,000 / 100 side by side
#   USER_COUNT=20000 GROUP_COUNT=200 bash interop/bench/scim.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --locked --manifest-path "$root/Cargo.toml" --bin roster --example scim-bench
bench="$root/target/release/examples/scim-bench"
work=$(mktemp -d)
cleanup() { pkill -f "$work/" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

roster() { # roster USERS GROUPS: a fresh Roster under load
    rm -rf "$work/data"
    setsid "$root/target/release/roster" serve --data-dir "$work/data" \
        --http-listen 127.0.0.1:0 --ldap-listen 127.0.0.1:0 --log-level warn \
        >"$work/out" 2>"$work/log" </dev/null &
    for _ in $(seq 1 100); do grep -q '^SCIM at' "$work/out" 2>/dev/null && break; sleep 0.1; done
    local token scim
    token=$(sed -n 2p "$work/out")
    scim=$(sed -n 's/^SCIM at \([^,]*\),.*/\1/p' "$work/out")
    echo "== Roster $(git -C "$root" rev-parse --short HEAD) on $(nproc) cores, SQLite (synchronous=FULL): $1 users, $2 groups"
    "$bench" "$scim" "$token" "$1" "$2"
    pkill -f "$work/data" || true
    sleep 1
}

# The bound on POST with a password: argon2id hashes/s with Roster's
# parameters on 1 thread and on every core, measured in a session of its own.
ARGON2_BOUND=$(setsid "$bench" --argon2-bound </dev/null | tr '\n' ' ')
export ARGON2_BOUND
echo "argon2id (m=19456 KiB, t=2, p=1) hashes/s by threads: $ARGON2_BOUND"

roster "${USER_COUNT:-100000}" "${GROUP_COUNT:-1000}"

if [ "${COMPARE:-0}" = 1 ]; then
    users=${COMPARE_USERS:-10000}
    groups=${COMPARE_GROUPS:-100}
    echo
    roster "$users" "$groups"
    venv="$root/interop/.venv"
    if ! "$venv/bin/python" -c 'import scim2_server' 2>/dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check "scim2-server==0.8.3"
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    setsid "$venv/bin/scim2-server" --bearer-token bench-token --port "$port" \
        --dump-resources "$work/scim2-server.json" >"$work/ref.log" 2>&1 </dev/null &
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/ServiceProviderConfig" && break; sleep 0.1; done
    echo
    echo "== scim2-server $("$venv/bin/pip" show scim2-server | sed -n 's/^Version: //p') (Python, in memory, nothing durable) on the same machine: $users users, $groups groups"
    "$bench" "http://127.0.0.1:$port" bench-token "$users" "$groups" || echo "(scim2-server could not finish the workload; its log: $work/ref.log)"
fi
