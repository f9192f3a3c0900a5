#!/usr/bin/env bash
# The README quickstart, run with the real OpenLDAP client tools
# (ldapwhoami, ldapsearch from Debian's ldap-utils) and curl against a
# started Roster on a fresh SQLite store. Prints each check; fails on any
# difference.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

need() {
    local missing=()
    for tool in ldapwhoami ldapsearch curl python3; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing ldap-utils and curl for: ${missing[*]}"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq ldap-utils curl >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq ldap-utils curl >/dev/null 2>&1; }
    fi
    for tool in ldapwhoami ldapsearch curl python3; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "FAILED: $tool is not available and could not be installed"
            exit 1
        fi
    done
}
need

bin=${ROSTER_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/roster}
if [ ! -x "$bin" ]; then
    cargo build --manifest-path "$root/Cargo.toml" --locked --bin roster || exit 1
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --data-dir "$work/data" --http-listen 127.0.0.1:0 --ldap-listen 127.0.0.1:0 \
    >"$work/out" 2>"$work/log" &
server_pid=$!
for _ in $(seq 1 100); do
    grep -q '^SCIM at' "$work/out" 2>/dev/null && break
    sleep 0.1
done
if ! grep -q '^SCIM at' "$work/out"; then
    echo "FAILED: the server did not start"; cat "$work/log"; exit 1
fi
token=$(sed -n 2p "$work/out")
scim=$(sed -n 's/^SCIM at \([^,]*\),.*/\1/p' "$work/out")
ldap=$(sed -n 's/.*LDAP at \([^,]*\),.*/\1/p' "$work/out")
base=dc=example,dc=com
alice=uid=alice,ou=people,$base

source "$here/checks.sh"
auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json')

check "bootstrap token printed once" "1" "$(grep -c '^roster_' "$work/out")"

# 2. Create alice over SCIM.
created=$(curl -s -D "$work/headers" "${auth[@]}" -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice","password":"S3cure-pass!","name":{"givenName":"Alice","familyName":"Liddell"},"emails":[{"value":"alice@example.com","primary":true}]}' "$scim/Users")
check "POST /Users answers 201" "201" "$(head -1 "$work/headers" | cut -d' ' -f2)"
id=$(json 'd["id"]' <<<"$created")
check "Location names the new user" "location: $scim/Users/$id" "$(grep -i '^location:' "$work/headers" | tr -d '\r' | sed 's/^Location/location/')"
check "no password in the resource" "0" "$(grep -ci -e '"password"' -e 'S3cure' <<<"$created")"

# 3. Bind as alice with ldapwhoami.
check "ldapwhoami prints alice's DN" "dn:$alice" "$(ldapwhoami -x -H "$ldap" -D "$alice" -w 'S3cure-pass!' 2>&1)"
ldapwhoami -x -H "$ldap" -D "$alice" -w 'wrong' >/dev/null 2>&1
check "a wrong password is result 49" "49" "$?"

# 4. A group over SCIM shows in memberOf over LDAP.
group=$(curl -s "${auth[@]}" -d "{\"displayName\":\"devs\",\"members\":[{\"value\":\"$id\"}]}" "$scim/Groups")
check "POST /Groups creates devs" "devs" "$(json 'd["displayName"]' <<<"$group")"
found=$(ldapsearch -x -LLL -H "$ldap" -D "$alice" -w 'S3cure-pass!' -b "$base" '(mail=alice@example.com)' cn mail memberOf 2>&1)
contains "ldapsearch finds alice by mail" "dn: $alice" "$found"
contains "memberOf lists devs" "memberOf: cn=devs,ou=groups,$base" "$found"
contains "mail is returned" "mail: alice@example.com" "$found"

# 5. Deactivate and reactivate over SCIM.
patch() { curl -s -o /dev/null -w '%{http_code}' -X PATCH "${auth[@]}" -d "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"replace\",\"path\":\"active\",\"value\":$1}]}" "$scim/Users/$id"; }
check "PATCH active=false answers 200" "200" "$(patch false)"
ldapwhoami -x -H "$ldap" -D "$alice" -w 'S3cure-pass!' >/dev/null 2>&1
check "a deactivated user's bind is result 49" "49" "$?"
check "PATCH active=true answers 200" "200" "$(patch true)"
check "a reactivated user binds again" "dn:$alice" "$(ldapwhoami -x -H "$ldap" -D "$alice" -w 'S3cure-pass!' 2>&1)"

# 6. The command line works on the same store.
new_token=$("$bin" token create --name interop --data-dir "$work/data" 2>/dev/null)
check "token create prints one line" "1" "$(printf '%s\n' "$new_token" | wc -l | tr -d ' ')"
check "the new token is accepted" "200" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $new_token" "$scim/Users")"
contains "user list shows alice" "alice" "$("$bin" user list --data-dir "$work/data" 2>/dev/null)"
contains "roster --help explains serve" "serve" "$("$bin" --help)"

# The rootDSE is readable anonymously; nothing else is.
contains "anonymous rootDSE names the base" "namingContexts: $base" "$(ldapsearch -x -LLL -H "$ldap" -b '' -s base namingContexts 2>&1)"
ldapsearch -x -LLL -H "$ldap" -b "$base" '(uid=alice)' >/dev/null 2>&1
check "anonymous subtree search is refused (50)" "50" "$?"

# The public scim2-tester suite (PyPI), in a virtual environment of its own.
venv="$here/.venv"
if ! "$venv/bin/python" -c 'import scim2_tester, httpx2' 2>/dev/null; then
    echo "installing scim2-tester into $venv"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check \
        "scim2-tester==0.5.2" "scim2-client[httpx2]==0.13.2" ||
        { echo "FAILED: could not install scim2-tester from PyPI"; exit 1; }
fi
"$venv/bin/python" "$here/scim2_tester_check.py" "$scim" "$token" >"$work/tester.txt" 2>&1
tester_rc=$?
grep -A3 '^FAIL' "$work/tester.txt"
tail -n 1 "$work/tester.txt"
check "scim2-tester: no failed and no skipped check" "0" "$tester_rc"

echo "interop: $passed passed, $failed failed"

# The LDAP clients over TLS, application flows and nslcd, on a server of their own.
ROSTER_BIN="$bin" bash "$here/clients.sh"
clients_rc=$?
[ "$failed" -eq 0 ] && [ "$clients_rc" -eq 0 ]
