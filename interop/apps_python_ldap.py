"""What Nextcloud's LDAP backend does, with python-ldap (libldap, as PHP's
ldap extension uses): StartTLS with the CA checked, a service bind, its
login filter (login by email, unknown attribute types in the OR) asking
for the 35 attributes it asks for, the user bind, and a paged group
listing with memberships.

Usage: python3 apps_python_ldap.py LDAP_URL CA_FILE BASE_DN
"""

import sys

import ldap
from ldap.controls import SimplePagedResultsControl

url, ca, base = sys.argv[1:4]
people, groups = f"ou=people,{base}", f"ou=groups,{base}"
ldap.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
ldap.set_option(ldap.OPT_X_TLS_CACERTFILE, ca)


def connect():
    c = ldap.initialize(url)
    c.protocol_version = 3
    c.set_option(ldap.OPT_REFERRALS, 0)
    c.start_tls_s()
    return c


service = connect()
service.simple_bind_s(f"uid=svc-apps,{people}", "Sierra-pass-01")
print("service account bound over StartTLS")

# Nextcloud's attribute list for a user lookup.
attributes = [
    "dn", "uid", "samaccountname", "memberof", "displayname", "mail", "entryuuid",
    "objectguid", "ipauniqueid", "nsuniqueid", "guid", "jpegphoto", "thumbnailphoto",
    "quota", "homedirectory", "cn", "givenname", "sn", "telephonenumber", "mobile",
    "street", "postaladdress", "postalcode", "l", "st", "c", "title", "description",
    "labeleduri", "manager", "departmentnumber", "o", "ou", "employeenumber", "modifytimestamp",
]
assert len(attributes) == 35
login = "alice@example.com"
flt = (
    "(&(&(|(objectclass=inetOrgPerson)))"
    f"(|(uid={login})(|(mailPrimaryAddress={login})(mail={login}))))"
)
found = service.search_s(base, ldap.SCOPE_SUBTREE, flt, attributes)
assert len(found) == 1, found
dn, entry = found[0]
assert dn == f"uid=alice,{people}", dn
assert entry["mail"] == [b"alice@example.com"], entry
assert entry["displayName"] == [b"Alice Liddell"], entry
assert f"cn=devs,{groups}".encode() in entry["memberOf"], entry
assert "entryUUID" in entry and "modifyTimestamp" in entry, entry
assert "userPassword" not in entry
print(f"login filter found {dn} with {len(entry)} attributes")

user = connect()
user.simple_bind_s(dn, "Amber-pass-02")
assert user.whoami_s() == f"dn:{dn}"
try:
    connect().simple_bind_s(dn, "wrong")
    raise AssertionError("a wrong password bound")
except ldap.INVALID_CREDENTIALS:
    pass
print("user bind with the right password only")

# Group listing, two at a time (RFC 2696), with the member DNs.
page = SimplePagedResultsControl(True, size=2, cookie="")
names, members = [], {}
while True:
    msgid = service.search_ext(
        groups, ldap.SCOPE_ONELEVEL, "(objectclass=groupOfNames)", ["cn", "member"], serverctrls=[page]
    )
    _, data, _, ctrls = service.result3(msgid)
    for gdn, g in data:
        names.append(g["cn"][0].decode())
        members[g["cn"][0].decode()] = [m.decode() for m in g.get("member", [])]
    cookie = next(c.cookie for c in ctrls if c.controlType == SimplePagedResultsControl.controlType)
    if not cookie:
        break
    page.cookie = cookie
assert sorted(names) == ["administrators", "devs", "gitea-admins", "ldap-readers"], names
assert members["devs"] == [dn], members
assert members["gitea-admins"] == [f"cn=devs,{groups}"], members
print(f"paged group listing: {sorted(names)}")
print("ok")
