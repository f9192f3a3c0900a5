#!/usr/bin/env bash
# The import benchmark: USER_COUNT users (default 100,000) generated as a
# CSV file (userName, first and last name, email, title, department,
# employee number; no passwords, as a spreadsheet from HR has none: argon2id
# would cost ~15 ms a row), imported with `roster import users` into a
# fresh embedded SQLite store, then imported again (every row unchanged),
# then exported and the export imported into another fresh store. Prints
# each command's summary line and its wall time. Not part of the test
# command.
#
#   bash interop/bench/import.sh
#   USER_COUNT=20000 bash interop/bench/import.sh
#   BACKOFFICE=1 bash interop/bench/import.sh   # plus six declared attributes
#                  of schemas/backoffice.toml (three of them indexed)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
users=${USER_COUNT:-100000}
cargo build --release --locked --manifest-path "$root/Cargo.toml" --bin roster
roster="${CARGO_TARGET_DIR:-$root/target}/release/roster"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "${BACKOFFICE:-0}" = 1 ]; then
    export ROSTER_PROFILE_ATTRIBUTES="$root/schemas/backoffice.toml"
fi
python3 - "$users" "${BACKOFFICE:-0}" >"$work/users.csv" <<'PY'
import csv, sys
n, backoffice = int(sys.argv[1]), sys.argv[2] == "1"
w = csv.writer(sys.stdout, lineterminator="\n")
extra = ["isAgent", "outgoingCallMode", "teams", "telegramChatId", "allowedCountries", "chatNickname"] if backoffice else []
w.writerow(["userName", "First Name", "Last Name", "Email", "Title", "department", "employeeNumber"] + extra)
firsts = ["Ann", "Łukasz", "Zoë", "Omar", "Mei", "José", "Ingrid", "Kwame"]
lasts = ["Lee", "Nowak", "García", "Okafor", "Chen", "Müller", "O'Brien", "Smith-Jones"]
for i in range(n):
    f, l = firsts[i % 8], lasts[(i // 8) % 8]
    row = [f"user{i:06d}", f, l, f"user{i:06d}@example.com", "Agent", f"dept-{i % 50}", str(100000 + i)]
    if backoffice:
        row += ["yes" if i % 3 else "no", ["automatic", "manual"][i % 2], f"team-{i % 20};team-{(i + 7) % 20}",
                str(-1000000000 - i), ["DE;FR", "GB", "PL;CZ;SK"][i % 3], f"{f} {i}"]
    w.writerow(row)
PY
echo "$(wc -l <"$work/users.csv") lines, $(du -h "$work/users.csv" | cut -f1) of CSV"
timed() { # timed LABEL COMMAND...
    local start end
    start=$(date +%s.%N)
    "${@:2}"
    end=$(date +%s.%N)
    printf '%-34s %6.1f s\n' "$1" "$(echo "$end - $start" | bc)"
}
timed "import (all new)" "$roster" import users --data-dir "$work/a" "$work/users.csv"
timed "import again (all unchanged)" "$roster" import users --data-dir "$work/a" "$work/users.csv"
timed "dry run" "$roster" import users --data-dir "$work/a" --dry-run "$work/users.csv"
timed "export" sh -c "'$roster' export users --data-dir '$work/a' >'$work/export.csv'"
timed "import of the export (new store)" "$roster" import users --data-dir "$work/b" "$work/export.csv"
cmp -s "$work/export.csv" <("$roster" export users --data-dir "$work/b") &&
    echo "the export of the re-imported store is byte for byte the same"
