# What the interop scripts share: checks that print ok/FAIL and count.
# Sourced, not run.
passed=0
failed=0
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        echo "ok   $1"; passed=$((passed + 1))
    else
        echo "FAIL $1"; echo "     expected: $2"; echo "     actual:   $3"; failed=$((failed + 1))
    fi
}
contains() { # contains NAME NEEDLE HAYSTACK
    if grep -qF -- "$2" <<<"$3"; then
        echo "ok   $1"; passed=$((passed + 1))
    else
        echo "FAIL $1"; echo "     expected to find: $2"; echo "     in: $3"; failed=$((failed + 1))
    fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
