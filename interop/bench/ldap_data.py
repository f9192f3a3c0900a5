"""Writes the LDAP benchmark's data as one LDIF file, loaded as it is into
both OpenLDAP slapd (slapadd) and Roster (roster import).

Usage: python ldap_data.py OUT.ldif USERS GROUPS ARGON2_USERS SSHA_USERS

Users uid=user000000… carry inetOrgPerson and posixAccount attributes;
the first ARGON2_USERS have the password Bench-password-<n> as an
{ARGON2} hash with Roster's default parameters (argon2id, m=19456 KiB,
t=2, p=1), the next SSHA_USERS as {SSHA}. Groups group0000… have 10 to 500
members each (the same scramble as the benchmark client); users carry
memberOf, as slapd's memberof overlay would have written it. The reader
account uid=bench-reader (password bench-reader-pw) is in ldap-readers.
"""

import base64
import hashlib
import os
import sys

from argon2 import PasswordHasher
from argon2.low_level import Type

BASE = "dc=example,dc=com"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"


def scramble(i, n):
    return ((i * 2654435761) ^ (i >> 3)) % n


def ssha(password):
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def main():
    out, users, groups, n_argon2, n_ssha = sys.argv[1], *map(int, sys.argv[2:6])
    argon2 = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)
    member_of = [[] for _ in range(users)]
    group_members = []
    for g in range(groups):
        size = 10 + scramble(g, 491)
        members = sorted({scramble(g * 1000 + k, users) for k in range(size)})
        group_members.append(members)
        for m in members:
            member_of[m].append(g)
    with open(out, "w") as f:
        w = f.write
        w(f"dn: {BASE}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
          f"o: Example\ndc: example\n\n")
        w(f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n")
        w(f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n\n")
        w(f"dn: uid=bench-reader,{PEOPLE}\nobjectClass: inetOrgPerson\nuid: bench-reader\n"
          f"cn: bench-reader\nsn: reader\nuserPassword: {{ARGON2}}{argon2.hash('bench-reader-pw')}\n"
          f"memberOf: cn=ldap-readers,{GROUPS}\n\n")
        w(f"dn: cn=ldap-readers,{GROUPS}\nobjectClass: groupOfNames\ncn: ldap-readers\n"
          f"member: uid=bench-reader,{PEOPLE}\n\n")
        for i in range(users):
            uid = f"user{i:06d}"
            w(f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"
              f"uid: {uid}\ncn: Bench User {i}\nsn: User{i}\ngivenName: Bench\n"
              f"mail: {uid}@bench.example\nuidNumber: {100000 + i}\ngidNumber: 100000\n"
              f"homeDirectory: /home/{uid}\nloginShell: /bin/bash\n")
            if i < n_argon2:
                w(f"userPassword: {{ARGON2}}{argon2.hash(f'Bench-password-{i}')}\n")
            elif i < n_argon2 + n_ssha:
                w(f"userPassword: {ssha(f'Bench-password-{i}')}\n")
            for g in member_of[i]:
                w(f"memberOf: cn=group{g:04d},{GROUPS}\n")
            w("\n")
        for g, members in enumerate(group_members):
            w(f"dn: cn=group{g:04d},{GROUPS}\nobjectClass: groupOfNames\ncn: group{g:04d}\n")
            for m in members:
                w(f"member: uid=user{m:06d},{PEOPLE}\n")
            w("\n")


if __name__ == "__main__":
    main()
