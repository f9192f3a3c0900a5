#!/usr/bin/env bash
# The SCIM benchmark: builds release binaries, starts Roster on a fresh
# SQLite store in a session of its own (setsid, so the kernel does not share
# the load generator's CPU slice with it), loads USER_COUNT users and
# GROUP_COUNT groups through SCIM, and prints the table. With COMPARE=1 the
# same workload then runs against the reference Python server scim2-server
# (PyPI, in memory). Not part of the test command.
#
#   bash interop/bench/scim.sh                                   # 100,000 users, 1,000 groups
#   USER_COUNT=20000 GROUP_COUNT=200 COMPARE=1 bash interop/bench/scim.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
users=${USER_COUNT:-100000}
groups=${GROUP_COUNT:-1000}
cargo build --release --locked --manifest-path "$root/Cargo.toml" --bin roster --example scim-bench
work=$(mktemp -d)
cleanup() { pkill -f "$work/" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

setsid "$root/target/release/roster" serve --data-dir "$work/data" \
    --http-listen 127.0.0.1:0 --ldap-listen 127.0.0.1:0 --log-level warn \
    >"$work/out" 2>"$work/log" </dev/null &
for _ in $(seq 1 100); do grep -q '^SCIM at' "$work/out" 2>/dev/null && break; sleep 0.1; done
token=$(sed -n 2p "$work/out")
scim=$(sed -n 's/^SCIM at \([^,]*\),.*/\1/p' "$work/out")
echo "== Roster $(git -C "$root" rev-parse --short HEAD) on $(nproc) cores, SQLite (synchronous=FULL) in $work/data"
"$root/target/release/examples/scim-bench" "$scim" "$token" "$users" "$groups"
pkill -f "$work/data" || true

if [ "${COMPARE:-0}" = 1 ]; then
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
    echo "== scim2-server $("$venv/bin/pip" show scim2-server | sed -n 's/^Version: //p') (Python, in memory) on the same machine"
    "$root/target/release/examples/scim-bench" "http://127.0.0.1:$port" bench-token "$users" "$groups" || echo "(scim2-server could not finish the workload)"
fi
