#!/usr/bin/env bash
# The LDAP benchmark: Roster and OpenLDAP slapd side by side, on the same
# machine and the same generated data (USER_COUNT users, GROUP_COUNT groups
# of 10 to 500 members, ARGON2_USERS users with {ARGON2} passwords and
# SSHA_USERS with {SSHA} ones). slapd runs the mdb backend with equality
# indexes on uid, mail, cn, member and memberOf and the memberof overlay;
# Roster runs on its embedded SQLite store, loaded with `roster import`.
# Each server is started in a session of its own (setsid), and the client
# runs the same operations against each, in turns (Roster, slapd, Roster,
# slapd) when ROUNDS=2. Not part of the test command.
#
#   bash interop/bench/ldap.sh
#   USER_COUNT=20000 CONNS=1,16 bash interop/bench/ldap.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
users=${USER_COUNT:-100000}
groups=${GROUP_COUNT:-1000}
argon2_users=${ARGON2_USERS:-500}
ssha_users=${SSHA_USERS:-500}
rounds=${ROUNDS:-1}

if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then
    echo "installing slapd (Debian) for the comparison"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq slapd >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq slapd >/dev/null; }
fi
venv="$root/interop/.venv"
if ! "$venv/bin/python" -c 'import argon2' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check argon2-cffi
fi
cargo build --release --locked --manifest-path "$root/Cargo.toml" --bin roster --example ldap-bench
bench="$root/target/release/examples/ldap-bench"
roster_bin="$root/target/release/roster"

work=$(mktemp -d)
cleanup() {
    [ -f "$work/slapd.pid" ] && kill "$(cat "$work/slapd.pid")" 2>/dev/null
    pkill -f "$work/" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

echo "generating $users users and $groups groups"
"$venv/bin/python" "$root/interop/bench/ldap_data.py" "$work/data.ldif" "$users" "$groups" "$argon2_users" "$ssha_users"
base=dc=example,dc=com
schemes="argon2:0:$argon2_users,ssha:$argon2_users:$ssha_users"

# ---- slapd ----
mkdir -p "$work/slapd-db"
cat >"$work/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload argon2
pidfile $work/slapd.pid
threads 16
database mdb
suffix "$base"
rootdn "cn=admin,$base"
rootpw admin-pw
directory $work/slapd-db
maxsize 8589934592
index objectClass eq
index uid,mail,cn,member,memberOf eq
overlay memberof
EOF
echo "loading slapd (slapadd)"
/usr/sbin/slapadd -q -f "$work/slapd.conf" -l "$work/data.ldif"
slapd_port=$(port)
start_slapd() {
    setsid /usr/sbin/slapd -f "$work/slapd.conf" -h "ldap://127.0.0.1:$slapd_port/" </dev/null
    for _ in $(seq 1 100); do ldapsearch -x -H "ldap://127.0.0.1:$slapd_port" -b '' -s base >/dev/null 2>&1 && break; sleep 0.1; done
}
stop_slapd() { kill "$(cat "$work/slapd.pid")"; sleep 1; }

# ---- Roster ----
cat >"$work/roster.toml" <<EOF
data_dir = "$work/roster-data"
[password]
# Measure binds, not the one-time migration of imported {SSHA} hashes.
rehash_on_bind = false
EOF
echo "loading Roster (roster import)"
"$roster_bin" import users --config "$work/roster.toml" "$work/data.ldif"
roster_port=$(port)
start_roster() { # CONFIG
    setsid "$roster_bin" serve --config "$1" --http-listen 127.0.0.1:0 \
        --ldap-listen "127.0.0.1:$roster_port" --log-level warn >"$work/roster.out" 2>"$work/roster.log" </dev/null &
    for _ in $(seq 1 300); do grep -q '^SCIM at' "$work/roster.out" 2>/dev/null && break; sleep 0.1; done
    sleep 2 # the loaded server gives back what loading freed
}
stop_roster() { pkill -f "$work/roster" || true; sleep 1; }

# What a server with an empty store holds (code, threads, buffers): the
# memory per user is what a loaded one holds beyond it.
printf 'data_dir = "%s"\n' "$work/roster-empty" >"$work/roster-empty.toml"
start_roster "$work/roster-empty.toml"
empty_rss=$(rss_kib "$(pgrep -f "$work/roster-empty.toml" | head -n1)")
stop_roster

echo
echo "| server   | operation                          | conns |     ops/s | p50 (ms) | p99 (ms) | failed |"
echo "|----------|------------------------------------|-------|-----------|----------|----------|--------|"
for _ in $(seq 1 "$rounds"); do
    start_roster "$work/roster.toml"
    rpid=$(pgrep -f "$work/roster.toml" | head -n1)
    before=$(rss_kib "$rpid")
    "$bench" "ldap://127.0.0.1:$roster_port" "uid=bench-reader,ou=people,$base" bench-reader-pw "$base" "$users" "$schemes" roster
    roster_rss=$(rss_kib "$rpid")
    stop_roster
    start_slapd
    spid=$(cat "$work/slapd.pid")
    "$bench" "ldap://127.0.0.1:$slapd_port" "cn=admin,$base" admin-pw "$base" "$users" "$schemes" slapd
    slapd_rss=$(rss_kib "$spid")
    stop_slapd
done
echo
echo "resident memory: Roster empty $((empty_rss / 1024)) MiB, loaded $((before / 1024)) MiB, after the run $((roster_rss / 1024)) MiB; slapd after the run $((slapd_rss / 1024)) MiB"
echo "Roster per user: $(((before - empty_rss) * 1024 / (users + 1))) bytes (loaded minus empty: the read model, its indexes and SQLite's page cache)"
echo "(after the run Roster also holds each hashing thread's 19 MiB argon2 memory, connection buffers and open paged searches)"
