"""What Gitea's LDAP (via BindDN) source does, with the pure-Python ldap3
library: StartTLS with the CA checked, a service bind, its user filter
with the attributes it maps, its admin filter evaluated on the user's
entry (membership through a nested group), and the user bind.

Usage: python apps_ldap3.py LDAP_URL CA_FILE BASE_DN
"""

import ssl
import sys

from ldap3 import AUTO_BIND_TLS_BEFORE_BIND, BASE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPBindError, LDAPInvalidCredentialsResult

url, ca, base = sys.argv[1:4]
people, groups = f"ou=people,{base}", f"ou=groups,{base}"
server = Server(url, tls=Tls(ca_certs_file=ca, validate=ssl.CERT_REQUIRED))


def bind(dn, password):
    return Connection(server, dn, password, auto_bind=AUTO_BIND_TLS_BEFORE_BIND, raise_exceptions=True)


service = bind(f"uid=svc-apps,{people}", "Sierra-pass-01")
service.search(
    people,
    "(&(objectClass=posixAccount)(uid=alice))",
    search_scope=SUBTREE,
    attributes=["uid", "givenName", "sn", "mail", "uidNumber"],
)
assert len(service.entries) == 1, service.entries
alice = service.entries[0]
dn = alice.entry_dn
assert (str(alice.uid), str(alice.givenName), str(alice.sn), str(alice.mail)) == (
    "alice", "Alice", "Liddell", "alice@example.com",
), alice
assert int(str(alice.uidNumber)) >= 10000
print(f"user filter found {dn}")

# Gitea's admin filter, checked against the user's own entry.
service.search(dn, f"(memberOf=cn=gitea-admins,{groups})", search_scope=BASE, attributes=["uid"])
assert len(service.entries) == 1, "alice is a gitea admin through devs"
service.search(f"uid=bob,{people}", f"(memberOf=cn=gitea-admins,{groups})", search_scope=BASE)
assert len(service.entries) == 0, "bob is not"
print("admin filter: alice yes (nested), bob no")

bind(dn, "Amber-pass-02")
try:
    bind(dn, "wrong")
    raise AssertionError("a wrong password bound")
except (LDAPBindError, LDAPInvalidCredentialsResult):
    pass
print("user bind with the right password only")
print("ok")
