"""Runs the public scim2-tester suite against a running Roster.

Usage: python scim2_tester_check.py BASE_URL TOKEN

Prints every check with its status; exits 1 if any check failed or was
skipped (the issue asks for zero of each).
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

GOOD = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
    results = check_server(SyncSCIMClient(http))
    bad = 0
    for r in results:
        ok = r.status in GOOD
        bad += not ok
        line = f"{'ok  ' if ok else 'FAIL'} {r.status.name:<10} {r.title}"
        if not ok and r.reason:
            line += f"\n     {r.reason}"
        print(line)
    passed = len(results) - bad
    print(f"scim2-tester: {passed} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
