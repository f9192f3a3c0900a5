#!/usr/bin/env bash
# Real LDAP clients against a Roster with TLS: the OpenLDAP tools
# (ldapwhoami over StartTLS and LDAPS with the CA checked, ldappasswd,
# ldapcompare, a paged ldapsearch), curl over HTTPS, the Nextcloud and Gitea
# login flows in python-ldap and python ldap3, and nslcd with libnss-ldapd
# (getent, id) through the real NSS module. Installs what it needs from
# Debian and PyPI; prints each check; fails on any difference.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${ROSTER_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/roster}
[ -x "$bin" ] || cargo build --manifest-path "$root/Cargo.toml" --locked --bin roster || exit 1

apt_install() { # apt_install PACKAGE...
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$@" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; }
}
for tool in ldappasswd ldapcompare; do
    command -v "$tool" >/dev/null 2>&1 || apt_install ldap-utils
done
/usr/bin/python3 -c 'import ldap' 2>/dev/null || apt_install python3-ldap
venv="$here/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import ldap3' 2>/dev/null ||
    "$venv/bin/pip" install -q --disable-pip-version-check "ldap3==2.9.1"

work=$(mktemp -d)
server_pid=
nss_backup=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    if [ -n "$nss_backup" ]; then
        pkill -x nslcd 2>/dev/null
        cp "$nss_backup" /etc/nsswitch.conf
        if [ -f "$work/nslcd.conf.orig" ]; then
            cp "$work/nslcd.conf.orig" /etc/nslcd.conf
        else
            rm -f /etc/nslcd.conf
        fi
    fi
    rm -rf "$work"
}
trap cleanup EXIT

source "$here/checks.sh"
skip() { echo "SKIPPED $1"; }

"$bin" cert dev --out "$work/certs" >/dev/null || exit 1
export LDAPTLS_CACERT="$work/certs/ca.pem"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ldap_port=$(port)
ldaps_port=$(port)
"$bin" serve --data-dir "$work/data" --http-listen 127.0.0.1:0 --ldap-listen "127.0.0.1:$ldap_port" \
    --ldaps-listen "127.0.0.1:$ldaps_port" --tls-cert "$work/certs/server.pem" \
    --tls-key "$work/certs/server.key" --https >"$work/out" 2>"$work/log" &
server_pid=$!
for _ in $(seq 1 100); do grep -q '^LDAPS at' "$work/out" 2>/dev/null && break; sleep 0.1; done
grep -q '^LDAPS at' "$work/out" || { echo "FAILED: the server did not start"; cat "$work/log"; exit 1; }
token=$(sed -n 2p "$work/out")
scim=$(sed -n 's/^SCIM at \([^,]*\),.*/\1/p' "$work/out")
ldap="ldap://127.0.0.1:$ldap_port"
ldaps="ldaps://127.0.0.1:$ldaps_port"
base=dc=example,dc=com
people=ou=people,$base
dn() { echo "uid=$1,$people"; }

# ---- directory content, over HTTPS with the CA checked ----
scim_post() { # scim_post PATH JSON -> body
    curl -s --cacert "$work/certs/ca.pem" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/scim+json' -d "$2" "$scim$1"
}
check "HTTPS answers with the CA checked" "200" \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/certs/ca.pem" "$scim/ServiceProviderConfig")"
id_of() { json 'd["id"]'; }
alice=$(scim_post /Users '{"userName":"alice","password":"Amber-pass-01","name":{"givenName":"Alice","familyName":"Liddell"},"displayName":"Alice Liddell","emails":[{"value":"alice@example.com","primary":true}]}' | id_of)
bob=$(scim_post /Users '{"userName":"bob","password":"Bravo-pass-01","emails":[{"value":"bob@example.com"}]}' | id_of)
svc=$(scim_post /Users '{"userName":"svc-apps","password":"Sierra-pass-01"}' | id_of)
root_user=$(scim_post /Users '{"userName":"root","password":"Rosa-pass-001"}' | id_of)
for i in $(seq 1 7); do scim_post /Users "{\"userName\":\"filler$i\"}" >/dev/null; done
devs=$(scim_post /Groups "{\"displayName\":\"devs\",\"members\":[{\"value\":\"$alice\"}]}" | id_of)
scim_post /Groups "{\"displayName\":\"gitea-admins\",\"members\":[{\"value\":\"$devs\"}]}" >/dev/null
scim_post /Groups "{\"displayName\":\"ldap-readers\",\"members\":[{\"value\":\"$svc\"}]}" >/dev/null
scim_post /Groups "{\"displayName\":\"administrators\",\"members\":[{\"value\":\"$root_user\"}]}" >/dev/null

# ---- TLS with the OpenLDAP tools ----
check "ldapwhoami over StartTLS (-ZZ)" "dn:$(dn alice)" \
    "$(ldapwhoami -x -ZZ -H "$ldap" -D "$(dn alice)" -w Amber-pass-01 2>&1)"
check "ldapwhoami over LDAPS" "dn:$(dn alice)" \
    "$(ldapwhoami -x -H "$ldaps" -D "$(dn alice)" -w Amber-pass-01 2>&1)"
# The password policy control: the OpenLDAP client must be able to decode
# the response control the server answers the bind with.
contains "ldapwhoami -e ppolicy (the password policy response control decodes)" "dn:$(dn alice)" \
    "$(ldapwhoami -x -ZZ -H "$ldap" -e ppolicy -D "$(dn alice)" -w Amber-pass-01 2>&1)"
ldapwhoami -x -H "$ldap" -D "$(dn alice)" -w Amber-pass-01 >/dev/null 2>&1
check "a simple bind without TLS is refused (13)" "13" "$?"
LDAPTLS_CACERT=/dev/null ldapwhoami -x -H "$ldaps" -D "$(dn alice)" -w Amber-pass-01 >/dev/null 2>&1
check "a client that does not trust the CA does not connect" "255" "$?"

# ---- password modify (RFC 3062), compare, paged results ----
ldappasswd -x -ZZ -H "$ldap" -D "$(dn alice)" -w Amber-pass-01 -a Amber-pass-01 -s Amber-pass-02 >/dev/null 2>&1
check "ldappasswd: alice changes her own password" "0" "$?"
check "alice binds with the new one" "dn:$(dn alice)" \
    "$(ldapwhoami -x -ZZ -H "$ldap" -D "$(dn alice)" -w Amber-pass-02 2>&1)"
generated=$(ldappasswd -x -ZZ -H "$ldap" -D "$(dn root)" -w Rosa-pass-001 "$(dn bob)" 2>&1 | sed -n 's/^New password: //p')
check "ldappasswd: an administrator has bob's generated" "1" "$([ ${#generated} -ge 16 ] && echo 1)"
# An administrator's password is a reset: bob's bind succeeds, the password
# policy control says it must be changed, and nothing but the change works.
reset=$(ldapwhoami -x -ZZ -H "$ldap" -e ppolicy -D "$(dn bob)" -w "$generated" 2>&1)
contains "ldapwhoami -e ppolicy: bob's password must be changed" "Password must be changed" "$reset"
contains "… and whoami is refused until then (50)" "Insufficient access (50)" "$reset"
ldappasswd -x -ZZ -H "$ldap" -D "$(dn bob)" -w "$generated" -a "$generated" -s Bravo-pass-02 >/dev/null 2>&1
check "ldappasswd: bob changes the reset password" "0" "$?"
check "bob binds with his own password" "dn:$(dn bob)" \
    "$(ldapwhoami -x -ZZ -H "$ldap" -D "$(dn bob)" -w Bravo-pass-02 2>&1)"
ldapcompare -x -ZZ -H "$ldap" -D "$(dn svc-apps)" -w Sierra-pass-01 "$(dn alice)" mail:ALICE@example.com >/dev/null 2>&1
check "ldapcompare: TRUE (6)" "6" "$?"
ldapcompare -x -ZZ -H "$ldap" -D "$(dn svc-apps)" -w Sierra-pass-01 "$(dn alice)" mail:bob@example.com >/dev/null 2>&1
check "ldapcompare: FALSE (5)" "5" "$?"
paged=$(ldapsearch -x -ZZ -H "$ldap" -D "$(dn svc-apps)" -w Sierra-pass-01 -b "$people" -s one \
    -E pr=3/noprompt '(objectClass=inetOrgPerson)' uid 2>&1)
check "paged search (-E pr=3) returns every user" "11" "$(grep -c '^dn: ' <<<"$paged")"
check "… in pages of 3 (4 pages)" "4" "$(grep -c '^pagedresults: ' <<<"$paged")"
nested=$(ldapsearch -x -ZZ -LLL -H "$ldap" -D "$(dn svc-apps)" -w Sierra-pass-01 -b "$base" \
    "(memberOf:1.2.840.113556.1.4.1941:=cn=gitea-admins,ou=groups,$base)" uid 2>&1)
contains "in-chain rule: alice is in gitea-admins through devs" "uid: alice" "$nested"
contains "the subschema is readable" "NAME 'uidNumber'" \
    "$(ldapsearch -x -LLL -H "$ldap" -b cn=Subschema -s base '(objectClass=*)' attributeTypes 2>&1)"

# ---- TOTP with an independent implementation (oathtool), and a set-password link ----
command -v oathtool >/dev/null 2>&1 || apt_install oathtool
https_base=${scim%/scim/v2}
carol=$(scim_post /Users '{"userName":"carol","password":"Cedar-pw-0001","emails":[{"value":"c@example.com"}]}' | id_of)
if ! command -v oathtool >/dev/null 2>&1; then
    skip "TOTP: oathtool is not installable here; enrolment and password+code binds were not checked with it"
else
    curl -s --cacert "$work/certs/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json' \
        -X PATCH -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"urn:roster:params:scim:schemas:extension:account:1.0:User:mfa.required","value":true}]}' \
        "$scim/Users/$carol" >/dev/null
    secret=$(curl -s --cacert "$work/certs/ca.pem" -u carol:Cedar-pw-0001 -X POST "$https_base/self-service/mfa/totp" | json 'd["secret"]')
    code=$(oathtool --totp -b "$secret")
    check "TOTP enrolment confirmed with oathtool's code" "requiredActive" \
        "$(curl -s --cacert "$work/certs/ca.pem" -u carol:Cedar-pw-0001 -H 'Content-Type: application/json' \
            -d "{\"code\":\"$code\"}" "$https_base/self-service/mfa/totp/confirm" | json 'd["mfa"]["state"]')"
    # The code of the next time step: the current one was used to confirm.
    next=$(oathtool --totp -b -N "now + 30 seconds" "$secret")
    ldapwhoami -x -ZZ -H "$ldap" -D "$(dn carol)" -w Cedar-pw-0001 >/dev/null 2>&1
    check "ldapwhoami: the password alone no longer binds carol (49)" "49" "$?"
    check "ldapwhoami: password+code binds carol" "dn:$(dn carol)" \
        "$(ldapwhoami -x -ZZ -H "$ldap" -D "$(dn carol)" -w "Cedar-pw-0001$next" 2>&1)"
    ldapwhoami -x -ZZ -H "$ldap" -D "$(dn carol)" -w "Cedar-pw-0001$next" >/dev/null 2>&1
    check "ldapwhoami: the same code again is a replay (49)" "49" "$?"
fi
dave=$(scim_post /Users '{"userName":"dave","emails":[{"value":"d@example.com"}]}' | id_of)
link=$("$bin" user invite dave --data-dir "$work/data" 2>&1)
invite=${link#*#}
check "the set-password page is served" "200" \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/certs/ca.pem" "$https_base/self-service/set-password")"
check "curl sets dave's password through the link" "200" \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/certs/ca.pem" \
        --data-urlencode "token=$invite" --data-urlencode "password=Delta-chose-01" --data-urlencode "confirm=Delta-chose-01" \
        "$https_base/self-service/set-password")"
check "dave binds with the password he chose" "dn:$(dn dave)" \
    "$(ldapwhoami -x -ZZ -H "$ldap" -D "$(dn dave)" -w Delta-chose-01 2>&1)"

# ---- application login flows ----
apps() { # apps PYTHON SCRIPT
    "$1" "$here/$2" "$ldap" "$work/certs/ca.pem" "$base" 2>&1
}
out=$(apps /usr/bin/python3 apps_python_ldap.py)
echo "$out" | sed 's/^/     /'
check "python-ldap: the Nextcloud flow" "ok" "$(tail -n 1 <<<"$out")"
out=$(apps "$venv/bin/python" apps_ldap3.py)
echo "$out" | sed 's/^/     /'
check "python ldap3: the Gitea flow" "ok" "$(tail -n 1 <<<"$out")"

# ---- nslcd and the NSS module ----
if ! command -v nslcd >/dev/null 2>&1 || [ ! -e /usr/lib/x86_64-linux-gnu/libnss_ldap.so.2 ]; then
    apt_install nslcd libnss-ldapd
fi
if [ "$(id -u)" != 0 ] || ! command -v nslcd >/dev/null 2>&1; then
    skip "nslcd: not root or nslcd not installable here; getent and id were not checked"
else
    pkill -x nslcd 2>/dev/null
    sleep 0.5
    # nslcd reads /etc/nslcd.conf only: ours for the run, the old one after.
    nss_backup="$work/nsswitch.conf.orig"
    cp /etc/nsswitch.conf "$nss_backup"
    [ -f /etc/nslcd.conf ] && cp /etc/nslcd.conf "$work/nslcd.conf.orig"
    {
        echo "uid nslcd"
        echo "gid nslcd"
        echo "uri ldap://127.0.0.1:$ldap_port/"
        echo "base $base"
        echo "binddn $(dn svc-apps)"
        echo "bindpw Sierra-pass-01"
        echo "ssl start_tls"
        echo "tls_reqcert demand"
        echo "tls_cacertfile $work/certs/ca.pem"
        echo "nss_min_uid 1000"
        echo "nss_nested_groups yes"
    } >/etc/nslcd.conf
    chgrp nslcd /etc/nslcd.conf 2>/dev/null
    chmod 640 /etc/nslcd.conf
    chmod 755 "$work" "$work/certs"
    chmod 644 "$work/certs/ca.pem"
    sed -i -E 's/^(passwd|group):.*/\1: files ldap/' /etc/nsswitch.conf
    nslcd 2>"$work/nslcd.log"
    for _ in $(seq 1 50); do [ -S /run/nslcd/socket ] && break; sleep 0.1; done
    passwd_line=$(getent passwd alice)
    uid=$(scim_post "/Users/.search" '{"filter":"userName eq \"alice\""}' | json 'd["Resources"][0]["urn:roster:params:scim:schemas:extension:posix:1.0:User"]["uidNumber"]')
    check "getent passwd alice (through nslcd)" "alice:*:$uid:100:Alice Liddell:/home/alice:/bin/bash" "$passwd_line"
    contains "getent group devs lists alice" "alice" "$(getent group devs)"
    id_line=$(id alice 2>&1)
    contains "id alice names devs" "(devs)" "$id_line"
    contains "id alice names gitea-admins (nested)" "(gitea-admins)" "$id_line"
fi

echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
